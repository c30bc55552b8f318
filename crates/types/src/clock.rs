//! Time as integer milliseconds since the Unix epoch, and the `Clock` trait that hands it out.
//! Code that needs "now" takes a `Clock`, so that lockout windows, quarantines and expiries can
//! be tested by moving a `ManualClock` instead of sleeping.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since 1970-01-01T00:00:00Z, the one time representation in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// This instant moved forward by `d`, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> UnixMillis {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        UnixMillis(self.0.saturating_add(ms))
    }

    /// RFC 3339 text in UTC with millisecond precision, e.g. `2026-11-25T15:20:06.123Z`.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => format!("{ts:.3}"),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// The UTC day this instant falls in, `2026-11-25`: the key of daily tallies.
    pub fn day_utc(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => ts.strftime("%Y-%m-%d").to_string(),
            Err(_) => "1970-01-01".to_string(),
        }
    }

    /// The time in words, in UTC with the zone named (`7 Dec 2026, 15:20 UTC`): what a page
    /// shows until its script puts the viewer's own zone in its place.
    pub fn to_words_utc(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => ts.strftime("%-d %b %Y, %H:%M UTC").to_string(),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// Parses RFC 3339 (`2026-11-25T10:00:00Z`, offsets allowed) or a bare UTC date
    /// (`2026-11-25`, meaning its midnight).
    pub fn parse(text: &str) -> Result<UnixMillis, String> {
        let text = text.trim();
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Ok(UnixMillis(ts.as_millisecond()));
        }
        if let Ok(date) = text.parse::<jiff::civil::Date>()
            && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
        {
            return Ok(UnixMillis(zoned.timestamp().as_millisecond()));
        }
        Err(format!(
            "'{text}' is not a time: use RFC 3339 (2026-11-25T10:00:00Z) or a date (2026-11-25)"
        ))
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The source of "now" for everything in carepost.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> UnixMillis;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the wall clock.
    fn now(&self) -> UnixMillis {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: UnixMillis) -> ManualClock {
        ManualClock(AtomicI64::new(start.0))
    }

    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set(&self, t: UnixMillis) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_in_words_names_its_zone() {
        let t = UnixMillis::parse("2026-12-07T05:03:06Z").unwrap();
        assert_eq!(t.to_words_utc(), "7 Dec 2026, 05:03 UTC");
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = UnixMillis::parse("2026-11-25T15:20:06.123Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T15:20:06.123Z");
        assert_eq!(UnixMillis::parse(&t.to_rfc3339()).unwrap(), t);
    }

    #[test]
    fn bare_date_is_midnight_utc() {
        let t = UnixMillis::parse("2026-11-25").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T00:00:00.000Z");
    }

    #[test]
    fn garbage_is_an_error_that_says_what_to_type() {
        let e = UnixMillis::parse("yesterday").unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(UnixMillis(1000));
        assert_eq!(c.now(), UnixMillis(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), UnixMillis(3000));
    }
}
