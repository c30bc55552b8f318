//! The organization's directory as a read-only address book that every account sees
//! (CardDAV, RFC 6352): one vCard per active member of staff (name, preferred name, primary
//! address, department, category), made from the directory when asked, never stored. A
//! disabled or deprovisioned person drops out and a renamed one changes, because the sync
//! token is the directory's change number (every write of an account takes the next one, in
//! commit order): the changes since a token are the accounts changed after it, present when
//! active and gone otherwise, a page at a time. A renamed department shows in the cards
//! (ORG) only when each account changes next. Searches (`addressbook-query`) go through the directory's own search index
//! and are then checked exactly against the cards.

use crate::contacts::{CardFilter, card_matches};
use crate::{Calendars, DavError};
use calcard::vcard::{VCard, VCardEntry, VCardParameter, VCardProperty, VCardValue, VCardVersion};
use carepost_store::{AccountFilter, AccountRow, DirectoryRepo};
use carepost_types::AccountId;

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
    let mut data = String::new();
    // Writing into a String cannot fail.
    let _ = VCard { entries }.write_to(&mut data, VCardVersion::V3_0);
    Card {
        name: name_of(a.id),
        etag: crate::etag_of(&data),
        data,
    }
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

    /// What changed after change number `after` (0 for everything), a page at a time.
    pub async fn directory_changes(&self, after: i64) -> Result<DirectoryPage, DavError> {
        let mut read = self.store.read().await?;
        let mut rows = read
            .accounts_changed_after(after, DIRECTORY_PAGE as i64 + 1)
            .await?;
        let more = rows.len() > DIRECTORY_PAGE;
        rows.truncate(DIRECTORY_PAGE);
        let last = match rows.last() {
            Some((seq, _)) => token(*seq),
            // Nothing after it: the token as it is now.
            None => token(read.last_account_change().await?.max(after)),
        };
        let changes = rows
            .iter()
            .map(|(_, r)| {
                if r.status == "active" {
                    DirectoryChange::Present(card(r))
                } else {
                    DirectoryChange::Gone(name_of(r.id))
                }
            })
            .collect();
        Ok((changes, last, more))
    }

    /// One card of the directory by its name.
    pub async fn directory_card(&self, name: &str) -> Result<Card, DavError> {
        let id: i64 = name
            .strip_suffix(".vcf")
            .and_then(|n| n.parse().ok())
            .ok_or(DavError::NotFound)?;
        let mut read = self.store.read().await?;
        read.find_account(AccountId(id))
            .await?
            .filter(|a| a.status == "active")
            .map(|a| card(&a))
            .ok_or(DavError::NotFound)
    }

    /// Active staff in address order, at most `limit` (a listing of the book).
    pub async fn directory_cards(&self, limit: usize) -> Result<Vec<Card>, DavError> {
        let mut read = self.store.read().await?;
        let rows = read
            .list_accounts(&AccountFilter {
                status: Some("active".into()),
                limit: Some(limit.min(DIRECTORY_MAX) as i64),
                ..AccountFilter::default()
            })
            .await?;
        Ok(rows.iter().map(card).collect())
    }

    /// The cards that meet `filters` (all of them, or any), at most `limit`. Each filter's
    /// text narrows the search through the directory index first; a search made only of
    /// negated filters reads the first cards in address order.
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
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
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
        assert_eq!(directory_position(&token(57)), Some(57));
        assert_eq!(directory_position("urn:carepost:sync:1:2"), None);
    }
}
