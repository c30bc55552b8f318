//! Name changes, and the address move they may bring.

use crate::authz::Permission;
use crate::directory::{account_by_address, name_of, row_fields, search_text};
use crate::{Account, Actor, Directory, IdentityError, PersonName, Rename};
use carepost_audit::action;
use carepost_store::{AccountRow, AuditRepo, DirectoryRepo, Tx};
use serde_json::json;

impl Directory {
    /// Applies a name change; when it changes the address the policy makes, the account gets
    /// the new address as primary and keeps the old one as an alias that still receives mail.
    pub async fn rename(
        &self,
        actor: &Actor,
        address: &str,
        change: &Rename,
    ) -> Result<Account, IdentityError> {
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        let name = renamed(&row, change)?;
        self.rename_in(&mut tx, actor, &row, &name).await?;
        tx.commit().await?;
        self.account_by_id(row.id).await
    }

    pub(crate) async fn rename_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &AccountRow,
        name: &PersonName,
    ) -> Result<(), IdentityError> {
        let old_name = name_of(row);
        let now = self.clock.now();
        // Only a change in what the template renders moves the address: a new middle name
        // alone does not shuffle a colleague to a new address.
        let moves = self.policy.preferred_local_part(&old_name)?
            != self.policy.preferred_local_part(name)?;
        let address = if moves {
            self.claim_first_free(tx, row.id, name, now)
                .await?
                .to_string()
        } else {
            row.primary_address.clone()
        };
        let mut new_row = row_fields(row);
        new_row.first_name = name.first.clone();
        new_row.middle_name = name.middle.clone();
        new_row.last_name = name.last.clone();
        new_row.preferred_name = name.preferred.clone();
        new_row.primary_address = address.clone();
        new_row.search_text = search_text(name, &row.employee_id, &address);
        tx.update_account(row.id, &new_row, now).await?;
        let event = self
            .audit(actor, action::ACCOUNT_RENAME, format!("account:{address}"))
            .with_details(json!({
                "account_id": row.id.0,
                "old_address": row.primary_address,
                "old_name": old_name,
                "new_name": name,
            }));
        tx.append_audit(&event).await?;
        Ok(())
    }
}

pub(crate) fn renamed(row: &AccountRow, change: &Rename) -> Result<PersonName, IdentityError> {
    let pick = |new: &Option<String>, old: &Option<String>| match new {
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v.clone()),
        None => old.clone(),
    };
    let first = change.first.as_deref().unwrap_or(&row.first_name);
    let preferred = pick(&change.preferred, &row.preferred_name);
    // A single name stays one unless the change gives a last name.
    let name = match change.last.as_deref().unwrap_or(&row.last_name) {
        "" => PersonName::single(first, preferred.as_deref())?,
        last => PersonName::new(
            first,
            pick(&change.middle, &row.middle_name).as_deref(),
            last,
            preferred.as_deref(),
        )?,
    };
    if name == name_of(row) {
        return Err(IdentityError::Invalid(
            "nothing to change: give --first, --middle, --last or --preferred".into(),
        ));
    }
    Ok(name)
}
