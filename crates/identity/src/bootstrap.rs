//! The first administrator. On the first start of an empty store carepost creates a service
//! account, `administrator@DOMAIN`, with the IT administrator role and a one-time password
//! that must be changed at first sign-in. The password is shown once and stored only hashed.

use crate::directory::{AddressChoice, Placement};
use crate::password::one_time_password;
use crate::{Actor, Directory, IdentityError, NewAccount, PersonName, Role};
use carepost_audit::action;
use carepost_store::{AuditRepo, CredentialRepo, DirectoryRepo, Tx};
use carepost_types::{Address, LocalPart};
use serde_json::json;

/// The first administrator, as created.
#[derive(Clone)]
pub struct FirstAdmin {
    pub address: Address,
    pub one_time_password: String,
}

// The one-time password stays out of debug output.
impl std::fmt::Debug for FirstAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstAdmin")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

const ADMIN_DEPARTMENT: &str = "IT";
const ADMIN_EMPLOYEE_ID: &str = "carepost-admin";

impl Directory {
    /// Creates the first administrator when no account holds the IT administrator role.
    /// Returns `None` when one exists already. Safe to call from several nodes at once: the
    /// check runs under the audit lock.
    pub async fn ensure_first_admin(&self) -> Result<Option<FirstAdmin>, IdentityError> {
        let actor = Actor::system();
        let mut tx = self.store.begin().await?;
        if tx.count_role_holders(Role::ItAdmin.as_str()).await? > 0 {
            return Ok(None);
        }
        let department = match tx.find_department_by_name(ADMIN_DEPARTMENT).await? {
            Some(d) => d.id,
            None => {
                self.insert_department(&mut tx, &actor, ADMIN_DEPARTMENT, None)
                    .await?
            }
        };
        let address = self.admin_address(&mut tx).await?;
        let new = NewAccount {
            name: PersonName::new("carepost", None, "Administrator", None)?,
            employee_id: ADMIN_EMPLOYEE_ID.to_string(),
            category: "service".to_string(),
            department: ADMIN_DEPARTMENT.to_string(),
            supervisor: None,
        };
        let (id, _) = self
            .insert_account(
                &mut tx,
                &actor,
                &new,
                Placement {
                    address: AddressChoice::Fixed(&address),
                    ..Placement::active(department, None)
                },
            )
            .await?;
        let password = one_time_password(&*self.rng);
        let hash = self.hasher.hash(&*self.rng, &password).await?;
        let now = self.clock.now();
        tx.upsert_password(id, &hash, true, false, now).await?;
        tx.grant_role(id, Role::ItAdmin.as_str(), None, now).await?;
        let event = self
            .audit(
                &actor,
                action::ADMIN_BOOTSTRAP,
                format!("account:{address}"),
            )
            .with_details(json!({ "role": Role::ItAdmin.as_str(), "must_change_password": true }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(Some(FirstAdmin {
            address,
            one_time_password: password,
        }))
    }

    /// `administrator@DOMAIN`, or `administrator2@...` if that is held.
    async fn admin_address(&self, tx: &mut Tx) -> Result<Address, IdentityError> {
        for n in 1..1000 {
            let local = if n == 1 {
                "administrator".to_string()
            } else {
                format!("administrator{n}")
            };
            let local =
                LocalPart::parse(&local).map_err(|e| IdentityError::Invalid(e.to_string()))?;
            let address = self.policy.address(local);
            if tx.find_address(&address.to_string()).await?.is_none() {
                return Ok(address);
            }
        }
        Err(IdentityError::Conflict(
            "no free administrator address".into(),
        ))
    }
}
