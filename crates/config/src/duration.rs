//! Durations in the config are written the friendly way (`365d`, `15m`, `24h`, `1w`), parsed
//! with jiff, with a day counted as 24 hours.

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration: write e.g. 30s, 15m, 24h, 365d");
    let span: jiff::Span = text.trim().parse().map_err(|_| bad())?;
    let secs = span
        .total(jiff::SpanTotal::from(jiff::Unit::Second).days_are_24_hours())
        .map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration as the config file writes it: `365d`, `12h`, `15m`, `0s`.
pub fn duration_text(d: Duration) -> String {
    match d.as_secs() {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_durations_parse() {
        assert_eq!(
            parse_duration("365d").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(
            parse_duration("1w").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn durations_print_as_written() {
        for t in ["365d", "12h", "15m", "90s", "0s"] {
            assert_eq!(duration_text(parse_duration(t).unwrap()), t);
        }
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(parse_duration("a year").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5d").is_err());
    }
}
