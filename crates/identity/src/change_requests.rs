//! Supervisors' change requests. A department supervisor may see and disable the accounts of
//! their department, but not rename or move them: they ask, and an IT administrator approves
//! (which makes the change, as the approver) or declines with a note. The requester sees the
//! outcome. Asking, approving and declining are each audited; an approver cannot approve their
//! own request (four eyes).

use crate::authz::Permission;
use crate::directory::account_by_address;
use crate::rename::renamed;
use crate::{AccountEdit, Actor, Directory, IdentityError, Rename};
use carepost_audit::action;
use carepost_store::{
    AccountRow, AuditRepo, ChangeRequestRepo, ChangeRequestRow, DirectoryRepo, Tx,
};
use carepost_types::UnixMillis;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How far back a requester's list of their own requests goes.
const SHOWN_FOR: i64 = 90 * 86_400_000;
/// The longest reason or note.
const MAX_TEXT: usize = 1000;
/// Requests one person may have open at once.
const MAX_OPEN_PER_REQUESTER: usize = 20;

/// What a supervisor asks IT to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestedChange {
    /// A new legal or preferred name (after a marriage, say); the address follows the policy
    /// and the old one stays as an alias. Empty fields keep the current name's.
    Rename {
        #[serde(default)]
        first: Option<String>,
        #[serde(default)]
        last: Option<String>,
        #[serde(default)]
        preferred: Option<String>,
    },
    /// A move to another department.
    Move { department: String },
}

impl RequestedChange {
    fn words(&self) -> String {
        match self {
            RequestedChange::Rename {
                first,
                last,
                preferred,
            } => {
                let parts: Vec<String> =
                    [("first", first), ("last", last), ("preferred", preferred)]
                        .into_iter()
                        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} name {v}")))
                        .collect();
                format!("rename: {}", parts.join(", "))
            }
            RequestedChange::Move { department } => format!("move to {department}"),
        }
    }

    fn rename(&self) -> Option<Rename> {
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        match self {
            RequestedChange::Rename {
                first,
                last,
                preferred,
            } => Some(Rename {
                first: clean(first),
                middle: None,
                last: clean(last),
                preferred: clean(preferred),
            }),
            RequestedChange::Move { .. } => None,
        }
    }
}

/// A change request as the lists show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequestInfo {
    pub id: i64,
    pub address: String,
    pub department: String,
    pub change: RequestedChange,
    /// The change in words.
    pub summary: String,
    pub reason: String,
    pub requested_by: String,
    pub created_at: String,
    /// `open`, `approved` or `declined`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
}

fn info(r: ChangeRequestRow, account: &AccountRow) -> ChangeRequestInfo {
    let change: RequestedChange =
        serde_json::from_str(&r.change).unwrap_or(RequestedChange::Move {
            department: String::new(),
        });
    ChangeRequestInfo {
        id: r.id,
        address: account.primary_address.clone(),
        department: account.department_name.clone(),
        summary: change.words(),
        change,
        reason: r.reason,
        requested_by: r.requested_by,
        created_at: r.created_at.to_rfc3339(),
        status: r.outcome.unwrap_or_else(|| "open".into()),
        decided_by: r.decided_by,
        decided_at: r.decided_at.map(UnixMillis::to_rfc3339),
        note: r.note,
    }
}

impl Directory {
    /// A supervisor (for an account of a department they supervise) or IT asks for a change;
    /// returns the request. The change is checked now, so that what IT is asked is possible.
    pub async fn request_change(
        &self,
        actor: &Actor,
        address: &str,
        change: &RequestedChange,
        reason: &str,
    ) -> Result<ChangeRequestInfo, IdentityError> {
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        self.require_account(actor, Permission::RequestChanges, &row)
            .await?;
        let target = format!("account:{}", row.primary_address);
        let Some(requester) = actor.who.account_id() else {
            let why = "change requests are made by a person signed in; from the command line or a token, make the change";
            return Err(self.refuse(actor, &target, why).await?);
        };
        let reason = reason.trim();
        if !(5..=MAX_TEXT).contains(&reason.chars().count()) {
            return Err(IdentityError::Invalid(format!(
                "a change request needs a reason IT can check, such as the HR ticket (at most {MAX_TEXT} characters)"
            )));
        }
        let mut tx = self.store.begin().await?;
        check(&mut tx, &row, change).await?;
        // One open request per account and kind, and a bound per requester, so that a flood
        // of requests cannot bury the real ones in IT's list.
        let open = tx.list_open_change_requests().await?;
        let same_kind = |stored: &str| {
            serde_json::from_str::<RequestedChange>(stored)
                .is_ok_and(|c| std::mem::discriminant(&c) == std::mem::discriminant(change))
        };
        if open
            .iter()
            .any(|r| r.account_id == row.id && same_kind(&r.change))
        {
            return Err(IdentityError::Conflict(format!(
                "a request of this kind for {} is open already; IT decides it first",
                row.primary_address
            )));
        }
        if open
            .iter()
            .filter(|r| r.requested_by_id == requester)
            .count()
            >= MAX_OPEN_PER_REQUESTER
        {
            return Err(IdentityError::Conflict(format!(
                "you have {MAX_OPEN_PER_REQUESTER} requests open; wait for IT to decide some"
            )));
        }
        let now = self.clock.now();
        let mut r = ChangeRequestRow {
            id: 0,
            account_id: row.id,
            change: serde_json::to_string(change).unwrap_or_default(),
            reason: reason.to_string(),
            requested_by: actor.who.label(),
            requested_by_id: requester,
            created_at: now,
            decided_by: None,
            decided_at: None,
            outcome: None,
            note: None,
        };
        r.id = tx.insert_change_request(&r).await?;
        let event = self
            .audit(actor, action::CHANGE_REQUEST, target)
            .with_details(json!({ "request": r.id, "change": change, "reason": reason }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(info(r, &row))
    }

    /// IT approves a request made by someone else: the change is made, as the approver, in the
    /// same transaction that marks the request approved.
    pub async fn approve_change(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<ChangeRequestInfo, IdentityError> {
        self.decide_change(actor, id, None).await
    }

    /// IT declines a request, saying why; the requester reads the note.
    pub async fn decline_change(
        &self,
        actor: &Actor,
        id: i64,
        note: &str,
    ) -> Result<ChangeRequestInfo, IdentityError> {
        let note = note.trim();
        if !(3..=MAX_TEXT).contains(&note.chars().count()) {
            return Err(IdentityError::Invalid(
                "say why the request is declined: the requester reads it".into(),
            ));
        }
        self.decide_change(actor, id, Some(note)).await
    }

    async fn decide_change(
        &self,
        actor: &Actor,
        id: i64,
        declined: Option<&str>,
    ) -> Result<ChangeRequestInfo, IdentityError> {
        let not_found = || IdentityError::NotFound(format!("no open change request {id}"));
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("change-request:{id}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let r = tx.find_change_request(id).await?.ok_or_else(not_found)?;
        let row = tx.find_account(r.account_id).await?.ok_or_else(not_found)?;
        if r.decided_at.is_some() {
            return Err(not_found());
        }
        let target = format!("account:{}", row.primary_address);
        // Four eyes, by account: a token or the command line has none to compare, so they
        // cannot decide (an IT administrator could otherwise ask in the console and approve
        // with a token of their own).
        let decider = actor.who.account_id();
        if decider.is_none() || decider == Some(r.requested_by_id) {
            drop(tx);
            let why = "a change request is decided by a person signed in who did not ask for it";
            return Err(self.refuse(actor, &target, why).await?);
        }
        let change: Option<RequestedChange> = serde_json::from_str(&r.change).ok();
        let now = self.clock.now();
        let outcome = if declined.is_some() {
            "declined"
        } else {
            "approved"
        };
        if !tx
            .decide_change_request(id, &actor.who.label(), now, outcome, declined)
            .await?
        {
            return Err(not_found());
        }
        if declined.is_none() {
            let change = change.as_ref().ok_or_else(|| {
                IdentityError::Invalid(format!("change request {id} is unreadable; decline it"))
            })?;
            // The one who asked must still be someone who may: a supervisor who has since
            // left, or lost the department, no longer speaks for its people.
            if !self.may_still_ask(r.requested_by_id, &row).await? {
                return Err(IdentityError::Invalid(format!(
                    "{} may no longer ask for changes to {}; decline the request",
                    r.requested_by, row.primary_address
                )));
            }
            check(&mut tx, &row, change).await?;
            match change {
                RequestedChange::Move { department } => {
                    let edit = AccountEdit {
                        department: Some(department.clone()),
                        ..AccountEdit::default()
                    };
                    self.edit_in(&mut tx, actor, &row, &edit).await?;
                }
                RequestedChange::Rename { .. } => {
                    let name = renamed(&row, &change.rename().unwrap_or_default())?;
                    self.rename_in(&mut tx, actor, &row, &name).await?;
                }
            }
        }
        let event = self
            .audit(actor, action::CHANGE_DECIDE, target)
            .with_details(json!({
                "request": id, "outcome": outcome, "requested_by": r.requested_by,
                "change": change, "note": declined,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        let r = self
            .store
            .read()
            .await?
            .find_change_request(id)
            .await?
            .ok_or_else(not_found)?;
        let row = self.store.read().await?.find_account(r.account_id).await?;
        Ok(info(r, &row.ok_or_else(not_found)?))
    }

    /// The open requests for IT (everyone's), and for anyone else the requests they made in
    /// the last 90 days, with their outcome.
    pub async fn change_requests(
        &self,
        actor: &Actor,
    ) -> Result<Vec<ChangeRequestInfo>, IdentityError> {
        let it = actor
            .roles
            .iter()
            .any(|r| Permission::ManageAccounts.granted_to(r));
        let mut read = self.store.read().await?;
        let rows = match (it, actor.who.account_id()) {
            (true, _) => read.list_open_change_requests().await?,
            (false, Some(me)) => {
                let since = UnixMillis(self.clock.now().0 - SHOWN_FOR);
                read.list_change_requests_by(me, since).await?
            }
            (false, None) => Vec::new(),
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(account) = read.find_account(r.account_id).await? {
                out.push(info(r, &account));
            }
        }
        Ok(out)
    }
}

impl Directory {
    /// Whether `requester` may still ask for changes to `row`: active, and IT or a supervisor
    /// of its department.
    async fn may_still_ask(
        &self,
        requester: carepost_types::AccountId,
        row: &AccountRow,
    ) -> Result<bool, IdentityError> {
        let Some(q) = self.store.read().await?.find_account(requester).await? else {
            return Ok(false);
        };
        if q.status != "active" {
            return Ok(false);
        }
        let who = self.actor_for(q.id, &q.primary_address, None).await?;
        Ok(who
            .roles
            .iter()
            .any(|r| Permission::RequestChanges.granted_to(r))
            || self
                .supervises(&who, Permission::RequestChanges, row.department_id)
                .await?)
    }
}

/// Whether the change can be made to this account now.
async fn check(
    tx: &mut Tx,
    row: &AccountRow,
    change: &RequestedChange,
) -> Result<(), IdentityError> {
    match change {
        RequestedChange::Move { department } => {
            let to = tx
                .find_department_by_name(department.trim())
                .await?
                .ok_or_else(|| IdentityError::Invalid(format!("no department '{department}'")))?;
            if to.id == row.department_id {
                return Err(IdentityError::Invalid(format!(
                    "{} is in {} already",
                    row.primary_address, to.name
                )));
            }
        }
        RequestedChange::Rename { .. } => {
            renamed(row, &change.rename().unwrap_or_default())?;
        }
    }
    Ok(())
}
