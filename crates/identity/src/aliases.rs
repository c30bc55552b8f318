//! Aliases: further addresses of an account in one of the organization's domains. A removed
//! alias stops receiving mail and is quarantined like any address of a departed colleague.

use crate::authz::Permission;
use crate::directory::{account_by_address, account_with_aliases};
use crate::{Account, Actor, Directory, IdentityError};
use carepost_audit::action;
use carepost_store::{AuditRepo, DirectoryRepo};
use carepost_types::Address;
use serde_json::json;

impl Directory {
    pub async fn add_alias(
        &self,
        actor: &Actor,
        address: &str,
        alias: &str,
        allow_reserved: bool,
    ) -> Result<Account, IdentityError> {
        let target = format!("account:{address}");
        self.require(actor, Permission::ManageAccounts, &target)
            .await?;
        let alias = Address::parse(alias).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        if !self.config().domains().any(|d| d == alias.domain()) {
            return Err(IdentityError::Invalid(format!(
                "{alias} is not in one of the organization's domains"
            )));
        }
        if self.policy.is_reserved(alias.local().as_str()) && !allow_reserved {
            return Err(IdentityError::Invalid(format!(
                "'{}' is a reserved name; give --allow-reserved to assign it on purpose",
                alias.local()
            )));
        }
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        let existing = tx.find_address(&alias.to_string()).await?;
        if existing
            .as_ref()
            .is_some_and(|a| a.account_id == Some(row.id) && a.active)
        {
            return Err(IdentityError::Conflict(format!(
                "{alias} already belongs to {}",
                row.primary_address
            )));
        }
        let now = self.clock.now();
        if !tx
            .claim_address(&alias.to_string(), row.id, "alias", now)
            .await?
        {
            let until = existing
                .and_then(|a| a.reusable_after)
                .map(|t| format!(" (quarantined until {t})"))
                .unwrap_or_default();
            return Err(IdentityError::Conflict(format!("{alias} is taken{until}")));
        }
        let event = self
            .audit(
                actor,
                action::ALIAS_ADD,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "alias": alias.to_string() }));
        tx.append_audit(&event).await?;
        let account = account_with_aliases(&mut tx, row).await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn remove_alias(
        &self,
        actor: &Actor,
        address: &str,
        alias: &str,
    ) -> Result<Account, IdentityError> {
        let target = format!("account:{address}");
        self.require(actor, Permission::ManageAccounts, &target)
            .await?;
        let alias = Address::parse(alias).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        let held = tx.find_address(&alias.to_string()).await?;
        match held {
            Some(a) if a.account_id == Some(row.id) && a.active && a.kind == "alias" => {}
            Some(a) if a.account_id == Some(row.id) && a.kind == "primary" => {
                return Err(IdentityError::Invalid(format!(
                    "{alias} is the primary address; rename the account to change it"
                )));
            }
            _ => {
                return Err(IdentityError::NotFound(format!(
                    "{alias} is not an alias of {}",
                    row.primary_address
                )));
            }
        }
        let until = self.clock.now().plus(self.config().address.quarantine);
        tx.release_address(&alias.to_string(), until).await?;
        let event = self
            .audit(
                actor,
                action::ALIAS_REMOVE,
                format!("account:{}", row.primary_address),
            )
            .with_details(
                json!({ "alias": alias.to_string(), "quarantined_until": until.to_rfc3339() }),
            );
        tx.append_audit(&event).await?;
        let account = account_with_aliases(&mut tx, row).await?;
        tx.commit().await?;
        Ok(account)
    }
}
