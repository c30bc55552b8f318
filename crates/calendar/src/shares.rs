//! Sharing and delegation: an owner shares one calendar read-only or read-write with a
//! colleague or a department (an on-call rota), makes an assistant a delegate who manages
//! every calendar of theirs and answers invitations for them (the answers say SENT-BY), and
//! may publish a calendar as a read-only feed at a secret, revocable URL where the policy
//! allows it. Each change is on the audit trail.
//!
//! This is the one place that decides whether an account reaches a calendar it does not
//! own: a shared calendar appears in the grantee's own calendar home as `shared-ID`, and is
//! reached only through `Calendars::calendar`, which asks `reach` here. Whatever path a client
//! builds, a calendar nobody shared with it is "not found", exactly like one that does not
//! exist.

use crate::{CALENDAR, Calendars, Collection, DavError};
use carepost_audit::{Actor as Who, NewEvent, action};
use carepost_store::{
    AccountRow, AuditRepo, CollectionRow, DavRepo, DirectoryRepo, ShareRepo, ShareRow, Tx,
};
use carepost_types::{AccountId, DepartmentId};
use serde::Serialize;
use serde_json::json;
use sha2::Digest;

/// The path segment a shared calendar has in a grantee's home: `shared-` and its id.
pub const SHARED_PREFIX: &str = "shared-";
/// Shares one calendar may have, and assistants one person.
const MAX_SHARES: usize = 200;
const MAX_DELEGATES: usize = 20;

/// What a grantee may do with a calendar shared with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }

    pub fn parse(text: &str) -> Result<Access, DavError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" | "read-only" => Ok(Access::Read),
            "write" | "read-write" => Ok(Access::Write),
            other => Err(DavError::Invalid(format!(
                "'{other}' is not an access: read or write"
            ))),
        }
    }
}

/// How the signed-in account reaches a calendar that is not its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The owner's address.
    pub owner: String,
    pub access: Access,
    /// The account that reaches it, and its address.
    pub by: AccountId,
    pub by_address: String,
    /// Through a delegation: the assistant acts for the owner (answers say SENT-BY).
    pub delegate: bool,
}

/// Whom a calendar is shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// An account, by address.
    Account(String),
    /// Everyone in a department and below, by name.
    Department(String),
}

impl Grantee {
    /// `department:NAME` or an address, as the API and the CLI take them.
    pub fn parse(text: &str) -> Grantee {
        match text.trim().strip_prefix("department:") {
            Some(name) => Grantee::Department(name.trim().to_string()),
            None => Grantee::Account(text.trim().to_string()),
        }
    }
}

/// A share as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareInfo {
    pub id: i64,
    /// The calendar's path segment and name.
    pub calendar: String,
    pub calendar_name: String,
    /// An address, or `department:NAME`.
    pub grantee: String,
    pub access: Access,
}

/// A calendar shared with someone, as they see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedCalendar {
    /// Its path segment in the grantee's home (`shared-ID`).
    pub slug: String,
    pub name: String,
    pub owner: String,
    pub access: Access,
    /// Reached through a delegation rather than a share.
    pub delegate: bool,
}

/// The departments whose shares reach someone in `department`: it and those above it.
async fn chain(tx: &mut Tx, department: DepartmentId) -> Result<Vec<DepartmentId>, DavError> {
    let all = tx.list_departments().await?;
    let mut out = Vec::new();
    let mut at = Some(department);
    while let Some(d) = at {
        if out.contains(&d) {
            break;
        }
        out.push(d);
        at = all.iter().find(|r| r.id == d).and_then(|r| r.parent_id);
    }
    Ok(out)
}

fn invalid(why: impl Into<String>) -> DavError {
    DavError::Invalid(why.into())
}

/// The SHA-256 of a feed token, as kept.
fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The best access `account` (in `departments`, its department and those above) has to `c`
/// (another's calendar), if any: as a delegate of its owner, or by a share to it or to one
/// of its departments. Both must be active: a leaver's calendar is nobody's to read, and a
/// leaver reads nobody's. A locked owner's stays open to their assistant and colleagues.
async fn reach(
    tx: &mut Tx,
    account: &AccountRow,
    departments: &[DepartmentId],
    c: &CollectionRow,
) -> Result<Option<(Access, bool)>, DavError> {
    if c.account_id == account.id || c.kind != CALENDAR || account.status != "active" {
        return Ok(None);
    }
    if !tx
        .find_account(c.account_id)
        .await?
        .is_some_and(|o| matches!(o.status.as_str(), "active" | "locked"))
    {
        return Ok(None);
    }
    if tx.delegating_to(account.id).await?.contains(&c.account_id) {
        return Ok(Some((Access::Write, true)));
    }
    let best = tx
        .shares_of(c.id)
        .await?
        .iter()
        .filter(|s| {
            s.grantee_account_id == Some(account.id)
                || s.grantee_department_id
                    .is_some_and(|d| departments.contains(&d))
        })
        .filter_map(|s| Access::parse(&s.access).ok())
        .max();
    Ok(best.map(|a| (a, false)))
}

impl Calendars {
    fn audit(&self, who: &Who, what: &'static str, target: String) -> NewEvent {
        NewEvent::success(self.clock.now(), who, what, target)
    }

    async fn account(tx: &mut Tx, id: AccountId) -> Result<AccountRow, DavError> {
        tx.find_account(id).await?.ok_or(DavError::NotFound)
    }

    /// Another's calendar `id` as `account` reaches it, or `NotFound`.
    pub(crate) async fn shared_calendar(
        &self,
        account: AccountId,
        id: i64,
    ) -> Result<Collection, DavError> {
        let mut read = self.store.read().await?;
        let me = Self::account(&mut read, account).await?;
        let Some(row) = read.dav_collection_by_id(id).await? else {
            return Err(DavError::NotFound);
        };
        let departments = chain(&mut read, me.department_id).await?;
        let Some((access, delegate)) = reach(&mut read, &me, &departments, &row).await? else {
            return Err(DavError::NotFound);
        };
        let owner = Self::account(&mut read, row.account_id).await?;
        Ok(shared_view(row, &owner, &me, access, delegate))
    }

    /// The calendars of others that `account` reaches, as its home lists them.
    pub async fn shared_with(&self, account: AccountId) -> Result<Vec<Collection>, DavError> {
        let mut read = self.store.read().await?;
        let me = Self::account(&mut read, account).await?;
        if me.status != "active" {
            return Ok(Vec::new());
        }
        let mut ids: Vec<i64> = Vec::new();
        for owner in read.delegating_to(account).await? {
            for c in read.dav_collections(owner).await? {
                ids.push(c.id);
            }
        }
        let departments = chain(&mut read, me.department_id).await?;
        for s in read.shares_for(account, &departments).await? {
            ids.push(s.collection_id);
        }
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            let Some(row) = read.dav_collection_by_id(id).await? else {
                continue;
            };
            let Some((access, delegate)) = reach(&mut read, &me, &departments, &row).await? else {
                continue;
            };
            let owner = Self::account(&mut read, row.account_id).await?;
            out.push(shared_view(row, &owner, &me, access, delegate));
        }
        Ok(out)
    }

    /// The same, in words for a page or the API.
    pub async fn shared_list(&self, account: AccountId) -> Result<Vec<SharedCalendar>, DavError> {
        Ok(self
            .shared_with(account)
            .await?
            .into_iter()
            .filter_map(|c| {
                let s = c.shared?;
                Some(SharedCalendar {
                    slug: c.slug,
                    name: c.display_name,
                    owner: s.owner,
                    access: s.access,
                    delegate: s.delegate,
                })
            })
            .collect())
    }

    /// Shares `owner`'s calendar `slug` with `grantee` (again: with the new access).
    pub async fn share(
        &self,
        who: &Who,
        owner: AccountId,
        slug: &str,
        grantee: &Grantee,
        access: Access,
    ) -> Result<ShareInfo, DavError> {
        let c = self.collection(owner, slug).await?;
        if c.kind != crate::Kind::Calendar {
            return Err(invalid("only calendars and task lists are shared"));
        }
        let mut tx = self.store.begin().await?;
        let (account, department, name) = match grantee {
            Grantee::Account(address) => {
                let address = address.trim().to_lowercase();
                let row = tx
                    .find_account_by_address(&address)
                    .await?
                    .filter(|a| a.status == "active")
                    .ok_or_else(|| {
                        invalid(format!("no active account has the address {address}"))
                    })?;
                if row.id == owner {
                    return Err(invalid("the calendar is yours already"));
                }
                (Some(row.id), None, row.primary_address)
            }
            Grantee::Department(name) => {
                let d = tx
                    .find_department_by_name(name)
                    .await?
                    .ok_or_else(|| invalid(format!("no department named '{}'", name.trim())))?;
                (None, Some(d.id), format!("department:{}", d.name))
            }
        };
        if tx.shares_of(c.id).await?.len() >= MAX_SHARES {
            return Err(invalid(format!(
                "a calendar is shared with at most {MAX_SHARES} people and departments"
            )));
        }
        let id = tx
            .put_share(&ShareRow {
                id: 0,
                collection_id: c.id,
                grantee_account_id: account,
                grantee_department_id: department,
                access: access.as_str().to_string(),
                created_at: self.clock.now(),
            })
            .await?;
        let owner_row = Self::account(&mut tx, owner).await?;
        let event = self
            .audit(
                who,
                action::CALENDAR_SHARE,
                format!("calendar:{}/{}", owner_row.primary_address, c.slug),
            )
            .with_details(json!({ "share": id, "grantee": name, "access": access.as_str() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(ShareInfo {
            id,
            calendar: c.slug,
            calendar_name: c.display_name,
            grantee: name,
            access,
        })
    }

    /// Ends share `id`: its owner may, and so may the account it was made to (leaving it).
    pub async fn unshare(&self, who: &Who, account: AccountId, id: i64) -> Result<(), DavError> {
        let mut tx = self.store.begin().await?;
        let Some(share) = tx.share(id).await? else {
            return Err(DavError::NotFound);
        };
        let Some(c) = tx.dav_collection_by_id(share.collection_id).await? else {
            return Err(DavError::NotFound);
        };
        if c.account_id != account && share.grantee_account_id != Some(account) {
            return Err(DavError::NotFound);
        }
        tx.delete_share(id).await?;
        let owner = Self::account(&mut tx, c.account_id).await?;
        let grantee = match (share.grantee_account_id, share.grantee_department_id) {
            (Some(a), _) => tx.find_account(a).await?.map(|r| r.primary_address),
            (None, Some(d)) => tx
                .list_departments()
                .await?
                .into_iter()
                .find(|r| r.id == d)
                .map(|r| format!("department:{}", r.name)),
            _ => None,
        };
        let event = self
            .audit(
                who,
                action::CALENDAR_UNSHARE,
                format!("calendar:{}/{}", owner.primary_address, c.slug),
            )
            .with_details(json!({ "share": id, "grantee": grantee }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The shares of `owner`'s calendars.
    pub async fn shares(&self, owner: AccountId) -> Result<Vec<ShareInfo>, DavError> {
        let mut read = self.store.read().await?;
        let departments = read.list_departments().await?;
        let collections = read.dav_collections(owner).await?;
        let mut out = Vec::new();
        for s in read.shares_by_owner(owner).await? {
            let Some(c) = collections.iter().find(|c| c.id == s.collection_id) else {
                continue;
            };
            let grantee = match (s.grantee_account_id, s.grantee_department_id) {
                (Some(a), _) => match read.find_account(a).await? {
                    Some(row) => row.primary_address,
                    None => continue,
                },
                (None, Some(d)) => match departments.iter().find(|r| r.id == d) {
                    Some(row) => format!("department:{}", row.name),
                    None => continue,
                },
                (None, None) => continue,
            };
            out.push(ShareInfo {
                id: s.id,
                calendar: c.slug.clone(),
                calendar_name: c.display_name.clone(),
                grantee,
                access: Access::parse(&s.access).unwrap_or(Access::Read),
            });
        }
        Ok(out)
    }

    /// Makes `delegate` (an address) an assistant of `owner`: they manage every calendar of
    /// the owner's and answer invitations for them.
    pub async fn add_delegate(
        &self,
        who: &Who,
        owner: AccountId,
        delegate: &str,
    ) -> Result<String, DavError> {
        let address = delegate.trim().to_lowercase();
        let mut tx = self.store.begin().await?;
        let row = tx
            .find_account_by_address(&address)
            .await?
            .filter(|a| a.status == "active")
            .ok_or_else(|| invalid(format!("no active account has the address {address}")))?;
        if row.id == owner {
            return Err(invalid("one cannot be one's own delegate"));
        }
        if tx.calendar_delegates(owner).await?.len() >= MAX_DELEGATES {
            return Err(invalid(format!("at most {MAX_DELEGATES} delegates")));
        }
        tx.add_calendar_delegate(owner, row.id, self.clock.now())
            .await?;
        let owner_row = Self::account(&mut tx, owner).await?;
        let event = self
            .audit(
                who,
                action::CALENDAR_DELEGATE,
                format!("account:{}", owner_row.primary_address),
            )
            .with_details(json!({ "delegate": row.primary_address }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(row.primary_address)
    }

    /// The account holding `address` (a delegation is ended by naming the other side).
    pub async fn account_by_address(&self, address: &str) -> Result<AccountId, DavError> {
        let mut read = self.store.read().await?;
        read.find_account_by_address(&address.trim().to_lowercase())
            .await?
            .map(|a| a.id)
            .ok_or(DavError::NotFound)
    }

    /// Ends a delegation: the owner may, and so may the delegate (stepping down).
    pub async fn remove_delegate(
        &self,
        who: &Who,
        owner: AccountId,
        delegate: AccountId,
    ) -> Result<(), DavError> {
        let mut tx = self.store.begin().await?;
        if !tx.remove_calendar_delegate(owner, delegate).await? {
            return Err(DavError::NotFound);
        }
        let owner_row = Self::account(&mut tx, owner).await?;
        let delegate_row = Self::account(&mut tx, delegate).await?;
        let event = self
            .audit(
                who,
                action::CALENDAR_UNDELEGATE,
                format!("account:{}", owner_row.primary_address),
            )
            .with_details(json!({ "delegate": delegate_row.primary_address }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The assistants of `owner`, and whose assistant `owner` is: (account, address) each.
    pub async fn delegations(
        &self,
        owner: AccountId,
    ) -> Result<(Vec<(AccountId, String)>, Vec<(AccountId, String)>), DavError> {
        let mut read = self.store.read().await?;
        let mut named = Vec::new();
        for (list, ids) in [
            (0, read.calendar_delegates(owner).await?),
            (1, read.delegating_to(owner).await?),
        ] {
            let mut out = Vec::new();
            for id in ids {
                if let Some(a) = read.find_account(id).await? {
                    out.push((id, a.primary_address));
                }
            }
            named.push((list, out));
        }
        let theirs = named.pop().map(|n| n.1).unwrap_or_default();
        let mine = named.pop().map(|n| n.1).unwrap_or_default();
        Ok((mine, theirs))
    }

    /// Publishes `owner`'s calendar `slug` as a read-only feed; the token of its secret URL,
    /// shown once (a new one replaces the old, which stops working). Refused unless the
    /// policy allows feeds.
    pub async fn publish(
        &self,
        who: &Who,
        owner: AccountId,
        slug: &str,
        allowed: bool,
        token: &str,
    ) -> Result<(), DavError> {
        if !allowed {
            return Err(DavError::Forbidden(
                "publishing calendars is turned off by the organization's policy".into(),
            ));
        }
        let c = self.collection(owner, slug).await?;
        if c.kind != crate::Kind::Calendar {
            return Err(invalid("only calendars are published"));
        }
        let mut tx = self.store.begin().await?;
        tx.put_feed(c.id, &token_hash(token), self.clock.now())
            .await?;
        let owner_row = Self::account(&mut tx, owner).await?;
        let event = self.audit(
            who,
            action::CALENDAR_PUBLISH,
            format!("calendar:{}/{}", owner_row.primary_address, c.slug),
        );
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stops the feed of `owner`'s calendar `slug`.
    pub async fn unpublish(&self, who: &Who, owner: AccountId, slug: &str) -> Result<(), DavError> {
        let c = self.collection(owner, slug).await?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_feed(c.id).await? {
            return Err(DavError::NotFound);
        }
        let owner_row = Self::account(&mut tx, owner).await?;
        let event = self.audit(
            who,
            action::CALENDAR_UNPUBLISH,
            format!("calendar:{}/{}", owner_row.primary_address, c.slug),
        );
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The slugs of `owner`'s published calendars.
    pub async fn published(&self, owner: AccountId) -> Result<Vec<String>, DavError> {
        let mut read = self.store.read().await?;
        let ids = read.feeds_by_owner(owner).await?;
        Ok(read
            .dav_collections(owner)
            .await?
            .into_iter()
            .filter(|c| ids.contains(&c.id))
            .map(|c| c.slug)
            .collect())
    }

    /// The feed behind `token` as one iCalendar file, while the policy allows feeds and the
    /// owner is active; `NotFound` otherwise, for a wrong token as for a revoked one.
    /// Private and confidential events show as busy only.
    pub async fn feed(&self, token: &str, allowed: bool) -> Result<String, DavError> {
        if !allowed || token.len() < 20 || token.len() > 100 {
            return Err(DavError::NotFound);
        }
        let mut read = self.store.read().await?;
        let Some(id) = read.feed_collection(&token_hash(token)).await? else {
            return Err(DavError::NotFound);
        };
        let Some(c) = read.dav_collection_by_id(id).await? else {
            return Err(DavError::NotFound);
        };
        let owner = Self::account(&mut read, c.account_id).await?;
        if owner.status != "active" {
            return Err(DavError::NotFound);
        }
        let objects = read.dav_objects(c.id).await?;
        Ok(crate::ical::merge_parsed(
            objects
                .iter()
                .filter_map(|o| crate::ical::without_private(&o.data)),
        ))
    }
}

/// What the signed-in account may do with a collection it reaches.
impl Collection {
    /// Refuses a write to a calendar shared read-only.
    pub(crate) fn writable(&self) -> Result<(), DavError> {
        match &self.shared {
            Some(s) if s.access == Access::Read => Err(DavError::Forbidden(
                "this calendar is shared with you read-only".into(),
            )),
            _ => Ok(()),
        }
    }

    /// A colleague it is shared with (not a delegate): they see private events as busy, and
    /// may not change meetings or private events.
    pub(crate) fn grantee_only(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| !s.delegate)
    }

    /// An object as the signed-in account sees it (`grantee_only`: private ones as busy,
    /// with the ETag of what is shown).
    pub(crate) fn shown(&self, r: carepost_store::DavObjectRow) -> crate::DavObject {
        let mut o = crate::DavObject::from_row(r);
        if self.grantee_only()
            && let Some(busy) = crate::ical::private_as_busy(&o.data)
        {
            o.etag = crate::etag_of(&busy);
            o.size = busy.len();
            o.data = busy;
        }
        o
    }

    /// Refuses a grantee's write that would act for the owner (a meeting: invitations,
    /// answers and room bookings are the owner's and their delegates') or touch a private
    /// event, and a UID the owner keeps in another calendar.
    pub(crate) async fn grantee_may_write(
        &self,
        tx: &mut carepost_store::Tx,
        old: Option<&str>,
        new: Option<&str>,
        uid: Option<&str>,
    ) -> Result<(), DavError> {
        if !self.grantee_only() {
            return Ok(());
        }
        let refused = |why: &str| Err(DavError::Forbidden(why.to_string()));
        for text in [old, new].into_iter().flatten() {
            if crate::ical::is_meeting(text) {
                return refused(
                    "meetings in a shared calendar are changed by its owner or their delegates",
                );
            }
            if crate::ical::private_as_busy(text).is_some() {
                return refused("private events in a shared calendar are the owner's");
            }
        }
        if let Some(uid) = uid
            && tx
                .dav_calendar_object_by_uid(self.account, uid)
                .await?
                .is_some_and(|o| o.collection_id != self.id)
        {
            return refused("the owner keeps an event with that UID in another calendar");
        }
        Ok(())
    }

    /// Refuses what only the owner may do (rename, delete, share).
    pub(crate) fn owned(&self) -> Result<(), DavError> {
        match &self.shared {
            Some(_) => Err(DavError::Forbidden(
                "only its owner may change or delete this calendar".into(),
            )),
            None => Ok(()),
        }
    }
}

fn shared_view(
    row: CollectionRow,
    owner: &AccountRow,
    me: &AccountRow,
    access: Access,
    delegate: bool,
) -> Collection {
    let mut c = Collection::from_row(row);
    c.slug = format!("{SHARED_PREFIX}{}", c.id);
    c.display_name = format!("{} ({})", c.display_name, owner.primary_address);
    c.shared = Some(Shared {
        owner: owner.primary_address.clone(),
        access,
        by: me.id,
        by_address: me.primary_address.to_lowercase(),
        delegate,
    });
    c
}
