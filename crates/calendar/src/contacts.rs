//! What the address books need of a vCard (CardDAV's domain, RFC 6352), read with calcard:
//! that a body a client stores is one vCard with a UID (kept byte for byte), and whether a
//! card matches an `addressbook-query`'s text matches (RFC 6352 section 10.5, with the
//! `i;unicode-casemap` collation approximated by lower-casing).

use crate::DavError;
use calcard::common::IanaParse;
use calcard::vcard::{VCard, VCardProperty, VCardValue};
use calcard::{Entry, Parser};

/// One property's text match of an `addressbook-query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFilter {
    /// The vCard property: `FN`, `EMAIL`, `N`...
    pub property: String,
    pub text: String,
    /// `equals`, `contains`, `starts-with` or `ends-with`.
    pub match_type: String,
    pub negate: bool,
}

/// Reads `text` as exactly one vCard; its UID.
pub(crate) fn inspect(text: &str) -> Result<String, DavError> {
    let bad = |why: &str| DavError::InvalidData(why.to_string());
    let mut parser = Parser::new(text);
    let card = match parser.entry() {
        Entry::VCard(c) => c,
        _ => return Err(bad("the body is not a vCard")),
    };
    if !matches!(parser.entry(), Entry::Eof) {
        return Err(bad("the body holds more than one vCard"));
    }
    card.uid()
        .map(str::to_string)
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| bad("the vCard has no UID"))
}

fn texts(v: &VCardValue) -> Vec<String> {
    match v {
        VCardValue::Text(t) => vec![t.to_lowercase()],
        VCardValue::Component(parts) => parts.iter().map(|p| p.to_lowercase()).collect(),
        _ => Vec::new(),
    }
}

fn hit(value: &str, f: &CardFilter, needle: &str) -> bool {
    match f.match_type.as_str() {
        "equals" => value == needle,
        "starts-with" => value.starts_with(needle),
        "ends-with" => value.ends_with(needle),
        _ => value.contains(needle),
    }
}

/// Whether the card `text` meets the filters: all of them (`all_of`) or any.
pub fn card_matches(text: &str, filters: &[CardFilter], all_of: bool) -> bool {
    if filters.is_empty() {
        return true;
    }
    let Ok(card) = VCard::parse(text) else {
        return false;
    };
    let one = |f: &CardFilter| {
        let needle = f.text.to_lowercase();
        let wanted = <VCardProperty as IanaParse>::parse(f.property.as_bytes())
            .unwrap_or_else(|| VCardProperty::Other(f.property.clone()));
        let found = card
            .entries
            .iter()
            .filter(|e| e.name == wanted)
            .flat_map(|e| e.values.iter().flat_map(texts))
            .any(|v| hit(&v, f, &needle));
        found != f.negate
    };
    if all_of {
        filters.iter().all(one)
    } else {
        filters.iter().any(one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Jane Smith\r\n\
        N:Smith;Jane;;;\r\nEMAIL;TYPE=WORK:jane.smith@kaiser.org\r\nEND:VCARD\r\n";

    fn f(property: &str, text: &str, match_type: &str) -> CardFilter {
        CardFilter {
            property: property.into(),
            text: text.into(),
            match_type: match_type.into(),
            negate: false,
        }
    }

    #[test]
    fn one_card_with_a_uid_is_accepted() {
        assert_eq!(inspect(CARD).unwrap(), "c1");
        assert!(inspect(&format!("{CARD}{CARD}")).is_err());
        assert!(inspect("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n").is_err());
        assert!(inspect("hello").is_err());
    }

    #[test]
    fn text_matches_follow_the_match_type() {
        assert!(card_matches(CARD, &[f("FN", "smi", "contains")], true));
        assert!(card_matches(CARD, &[f("N", "SMITH", "equals")], true));
        assert!(!card_matches(CARD, &[f("FN", "smi", "starts-with")], true));
        assert!(card_matches(
            CARD,
            &[
                f("FN", "zzz", "contains"),
                f("EMAIL", "kaiser.org", "ends-with")
            ],
            false
        ));
        let mut not = f("FN", "jane", "contains");
        not.negate = true;
        assert!(!card_matches(CARD, &[not], true));
    }
}
