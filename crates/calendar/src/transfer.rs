//! Moving a calendar in and out as one iCalendar file (`carepost calendar export|import`),
//! and the audit record of such an administrative access to someone's calendar.

use crate::{Calendars, Collection, Conditions, DavError, ical, schedule};
use carepost_audit::{Actor, NewEvent};
use carepost_store::AuditRepo;

impl Calendars {
    /// Every object of `c` as one iCalendar file, each time zone once (`calendar export`).
    pub async fn export(&self, c: &Collection) -> Result<String, DavError> {
        let objects = self.objects(c).await?;
        Ok(ical::merge(objects.iter().map(|o| o.data.as_str())))
    }

    /// Stores each object of the iCalendar file `ics` (one per UID) in `c` as `UID.ics`,
    /// replacing an object of the same name, without sending invitations: an import moves a
    /// calendar, it does not schedule it again. Returns how many were added and replaced;
    /// stops at the first object the calendar refuses, naming its UID.
    pub async fn import(&self, c: &Collection, ics: &str) -> Result<(usize, usize), DavError> {
        let (mut added, mut replaced) = (0, 0);
        for (uid, text) in ical::split(ics)? {
            let name = schedule::object_name(&uid);
            match self
                .put_with(c, &name, &text, &Conditions::default(), false)
                .await
            {
                Ok((_, true)) => added += 1,
                Ok((_, false)) => replaced += 1,
                Err(DavError::UidConflict(other)) => {
                    return Err(DavError::Invalid(format!(
                        "{uid} is already stored as {other}"
                    )));
                }
                Err(e) => return Err(DavError::Invalid(format!("{uid}: {e}"))),
            }
        }
        Ok((added, replaced))
    }

    /// Puts an administrator's reading or writing of someone's calendar on the audit trail.
    pub async fn record(
        &self,
        actor: &Actor,
        what: &'static str,
        owner: &str,
        details: serde_json::Value,
    ) -> Result<(), DavError> {
        let mut tx = self.store.begin().await?;
        tx.append_audit(
            &NewEvent::success(self.clock.now(), actor, what, format!("account:{owner}"))
                .with_details(details),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
