//! Whether an address receives mail here, decided at RCPT time: the organization's domains
//! only, active addresses only, the account's status policy, and its quota.

use crate::{MailError, MailStore};
use carepost_config::InactiveDelivery;
use carepost_types::AccountId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Deliver to this account.
    Local { account: AccountId, address: String },
    /// The domain is not the organization's: relaying is for authenticated senders only.
    Remote,
    /// Our domain, but nobody (or an address no longer in use): 550 5.1.1.
    Unknown,
    /// The account's status refuses mail by policy: 550 5.1.1 too, said the same way.
    Refused,
    /// The mailbox is at or over its quota: 452 4.2.2, the sender tries again later.
    OverQuota,
}

impl MailStore {
    /// What to do with mail for `address` (already syntax-checked by the SMTP layer).
    pub async fn resolve(&self, address: &str) -> Result<Recipient, MailError> {
        let address = address.trim().to_lowercase();
        let Some((_, domain)) = address.rsplit_once('@') else {
            return Ok(Recipient::Unknown);
        };
        let config = self.config();
        if !config.domains().any(|d| d.as_str() == domain) {
            return Ok(Recipient::Remote);
        }
        let Some(row) = self.store().find_recipient(&address).await? else {
            return Ok(Recipient::Unknown);
        };
        let policy = match row.status.as_str() {
            "disabled" => config.mail.disabled_accounts,
            "deprovisioned" => config.mail.deprovisioned_accounts,
            _ => InactiveDelivery::Receive,
        };
        if policy == InactiveDelivery::Reject {
            return Ok(Recipient::Refused);
        }
        if u64::try_from(row.used_bytes).unwrap_or(0) >= config.mail.quota {
            return Ok(Recipient::OverQuota);
        }
        Ok(Recipient::Local {
            account: row.account_id,
            address: row.primary_address,
        })
    }
}
