//! Sharing over DAV: the sharees of an own calendar as Apple's clients read them
//! (calendarserver-sharing's `invite`), and the `share` requests they POST to a calendar to
//! share it or stop sharing it. The rules (who may share what with whom, the audit trail)
//! are the calendar crate's, the same as for the portal.

use super::auth::DavUser;
use super::{dav_error, plain};
use crate::WebState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepost_calendar::DavError;

/// The shares of the signed-in account's calendars.
pub(super) async fn invites_of(
    state: &WebState,
    user: &DavUser,
) -> Result<Vec<carepost_calendar::ShareInfo>, DavError> {
    state.calendars.shares(user.account).await
}

/// The sharees of calendar `slug` (an own one) as `invite` lists them: people only, by
/// `mailto:`, and whether they may write.
pub(super) fn invites_for(
    all: &[carepost_calendar::ShareInfo],
    slug: &str,
    own: bool,
) -> Vec<(String, bool)> {
    all.iter()
        .filter(|s| own && s.calendar == slug && !s.grantee.starts_with("department:"))
        .map(|s| {
            (
                format!("mailto:{}", s.grantee),
                s.access == carepost_calendar::Access::Write,
            )
        })
        .collect()
}

/// Apple's sharing (calendarserver-sharing): a `share` POSTed to an own calendar sets or
/// removes sharees by address, read or read-write. Shares take effect at once (no invitation
/// to accept); each is on the audit trail like one made in the portal.
pub(super) async fn share_post(
    state: &WebState,
    user: &DavUser,
    slug: &str,
    body: &str,
) -> Response {
    let changes = match carepost_proto_dav::parse_share(body) {
        Ok(c) => c,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if changes.len() > 50 {
        return plain(StatusCode::BAD_REQUEST, "at most 50 sharees at once");
    }
    let calendars = &state.calendars;
    let who = carepost_audit::Actor::Account {
        id: user.account,
        address: user.address.clone(),
    };
    for ch in changes {
        let Some(address) = ch
            .href
            .strip_prefix("mailto:")
            .or_else(|| ch.href.strip_prefix("MAILTO:"))
        else {
            return plain(StatusCode::BAD_REQUEST, "name sharees by mailto: address");
        };
        let address = address.trim().to_lowercase();
        let done = match ch.write {
            Some(write) => {
                let access = match write {
                    true => carepost_calendar::Access::Write,
                    false => carepost_calendar::Access::Read,
                };
                calendars
                    .share(
                        &who,
                        user.account,
                        slug,
                        &carepost_calendar::Grantee::Account(address),
                        access,
                    )
                    .await
                    .map(|_| ())
            }
            None => match calendars.shares(user.account).await {
                Ok(all) => match all
                    .iter()
                    .find(|s| s.calendar == slug && s.grantee == address)
                {
                    Some(s) => calendars.unshare(&who, user.account, s.id).await,
                    None => Ok(()),
                },
                Err(e) => Err(e),
            },
        };
        if let Err(e) = done {
            return dav_error(e);
        }
    }
    StatusCode::OK.into_response()
}
