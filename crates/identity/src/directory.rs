//! The directory service: departments, accounts, addresses. Each operation checks the actor's
//! permission, then makes its change and appends its audit event in one transaction.

use crate::Hasher;
use crate::address::AddressPolicy;
use crate::authz::Permission;
use crate::{Account, AccountStatus, Actor, Department, IdentityError, PersonName};
use carepost_audit::{NewEvent, action};
use carepost_config::Config;
use carepost_store::{AccountRow, AuditRepo, DirectoryRepo, NewAccountRow, Store, Tx};
use carepost_types::{AccountId, Address, Clock, DepartmentId, Rng, UnixMillis};
use serde_json::json;
use std::sync::Arc;

/// The directory, bound to one store and one configuration.
#[derive(Debug, Clone)]
pub struct Directory {
    pub(crate) store: Store,
    /// The config in force: the file's, with the policies changed at run time over it.
    pub(crate) live: Arc<crate::policies::LiveConfig>,
    /// Shared, not copied: the directory is cloned into every request's state, and the
    /// policy's reserved words made that clone the largest cost of a small request.
    pub(crate) policy: Arc<AddressPolicy>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Rng>,
    pub(crate) hasher: Hasher,
    /// The WebAuthn relying party of `config.web`.
    pub(crate) webauthn: Arc<webauthn_rs::prelude::Webauthn>,
}

/// How a new account gets its address.
#[derive(Debug, Clone)]
pub(crate) enum AddressChoice<'a> {
    /// The first free candidate of the policy.
    Policy,
    /// This one or none (a service account's fixed address).
    Fixed(&'a Address),
    /// This one, chosen from a view of the taken addresses; the policy if it went stale.
    Likely(Address),
}

/// Where a new account goes: department, supervisor, status, and how its address is chosen.
#[derive(Debug, Clone)]
pub(crate) struct Placement<'a> {
    pub department: DepartmentId,
    pub supervisor: Option<AccountId>,
    pub status: AccountStatus,
    pub address: AddressChoice<'a>,
    /// The caller has already made sure no account has this employee id.
    pub employee_id_is_new: bool,
}

impl Placement<'_> {
    pub fn active(department: DepartmentId, supervisor: Option<AccountId>) -> Self {
        Placement {
            department,
            supervisor,
            status: AccountStatus::Active,
            address: AddressChoice::Policy,
            employee_id_is_new: false,
        }
    }
}

/// Filters for `Directory::list_accounts`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// A department and every department below it.
    pub department: Option<String>,
    pub status: Option<AccountStatus>,
    pub category: Option<String>,
    /// Holders of this role.
    pub role: Option<crate::Role>,
    pub query: Option<String>,
    pub limit: Option<i64>,
}

impl Directory {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
    ) -> Result<Self, IdentityError> {
        Ok(Directory {
            policy: Arc::new(AddressPolicy::from_config(&config)),
            hasher: Hasher::new(&config.password, &*rng)?,
            webauthn: Arc::new(crate::passkeys::relying_party(&config)?),
            store,
            live: Arc::new(crate::policies::LiveConfig::new(config)),
            clock,
            rng,
        })
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// The config in force now: the file's, with the policies changed at run time.
    pub fn config(&self) -> Arc<Config> {
        self.live.now()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn audit(&self, actor: &Actor, action: &'static str, target: String) -> NewEvent {
        let mut e = NewEvent::success(self.clock.now(), &actor.who, action, target);
        e.source = actor.source.clone();
        e
    }

    pub(crate) fn quarantine_end(&self, now: UnixMillis) -> UnixMillis {
        now.plus(self.config().address.quarantine)
    }

    // ----- departments -----

    pub async fn create_department(
        &self,
        actor: &Actor,
        name: &str,
        parent: Option<&str>,
    ) -> Result<Department, IdentityError> {
        let target = format!("department:{}", name.trim());
        self.require(actor, Permission::ManageDepartments, &target)
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
        let name = crate::departments::check_name(name)?;
        let name = name.as_str();
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
        self.require(actor, Permission::ReadDirectory, "directory")
            .await?;
        let rows = self.store.read().await?.list_departments().await?;
        Ok(rows
            .iter()
            .map(|r| Department::from_rows(r, &rows))
            .collect())
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

pub(crate) fn no_free_address(name: &PersonName) -> IdentityError {
    IdentityError::Conflict(format!(
        "no free address for {} within the policy",
        name.display()
    ))
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
