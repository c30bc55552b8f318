//! The organization's directory as a read-only address book that every account sees
//! (CardDAV, RFC 6352): one vCard per active member of staff (name, preferred name, primary
//! address, department, category), per room or piece of equipment and per distribution list,
//! made from the directory when asked, never stored. A disabled or deprovisioned person, or a
//! removed room or list, drops out and a renamed one changes, because the sync token is the
//! directory's change number (every write of an account, resource or list takes the next one
//! in commit order, a removal leaves a numbered tombstone, and a renamed department renumbers
//! the cards that show its name; migrations 0023 and 0026): the changes since a token are the
//! entries changed after it, present or gone, a page at a time. Searches
//! (`addressbook-query`) go through the directory's own search index for people and over
//! every resource and list (hundreds, not hundreds of thousands), then are checked exactly
//! against the cards.

use crate::contacts::{CardFilter, card_matches};
use crate::{Calendars, DavError};
use calcard::vcard::{VCard, VCardEntry, VCardParameter, VCardProperty, VCardValue, VCardVersion};
use carepost_store::{
    AccountFilter, AccountRow, BookRepo, DirectoryRepo, ListRepo, ListRow, ResourceRepo,
    ResourceRow, Tx,
};
use carepost_types::{AccountId, DepartmentId};
use std::collections::HashMap;

/// The path segment of the directory book in every account's address-book home.
pub const DIRECTORY_SLUG: &str = "directory";
/// Changes one sync answer carries at most; the client asks again for the rest.
pub const DIRECTORY_PAGE: usize = 1000;
/// Cards one search or listing answers with at most.
pub const DIRECTORY_MAX: usize = 5000;

/// A card of the directory book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// `ID.vcf`.
    pub name: String,
    pub etag: String,
    pub data: String,
}

/// A change of the directory since a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryChange {
    Present(Card),
    Gone(String),
}

/// The changes after a token, the token of the last one given, and whether more follow.
pub type DirectoryPage = (Vec<DirectoryChange>, String, bool);

fn text(s: &str) -> VCardValue {
    VCardValue::Text(s.to_string())
}

fn name_of(id: AccountId) -> String {
    format!("{}.vcf", id.0)
}

const RESOURCE_PREFIX: &str = "resource-";
const LIST_PREFIX: &str = "list-";

fn resource_name(id: i64) -> String {
    format!("{RESOURCE_PREFIX}{id}.vcf")
}

fn list_name(address: &str) -> String {
    format!("{LIST_PREFIX}{address}.vcf")
}

/// The name of a removed entry's card, from its tombstone.
fn gone_name(kind: &str, reference: &str) -> String {
    match kind {
        "resource" => format!("{RESOURCE_PREFIX}{reference}.vcf"),
        _ => list_name(reference),
    }
}

fn written(entries: Vec<VCardEntry>, name: String) -> Card {
    let mut data = String::new();
    // Writing into a String cannot fail.
    let _ = VCard { entries }.write_to(&mut data, VCardVersion::V3_0);
    Card {
        name,
        etag: crate::etag_of(&data),
        data,
    }
}

/// The entries of a card named by one text (a room, a list): FN, N and the address.
fn named(uid: String, name: &str, address: &str) -> Vec<VCardEntry> {
    vec![
        VCardEntry::new(VCardProperty::Uid).with_value(text(&uid)),
        VCardEntry::new(VCardProperty::Fn).with_value(text(name)),
        VCardEntry::new(VCardProperty::N).with_values(vec![
            text(name),
            text(""),
            text(""),
            text(""),
            text(""),
        ]),
        VCardEntry::new(VCardProperty::Email)
            .with_param(VCardParameter::typ("WORK".to_string()))
            .with_value(text(address)),
    ]
}

/// A room's or a piece of equipment's card: its name and address, its department, and
/// what it is (vCard 4's KIND, which vCard 3 clients pass over, and a category they show).
pub fn resource_card(r: &ResourceRow, department: Option<&str>) -> Card {
    let mut entries = named(
        format!("urn:carepost:resource:{}", r.id),
        &r.name,
        &r.address,
    );
    if let Some(d) = department {
        entries.push(VCardEntry::new(VCardProperty::Org).with_value(text(d)));
    }
    let (kind, category) = if r.kind == "room" {
        ("location", "Room")
    } else {
        ("device", "Equipment")
    };
    entries.push(VCardEntry::new(VCardProperty::Kind).with_value(text(kind)));
    entries.push(VCardEntry::new(VCardProperty::Categories).with_value(text(category)));
    if let Some(c) = r.capacity {
        entries
            .push(VCardEntry::new(VCardProperty::Note).with_value(text(&format!("Capacity {c}"))));
    }
    written(entries, resource_name(r.id))
}

/// A distribution list's card: its name and address. Its members are not listed (who is in
/// a department is the directory's to show, card by card).
pub fn list_card(l: &ListRow) -> Card {
    let mut entries = named(
        format!("urn:carepost:list:{}", l.address),
        &l.name,
        &l.address,
    );
    entries.push(VCardEntry::new(VCardProperty::Categories).with_value(text("Mailing list")));
    written(entries, list_name(&l.address))
}

/// Department names by id, for the resources' cards.
async fn department_names(read: &mut Tx) -> Result<HashMap<DepartmentId, String>, DavError> {
    Ok(read
        .list_departments()
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect())
}

fn resource_card_in(r: &ResourceRow, names: &HashMap<DepartmentId, String>) -> Card {
    resource_card(
        r,
        r.department_id
            .and_then(|d| names.get(&d))
            .map(String::as_str),
    )
}

/// Every resource's and list's card (a listing or a search reads them all).
async fn entry_cards(read: &mut Tx) -> Result<Vec<Card>, DavError> {
    let names = department_names(read).await?;
    let mut out: Vec<Card> = read
        .list_resources()
        .await?
        .iter()
        .map(|r| resource_card_in(r, &names))
        .collect();
    out.extend(read.list_lists().await?.iter().map(list_card));
    Ok(out)
}

/// The vCard (3.0, what every client reads) of an account.
pub fn card(a: &AccountRow) -> Card {
    let shown = a.preferred_name.as_deref().unwrap_or(&a.first_name);
    let mut entries = vec![
        VCardEntry::new(VCardProperty::Uid)
            .with_value(text(&format!("urn:carepost:account:{}", a.id.0))),
        VCardEntry::new(VCardProperty::Fn).with_value(text(&format!("{shown} {}", a.last_name))),
        VCardEntry::new(VCardProperty::N).with_values(vec![
            text(&a.last_name),
            text(&a.first_name),
            text(a.middle_name.as_deref().unwrap_or("")),
            text(""),
            text(""),
        ]),
    ];
    if let Some(p) = &a.preferred_name {
        entries.push(VCardEntry::new(VCardProperty::Nickname).with_value(text(p)));
    }
    entries.push(
        VCardEntry::new(VCardProperty::Email)
            .with_param(VCardParameter::typ("WORK".to_string()))
            .with_value(text(&a.primary_address)),
    );
    entries.push(VCardEntry::new(VCardProperty::Org).with_value(text(&a.department_name)));
    if !a.category.is_empty() {
        entries.push(VCardEntry::new(VCardProperty::Categories).with_value(text(&a.category)));
    }
    written(entries, name_of(a.id))
}

/// The token of directory change number `seq`.
fn token(seq: i64) -> String {
    format!("urn:carepost:directory:{seq}")
}

/// The change number a directory token names; `None` for one it did not issue.
pub fn directory_position(t: &str) -> Option<i64> {
    t.strip_prefix("urn:carepost:directory:")?.parse().ok()
}

impl Calendars {
    /// The directory book's token as it is now (its ctag too).
    pub async fn directory_token(&self) -> Result<String, DavError> {
        let mut read = self.store.read().await?;
        Ok(token(read.last_account_change().await?))
    }

    /// What changed after change number `after` (0 for everything), a page at a time: the
    /// accounts', resources', lists' and tombstones' changes merged by number.
    pub async fn directory_changes(&self, after: i64) -> Result<DirectoryPage, DavError> {
        let mut read = self.store.read().await?;
        let page = DIRECTORY_PAGE as i64 + 1;
        let mut merged: Vec<(i64, DirectoryChange)> = Vec::new();
        for (seq, r) in read.accounts_changed_after(after, page).await? {
            let change = if r.status == "active" {
                DirectoryChange::Present(card(&r))
            } else {
                DirectoryChange::Gone(name_of(r.id))
            };
            merged.push((seq, change));
        }
        let resources = read.resources_changed_after(after, page).await?;
        if !resources.is_empty() {
            let names = department_names(&mut read).await?;
            for (seq, r) in resources {
                merged.push((seq, DirectoryChange::Present(resource_card_in(&r, &names))));
            }
        }
        for (seq, l) in read.lists_changed_after(after, page).await? {
            merged.push((seq, DirectoryChange::Present(list_card(&l))));
        }
        for (seq, kind, reference) in read.book_gone_after(after, page).await? {
            merged.push((seq, DirectoryChange::Gone(gone_name(&kind, &reference))));
        }
        // Each source gave its first page; merged, the first page of all is exact.
        merged.sort_by_key(|(seq, _)| *seq);
        let more = merged.len() > DIRECTORY_PAGE;
        merged.truncate(DIRECTORY_PAGE);
        let last = match merged.last() {
            Some((seq, _)) => token(*seq),
            // Nothing after it: the token as it is now.
            None => token(read.last_account_change().await?.max(after)),
        };
        Ok((merged.into_iter().map(|(_, c)| c).collect(), last, more))
    }

    /// One card of the directory by its name.
    pub async fn directory_card(&self, name: &str) -> Result<Card, DavError> {
        let stem = name.strip_suffix(".vcf").ok_or(DavError::NotFound)?;
        let mut read = self.store.read().await?;
        if let Some(id) = stem.strip_prefix(RESOURCE_PREFIX) {
            let id: i64 = id.parse().map_err(|_| DavError::NotFound)?;
            let names = department_names(&mut read).await?;
            return read
                .list_resources()
                .await?
                .iter()
                .find(|r| r.id == id)
                .map(|r| resource_card_in(r, &names))
                .ok_or(DavError::NotFound);
        }
        if let Some(address) = stem.strip_prefix(LIST_PREFIX) {
            return read
                .find_list(address)
                .await?
                .map(|l| list_card(&l))
                .ok_or(DavError::NotFound);
        }
        let id: i64 = stem.parse().map_err(|_| DavError::NotFound)?;
        read.find_account(AccountId(id))
            .await?
            .filter(|a| a.status == "active")
            .map(|a| card(&a))
            .ok_or(DavError::NotFound)
    }

    /// Resources and lists, then active staff in address order, at most `limit` in all (a
    /// listing of the book).
    pub async fn directory_cards(&self, limit: usize) -> Result<Vec<Card>, DavError> {
        let limit = limit.min(DIRECTORY_MAX);
        let mut read = self.store.read().await?;
        let mut out = entry_cards(&mut read).await?;
        out.truncate(limit);
        let rows = read
            .list_accounts(&AccountFilter {
                status: Some("active".into()),
                limit: Some((limit - out.len()) as i64),
                ..AccountFilter::default()
            })
            .await?;
        out.extend(rows.iter().map(card));
        Ok(out)
    }

    /// The cards that meet `filters` (all of them, or any), at most `limit`: resources and
    /// lists first, then people. Each filter's text narrows the search of people through the
    /// directory index first; a search made only of negated filters reads the first people
    /// in address order.
    pub async fn directory_search(
        &self,
        filters: &[CardFilter],
        all_of: bool,
        limit: usize,
    ) -> Result<Vec<Card>, DavError> {
        let limit = limit.min(DIRECTORY_MAX);
        let mut read = self.store.read().await?;
        let mut texts: Vec<String> = filters
            .iter()
            .filter(|f| !f.negate && !f.text.trim().is_empty())
            .map(|f| f.text.trim().to_lowercase())
            .collect();
        // All of them must hold: the first one's text narrows enough.
        if all_of {
            texts.truncate(1);
        }
        if texts.is_empty() {
            texts.push(String::new());
        }
        let mut out: Vec<Card> = entry_cards(&mut read)
            .await?
            .into_iter()
            .filter(|c| card_matches(&c.data, filters, all_of))
            .take(limit)
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in texts {
            let rows = read
                .list_accounts(&AccountFilter {
                    status: Some("active".into()),
                    query: (!t.is_empty()).then_some(t),
                    limit: Some(DIRECTORY_MAX as i64),
                    ..AccountFilter::default()
                })
                .await?;
            for r in rows {
                if out.len() >= limit {
                    return Ok(out);
                }
                if !seen.insert(r.id) {
                    continue;
                }
                let c = card(&r);
                if card_matches(&c.data, filters, all_of) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepost_types::{DepartmentId, UnixMillis};

    #[test]
    fn a_card_names_the_person_and_escapes_what_it_must() {
        let a = AccountRow {
            id: AccountId(7),
            first_name: "Jane".into(),
            middle_name: None,
            last_name: "Smith, Jr".into(),
            preferred_name: Some("Jo".into()),
            employee_id: "E7".into(),
            category: "nurse".into(),
            department_id: DepartmentId(1),
            department_name: "Cardiology; Ward 3".into(),
            supervisor_id: None,
            supervisor_address: None,
            status: "active".into(),
            primary_address: "jane.smith@kaiser.org".into(),
            created_at: UnixMillis(0),
            updated_at: UnixMillis(5),
        };
        let c = card(&a);
        assert_eq!(c.name, "7.vcf");
        assert!(c.data.contains("FN:Jo Smith\\, Jr"), "{}", c.data);
        assert!(c.data.contains("N:Smith\\, Jr;Jane;;;"), "{}", c.data);
        assert!(
            c.data.contains("EMAIL;TYPE=WORK:jane.smith@kaiser.org"),
            "{}",
            c.data
        );
        assert!(c.data.contains("ORG:Cardiology\\; Ward 3"), "{}", c.data);
        assert_eq!(
            crate::contacts::inspect(&c.data).unwrap(),
            "urn:carepost:account:7"
        );
        assert!(card_matches(
            &c.data,
            &[CardFilter {
                property: "FN".into(),
                text: "SMI".into(),
                match_type: "contains".into(),
                negate: false
            }],
            true
        ));
        let room = ResourceRow {
            id: 3,
            address: "cardiology-room-3@kaiser.org".into(),
            name: "Cardiology Conference Room 3".into(),
            kind: "room".into(),
            department_id: Some(DepartmentId(1)),
            capacity: Some(12),
            bookable_by: "everyone".into(),
            max_minutes: None,
            window_days: 180,
            created_at: UnixMillis(0),
            updated_at: UnixMillis(0),
        };
        let c = resource_card(&room, Some("Cardiology"));
        assert_eq!(c.name, "resource-3.vcf");
        for want in [
            "FN:Cardiology Conference Room 3",
            "EMAIL;TYPE=WORK:cardiology-room-3@kaiser.org",
            "ORG:Cardiology",
            "KIND:location",
            "CATEGORIES:Room",
            "NOTE:Capacity 12",
        ] {
            assert!(c.data.contains(want), "{want} not in {}", c.data);
        }
        assert_eq!(
            crate::contacts::inspect(&c.data).unwrap(),
            "urn:carepost:resource:3"
        );
        let list = ListRow {
            address: "cardiology@kaiser.org".into(),
            name: "Cardiology, all staff".into(),
            department_id: None,
            senders: "communications".into(),
            created_at: UnixMillis(0),
        };
        let c = list_card(&list);
        assert_eq!(c.name, "list-cardiology@kaiser.org.vcf");
        assert!(c.data.contains("FN:Cardiology\\, all staff"), "{}", c.data);
        assert_eq!(gone_name("list", "cardiology@kaiser.org"), c.name);
        assert_eq!(gone_name("resource", "3"), "resource-3.vcf");
        assert_eq!(directory_position(&token(57)), Some(57));
        assert_eq!(directory_position("urn:carepost:sync:1:2"), None);
    }
}
