//! SEARCH and UID SEARCH (RFC 9051 section 6.4.4) over every key, text keys over decoded
//! headers and bodies (case-insensitive), with ESEARCH's RETURN options (RFC 4731), SEARCHRES
//! (RFC 5182) and CONDSTORE's MODSEQ key (RFC 7162).

use super::store_failure;
use crate::session::Session;
use carepost_proto_imap::{SearchKey, SearchReturn, compact};
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

fn uses_modseq(k: &SearchKey) -> bool {
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
    let has = |f: &str| flags.split_whitespace().any(|x| x.eq_ignore_ascii_case(f));
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
        K::New => false,
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

pub(super) async fn search(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    ret: Option<SearchReturn>,
    charset: Option<&str>,
    key: &SearchKey,
) {
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
        return;
    }
    if uses_modseq(key) {
        s.enabled.condstore = true;
    }
    s.sync(by_uid).await;
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let Some(view) = s.view_mut() else { return };
    let mailbox_id = view.mailbox.id;
    let rows = match s.svc.mail.mailbox_messages(account, mailbox_id).await {
        Ok((_, r)) => r,
        Err(e) => return store_failure(s, tag, e),
    };
    let body = needs_body(key);
    let mut bodies = Vec::new();
    if body {
        for r in &rows {
            match s.svc.mail.read_body(&r.blob_id).await {
                Ok(b) => bodies.push(b),
                Err(e) => return store_failure(s, tag, e),
            }
        }
    }
    let now = s.svc.clock.now();
    let Some(view) = s.view_mut() else { return };
    let cx = Context {
        largest_seq: view.uids.len() as u32,
        largest_uid: view.uids.last().copied().unwrap_or(0),
        saved: &view.saved,
        now,
    };
    let mut found = Vec::new();
    let mut highest = 0;
    for (i, r) in rows.iter().enumerate() {
        let uid = r.uid as u32;
        let Some(seq) = view.seq_of(uid) else {
            continue;
        };
        let c = Candidate {
            seq: seq as u32,
            uid,
            row: r,
            parsed: bodies
                .get(i)
                .and_then(|b| MessageParser::default().parse(b.as_slice())),
        };
        if matches(key, &c, &cx) {
            found.push((seq as u32, uid));
            highest = highest.max(r.modseq);
        }
    }
    let numbers: Vec<u32> = found
        .iter()
        .map(|(seq, uid)| if by_uid { *uid } else { *seq })
        .collect();
    let modseq = (uses_modseq(key) && !found.is_empty()).then_some(highest);
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
    if ret.save {
        view.saved = found.iter().map(|(_, uid)| *uid).collect();
    }
    let all = ret.all || ret.nothing_asked() && !ret.save;
    if ret.nothing_asked() && ret.save {
        s.ok(tag, None, "SEARCH completed, result saved");
        return;
    }
    let mut line = format!("ESEARCH (TAG \"{tag}\")");
    if by_uid {
        line.push_str(" UID");
    }
    if ret.min
        && let Some(n) = numbers.iter().min()
    {
        line.push_str(&format!(" MIN {n}"));
    }
    if ret.max
        && let Some(n) = numbers.iter().max()
    {
        line.push_str(&format!(" MAX {n}"));
    }
    if all && !numbers.is_empty() {
        line.push_str(&format!(" ALL {}", compact(&numbers)));
    }
    if ret.count {
        line.push_str(&format!(" COUNT {}", numbers.len()));
    }
    if let Some(m) = modseq {
        line.push_str(&format!(" MODSEQ {m}"));
    }
    s.untagged(&line);
    s.ok(tag, None, "SEARCH completed");
}
