//! FETCH data items (RFC 9051 section 6.4.5; BINARY, RFC 3516; MODSEQ, RFC 7162): the macros,
//! the simple items, and `BODY[section]<partial>` with its section grammar.

use crate::ParseError;
use crate::cursor::Cursor;

/// The text part of a section specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// The whole part (or message).
    Full,
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    Mime,
}

/// `[1.2.HEADER]`: a part path (empty for the message) and what of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: SectionText,
}

impl Section {
    /// How the section is named in the response (`1.2.HEADER.FIELDS (FROM)`).
    pub fn spec(&self) -> String {
        let mut out: Vec<String> = self.part.iter().map(u32::to_string).collect();
        let text = match &self.text {
            SectionText::Full => None,
            SectionText::Header => Some("HEADER".to_string()),
            SectionText::Text => Some("TEXT".to_string()),
            SectionText::Mime => Some("MIME".to_string()),
            SectionText::HeaderFields(f) => Some(format!("HEADER.FIELDS ({})", f.join(" "))),
            SectionText::HeaderFieldsNot(f) => Some(format!("HEADER.FIELDS.NOT ({})", f.join(" "))),
        };
        out.extend(text);
        out.join(".")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Flags,
    Uid,
    InternalDate,
    Rfc822Size,
    Envelope,
    /// BODYSTRUCTURE (with extension data) or BODY (without).
    BodyStructure {
        extended: bool,
    },
    /// `BODY[...]`, `BODY.PEEK[...]`, and RFC822, RFC822.HEADER, RFC822.TEXT (which answer
    /// under their own names).
    Body {
        section: Section,
        partial: Option<(u32, u32)>,
        peek: bool,
        /// The RFC 3501 name to answer with, for the RFC822 forms.
        legacy: Option<&'static str>,
    },
    Binary {
        section: Vec<u32>,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    BinarySize {
        section: Vec<u32>,
    },
    ModSeq,
}

impl FetchAttr {
    /// Whether fetching it sets `\Seen`.
    pub fn sets_seen(&self) -> bool {
        match self {
            FetchAttr::Body { peek, legacy, .. } => !*peek && *legacy != Some("RFC822.HEADER"),
            FetchAttr::Binary { peek, .. } => !*peek,
            _ => false,
        }
    }
}

/// The items of a FETCH: a macro, one item, or a list.
pub(crate) fn parse_items(c: &mut Cursor<'_>) -> Result<Vec<FetchAttr>, ParseError> {
    if c.keyword("ALL") {
        return Ok(vec![
            FetchAttr::Flags,
            FetchAttr::InternalDate,
            FetchAttr::Rfc822Size,
            FetchAttr::Envelope,
        ]);
    }
    if c.keyword("FAST") {
        return Ok(vec![
            FetchAttr::Flags,
            FetchAttr::InternalDate,
            FetchAttr::Rfc822Size,
        ]);
    }
    if c.keyword("FULL") {
        return Ok(vec![
            FetchAttr::Flags,
            FetchAttr::InternalDate,
            FetchAttr::Rfc822Size,
            FetchAttr::Envelope,
            FetchAttr::BodyStructure { extended: false },
        ]);
    }
    if c.peek() == Some(b'(') {
        return c.list(false, item);
    }
    Ok(vec![item(c)?])
}

fn item(c: &mut Cursor<'_>) -> Result<FetchAttr, ParseError> {
    let simple = [
        ("FLAGS", FetchAttr::Flags),
        ("UID", FetchAttr::Uid),
        ("INTERNALDATE", FetchAttr::InternalDate),
        ("RFC822.SIZE", FetchAttr::Rfc822Size),
        ("ENVELOPE", FetchAttr::Envelope),
        ("BODYSTRUCTURE", FetchAttr::BodyStructure { extended: true }),
        ("MODSEQ", FetchAttr::ModSeq),
    ];
    for (word, attr) in simple {
        if c.keyword(word) {
            return Ok(attr);
        }
    }
    let legacy = [
        ("RFC822.HEADER", SectionText::Header, true),
        ("RFC822.TEXT", SectionText::Text, false),
        ("RFC822", SectionText::Full, false),
    ];
    for (word, text, peek) in legacy {
        if c.keyword(word) {
            return Ok(FetchAttr::Body {
                section: Section {
                    part: Vec::new(),
                    text,
                },
                partial: None,
                peek,
                legacy: Some(word),
            });
        }
    }
    let word = c.word()?.to_ascii_uppercase();
    match word.as_str() {
        "BODY" if c.peek() != Some(b'[') => Ok(FetchAttr::BodyStructure { extended: false }),
        "BODY" | "BODY.PEEK" => {
            let section = section(c)?;
            let partial = partial(c)?;
            Ok(FetchAttr::Body {
                section,
                partial,
                peek: word == "BODY.PEEK",
                legacy: None,
            })
        }
        "BINARY" | "BINARY.PEEK" => {
            let section = binary_section(c)?;
            let partial = partial(c)?;
            Ok(FetchAttr::Binary {
                section,
                partial,
                peek: word == "BINARY.PEEK",
            })
        }
        "BINARY.SIZE" => Ok(FetchAttr::BinarySize {
            section: binary_section(c)?,
        }),
        _ => Err(ParseError::Syntax(format!("unknown fetch item {word}"))),
    }
}

/// Part numbers in one section (`1.2.3...`); deeper MIME nesting is not served anyway.
const MAX_PART_DEPTH: usize = 32;

fn part_numbers(c: &mut Cursor<'_>) -> Result<Vec<u32>, ParseError> {
    let mut part = Vec::new();
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        if part.len() >= MAX_PART_DEPTH {
            return Err(ParseError::Syntax("section part path too deep".into()));
        }
        part.push(c.nz_number()?);
        if !c.eat(b'.') {
            break;
        }
    }
    Ok(part)
}

fn binary_section(c: &mut Cursor<'_>) -> Result<Vec<u32>, ParseError> {
    c.require(b'[')?;
    let part = part_numbers(c)?;
    c.require(b']')?;
    Ok(part)
}

fn section(c: &mut Cursor<'_>) -> Result<Section, ParseError> {
    c.require(b'[')?;
    let part = part_numbers(c)?;
    let text = if c.peek() == Some(b']') {
        SectionText::Full
    } else if c.keyword("HEADER.FIELDS.NOT") {
        c.sp()?;
        SectionText::HeaderFieldsNot(header_list(c)?)
    } else if c.keyword("HEADER.FIELDS") {
        c.sp()?;
        SectionText::HeaderFields(header_list(c)?)
    } else if c.keyword("HEADER") {
        SectionText::Header
    } else if c.keyword("TEXT") {
        SectionText::Text
    } else if c.keyword("MIME") && !part.is_empty() {
        SectionText::Mime
    } else {
        return Err(ParseError::Syntax("bad section".into()));
    };
    c.require(b']')?;
    Ok(Section { part, text })
}

fn header_list(c: &mut Cursor<'_>) -> Result<Vec<String>, ParseError> {
    c.list(false, |c| Ok(c.astring_utf8()?.to_ascii_uppercase()))
}

fn partial(c: &mut Cursor<'_>) -> Result<Option<(u32, u32)>, ParseError> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let start = u32::try_from(c.number()?).map_err(|_| ParseError::Syntax("bad partial".into()))?;
    c.require(b'.')?;
    let len = c.nz_number()?;
    c.require(b'>')?;
    Ok(Some((start, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(s: &str) -> Vec<FetchAttr> {
        parse_items(&mut Cursor::new(s.as_bytes())).unwrap()
    }

    #[test]
    fn sections_and_partials_are_read() {
        let got = items("(UID BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<0.100> RFC822.SIZE)");
        assert_eq!(got.len(), 3);
        let FetchAttr::Body {
            section,
            partial,
            peek,
            ..
        } = &got[1]
        else {
            panic!("{got:?}")
        };
        assert_eq!(section.part, vec![1, 2]);
        assert_eq!(
            section.text,
            SectionText::HeaderFields(vec!["FROM".into(), "TO".into()])
        );
        assert_eq!(*partial, Some((0, 100)));
        assert!(*peek);
        assert_eq!(section.spec(), "1.2.HEADER.FIELDS (FROM TO)");
    }

    #[test]
    fn macros_and_body_without_section() {
        assert_eq!(items("FAST").len(), 3);
        assert_eq!(
            items("BODY"),
            vec![FetchAttr::BodyStructure { extended: false }]
        );
        assert!(items("RFC822")[0].sets_seen());
        assert!(!items("RFC822.HEADER")[0].sets_seen());
        assert!(items("BODY[]")[0].sets_seen());
    }

    #[test]
    fn bad_items_are_refused() {
        for s in [
            "(UID",
            "BODY[HEADER",
            "BODY[MIME]",
            "FOO",
            "BODY[]<1>",
            "()",
        ] {
            assert!(parse_items(&mut Cursor::new(s.as_bytes())).is_err(), "{s}");
        }
    }
}
