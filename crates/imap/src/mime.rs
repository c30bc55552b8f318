//! A message's MIME tree as IMAP addresses it (RFC 9051 section 6.4.5: part numbers, HEADER,
//! TEXT, MIME) with exact byte ranges, and the ENVELOPE and BODYSTRUCTURE built from it
//! (section 7.5.2).
//!
//! Header fields are read by mail-parser (`parse_headers`, per entity). The tree itself is cut
//! here, on the raw bytes, because IMAP needs each part's exact bytes and mail-parser's
//! offsets of a nested message/rfc822 are relative to different buffers depending on its
//! transfer encoding.

use carepost_proto_imap::response::{push_nstring, push_string};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders};

/// Nesting beyond this is served as an opaque part (a bound on recursion).
const MAX_DEPTH: usize = 20;

/// One entity: its header and body bytes, its type, and what is inside it.
#[derive(Debug)]
pub(crate) struct Entity<'a> {
    pub header: &'a [u8],
    pub body: &'a [u8],
    pub ctype: String,
    pub subtype: String,
    pub children: Vec<Entity<'a>>,
    /// The message inside a message/rfc822 part.
    pub inner: Option<Box<Entity<'a>>>,
}

/// Splits at the blank line ending the header; a message without one is all header.
fn split_header(raw: &[u8]) -> (&[u8], &[u8]) {
    if raw.starts_with(b"\r\n") {
        return (&raw[..2], &raw[2..]);
    }
    if raw.starts_with(b"\n") {
        return (&raw[..1], &raw[1..]);
    }
    let mut i = 0;
    while let Some(p) = raw[i..].iter().position(|b| *b == b'\n') {
        let at = i + p + 1;
        if raw[at..].starts_with(b"\r\n") {
            return (&raw[..at + 2], &raw[at + 2..]);
        }
        if raw[at..].starts_with(b"\n") {
            return (&raw[..at + 1], &raw[at + 1..]);
        }
        i = at;
    }
    (raw, &[])
}

pub(crate) fn headers_of(header: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse_headers(header)
}

impl<'a> Entity<'a> {
    pub(crate) fn parse(raw: &'a [u8]) -> Entity<'a> {
        Entity::parse_in(raw, 0, false)
    }

    fn parse_in(raw: &'a [u8], depth: usize, in_digest: bool) -> Entity<'a> {
        let (header, body) = split_header(raw);
        let parsed = headers_of(header);
        let ct = parsed.as_ref().and_then(|m| m.content_type());
        let (mut ctype, mut subtype) = match ct {
            Some(ct) => (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase(),
            ),
            None if in_digest => ("message".to_string(), "rfc822".to_string()),
            None => ("text".to_string(), "plain".to_string()),
        };
        if subtype.is_empty() {
            // RFC 2045 section 5.2: an unusable Content-Type means text/plain.
            (ctype, subtype) = ("text".to_string(), "plain".to_string());
        }
        let mut e = Entity {
            header,
            body,
            ctype,
            subtype,
            children: Vec::new(),
            inner: None,
        };
        if depth >= MAX_DEPTH {
            return e;
        }
        if e.ctype == "multipart" {
            let boundary = ct.and_then(|c| c.attribute("boundary")).map(str::to_string);
            if let Some(b) = boundary {
                let digest = e.subtype == "digest";
                e.children = split_multipart(body, b.as_bytes())
                    .into_iter()
                    .map(|p| Entity::parse_in(p, depth + 1, digest))
                    .collect();
            }
        } else if e.ctype == "message" && (e.subtype == "rfc822" || e.subtype == "global") {
            e.inner = Some(Box::new(Entity::parse_in(body, depth + 1, false)));
        }
        e
    }

    pub(crate) fn is_multipart(&self) -> bool {
        self.ctype == "multipart"
    }

    /// The entity a part path names (`[]` is this one). Part 1 of a non-multipart message is
    /// its body (for a message/rfc822 message, the whole message inside); the parts of a
    /// message/rfc822 *part* are those of the message inside it.
    pub(crate) fn find(&self, path: &[u32]) -> Option<&Entity<'a>> {
        self.find_in(path, false)
    }

    fn find_in(&self, path: &[u32], is_part: bool) -> Option<&Entity<'a>> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        if is_part && let Some(inner) = &self.inner {
            return inner.find_in(path, false);
        }
        let i = usize::try_from(*first).ok()?.checked_sub(1)?;
        let next = if self.is_multipart() {
            self.children.get(i)?
        } else if i == 0 {
            self
        } else {
            return None;
        };
        next.find_in(rest, true)
    }
}

/// The parts of a multipart body between `--boundary` lines (RFC 2046 section 5.1.1).
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos <= body.len() {
        let line_end = body[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(body.len(), |p| pos + p + 1);
        let line = &body[pos..line_end];
        if line.starts_with(&delim) {
            let after = &line[delim.len()..];
            let closing = after.starts_with(b"--");
            let rest = if closing { &after[2..] } else { after };
            if rest.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(s) = start {
                    // The CRLF before the delimiter belongs to it.
                    let mut end = pos;
                    if end > s && body[end - 1] == b'\n' {
                        end -= 1;
                        if end > s && body[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(&body[s..end.max(s)]);
                }
                if closing {
                    return parts;
                }
                start = Some(line_end);
            }
        }
        if line_end >= body.len() {
            break;
        }
        pos = line_end;
    }
    if let Some(s) = start
        && s < body.len()
    {
        parts.push(&body[s..]);
    }
    parts
}

fn count_lines(b: &[u8]) -> usize {
    b.iter().filter(|c| **c == b'\n').count() + usize::from(!b.is_empty() && !b.ends_with(b"\n"))
}

/// Writes ENVELOPE (RFC 9051 section 7.5.2) for a header.
pub(crate) fn push_envelope(out: &mut Vec<u8>, header: &[u8], utf8: bool) {
    let msg = headers_of(header);
    let raw = |name: &str| -> Option<Vec<u8>> {
        msg.as_ref()
            .and_then(|m| m.header_raw(name.to_string()))
            .map(|v| unfold(v).into_bytes())
    };
    out.push(b'(');
    push_nstring(out, raw("Date").as_deref(), utf8);
    out.push(b' ');
    push_nstring(out, raw("Subject").as_deref(), utf8);
    let m = msg.as_ref();
    let from = m.and_then(|m| m.from());
    let sender = m.and_then(|m| m.sender()).or(from);
    let reply_to = m.and_then(|m| m.reply_to()).or(from);
    for a in [
        from,
        sender,
        reply_to,
        m.and_then(|m| m.to()),
        m.and_then(|m| m.cc()),
        m.and_then(|m| m.bcc()),
    ] {
        out.push(b' ');
        push_addresses(out, a, utf8);
    }
    out.push(b' ');
    push_nstring(out, raw("In-Reply-To").as_deref(), utf8);
    out.push(b' ');
    push_nstring(out, raw("Message-ID").as_deref(), utf8);
    out.push(b')');
}

/// A header value with its folding removed and outer whitespace trimmed.
fn unfold(v: &str) -> String {
    v.replace("\r\n", "").replace('\n', "").trim().to_string()
}

/// A display name for ENVELOPE: non-ASCII names go back into an RFC 2047 encoded word for
/// clients that do not accept UTF-8.
fn encoded_name(name: &str, utf8: bool) -> Vec<u8> {
    if utf8 || name.is_ascii() {
        return name.as_bytes().to_vec();
    }
    use base64::Engine;
    format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(name)
    )
    .into_bytes()
}

fn push_addr(out: &mut Vec<u8>, name: Option<&str>, address: Option<&str>, utf8: bool) {
    out.push(b'(');
    push_nstring(out, name.map(|n| encoded_name(n, utf8)).as_deref(), utf8);
    out.push(b' ');
    // An obsolete source route (`<@route:user@domain>`, RFC 5322 section 4.4) is the adl.
    let (route, address) = match address.and_then(|a| a.strip_prefix('@')?.split_once(':')) {
        Some((route, rest)) => (Some(format!("@{route}")), Some(rest)),
        None => (None, address),
    };
    push_nstring(out, route.as_deref().map(str::as_bytes), utf8);
    out.push(b' ');
    let (mailbox, host) = match address {
        Some(a) => match a.rsplit_once('@') {
            Some((m, h)) => (Some(m), Some(h)),
            None => (Some(a), None),
        },
        None => (None, None),
    };
    push_nstring(out, mailbox.map(str::as_bytes), utf8);
    out.push(b' ');
    push_nstring(out, host.map(str::as_bytes), utf8);
    out.push(b')');
}

fn push_addresses(out: &mut Vec<u8>, a: Option<&Address<'_>>, utf8: bool) {
    let Some(a) = a else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let start = out.len();
    out.push(b'(');
    match a {
        Address::List(list) => {
            for x in list {
                push_addr(out, x.name.as_deref(), x.address.as_deref(), utf8);
            }
        }
        Address::Group(groups) => {
            for g in groups {
                if let Some(name) = &g.name {
                    // RFC 9051: a group starts with NIL host and the group name as mailbox.
                    out.extend_from_slice(b"(NIL NIL ");
                    push_string(out, name.as_bytes(), utf8);
                    out.extend_from_slice(b" NIL)");
                }
                // A comment alone in a group (`group: (foo) ;`) is no address.
                for x in g.addresses.iter().filter(|x| x.address.is_some()) {
                    push_addr(out, x.name.as_deref(), x.address.as_deref(), utf8);
                }
                if g.name.is_some() {
                    out.extend_from_slice(b"(NIL NIL NIL NIL)");
                }
            }
        }
    }
    if out.len() == start + 1 {
        out.truncate(start);
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b')');
    }
}

fn push_params(out: &mut Vec<u8>, params: &[(String, String)], utf8: bool) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        push_string(out, k.to_ascii_uppercase().as_bytes(), utf8);
        out.push(b' ');
        push_string(out, v.as_bytes(), utf8);
    }
    out.push(b')');
}

/// The fields of an entity's header BODYSTRUCTURE reports.
struct Fields {
    params: Vec<(String, String)>,
    id: Option<String>,
    description: Option<String>,
    encoding: String,
    disposition: Option<(String, Vec<(String, String)>)>,
    language: Vec<String>,
    location: Option<String>,
    md5: Option<String>,
}

fn fields(header: &[u8]) -> Fields {
    let msg = headers_of(header);
    let m = msg.as_ref();
    let attrs = |ct: Option<&mail_parser::ContentType<'_>>| -> Vec<(String, String)> {
        ct.and_then(|c| c.attributes())
            .unwrap_or_default()
            .iter()
            .map(|a| (a.name.to_string(), a.value.to_string()))
            .collect()
    };
    let params = attrs(m.and_then(|m| m.content_type()));
    let disposition = m
        .and_then(|m| m.content_disposition())
        .map(|d| (d.ctype().to_string(), attrs(Some(d))));
    let language = match m.map(|m| m.content_language()) {
        Some(HeaderValue::Text(t)) => vec![t.to_string()],
        Some(HeaderValue::TextList(l)) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    Fields {
        params,
        id: m.and_then(|m| m.content_id()).map(|s| format!("<{s}>")),
        description: m.and_then(|m| m.content_description()).map(str::to_string),
        encoding: m
            .and_then(|m| m.content_transfer_encoding())
            .unwrap_or("7bit")
            .to_ascii_uppercase(),
        disposition,
        language,
        location: m.and_then(|m| m.content_location()).map(str::to_string),
        md5: m
            .and_then(|m| m.header_raw("Content-MD5"))
            .map(|s| s.trim().to_string()),
    }
}

fn push_extension(out: &mut Vec<u8>, f: &Fields, utf8: bool) {
    out.push(b' ');
    match &f.disposition {
        Some((kind, params)) => {
            out.push(b'(');
            push_string(out, kind.to_ascii_uppercase().as_bytes(), utf8);
            out.push(b' ');
            push_params(out, params, utf8);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match f.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => push_string(out, one.as_bytes(), utf8),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                push_string(out, l.as_bytes(), utf8);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    push_nstring(out, f.location.as_deref().map(str::as_bytes), utf8);
}

/// Writes BODYSTRUCTURE (`extended`) or BODY for an entity.
pub(crate) fn push_structure(out: &mut Vec<u8>, e: &Entity<'_>, extended: bool, utf8: bool) {
    let f = fields(e.header);
    out.push(b'(');
    if e.is_multipart() {
        if e.children.is_empty() {
            // A multipart without parts is shown as an empty text part, as Dovecot does.
            out.extend_from_slice(b"\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0");
        }
        for c in &e.children {
            push_structure(out, c, extended, utf8);
        }
        out.push(b' ');
        push_string(out, e.subtype.to_ascii_uppercase().as_bytes(), utf8);
        if extended {
            out.push(b' ');
            push_params(out, &f.params, utf8);
            push_extension(out, &f, utf8);
        }
        out.push(b')');
        return;
    }
    push_string(out, e.ctype.to_ascii_uppercase().as_bytes(), utf8);
    out.push(b' ');
    push_string(out, e.subtype.to_ascii_uppercase().as_bytes(), utf8);
    out.push(b' ');
    let mut params = f.params.clone();
    if e.ctype == "text"
        && !params
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("charset"))
    {
        params.push(("charset".into(), "us-ascii".into()));
    }
    push_params(out, &params, utf8);
    out.push(b' ');
    push_nstring(out, f.id.as_deref().map(str::as_bytes), utf8);
    out.push(b' ');
    push_nstring(out, f.description.as_deref().map(str::as_bytes), utf8);
    out.push(b' ');
    push_string(out, f.encoding.as_bytes(), utf8);
    out.extend_from_slice(format!(" {}", e.body.len()).as_bytes());
    if let Some(inner) = &e.inner {
        out.push(b' ');
        push_envelope(out, inner.header, utf8);
        out.push(b' ');
        push_structure(out, inner, extended, utf8);
        out.extend_from_slice(format!(" {}", count_lines(e.body)).as_bytes());
    } else if e.ctype == "text" {
        out.extend_from_slice(format!(" {}", count_lines(e.body)).as_bytes());
    }
    if extended {
        out.push(b' ');
        push_nstring(out, f.md5.as_deref().map(str::as_bytes), utf8);
        push_extension(out, &f, utf8);
    }
    out.push(b')');
}

/// The header lines of `header` whose names are (or, `not`, are not) in `names` (upper
/// case), followed by the blank line (RFC 9051: HEADER.FIELDS).
pub(crate) fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.iter().position(|b| *b == b':').map(|i| {
                String::from_utf8_lossy(&line[..i])
                    .trim()
                    .to_ascii_uppercase()
            });
            keep = match name {
                Some(n) => names.contains(&n) != not,
                None => false,
            };
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: Ann Lee <ann@kaiser.org>\r\nTo: bob@kaiser.org\r\nSubject: Hi\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.e\r\nSubject: inner\r\n\r\ninner body\r\n--XX--\r\nepilogue\r\n";

    #[test]
    fn parts_are_cut_at_their_boundaries() {
        let e = Entity::parse(MIXED);
        assert_eq!(e.children.len(), 2);
        assert_eq!(e.find(&[1]).unwrap().body, b"hello\r\nworld");
        let inner = e.find(&[2]).unwrap();
        assert_eq!(inner.subtype, "rfc822");
        assert_eq!(inner.inner.as_ref().unwrap().body, b"inner body");
        assert_eq!(e.find(&[2, 1]).unwrap().body, b"inner body");
        assert!(e.find(&[3]).is_none());
        assert!(e.find(&[0]).is_none());
    }

    #[test]
    fn a_message_that_is_a_message_rfc822_numbers_its_inner_parts_from_1() {
        let raw = b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nHello";
        let e = Entity::parse(raw);
        // Part 1 is the whole message inside; 1.1 the one inside that; 1.1.1 its text.
        assert!(
            e.find(&[1])
                .unwrap()
                .body
                .starts_with(b"Content-Type: message/rfc822")
        );
        assert!(e.find(&[1, 1]).unwrap().body.starts_with(b"Subject: s"));
        assert_eq!(e.find(&[1, 1, 1]).unwrap().body, b"Hello");
        assert!(e.find(&[2]).is_none());
    }

    #[test]
    fn a_single_part_message_is_its_own_part_one() {
        let e = Entity::parse(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(e.find(&[1]).unwrap().body, b"body\r\n");
        let mut out = Vec::new();
        push_structure(&mut out, &e, false, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 6 1)"
        );
    }

    #[test]
    fn envelope_lists_addresses_and_defaults_sender() {
        let mut out = Vec::new();
        push_envelope(&mut out, MIXED, false);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "(NIL \"Hi\" ((\"Ann Lee\" NIL \"ann\" \"kaiser.org\")) ((\"Ann Lee\" NIL \"ann\" \"kaiser.org\")) ((\"Ann Lee\" NIL \"ann\" \"kaiser.org\")) ((NIL NIL \"bob\" \"kaiser.org\")) NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn bodystructure_of_a_multipart_with_a_message() {
        let e = Entity::parse(MIXED);
        let mut out = Vec::new();
        push_structure(&mut out, &e, true, false);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 2 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 41 (NIL \"inner\""), "{s}");
        assert!(
            s.ends_with(" \"MIXED\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)"),
            "{s}"
        );
    }

    #[test]
    fn header_fields_are_picked_with_their_folds() {
        let h = b"From: a\r\nSubject: x\r\n y\r\nTo: b\r\n\r\n";
        assert_eq!(
            header_fields(h, &["SUBJECT".into()], false),
            b"Subject: x\r\n y\r\n\r\n"
        );
        assert_eq!(
            header_fields(h, &["SUBJECT".into()], true),
            b"From: a\r\nTo: b\r\n\r\n"
        );
    }
}
