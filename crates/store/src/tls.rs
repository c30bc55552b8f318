//! Rows of outbound TLS: the MTA-STS policies last fetched for recipient domains, the TLS-RPT
//! tallies of delivery sessions per day, and which day's reports were sent. The rules (when a
//! policy is fresh, what a report holds) live in the mail crate; this is only their storage.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::UnixMillis;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicyRow {
    pub domain: String,
    /// The `id=` of the `_mta-sts` TXT record the policy was fetched under.
    pub policy_id: String,
    /// The policy file as served.
    pub policy: String,
    pub fetched_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// One tally of TLS-RPT: `sessions` delivery sessions on `day` with this outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsResultRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub policy_domain: String,
    /// `sts`, `tlsa` or `no-policy-found` (RFC 8460 section 4.4).
    pub policy_type: String,
    /// The policy's strings, one per line.
    pub policy_text: String,
    /// `""` for a success, else an RFC 8460 result type (`certificate-not-trusted`, ...).
    pub result_type: String,
    pub mx_host: String,
    pub receiving_ip: String,
    /// The last failure's words, for the report's `failure-reason-code`.
    pub detail: String,
    pub sessions: i64,
}

impl StsPolicyRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<StsPolicyRow> {
        Ok(StsPolicyRow {
            domain: r.try_get("domain")?,
            policy_id: r.try_get("policy_id")?,
            policy: r.try_get("policy")?,
            fetched_at: UnixMillis(r.try_get("fetched_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
        })
    }
}

impl TlsResultRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<TlsResultRow> {
        Ok(TlsResultRow {
            day: r.try_get("day")?,
            policy_domain: r.try_get("policy_domain")?,
            policy_type: r.try_get("policy_type")?,
            policy_text: r.try_get("policy_text")?,
            result_type: r.try_get("result_type")?,
            mx_host: r.try_get("mx_host")?,
            receiving_ip: r.try_get("receiving_ip")?,
            detail: r.try_get("detail")?,
            sessions: r.try_get("sessions")?,
        })
    }
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait TlsRepo {
    async fn find_sts_policy(&mut self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError>;
    /// Inserts or replaces the domain's policy.
    async fn put_sts_policy(&mut self, row: &StsPolicyRow) -> Result<(), StoreError>;
    /// Adds `row.sessions` to the tally with the same key, creating it if needed.
    async fn add_tls_result(&mut self, row: &TlsResultRow) -> Result<(), StoreError>;
    async fn tls_results_of_day(&mut self, day: &str) -> Result<Vec<TlsResultRow>, StoreError>;
    /// Records that `day`'s report to `domain` is sent; `false` when it already was (by this
    /// node or another), so that exactly one report leaves.
    async fn claim_tls_report(
        &mut self,
        day: &str,
        domain: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;
    /// Gives a claim back (its report could not be queued), so a later run sends it.
    async fn release_tls_report(&mut self, day: &str, domain: &str) -> Result<(), StoreError>;
    /// Drops tallies and sent-marks of days before `day`, and policies expired by `now`.
    async fn prune_tls(&mut self, day: &str, now: UnixMillis) -> Result<(), StoreError>;
}

impl TlsRepo for Tx {
    async fn find_sts_policy(&mut self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT domain, policy_id, policy, fetched_at, expires_at FROM mta_sts_policies \
             WHERE domain = $1",
        )
        .bind(domain)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(StsPolicyRow::from_row).transpose()?)
    }

    async fn put_sts_policy(&mut self, row: &StsPolicyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mta_sts_policies (domain, policy_id, policy, fetched_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (domain) DO UPDATE SET \
             policy_id = excluded.policy_id, policy = excluded.policy, \
             fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
        )
        .bind(&row.domain)
        .bind(&row.policy_id)
        .bind(&row.policy)
        .bind(row.fetched_at.0)
        .bind(row.expires_at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn add_tls_result(&mut self, row: &TlsResultRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tls_results (day, policy_domain, policy_type, policy_text, result_type, \
             mx_host, receiving_ip, detail, sessions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (day, policy_domain, policy_type, result_type, mx_host, receiving_ip) \
             DO UPDATE SET sessions = tls_results.sessions + excluded.sessions, \
             policy_text = excluded.policy_text, detail = excluded.detail",
        )
        .bind(&row.day)
        .bind(&row.policy_domain)
        .bind(&row.policy_type)
        .bind(&row.policy_text)
        .bind(&row.result_type)
        .bind(&row.mx_host)
        .bind(&row.receiving_ip)
        .bind(&row.detail)
        .bind(row.sessions)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn tls_results_of_day(&mut self, day: &str) -> Result<Vec<TlsResultRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, policy_domain, policy_type, policy_text, result_type, mx_host, \
             receiving_ip, detail, sessions FROM tls_results WHERE day = $1 \
             ORDER BY policy_domain, policy_type, result_type, mx_host, receiving_ip",
        )
        .bind(day)
        .fetch_all(self.conn())
        .await?;
        all(&rows, TlsResultRow::from_row)
    }

    async fn claim_tls_report(
        &mut self,
        day: &str,
        domain: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO tls_reports_sent (day, policy_domain, sent_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(day)
        .bind(domain)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_tls_report(&mut self, day: &str, domain: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tls_reports_sent WHERE day = $1 AND policy_domain = $2")
            .bind(day)
            .bind(domain)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn prune_tls(&mut self, day: &str, now: UnixMillis) -> Result<(), StoreError> {
        // Days are `YYYY-MM-DD`: their text order is their time order.
        for sql in [
            "DELETE FROM tls_results WHERE day < $1",
            "DELETE FROM tls_reports_sent WHERE day < $1",
        ] {
            sqlx::query(sql).bind(day).execute(self.write()?).await?;
        }
        sqlx::query("DELETE FROM mta_sts_policies WHERE expires_at < $1")
            .bind(now.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }
}
