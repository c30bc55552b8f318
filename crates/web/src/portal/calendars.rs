//! The account's calendar sharing page, `/account/calendars`: its calendars with whom each
//! is shared (read or read-write, with a person or a department) and a form to share one;
//! its assistants (delegates, who manage every calendar and answer invitations for it) and
//! whose assistant it is; the calendars shared with it; and, where the policy allows,
//! publishing a calendar as a feed at a secret URL (shown once, after a fresh second-factor
//! proof, since anyone with the URL reads it). Every change goes through the calendar
//! crate, which records it on the audit trail.

use super::account::{own_item, signed_in};
use super::{Csrf, Gate, PageError, PageResult, org, render, see_other};
use crate::WebState;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use carepost_calendar::{Access, DavError, Grantee, Kind, ShareInfo, SharedCalendar};
use carepost_identity::{IdentityError, Session};
use serde::Deserialize;

/// One own calendar with its shares.
pub(crate) struct CalendarRow {
    pub slug: String,
    pub name: String,
    pub shares: Vec<ShareInfo>,
    pub published: bool,
}

fn who(s: &Session) -> carepost_audit::Actor {
    carepost_audit::Actor::Account {
        id: s.account,
        address: s.address.clone(),
    }
}

/// A refusal the person can correct, on the page; a store failure is an error page.
fn correctable(e: DavError) -> Result<String, PageError> {
    match e {
        DavError::Store(s) => Err(PageError::Identity(IdentityError::Store(s))),
        DavError::NotFound => Ok("there is no such calendar or share".into()),
        other => Ok(other.to_string()),
    }
}

fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "shared" => "The calendar is shared.",
        "unshared" => "The calendar is no longer shared with them.",
        "delegate" => "Your delegate can now manage your calendars and answer invitations for you.",
        "undelegated" => "The delegation has ended.",
        "unpublished" => "The feed is stopped: its address no longer works.",
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
pub struct Said {
    notice: Option<String>,
}

async fn page(
    state: &WebState,
    s: &Session,
    csrf: &Csrf,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    let calendars = &state.calendars;
    let dav = |e: DavError| match e {
        DavError::Store(s) => PageError::Identity(IdentityError::Store(s)),
        other => PageError::Identity(IdentityError::Invalid(other.to_string())),
    };
    let shares = calendars.shares(s.account).await.map_err(dav)?;
    let published = calendars.published(s.account).await.map_err(dav)?;
    let own: Vec<CalendarRow> = calendars
        .home(s.account)
        .await
        .map_err(dav)?
        .into_iter()
        .filter(|c| c.kind == Kind::Calendar)
        .map(|c| CalendarRow {
            shares: shares
                .iter()
                .filter(|sh| sh.calendar == c.slug)
                .cloned()
                .collect(),
            published: published.contains(&c.slug),
            slug: c.slug,
            name: c.display_name,
        })
        .collect();
    let shared: Vec<SharedCalendar> = calendars.shared_list(s.account).await.map_err(dav)?;
    let (delegates, delegating) = calendars.delegations(s.account).await.map_err(dav)?;
    render(
        &super::pages::CalendarsPage {
            org: org(state),
            signed_in_as: Some(s.address.clone()),
            csrf: csrf.token.clone(),
            own,
            shared,
            delegates: delegates.into_iter().map(|d| d.1).collect(),
            delegating: delegating.into_iter().map(|d| d.1).collect(),
            feeds_allowed: state.directory.config().calendar.public_feeds,
            notices,
            error,
        },
        csrf,
    )
}

/// `/calendar`: the day, week and agenda views, invitations to answer and the meeting form,
/// drawn by `assets/calendar.js` from the JSON API.
pub async fn calendar_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (s, _) = match signed_in(&state, &headers, &[Gate::Open]).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    render(
        &super::pages::CalendarPage {
            org: org(&state),
            signed_in_as: Some(s.address.clone()),
            csrf: csrf.token.clone(),
            domain: state.directory.config().organization.domain.to_string(),
        },
        &csrf,
    )
}

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Said>,
) -> PageResult {
    let (s, _) = match signed_in(&state, &headers, &[Gate::Open]).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let notices = q
        .notice
        .as_deref()
        .and_then(notice_text)
        .map(|n| vec![n.to_string()])
        .unwrap_or_default();
    page(&state, &s, &csrf, notices, None).await
}

#[derive(Deserialize)]
pub struct ShareForm {
    csrf: String,
    calendar: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    department: String,
    access: String,
}

pub async fn share(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<ShareForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let grantee = match (f.person.trim(), f.department.trim()) {
        (p, "") if !p.is_empty() => Grantee::Account(p.to_string()),
        ("", d) if !d.is_empty() => Grantee::Department(d.to_string()),
        _ => {
            let e = "name either a person's address or a department".to_string();
            return page(&state, &s, &csrf, Vec::new(), Some(e)).await;
        }
    };
    let done = match Access::parse(&f.access) {
        Ok(access) => {
            state
                .calendars
                .share(&who(&s), s.account, &f.calendar, &grantee, access)
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(see_other("/account/calendars?notice=shared", &[])),
        Err(e) => page(&state, &s, &csrf, Vec::new(), Some(correctable(e)?)).await,
    }
}

#[derive(Deserialize)]
pub struct ShareIdForm {
    csrf: String,
    share: i64,
}

pub async fn unshare(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<ShareIdForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    match state.calendars.unshare(&who(&s), s.account, f.share).await {
        Ok(()) => Ok(see_other("/account/calendars?notice=unshared", &[])),
        Err(e) => page(&state, &s, &csrf, Vec::new(), Some(correctable(e)?)).await,
    }
}

#[derive(Deserialize)]
pub struct DelegateForm {
    csrf: String,
    address: String,
    /// `add`, `remove` (one's own delegate) or `leave` (stepping down as someone's).
    action: String,
}

pub async fn delegate(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<DelegateForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let calendars = &state.calendars;
    // An assistant may change every calendar of the person's and answer for them: a recent
    // proof of the second factor first, as for a feed.
    if f.action == "add" && state.directory.step_up_needed(&s).await? {
        return Ok(super::confirm::confirm_first("/account/calendars"));
    }
    let done = match f.action.as_str() {
        "add" => calendars
            .add_delegate(&who(&s), s.account, &f.address)
            .await
            .map(|_| "delegate"),
        "remove" | "leave" => match calendars.account_by_address(&f.address).await {
            Ok(id) => {
                let (owner, delegate) = match f.action.as_str() {
                    "remove" => (s.account, id),
                    _ => (id, s.account),
                };
                calendars
                    .remove_delegate(&who(&s), owner, delegate)
                    .await
                    .map(|_| "undelegated")
            }
            Err(e) => Err(e),
        },
        _ => Err(DavError::Invalid("choose add, remove or leave".into())),
    };
    match done {
        Ok(notice) => Ok(see_other(
            &format!("/account/calendars?notice={notice}"),
            &[],
        )),
        Err(e) => page(&state, &s, &csrf, Vec::new(), Some(correctable(e)?)).await,
    }
}

#[derive(Deserialize)]
pub struct FeedForm {
    csrf: String,
    calendar: String,
    /// `publish` or `stop`.
    action: String,
}

pub async fn feed(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<FeedForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    if f.action == "stop" {
        return match state
            .calendars
            .unpublish(&who(&s), s.account, &f.calendar)
            .await
        {
            Ok(()) => Ok(see_other("/account/calendars?notice=unpublished", &[])),
            Err(e) => page(&state, &s, &csrf, Vec::new(), Some(correctable(e)?)).await,
        };
    }
    // Anyone with the URL reads the calendar: a recent proof of the second factor first.
    if state.directory.step_up_needed(&s).await? {
        return Ok(super::confirm::confirm_first("/account/calendars"));
    }
    let token = state.directory.new_token();
    let allowed = state.directory.config().calendar.public_feeds;
    match state
        .calendars
        .publish(&who(&s), s.account, &f.calendar, allowed, &token)
        .await
    {
        Ok(()) => {
            let url = format!(
                "{}/calendar-feeds/{token}.ics",
                state
                    .directory
                    .config()
                    .web
                    .public_url
                    .as_str()
                    .trim_end_matches('/')
            );
            super::account::shown_once(
                &state,
                &s,
                &csrf,
                "Your calendar's feed address",
                "Anyone with this address can read the calendar (without attendees; private events show as busy). Stop the feed on the calendar sharing page to make it stop working.",
                vec![url],
            )
        }
        Err(e) => page(&state, &s, &csrf, Vec::new(), Some(correctable(e)?)).await,
    }
}
