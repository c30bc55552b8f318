//! The console's views of the organization's people: the accounts table (every column an IT
//! team sorts and filters by, paged over 200,000 accounts), the department tree with its
//! people and supervisors, and the roles overview ("who holds helpdesk, and where?"). Who may
//! see what is the directory's rule: roles that read the directory see everyone; a supervisor
//! sees the departments they supervise.

use crate::authz::Permission;
use crate::directory::department_id;
use crate::{Account, Actor, Directory, IdentityError, ListFilter, Role};
use carepost_store::{
    AccountFilter, AuditRepo, DirectoryRepo, RosterQuery, RosterRepo, RosterSort, Tx,
};
use carepost_types::{DepartmentId, UnixMillis};
use serde::Serialize;

/// One page of the accounts table, as asked for.
#[derive(Debug, Clone, Default)]
pub struct RosterRequest {
    pub filter: ListFilter,
    pub sort: RosterSort,
    pub descending: bool,
    /// The first page is 0.
    pub page: i64,
    pub per_page: i64,
}

/// A row of the accounts table.
#[derive(Debug, Clone, Serialize)]
pub struct RosterEntry {
    pub account: Account,
    /// Each role, with the department a supervisor's is scoped to.
    pub roles: Vec<(String, Option<String>)>,
    /// The second factors in words ("authenticator app", "2 passkeys", "none").
    pub second_factor: String,
    pub has_factor: bool,
    pub last_sign_in: Option<UnixMillis>,
}

/// A page of the accounts table and how many accounts match in all.
#[derive(Debug, Clone, Serialize)]
pub struct Roster {
    pub entries: Vec<RosterEntry>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// Whether the last sign-ins are shown: to the roles that read the whole directory, not
    /// to a supervisor (who does not watch their staff's sign-ins; see `sign_in_log`).
    pub shows_sign_ins: bool,
}

/// A department in the tree, in depth-first order.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentNode {
    pub id: DepartmentId,
    pub name: String,
    pub parent: Option<DepartmentId>,
    /// 0 at the top.
    pub depth: usize,
    /// Its own people.
    pub people: i64,
    /// Its people and those of every department below it.
    pub people_within: i64,
    /// Whether a department lies below it.
    pub has_children: bool,
    /// Addresses of the supervisors whose scope is this department.
    pub supervisors: Vec<String>,
}

/// One role held, for the roles overview.
#[derive(Debug, Clone, Serialize)]
pub struct RoleHolder {
    pub role: String,
    pub address: String,
    pub name: String,
    pub department: String,
    /// The department a supervisor's role is scoped to.
    pub scope: Option<String>,
    /// A role waits until its holder has a second factor.
    pub open: bool,
    pub status: String,
    pub granted_at: UnixMillis,
}

impl Directory {
    /// The department `actor` may list within (`None`: everyone), for `asked` (a department's
    /// name, or none). A supervisor is held to their own departments; anyone else without the
    /// permission is refused, and the refusal audited.
    pub(crate) async fn listing_scope(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        asked: Option<&str>,
    ) -> Result<Option<DepartmentId>, IdentityError> {
        let mut department = match asked {
            Some(d) => Some(department_id(tx, d).await?),
            None => None,
        };
        let global = actor
            .roles
            .iter()
            .any(|r| Permission::ReadDirectory.granted_to(r));
        if !global {
            // A supervisor lists the department they supervise (the only one, or the one
            // asked for).
            if department.is_none() && actor.supervises.len() == 1 {
                department = actor.supervises.first().copied();
            }
            let allowed = match department {
                Some(d) => self.supervises(actor, Permission::ReadDirectory, d).await?,
                None => false,
            };
            if !allowed {
                self.require(actor, Permission::ReadDirectory, "directory")
                    .await?;
            }
        }
        Ok(department)
    }

    /// A page of the accounts table.
    pub async fn roster(&self, actor: &Actor, r: &RosterRequest) -> Result<Roster, IdentityError> {
        let mut tx = self.store.read().await?;
        let department = self
            .listing_scope(&mut tx, actor, r.filter.department.as_deref())
            .await?;
        let per_page = r.per_page.clamp(1, 500);
        // Far past any organization's last page, and no overflow in the offset.
        let page = r.page.clamp(0, 1_000_000);
        let shows_sign_ins = actor
            .roles
            .iter()
            .any(|r| Permission::ReadDirectory.granted_to(r));
        let sort = match r.sort {
            RosterSort::LastSignIn if !shows_sign_ins => RosterSort::Name,
            s => s,
        };
        let q = RosterQuery {
            filter: store_filter(&r.filter, department),
            sort,
            descending: r.descending,
            offset: page.saturating_mul(per_page),
            limit: per_page,
        };
        let (rows, total) = tx.roster(&q).await?;
        let departments = tx.list_departments().await?;
        let name_of = |id: DepartmentId| {
            departments
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.name.clone())
        };
        let entries = rows
            .into_iter()
            .map(|row| {
                let second_factor = factor_words(row.totp, row.passkeys);
                RosterEntry {
                    roles: row
                        .roles
                        .iter()
                        .map(|(role, scope)| (role.clone(), scope.and_then(name_of)))
                        .collect(),
                    has_factor: row.totp || row.passkeys > 0,
                    second_factor,
                    last_sign_in: row.last_sign_in_at.filter(|_| shows_sign_ins),
                    account: Account::from_row(row.account, Vec::new()),
                }
            })
            .collect();
        Ok(Roster {
            entries,
            total,
            page,
            per_page,
            shows_sign_ins,
        })
    }

    /// The picked accounts for a CSV export, each within `actor`'s reach, with one audit
    /// event naming them: directory data leaving the console is on the record.
    pub async fn export_accounts(
        &self,
        actor: &Actor,
        addresses: &[String],
    ) -> Result<Vec<Account>, IdentityError> {
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            out.push(self.find_account(actor, a).await?);
        }
        let mut tx = self.store.begin().await?;
        let mut event = carepost_audit::NewEvent::success(
            self.clock.now(),
            &actor.who,
            carepost_audit::action::DIRECTORY_EXPORT,
            "directory".into(),
        )
        .with_details(serde_json::json!({
            "format": "csv",
            "accounts": out.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(),
        }));
        event.source = actor.source.clone();
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The department tree `actor` may see, depth first, with people and supervisors.
    pub async fn department_tree(
        &self,
        actor: &Actor,
    ) -> Result<Vec<DepartmentNode>, IdentityError> {
        let mut tx = self.store.read().await?;
        let global = actor
            .roles
            .iter()
            .any(|r| Permission::ReadDirectory.granted_to(r));
        if !global && actor.supervises.is_empty() {
            self.require(actor, Permission::ReadDirectory, "directory")
                .await?;
        }
        let departments = tx.list_departments().await?;
        let people = tx.department_people().await?;
        let holders = tx.role_holders().await?;
        let mut out = Vec::with_capacity(departments.len());
        // Roots: the top of the tree, or for a supervisor the departments they supervise.
        let mut roots: Vec<DepartmentId> = departments
            .iter()
            .filter(|d| match global {
                true => d.parent_id.is_none(),
                false => actor.supervises.contains(&d.id),
            })
            .map(|d| d.id)
            .collect();
        roots.sort_by_key(|id| {
            departments
                .iter()
                .find(|d| d.id == *id)
                .map(|d| d.name.to_lowercase())
        });
        // Depth first, children by name; a walk that meets a department twice (a cycle
        // cannot be stored, but a supervisor may cover a department and one below it) skips it.
        let mut stack: Vec<(DepartmentId, usize)> =
            roots.into_iter().rev().map(|id| (id, 0)).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some((id, depth)) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(d) = departments.iter().find(|d| d.id == id) else {
                continue;
            };
            let mut children: Vec<&carepost_store::DepartmentRow> = departments
                .iter()
                .filter(|c| c.parent_id == Some(id))
                .collect();
            children.sort_by_key(|c| std::cmp::Reverse(c.name.to_lowercase()));
            stack.extend(children.iter().map(|c| (c.id, depth + 1)));
            let own = people.iter().find(|(p, _)| *p == id).map_or(0, |(_, n)| *n);
            out.push(DepartmentNode {
                id,
                name: d.name.clone(),
                parent: d.parent_id,
                depth,
                people: own,
                people_within: own,
                has_children: !children.is_empty(),
                supervisors: holders
                    .iter()
                    .filter(|h| h.role == Role::Supervisor.as_str() && h.scope == Some(id))
                    .map(|h| h.account.primary_address.clone())
                    .collect(),
            });
        }
        // Each department's count within: its own and its descendants' (later in the order,
        // deeper), summed from the bottom up.
        for i in (0..out.len()).rev() {
            let n = out[i].people_within;
            if let Some(parent) = out[i].parent
                && let Some(p) = out[..i].iter_mut().rev().find(|p| p.id == parent)
            {
                p.people_within += n;
            }
        }
        Ok(out)
    }

    /// Every role held in the organization, by role: for IT, the helpdesk and security.
    pub async fn role_holders(&self, actor: &Actor) -> Result<Vec<RoleHolder>, IdentityError> {
        self.require(actor, Permission::ReadDirectory, "roles")
            .await?;
        let mut tx = self.store.read().await?;
        let departments = tx.list_departments().await?;
        let name_of = |id: DepartmentId| {
            departments
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.name.clone())
        };
        Ok(tx
            .role_holders()
            .await?
            .into_iter()
            .map(|h| {
                let account = Account::from_row(h.account, Vec::new());
                RoleHolder {
                    role: h.role,
                    name: account.name.display(),
                    department: account.department.clone(),
                    scope: h.scope.and_then(name_of),
                    open: h.has_factor,
                    status: account.status.as_str().to_string(),
                    address: account.address,
                    granted_at: h.granted_at,
                }
            })
            .collect())
    }
}

/// The store's filter for a listing `f`, with the department already settled.
pub(crate) fn store_filter(f: &ListFilter, department: Option<DepartmentId>) -> AccountFilter {
    AccountFilter {
        department,
        status: f.status.map(|s| s.as_str().to_string()),
        category: f.category.clone(),
        role: f.role.as_ref().map(|r| r.as_str().to_string()),
        query: f.query.as_ref().map(|q| q.trim().to_lowercase()),
        after: None,
        limit: f.limit,
    }
}

fn factor_words(totp: bool, passkeys: i64) -> String {
    let keys = match passkeys {
        0 => None,
        1 => Some("a passkey".to_string()),
        n => Some(format!("{n} passkeys")),
    };
    match (totp, keys) {
        (true, Some(k)) => format!("authenticator app and {k}"),
        (true, None) => "authenticator app".into(),
        (false, Some(k)) => k,
        (false, None) => "none".into(),
    }
}
