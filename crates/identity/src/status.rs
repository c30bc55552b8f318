//! Account status: disable, enable, deprovision, and what each does to the addresses.

use crate::authz::Permission;
use crate::directory::account_by_address;
use crate::{Account, AccountStatus, Actor, Directory, IdentityError};
use carepost_audit::action;
use carepost_store::OidcRepo;
use carepost_store::{
    AccountRow, AuditRepo, AuthRepo, CredentialRepo, DirectoryRepo, SessionRepo, Tx,
};
use serde_json::json;

impl Directory {
    /// Disables, enables or deprovisions an account.
    pub async fn set_status(
        &self,
        actor: &Actor,
        address: &str,
        to: AccountStatus,
    ) -> Result<Account, IdentityError> {
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        let needed = match to {
            AccountStatus::Disabled => Permission::DisableAccounts,
            _ => Permission::ManageAccounts,
        };
        self.require_account(actor, needed, &row).await?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        self.change_status(&mut tx, actor, &row, to).await?;
        tx.commit().await?;
        self.account_by_id(row.id).await
    }

    pub(crate) async fn change_status(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &AccountRow,
        to: AccountStatus,
    ) -> Result<(), IdentityError> {
        let from = AccountStatus::parse(&row.status)?;
        let now = self.clock.now();
        if from == to {
            return Err(IdentityError::Conflict(format!(
                "{} is already {to}",
                row.primary_address
            )));
        }
        let act = match to {
            AccountStatus::Locked => {
                return Err(IdentityError::Invalid(
                    "accounts are locked by failed sign-ins, not by hand; disable it instead"
                        .into(),
                ));
            }
            AccountStatus::Disabled => action::ACCOUNT_DISABLE,
            AccountStatus::Active => action::ACCOUNT_ENABLE,
            AccountStatus::Deprovisioned => action::ACCOUNT_DEPROVISION,
        };
        let leaving = matches!(to, AccountStatus::Disabled | AccountStatus::Deprovisioned);
        if leaving && self.is_last_active_admin(tx, row).await? {
            return Err(IdentityError::Conflict(
                "this is the last active IT administrator; give the role to someone else first"
                    .into(),
            ));
        }
        if to == AccountStatus::Deprovisioned {
            tx.set_account_addresses_reusable(row.id, Some(self.quarantine_end(now)))
                .await?;
        } else if from == AccountStatus::Deprovisioned {
            // Back in service in any form: the addresses are held again.
            self.restore_addresses(tx, actor, row).await?;
        }
        if matches!(to, AccountStatus::Deprovisioned | AccountStatus::Disabled) {
            // Whoever leaves, leaves everywhere: browsers and mail apps alike.
            tx.revoke_sessions(row.id, None, None, now).await?;
            let why = match to {
                AccountStatus::Disabled => crate::app_passwords::why::DISABLED,
                _ => crate::app_passwords::why::DEPROVISIONED,
            };
            tx.revoke_app_passwords(row.id, None, now, why).await?;
            use carepost_store::InvitationRepo;
            tx.revoke_invitations(row.id, now).await?;
            tx.revoke_account_grants(row.id, now, to.as_str(), None)
                .await?;
        }
        tx.update_account_status(row.id, to.as_str(), now).await?;
        let event = self
            .audit(actor, act, format!("account:{}", row.primary_address))
            .with_details(json!({ "from": from.as_str(), "to": to.as_str() }));
        tx.append_audit(&event).await?;
        Ok(())
    }

    async fn is_last_active_admin(
        &self,
        tx: &mut Tx,
        row: &AccountRow,
    ) -> Result<bool, IdentityError> {
        let roles = tx.list_roles(row.id).await?;
        if !roles
            .iter()
            .any(|(r, _)| r == crate::Role::ItAdmin.as_str())
        {
            return Ok(false);
        }
        let active = tx
            .count_active_role_holders(crate::Role::ItAdmin.as_str())
            .await?;
        Ok(active <= 1 && row.status == AccountStatus::Active.as_str())
    }

    /// Takes a deprovisioned account's addresses out of quarantine, if it still holds its
    /// primary address.
    /// A deprovisioned account back in service holds its addresses again. One whose primary
    /// address went to someone else after its quarantine gets a new one by the policy, as a
    /// new colleague of that name would (the event records both).
    async fn restore_addresses(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &AccountRow,
    ) -> Result<(), IdentityError> {
        let owner = tx.find_address(&row.primary_address).await?;
        if owner.and_then(|a| a.account_id) != Some(row.id) {
            let name = crate::directory::name_of(row);
            let address = self
                .claim_first_free(tx, row.id, &name, self.clock.now())
                .await?;
            let mut fields = crate::directory::row_fields(row);
            fields.primary_address = address.to_string();
            fields.search_text =
                crate::directory::search_text(&name, &row.employee_id, &address.to_string());
            tx.update_account(row.id, &fields, self.clock.now()).await?;
            let event = self
                .audit(actor, action::ADDRESS_ASSIGN, format!("account:{address}"))
                .with_details(json!({
                    "old_address": row.primary_address,
                    "reason": "the old address went to someone else after its quarantine",
                }));
            tx.append_audit(&event).await?;
        }
        tx.set_account_addresses_reusable(row.id, None).await?;
        Ok(())
    }
}
