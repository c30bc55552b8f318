//! SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267's RETURN options
//! on SORT). The messages are those SEARCH would find; the orderings and the threading
//! algorithms are `carepost_proto_imap`'s.

use super::fetch::BODIES_AT_ONCE;
use super::search::{Hit, charset_ok, esearch, matching, uses_modseq};
use super::store_failure;
use crate::mime::headers_of;
use crate::session::Session;
use carepost_mail::MailError;
use carepost_proto_imap::{
    SearchKey, SearchReturn, SortKey, ThreadAlgorithm, ThreadMessage, base_subject, casemap_cmp,
    ordered_subject, references, render_threads,
};
use mail_parser::{Address, HeaderValue, Message};
use std::cmp::Ordering;

/// The header values SORT and THREAD compare, read once per message.
struct Fields {
    /// The Date header in seconds, or the internal date when there is none.
    date: i64,
    subject: String,
    /// The base subject (RFC 5256 section 2.1).
    base: String,
    /// (addr-mailbox, display name or addr-spec) of the first address.
    from: (String, String),
    to: (String, String),
    cc: (String, String),
    message_id: Option<String>,
    references: Vec<String>,
}

/// The first address's local part, and what a reader sees of it (the display name, or else
/// the address); a group counts by its name, as in ENVELOPE.
fn first_address(a: Option<&Address<'_>>) -> (String, String) {
    let (name, address) = match a {
        Some(Address::List(l)) => match l.first() {
            Some(x) => (x.name.as_deref(), x.address.as_deref()),
            None => (None, None),
        },
        Some(Address::Group(groups)) => match groups.first() {
            Some(g) if g.name.is_some() => (g.name.as_deref(), g.name.as_deref()),
            Some(g) => match g.addresses.first() {
                Some(x) => (x.name.as_deref(), x.address.as_deref()),
                None => (None, None),
            },
            None => (None, None),
        },
        None => (None, None),
    };
    let address = address.unwrap_or("");
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let display = name.filter(|n| !n.trim().is_empty()).unwrap_or(address);
    (local.to_string(), display.trim().to_string())
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn fields(h: &Hit, raw: &[u8]) -> Fields {
    let msg: Option<Message<'_>> = headers_of(raw);
    let m = msg.as_ref();
    let mut refs = m.map(|m| ids(m.references())).unwrap_or_default();
    if refs.is_empty() {
        refs = m
            .map(|m| ids(m.in_reply_to()))
            .unwrap_or_default()
            .into_iter()
            .take(1)
            .collect();
    }
    Fields {
        date: m
            .and_then(|m| m.date())
            .map_or(h.row.internal_date.0.div_euclid(1000), |d| d.to_timestamp()),
        base: base_subject(m.and_then(|m| m.subject()).unwrap_or_default()).0,
        subject: m.and_then(|m| m.subject()).unwrap_or_default().to_string(),
        from: first_address(m.and_then(|m| m.from())),
        to: first_address(m.and_then(|m| m.to())),
        cc: first_address(m.and_then(|m| m.cc())),
        message_id: m.and_then(|m| m.message_id()).map(str::to_string),
        references: refs,
    }
}

/// Stack for threading: its tree walks recurse once per level of a reply chain, and a chain
/// can be as long as the mailbox (virtual memory, touched only as deep as a chain goes).
const THREADING_STACK: usize = 256 << 20;

/// The THREAD response data, computed on a thread of its own (deep stack, off the async
/// workers); `None` if that thread could not run or failed.
async fn threaded(algorithm: ThreadAlgorithm, messages: Vec<ThreadMessage>) -> Option<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("imap-thread".into())
        .stack_size(THREADING_STACK)
        .spawn(move || {
            let trees = match algorithm {
                ThreadAlgorithm::OrderedSubject => ordered_subject(&messages),
                ThreadAlgorithm::References => references(&messages),
            };
            let _ = tx.send(render_threads(&trees));
        })
        .ok()?;
    rx.await.ok()
}

fn compare(key: &SortKey, a: (&Hit, &Fields), b: (&Hit, &Fields)) -> Ordering {
    match key {
        SortKey::Arrival => a.0.row.internal_date.0.cmp(&b.0.row.internal_date.0),
        SortKey::Cc => casemap_cmp(&a.1.cc.0, &b.1.cc.0),
        SortKey::Date => a.1.date.cmp(&b.1.date),
        SortKey::From => casemap_cmp(&a.1.from.0, &b.1.from.0),
        SortKey::Size => a.0.row.size.cmp(&b.0.row.size),
        SortKey::Subject => casemap_cmp(&a.1.base, &b.1.base),
        SortKey::To => casemap_cmp(&a.1.to.0, &b.1.to.0),
        SortKey::DisplayFrom => casemap_cmp(&a.1.from.1, &b.1.from.1),
        SortKey::DisplayTo => casemap_cmp(&a.1.to.1, &b.1.to.1),
    }
}

/// The header values of each hit: bodies are read a few hundred at a time and dropped once
/// their values are taken, so a SORT or THREAD of a large mailbox holds no body for long.
async fn fields_of(s: &Session, hits: &[Hit]) -> Result<Vec<Fields>, MailError> {
    let mut out = Vec::with_capacity(hits.len());
    for chunk in hits.chunks(BODIES_AT_ONCE) {
        let ids: Vec<&str> = chunk.iter().map(|h| h.row.blob_id.as_str()).collect();
        let bodies = s.svc.mail.read_bodies(&ids).await?;
        out.extend(chunk.iter().zip(&bodies).map(|(h, b)| fields(h, b)));
    }
    Ok(out)
}

/// Whether the keys need the message header (all but ARRIVAL and SIZE).
fn needs_header(keys: &[(SortKey, bool)]) -> bool {
    keys.iter()
        .any(|(k, _)| !matches!(k, SortKey::Arrival | SortKey::Size))
}

/// What SORT and THREAD work on: the messages the search key finds (`None` when the charset
/// or the store refused, the client already answered).
async fn hits_for(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    charset: &str,
    key: &SearchKey,
) -> Option<Vec<Hit>> {
    if !charset_ok(s, tag, Some(charset)) {
        return None;
    }
    match matching(s, key, by_uid).await {
        Ok(h) => Some(h),
        Err(e) => {
            store_failure(s, tag, e);
            None
        }
    }
}

pub(super) async fn sort(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    ret: Option<SearchReturn>,
    keys: &[(SortKey, bool)],
    charset: &str,
    key: &SearchKey,
) {
    let Some(hits) = hits_for(s, tag, by_uid, charset, key).await else {
        return;
    };
    let fields = if needs_header(keys) {
        match fields_of(s, &hits).await {
            Ok(f) => f,
            Err(e) => return store_failure(s, tag, e),
        }
    } else {
        hits.iter().map(|h| fields(h, b"")).collect()
    };
    let mut items: Vec<(Hit, Fields)> = hits.into_iter().zip(fields).collect();
    // Ties keep mailbox order (RFC 5256: the message sequence number decides last).
    items.sort_by(|a, b| {
        keys.iter()
            .map(|(k, reverse)| {
                let o = compare(k, (&a.0, &a.1), (&b.0, &b.1));
                if *reverse { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    let numbers: Vec<u32> = items
        .iter()
        .map(|(h, _)| if by_uid { h.uid } else { h.seq })
        .collect();
    // A search by MODSEQ answers with the highest modseq found (RFC 7162 section 3.1.5).
    let modseqs: Vec<i64> = items.iter().map(|(h, _)| h.row.modseq).collect();
    let with_modseq = uses_modseq(key) && !items.is_empty();
    match ret {
        None => {
            let mut line = String::from("SORT");
            for n in &numbers {
                line.push_str(&format!(" {n}"));
            }
            if with_modseq {
                let highest = modseqs.iter().copied().max().unwrap_or(0);
                line.push_str(&format!(" (MODSEQ {highest})"));
            }
            s.untagged(&line);
        }
        Some(ret) => {
            if ret.save
                && let Some(view) = s.view_mut()
            {
                view.saved = items.iter().map(|(h, _)| h.uid).collect();
            }
            if !(ret.nothing_asked() && ret.save) {
                let modseqs = uses_modseq(key).then_some(modseqs.as_slice());
                esearch(s, tag, by_uid, &ret, &numbers, true, modseqs);
            }
        }
    }
    s.ok(tag, None, "SORT completed");
}

pub(super) async fn thread(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    algorithm: ThreadAlgorithm,
    charset: &str,
    key: &SearchKey,
) {
    let Some(hits) = hits_for(s, tag, by_uid, charset, key).await else {
        return;
    };
    let fields = match fields_of(s, &hits).await {
        Ok(f) => f,
        Err(e) => return store_failure(s, tag, e),
    };
    let messages: Vec<ThreadMessage> = hits
        .iter()
        .zip(fields)
        .map(|(h, f)| ThreadMessage {
            number: if by_uid { h.uid } else { h.seq },
            date: f.date,
            subject: f.subject,
            message_id: f.message_id,
            references: f.references,
        })
        .collect();
    let Some(data) = threaded(algorithm, messages).await else {
        s.no(tag, Some("SERVERBUG"), "Threading failed");
        return;
    };
    if data.is_empty() {
        s.untagged("THREAD");
    } else {
        s.untagged(&format!("THREAD {data}"));
    }
    s.ok(tag, None, "THREAD completed");
}
