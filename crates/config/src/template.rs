//! The address template: `{first}.{last}` and its relatives, parsed once when the config is
//! validated so that a typo is a config error, not a surprise at the first account creation.

use std::fmt;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    /// `{first}`: the whole first name.
    First,
    /// `{f}`: its initial.
    FirstInitial,
    /// `{last}`: the whole last name.
    Last,
    /// `{l}`: its initial.
    LastInitial,
    /// `{name}`: the one name of a person who has a single legal name (a mononym), in
    /// `address.mononym_template` only.
    Name,
}

/// A parsed local-part template such as `{first}.{last}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTemplate {
    text: String,
    tokens: Vec<Token>,
}

impl AddressTemplate {
    /// Parses a template. `@{domain}` at the end is accepted and ignored: the domain is the
    /// organization's.
    pub fn parse(text: &str) -> Result<AddressTemplate, String> {
        let t = Self::parse_with(text, false)?;
        let has = |a: &Token, b: &Token| t.tokens.iter().any(|t| t == a || t == b);
        if !has(&Token::First, &Token::FirstInitial) || !has(&Token::Last, &Token::LastInitial) {
            return Err(format!(
                "'{text}': a template needs the first name ({{first}} or {{f}}) and the last name ({{last}} or {{l}})"
            ));
        }
        Ok(t)
    }

    /// Parses the template for people with one legal name: `{name}`, alone or repeated with
    /// separators (`{name}.{name}`, for systems elsewhere that expect two parts).
    pub fn parse_mononym(text: &str) -> Result<AddressTemplate, String> {
        Self::parse_with(text, true)
    }

    /// The default mononym template, `{name}`.
    pub fn mononym_default() -> AddressTemplate {
        AddressTemplate {
            text: "{name}".to_string(),
            tokens: vec![Token::Name],
        }
    }

    fn parse_with(text: &str, mononym: bool) -> Result<AddressTemplate, String> {
        let body = text.trim().trim_end_matches("@{domain}");
        let mut tokens = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("'{text}': a '{{' is not closed"))?;
                tokens.push(match (&after[..end], mononym) {
                    ("first", false) => Token::First,
                    ("f", false) => Token::FirstInitial,
                    ("last", false) => Token::Last,
                    ("l", false) => Token::LastInitial,
                    ("name", true) => Token::Name,
                    (other, true) => {
                        return Err(format!(
                            "'{text}': unknown placeholder {{{other}}}; a single-name template uses {{name}}"
                        ));
                    }
                    (other, false) => {
                        return Err(format!(
                            "'{text}': unknown placeholder {{{other}}}; use {{first}}, {{f}}, {{last}}, {{l}}"
                        ));
                    }
                });
                rest = &after[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let lit = &rest[..end];
                if !lit.chars().all(|c| matches!(c, '.' | '-' | '_')) {
                    return Err(format!(
                        "'{text}': between placeholders only '.', '-' and '_' may appear, not '{lit}'"
                    ));
                }
                tokens.push(Token::Literal(lit.to_string()));
                rest = &rest[end..];
            }
        }
        let literal_at = |t: Option<&Token>| matches!(t, Some(Token::Literal(_)));
        if literal_at(tokens.first()) || literal_at(tokens.last()) {
            return Err(format!(
                "'{text}': a template must start and end with a placeholder, not a separator"
            ));
        }
        if tokens
            .iter()
            .any(|t| matches!(t, Token::Literal(l) if l.contains("..")))
        {
            return Err(format!("'{text}': '..' is not allowed in an address"));
        }
        if tokens.is_empty() {
            return Err(format!("'{text}': a template needs a placeholder"));
        }
        Ok(AddressTemplate {
            text: text.trim().to_string(),
            tokens,
        })
    }

    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }
}

impl Default for AddressTemplate {
    fn default() -> Self {
        AddressTemplate {
            text: "{first}.{last}".to_string(),
            tokens: vec![Token::First, Token::Literal(".".into()), Token::Last],
        }
    }
}

impl fmt::Display for AddressTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_templates_parse() {
        for t in [
            "{first}.{last}",
            "{f}{last}",
            "{first}{l}",
            "{first}_{last}",
            "{last}.{first}",
            "{first}.{last}@{domain}",
        ] {
            AddressTemplate::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        }
        assert_eq!(
            AddressTemplate::parse("{first}.{last}").unwrap(),
            AddressTemplate::default()
        );
    }

    #[test]
    fn bad_templates_say_why() {
        for (t, want) in [
            ("{first}.{nick}", "unknown placeholder {nick}"),
            ("{first}", "needs the first name"),
            ("{first}+{last}", "only '.', '-' and '_'"),
            ("{first.{last}", "unknown placeholder"),
            ("{first}.{last", "not closed"),
            (".{first}.{last}", "start and end with a placeholder"),
            ("{first}.{last}_", "start and end with a placeholder"),
            ("{first}..{last}", "'..' is not allowed"),
            ("{name}", "unknown placeholder {name}"),
        ] {
            let e = AddressTemplate::parse(t).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        }
    }

    #[test]
    fn mononym_templates_use_name_only() {
        assert_eq!(
            AddressTemplate::parse_mononym("{name}").unwrap(),
            AddressTemplate::mononym_default()
        );
        assert_eq!(
            AddressTemplate::parse_mononym("{name}.{name}")
                .unwrap()
                .tokens()
                .len(),
            3
        );
        for (t, want) in [
            ("{first}", "a single-name template uses {name}"),
            ("", "needs a placeholder"),
            ("{name}.", "start and end with a placeholder"),
        ] {
            let e = AddressTemplate::parse_mononym(t).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        }
    }
}
