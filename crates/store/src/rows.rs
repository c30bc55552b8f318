//! Plain records as the store keeps them. The domain crates turn them into their own types.

use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Every row turned into a record, or the first row that does not fit.
pub(crate) fn all<T>(
    rows: &[AnyRow],
    read: impl Fn(&AnyRow) -> sqlx::Result<T>,
) -> Result<Vec<T>, crate::StoreError> {
    Ok(rows.iter().map(read).collect::<sqlx::Result<_>>()?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentRow {
    pub id: DepartmentId,
    pub name: String,
    pub parent_id: Option<DepartmentId>,
    pub created_at: UnixMillis,
}

impl DepartmentRow {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<DepartmentRow> {
        Ok(DepartmentRow {
            id: DepartmentId(r.try_get("id")?),
            name: r.try_get("name")?,
            parent_id: r.try_get::<Option<i64>, _>("parent_id")?.map(DepartmentId),
            created_at: UnixMillis(r.try_get("created_at")?),
        })
    }
}

/// An account as stored. `status` and `category` are the domain's words, kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: AccountId,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub employee_id: String,
    pub category: String,
    pub department_id: DepartmentId,
    pub department_name: String,
    pub supervisor_id: Option<AccountId>,
    pub supervisor_address: Option<String>,
    pub status: String,
    pub primary_address: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// The columns `AccountRow::from_row` reads; `a` is accounts, `d` its department and `s` the
/// supervisor.
pub(crate) const ACCOUNT_COLUMNS: &str = "a.id, a.first_name, a.middle_name, a.last_name, \
    a.preferred_name, a.employee_id, a.category, a.department_id, d.name AS department_name, \
    a.supervisor_id, s.primary_address AS supervisor_address, a.status, a.primary_address, \
    a.created_at, a.updated_at";

pub(crate) const ACCOUNT_JOINS: &str = "FROM accounts a JOIN departments d ON d.id = a.department_id \
    LEFT JOIN accounts s ON s.id = a.supervisor_id";

impl AccountRow {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<AccountRow> {
        Ok(AccountRow {
            id: AccountId(r.try_get("id")?),
            first_name: r.try_get("first_name")?,
            middle_name: r.try_get("middle_name")?,
            last_name: r.try_get("last_name")?,
            preferred_name: r.try_get("preferred_name")?,
            employee_id: r.try_get("employee_id")?,
            category: r.try_get("category")?,
            department_id: DepartmentId(r.try_get("department_id")?),
            department_name: r.try_get("department_name")?,
            supervisor_id: r.try_get::<Option<i64>, _>("supervisor_id")?.map(AccountId),
            supervisor_address: r.try_get("supervisor_address")?,
            status: r.try_get("status")?,
            primary_address: r.try_get("primary_address")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            updated_at: UnixMillis(r.try_get("updated_at")?),
        })
    }
}

/// What the store needs to insert or overwrite an account's own fields.
#[derive(Debug, Clone)]
pub struct NewAccountRow {
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub employee_id: String,
    pub category: String,
    pub department_id: DepartmentId,
    pub supervisor_id: Option<AccountId>,
    pub status: String,
    pub primary_address: String,
    /// Lower-case text that `AccountFilter::query` searches.
    pub search_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRow {
    pub address: String,
    pub account_id: Option<AccountId>,
    /// `primary` or `alias`.
    pub kind: String,
    /// Receives mail.
    pub active: bool,
    /// `None`: held for its account; else when the policy may hand it to someone else.
    pub reusable_after: Option<UnixMillis>,
    pub created_at: UnixMillis,
}

impl AddressRow {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<AddressRow> {
        Ok(AddressRow {
            address: r.try_get("address")?,
            account_id: r.try_get::<Option<i64>, _>("account_id")?.map(AccountId),
            kind: r.try_get("kind")?,
            active: r.try_get::<i64, _>("active")? != 0,
            reusable_after: r
                .try_get::<Option<i64>, _>("reusable_after")?
                .map(UnixMillis),
            created_at: UnixMillis(r.try_get("created_at")?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRow {
    pub account_id: AccountId,
    pub password_hash: String,
    pub must_change: bool,
    pub changed_at: UnixMillis,
    /// Set by an administrator (not temporary): its owner may replace it at once.
    pub set_by_admin: bool,
}
