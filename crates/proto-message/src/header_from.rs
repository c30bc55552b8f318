//! The header section as the checks that decide who a message is from must read it: strictly.
//! A mail client shows `administrator@ kaiser.org`, `administrator@(x)kaiser.org` and a folded
//! `administrator@\r\n kaiser.org` as the administrator (RFC 5322 allows comments and folding
//! white space around every part of an address), while mail-parser, made to show whatever a
//! message holds, reads them loosely (`administrator@ kaiser.org`, `administrator@`). So the
//! From: and Sender: fields are read here by RFC 5322 section 3.4's grammar, with CFWS
//! removed and folding undone, and anything that is not exactly one clean mailbox is refused.
//! mail-parser stays what the rest of the server reads messages with; no crate in the field
//! offers this strict reading (mail-parser and mail-auth are lenient by design).
//!
//! Also here: bare CR and bare LF, which hide a second header field from a reader that splits
//! lines on CRLF only (`Subject: x\rFrom: other@...`).

/// One mailbox of a From: or Sender: field, as a mail client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// `local@domain`, the domain in lower case (the local part as written).
    pub address: String,
    /// The display name with quotes and comments removed, encoded words left as written.
    pub display: Option<String>,
}

/// Why a header section cannot say who a message is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromProblem {
    NoFrom,
    /// More than one From: (or Sender:) field.
    SeveralFields(&'static str),
    /// A field that is not exactly one mailbox (a list, a group, or nothing).
    NotOneMailbox(&'static str),
    /// A field that does not parse as an address.
    Malformed(&'static str),
    /// A CR or LF that is not part of a CRLF in the header section.
    BareLineBreak,
}

impl std::fmt::Display for FromProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FromProblem::NoFrom => write!(f, "the message has no From: header"),
            FromProblem::SeveralFields(h) => write!(f, "the message has more than one {h}: header"),
            FromProblem::NotOneMailbox(h) => {
                write!(f, "the {h}: header must hold exactly one address")
            }
            FromProblem::Malformed(h) => write!(f, "the {h}: header is not a valid address"),
            FromProblem::BareLineBreak => {
                write!(
                    f,
                    "the header section has a CR or LF that is not part of a CRLF"
                )
            }
        }
    }
}

/// Who the header section says the message is from: its one From: mailbox, and its one
/// Sender: mailbox if it has that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSenders {
    pub from: Mailbox,
    pub sender: Option<Mailbox>,
}

/// Reads the From: and Sender: fields of `raw`'s header section strictly (see the module).
pub fn header_senders(raw: &[u8]) -> Result<HeaderSenders, FromProblem> {
    let header = header_section(raw);
    if has_bare_line_break(header) {
        return Err(FromProblem::BareLineBreak);
    }
    let fields = unfolded_fields(header);
    let field = |name: &'static str| -> Result<Option<Mailbox>, FromProblem> {
        let mut found = fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let Some((_, value)) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(FromProblem::SeveralFields(name));
        }
        // The field was not UTF-8 (RFC 6532 allows nothing else): what a client shows for
        // those bytes is anyone's guess, so the field does not parse cleanly.
        if value.contains('\u{FFFD}') {
            return Err(FromProblem::Malformed(name));
        }
        one_mailbox(value, name).map(Some)
    };
    let from = field("From")?.ok_or(FromProblem::NoFrom)?;
    let sender = field("Sender")?;
    Ok(HeaderSenders { from, sender })
}

/// Whether a display name holds something that reads as an address (`"boss@kaiser.org"
/// <me@...>`): in the text as written and after RFC 2047 encoded words are decoded and
/// look-alike characters folded (NFKC makes `＠` an `@` and `․` a dot; the ideographic full
/// stops are mapped by hand), the first such address.
pub fn display_holds_address(display: &str) -> Option<String> {
    let decoded = decode_words(display);
    let folded: String = unicode_normalization::UnicodeNormalization::nfkc(decoded.as_str())
        .map(|c| match c {
            '\u{3002}' | '\u{FF61}' | '\u{FE52}' => '.',
            c => c,
        })
        .collect();
    [display, decoded.as_str(), folded.as_str()]
        .into_iter()
        .find_map(address_in)
}

/// The first word of `text` that reads as `local@domain.tld`.
fn address_in(text: &str) -> Option<String> {
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\'' | '[' | ']'
            )
    })
    .find(|w| {
        let Some((local, domain)) = w.rsplit_once('@') else {
            return false;
        };
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
    })
    .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
}

/// The names a reader built on mail-parser shows for From: and Sender: (this server's own
/// IMAP ENVELOPE and portal among them): a comment becomes the name when there is no other,
/// and an encoded word inside an address is decoded into it. Checked as display names too.
pub fn names_shown(raw: &[u8]) -> Vec<String> {
    let Some(m) = mail_parser::MessageParser::new().parse_headers(raw) else {
        return Vec::new();
    };
    [m.from(), m.sender()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.name.as_deref().map(str::to_string))
        .collect()
}

/// RFC 2047 encoded words decoded, as unstructured text (through mail-parser, which reads
/// them well): a comma or an angle bracket in the name stays part of it.
fn decode_words(display: &str) -> String {
    let raw = format!("Subject: {display}\r\n\r\n");
    mail_parser::MessageParser::new()
        .parse_headers(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| display.to_string())
}

/// The bytes up to the empty line that ends the header section (all of `raw` without one).
/// Only CRLF CRLF ends it: a bare LF that a lenient reader takes for the end is inside the
/// section for a strict one, and so is refused as a bare line break (found by the fuzz
/// target: `From: a\r\n\nSender: b` has a Sender: field for one reader and not the other).
fn header_section(raw: &[u8]) -> &[u8] {
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &raw[..i + 2],
        None => raw,
    }
}

fn has_bare_line_break(header: &[u8]) -> bool {
    header.iter().enumerate().any(|(i, b)| match b {
        b'\r' => header.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || header[i - 1] != b'\r',
        _ => false,
    })
}

/// The header fields as (name, value) with folding undone (CRLF before WSP removed).
fn unfolded_fields(header: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(header);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim_end().to_string(), value.to_string()));
        }
    }
    out
}

/// A cursor over a field's value, by RFC 5322's lexical tokens.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

/// `atext` of RFC 5322 section 3.2.3.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips folding white space and comments (nested, with quoted pairs); false for a
    /// comment that never ends.
    fn cfws(&mut self) -> bool {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'(') => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek() {
                            None => return false,
                            Some(b'\\') => self.i += 2,
                            Some(b'(') => {
                                depth += 1;
                                self.i += 1;
                            }
                            Some(b')') => {
                                depth -= 1;
                                self.i += 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                _ => return true,
            }
        }
    }

    fn atom(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_atext) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string's content, quoted pairs undone.
    fn quoted(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    out.push(*self.s.get(self.i + 1)?);
                    self.i += 2;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// `dot-atom` with CFWS around its parts (RFC 5322 allows it around each in obs-forms,
    /// and clients read it so): `administrator . x @` reads `administrator.x`.
    fn dot_atom(&mut self) -> Option<String> {
        let mut out = self.atom()?;
        loop {
            let save = self.i;
            if !self.cfws() {
                return None;
            }
            if self.peek() != Some(b'.') {
                self.i = save;
                return Some(out);
            }
            self.i += 1;
            if !self.cfws() {
                return None;
            }
            out.push('.');
            out.push_str(&self.atom()?);
        }
    }

    /// `local-part "@" domain`, CFWS allowed around each part.
    fn addr_spec(&mut self) -> Option<String> {
        if !self.cfws() {
            return None;
        }
        let local = match self.peek()? {
            b'"' => format!("\"{}\"", self.quoted()?),
            _ => self.dot_atom()?,
        };
        if !self.cfws() || self.peek() != Some(b'@') {
            return None;
        }
        self.i += 1;
        if !self.cfws() {
            return None;
        }
        let domain = match self.peek()? {
            b'[' => {
                // An address literal, `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 section
                // 4.1.3; found by the fuzz target), and nothing else: RFC 5322 would take any
                // `dtext` here, but `administrator@[kaiser.org]` or `x@[a@b(]` is shown by mail
                // clients as an address it is not, and names no domain DMARC could check.
                let start = self.i + 1;
                let end = start + self.s[start..].iter().position(|b| *b == b']')?;
                let inner = std::str::from_utf8(&self.s[start..end]).ok()?;
                // The `IPv6:` tag in any case (RFC 5321 names it case-insensitively).
                let ip = match inner.get(..5) {
                    Some(tag) if tag.eq_ignore_ascii_case("ipv6:") => {
                        inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
                    }
                    _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
                };
                if !ip {
                    return None;
                }
                self.i = end + 1;
                format!("[{inner}]")
            }
            _ => self.dot_atom()?,
        };
        if !self.cfws() {
            return None;
        }
        Some(format!("{local}@{}", domain.to_ascii_lowercase()))
    }
}

/// Exactly one mailbox in `value` (`name-addr` or `addr-spec`), or why not.
fn one_mailbox(value: &str, field: &'static str) -> Result<Mailbox, FromProblem> {
    let mut lx = Lexer {
        s: value.as_bytes(),
        i: 0,
    };
    let malformed = FromProblem::Malformed(field);
    // A display name is a phrase of atoms, dots and quoted strings before `<`; without `<`
    // the value is a bare addr-spec.
    let mut words: Vec<String> = Vec::new();
    let start = lx.i;
    loop {
        if !lx.cfws() {
            return Err(malformed);
        }
        match lx.peek() {
            Some(b'"') => words.push(lx.quoted().ok_or(FromProblem::Malformed(field))?),
            Some(b'.') => {
                lx.i += 1;
                words.push(".".into());
            }
            Some(b) if is_atext(b) => words.push(lx.atom().unwrap_or_default()),
            _ => break,
        }
    }
    let mailbox = match lx.peek() {
        Some(b'<') => {
            lx.i += 1;
            let address = lx.addr_spec().ok_or(FromProblem::Malformed(field))?;
            if lx.peek() != Some(b'>') {
                return Err(malformed);
            }
            lx.i += 1;
            let display = words.join(" ").replace(" . ", ". ");
            Mailbox {
                address,
                display: (!display.trim().is_empty()).then(|| display.trim().to_string()),
            }
        }
        _ => {
            lx.i = start;
            let address = lx.addr_spec().ok_or(FromProblem::Malformed(field))?;
            Mailbox {
                address,
                display: None,
            }
        }
    };
    if !lx.cfws() {
        return Err(malformed);
    }
    match lx.peek() {
        None => Ok(mailbox),
        Some(b',' | b':' | b';') => Err(FromProblem::NotOneMailbox(field)),
        Some(_) => Err(malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_of(field: &str) -> Result<String, FromProblem> {
        let raw = format!("{field}\r\nSubject: x\r\n\r\nbody\r\n");
        header_senders(raw.as_bytes()).map(|s| s.from.address)
    }

    #[test]
    fn an_address_reads_as_a_mail_client_shows_it() {
        for f in [
            "From: administrator@kaiser.org",
            "From: administrator@ kaiser.org",
            "From: administrator @ kaiser.org",
            "From: administrator@(x)kaiser.org",
            "From: administrator@\r\n kaiser.org",
            "From: administrator(comment)@Kaiser.ORG",
            "From: <administrator@kaiser.org>",
            "From: The Administrator <administrator@kaiser.org>",
            "From: \"Admin, IT\" (the boss) <administrator @kaiser.org> (trailing)",
            "FROM:administrator@kaiser.org",
        ] {
            assert_eq!(
                from_of(f).as_deref(),
                Ok("administrator@kaiser.org"),
                "{f:?}"
            );
        }
    }

    #[test]
    fn an_ip_address_literal_is_a_domain() {
        assert_eq!(
            from_of("From: a@[192.0.2.1]").as_deref(),
            Ok("a@[192.0.2.1]")
        );
        assert_eq!(
            from_of("From: a@[IPv6:2001:db8::1]").as_deref(),
            Ok("a@[ipv6:2001:db8::1]")
        );
        assert_eq!(
            from_of("From: a@[ipv6:2001:db8::1]").as_deref(),
            Ok("a@[ipv6:2001:db8::1]")
        );
        assert_eq!(
            header_senders(b"From: \x92r@x.org\r\n\r\n").map(|s| s.from.address),
            Err(FromProblem::Malformed("From"))
        );
    }

    #[test]
    fn anything_but_one_clean_mailbox_is_refused() {
        let cases: [(&str, FromProblem); 12] = [
            ("Subject: only", FromProblem::NoFrom),
            (
                "From: a@x.org\r\nFrom: b@y.org",
                FromProblem::SeveralFields("From"),
            ),
            ("From: a@x.org, b@y.org", FromProblem::NotOneMailbox("From")),
            ("From: team: a@x.org;", FromProblem::Malformed("From")),
            (
                "From: Admin <administrator@kaiser.org",
                FromProblem::Malformed("From"),
            ),
            ("From: administrator@", FromProblem::Malformed("From")),
            ("From: (unclosed a@x.org", FromProblem::Malformed("From")),
            ("From: tor@[rom:or@  x ]", FromProblem::Malformed("From")),
            // Address literals are IP addresses only; the field must be UTF-8.
            (
                "From: administrator@[kaiser.org]",
                FromProblem::Malformed("From"),
            ),
            ("From: r@[e@m(]", FromProblem::Malformed("From")),
            ("From: \u{FFFD}r@x.org", FromProblem::Malformed("From")),
            (
                "Subject: x\rFrom: other@kaiser.org\r\nFrom: me@kaiser.org",
                FromProblem::BareLineBreak,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(from_of(f), Err(want), "{f:?}");
        }
        assert_eq!(
            from_of("From: me@kaiser.org\nX: y"),
            Err(FromProblem::BareLineBreak)
        );
    }

    #[test]
    fn a_display_name_that_holds_an_address_is_found() {
        let raw = b"From: \"administrator@kaiser.org\" <me@kaiser.org>\r\n\r\n";
        let s = header_senders(raw).unwrap();
        assert_eq!(s.from.address, "me@kaiser.org");
        let shown = s.from.display.unwrap();
        assert_eq!(
            display_holds_address(&shown).as_deref(),
            Some("administrator@kaiser.org")
        );
        assert_eq!(
            display_holds_address("=?utf-8?q?administrator=40kaiser.org?=").as_deref(),
            Some("administrator@kaiser.org")
        );
        assert_eq!(display_holds_address("Ann Lee"), None);
        // Commas and angle brackets inside the quoted name, and look-alike characters.
        for name in [
            "Help Desk, administrator@kaiser.org",
            "Administrator <administrator@kaiser.org>",
            "administrator\u{FF20}kaiser.org",
            "administrator@kaiser\u{3002}org",
        ] {
            assert_eq!(
                display_holds_address(name).as_deref(),
                Some("administrator@kaiser.org"),
                "{name:?}"
            );
        }
        // What mail-parser shows as the name: a comment, an encoded word in the address.
        let raw = b"From: me@kaiser.org (administrator@kaiser.org)\r\n\r\n";
        assert!(
            names_shown(raw)
                .iter()
                .any(|n| display_holds_address(n).is_some())
        );
        assert_eq!(display_holds_address("Ann @ Cardiology"), None);
    }
}
