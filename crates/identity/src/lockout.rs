//! Lockout that attackers cannot turn against staff. Consecutive failures are counted per
//! account and per kind of source: networks the account has signed in from before (familiar)
//! and all others (unfamiliar). A password spray from unknown addresses therefore locks the
//! unfamiliar side only, while the clinician at the usual workstation still signs in. Each lock
//! lasts twice the one before, up to the maximum; a success resets its side. On top, a source
//! network where many logins fail (many accounts, or names that are no account) is paused for
//! accounts that do not know it. A login that then succeeds from there is forgiven, so a busy
//! ward computer where staff mistype and then get it right is not taken for a spray; a
//! correct password with a second factor, and app passwords, always get through.

use carepost_config::LockoutPolicy;
use carepost_store::LockoutRow;
use carepost_types::UnixMillis;
use std::net::IpAddr;
use std::time::Duration;

/// The network a source address belongs to, as lockout sees it: the /24 of an IPv4 address,
/// the /64 of an IPv6 one (a workstation keeps its network when DHCP moves it), `local` for
/// sign-ins without a network source.
pub fn network_of(source: Option<IpAddr>) -> String {
    match source.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "local".to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Familiar,
    Unfamiliar,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Familiar => "familiar",
            SourceKind::Unfamiliar => "unfamiliar",
        }
    }
}

/// Whether a lockout row holds the account locked at `now`.
pub fn is_locked(row: &LockoutRow, now: UnixMillis) -> bool {
    row.locked_until.is_some_and(|t| t > now)
}

/// The row after one more failure at `now`, and the lock it starts, if any.
pub fn after_failure(
    policy: &LockoutPolicy,
    mut row: LockoutRow,
    now: UnixMillis,
) -> (LockoutRow, Option<Duration>) {
    // A quiet day forgets earlier locks, so the backoff is about one attack, not a career.
    if row
        .last_failure_at
        .is_some_and(|t| now.0 - t.0 > millis(policy.max_duration))
    {
        row.locks = 0;
        row.failures = 0;
    }
    row.failures += 1;
    row.last_failure_at = Some(now);
    if row.failures < i64::from(policy.threshold) {
        return (row, None);
    }
    let doubling = u32::try_from(row.locks).unwrap_or(u32::MAX).min(20);
    let length = policy
        .duration
        .saturating_mul(1u32 << doubling)
        .min(policy.max_duration);
    // Each lock gets its own few authenticator codes for self-unlock, but a lock renewed
    // while it still holds keeps the count: failures made during a lock must not buy new
    // guesses at the code.
    if !is_locked(&row, now) {
        row.unlock_tries = 0;
    }
    row.locked_until = Some(now.plus(length));
    row.locks += 1;
    row.failures = 0;
    (row, Some(length))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When a network's pause ends, from the last failure times of its failing logins (newest
/// first, as many as the threshold at most): a pause holds while `threshold` logins failed
/// within the window with no success since, so it ends when the oldest of the newest
/// `threshold` leaves the window. None: not paused.
pub fn pause_until(
    policy: &LockoutPolicy,
    threshold: u32,
    newest_failures: &[UnixMillis],
) -> Option<UnixMillis> {
    let t = usize::try_from(threshold).ok()?.max(1);
    newest_failures
        .get(t - 1)
        .map(|oldest| oldest.plus(policy.source_window))
}

/// Whole minutes from `now` to `until`, at least one (for "paused for N more minutes").
pub fn minutes_until(now: UnixMillis, until: UnixMillis) -> u64 {
    let ms = u64::try_from(until.0 - now.0).unwrap_or(0);
    ms.div_ceil(60_000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn five_failures_lock_for_fifteen_minutes_then_thirty_then_up_to_a_day() {
        let p = LockoutPolicy::default();
        let mut row = LockoutRow::default();
        let mut now = UnixMillis(0);
        let mut locks = Vec::new();
        for _ in 0..40 {
            now = now.plus(Duration::from_secs(1));
            let (next, lock) = after_failure(&p, row, now);
            row = next;
            if let Some(l) = lock {
                locks.push(l);
            }
        }
        assert_eq!(locks.len(), 8);
        assert_eq!(locks[0], 15 * MIN);
        assert_eq!(locks[1], 30 * MIN);
        assert_eq!(locks[2], 60 * MIN);
        assert_eq!(locks[7], 24 * 60 * MIN, "capped at the maximum");
        assert!(is_locked(&row, now));
    }

    #[test]
    fn a_quiet_day_forgets_the_backoff() {
        let p = LockoutPolicy::default();
        let mut row = LockoutRow::default();
        for i in 0..5 {
            row = after_failure(&p, row, UnixMillis(i)).0;
        }
        assert_eq!(row.locks, 1);
        let later = UnixMillis(2 * 86_400_000);
        let (row, lock) = after_failure(&p, row, later);
        assert_eq!((row.locks, row.failures, lock), (0, 1, None));
    }

    #[test]
    fn networks_group_nearby_addresses() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(network_of(Some(v4)), "10.1.2.0/24");
        let mapped: IpAddr = "::ffff:10.1.2.99".parse().unwrap();
        assert_eq!(network_of(Some(mapped)), "10.1.2.0/24");
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(network_of(Some(v6)), "2001:db8:1:2::/64");
        assert_eq!(network_of(None), "local");
    }

    #[test]
    fn a_network_pauses_at_the_threshold_until_the_oldest_counted_failure_leaves_the_window() {
        let p = LockoutPolicy::default();
        let min = |m: i64| UnixMillis(m * 60_000);
        let times: Vec<UnixMillis> = (0..19).rev().map(min).collect();
        assert_eq!(
            pause_until(&p, 20, &times),
            None,
            "19 logins are not a spray"
        );
        let times: Vec<UnixMillis> = (0..20).rev().map(min).collect();
        assert_eq!(pause_until(&p, 20, &times), Some(min(15)));
        assert_eq!(minutes_until(min(3), min(15)), 12);
        assert_eq!(minutes_until(UnixMillis(1), UnixMillis(2)), 1);
    }
}
