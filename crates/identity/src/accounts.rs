//! Accounts: creation with an address from the policy, lookup and listing.

use crate::authz::Permission;
use crate::directory::{
    AddressChoice, ListFilter, Placement, account_by_address, account_with_aliases,
    check_employee_id, department_id, no_free_address, search_text,
};
use crate::{Account, AccountStatus, Actor, Directory, IdentityError, NewAccount, PersonName};
use carepost_audit::action;
use carepost_store::{AuditRepo, DirectoryRepo, NewAccountRow, Tx};
use carepost_types::{AccountId, Address, UnixMillis};
use serde_json::json;

impl Directory {
    /// What the policy would assign to `name` now, without creating anything.
    pub async fn preview_address(&self, name: &PersonName) -> Result<Address, IdentityError> {
        let mut tx = self.store.read().await?;
        let now = self.clock.now();
        for local in self.policy.candidates(name)? {
            let address = self.policy.address(local);
            match tx.find_address(&address.to_string()).await? {
                None => return Ok(address),
                Some(row) if row.reusable_after.is_some_and(|t| t <= now) => return Ok(address),
                Some(_) => {}
            }
        }
        Err(no_free_address(name))
    }

    /// `preview_address` for the console's create form: only for those who may create.
    pub async fn preview_address_as(
        &self,
        actor: &Actor,
        name: &PersonName,
    ) -> Result<Address, IdentityError> {
        self.require(actor, Permission::ManageAccounts, "address-preview")
            .await?;
        self.preview_address(name).await
    }

    pub async fn create_account(
        &self,
        actor: &Actor,
        new: &NewAccount,
    ) -> Result<Account, IdentityError> {
        let target = format!("employee:{}", new.employee_id.trim());
        self.require(actor, Permission::ManageAccounts, &target)
            .await?;
        let mut tx = self.store.begin().await?;
        let department = department_id(&mut tx, &new.department).await?;
        let supervisor = match &new.supervisor {
            Some(s) => Some(account_by_address(&mut tx, s).await?.id),
            None => None,
        };
        let (id, _) = self
            .insert_account(
                &mut tx,
                actor,
                new,
                Placement::active(department, supervisor),
            )
            .await?;
        tx.commit().await?;
        self.account_by_id(id).await
    }

    /// Inserts an account, gives it its address, and audits it.
    pub(crate) async fn insert_account(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        new: &NewAccount,
        place: Placement<'_>,
    ) -> Result<(AccountId, Address), IdentityError> {
        let employee_id = check_employee_id(&new.employee_id)?;
        let category = self.check_category(&new.category)?;
        // A name the policy can make nothing of fails here, before anything is written.
        if self.policy.preferred_local_part(&new.name)?.is_none() {
            return Err(no_free_address(&new.name));
        }
        if !place.employee_id_is_new
            && tx
                .find_account_by_employee_id(&employee_id)
                .await?
                .is_some()
        {
            return Err(IdentityError::Conflict(format!(
                "employee id {employee_id} already has an account"
            )));
        }
        let now = self.clock.now();
        let planned = match &place.address {
            AddressChoice::Fixed(a) => Some((*a).clone()),
            AddressChoice::Likely(a) => Some(a.clone()),
            AddressChoice::Policy => None,
        };
        let mut row = NewAccountRow {
            first_name: new.name.first.clone(),
            middle_name: new.name.middle.clone(),
            last_name: new.name.last.clone(),
            preferred_name: new.name.preferred.clone(),
            search_text: search_text(
                &new.name,
                &employee_id,
                &planned.as_ref().map(Address::to_string).unwrap_or_default(),
            ),
            employee_id,
            category,
            department_id: place.department,
            supervisor_id: place.supervisor,
            status: place.status.as_str().to_string(),
            primary_address: planned.as_ref().map(Address::to_string).unwrap_or_default(),
        };
        let id = tx.insert_account(&row, now).await?;
        let claimed = match &planned {
            Some(a) => tx.claim_address(&a.to_string(), id, "primary", now).await?,
            None => false,
        };
        let address = match (claimed, &place.address) {
            (true, _) => planned.unwrap_or_else(|| unreachable!("claimed implies planned")),
            (false, AddressChoice::Fixed(a)) => {
                return Err(IdentityError::Conflict(format!("{a} is taken")));
            }
            (false, _) => {
                // Not planned, or planned from a view that went stale: the policy decides.
                let a = self.claim_first_free(tx, id, &new.name, now).await?;
                row.primary_address = a.to_string();
                row.search_text = search_text(&new.name, &row.employee_id, &row.primary_address);
                tx.update_account(id, &row, now).await?;
                a
            }
        };
        if place.status == AccountStatus::Deprovisioned {
            tx.set_account_addresses_reusable(id, Some(self.quarantine_end(now)))
                .await?;
        }
        let event = self
            .audit(actor, action::ACCOUNT_CREATE, format!("account:{address}"))
            .with_details(json!({
                "account_id": id.0,
                "employee_id": row.employee_id,
                "category": row.category,
                "department_id": place.department.0,
                "supervisor_id": place.supervisor.map(|s| s.0),
                "status": row.status,
            }));
        tx.append_audit(&event).await?;
        Ok((id, address))
    }

    /// Claims, in policy order, the first candidate address the store lets this account have.
    pub(crate) async fn claim_first_free(
        &self,
        tx: &mut Tx,
        id: AccountId,
        name: &PersonName,
        now: UnixMillis,
    ) -> Result<Address, IdentityError> {
        for local in self.policy.candidates(name)? {
            let address = self.policy.address(local);
            if tx
                .claim_address(&address.to_string(), id, "alias", now)
                .await?
            {
                tx.set_primary_address(id, &address.to_string()).await?;
                return Ok(address);
            }
        }
        Err(no_free_address(name))
    }

    pub(crate) fn check_category(&self, category: &str) -> Result<String, IdentityError> {
        let c = category.trim().to_ascii_lowercase();
        if self.config().categories.contains(&c) {
            Ok(c)
        } else {
            Err(IdentityError::Invalid(format!(
                "'{category}' is not a role category: use one of {}",
                self.config().categories.join(", ")
            )))
        }
    }

    pub async fn find_account(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Account, IdentityError> {
        let mut tx = self.store.read().await?;
        let row = account_by_address(&mut tx, address).await?;
        self.require_account(actor, Permission::ReadDirectory, &row)
            .await?;
        account_with_aliases(&mut tx, row).await
    }

    pub(crate) async fn account_by_id(&self, id: AccountId) -> Result<Account, IdentityError> {
        let mut tx = self.store.read().await?;
        let row = tx
            .find_account(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("no account {id}")))?;
        account_with_aliases(&mut tx, row).await
    }

    /// Accounts in address order; aliases are not filled in (`Account::aliases` is empty).
    pub async fn list_accounts(
        &self,
        actor: &Actor,
        f: &ListFilter,
    ) -> Result<Vec<Account>, IdentityError> {
        let mut tx = self.store.read().await?;
        let department = self
            .listing_scope(&mut tx, actor, f.department.as_deref())
            .await?;
        let filter = crate::roster::store_filter(f, department);
        let rows = tx.list_accounts(&filter).await?;
        Ok(rows
            .into_iter()
            .map(|r| Account::from_row(r, Vec::new()))
            .collect())
    }
}
