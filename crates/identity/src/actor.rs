//! Who is asking: the identity recorded in the audit trail, the roles that decide what they
//! may do, and where the request came from.

use serde::Serialize;
use std::fmt;

/// Administrative roles. Department supervisors carry the department they may manage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ItAdmin,
    Helpdesk,
    Supervisor,
    SecurityOfficer,
    Communications,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::ItAdmin => "it-admin",
            Role::Helpdesk => "helpdesk",
            Role::Supervisor => "supervisor",
            Role::SecurityOfficer => "security-officer",
            Role::Communications => "communications",
        }
    }

    /// Every role, in the order pages and messages list them.
    pub const ALL: [Role; 5] = [
        Role::ItAdmin,
        Role::Helpdesk,
        Role::Supervisor,
        Role::SecurityOfficer,
        Role::Communications,
    ];

    /// The role named `s`, or an error that lists the roles there are.
    pub fn named(s: &str) -> Result<Role, crate::IdentityError> {
        Role::parse(s.trim()).ok_or_else(|| {
            crate::IdentityError::Invalid(format!(
                "'{}' is not a role: it-admin, helpdesk, supervisor, security-officer or communications",
                s.trim()
            ))
        })
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "it-admin" => Some(Role::ItAdmin),
            "helpdesk" => Some(Role::Helpdesk),
            "supervisor" => Some(Role::Supervisor),
            "security-officer" => Some(Role::SecurityOfficer),
            "communications" => Some(Role::Communications),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated party behind a directory operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub who: carepost_audit::Actor,
    pub roles: Vec<Role>,
    /// Departments (each with its subtree) this actor supervises.
    pub supervises: Vec<carepost_types::DepartmentId>,
    pub source: Option<String>,
    /// Roles the account holds but may not use yet: a person's role opens over other
    /// accounts only once they have a second factor (a password alone must not reset a
    /// colleague's). Named in the refusal, so the person knows what to do.
    pub waiting_for_factor: Vec<Role>,
}

impl Actor {
    /// The local command line. Whoever can run it can read the store and its config already,
    /// so it holds every permission; it is still named in the audit trail by OS user.
    pub fn local_cli(os_user: &str) -> Actor {
        Actor {
            who: carepost_audit::Actor::LocalCli {
                os_user: os_user.to_string(),
            },
            roles: vec![Role::ItAdmin],
            supervises: Vec::new(),
            source: None,
            waiting_for_factor: Vec::new(),
        }
    }

    /// An account acting for itself (self-service), with no administrative role.
    pub fn account(id: carepost_types::AccountId, address: &str) -> Actor {
        Actor {
            who: carepost_audit::Actor::Account {
                id,
                address: address.to_string(),
            },
            roles: Vec::new(),
            supervises: Vec::new(),
            source: None,
            waiting_for_factor: Vec::new(),
        }
    }

    /// carepost itself.
    pub fn system() -> Actor {
        Actor {
            who: carepost_audit::Actor::System,
            roles: vec![Role::ItAdmin],
            supervises: Vec::new(),
            source: None,
            waiting_for_factor: Vec::new(),
        }
    }
}
