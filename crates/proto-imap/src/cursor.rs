//! The tokens of RFC 9051 section 9 (formal syntax) over one framed command: atoms, quoted
//! strings, literals (synchronizing, LITERAL+ and BINARY's literal8), numbers, parenthesized
//! lists. A literal's bytes are already in the frame (the framing layer waited for them).

use crate::ParseError;

/// A position in a command's bytes.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, ParseError>;

fn bad(what: &str) -> ParseError {
    ParseError::Syntax(what.to_string())
}

/// atom-specials: `(` `)` `{` SP CTL `%` `*` `"` `\` `]`.
fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR: an atom char or `]`.
fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// list-char: an atom char, list-wildcards, or `]`.
fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn require(&mut self, b: u8) -> R<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(bad(&format!("expected '{}'", b as char)))
        }
    }

    pub(crate) fn sp(&mut self) -> R<()> {
        self.require(b' ')
    }

    /// Consumes a case-insensitive keyword if it is next and not followed by more atom chars.
    pub(crate) fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        if end > self.buf.len() || !self.buf[self.pos..end].eq_ignore_ascii_case(word.as_bytes()) {
            return false;
        }
        if self.buf.get(end).is_some_and(|b| is_atom_char(*b)) {
            return false;
        }
        self.pos = end;
        true
    }

    /// The end of the command: nothing may follow.
    pub(crate) fn end(&self) -> R<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(bad("unexpected characters at the end of the command"))
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    pub(crate) fn atom(&mut self) -> R<String> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(bad("expected an atom"));
        }
        Ok(String::from_utf8_lossy(a).into_owned())
    }

    /// A name made of letters, digits, `.` and `-` (a FETCH item before its `[`).
    pub(crate) fn word(&mut self) -> R<String> {
        let w = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if w.is_empty() {
            return Err(bad("expected a name"));
        }
        Ok(String::from_utf8_lossy(w).into_owned())
    }

    /// A tag: astring chars except `+`.
    pub(crate) fn tag(&mut self) -> R<String> {
        let t = self.take_while(|b| is_astring_char(b) && b != b'+');
        if t.is_empty() {
            return Err(bad("expected a tag"));
        }
        Ok(String::from_utf8_lossy(t).into_owned())
    }

    pub(crate) fn number(&mut self) -> R<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return Err(bad("expected a number"));
        }
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("number out of range"))
    }

    /// nz-number as a u32 (message numbers and UIDs).
    pub(crate) fn nz_number(&mut self) -> R<u32> {
        let n = self.number()?;
        u32::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad("expected a number from 1 to 4294967295"))
    }

    /// A quoted string, without its quotes and escapes.
    fn quoted(&mut self) -> R<Vec<u8>> {
        self.require(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return Err(bad("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(bad("bad escape in quoted string")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A literal (`{n}`, `{n+}`, `{n-}` or literal8 `~{n}`) and its bytes.
    pub(crate) fn literal(&mut self) -> R<Vec<u8>> {
        self.eat(b'~');
        self.require(b'{')?;
        let n = usize::try_from(self.number()?).map_err(|_| bad("literal too large"))?;
        let _ = self.eat(b'+') || self.eat(b'-');
        self.require(b'}')?;
        self.require(b'\r')?;
        self.require(b'\n')?;
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| bad("literal too large"))?;
        if end > self.buf.len() {
            return Err(bad("literal shorter than announced"));
        }
        let out = self.buf[self.pos..end].to_vec();
        self.pos = end;
        Ok(out)
    }

    /// Whether a quoted string or a literal starts here (`~` only as literal8's `~{`: an atom
    /// may start with `~`).
    fn at_string(&self) -> bool {
        match self.peek() {
            Some(b'"' | b'{') => true,
            Some(b'~') => self.buf.get(self.pos + 1) == Some(&b'{'),
            _ => false,
        }
    }

    /// string: quoted or literal.
    pub(crate) fn string(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            _ if self.at_string() => self.literal(),
            _ => Err(bad("expected a string")),
        }
    }

    /// astring: an atom (with `]`) or a string.
    pub(crate) fn astring(&mut self) -> R<Vec<u8>> {
        if self.at_string() {
            return self.string();
        }
        let a = self.take_while(is_astring_char);
        if a.is_empty() {
            return Err(bad("expected a string"));
        }
        Ok(a.to_vec())
    }

    pub(crate) fn astring_utf8(&mut self) -> R<String> {
        String::from_utf8(self.astring()?).map_err(|_| bad("the string is not UTF-8"))
    }

    /// nstring: NIL or a string.
    pub(crate) fn nstring(&mut self) -> R<Option<Vec<u8>>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// list-mailbox: list chars (with the wildcards) or a string.
    pub(crate) fn list_mailbox(&mut self) -> R<String> {
        let raw = if self.at_string() {
            self.string()?
        } else {
            let a = self.take_while(is_list_char);
            if a.is_empty() {
                return Err(bad("expected a mailbox pattern"));
            }
            a.to_vec()
        };
        String::from_utf8(raw).map_err(|_| bad("the mailbox pattern is not UTF-8"))
    }

    /// A parenthesized, space-separated list, each element read by `item`. `allow_empty` for
    /// lists the grammar lets be `()`.
    pub(crate) fn list<T>(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Self) -> R<T>,
    ) -> R<Vec<T>> {
        self.require(b'(')?;
        let mut out = Vec::new();
        if self.eat(b')') {
            if allow_empty {
                return Ok(out);
            }
            return Err(bad("empty list"));
        }
        loop {
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    /// A flag: `\Word` or a keyword atom.
    pub(crate) fn flag(&mut self) -> R<String> {
        if self.eat(b'\\') {
            if self.eat(b'*') {
                return Ok("\\*".to_string());
            }
            return Ok(format!("\\{}", self.atom()?));
        }
        self.atom()
    }

    /// date: `d-Mon-yyyy`, quoted or not. Returns (year, month 1-12, day).
    pub(crate) fn date(&mut self) -> R<(i32, u8, u8)> {
        let quoted = self.eat(b'"');
        let day = self.number()?;
        self.require(b'-')?;
        let mon = self.take_while(|b| b.is_ascii_alphabetic());
        self.require(b'-')?;
        let year = self.number()?;
        if quoted {
            self.require(b'"')?;
        }
        let month = month_number(mon).ok_or_else(|| bad("bad month in date"))?;
        if !(1..=31).contains(&day) || !(1..=9999).contains(&year) {
            return Err(bad("bad date"));
        }
        Ok((year as i32, month, day as u8))
    }

    /// date-time: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, as seconds since the epoch.
    pub(crate) fn date_time(&mut self) -> R<i64> {
        let raw = self.quoted()?;
        parse_date_time(&raw).ok_or_else(|| bad("bad date-time"))
    }
}

pub(crate) fn month_number(m: &[u8]) -> Option<u8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS
        .iter()
        .position(|x| x.as_bytes().eq_ignore_ascii_case(m))
        .map(|i| i as u8 + 1)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm; std has no calendar and
/// this is the only date arithmetic the protocol crate needs).
pub fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_date_time(raw: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(raw).ok()?;
    let s = s.trim_start();
    let (date, rest) = s.split_once(' ')?;
    let mut d = date.split('-');
    let day: u8 = d.next()?.parse().ok()?;
    let month = month_number(d.next()?.as_bytes())?;
    let year: i32 = d.next()?.parse().ok()?;
    let (time, zone) = rest.split_once(' ')?;
    let mut t = time.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next()?.parse().ok()?;
    if h > 23 || mi > 59 || se > 60 || !(1..=31).contains(&day) || zone.len() != 5 {
        return None;
    }
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zh: i64 = zone.get(1..3)?.parse().ok()?;
    let zm: i64 = zone.get(3..5)?.parse().ok()?;
    let offset = sign * (zh * 3600 + zm * 60);
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_of_every_form_are_read() {
        let mut c = Cursor::new(b"atom \"q \\\"x\\\\\" {3}\r\nabc ~{2}\r\n\0\x01 NIL");
        assert_eq!(c.astring().unwrap(), b"atom");
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), b"q \"x\\");
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), b"abc");
        c.sp().unwrap();
        assert_eq!(c.string().unwrap(), b"\0\x01");
        c.sp().unwrap();
        assert_eq!(c.nstring().unwrap(), None);
        c.end().unwrap();
    }

    #[test]
    fn a_literal_longer_than_the_frame_is_refused() {
        assert!(Cursor::new(b"{10}\r\nabc").literal().is_err());
        assert!(
            Cursor::new(b"{99999999999999999999}\r\n")
                .literal()
                .is_err()
        );
    }

    #[test]
    fn date_time_is_read_with_its_zone() {
        let mut c = Cursor::new(b"\"25-Nov-2026 10:00:00 +0100\"");
        assert_eq!(c.date_time().unwrap(), 1_795_597_200);
        let mut c = Cursor::new(b"\" 5-Nov-2026 10:00:00 +0000\"");
        assert!(c.date_time().is_ok());
        assert!(
            Cursor::new(b"\"25-Foo-2026 10:00:00 +0100\"")
                .date_time()
                .is_err()
        );
    }

    #[test]
    fn keywords_match_whole_atoms_only() {
        let mut c = Cursor::new(b"FLAGSX");
        assert!(!c.keyword("FLAGS"));
        let mut c = Cursor::new(b"flags (");
        assert!(c.keyword("FLAGS"));
    }
}
