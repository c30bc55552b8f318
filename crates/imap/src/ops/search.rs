//! SEARCH and UID SEARCH (RFC 9051 section 6.4.4) over every key, text keys over decoded
//! headers and bodies (case-insensitive), with ESEARCH's RETURN options (RFC 4731), SEARCHRES
//! (RFC 5182) and CONDSTORE's MODSEQ key (RFC 7162).

use super::fetch::BODIES_AT_ONCE;
use super::store_failure;
use crate::session::Session;
use carepost_mail::MailError;
use carepost_proto_imap::{SearchKey, SearchReturn, compact, ordered};
use carepost_store::MessageRow;
use carepost_types::UnixMillis;
use mail_parser::{Address, HeaderValue, Message, MessageParser, PartType};

/// What one message is matched against.
struct Candidate<'a> {
    seq: u32,
    uid: u32,
    row: &'a MessageRow,
    parsed: Option<Message<'a>>,
}

struct Context<'a> {
    largest_seq: u32,
    largest_uid: u32,
    saved: &'a [u32],
    recent: &'a std::collections::BTreeSet<u32>,
    now: UnixMillis,
}

fn needs_body(k: &SearchKey) -> bool {
    match k {
        SearchKey::Header(..)
        | SearchKey::Body(_)
        | SearchKey::Text(_)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => true,
        SearchKey::Not(k) => needs_body(k),
        SearchKey::Or(a, b) => needs_body(a) || needs_body(b),
        SearchKey::And(ks) => ks.iter().any(needs_body),
        _ => false,
    }
}

pub(super) fn uses_modseq(k: &SearchKey) -> bool {
    match k {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(ks) => ks.iter().any(uses_modseq),
        _ => false,
    }
}

fn contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

fn address_text(a: &Address<'_>) -> String {
    let mut out = String::new();
    if let Address::Group(groups) = a {
        for name in groups.iter().filter_map(|g| g.name.as_deref()) {
            out.push_str(name);
            out.push(' ');
        }
    }
    for x in a.iter() {
        if let Some(n) = &x.name {
            out.push_str(n);
            out.push(' ');
        }
        if let Some(e) = &x.address {
            out.push('<');
            out.push_str(e);
            out.push_str("> ");
        }
    }
    out
}

fn value_text(v: &HeaderValue<'_>) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(" "),
        HeaderValue::Address(a) => address_text(a),
        HeaderValue::DateTime(d) => d.to_rfc822(),
        HeaderValue::ContentType(c) => c.ctype().to_string(),
        _ => String::new(),
    }
}

fn header_matches(m: &Message<'_>, name: &str, text: &str) -> bool {
    m.headers().iter().any(|h| {
        h.name().eq_ignore_ascii_case(name)
            && (text.is_empty() || contains(&value_text(&h.value), text))
    })
}

fn body_matches(m: &Message<'_>, text: &str) -> bool {
    m.parts.iter().any(|p| match &p.body {
        PartType::Text(t) | PartType::Html(t) => contains(t, text),
        _ => false,
    })
}

fn day_of_ms(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

fn matches(k: &SearchKey, c: &Candidate<'_>, cx: &Context<'_>) -> bool {
    use SearchKey as K;
    let flags = &c.row.flags;
    let has = |f: &str| {
        if f.eq_ignore_ascii_case("\\Recent") {
            return cx.recent.contains(&c.uid);
        }
        flags.split_whitespace().any(|x| x.eq_ignore_ascii_case(f))
    };
    let sent_day = || {
        c.parsed
            .as_ref()
            .and_then(|m| m.date())
            .map(|d| carepost_proto_imap::days_from_civil(i32::from(d.year), d.month, d.day))
    };
    match k {
        K::All => true,
        K::Flag(f) => has(f),
        K::NoFlag(f) => !has(f),
        K::New => has("\\Recent") && !has("\\Seen"),
        K::Header(name, text) => c
            .parsed
            .as_ref()
            .is_some_and(|m| header_matches(m, name, text)),
        K::Body(t) => c.parsed.as_ref().is_some_and(|m| body_matches(m, t)),
        K::Text(t) => c.parsed.as_ref().is_some_and(|m| {
            body_matches(m, t)
                || m.headers()
                    .iter()
                    .any(|h| contains(&value_text(&h.value), t))
        }),
        K::Before(d) => day_of_ms(c.row.internal_date.0) < d.days(),
        K::On(d) => day_of_ms(c.row.internal_date.0) == d.days(),
        K::Since(d) => day_of_ms(c.row.internal_date.0) >= d.days(),
        K::SentBefore(d) => sent_day().is_some_and(|x| x < d.days()),
        K::SentOn(d) => sent_day() == Some(d.days()),
        K::SentSince(d) => sent_day().is_some_and(|x| x >= d.days()),
        K::Larger(n) => c.row.size as u64 > *n,
        K::Smaller(n) => (c.row.size as u64) < *n,
        K::Younger(secs) => (cx.now.0 - c.row.internal_date.0) / 1000 <= *secs as i64,
        K::Older(secs) => (cx.now.0 - c.row.internal_date.0) / 1000 > *secs as i64,
        K::Uid(set) => match set {
            carepost_proto_imap::SequenceSet::Saved => cx.saved.contains(&c.uid),
            set => set.contains(c.uid, cx.largest_uid),
        },
        K::Seq(set) => match set {
            carepost_proto_imap::SequenceSet::Saved => cx.saved.contains(&c.uid),
            set => set.contains(c.seq, cx.largest_seq),
        },
        K::ModSeq(n) => c.row.modseq as u64 >= *n,
        K::Not(k) => !matches(k, c, cx),
        K::Or(a, b) => matches(a, c, cx) || matches(b, c, cx),
        K::And(ks) => ks.iter().all(|k| matches(k, c, cx)),
    }
}

/// One message that matched.
pub(super) struct Hit {
    pub seq: u32,
    pub uid: u32,
    pub row: MessageRow,
}

/// Refuses charsets other than UTF-8 and US-ASCII (all text is compared as UTF-8).
pub(super) fn charset_ok(s: &mut Session, tag: &str, charset: Option<&str>) -> bool {
    if let Some(cs) = charset
        && !["UTF-8", "US-ASCII"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(cs))
    {
        s.no(
            tag,
            Some("BADCHARSET (US-ASCII UTF-8)"),
            "Unsupported charset",
        );
        return false;
    }
    true
}

/// The selected mailbox's messages that match `key`, in mailbox order. Reports other
/// sessions' changes first. Keys on text read the bodies a few hundred at a time, each dropped
/// once looked at.
pub(super) async fn matching(
    s: &mut Session,
    key: &SearchKey,
    by_uid: bool,
) -> Result<Vec<Hit>, MailError> {
    if uses_modseq(key) {
        s.enable_condstore();
    }
    s.sync(by_uid).await;
    let (Some(account), Some(mailbox_id)) = (
        s.principal().map(|p| p.account),
        s.view_mut().map(|v| v.mailbox.id),
    ) else {
        return Ok(Vec::new());
    };
    let (_, rows) = s.svc.mail.mailbox_messages(account, mailbox_id).await?;
    let now = s.svc.clock.now();
    let with_body = needs_body(key);
    let mut hits = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<MessageRow> = rows.by_ref().take(BODIES_AT_ONCE).collect();
        let bodies = if with_body {
            let ids: Vec<&str> = chunk.iter().map(|r| r.blob_id.as_str()).collect();
            s.svc.mail.read_bodies(&ids).await?
        } else {
            Vec::new()
        };
        let Some(view) = s.view_mut() else {
            return Ok(Vec::new());
        };
        let cx = Context {
            largest_seq: view.uids.len() as u32,
            largest_uid: view.uids.last().copied().unwrap_or(0),
            saved: &view.saved,
            recent: &view.recent,
            now,
        };
        for (i, r) in chunk.into_iter().enumerate() {
            let uid = r.uid as u32;
            let Some(seq) = view.seq_of(uid) else {
                continue;
            };
            let c = Candidate {
                seq: seq as u32,
                uid,
                row: &r,
                parsed: bodies
                    .get(i)
                    .and_then(|b| MessageParser::default().parse(b.as_slice())),
            };
            if matches(key, &c, &cx) {
                hits.push(Hit {
                    seq: seq as u32,
                    uid,
                    row: r,
                });
            }
        }
    }
    Ok(hits)
}

/// Writes the ESEARCH answer (RFC 4731) for `numbers`, which SORT gives in its order (RFC
/// 5267: MIN and MAX are then the first and last, ALL keeps the order). `modseqs`, beside the
/// numbers when the search used MODSEQ: the answer's MODSEQ is the highest of the messages it
/// returns (only the MIN and MAX ones when it returns no more, RFC 7162 section 3.1.5).
pub(super) fn esearch(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    ret: &SearchReturn,
    numbers: &[u32],
    sorted: bool,
    modseqs: Option<&[i64]>,
) {
    let all = ret.all || ret.nothing_asked();
    let mut line = format!("ESEARCH (TAG \"{tag}\")");
    if by_uid {
        line.push_str(" UID");
    }
    let at = |pick: Option<usize>| pick.map(|i| (numbers[i], i));
    let (min, max) = if sorted {
        (
            at((!numbers.is_empty()).then_some(0)),
            at(numbers.len().checked_sub(1)),
        )
    } else {
        let by_value = |a: &(usize, &u32), b: &(usize, &u32)| a.1.cmp(b.1);
        (
            at(numbers.iter().enumerate().min_by(by_value).map(|x| x.0)),
            at(numbers.iter().enumerate().max_by(by_value).map(|x| x.0)),
        )
    };
    let modseq = modseqs.filter(|m| !m.is_empty()).map(|m| {
        if all || ret.count {
            m.iter().copied().max().unwrap_or(0)
        } else {
            [ret.min.then_some(min), ret.max.then_some(max)]
                .into_iter()
                .flatten()
                .flatten()
                .map(|(_, i)| m[i])
                .max()
                .unwrap_or(0)
        }
    });
    let (min, max) = (min.map(|x| x.0), max.map(|x| x.0));
    if ret.min
        && let Some(n) = min
    {
        line.push_str(&format!(" MIN {n}"));
    }
    if ret.max
        && let Some(n) = max
    {
        line.push_str(&format!(" MAX {n}"));
    }
    if all && !numbers.is_empty() {
        let set = if sorted {
            ordered(numbers)
        } else {
            compact(numbers)
        };
        line.push_str(&format!(" ALL {set}"));
    }
    if ret.count {
        line.push_str(&format!(" COUNT {}", numbers.len()));
    }
    if let Some(m) = modseq {
        line.push_str(&format!(" MODSEQ {m}"));
    }
    s.untagged(&line);
}

pub(super) async fn search(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    ret: Option<SearchReturn>,
    charset: Option<&str>,
    key: &SearchKey,
) {
    if !charset_ok(s, tag, charset) {
        return;
    }
    let hits = match matching(s, key, by_uid).await {
        Ok(h) => h,
        Err(e) => return store_failure(s, tag, e),
    };
    let numbers: Vec<u32> = hits
        .iter()
        .map(|h| if by_uid { h.uid } else { h.seq })
        .collect();
    let modseqs: Vec<i64> = hits.iter().map(|h| h.row.modseq).collect();
    let modseq =
        (uses_modseq(key) && !hits.is_empty()).then(|| modseqs.iter().copied().max().unwrap_or(0));
    let Some(ret) = ret else {
        let mut line = String::from("SEARCH");
        for n in &numbers {
            line.push_str(&format!(" {n}"));
        }
        if let Some(m) = modseq {
            line.push_str(&format!(" (MODSEQ {m})"));
        }
        s.untagged(&line);
        s.ok(tag, None, "SEARCH completed");
        return;
    };
    if ret.save
        && let Some(view) = s.view_mut()
    {
        view.saved = hits.iter().map(|h| h.uid).collect();
    }
    if !(ret.nothing_asked() && ret.save) {
        let modseqs = uses_modseq(key).then_some(modseqs.as_slice());
        esearch(s, tag, by_uid, &ret, &numbers, false, modseqs);
    }
    s.ok(tag, None, "SEARCH completed");
}
