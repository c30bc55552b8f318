//! The directory's values as the rest of carepost sees them.

use crate::IdentityError;
use carepost_store::{AccountRow, DepartmentRow};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use serde::Serialize;
use std::fmt;

/// Longest accepted name part, in characters.
const MAX_NAME: usize = 100;

/// A person's legal names and preferred first name, trimmed, non-empty where present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonName {
    pub first: String,
    pub middle: Option<String>,
    pub last: String,
    pub preferred: Option<String>,
}

impl PersonName {
    pub fn new(
        first: &str,
        middle: Option<&str>,
        last: &str,
        preferred: Option<&str>,
    ) -> Result<PersonName, IdentityError> {
        let required = |what: &str, v: &str| -> Result<String, IdentityError> {
            let v = v.trim();
            if v.is_empty() {
                return Err(IdentityError::Invalid(format!(
                    "the {what} name is required"
                )));
            }
            if v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
                return Err(IdentityError::Invalid(format!(
                    "the {what} name must be at most {MAX_NAME} printable characters"
                )));
            }
            Ok(v.to_string())
        };
        let optional = |what: &str, v: Option<&str>| -> Result<Option<String>, IdentityError> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => required(what, v).map(Some),
                None => Ok(None),
            }
        };
        Ok(PersonName {
            first: required("first", first)?,
            middle: optional("middle", middle)?,
            last: required("last", last)?,
            preferred: optional("preferred", preferred)?,
        })
    }

    /// A person with one legal name (a mononym): it is kept as the first name, the last
    /// name stays empty, and addresses come from `address.mononym_template`.
    pub fn single(name: &str, preferred: Option<&str>) -> Result<PersonName, IdentityError> {
        let full = PersonName::new(name, None, "-", preferred)?;
        Ok(PersonName {
            last: String::new(),
            ..full
        })
    }

    /// A name as forms, the API and the HR import give it: `single` marks a person with one
    /// legal name, given as `first` with no `last` (nor middle name).
    pub fn from_form(
        first: &str,
        middle: Option<&str>,
        last: Option<&str>,
        preferred: Option<&str>,
        single: bool,
    ) -> Result<PersonName, IdentityError> {
        let last = last.map(str::trim).filter(|l| !l.is_empty());
        let middle = middle.map(str::trim).filter(|m| !m.is_empty());
        match (single, last, middle) {
            (true, None, None) => PersonName::single(first, preferred),
            (true, _, _) => Err(IdentityError::Invalid(
                "a single name has no last or middle name: leave them empty".into(),
            )),
            (false, None, _) => Err(IdentityError::Invalid(
                "the last name is required (for a person with one legal name, give it as the first name and mark it a single name)".into(),
            )),
            (false, Some(last), middle) => PersonName::new(first, middle, last, preferred),
        }
    }

    /// Whether this is a single name (see `single`).
    pub fn is_single(&self) -> bool {
        self.last.is_empty()
    }

    /// The name people are called by: preferred first name, else legal first name.
    pub fn display(&self) -> String {
        let first = self.preferred.as_deref().unwrap_or(&self.first);
        match self.is_single() {
            true => first.to_string(),
            false => format!("{first} {}", self.last),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AccountStatus {
    Active,
    Locked,
    Disabled,
    Deprovisioned,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Locked => "locked",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Deprovisioned => "deprovisioned",
        }
    }

    pub fn parse(s: &str) -> Result<AccountStatus, IdentityError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(AccountStatus::Active),
            "locked" => Ok(AccountStatus::Locked),
            "disabled" => Ok(AccountStatus::Disabled),
            "deprovisioned" => Ok(AccountStatus::Deprovisioned),
            other => Err(IdentityError::Invalid(format!(
                "'{other}' is not a status: use active, locked, disabled or deprovisioned"
            ))),
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
    pub parent: Option<String>,
}

impl Department {
    pub(crate) fn from_rows(row: &DepartmentRow, all: &[DepartmentRow]) -> Department {
        let parent = row
            .parent_id
            .and_then(|p| all.iter().find(|d| d.id == p))
            .map(|d| d.name.clone());
        Department {
            id: row.id,
            name: row.name.clone(),
            parent,
        }
    }
}

/// An account as shown to administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: AccountId,
    pub address: String,
    pub aliases: Vec<String>,
    pub status: AccountStatus,
    pub name: PersonName,
    pub employee_id: String,
    pub category: String,
    pub department: String,
    pub supervisor: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Account {
    pub(crate) fn from_row(row: AccountRow, aliases: Vec<String>) -> Account {
        Account {
            id: row.id,
            address: row.primary_address,
            aliases,
            // Statuses are only ever written from `AccountStatus::as_str`.
            status: AccountStatus::parse(&row.status).unwrap_or(AccountStatus::Disabled),
            name: PersonName {
                first: row.first_name,
                middle: row.middle_name,
                last: row.last_name,
                preferred: row.preferred_name,
            },
            employee_id: row.employee_id,
            category: row.category,
            department: row.department_name,
            supervisor: row.supervisor_address,
            created_at: UnixMillis::to_rfc3339(row.created_at),
            updated_at: UnixMillis::to_rfc3339(row.updated_at),
        }
    }
}

/// What creating an account needs.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: PersonName,
    pub employee_id: String,
    pub category: String,
    pub department: String,
    /// The supervisor's address.
    pub supervisor: Option<String>,
}

/// A name change; absent parts stay as they are, `Some("")` clears middle or preferred.
#[derive(Debug, Clone, Default)]
pub struct Rename {
    pub first: Option<String>,
    pub middle: Option<String>,
    pub last: Option<String>,
    pub preferred: Option<String>,
}
