//! RFC 5256's algorithms on plain values: the base subject that SORT and THREAD compare, and
//! the ORDEREDSUBJECT and REFERENCES threading algorithms with the THREAD response's syntax.
//! The caller gives each message's already decoded header values; nothing here reads mail.

use std::cmp::Ordering;
use std::collections::HashMap;

/// What threading needs of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMessage {
    /// The number to report: a message sequence number or a UID.
    pub number: u32,
    /// The sent date (the Date header, or the internal date when it has none), seconds.
    pub date: i64,
    /// The decoded Subject header ("" when there is none).
    pub subject: String,
    pub message_id: Option<String>,
    /// The References header's ids, or else the first id of In-Reply-To.
    pub references: Vec<String>,
}

/// One node of a thread tree; `number` is `None` for a dummy (a referenced message that is not
/// in the result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    pub number: Option<u32>,
    pub children: Vec<ThreadNode>,
}

/// Subject bytes looked at; a longer subject is cut (at a character) before the markers go.
const MAX_SUBJECT: usize = 4096;

/// References of one message that threading follows: the last ones, nearest the message.
const MAX_REFERENCES: usize = 128;

/// RFC 5256 section 2.1: the subject without reply and forward markers, blobs and trailers,
/// whitespace collapsed; and whether a reply or forward marker was removed. Works on byte
/// offsets that only ever move over ASCII, so any UTF-8 subject is safe and each step costs
/// no copy.
pub fn base_subject(subject: &str) -> (String, bool) {
    // Step 1: tabs and line breaks become spaces, runs of spaces one space.
    let mut s = String::with_capacity(subject.len().min(MAX_SUBJECT));
    for c in subject.chars() {
        if s.len() + c.len_utf8() > MAX_SUBJECT {
            break;
        }
        let c = if matches!(c, '\t' | '\r' | '\n') {
            ' '
        } else {
            c
        };
        if !(c == ' ' && s.ends_with(' ')) {
            s.push(c);
        }
    }
    let (mut start, mut end) = (0, s.len());
    let mut marked = false;
    loop {
        // Step 2: trailing "(fwd)" and whitespace.
        loop {
            let t = &s.as_bytes()[start..end];
            if t.ends_with(b" ") {
                end -= 1;
            } else if t.len() >= 5 && t[t.len() - 5..].eq_ignore_ascii_case(b"(fwd)") {
                end -= 5;
                marked = true;
            } else {
                break;
            }
        }
        // Steps 3 to 5: leading markers and blobs.
        loop {
            let t = &s[start..end];
            if t.starts_with(' ') {
                start += 1;
            } else if let Some(n) = leader(t) {
                start += n;
                marked = true;
            } else if let Some(n) = blob(t)
                && n < t.len()
            {
                start += n;
            } else {
                break;
            }
        }
        // Step 6: "[fwd: ...]" around the whole subject.
        let t = &s.as_bytes()[start..end];
        if t.len() >= 6 && t[..5].eq_ignore_ascii_case(b"[fwd:") && t.ends_with(b"]") {
            start += 5;
            end -= 1;
            marked = true;
            continue;
        }
        return (s[start..end].to_string(), marked);
    }
}

/// The length of a `subj-blob` at the start: `"[" *BLOBCHAR "]" *WSP`.
fn blob(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    if rest.as_bytes()[end] != b']' {
        return None;
    }
    let after = 1 + end + 1;
    Some(after + s[after..].len() - s[after..].trim_start_matches(' ').len())
}

/// The length of a `subj-leader`'s reply/forward form at the start:
/// `*subj-blob ("re" / "fw" / "fwd") *WSP [subj-blob] ":"`.
fn leader(s: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(n) = blob(&s[at..]) {
        at += n;
    }
    let rest = &s.as_bytes()[at..];
    let word = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    at += if word(b"fwd") {
        3
    } else if word(b"re") || word(b"fw") {
        2
    } else {
        return None;
    };
    at += s[at..].len() - s[at..].trim_start_matches(' ').len();
    if let Some(n) = blob(&s[at..]) {
        at += n;
    }
    s[at..].starts_with(':').then_some(at + 1)
}

/// RFC 5256's `i;ascii-casemap` order.
pub fn casemap_cmp(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_uppercase())
        .cmp(b.bytes().map(|c| c.to_ascii_uppercase()))
}

/// THREAD=ORDEREDSUBJECT: messages grouped by base subject, each group's earliest message the
/// parent of the others; groups in the order of their first message's date.
pub fn ordered_subject(messages: &[ThreadMessage]) -> Vec<ThreadNode> {
    let mut sorted: Vec<(String, usize)> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (base_subject(&m.subject).0.to_ascii_uppercase(), i))
        .collect();
    // The input is in mailbox order, so a stable sort breaks ties by it.
    sorted.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(messages[a.1].date.cmp(&messages[b.1].date))
    });
    let mut threads: Vec<(i64, usize, ThreadNode)> = Vec::new();
    let mut last: Option<&str> = None;
    for (subject, i) in &sorted {
        let leaf = ThreadNode {
            number: Some(messages[*i].number),
            children: Vec::new(),
        };
        match (last, threads.last_mut()) {
            (Some(l), Some((_, _, parent))) if l == subject => parent.children.push(leaf),
            _ => threads.push((messages[*i].date, *i, leaf)),
        }
        last = Some(subject);
    }
    threads.sort_by_key(|t| (t.0, t.1));
    threads.into_iter().map(|t| t.2).collect()
}

/// A container of the REFERENCES algorithm: a message (index into the input) or a dummy.
struct Container {
    message: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Forest {
    nodes: Vec<Container>,
}

impl Forest {
    fn add(&mut self, message: Option<usize>) -> usize {
        self.nodes.push(Container {
            message,
            parent: None,
            children: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Whether `a` is `b` or one of `b`'s ancestors.
    fn is_ancestor(&self, a: usize, mut b: usize) -> bool {
        loop {
            if a == b {
                return true;
            }
            match self.nodes[b].parent {
                Some(p) => b = p,
                None => return false,
            }
        }
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|c| *c != child);
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }
}

/// THREAD=REFERENCES (RFC 5256 section 2.2): threads from Message-ID, References and
/// In-Reply-To, dummies pruned, roots with the same base subject gathered, siblings by date.
pub fn references(messages: &[ThreadMessage]) -> Vec<ThreadNode> {
    let mut f = Forest { nodes: Vec::new() };
    let mut ids: HashMap<String, usize> = HashMap::new();
    // Step 1: containers and links.
    for (i, m) in messages.iter().enumerate() {
        let own = match m.message_id.as_deref() {
            Some(id) => match ids.get(id) {
                Some(&c) if f.nodes[c].message.is_none() => {
                    f.nodes[c].message = Some(i);
                    c
                }
                // A duplicate Message-ID: this message is treated as having none.
                Some(_) => f.add(Some(i)),
                None => {
                    let c = f.add(Some(i));
                    ids.insert(id.to_string(), c);
                    c
                }
            },
            None => f.add(Some(i)),
        };
        let mut previous: Option<usize> = None;
        let skip = m.references.len().saturating_sub(MAX_REFERENCES);
        for r in &m.references[skip..] {
            let c = match ids.get(r.as_str()) {
                Some(&c) => c,
                None => {
                    let c = f.add(None);
                    ids.insert(r.clone(), c);
                    c
                }
            };
            if let Some(p) = previous
                && f.nodes[c].parent.is_none()
                && !f.is_ancestor(c, p)
            {
                f.link(p, c);
            }
            previous = Some(c);
        }
        // The last reference becomes the parent: the old link is broken even when the new
        // one would make a loop and is not made.
        f.unlink(own);
        if let Some(p) = previous
            && !f.is_ancestor(own, p)
        {
            f.link(p, own);
        }
    }
    // Steps 2 to 4: the roots, dummies pruned.
    let roots: Vec<usize> = (0..f.nodes.len())
        .filter(|&c| f.nodes[c].parent.is_none())
        .collect();
    let mut trees: Vec<ThreadNode> = Vec::new();
    for r in roots {
        trees.extend(prune(&f, messages, r, true));
    }
    // Step 5: roots gathered by base subject.
    let index: HashMap<u32, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.number, i))
        .collect();
    let subject_of = |t: &ThreadNode| -> Option<(String, bool)> {
        let n = t
            .number
            .or_else(|| t.children.first().and_then(|c| c.number))?;
        let m = &messages[*index.get(&n)?];
        let (s, marked) = base_subject(&m.subject);
        (!s.is_empty()).then(|| (s.to_ascii_uppercase(), marked))
    };
    let mut table: HashMap<String, usize> = HashMap::new();
    for (i, t) in trees.iter().enumerate() {
        let Some((s, marked)) = subject_of(t) else {
            continue;
        };
        let replace = match table.get(&s) {
            None => true,
            Some(&old) => {
                let o = &trees[old];
                (t.number.is_none() && o.number.is_some())
                    || (o.number.is_some()
                        && t.number.is_some()
                        && subject_of(o).is_some_and(|x| x.1)
                        && !marked)
            }
        };
        if replace {
            table.insert(s, i);
        }
    }
    let mut merged: Vec<Option<ThreadNode>> = trees.iter().cloned().map(Some).collect();
    for (i, t) in trees.iter().enumerate() {
        let Some((s, marked)) = subject_of(t) else {
            continue;
        };
        let Some(&keep) = table.get(&s) else { continue };
        if keep == i {
            continue;
        }
        let Some(this) = merged[i].take() else {
            continue;
        };
        let Some(that) = merged[keep].as_mut() else {
            merged[i] = Some(this);
            continue;
        };
        let that_marked = subject_of(that).is_some_and(|x| x.1);
        match (that.number.is_none(), this.number.is_none()) {
            (true, true) => that.children.extend(this.children),
            (true, false) => that.children.push(this),
            (false, true) => {
                let old = std::mem::replace(that, this);
                that.children.push(old);
            }
            (false, false) if marked && !that_marked => that.children.push(this),
            (false, false) if !marked && that_marked => {
                let old = std::mem::replace(that, this);
                that.children.push(old);
            }
            (false, false) => {
                let old = std::mem::replace(
                    that,
                    ThreadNode {
                        number: None,
                        children: Vec::new(),
                    },
                );
                that.children.push(old);
                that.children.push(this);
            }
        }
    }
    // Step 6: siblings and roots by sent date, then mailbox order.
    let mut out: Vec<ThreadNode> = merged.into_iter().flatten().collect();
    let order = |n: Option<u32>| -> (i64, usize) {
        n.and_then(|n| index.get(&n).copied())
            .map_or((i64::MAX, usize::MAX), |i| (messages[i].date, i))
    };
    sort_tree(&mut out, &order);
    out
}

/// The subtree at `c` with dummies removed: a dummy without children disappears, a dummy's
/// children take its place (except several children at the root, which keep their dummy).
fn prune(f: &Forest, messages: &[ThreadMessage], c: usize, root: bool) -> Vec<ThreadNode> {
    let children: Vec<ThreadNode> = f.nodes[c]
        .children
        .iter()
        .flat_map(|&k| prune(f, messages, k, false))
        .collect();
    match f.nodes[c].message {
        Some(i) => vec![ThreadNode {
            number: Some(messages[i].number),
            children,
        }],
        None if children.is_empty() => Vec::new(),
        None if root && children.len() > 1 => vec![ThreadNode {
            number: None,
            children,
        }],
        None => children,
    }
}

/// Sorts each level by the date of its node (a dummy by its first child after sorting).
fn sort_tree(nodes: &mut [ThreadNode], order: &dyn Fn(Option<u32>) -> (i64, usize)) {
    for n in nodes.iter_mut() {
        sort_tree(&mut n.children, order);
    }
    nodes.sort_by_key(|n| {
        order(
            n.number
                .or_else(|| n.children.first().and_then(|c| c.number)),
        )
    });
}

/// The THREAD response's data for some trees: `(1 (2 4)(3))((5)(6))`.
pub fn render_threads(trees: &[ThreadNode]) -> String {
    let mut out = String::new();
    for t in trees {
        out.push('(');
        members(t, &mut out);
        out.push(')');
    }
    out
}

fn members(n: &ThreadNode, out: &mut String) {
    if let Some(number) = n.number {
        out.push_str(&number.to_string());
        match n.children.as_slice() {
            [] => return,
            [only] => {
                out.push(' ');
                return members(only, out);
            }
            _ => out.push(' '),
        }
    }
    for c in &n.children {
        out.push('(');
        members(c, out);
        out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(number: u32, date: i64, subject: &str, id: Option<&str>, refs: &[&str]) -> ThreadMessage {
        ThreadMessage {
            number,
            date,
            subject: subject.to_string(),
            message_id: id.map(str::to_string),
            references: refs.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn base_subjects_lose_markers_blobs_and_trailers() {
        for (raw, base, marked) in [
            ("a", "a", false),
            ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true),
            ("Re: [FWD: c]", "c", true),
            ("[xyz]", "[xyz]", false),
            (" ", "", false),
            ("RE: C", "C", true),
            ("Ad: Re: Ad: Re: Ad: x", "Ad: Re: Ad: Re: Ad: x", false),
            ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", true),
            ("[list] topic", "topic", false),
            ("Re:\t\tlong   subject", "long subject", true),
            ("b (a)", "b (a)", false),
            ("Привет", "Привет", false),
            ("Re: Привет (fwd)", "Привет", true),
            ("[лист] Ответ", "Ответ", false),
            ("日本語 [fwd: x]", "日本語 [fwd: x]", false),
        ] {
            assert_eq!(base_subject(raw), (base.to_string(), marked), "{raw}");
        }
    }

    #[test]
    fn references_breaks_the_old_link_even_when_the_new_one_would_loop() {
        let msgs = [
            m(1, 3, "", Some("a@b"), &[]),
            m(2, 1, "", Some("b@b"), &["a@b", "c@b"]),
            m(3, 2, "", Some("c@b"), &["b@b"]),
        ];
        assert_eq!(render_threads(&references(&msgs)), "(3 2)(1)");
    }

    #[test]
    fn references_dummies_duplicates_and_subjects() {
        // A shared missing parent keeps its dummy at the root.
        let msgs = [m(1, 1, "", None, &["a@b"]), m(2, 2, "", None, &["a@b"])];
        assert_eq!(render_threads(&references(&msgs)), "((1)(2))");
        // A duplicate Message-ID stands alone; a reply subject joins its original.
        let msgs = [
            m(1, 1, "foo", Some("a@b"), &[]),
            m(2, 2, "Re: foo", Some("a@b"), &[]),
        ];
        assert_eq!(render_threads(&references(&msgs)), "(1 2)");
        let msgs = [
            m(1, 1, "", Some("a@b"), &[]),
            m(2, 1, "", Some("b@b"), &["a@b"]),
            m(3, 1, "", Some("c@b"), &["b@b"]),
            m(4, 1, "", Some("b@b"), &["a@b"]),
        ];
        assert_eq!(render_threads(&references(&msgs)), "(1 (2 3)(4))");
        let msgs = [
            m(1, 2, "", Some("1@b"), &[]),
            m(2, 1, "", Some("2@b"), &["1@b"]),
            m(3, 1, "", Some("3@b"), &["1@b"]),
            m(4, 1, "", Some("4@b"), &["2@b"]),
        ];
        assert_eq!(render_threads(&references(&msgs)), "(1 (2 4)(3))");
        // A lone child of a dummy is promoted; two keep the dummy.
        let msgs = [
            m(1, 1, "", Some("3@b"), &["1@b"]),
            m(2, 1, "", Some("4@b"), &["2@b"]),
            m(3, 1, "", Some("5@b"), &["2@b"]),
        ];
        assert_eq!(render_threads(&references(&msgs)), "(1)((2)(3))");
    }

    #[test]
    fn ordered_subject_groups_by_base_subject_then_date() {
        let msgs = [
            m(1, 10, "a", None, &[]),
            m(2, 9, "b", None, &[]),
            m(3, 8, "a", None, &[]),
            m(4, 7, "b", None, &[]),
            m(5, 30, "a", None, &[]),
            m(6, 29, "Re: b", None, &[]),
            m(7, 28, "a", None, &[]),
            m(8, 27, "b", None, &[]),
        ];
        assert_eq!(
            render_threads(&ordered_subject(&msgs)),
            "(4 (2)(8)(6))(3 (1)(7)(5))"
        );
        let msgs = [m(1, 1, "", None, &[]), m(2, 1, " ", None, &[])];
        assert_eq!(render_threads(&ordered_subject(&msgs)), "(1 2)");
    }

    #[test]
    fn long_reference_lists_and_deep_reply_chains_are_threaded() {
        // Only the last references are followed: 10,000 of them cost no more than 128.
        let refs: Vec<String> = (0..10_000).map(|i| format!("<r{i}@x>")).collect();
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        let msgs = [m(1, 1, "", Some("a@x"), &refs)];
        assert_eq!(render_threads(&references(&msgs)), "(1)");
        // A chain as long as a mailbox: the tree walks recurse per level, so they run on a
        // thread with a deep stack, as the IMAP server runs them.
        let chain = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                let ids: Vec<String> = (0..5_000).map(|i| format!("m{i}@x")).collect();
                let msgs: Vec<ThreadMessage> = (0..5_000)
                    .map(|i| {
                        let parent = if i == 0 {
                            vec![]
                        } else {
                            vec![ids[i - 1].as_str()]
                        };
                        m(i as u32 + 1, i as i64, "", Some(&ids[i]), &parent)
                    })
                    .collect();
                render_threads(&references(&msgs))
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(chain.starts_with("(1 2 3 ") && chain.ends_with(" 4999 5000)"));
    }

    #[test]
    fn casemap_orders_ascii_case_insensitively() {
        assert_eq!(casemap_cmp("a", "B"), Ordering::Less);
        assert_eq!(casemap_cmp("C", "c"), Ordering::Equal);
        assert_eq!(casemap_cmp("[xyz]", "_"), Ordering::Less);
        assert_eq!(casemap_cmp("b (a)", "babylon"), Ordering::Less);
    }
}
