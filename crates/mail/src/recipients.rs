//! Whether an address receives mail here, decided at RCPT time: the organization's domains
//! only, active addresses only, the account's status policy, and its quota.

use crate::{MailError, MailStore};
use carepost_config::InactiveDelivery;
use carepost_store::{CredentialRepo, DirectoryRepo, ListRepo};
use carepost_types::{AccountId, DepartmentId};

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
    /// A distribution list: whom it reaches (a department subtree, or everyone: `None`) and
    /// the roles whose holders may post to it. Expanded only once a sender may post
    /// (`list_members`), so a refused sender costs no expansion.
    List {
        department: Option<DepartmentId>,
        senders: Vec<String>,
    },
}

/// Local parts every mail domain must answer (RFC 5321 section 4.5.1, RFC 2142).
const ROLE_ADDRESSES: [&str; 2] = ["postmaster", "abuse"];

impl MailStore {
    /// The account behind postmaster@ or abuse@ when no account holds that address itself.
    async fn role_address(
        &self,
        address: &str,
    ) -> Result<Option<carepost_store::RecipientRow>, MailError> {
        let local = address.rsplit_once('@').map_or("", |(l, _)| l);
        if !ROLE_ADDRESSES.contains(&local) {
            return Ok(None);
        }
        let config = self.config();
        let target = match &config.mail.postmaster {
            Some(t) => t.clone(),
            None => format!("administrator@{}", config.organization.domain.as_str()),
        };
        if target == address {
            return Ok(None);
        }
        Ok(self.store().find_recipient(&target).await?)
    }

    /// The list at `address`, or `Unknown`.
    async fn list(&self, address: &str) -> Result<Recipient, MailError> {
        let mut tx = self.store().read().await?;
        let Some(list) = tx.find_list(address).await? else {
            return Ok(Recipient::Unknown);
        };
        Ok(Recipient::List {
            department: list.department_id,
            senders: list
                .senders
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        })
    }

    /// The active accounts a list reaches now. A full mailbox still gets list mail (an
    /// organization-wide notice must not be lost silently; the quota stops other mail).
    pub async fn list_members(
        &self,
        department: Option<DepartmentId>,
    ) -> Result<Vec<AccountId>, MailError> {
        let mut tx = self.store().read().await?;
        Ok(tx
            .list_members(department)
            .await?
            .into_iter()
            .map(|m| m.account_id)
            .collect())
    }

    /// Whether `account` may post to a list of `department` with sender roles `roles`: it holds
    /// one of them, and a role held for a department only (a supervisor's) covers lists of
    /// that department's subtree only.
    pub async fn may_post(
        &self,
        account: AccountId,
        department: Option<DepartmentId>,
        roles: &[String],
    ) -> Result<bool, MailError> {
        let mut tx = self.store().read().await?;
        for (role, scope) in tx.list_roles(account).await? {
            if !roles.contains(&role) {
                continue;
            }
            match (scope, department) {
                (None, _) => return Ok(true),
                (Some(s), Some(d)) if tx.department_within(d, s).await? => return Ok(true),
                _ => {}
            }
        }
        Ok(false)
    }

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
        let row = match self.store().find_recipient(&address).await? {
            Some(row) => row,
            None => match self.role_address(&address).await? {
                Some(row) => row,
                None => return self.list(&address).await,
            },
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
