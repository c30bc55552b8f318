//! Names to lower-case ASCII for addresses: diacritics removed by transliteration (deunicode:
//! José -> jose, Łukasz -> lukasz, Ångström -> angstrom), apostrophes dropped (O'Connor ->
//! oconnor), hyphens kept (Mary-Jane), spaces inside a name part turned into one hyphen
//! (de la Cruz -> de-la-cruz), anything else dropped. Symbols outside ASCII (emoji, ™, ©) are
//! dropped before transliteration, which would otherwise spell them out (😀 -> "grinning").

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub part: &'static str,
    pub input: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} name '{}' has no letters or digits that can go into an address",
            self.part, self.input
        )
    }
}

impl std::error::Error for NameError {}

/// Characters read as apostrophes in names, removed before transliteration.
const APOSTROPHES: &[char] = &['\'', '\u{2019}', '\u{2018}', '\u{02BC}', '`', '\u{00B4}'];

/// One name part (first, middle or last) as it goes into an address.
pub fn normalize_name_part(part: &'static str, input: &str) -> Result<String, NameError> {
    let without_apostrophes: String = input
        .chars()
        .filter(|c| !APOSTROPHES.contains(c))
        .filter(|c| c.is_ascii() || c.is_alphanumeric() || c.is_whitespace())
        .collect();
    let ascii = deunicode::deunicode(&without_apostrophes);
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c.is_whitespace() || c == '-') && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        return Err(NameError {
            part,
            input: input.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_lower_case_ascii() {
        for (input, want) in [
            ("José", "jose"),
            ("Núñez", "nunez"),
            ("Zoë", "zoe"),
            ("Ångström", "angstrom"),
            ("Łukasz", "lukasz"),
            ("Żółć", "zolc"),
            ("O'Connor", "oconnor"),
            ("O’Connor", "oconnor"),
            ("Mary-Jane", "mary-jane"),
            ("de la Cruz", "de-la-cruz"),
            ("  van   der  Berg ", "van-der-berg"),
            ("Smith - Jones", "smith-jones"),
            ("Müller", "muller"),
            ("Straße", "strasse"),
            ("Søren", "soren"),
            ("Dvořák", "dvorak"),
            ("Nguyễn", "nguyen"),
            ("JOHN", "john"),
            ("John3", "john3"),
            ("Anne-", "anne"),
            ("-Anne", "anne"),
            ("St. John", "st-john"),
            ("Smith (Jr.)", "smith-jr"),
            ("Zoë 😀", "zoe"),
            ("😀 Zoë", "zoe"),
            ("Zoe\u{308}", "zoe"),
            ("Anna™", "anna"),
            ("Jo 👩\u{200d}⚕\u{fe0f} Ann", "jo-ann"),
            ("王", "wang"),
        ] {
            assert_eq!(
                normalize_name_part("first", input).unwrap(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn a_name_with_nothing_usable_is_a_clear_error() {
        for input in ["", "   ", "'", "---", "!!!", "😀", "™"] {
            let e = normalize_name_part("last", input).unwrap_err();
            assert!(e.to_string().contains("the last name"), "{e}");
        }
    }
}
