//! Sync tokens and the change log behind them (RFC 6578): a token names a collection and a
//! change number, and a sync answers what changed after it, a page at a time, so a phone
//! with a large calendar is brought up to date in steps rather than refused.

use crate::{Calendars, Change, Collection, DavError};
use carepost_store::DavRepo;

/// The token for change number `seq` of collection `id`.
pub fn sync_token(id: i64, seq: i64) -> String {
    format!("urn:carepost:sync:{id}:{seq}")
}

/// The change number in a token this collection issued; `None` for another's or a forged one.
pub fn seq_of_token(c: &Collection, token: &str) -> Option<i64> {
    let rest = token.strip_prefix("urn:carepost:sync:")?;
    let (id, seq) = rest.split_once(':')?;
    let seq: i64 = seq.parse().ok()?;
    (id.parse::<i64>().ok()? == c.id && (0..=c.sync_seq).contains(&seq)).then_some(seq)
}

impl Calendars {
    /// What changed after change number `seq` (0: everything there is), oldest change
    /// first and at most `page` of them; the change number the answer brings the client to
    /// (the collection's last, or the last one given when there were more), and whether there
    /// were more (RFC 6578 section 3.6: the client asks again from that token). The objects'
    /// text only `with_data`: most clients sync ETags and fetch what changed by multiget.
    pub async fn changes(
        &self,
        c: &Collection,
        seq: i64,
        page: usize,
        with_data: bool,
    ) -> Result<(Vec<Change>, i64, bool), DavError> {
        let with_data = c.reads_text(with_data);
        let mut read = self.store.read().await?;
        let now = read
            .dav_collection_by_id(c.id)
            .await?
            .ok_or(DavError::NotFound)?
            .sync_seq;
        let page = page.max(1);
        let mut out = Vec::new();
        // One more than a page tells whether there is more.
        let ask = i64::try_from(page).unwrap_or(i64::MAX).saturating_add(1);
        if seq == 0 {
            // Each object's change number is the one its last write logged: in that order a
            // page ends at a number the next question starts after.
            let mut objects = read.dav_objects_after(c.id, 0, ask, with_data).await?;
            let more = objects.len() > page;
            objects.truncate(page);
            let upto = match more {
                true => objects.last().map_or(now, |o| o.modseq),
                false => now,
            };
            out.extend(objects.into_iter().map(|o| Change::Present(c.shown(o))));
            return Ok((out, upto, more));
        }
        let mut since = read.dav_changes_since(c.id, seq, ask).await?;
        let more = since.len() > page;
        since.truncate(page);
        let upto = match more {
            true => since.last().map_or(now, |ch| ch.seq),
            false => now,
        };
        // The objects still there, read together (a multiget's query), answered in the
        // order of their changes.
        let present: Vec<String> = since
            .iter()
            .filter(|ch| !ch.deleted)
            .map(|ch| ch.name.clone())
            .collect();
        let mut found: std::collections::HashMap<String, _> = read
            .dav_objects_named(c.id, &present, with_data)
            .await?
            .into_iter()
            .map(|o| (o.name.clone(), o))
            .collect();
        for ch in since {
            if ch.deleted {
                out.push(Change::Deleted(ch.name));
            } else if let Some(o) = found.remove(&ch.name) {
                out.push(Change::Present(c.shown(o)));
            }
        }
        Ok((out, upto, more))
    }
}
