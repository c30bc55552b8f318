//! MTA-STS (RFC 8461): the policy file a domain serves at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, read into a value, and the rule that says
//! whether an MX host is one the policy allows. mail-auth parses the `_mta-sts` TXT record but
//! not the policy file, and no well-kept crate does; the format is a handful of `key: value`
//! lines (section 3.2), so it is read here, strictly: a policy that does not parse is treated
//! as no policy by the caller, as the RFC says (section 5).

/// What the domain asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsMode {
    /// Deliver only to a listed MX over TLS with a certificate valid for its name.
    Enforce,
    /// Report failures (TLS-RPT) but deliver anyway.
    Testing,
    /// The domain has withdrawn its policy.
    None,
}

impl StsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StsMode::Enforce => "enforce",
            StsMode::Testing => "testing",
            StsMode::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<StsMode> {
        match s {
            "enforce" => Some(StsMode::Enforce),
            "testing" => Some(StsMode::Testing),
            "none" => Some(StsMode::None),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicy {
    pub mode: StsMode,
    /// MX patterns: `mx.example.org` or `*.example.org` (one leftmost label), lower case.
    pub mx: Vec<String>,
    /// Seconds the policy may be cached, at most a year (section 3.2).
    pub max_age: u64,
}

/// The largest `max_age` a policy may give: 31557600 seconds (section 3.2).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

impl StsPolicy {
    /// Reads a policy file. Unknown keys are ignored (section 3.2); a missing or wrong
    /// `version`, `mode` or `max_age`, or `enforce`/`testing` without an `mx`, is an error.
    pub fn parse(text: &str) -> Result<StsPolicy, String> {
        let (mut version, mut mode, mut max_age) = (None, None, None);
        let mut mx = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!("the line '{line}' is not 'key: value'"));
            };
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value.to_string()),
                "mode" => {
                    mode = Some(
                        StsMode::parse(value).ok_or_else(|| format!("unknown mode '{value}'"))?,
                    )
                }
                "max_age" => {
                    let n: u64 = value
                        .parse()
                        .ok()
                        .filter(|_| value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| format!("max_age '{value}' is not a number of seconds"))?;
                    max_age = Some(n.min(MAX_AGE_LIMIT));
                }
                "mx" => {
                    let pattern = value.trim_end_matches('.').to_ascii_lowercase();
                    if !valid_pattern(&pattern) {
                        return Err(format!("mx '{value}' is not a host name or *.domain"));
                    }
                    mx.push(pattern);
                }
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err("the policy's version is not STSv1".into());
        }
        let mode = mode.ok_or("the policy gives no mode")?;
        let max_age = max_age.ok_or("the policy gives no max_age")?;
        if mode != StsMode::None && mx.is_empty() {
            return Err("the policy lists no mx".into());
        }
        Ok(StsPolicy { mode, mx, max_age })
    }

    /// Whether `host` is an MX this policy allows (section 4.1): equal to a pattern, or one
    /// label followed by a `*.` pattern's rest.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
            None => *p == host,
        })
    }

    /// The policy as TLS-RPT reports it (RFC 8460 section 4.4: the policy's lines).
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![
            "version: STSv1".to_string(),
            format!("mode: {}", self.mode.as_str()),
        ];
        v.extend(self.mx.iter().map(|m| format!("mx: {m}")));
        v.push(format!("max_age: {}", self.max_age));
        v
    }
}

fn valid_pattern(p: &str) -> bool {
    let name = p.strip_prefix("*.").unwrap_or(p);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n\
        mx: *.example.net\r\nmax_age: 604800\r\n";

    #[test]
    fn a_policy_reads_and_matches_names_and_wildcards() {
        let p = StsPolicy::parse(GOOD).unwrap();
        assert_eq!(p.mode, StsMode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert!(p.allows("mail.example.com"));
        assert!(p.allows("MAIL.example.com."));
        assert!(p.allows("mx1.example.net"));
        // A wildcard stands for one label only, and never for the domain itself.
        assert!(!p.allows("a.b.example.net"));
        assert!(!p.allows("example.net"));
        assert!(!p.allows("evil-mail.example.com"));
        assert!(!p.allows("mail.example.com.evil"));
    }

    #[test]
    fn a_broken_policy_is_an_error() {
        for bad in [
            "",
            "version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1",
            "version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1",
            "version: STSv1\nmode: enforce\nmax_age: 1",
            "version: STSv1\nmode: enforce\nmx: a.b",
            "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1",
            "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 99999999999999999999",
            "version: STSv1\nmode: enforce\nmx: a b\nmax_age: 1",
            "version: STSv1\nmode enforce",
        ] {
            assert!(StsPolicy::parse(bad).is_err(), "{bad:?}");
        }
        // `none` needs no mx; unknown keys are ignored; max_age is capped at a year.
        let p = StsPolicy::parse("version: STSv1\nmode: none\nmax_age: 999999999\nx: y").unwrap();
        assert_eq!((p.mode, p.max_age), (StsMode::None, MAX_AGE_LIMIT));
    }
}
