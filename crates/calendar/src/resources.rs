//! Rooms and equipment that staff book by inviting them to a meeting: managed by IT
//! administrators, and by supervisors for their own department subtree (the one
//! authorization check, `Permission::ManageResources`), each change on the audit trail. A
//! resource has an address of the organization (claimed like a list's, so nobody is given it),
//! a kind, a capacity, and the rules `booking` applies: who may book it, the longest booking,
//! how far ahead. Delegates approve bookings by hand where a resource has them; the bookings
//! waiting for them are listed here, and their answer reaches the organizer's calendar.

use crate::booking::Answer;
use crate::{DavError, schedule};
use carepost_audit::action;
use carepost_identity::{Actor, Directory, IdentityError, Permission, Role};
use carepost_store::{
    AccountRow, AuditRepo, BookingRow, DepartmentRow, DirectoryRepo, ResourceRepo, ResourceRow,
    Store, Tx,
};
use carepost_types::{AccountId, Address, Clock, DepartmentId, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// How far ahead a resource may be booked unless its manager says otherwise.
pub const DEFAULT_WINDOW_DAYS: i64 = 180;
/// The farthest a window may reach.
const MAX_WINDOW_DAYS: i64 = 3650;
/// Bookings one listing shows at most.
const MAX_LISTED: i64 = 500;
/// Delegates one resource may have.
const MAX_DELEGATES: usize = 20;

/// A room or piece of equipment as staff and its managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resource {
    pub address: String,
    pub name: String,
    /// `room` or `equipment`.
    pub kind: String,
    pub department: Option<String>,
    pub capacity: Option<i64>,
    /// `everyone`, `department` (its department and those below) or `role:NAME`.
    pub bookable_by: String,
    /// The longest booking taken, in minutes; none: any.
    pub max_minutes: Option<i64>,
    /// How many days ahead it may be booked.
    pub window_days: i64,
    /// Who approves its bookings by hand (none: it answers by itself).
    pub delegates: Vec<String>,
}

/// A resource's answer to one meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Booking {
    /// What approving or declining names.
    pub id: i64,
    pub resource: String,
    pub uid: String,
    pub organizer: String,
    pub summary: String,
    /// `accepted`, `pending` (waits for a delegate) or `declined`.
    pub status: String,
    /// Why it was declined.
    pub reason: String,
    /// RFC 3339, the first instance's start.
    pub starts_at: Option<String>,
    /// RFC 3339, the last instance's end.
    pub ends_at: Option<String>,
}

/// What to set on a resource: on creation, `name` is needed and the rest has defaults; on an
/// update, only what is given changes (an empty `department`, a `capacity` or `max_minutes`
/// of 0 clear them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceSpec {
    pub name: Option<String>,
    /// Made from the name in the organization's domain when not given (creation only).
    pub address: Option<String>,
    /// `room` (the default) or `equipment`.
    pub kind: Option<String>,
    pub department: Option<String>,
    pub capacity: Option<i64>,
    pub bookable_by: Option<String>,
    pub max_minutes: Option<i64>,
    pub window_days: Option<i64>,
    /// Addresses of the accounts that approve bookings; replaces the list when given.
    pub delegates: Option<Vec<String>>,
}

/// `90` minutes as `1h30m`, `240` as `4h`.
pub fn minutes_in_words(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} minutes"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

fn invalid(why: impl Into<String>) -> IdentityError {
    IdentityError::Invalid(why.into())
}

/// An address made of the resource's name: `Cardiology Conference Room 3` becomes
/// `cardiology-conference-room-3@DOMAIN`.
fn address_from_name(name: &str, domain: &str) -> Result<Address, IdentityError> {
    let mut local = String::new();
    for c in deunicode::deunicode(name).chars() {
        if c.is_ascii_alphanumeric() {
            local.push(c.to_ascii_lowercase());
        } else if !local.is_empty() && !local.ends_with('-') {
            local.push('-');
        }
    }
    let local: String = local.trim_end_matches('-').chars().take(60).collect();
    let local = local.trim_end_matches('-');
    if local.is_empty() {
        return Err(invalid("give the resource an address (--address)"));
    }
    Address::parse(&format!("{local}@{domain}")).map_err(|e| invalid(e.to_string()))
}

fn check_kind(kind: &str) -> Result<&'static str, IdentityError> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "room" => Ok("room"),
        "equipment" | "resource" => Ok("equipment"),
        other => Err(invalid(format!(
            "'{other}' is not a kind of resource: room or equipment"
        ))),
    }
}

fn check_rule(rule: &str) -> Result<String, IdentityError> {
    let rule = rule.trim().to_ascii_lowercase();
    match rule.as_str() {
        "everyone" | "department" => Ok(rule),
        _ => match rule.strip_prefix("role:") {
            Some(role) => Ok(format!("role:{}", Role::named(role)?.as_str())),
            None => Err(invalid(format!(
                "'{rule}' is not a booking rule: everyone, department or role:NAME"
            ))),
        },
    }
}

/// The rules of `spec` over `row` (a new resource's defaults, or the stored one).
fn apply(
    row: &mut ResourceRow,
    spec: &ResourceSpec,
    department: Option<Option<DepartmentId>>,
) -> Result<(), IdentityError> {
    if let Some(name) = &spec.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(invalid(
                "a resource needs a name of at most 200 characters, without control characters",
            ));
        }
        row.name = name.to_string();
    }
    if let Some(kind) = &spec.kind {
        row.kind = check_kind(kind)?.to_string();
    }
    if let Some(d) = department {
        row.department_id = d;
    }
    if let Some(c) = spec.capacity {
        if !(0..=100_000).contains(&c) {
            return Err(invalid("the capacity is a number of people, 1 to 100000"));
        }
        row.capacity = (c > 0).then_some(c);
    }
    if let Some(rule) = &spec.bookable_by {
        row.bookable_by = check_rule(rule)?;
    }
    if let Some(m) = spec.max_minutes {
        if !(0..=MAX_WINDOW_DAYS * 1440).contains(&m) {
            return Err(invalid("the longest booking must be a positive duration"));
        }
        row.max_minutes = (m > 0).then_some(m);
    }
    if let Some(w) = spec.window_days {
        if !(1..=MAX_WINDOW_DAYS).contains(&w) {
            return Err(invalid(format!(
                "the booking window is 1 to {MAX_WINDOW_DAYS} days"
            )));
        }
        row.window_days = w;
    }
    if row.bookable_by == "department" && row.department_id.is_none() {
        return Err(invalid(
            "a resource bookable by its department needs a department (--department)",
        ));
    }
    Ok(())
}

fn to_resource(r: ResourceRow, departments: &[DepartmentRow], delegates: Vec<String>) -> Resource {
    Resource {
        department: r
            .department_id
            .and_then(|id| departments.iter().find(|d| d.id == id))
            .map(|d| d.name.clone()),
        address: r.address,
        name: r.name,
        kind: r.kind,
        capacity: r.capacity,
        bookable_by: r.bookable_by,
        max_minutes: r.max_minutes,
        window_days: r.window_days,
        delegates,
    }
}

fn rfc3339(seconds: Option<i64>) -> Option<String> {
    seconds.map(|s| UnixMillis(s.saturating_mul(1000)).to_rfc3339())
}

/// The service that manages resources; booking itself happens in the scheduler.
#[derive(Debug, Clone)]
pub struct Resources {
    store: Store,
    clock: Arc<dyn Clock>,
    directory: Directory,
}

impl Resources {
    pub fn new(directory: Directory, clock: Arc<dyn Clock>) -> Resources {
        Resources {
            store: directory.store().clone(),
            clock,
            directory,
        }
    }

    fn event(&self, actor: &Actor, what: &'static str, target: &str) -> carepost_audit::NewEvent {
        let mut e = carepost_audit::NewEvent::success(
            self.clock.now(),
            &actor.who,
            what,
            target.to_string(),
        );
        e.source = actor.source.clone();
        e
    }

    /// The department named (`Some(None)`: none, for an empty name). An unknown name is
    /// told only to someone who may manage resources at all; anyone else's attempt is a
    /// refusal on the audit trail, so the API cannot be used to learn department names.
    async fn department_for(
        &self,
        actor: &Actor,
        name: Option<&str>,
        target: &str,
    ) -> Result<Option<Option<DepartmentId>>, IdentityError> {
        let Some(name) = name else {
            return Ok(None);
        };
        if name.trim().is_empty() {
            return Ok(Some(None));
        }
        let found = self
            .store
            .read()
            .await?
            .find_department_by_name(name)
            .await?;
        match found {
            Some(d) => Ok(Some(Some(d.id))),
            None => {
                self.directory
                    .require(actor, Permission::ManageResources, target)
                    .await?;
                Err(IdentityError::NotFound(format!(
                    "no department named '{}'; create it with `carepost department create`",
                    name.trim()
                )))
            }
        }
    }

    async fn delegates_of(
        tx: &mut Tx,
        addresses: &[String],
    ) -> Result<Vec<AccountId>, IdentityError> {
        if addresses.len() > MAX_DELEGATES {
            return Err(invalid(format!(
                "a resource has at most {MAX_DELEGATES} delegates"
            )));
        }
        let mut out = Vec::new();
        for a in addresses {
            let address = a.trim().to_lowercase();
            let row = tx
                .find_account_by_address(&address)
                .await?
                .filter(|r| r.status == "active")
                .ok_or_else(|| {
                    IdentityError::NotFound(format!("no active account has the address {address}"))
                })?;
            out.push(row.id);
        }
        Ok(out)
    }

    async fn delegate_addresses(tx: &mut Tx, id: i64) -> Result<Vec<String>, IdentityError> {
        let mut out = Vec::new();
        for d in tx.resource_delegates(id).await? {
            if let Some(row) = tx.find_account(d).await? {
                out.push(row.primary_address);
            }
        }
        Ok(out)
    }

    async fn found(tx: &mut Tx, address: &str) -> Result<ResourceRow, IdentityError> {
        let address = address.trim().to_lowercase();
        tx.find_resource(&address).await?.ok_or_else(|| {
            IdentityError::NotFound(format!("no resource has the address {address}"))
        })
    }

    async fn view(tx: &mut Tx, row: ResourceRow) -> Result<Resource, IdentityError> {
        let delegates = Self::delegate_addresses(tx, row.id).await?;
        let departments = tx.list_departments().await?;
        Ok(to_resource(row, &departments, delegates))
    }

    /// Creates a resource. IT, or a supervisor of the department it belongs to.
    pub async fn create(
        &self,
        actor: &Actor,
        spec: &ResourceSpec,
    ) -> Result<Resource, IdentityError> {
        let config = self.directory.config();
        let name = spec.name.as_deref().map(str::trim).unwrap_or_default();
        let address = match &spec.address {
            Some(a) => Address::parse(a).map_err(|e| invalid(e.to_string()))?,
            None => address_from_name(name, config.organization.domain.as_str())?,
        };
        let target = format!("resource:{address}");
        if !config.domains().any(|d| d == address.domain()) {
            return Err(invalid(format!(
                "{address} is not in one of the organization's domains"
            )));
        }
        if self
            .directory
            .policy()
            .is_reserved(address.local().as_str())
        {
            return Err(invalid(format!(
                "'{}' is a reserved name and cannot be a resource",
                address.local()
            )));
        }
        let department = self
            .department_for(actor, spec.department.as_deref(), &target)
            .await?;
        self.directory
            .require_within(
                actor,
                Permission::ManageResources,
                department.flatten(),
                &target,
            )
            .await?;
        // Choosing an address is IT's (a supervisor's resource takes the name's).
        if spec.address.is_some() {
            self.directory
                .require(actor, Permission::ManageAccounts, &target)
                .await?;
        }
        let now = self.clock.now();
        let mut row = ResourceRow {
            id: 0,
            address: address.to_string(),
            name: String::new(),
            kind: "room".into(),
            department_id: None,
            capacity: None,
            bookable_by: "everyone".into(),
            max_minutes: None,
            window_days: DEFAULT_WINDOW_DAYS,
            created_at: now,
            updated_at: now,
        };
        if name.is_empty() {
            return Err(invalid("a resource needs a name"));
        }
        apply(&mut row, spec, department)?;
        let mut tx = self.store.begin().await?;
        let delegates =
            Self::delegates_of(&mut tx, spec.delegates.as_deref().unwrap_or_default()).await?;
        if !tx.claim_resource_address(&row.address, now).await? {
            return Err(IdentityError::Conflict(format!("{address} is taken")));
        }
        row.id = tx.insert_resource(&row).await?;
        tx.set_resource_delegates(row.id, &delegates).await?;
        let event = self
            .event(actor, action::RESOURCE_CREATE, &target)
            .with_details(json!({ "name": row.name, "kind": row.kind,
                "department": spec.department, "bookable_by": row.bookable_by,
                "delegates": delegates.len() }));
        tx.append_audit(&event).await?;
        let view = Self::view(&mut tx, row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Changes what `spec` gives. The actor must manage the resource where it is and, when it
    /// moves, where it goes.
    pub async fn update(
        &self,
        actor: &Actor,
        address: &str,
        spec: &ResourceSpec,
    ) -> Result<Resource, IdentityError> {
        if spec.address.is_some() {
            return Err(invalid(
                "a resource keeps its address: remove it and create another",
            ));
        }
        let mut row = Self::found(&mut self.store.read().await?, address).await?;
        let target = format!("resource:{}", row.address);
        self.directory
            .require_within(
                actor,
                Permission::ManageResources,
                row.department_id,
                &target,
            )
            .await?;
        let department = self
            .department_for(actor, spec.department.as_deref(), &target)
            .await?;
        if let Some(to) = department
            && to != row.department_id
        {
            self.directory
                .require_within(actor, Permission::ManageResources, to, &target)
                .await?;
        }
        let seen = row.updated_at;
        let from = row.department_id;
        apply(&mut row, spec, department)?;
        row.updated_at = UnixMillis(self.clock.now().0.max(seen.0 + 1));
        let mut tx = self.store.begin().await?;
        // Written only over the row the checks saw: a change in between (a move by IT) makes
        // this one start again rather than undo it.
        if !tx.update_resource(&row, seen).await? {
            return Err(IdentityError::Conflict(format!(
                "{} changed meanwhile: look again and repeat the change",
                row.address
            )));
        }
        if let Some(d) = &spec.delegates {
            let ids = Self::delegates_of(&mut tx, d).await?;
            tx.set_resource_delegates(row.id, &ids).await?;
        }
        let event = self
            .event(actor, action::RESOURCE_UPDATE, &target)
            .with_details(json!({ "name": row.name, "kind": row.kind,
                "department_before": from.map(|d| d.0), "department": row.department_id.map(|d| d.0),
                "bookable_by": row.bookable_by, "max_minutes": row.max_minutes,
                "window_days": row.window_days, "delegates": spec.delegates }));
        tx.append_audit(&event).await?;
        let view = Self::view(&mut tx, row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Removes a resource and its bookings; its address is quarantined like any address given
    /// up. Meetings that booked it keep it as an attendee that no longer answers.
    pub async fn remove(&self, actor: &Actor, address: &str) -> Result<(), IdentityError> {
        let row = Self::found(&mut self.store.read().await?, address).await?;
        let target = format!("resource:{}", row.address);
        self.directory
            .require_within(
                actor,
                Permission::ManageResources,
                row.department_id,
                &target,
            )
            .await?;
        let until = self
            .clock
            .now()
            .plus(self.directory.config().address.quarantine);
        let mut tx = self.store.begin().await?;
        // Removed only as the check saw it: moved meanwhile, it is checked again.
        if Self::found(&mut tx, &row.address).await?.updated_at != row.updated_at {
            return Err(IdentityError::Conflict(format!(
                "{} changed meanwhile: look again and repeat the removal",
                row.address
            )));
        }
        tx.delete_resource(row.id).await?;
        tx.release_address(&row.address, until).await?;
        let event = self
            .event(actor, action::RESOURCE_REMOVE, &target)
            .with_details(json!({ "name": row.name, "quarantined_until": until.to_rfc3339() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every resource: what staff may book is no secret inside the organization.
    pub async fn list(&self) -> Result<Vec<Resource>, IdentityError> {
        let mut tx = self.store.read().await?;
        let mut out = Vec::new();
        for row in tx.list_resources().await? {
            out.push(Self::view(&mut tx, row).await?);
        }
        Ok(out)
    }

    pub async fn show(&self, address: &str) -> Result<Resource, IdentityError> {
        let mut tx = self.store.read().await?;
        let row = Self::found(&mut tx, address).await?;
        Self::view(&mut tx, row).await
    }

    /// Whether `actor` may see and answer the bookings of `row`: one of its delegates, or
    /// someone who manages it (refusals audited).
    async fn may_answer(&self, actor: &Actor, row: &ResourceRow) -> Result<(), IdentityError> {
        if let Some(account) = actor.who.account_id() {
            let mut tx = self.store.read().await?;
            if tx.resource_delegates(row.id).await?.contains(&account) {
                return Ok(());
            }
        }
        self.directory
            .require_within(
                actor,
                Permission::ManageResources,
                row.department_id,
                &format!("resource:{}", row.address),
            )
            .await
    }

    /// The bookings of a resource (those in `status` when one is named), soonest first: for
    /// its delegates and managers, since they name meetings and organizers.
    pub async fn bookings(
        &self,
        actor: &Actor,
        address: &str,
        status: Option<&str>,
    ) -> Result<Vec<Booking>, IdentityError> {
        let row = Self::found(&mut self.store.read().await?, address).await?;
        self.may_answer(actor, &row).await?;
        let mut tx = self.store.read().await?;
        let rows = tx.bookings(row.id, status, MAX_LISTED).await?;
        let mut out = Vec::new();
        for b in rows {
            out.push(Self::booking_view(&mut tx, &row, b).await?);
        }
        Ok(out)
    }

    /// Bookings waiting for `actor` as a delegate, over every resource they approve for.
    pub async fn waiting_for(&self, actor: &Actor) -> Result<Vec<Booking>, IdentityError> {
        let Some(account) = actor.who.account_id() else {
            return Ok(Vec::new());
        };
        let mut tx = self.store.read().await?;
        let mut out = Vec::new();
        for r in tx.delegated_resources(account).await? {
            for b in tx.bookings(r.id, Some("pending"), MAX_LISTED).await? {
                out.push(Self::booking_view(&mut tx, &r, b).await?);
            }
        }
        Ok(out)
    }

    async fn booking_view(
        tx: &mut Tx,
        r: &ResourceRow,
        b: BookingRow,
    ) -> Result<Booking, IdentityError> {
        let organizer = tx
            .find_account(b.organizer_id)
            .await?
            .map(|a: AccountRow| a.primary_address)
            .unwrap_or_default();
        Ok(Booking {
            id: b.id,
            resource: r.address.clone(),
            uid: b.uid,
            organizer,
            summary: b.summary,
            status: b.status,
            reason: b.reason,
            starts_at: rfc3339(b.starts_at),
            ends_at: rfc3339(b.ends_at),
        })
    }

    /// A delegate's (or manager's) answer to booking `id`: approving accepts one that waits;
    /// declining frees its slots, whether it waits or was accepted (a room closed for
    /// repair), and `note` is the reason the organizer reads. The organizer's copy of the
    /// meeting takes the answer, their inbox a REPLY; the answer stands over re-saves.
    pub async fn answer(
        &self,
        actor: &Actor,
        address: &str,
        id: i64,
        approve: bool,
        note: Option<&str>,
    ) -> Result<Booking, IdentityError> {
        let row = Self::found(&mut self.store.read().await?, address).await?;
        self.may_answer(actor, &row).await?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().any(char::is_control) || n.chars().count() > 500) {
            return Err(invalid(
                "a reason is at most 500 characters, without control characters",
            ));
        }
        let answerable = |b: &BookingRow| match approve {
            true => b.status == "pending",
            false => b.status != "declined",
        };
        let current = self
            .store
            .read()
            .await?
            .booking_by_id(row.id, id)
            .await?
            .ok_or_else(|| {
                IdentityError::NotFound(format!("{} has no booking {id}", row.address))
            })?;
        if !answerable(&current) {
            return Err(IdentityError::Conflict(format!(
                "that booking is {} already",
                current.status
            )));
        }
        let who = actor.who.to_string();
        let answer = match approve {
            true => Answer::Accepted,
            false => {
                Answer::Declined(note.map_or_else(|| format!("declined by {who}"), str::to_string))
            }
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        // The organizer's calendar first, then the resource: the order of the organizer's
        // own writes, so the two never wait on each other.
        schedule::resource_answered(
            &mut tx,
            current.organizer_id,
            &row.address,
            &current.uid,
            &answer,
            now.0,
        )
        .await
        .map_err(dav_to_identity)?;
        if !tx.lock_resource(row.id).await? {
            return Err(IdentityError::NotFound(format!(
                "no resource has the address {}",
                row.address
            )));
        }
        let mut b = match tx.booking_by_id(row.id, id).await? {
            Some(b) if answerable(&b) && b.updated_at == current.updated_at => b,
            _ => {
                return Err(IdentityError::Conflict(
                    "the booking changed meanwhile: look again".into(),
                ));
            }
        };
        b.status = answer.status().to_string();
        b.reason = answer.reason().to_string();
        b.decided_by = who;
        b.updated_at = now;
        tx.answer_booking(&b).await?;
        let target = format!("resource:{}", row.address);
        let event = self
            .event(actor, action::RESOURCE_ANSWER, &target)
            .with_details(json!({ "uid": b.uid, "status": b.status, "reason": b.reason }));
        tx.append_audit(&event).await?;
        let view = Self::booking_view(&mut tx, &row, b).await?;
        tx.commit().await?;
        Ok(view)
    }
}

fn dav_to_identity(e: DavError) -> IdentityError {
    match e {
        DavError::Store(s) => IdentityError::Store(s),
        other => IdentityError::Invalid(other.to_string()),
    }
}
