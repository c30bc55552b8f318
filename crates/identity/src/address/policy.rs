//! The address policy: the template applied to a normalised name, then, while the result is
//! taken, reserved or quarantined, the same with the middle initial (`john.a.smith`), then with
//! a numeric suffix from 2 (`john.smith2`). Local parts are cut to RFC 5321's 64 octets
//! deterministically, keeping room for the suffix.
//!
//! The policy only proposes candidates in order; the store decides which one is free, in the
//! same statement that takes it.

use super::normalize::{NameError, normalize_name_part};
use crate::PersonName;
use carepost_config::{AddressTemplate, Config, NameSource, Token};
use carepost_types::{Address, Domain, LocalPart};
use std::collections::HashSet;

/// Numeric suffixes tried before giving up on a name.
const MAX_SUFFIX: u32 = 100_000;
const MAX_LOCAL: usize = carepost_types::email::MAX_LOCAL_PART_LEN;

#[derive(Debug, Clone)]
pub struct AddressPolicy {
    template: AddressTemplate,
    /// For a person with one legal name (see `PersonName::single`).
    mononym_template: AddressTemplate,
    reserved: HashSet<String>,
    domain: Domain,
    name_source: NameSource,
}

/// A name's parts as they go into an address.
struct Parts {
    first: String,
    middle_initial: Option<String>,
    /// Empty for a single name, whose template uses `{name}` (the `first` here) only.
    last: String,
}

impl AddressPolicy {
    pub fn from_config(c: &Config) -> AddressPolicy {
        AddressPolicy {
            template: c.address.template.clone(),
            mononym_template: c.address.mononym_template.clone(),
            reserved: c.address.reserved.iter().cloned().collect(),
            domain: c.organization.domain.clone(),
            name_source: c.address.name_source,
        }
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    pub fn is_reserved(&self, local: &str) -> bool {
        self.reserved.contains(&local.to_ascii_lowercase())
    }

    fn parts(&self, name: &PersonName) -> Result<Parts, NameError> {
        let first = match (self.name_source, &name.preferred) {
            (NameSource::Preferred, Some(p)) => normalize_name_part("preferred first", p)?,
            _ => normalize_name_part("first", &name.first)?,
        };
        if name.is_single() {
            return Ok(Parts {
                first,
                middle_initial: None,
                last: String::new(),
            });
        }
        let middle_initial = match &name.middle {
            Some(m) => normalize_name_part("middle", m)?
                .get(..1)
                .map(str::to_string),
            None => None,
        };
        Ok(Parts {
            first,
            middle_initial,
            last: normalize_name_part("last", &name.last)?,
        })
    }

    fn render(&self, p: &Parts, with_middle: bool) -> String {
        let template = match p.last.is_empty() {
            true => &self.mononym_template,
            false => &self.template,
        };
        let tokens = template.tokens();
        let first_at = tokens
            .iter()
            .position(|t| matches!(t, Token::First | Token::FirstInitial));
        let mut out = String::new();
        for (i, t) in tokens.iter().enumerate() {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::First | Token::Name => out.push_str(&p.first),
                Token::FirstInitial => out.push_str(&p.first[..1]),
                Token::Last => out.push_str(&p.last),
                Token::LastInitial => out.push_str(&p.last[..1]),
            }
            let Some(m) = p.middle_initial.as_deref().filter(|_| with_middle) else {
                continue;
            };
            // The middle initial goes after the first name, with the separator the template
            // puts after (or, at the end of the template, before) the first name.
            let next = tokens.get(i + 1);
            let prev = i.checked_sub(1).and_then(|j| tokens.get(j));
            match (Some(i) == first_at, next, prev) {
                (true, Some(Token::Literal(_)), _) => {}
                (true, None, Some(Token::Literal(sep))) => {
                    out.push_str(sep);
                    out.push_str(m);
                }
                (true, _, _) => out.push_str(m),
                (false, _, _) if first_at.map(|f| f + 1) == Some(i) => {
                    if let Token::Literal(sep) = t {
                        out.push_str(m);
                        out.push_str(sep);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The local parts to try for `name`, in order, reserved ones left out.
    pub fn candidates(
        &self,
        name: &PersonName,
    ) -> Result<impl Iterator<Item = LocalPart> + '_, NameError> {
        let parts = self.parts(name)?;
        let base = self.render(&parts, false);
        let with_middle = parts
            .middle_initial
            .is_some()
            .then(|| self.render(&parts, true));
        let plain = [Some(fit(&base, "")), with_middle.map(|m| fit(&m, ""))];
        let suffixed = (2..=MAX_SUFFIX).map(move |n| Some(fit(&base, &n.to_string())));
        Ok(plain
            .into_iter()
            .chain(suffixed)
            .flatten()
            .filter_map(|l| LocalPart::parse(&l).ok())
            .filter(|l| !self.is_reserved(l.as_str())))
    }

    /// The first candidate, whether free or not: what the name "should" be.
    pub fn preferred_local_part(&self, name: &PersonName) -> Result<Option<LocalPart>, NameError> {
        Ok(self.candidates(name)?.next())
    }

    pub fn address(&self, local: LocalPart) -> Address {
        Address::new(local, self.domain.clone())
    }
}

/// `base` followed by `suffix`, with `base` cut so the whole stays within 64 octets and does
/// not end in a separator.
fn fit(base: &str, suffix: &str) -> String {
    let room = MAX_LOCAL - suffix.len();
    let cut = if base.len() > room {
        &base[..room]
    } else {
        base
    };
    let cut = cut.trim_end_matches(['.', '-', '_']);
    format!("{cut}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(template: &str, name_source: NameSource) -> AddressPolicy {
        AddressPolicy {
            template: AddressTemplate::parse(template).unwrap(),
            mononym_template: AddressTemplate::mononym_default(),
            reserved: carepost_config::BUILTIN_RESERVED
                .iter()
                .map(|s| s.to_string())
                .collect(),
            domain: Domain::parse("kaiser.org").unwrap(),
            name_source,
        }
    }

    fn name(first: &str, middle: Option<&str>, last: &str) -> PersonName {
        PersonName {
            first: first.into(),
            middle: middle.map(Into::into),
            last: last.into(),
            preferred: None,
        }
    }

    fn first_n(p: &AddressPolicy, n: &PersonName, count: usize) -> Vec<String> {
        p.candidates(n)
            .unwrap()
            .take(count)
            .map(|l| l.as_str().to_string())
            .collect()
    }

    #[test]
    fn templates_render_as_documented() {
        let john = name("John", Some("Allen"), "Smith");
        for (template, want) in [
            (
                "{first}.{last}",
                ["john.smith", "john.a.smith", "john.smith2"],
            ),
            ("{f}{last}", ["jsmith", "jasmith", "jsmith2"]),
            ("{first}{l}", ["johns", "johnas", "johns2"]),
            (
                "{first}_{last}",
                ["john_smith", "john_a_smith", "john_smith2"],
            ),
            (
                "{last}.{first}",
                ["smith.john", "smith.john.a", "smith.john2"],
            ),
        ] {
            let p = policy(template, NameSource::Legal);
            assert_eq!(first_n(&p, &john, 3), want, "{template}");
        }
    }

    #[test]
    fn without_a_middle_name_the_suffix_follows_the_template() {
        let p = policy("{first}.{last}", NameSource::Legal);
        assert_eq!(
            first_n(&p, &name("John", None, "Smith"), 4),
            ["john.smith", "john.smith2", "john.smith3", "john.smith4"]
        );
    }

    #[test]
    fn the_examples_of_the_policy_hold() {
        let p = policy("{first}.{last}", NameSource::Legal);
        for (first, last, want) in [
            ("José", "Núñez", "jose.nunez"),
            ("Zoë", "Ångström", "zoe.angstrom"),
            ("Łukasz", "Żółć", "lukasz.zolc"),
            ("Siobhan", "O'Connor", "siobhan.oconnor"),
            ("Mary-Jane", "Watson", "mary-jane.watson"),
            ("Juan", "de la Cruz", "juan.de-la-cruz"),
        ] {
            assert_eq!(first_n(&p, &name(first, None, last), 1), [want]);
        }
    }

    #[test]
    fn the_preferred_name_is_used_when_the_policy_says_so() {
        let mut n = name("Jonathan", None, "Smith");
        n.preferred = Some("Jack".into());
        let legal = policy("{first}.{last}", NameSource::Legal);
        let preferred = policy("{first}.{last}", NameSource::Preferred);
        assert_eq!(first_n(&legal, &n, 1), ["jonathan.smith"]);
        assert_eq!(first_n(&preferred, &n, 1), ["jack.smith"]);
    }

    #[test]
    fn reserved_local_parts_are_never_proposed() {
        let p = policy("{first}{l}", NameSource::Legal);
        // "Admi N" would render as "admin".
        let got = first_n(&p, &name("Admi", None, "N"), 2);
        assert_eq!(got, ["admin2", "admin3"]);
        let p = policy("{f}{last}", NameSource::Legal);
        assert_eq!(first_n(&p, &name("Robert", None, "Oot"), 1), ["root2"]);
    }

    #[test]
    fn long_names_are_cut_to_64_octets_deterministically() {
        let p = policy("{first}.{last}", NameSource::Legal);
        let n = name(&"a".repeat(40), None, &"b".repeat(40));
        let got = first_n(&p, &n, 3);
        assert_eq!(got[0].len(), 64);
        assert_eq!(got[0], format!("{}.{}", "a".repeat(40), "b".repeat(23)));
        assert_eq!(got[1], format!("{}.{}2", "a".repeat(40), "b".repeat(22)));
        assert!(got.iter().all(|l| l.len() <= 64));
        assert_eq!(got, first_n(&p, &n, 3));
        // A cut that lands on a separator drops it.
        let n = name(&"a".repeat(63), None, "Smith");
        assert_eq!(first_n(&p, &n, 1)[0], "a".repeat(63));
    }

    #[test]
    fn a_single_name_uses_its_own_template_and_the_same_collision_rules() {
        let mut p = policy("{first}.{last}", NameSource::Legal);
        let n = PersonName::single("Suharto", None).unwrap();
        assert_eq!(first_n(&p, &n, 3), ["suharto", "suharto2", "suharto3"]);
        // Reserved names are skipped like any other.
        let admin = PersonName::single("Admin", None).unwrap();
        assert_eq!(first_n(&p, &admin, 1), ["admin2"]);
        p.mononym_template = AddressTemplate::parse_mononym("{name}.{name}").unwrap();
        assert_eq!(first_n(&p, &n, 2), ["suharto.suharto", "suharto.suharto2"]);
    }

    #[test]
    fn a_name_that_yields_nothing_is_an_error() {
        let p = policy("{first}.{last}", NameSource::Legal);
        let e = p.candidates(&name("!!", None, "Smith")).err().unwrap();
        assert!(e.to_string().contains("first name '!!'"), "{e}");
    }
}
