//! SEARCH keys (RFC 9051 section 6.4.4), with CONDSTORE's MODSEQ (RFC 7162 section 3.1.5),
//! SEARCHRES's `$` (RFC 5182) and the RETURN options of ESEARCH (RFC 4731).

use crate::ParseError;
use crate::cursor::Cursor;
use crate::sequence::SequenceSet;

/// A calendar date, as SEARCH compares dates (without time or zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        crate::cursor::days_from_civil(self.year, self.month, self.day)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    /// A flag that must be set (`\Seen`, `$Forwarded`, ...).
    Flag(String),
    /// A flag that must not be set.
    NoFlag(String),
    /// Header `name` contains the text (FROM, TO, CC, BCC, SUBJECT, HEADER x).
    Header(String, String),
    Body(String),
    Text(String),
    Before(Date),
    On(Date),
    Since(Date),
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Larger(u64),
    Smaller(u64),
    /// RFC 5032 WITHIN: internal date at most / more than this many seconds ago.
    Younger(u64),
    Older(u64),
    Uid(SequenceSet),
    Seq(SequenceSet),
    ModSeq(u64),
    /// `NEW`: recent and unseen (IMAP4rev1; RFC 9051 dropped \Recent).
    New,
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
}

/// ESEARCH's RETURN options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    pub save: bool,
}

impl SearchReturn {
    /// `RETURN ()` means ALL.
    pub fn nothing_asked(&self) -> bool {
        !(self.min || self.max || self.all || self.count)
    }
}

/// `SEARCH [RETURN (...)] [CHARSET x] key...`: the options, the charset named, the keys (as one
/// AND).
pub(crate) fn parse_search(
    c: &mut Cursor<'_>,
) -> Result<(Option<SearchReturn>, Option<String>, SearchKey), ParseError> {
    let mut ret = None;
    if c.keyword("RETURN") {
        c.sp()?;
        ret = Some(return_options(c)?);
        c.sp()?;
    }
    let charset = parse_charset(c)?;
    Ok((ret, charset, parse_keys(c)?))
}

/// The list after RETURN.
pub(crate) fn return_options(c: &mut Cursor<'_>) -> Result<SearchReturn, ParseError> {
    let mut r = SearchReturn::default();
    for o in c.list(true, |c| Ok(c.atom()?.to_ascii_uppercase()))? {
        match o.as_str() {
            "MIN" => r.min = true,
            "MAX" => r.max = true,
            "ALL" => r.all = true,
            "COUNT" => r.count = true,
            "SAVE" => r.save = true,
            _ => return Err(ParseError::Syntax(format!("unknown RETURN option {o}"))),
        }
    }
    Ok(r)
}

/// `CHARSET x SP`, if present.
pub(crate) fn parse_charset(c: &mut Cursor<'_>) -> Result<Option<String>, ParseError> {
    if c.keyword("CHARSET") {
        c.sp()?;
        let cs = c.astring_utf8()?;
        c.sp()?;
        return Ok(Some(cs));
    }
    Ok(None)
}

/// Keys to the end of the command, space-separated, as one AND.
pub(crate) fn parse_keys(c: &mut Cursor<'_>) -> Result<SearchKey, ParseError> {
    let mut keys = vec![key(c, 0)?];
    while c.eat(b' ') {
        keys.push(key(c, 0)?);
    }
    c.end()?;
    Ok(if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    })
}

/// Nesting deeper than this (NOT NOT NOT ..., or parentheses) is refused: bounded recursion.
const MAX_DEPTH: usize = 32;

fn text(c: &mut Cursor<'_>) -> Result<String, ParseError> {
    c.sp()?;
    Ok(String::from_utf8_lossy(&c.astring()?).into_owned())
}

fn date(c: &mut Cursor<'_>) -> Result<Date, ParseError> {
    c.sp()?;
    let (year, month, day) = c.date()?;
    Ok(Date { year, month, day })
}

fn key(c: &mut Cursor<'_>, depth: usize) -> Result<SearchKey, ParseError> {
    use SearchKey as K;
    if depth > MAX_DEPTH {
        return Err(ParseError::Syntax("search keys nested too deeply".into()));
    }
    if c.peek() == Some(b'(') {
        let keys = c.list(false, |c| key(c, depth + 1))?;
        return Ok(K::And(keys));
    }
    if c.peek()
        .is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'$')
    {
        return Ok(K::Seq(SequenceSet::parse(c)?));
    }
    let word = c.atom()?.to_ascii_uppercase();
    let flag = |f: &str| Ok(K::Flag(f.to_string()));
    let no_flag = |f: &str| Ok(K::NoFlag(f.to_string()));
    match word.as_str() {
        "ALL" => Ok(K::All),
        "ANSWERED" => flag("\\Answered"),
        "DELETED" => flag("\\Deleted"),
        "DRAFT" => flag("\\Draft"),
        "FLAGGED" => flag("\\Flagged"),
        "SEEN" => flag("\\Seen"),
        "RECENT" => flag("\\Recent"),
        "UNANSWERED" => no_flag("\\Answered"),
        "UNDELETED" => no_flag("\\Deleted"),
        "UNDRAFT" => no_flag("\\Draft"),
        "UNFLAGGED" => no_flag("\\Flagged"),
        "UNSEEN" => no_flag("\\Seen"),
        "OLD" => no_flag("\\Recent"),
        "NEW" => Ok(K::New),
        "KEYWORD" => {
            c.sp()?;
            Ok(K::Flag(c.atom()?))
        }
        "UNKEYWORD" => {
            c.sp()?;
            Ok(K::NoFlag(c.atom()?))
        }
        "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => Ok(K::Header(word.clone(), text(c)?)),
        "HEADER" => {
            let name = text(c)?.to_ascii_uppercase();
            Ok(K::Header(name, text(c)?))
        }
        "BODY" => Ok(K::Body(text(c)?)),
        "TEXT" => Ok(K::Text(text(c)?)),
        "BEFORE" => Ok(K::Before(date(c)?)),
        "ON" => Ok(K::On(date(c)?)),
        "SINCE" => Ok(K::Since(date(c)?)),
        "SENTBEFORE" => Ok(K::SentBefore(date(c)?)),
        "SENTON" => Ok(K::SentOn(date(c)?)),
        "SENTSINCE" => Ok(K::SentSince(date(c)?)),
        "LARGER" | "SMALLER" | "YOUNGER" | "OLDER" => {
            c.sp()?;
            let n = c.number()?;
            Ok(match word.as_str() {
                "LARGER" => K::Larger(n),
                "SMALLER" => K::Smaller(n),
                "YOUNGER" => K::Younger(n),
                _ => K::Older(n),
            })
        }
        "UID" => {
            c.sp()?;
            Ok(K::Uid(SequenceSet::parse(c)?))
        }
        "NOT" => {
            c.sp()?;
            Ok(K::Not(Box::new(key(c, depth + 1)?)))
        }
        "OR" => {
            c.sp()?;
            let a = key(c, depth + 1)?;
            c.sp()?;
            let b = key(c, depth + 1)?;
            Ok(K::Or(Box::new(a), Box::new(b)))
        }
        "MODSEQ" => {
            c.sp()?;
            // Optional entry name and type: `"/flags/\\draft" all`; the value counts alone.
            if c.peek() == Some(b'"') {
                c.astring()?;
                c.sp()?;
                c.atom()?;
                c.sp()?;
            }
            Ok(K::ModSeq(c.number()?))
        }
        _ => Err(ParseError::Syntax(format!("unknown search key {word}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(Option<SearchReturn>, Option<String>, SearchKey), ParseError> {
        parse_search(&mut Cursor::new(s.as_bytes()))
    }

    #[test]
    fn nested_keys_and_options_are_read() {
        let (ret, cs, k) =
            parse("RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR FROM ann (UNSEEN 1:5) NOT DELETED")
                .unwrap();
        let ret = ret.unwrap();
        assert!(ret.min && ret.count && ret.save && !ret.max);
        assert_eq!(cs.as_deref(), Some("UTF-8"));
        let SearchKey::And(keys) = k else { panic!() };
        assert_eq!(keys.len(), 2);
        assert!(matches!(keys[0], SearchKey::Or(..)));
        assert_eq!(
            keys[1],
            SearchKey::Not(Box::new(SearchKey::Flag("\\Deleted".into())))
        );
    }

    #[test]
    fn dates_sizes_and_modseq() {
        let (_, _, k) =
            parse("SINCE 1-Feb-1994 LARGER 100 MODSEQ \"/flags/\\\\draft\" all 620162338").unwrap();
        let SearchKey::And(keys) = k else { panic!() };
        assert_eq!(
            keys[0],
            SearchKey::Since(Date {
                year: 1994,
                month: 2,
                day: 1
            })
        );
        assert_eq!(keys[2], SearchKey::ModSeq(620_162_338));
    }

    #[test]
    fn bad_keys_and_deep_nesting_are_refused() {
        assert!(parse("FROM").is_err());
        assert!(parse("BEFORE 32-Jan-2020").is_err());
        assert!(parse("WHATEVER").is_err());
        let deep = "NOT ".repeat(100) + "ALL";
        assert!(parse(&deep).is_err());
        let parens = "(".repeat(100) + "ALL" + &")".repeat(100);
        assert!(parse(&parens).is_err());
    }
}
