//! The rules a new password must meet, each rejection naming its rule and how to fix it:
//! length, not containing the person's names, address or employee id, not on the list of
//! common and breached passwords, and strong enough by zxcvbn's estimate. Reuse of earlier
//! passwords and the minimum age need the store and are checked by the caller.

use super::common::{is_common_password, is_published_example};
use carepost_config::PasswordPolicy;
use std::fmt;

/// What a password may not contain.
#[derive(Debug, Clone, Default)]
pub struct PasswordContext {
    /// First, middle, last and preferred names.
    pub names: Vec<String>,
    pub address_local_part: String,
    pub employee_id: String,
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    ContainsPersonalInfo {
        what: &'static str,
    },
    Common,
    /// An example password carepost itself prints (README, pages): anyone may try it.
    Published,
    Weak {
        score: u8,
        min: u8,
        hint: String,
    },
    Reused {
        history: usize,
    },
    TooSoon {
        until: String,
    },
}

impl PolicyViolation {
    /// A stable name for the rule, for programs.
    pub fn rule(&self) -> &'static str {
        match self {
            PolicyViolation::TooShort { .. } => "min_length",
            PolicyViolation::TooLong { .. } => "max_length",
            PolicyViolation::ContainsPersonalInfo { .. } => "personal_info",
            PolicyViolation::Common => "common_password",
            PolicyViolation::Published => "published_example",
            PolicyViolation::Weak { .. } => "strength",
            PolicyViolation::Reused { .. } => "history",
            PolicyViolation::TooSoon { .. } => "min_age",
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyViolation::TooShort { min } => write!(
                f,
                "it is shorter than {min} characters: use a longer passphrase, such as four unrelated words"
            ),
            PolicyViolation::TooLong { max } => {
                write!(f, "it is longer than {max} characters: shorten it")
            }
            PolicyViolation::ContainsPersonalInfo { what } => {
                write!(f, "it contains your {what}: leave it out")
            }
            PolicyViolation::Common => write!(
                f,
                "it is on the list of common and breached passwords that attackers try first: choose another"
            ),
            PolicyViolation::Published => write!(
                f,
                "it is the example printed in carepost's own documentation, which anyone can read: choose your own"
            ),
            PolicyViolation::Weak { score, min, hint } => write!(
                f,
                "it is too easy to guess (strength {score} of 4, {min} needed): {hint}"
            ),
            PolicyViolation::Reused { history } => write!(
                f,
                "it is one of your last {history} passwords: choose one you have not used"
            ),
            PolicyViolation::TooSoon { until } => write!(
                f,
                "the password was changed too recently: it can be changed again from {until}"
            ),
        }
    }
}

/// Every rule `password` breaks, in the order above; empty when it is acceptable.
pub fn check_new_password(
    policy: &PasswordPolicy,
    password: &str,
    ctx: &PasswordContext,
) -> Vec<PolicyViolation> {
    let normalized = super::normalize(password);
    let password = normalized.as_str();
    let mut v = Vec::new();
    let len = password.chars().count();
    if len < policy.min_length {
        v.push(PolicyViolation::TooShort {
            min: policy.min_length,
        });
    }
    if len > policy.max_length {
        v.push(PolicyViolation::TooLong {
            max: policy.max_length,
        });
        return v;
    }
    if let Some(what) = personal_info(password, ctx) {
        v.push(PolicyViolation::ContainsPersonalInfo { what });
    }
    if is_common_password(password) {
        v.push(PolicyViolation::Common);
    }
    if is_published_example(password) {
        v.push(PolicyViolation::Published);
    }
    let inputs: Vec<&str> = ctx
        .names
        .iter()
        .map(String::as_str)
        .chain([ctx.address_local_part.as_str(), ctx.employee_id.as_str()])
        .filter(|s| !s.is_empty())
        .collect();
    let entropy = zxcvbn::zxcvbn(password, &inputs);
    let score = u8::from(entropy.score());
    if score < policy.min_strength {
        let hint = entropy
            .feedback()
            .and_then(|f| {
                f.warning()
                    .map(|w| w.to_string())
                    .or_else(|| f.suggestions().first().map(|s| s.to_string()))
            })
            .unwrap_or_else(|| "add more words or characters that do not follow a pattern".into());
        v.push(PolicyViolation::Weak {
            score,
            min: policy.min_strength,
            hint,
        });
    }
    v
}

/// Which personal detail a password contains, compared without case or accents.
fn personal_info(password: &str, ctx: &PasswordContext) -> Option<&'static str> {
    let folded = fold(password);
    let contains = |part: &str| {
        let part = fold(part);
        part.chars().count() >= 3 && folded.contains(&part)
    };
    if ctx
        .names
        .iter()
        .flat_map(|n| n.split([' ', '-']))
        .any(contains)
    {
        return Some("name");
    }
    let local = &ctx.address_local_part;
    if contains(local)
        || local
            .split(['.', '-', '_'])
            .any(|p| p.len() >= 4 && contains(p))
    {
        return Some("address");
    }
    if contains(&ctx.employee_id) {
        return Some("employee id");
    }
    None
}

fn fold(s: &str) -> String {
    deunicode::deunicode(s).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PasswordContext {
        PasswordContext {
            names: vec!["José".into(), "María".into(), "Núñez".into()],
            address_local_part: "jose.nunez".into(),
            employee_id: "E12345".into(),
        }
    }

    fn rules(password: &str) -> Vec<&'static str> {
        check_new_password(&PasswordPolicy::default(), password, &ctx())
            .iter()
            .map(PolicyViolation::rule)
            .collect()
    }

    #[test]
    fn a_long_unpredictable_passphrase_passes() {
        assert!(rules("glacier violin tundra 57 orbit").is_empty());
    }

    #[test]
    fn each_rule_is_named_when_it_fails() {
        assert!(rules("Sh0rt!").contains(&"min_length"));
        assert!(rules(&"x".repeat(129)).contains(&"max_length"));
        assert!(rules("NUNEZ-glacier-violin-7").contains(&"personal_info"));
        assert!(rules("glacier-e12345-violin").contains(&"personal_info"));
        assert!(rules("iloveyou1234").contains(&"common_password"));
        assert!(rules("aaaaaaaaaaaaaaaa").contains(&"strength"));
    }

    #[test]
    fn messages_say_how_to_fix() {
        let v = check_new_password(&PasswordPolicy::default(), "password1234", &ctx());
        let text: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.contains("breached")), "{text:?}");
        assert!(
            text.iter().any(|t| t.contains("too easy to guess")),
            "{text:?}"
        );
    }
}
