//! FETCH and UID FETCH (RFC 9051 section 6.4.5): message data items, body sections with
//! partial ranges, BINARY (RFC 3516), and CONDSTORE/QRESYNC's CHANGEDSINCE and VANISHED
//! (RFC 7162). Fetching a body without PEEK sets `\Seen`, under a new modseq.

use super::store_failure;
use crate::mime::{self, Entity};
use crate::session::Session;
use crate::view::flag_list;
use carepost_mail::FlagOp;
use carepost_proto_imap::response::push_literal;
use carepost_proto_imap::{FetchAttr, Section, SectionText, SequenceSet, compact};
use carepost_store::MessageRow;
use std::collections::{HashMap, HashSet};
use std::io::Write;

/// Messages whose bodies are read together.
pub(super) const BODIES_AT_ONCE: usize = 256;

/// `dd-Mon-yyyy hh:mm:ss +0000` (RFC 9051 `date-time`), in UTC.
pub(crate) fn internal_date(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%d-%b-%Y %H:%M:%S +0000")
            .to_string(),
        Err(_) => "01-Jan-1970 00:00:00 +0000".to_string(),
    }
}

fn needs_body(items: &[FetchAttr]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            FetchAttr::Envelope
                | FetchAttr::BodyStructure { .. }
                | FetchAttr::Body { .. }
                | FetchAttr::Binary { .. }
                | FetchAttr::BinarySize { .. }
        )
    })
}

fn has_flag(flags: &str, f: &str) -> bool {
    flags.split_whitespace().any(|x| x.eq_ignore_ascii_case(f))
}

#[allow(clippy::too_many_arguments)] // One argument per part of the command's grammar.
pub(super) async fn fetch(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    set: &SequenceSet,
    items: &[FetchAttr],
    changed_since: Option<u64>,
    vanished: bool,
) {
    if changed_since.is_some() || items.contains(&FetchAttr::ModSeq) {
        s.enable_condstore();
    }
    if vanished && !s.enabled.qresync {
        s.bad(tag, "VANISHED needs ENABLE QRESYNC");
        return;
    }
    s.sync(by_uid).await;
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let Some(view) = s.view_mut() else { return };
    let uids = match view.resolve(set, by_uid) {
        Ok(u) => u,
        Err(_) => {
            s.bad(tag, "Invalid message sequence number");
            return;
        }
    };
    let (read_only, mailbox_id) = (view.read_only, view.mailbox.id);
    let (Some(low), Some(high)) = (uids.first(), uids.last()) else {
        s.ok(tag, None, "FETCH completed");
        return;
    };
    let rows = match s
        .svc
        .mail
        .messages_between(account, mailbox_id, i64::from(*low), i64::from(*high))
        .await
    {
        Ok(r) => r,
        Err(e) => return store_failure(s, tag, e),
    };
    let mut rows: HashMap<u32, MessageRow> = rows.into_iter().map(|r| (r.uid as u32, r)).collect();
    let since = changed_since.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    if vanished && let Some(n) = since {
        match s.svc.mail.changes_since(account, mailbox_id, n).await {
            Ok(ch) => {
                let gone: Vec<u32> = ch
                    .expunged
                    .iter()
                    .map(|u| *u as u32)
                    .filter(|u| set.contains(*u, u32::MAX))
                    .collect();
                if !gone.is_empty() {
                    s.untagged(&format!("VANISHED (EARLIER) {}", compact(&gone)));
                }
            }
            Err(e) => return store_failure(s, tag, e),
        }
    }
    // Mark as read what a non-PEEK body fetch opens.
    let mut seen_now = Vec::new();
    if !read_only && items.iter().any(FetchAttr::sets_seen) {
        let unseen: Vec<i64> = uids
            .iter()
            .filter_map(|u| rows.get(u))
            .filter(|r| !has_flag(&r.flags, "\\Seen") && since.is_none_or(|n| r.modseq > n))
            .map(|r| r.uid)
            .collect();
        if !unseen.is_empty() {
            let seen: std::collections::BTreeSet<String> = ["\\Seen".to_string()].into();
            match s
                .svc
                .mail
                .change_flags(account, mailbox_id, &unseen, FlagOp::Add, &seen, None)
                .await
            {
                Ok(done) => {
                    for st in done.messages.iter().filter(|m| m.changed) {
                        if let Some(r) = rows.get_mut(&(st.uid as u32)) {
                            r.flags = st.flags.clone();
                            r.modseq = st.modseq;
                        }
                        seen_now.push(st.uid as u32);
                    }
                    if let (Some(v), Some(m)) = (s.view_mut(), done.modseq) {
                        v.own.push(m);
                    }
                }
                Err(e) => return store_failure(s, tag, e),
            }
        }
    }
    let seen_now: HashSet<u32> = seen_now.into_iter().collect();
    let wanted: Vec<&MessageRow> = uids
        .iter()
        .filter_map(|u| rows.get(u))
        .filter(|r| since.is_none_or(|n| r.modseq > n))
        .collect();
    // Bodies are read a few hundred at a time: one query each, not one per message.
    for chunk in wanted.chunks(BODIES_AT_ONCE) {
        let bodies = if needs_body(items) {
            let ids: Vec<&str> = chunk.iter().map(|r| r.blob_id.as_str()).collect();
            match s.svc.mail.read_bodies(&ids).await {
                Ok(b) => b.into_iter().map(Some).collect(),
                Err(e) => return store_failure(s, tag, e),
            }
        } else {
            vec![None; chunk.len()]
        };
        for (row, raw) in chunk.iter().zip(bodies) {
            let uid = row.uid as u32;
            let Some(seq) = s.view_mut().and_then(|v| v.seq_of(uid)) else {
                continue;
            };
            let mut out = Vec::new();
            let _ = write!(out, "* {seq} FETCH (");
            write_items(
                s,
                &mut out,
                row,
                raw.as_deref(),
                items,
                by_uid,
                seen_now.contains(&uid),
                since.is_some(),
            );
            out.extend_from_slice(b")\r\n");
            s.out.extend_from_slice(&out);
        }
    }
    s.ok(tag, None, "FETCH completed");
}

#[allow(clippy::too_many_arguments)] // The pieces of one FETCH response.
fn write_items(
    s: &Session,
    out: &mut Vec<u8>,
    row: &MessageRow,
    raw: Option<&[u8]>,
    items: &[FetchAttr],
    by_uid: bool,
    with_flags: bool,
    with_modseq: bool,
) {
    let utf8 = s.utf8();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let wants = |a: &FetchAttr| items.contains(a);
    if by_uid || wants(&FetchAttr::Uid) {
        parts.push(format!("UID {}", row.uid).into_bytes());
    }
    let flags = wants(&FetchAttr::Flags) || with_flags;
    if flags {
        let recent = match &s.state {
            crate::session::State::Selected(_, v) => v.recent.contains(&(row.uid as u32)),
            _ => false,
        };
        parts.push(format!("FLAGS {}", flag_list(&row.flags, recent)).into_bytes());
    }
    if wants(&FetchAttr::ModSeq) || with_modseq || (flags && s.enabled.condstore) {
        parts.push(format!("MODSEQ ({})", row.modseq).into_bytes());
    }
    let entity = raw.map(Entity::parse);
    for item in items {
        let mut p = Vec::new();
        match item {
            FetchAttr::Uid | FetchAttr::Flags | FetchAttr::ModSeq => continue,
            FetchAttr::InternalDate => {
                let _ = write!(p, "INTERNALDATE \"{}\"", internal_date(row.internal_date.0));
            }
            FetchAttr::Rfc822Size => {
                let _ = write!(p, "RFC822.SIZE {}", row.size);
            }
            FetchAttr::Envelope => {
                p.extend_from_slice(b"ENVELOPE ");
                let header = entity.as_ref().map_or(&b""[..], |e| e.header);
                mime::push_envelope(&mut p, header, utf8);
            }
            FetchAttr::BodyStructure { extended } => {
                p.extend_from_slice(if *extended {
                    b"BODYSTRUCTURE "
                } else {
                    b"BODY "
                });
                if let Some(e) = &entity {
                    mime::push_structure(&mut p, e, *extended, utf8);
                }
            }
            FetchAttr::Body {
                section,
                partial,
                legacy,
                ..
            } => {
                let data = entity.as_ref().and_then(|e| section_bytes(e, raw, section));
                match legacy {
                    Some(name) => p.extend_from_slice(name.as_bytes()),
                    None => {
                        let _ = write!(p, "BODY[{}]", section.spec());
                    }
                }
                push_partial(&mut p, data.as_deref(), *partial, false);
            }
            FetchAttr::Binary {
                section, partial, ..
            } => {
                let data = binary(entity.as_ref(), raw, section);
                let _ = write!(p, "BINARY[{}]", dotted(section));
                push_partial(&mut p, data.as_deref(), *partial, true);
            }
            FetchAttr::BinarySize { section } => {
                let n = binary(entity.as_ref(), raw, section).map_or(0, |d| d.len());
                let _ = write!(p, "BINARY.SIZE[{}] {n}", dotted(section));
            }
        }
        parts.push(p);
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(p);
    }
}

fn dotted(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `<start>` and the data as a literal (NIL when the section does not exist). A literal may
/// not hold NUL (RFC 9051 section 4.3): BINARY data with one goes as a literal8 (RFC 3516),
/// BODY data has it replaced by 0x80, as Dovecot does.
fn push_partial(p: &mut Vec<u8>, data: Option<&[u8]>, partial: Option<(u32, u32)>, binary: bool) {
    let Some(data) = data else {
        p.extend_from_slice(b" NIL");
        return;
    };
    let data = match partial {
        Some((start, len)) => {
            let _ = write!(p, "<{start}> ");
            let s = (start as usize).min(data.len());
            let e = s.saturating_add(len as usize).min(data.len());
            &data[s..e]
        }
        None => {
            p.push(b' ');
            data
        }
    };
    if !data.contains(&0) {
        push_literal(p, data);
    } else if binary {
        p.push(b'~');
        push_literal(p, data);
    } else {
        let cleaned: Vec<u8> = data
            .iter()
            .map(|b| if *b == 0 { 0x80 } else { *b })
            .collect();
        push_literal(p, &cleaned);
    }
}

/// The bytes a BODY section names.
fn section_bytes(e: &Entity<'_>, raw: Option<&[u8]>, section: &Section) -> Option<Vec<u8>> {
    let part = e.find(&section.part)?;
    // HEADER and TEXT of a part address the message inside a message/rfc822 part.
    let msg = if section.part.is_empty() {
        Some(part)
    } else {
        part.inner.as_deref()
    };
    Some(match &section.text {
        SectionText::Full if section.part.is_empty() => raw?.to_vec(),
        SectionText::Full => part.body.to_vec(),
        SectionText::Mime => part.header.to_vec(),
        SectionText::Header => msg?.header.to_vec(),
        SectionText::Text => msg?.body.to_vec(),
        SectionText::HeaderFields(names) => mime::header_fields(msg?.header, names, false),
        SectionText::HeaderFieldsNot(names) => mime::header_fields(msg?.header, names, true),
    })
}

/// What BINARY[section] names: the whole message as stored for `[]`, else the part's body
/// decoded (RFC 3516).
fn binary(e: Option<&Entity<'_>>, raw: Option<&[u8]>, section: &[u32]) -> Option<Vec<u8>> {
    if section.is_empty() {
        return raw.map(<[u8]>::to_vec);
    }
    e?.find(section).and_then(decoded)
}

/// A part's body with its Content-Transfer-Encoding undone (BINARY).
fn decoded(e: &Entity<'_>) -> Option<Vec<u8>> {
    let enc = mime::headers_of(e.header)
        .and_then(|m| {
            use mail_parser::MimeHeaders;
            m.content_transfer_encoding().map(str::to_ascii_lowercase)
        })
        .unwrap_or_default();
    match enc.as_str() {
        "base64" => mail_parser::decoders::base64::base64_decode(e.body),
        "quoted-printable" => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(e.body)
        }
        _ => Some(e.body.to_vec()),
    }
}
