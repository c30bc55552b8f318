//! The policies an administrator may change while the server runs (password, lockout, MFA,
//! sessions): which keys, how a form's text becomes a value, and a config with changes applied
//! over it, checked by the same rules as the file. The keys that size the machine rather than
//! set a policy (argon2's cost, concurrent hashes) stay in the file.

use crate::raw::{RawLockout, RawMfa, RawPassword, RawSessions};
use crate::validate::Errors;
use crate::{Config, duration_text, parse_duration, security};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// How a key's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// A whole number.
    Number,
    /// `15m`, `12h`, `365d`.
    Duration,
    Bool,
    /// Names, written comma-separated in a form.
    List,
}

impl FieldKind {
    /// As serialized: `number`, `duration`, `bool`, `list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Number => "number",
            Dur => "duration",
            Bool => "bool",
            List => "list",
        }
    }
}

/// One key that can be changed while the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyField {
    pub section: &'static str,
    pub key: &'static str,
    pub kind: FieldKind,
    /// What it means, in a line.
    pub about: &'static str,
}

const fn field(
    section: &'static str,
    key: &'static str,
    kind: FieldKind,
    about: &'static str,
) -> PolicyField {
    PolicyField {
        section,
        key,
        kind,
        about,
    }
}

use FieldKind::{Bool, Duration as Dur, List, Number};

/// Every key that can be changed while the server runs, section by section.
pub const EDITABLE: &[PolicyField] = &[
    field(
        "password",
        "min_length",
        Number,
        "The shortest password allowed (at least 8).",
    ),
    field(
        "password",
        "max_length",
        Number,
        "The longest password allowed (at most 1024).",
    ),
    field(
        "password",
        "min_strength",
        Number,
        "The zxcvbn score a password must reach, 0 to 4.",
    ),
    field(
        "password",
        "history",
        Number,
        "How many earlier passwords may not be used again.",
    ),
    field(
        "password",
        "max_age",
        Dur,
        "Passwords expire after this long; 0s: never.",
    ),
    field(
        "password",
        "warn_before",
        Dur,
        "Warnings start this long before a password expires.",
    ),
    field(
        "password",
        "min_age",
        Dur,
        "A password may be changed again only after this long.",
    ),
    field(
        "password",
        "temporary_lifetime",
        Dur,
        "How long a reset's temporary password works.",
    ),
    field(
        "password",
        "revoke_app_passwords_on_change",
        Bool,
        "A new password also revokes the account's app passwords.",
    ),
    field(
        "lockout",
        "threshold",
        Number,
        "Consecutive failures that lock an account.",
    ),
    field(
        "lockout",
        "duration",
        Dur,
        "The first lock; each further one doubles.",
    ),
    field("lockout", "max_duration", Dur, "The longest a lock lasts."),
    field(
        "lockout",
        "source_threshold",
        Number,
        "Failures from one network, over any accounts, after which it is slowed down.",
    ),
    field(
        "lockout",
        "source_window",
        Dur,
        "The window those failures are counted in.",
    ),
    field(
        "mfa",
        "required_roles",
        List,
        "Roles whose holders must use a second factor.",
    ),
    field(
        "mfa",
        "required_categories",
        List,
        "Role categories (clinician, ...) that must use a second factor.",
    ),
    field(
        "mfa",
        "required_departments",
        List,
        "Departments whose people must use a second factor (by name; not those within them).",
    ),
    field(
        "mfa",
        "grace",
        Dur,
        "How long a newly required account may still sign in without one.",
    ),
    field(
        "sessions",
        "idle_timeout",
        Dur,
        "A web session unused this long ends.",
    ),
    field(
        "sessions",
        "absolute_timeout",
        Dur,
        "A web session ends this long after sign-in.",
    ),
    field(
        "sessions",
        "step_up",
        Dur,
        "How recent a proof of the second factor must be for a sensitive change.",
    ),
];

/// The sections that can be changed, in the order they are shown.
pub const SECTIONS: [&str; 4] = ["password", "lockout", "mfa", "sessions"];

/// The form's text for a key as a value: a number, a duration, `true`/`false`, or a
/// comma-separated list. Empty text is `null`: back to the file's value.
pub fn parse_field(f: &PolicyField, text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    let name = format!("{}.{}", f.section, f.key);
    match f.kind {
        Number => t
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| format!("{name}: '{t}' is not a whole number")),
        Dur => parse_duration(t)
            .map(|_| Value::from(t))
            .map_err(|e| format!("{name}: {e}")),
        Bool => match t {
            "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("{name}: yes or no")),
        },
        List => Ok(Value::from(
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )),
    }
}

/// A value as a form or a terminal shows it: lists comma-separated, text unquoted.
pub fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(field_text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

impl Config {
    /// Every key of a policy section with its value in force, as the config file writes it;
    /// `None` for a section that cannot be changed here.
    pub fn policy_values(&self, section: &str) -> Option<Map<String, Value>> {
        let d = duration_text;
        let v = match section {
            "password" => {
                let p = &self.password;
                json!({
                    "min_length": p.min_length, "max_length": p.max_length,
                    "min_strength": p.min_strength, "history": p.history,
                    "max_age": d(p.max_age.unwrap_or_default()),
                    "warn_before": d(p.warn_before), "min_age": d(p.min_age),
                    "temporary_lifetime": d(p.temporary_lifetime),
                    "argon2_memory_kib": p.argon2_memory_kib,
                    "argon2_iterations": p.argon2_iterations,
                    "argon2_parallelism": p.argon2_parallelism,
                    "max_concurrent_hashes": p.max_concurrent_hashes,
                    "revoke_app_passwords_on_change": p.revoke_app_passwords_on_change,
                })
            }
            "lockout" => {
                let l = &self.lockout;
                json!({
                    "threshold": l.threshold, "duration": d(l.duration),
                    "max_duration": d(l.max_duration), "source_threshold": l.source_threshold,
                    "source_window": d(l.source_window),
                    "trusted_networks": l.trusted_networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "trusted_source_threshold": l.trusted_source_threshold,
                    "helpdesk_unlocks_role_holders": l.helpdesk_unlocks_role_holders,
                })
            }
            "mfa" => {
                let m = &self.mfa;
                json!({
                    "required_roles": m.required_roles,
                    "required_categories": m.required_categories,
                    "required_departments": m.required_departments,
                    "grace": d(m.grace),
                })
            }
            "sessions" => {
                let s = &self.sessions;
                json!({
                    "idle_timeout": d(s.idle_timeout),
                    "absolute_timeout": d(s.absolute_timeout),
                    "step_up": d(s.step_up),
                })
            }
            _ => return None,
        };
        match v {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// This config with `changes` (keys of one section, valued as the file writes them) set
    /// over it, checked by the rules the file is checked by. Every problem is reported.
    pub fn with_policy(
        &self,
        section: &str,
        changes: &Map<String, Value>,
    ) -> Result<Config, Vec<String>> {
        let Some(mut values) = self.policy_values(section) else {
            return Err(vec![format!(
                "{section}: not a policy (password, lockout, mfa, sessions)"
            )]);
        };
        let mut errs = Errors::default();
        for (key, value) in changes {
            match EDITABLE
                .iter()
                .find(|f| f.section == section && f.key == key)
            {
                None if values.contains_key(key) => errs.push(&format!(
                    "{section}.{key}: sizes the server; set it in the config file"
                )),
                None => errs.push(&format!("{section}.{key}: no such policy")),
                Some(f) if !fits(f.kind, value) => errs.push(&format!(
                    "{section}.{key}: {}",
                    match f.kind {
                        Number => "a whole number",
                        Dur => "a duration such as 15m, 12h or 365d",
                        Bool => "true or false",
                        List => "a list of names",
                    }
                )),
                Some(_) => {
                    values.insert(key.clone(), value.clone());
                }
            }
        }
        let mut c = self.clone();
        let values = Value::Object(values);
        let bounded = changes.keys().map(String::as_str).collect::<Vec<_>>();
        match section {
            "password" => {
                c.password = security::password(&mut errs, raw::<RawPassword>(section, values)?)
            }
            "lockout" => {
                c.lockout = security::lockout(&mut errs, raw::<RawLockout>(section, values)?)
            }
            "mfa" => {
                c.mfa = security::mfa(&mut errs, raw::<RawMfa>(section, values)?, &self.categories)
            }
            _ => c.sessions = security::sessions(&mut errs, raw::<RawSessions>(section, values)?),
        }
        if errs.is_empty() {
            for key in bounded {
                if let Some(e) = runtime_bound(section, key, &c, self) {
                    errs.push(&format!("{section}.{key}: {e}"));
                }
            }
        }
        errs.into_result(c)
    }
}

const MIN: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

/// The bounds a value set at run time must keep, tighter than the file's: an administrator's
/// session (or token) in the wrong hands must not be able to switch the protections off. The
/// lists of who must use a second factor may grow here, never lose what the file names. What
/// lies outside is for the config file, which takes a server administrator. A key without a
/// bound here cannot be set at run time at all.
fn runtime_bound(section: &str, key: &str, c: &Config, file: &Config) -> Option<&'static str> {
    let secs = |d: std::time::Duration| d.as_secs();
    let within = |v: u64, lo: u64, hi: u64| (lo..=hi).contains(&v);
    let keeps = |now: &[String], must: &[String]| must.iter().all(|r| now.contains(r));
    let (p, l, m, s) = (&c.password, &c.lockout, &c.mfa, &c.sessions);
    let (ok, why) = match (section, key) {
        ("password", "min_length") => (p.min_length >= 8, "at least 8"),
        ("password", "max_length") => (p.max_length >= 64, "at least 64 when set here"),
        ("password", "min_strength") => (p.min_strength >= 2, "at least 2 when set here"),
        ("password", "history") => (
            within(p.history as u64, 1, 24),
            "from 1 to 24 when set here",
        ),
        ("password", "min_age") => (
            secs(p.min_age) <= DAY,
            "at most 1d when set here (a stolen password must be replaceable)",
        ),
        ("password", "max_age") => (
            p.max_age.is_none_or(|a| secs(a) >= 30 * DAY),
            "0s (never) or at least 30d when set here",
        ),
        ("password", "warn_before") => {
            (secs(p.warn_before) <= 30 * DAY, "at most 30d when set here")
        }
        ("password", "temporary_lifetime") => (
            within(secs(p.temporary_lifetime), HOUR, 7 * DAY),
            "from 1h to 7d when set here",
        ),
        ("password", "revoke_app_passwords_on_change") => (
            p.revoke_app_passwords_on_change,
            "only the config file may turn this off",
        ),
        ("lockout", "threshold") => (
            within(u64::from(l.threshold), 3, 20),
            "from 3 to 20 when set here",
        ),
        ("lockout", "duration") => (
            within(secs(l.duration), MIN, DAY),
            "from 1m to 24h when set here",
        ),
        // Also how long failures are remembered: a short one would let guesses go on forever
        // a few at a time.
        ("lockout", "max_duration") => (
            within(secs(l.max_duration), DAY, 7 * DAY),
            "from 1d to 7d when set here",
        ),
        ("lockout", "source_threshold") => (
            within(u64::from(l.source_threshold), 5, 1000),
            "from 5 to 1000 when set here",
        ),
        ("lockout", "source_window") => (
            within(secs(l.source_window), MIN, DAY),
            "from 1m to 24h when set here",
        ),
        ("mfa", "required_roles") => (
            keeps(&m.required_roles, &file.mfa.required_roles)
                && keeps(&m.required_roles, &["it-admin".into(), "helpdesk".into()]),
            "may add roles here, but must keep it-admin, helpdesk and those the config file names",
        ),
        ("mfa", "required_categories") => (
            keeps(&m.required_categories, &file.mfa.required_categories),
            "may add categories here, but must keep those the config file names",
        ),
        ("mfa", "required_departments") => (
            keeps(&m.required_departments, &file.mfa.required_departments),
            "may add departments here, but must keep those the config file names",
        ),
        ("mfa", "grace") => (secs(m.grace) <= 30 * DAY, "at most 30d when set here"),
        ("sessions", "idle_timeout") => (
            within(secs(s.idle_timeout), MIN, HOUR),
            "from 1m to 1h when set here",
        ),
        ("sessions", "absolute_timeout") => (
            within(secs(s.absolute_timeout), HOUR, DAY),
            "from 1h to 24h when set here",
        ),
        ("sessions", "step_up") => (
            within(secs(s.step_up), MIN, HOUR),
            "from 1m to 1h when set here",
        ),
        _ => (
            false,
            "has no bound for run time; set it in the config file",
        ),
    };
    (!ok).then_some(why)
}

fn fits(kind: FieldKind, v: &Value) -> bool {
    match kind {
        Number => v.is_u64(),
        Dur => v.as_str().is_some_and(|t| parse_duration(t).is_ok()),
        Bool => v.is_boolean(),
        List => v.as_array().is_some_and(|a| {
            a.iter()
                .all(|x| x.as_str().is_some_and(|s| !s.trim().is_empty()))
        }),
    }
}

fn raw<T: DeserializeOwned>(section: &str, v: Value) -> Result<T, Vec<String>> {
    serde_json::from_value(v).map_err(|e| vec![format!("{section}: {e}")])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::from_toml(crate::validate::tests::GOOD, Path::new("/")).unwrap()
    }

    fn changes(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_change_is_applied_and_the_rest_kept() {
        let c = config();
        let n = c
            .with_policy(
                "password",
                &changes(json!({"min_length": 14, "max_age": "0s"})),
            )
            .unwrap();
        assert_eq!(n.password.min_length, 14);
        assert_eq!(n.password.max_age, None);
        assert_eq!(n.password.history, c.password.history);
        assert_eq!(n.lockout, c.lockout);
        let n = c
            .with_policy(
                "mfa",
                &changes(json!({"required_roles": ["it-admin", "helpdesk", "supervisor"], "grace": "3d"})),
            )
            .unwrap();
        assert_eq!(n.mfa.required_roles, ["it-admin", "helpdesk", "supervisor"]);
        assert_eq!(n.mfa.grace.as_secs(), 3 * 86_400);
    }

    #[test]
    fn the_file_rules_hold_and_every_problem_is_said() {
        let c = config();
        let e = c
            .with_policy(
                "password",
                &changes(json!({"min_length": 4, "argon2_memory_kib": 8, "colour": 1})),
            )
            .unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e.iter().any(|m| m.contains("at least 8")));
        assert!(e.iter().any(|m| m.contains("config file")));
        assert!(e.iter().any(|m| m.contains("no such policy")));
        let e = c
            .with_policy(
                "sessions",
                &changes(json!({"idle_timeout": "1d", "absolute_timeout": "1h"})),
            )
            .unwrap_err();
        assert!(e[0].contains("absolute_timeout"), "{e:?}");
        let e = c
            .with_policy("mfa", &changes(json!({"required_roles": ["nobody"]})))
            .unwrap_err();
        assert!(e[0].contains("'nobody' is not a role"), "{e:?}");
        let e = c
            .with_policy("lockout", &changes(json!({"threshold": "five"})))
            .unwrap_err();
        assert!(e[0].contains("whole number"), "{e:?}");
        assert!(c.with_policy("mail", &Map::new()).is_err());
    }

    #[test]
    fn values_set_here_keep_within_bounds_the_file_need_not() {
        let c = config();
        for bad in [
            json!({"threshold": 1000}),
            json!({"duration": "0s", "max_duration": "0s"}),
        ] {
            let e = c.with_policy("lockout", &changes(bad.clone())).unwrap_err();
            assert!(e[0].contains("when set here"), "{bad}: {e:?}");
        }
        let e = c
            .with_policy("mfa", &changes(json!({"required_roles": ["helpdesk"]})))
            .unwrap_err();
        assert!(e[0].contains("it-admin"), "{e:?}");
        let e = c
            .with_policy(
                "sessions",
                &changes(json!({"idle_timeout": "365d", "absolute_timeout": "365d"})),
            )
            .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            c.with_policy(
                "password",
                &changes(json!({"revoke_app_passwords_on_change": false}))
            )
            .is_err()
        );
        // Keys not being changed are not held to them: a file may set what it likes.
        let file = c.with_policy("sessions", &Map::new()).unwrap();
        let mut wide = file.clone();
        wide.sessions.idle_timeout = std::time::Duration::from_secs(4 * 3600);
        wide.sessions.absolute_timeout = std::time::Duration::from_secs(48 * 3600);
        assert!(
            wide.with_policy("sessions", &changes(json!({"step_up": "10m"})))
                .is_ok()
        );
    }

    #[test]
    fn every_key_has_a_bound_and_the_defaults_keep_it() {
        let c = config();
        for f in EDITABLE {
            let now = c.policy_values(f.section).unwrap();
            let mut m = Map::new();
            m.insert(f.key.to_string(), now[f.key].clone());
            let r = c.with_policy(f.section, &m);
            assert!(r.is_ok(), "{}.{}: {r:?}", f.section, f.key);
        }
        // The lists may grow, not shrink below the file.
        let n = c
            .with_policy(
                "mfa",
                &changes(json!({"required_categories": ["clinician", "nurse"]})),
            )
            .unwrap();
        assert!(n.with_policy("mfa", &Map::new()).is_ok());
        let e = c
            .with_policy("mfa", &changes(json!({"required_categories": []})))
            .unwrap_err();
        assert!(e[0].contains("must keep"), "{e:?}");
        let e = c
            .with_policy(
                "lockout",
                &changes(json!({"duration": "1m", "max_duration": "1m"})),
            )
            .unwrap_err();
        assert!(e.iter().any(|m| m.contains("max_duration")), "{e:?}");
        let e = c
            .with_policy(
                "password",
                &changes(json!({"max_length": 8, "min_length": 8, "history": 0})),
            )
            .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn form_text_becomes_values() {
        let f = |k: &str| EDITABLE.iter().find(|f| f.key == k).unwrap();
        assert_eq!(parse_field(f("min_length"), " 14 ").unwrap(), json!(14));
        assert_eq!(parse_field(f("max_age"), "90d").unwrap(), json!("90d"));
        assert_eq!(parse_field(f("max_age"), "").unwrap(), Value::Null);
        assert!(parse_field(f("max_age"), "soon").is_err());
        assert_eq!(
            parse_field(f("required_roles"), "it-admin, helpdesk,").unwrap(),
            json!(["it-admin", "helpdesk"])
        );
        assert_eq!(
            parse_field(f("revoke_app_passwords_on_change"), "no").unwrap(),
            json!(false)
        );
    }
}
