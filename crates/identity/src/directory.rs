//! The directory service: departments, accounts, addresses. Each operation checks the actor's
//! permission, then makes its change and appends its audit event in one transaction.

use crate::address::AddressPolicy;
use crate::authz::{Permission, require};
use crate::{
    Account, AccountStatus, Actor, Department, IdentityError, NewAccount, PersonName, Rename,
};
use carepost_audit::{NewEvent, action};
use carepost_config::Config;
use carepost_store::{
    AccountFilter, AccountRow, AuditRepo, DirectoryRepo, NewAccountRow, Store, Tx,
};
use carepost_types::{AccountId, Address, Clock, DepartmentId, Rng, UnixMillis};
use serde_json::json;
use std::sync::Arc;

/// The directory, bound to one store and one configuration.
#[derive(Debug, Clone)]
pub struct Directory {
    pub(crate) store: Store,
    pub(crate) config: Arc<Config>,
    pub(crate) policy: AddressPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Rng>,
}

/// Where a new account goes: department, supervisor, status, and a fixed address for service
/// accounts (else the policy assigns one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement<'a> {
    pub department: DepartmentId,
    pub supervisor: Option<AccountId>,
    pub status: AccountStatus,
    pub address: Option<&'a Address>,
}

impl Placement<'_> {
    pub fn active(department: DepartmentId, supervisor: Option<AccountId>) -> Self {
        Placement {
            department,
            supervisor,
            status: AccountStatus::Active,
            address: None,
        }
    }
}

/// Filters for `Directory::list_accounts`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub department: Option<String>,
    pub status: Option<AccountStatus>,
    pub query: Option<String>,
    pub limit: Option<i64>,
}

impl Directory {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
    ) -> Self {
        Directory {
            policy: AddressPolicy::from_config(&config),
            store,
            config,
            clock,
            rng,
        }
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn audit(&self, actor: &Actor, action: &'static str, target: String) -> NewEvent {
        let mut e = NewEvent::success(self.clock.now(), &actor.who, action, target);
        e.source = actor.source.clone();
        e
    }

    fn quarantine_end(&self, now: UnixMillis) -> UnixMillis {
        now.plus(self.config.address.quarantine)
    }

    // ----- departments -----

    pub async fn create_department(
        &self,
        actor: &Actor,
        name: &str,
        parent: Option<&str>,
    ) -> Result<Department, IdentityError> {
        let target = format!("department:{}", name.trim());
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ManageDepartments,
            &target,
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let id = self.insert_department(&mut tx, actor, name, parent).await?;
        tx.commit().await?;
        Ok(Department {
            id,
            name: name.trim().to_string(),
            parent: parent.map(|p| p.trim().to_string()),
        })
    }

    pub(crate) async fn insert_department(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        name: &str,
        parent: Option<&str>,
    ) -> Result<DepartmentId, IdentityError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(IdentityError::Invalid(
                "a department name must be 1 to 200 printable characters".into(),
            ));
        }
        if tx.find_department_by_name(name).await?.is_some() {
            return Err(IdentityError::Conflict(format!(
                "a department named '{name}' already exists"
            )));
        }
        let parent_id = match parent {
            Some(p) => Some(department_id(tx, p).await?),
            None => None,
        };
        let id = tx
            .insert_department(name, parent_id, self.clock.now())
            .await?;
        let event = self
            .audit(
                actor,
                action::DEPARTMENT_CREATE,
                format!("department:{name}"),
            )
            .with_details(json!({ "parent": parent }));
        tx.append_audit(&event).await?;
        Ok(id)
    }

    pub async fn list_departments(&self, actor: &Actor) -> Result<Vec<Department>, IdentityError> {
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ReadDirectory,
            "directory",
        )
        .await?;
        let rows = self.store.read().await?.list_departments().await?;
        Ok(rows
            .iter()
            .map(|r| Department::from_rows(r, &rows))
            .collect())
    }

    // ----- accounts -----

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

    pub async fn create_account(
        &self,
        actor: &Actor,
        new: &NewAccount,
    ) -> Result<Account, IdentityError> {
        let target = format!("employee:{}", new.employee_id.trim());
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ManageAccounts,
            &target,
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let department = department_id(&mut tx, &new.department).await?;
        let supervisor = match &new.supervisor {
            Some(s) => Some(account_by_address(&mut tx, s).await?.id),
            None => None,
        };
        let id = self
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

    /// Inserts an account, gives it the first free address of the policy, and audits it.
    pub(crate) async fn insert_account(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        new: &NewAccount,
        place: Placement<'_>,
    ) -> Result<AccountId, IdentityError> {
        let employee_id = check_employee_id(&new.employee_id)?;
        let category = self.check_category(&new.category)?;
        if tx
            .find_account_by_employee_id(&employee_id)
            .await?
            .is_some()
        {
            return Err(IdentityError::Conflict(format!(
                "employee id {employee_id} already has an account"
            )));
        }
        let now = self.clock.now();
        let mut row = NewAccountRow {
            first_name: new.name.first.clone(),
            middle_name: new.name.middle.clone(),
            last_name: new.name.last.clone(),
            preferred_name: new.name.preferred.clone(),
            employee_id,
            category,
            department_id: place.department,
            supervisor_id: place.supervisor,
            status: place.status.as_str().to_string(),
            primary_address: String::new(),
            search_text: String::new(),
        };
        let id = tx.insert_account(&row, now).await?;
        let address = match place.address {
            Some(a) => self.claim_fixed(tx, id, a, now).await?,
            None => self.claim_first_free(tx, id, &new.name, now).await?,
        };
        row.primary_address = address.to_string();
        row.search_text = search_text(&new.name, &row.employee_id, &row.primary_address);
        tx.update_account(id, &row, now).await?;
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
                "status": row.status,
            }));
        tx.append_audit(&event).await?;
        Ok(id)
    }

    /// Claims, in policy order, the first candidate address the store lets this account have.
    async fn claim_first_free(
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

    /// Claims one given address (a service account's), or fails if it is held.
    async fn claim_fixed(
        &self,
        tx: &mut Tx,
        id: AccountId,
        address: &Address,
        now: UnixMillis,
    ) -> Result<Address, IdentityError> {
        if !tx
            .claim_address(&address.to_string(), id, "primary", now)
            .await?
        {
            return Err(IdentityError::Conflict(format!("{address} is taken")));
        }
        Ok(address.clone())
    }

    pub(crate) fn check_category(&self, category: &str) -> Result<String, IdentityError> {
        let c = category.trim().to_ascii_lowercase();
        if self.config.categories.contains(&c) {
            Ok(c)
        } else {
            Err(IdentityError::Invalid(format!(
                "'{category}' is not a role category: use one of {}",
                self.config.categories.join(", ")
            )))
        }
    }

    pub async fn find_account(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Account, IdentityError> {
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ReadDirectory,
            "directory",
        )
        .await?;
        let mut tx = self.store.read().await?;
        let row = account_by_address(&mut tx, address).await?;
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
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ReadDirectory,
            "directory",
        )
        .await?;
        let mut tx = self.store.read().await?;
        let department = match &f.department {
            Some(d) => Some(department_id(&mut tx, d).await?),
            None => None,
        };
        let filter = AccountFilter {
            department,
            status: f.status.map(|s| s.as_str().to_string()),
            query: f.query.as_ref().map(|q| q.trim().to_lowercase()),
            after: None,
            limit: f.limit,
        };
        let rows = tx.list_accounts(&filter).await?;
        Ok(rows
            .into_iter()
            .map(|r| Account::from_row(r, Vec::new()))
            .collect())
    }

    /// Disables, enables or deprovisions an account.
    pub async fn set_status(
        &self,
        actor: &Actor,
        address: &str,
        to: AccountStatus,
    ) -> Result<Account, IdentityError> {
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
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
        let act = match (from, to) {
            (f, t) if f == t => {
                return Err(IdentityError::Conflict(format!(
                    "{} is already {t}",
                    row.primary_address
                )));
            }
            (_, AccountStatus::Locked) => {
                return Err(IdentityError::Invalid(
                    "accounts are locked by failed sign-ins, not by hand; disable it instead"
                        .into(),
                ));
            }
            (_, AccountStatus::Disabled) => action::ACCOUNT_DISABLE,
            (_, AccountStatus::Deprovisioned) => {
                tx.set_account_addresses_reusable(row.id, Some(self.quarantine_end(now)))
                    .await?;
                action::ACCOUNT_DEPROVISION
            }
            (_, AccountStatus::Active) => {
                if from == AccountStatus::Deprovisioned {
                    self.restore_addresses(tx, row).await?;
                }
                action::ACCOUNT_ENABLE
            }
        };
        tx.update_account_status(row.id, to.as_str(), now).await?;
        let event = self
            .audit(actor, act, format!("account:{}", row.primary_address))
            .with_details(json!({ "from": from.as_str(), "to": to.as_str() }));
        tx.append_audit(&event).await?;
        Ok(())
    }

    /// Takes a deprovisioned account's addresses out of quarantine, if it still holds its
    /// primary address.
    async fn restore_addresses(&self, tx: &mut Tx, row: &AccountRow) -> Result<(), IdentityError> {
        let owner = tx.find_address(&row.primary_address).await?;
        if owner.and_then(|a| a.account_id) != Some(row.id) {
            return Err(IdentityError::Conflict(format!(
                "{} has been given to someone else since this account was deprovisioned; create a new account",
                row.primary_address
            )));
        }
        tx.set_account_addresses_reusable(row.id, None).await?;
        Ok(())
    }
}

/// `name` as the store keeps it for a department lookup, or a clear error.
pub(crate) async fn department_id(tx: &mut Tx, name: &str) -> Result<DepartmentId, IdentityError> {
    tx.find_department_by_name(name)
        .await?
        .map(|d| d.id)
        .ok_or_else(|| {
            IdentityError::NotFound(format!(
                "no department named '{}'; create it with `carepost department create`",
                name.trim()
            ))
        })
}

pub(crate) async fn account_by_address(
    tx: &mut Tx,
    address: &str,
) -> Result<AccountRow, IdentityError> {
    let parsed = Address::parse(address).map_err(|e| IdentityError::Invalid(e.to_string()))?;
    tx.find_account_by_address(&parsed.to_string())
        .await?
        .ok_or_else(|| IdentityError::NotFound(format!("no account has the address {parsed}")))
}

pub(crate) async fn account_with_aliases(
    tx: &mut Tx,
    row: AccountRow,
) -> Result<Account, IdentityError> {
    let aliases = tx
        .list_account_addresses(row.id)
        .await?
        .into_iter()
        .filter(|a| a.kind == "alias" && a.active)
        .map(|a| a.address)
        .collect();
    Ok(Account::from_row(row, aliases))
}

pub(crate) fn check_employee_id(id: &str) -> Result<String, IdentityError> {
    let id = id.trim();
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(id.to_string())
    } else {
        Err(IdentityError::Invalid(format!(
            "'{id}' is not an employee id: 1 to 64 visible ASCII characters"
        )))
    }
}

pub(crate) fn search_text(name: &PersonName, employee_id: &str, address: &str) -> String {
    [
        Some(name.first.as_str()),
        name.middle.as_deref(),
        Some(name.last.as_str()),
        name.preferred.as_deref(),
        Some(employee_id),
        Some(address),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase()
}

fn no_free_address(name: &PersonName) -> IdentityError {
    IdentityError::Conflict(format!(
        "no free address for {} {} within the policy",
        name.first, name.last
    ))
}

impl Directory {
    /// Applies a name change; when it changes the address the policy makes, the account gets
    /// the new address as primary and keeps the old one as an alias that still receives mail.
    pub async fn rename(
        &self,
        actor: &Actor,
        address: &str,
        change: &Rename,
    ) -> Result<Account, IdentityError> {
        require(
            &self.store,
            &*self.clock,
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

pub(crate) fn name_of(row: &AccountRow) -> PersonName {
    PersonName {
        first: row.first_name.clone(),
        middle: row.middle_name.clone(),
        last: row.last_name.clone(),
        preferred: row.preferred_name.clone(),
    }
}

pub(crate) fn row_fields(row: &AccountRow) -> NewAccountRow {
    NewAccountRow {
        first_name: row.first_name.clone(),
        middle_name: row.middle_name.clone(),
        last_name: row.last_name.clone(),
        preferred_name: row.preferred_name.clone(),
        employee_id: row.employee_id.clone(),
        category: row.category.clone(),
        department_id: row.department_id,
        supervisor_id: row.supervisor_id,
        status: row.status.clone(),
        primary_address: row.primary_address.clone(),
        search_text: search_text(&name_of(row), &row.employee_id, &row.primary_address),
    }
}

fn renamed(row: &AccountRow, change: &Rename) -> Result<PersonName, IdentityError> {
    let pick = |new: &Option<String>, old: &Option<String>| match new {
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v.clone()),
        None => old.clone(),
    };
    let name = PersonName::new(
        change.first.as_deref().unwrap_or(&row.first_name),
        pick(&change.middle, &row.middle_name).as_deref(),
        change.last.as_deref().unwrap_or(&row.last_name),
        pick(&change.preferred, &row.preferred_name).as_deref(),
    )?;
    if name == name_of(row) {
        return Err(IdentityError::Invalid(
            "nothing to change: give --first, --middle, --last or --preferred".into(),
        ));
    }
    Ok(name)
}
