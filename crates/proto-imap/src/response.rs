//! Writing server responses (RFC 9051 section 7): strings as quoted or literal, nstrings,
//! status responses with their codes, and the capability list, built in one place so that
//! what is advertised cannot drift from what the parser takes.

/// Appends `s` as an IMAP string: quoted when it can be, a literal otherwise. `utf8`: the
/// client accepts UTF-8 in quoted strings (IMAP4rev2 or UTF8=ACCEPT enabled).
pub fn push_string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    let quotable = s.len() < 1024
        && s.iter()
            .all(|b| !matches!(b, b'\r' | b'\n' | 0) && (utf8 || *b < 0x80));
    if quotable {
        out.push(b'"');
        for b in s {
            if matches!(b, b'"' | b'\\') {
                out.push(b'\\');
            }
            out.push(*b);
        }
        out.push(b'"');
    } else {
        push_literal(out, s);
    }
}

/// Appends a mailbox name: UTF-8 for clients that accept it, modified UTF-7 for the others.
pub fn push_mailbox(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        push_string(out, name.as_bytes(), true);
    } else {
        push_string(out, crate::mutf7::encode(name).as_bytes(), false);
    }
}

pub fn push_literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// NIL or a string.
pub fn push_nstring(out: &mut Vec<u8>, s: Option<&[u8]>, utf8: bool) {
    match s {
        Some(s) => push_string(out, s, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// The three tagged results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        }
    }
}

/// `tag STATUS [CODE] text\r\n`; `code` without its brackets.
pub fn tagged(tag: &str, status: Status, code: Option<&str>, text: &str) -> Vec<u8> {
    let mut s = format!("{tag} {} ", status.as_str());
    if let Some(code) = code {
        s.push('[');
        s.push_str(code);
        s.push_str("] ");
    }
    s.push_str(&clean(text));
    s.push_str("\r\n");
    s.into_bytes()
}

/// Response text may not hold CR or LF (a client's words echoed in an error could).
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// What the connection can do now, for the capability list.
#[derive(Debug, Clone, Copy)]
pub struct CapabilityContext {
    pub tls_active: bool,
    pub starttls_offered: bool,
    pub authenticated: bool,
    pub append_limit: u64,
}

/// Extensions advertised after sign-in (RFC 9051 section 7.2.2 lets the list change then).
const EXTENSIONS: &[&str] = &[
    "LITERAL+",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "CONDSTORE",
    "QRESYNC",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "STATUS=SIZE",
    "ESEARCH",
    "SEARCHRES",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "ID",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "BINARY",
    "WITHIN",
    "CHILDREN",
    "UTF8=ACCEPT",
];

/// The capability list, without the leading `CAPABILITY`.
pub fn capabilities(ctx: CapabilityContext) -> String {
    let mut caps = vec!["IMAP4rev1".to_string(), "IMAP4rev2".to_string()];
    if !ctx.authenticated {
        caps.push("SASL-IR".into());
        caps.push("ID".into());
        caps.push("ENABLE".into());
        caps.push("LITERAL+".into());
        if ctx.tls_active {
            caps.push("AUTH=PLAIN".into());
            caps.push("AUTH=OAUTHBEARER".into());
            caps.push("AUTH=XOAUTH2".into());
        } else {
            caps.push("LOGINDISABLED".into());
        }
        if ctx.starttls_offered && !ctx.tls_active {
            caps.push("STARTTLS".into());
        }
        return caps.join(" ");
    }
    caps.extend(EXTENSIONS.iter().map(|s| s.to_string()));
    caps.push(format!("APPENDLIMIT={}", ctx.append_limit));
    caps.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_sent_as_literals() {
        let mut out = Vec::new();
        push_string(&mut out, b"a \"b\" \\", false);
        assert_eq!(out, b"\"a \\\"b\\\" \\\\\"");
        let mut out = Vec::new();
        push_string(&mut out, b"a\r\nb", false);
        assert_eq!(out, b"{4}\r\na\r\nb");
        let mut out = Vec::new();
        push_string(&mut out, "café".as_bytes(), false);
        assert!(out.starts_with(b"{5}"));
        let mut out = Vec::new();
        push_string(&mut out, "café".as_bytes(), true);
        assert_eq!(out, "\"café\"".as_bytes());
    }

    #[test]
    fn sign_in_is_disabled_without_tls() {
        let ctx = CapabilityContext {
            tls_active: false,
            starttls_offered: true,
            authenticated: false,
            append_limit: 10,
        };
        let caps = capabilities(ctx);
        assert!(caps.contains("LOGINDISABLED") && caps.contains("STARTTLS"));
        assert!(!caps.contains("AUTH=PLAIN"));
        let caps = capabilities(CapabilityContext {
            tls_active: true,
            ..ctx
        });
        assert!(caps.contains("AUTH=PLAIN") && !caps.contains("STARTTLS"));
    }

    #[test]
    fn response_text_cannot_inject_lines() {
        assert_eq!(
            tagged("a", Status::No, Some("TRYCREATE"), "no\r\n* OK x"),
            b"a NO [TRYCREATE] no  * OK x\r\n"
        );
    }
}
