//! The console's rooms-and-equipment page (IT administrators, and supervisors for their own
//! department subtree): every resource with its rules, a form to create one, removal; and a
//! page per resource with its bookings, where those waiting for a delegate are approved or
//! declined. The permissions are the calendar service's own (`Resources`), which audits every
//! refusal; a rule it refuses is shown on the page to correct.

use super::admin::{staff, staff_acting};
use super::{Csrf, PageError, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use carepost_calendar::{ResourceSpec, minutes_in_words};
use carepost_identity::{Actor, IdentityError};
use serde::Deserialize;

/// A resource as the page shows it.
pub(crate) struct ResourceView {
    pub address: String,
    pub name: String,
    pub kind: String,
    pub department: String,
    pub capacity: String,
    pub bookable_by: String,
    pub longest: String,
    pub window_days: i64,
    pub delegates: String,
}

fn view(r: carepost_calendar::Resource) -> ResourceView {
    ResourceView {
        department: r.department.unwrap_or_else(|| "-".into()),
        capacity: r.capacity.map_or("-".into(), |c| c.to_string()),
        longest: r.max_minutes.map_or("any".into(), minutes_in_words),
        delegates: match r.delegates.is_empty() {
            true => "answers by itself".into(),
            false => r.delegates.join(", "),
        },
        address: r.address,
        name: r.name,
        kind: r.kind,
        bookable_by: r.bookable_by,
        window_days: r.window_days,
    }
}

/// A refusal the person can correct, shown on the page; anything else is an error page.
fn correctable(e: IdentityError) -> Result<String, PageError> {
    match e {
        IdentityError::Invalid(m) | IdentityError::NotFound(m) | IdentityError::Conflict(m) => {
            Ok(m)
        }
        other => Err(PageError::Identity(other)),
    }
}

async fn list_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    let resources = state
        .resources
        .list()
        .await?
        .into_iter()
        .map(view)
        .collect();
    render(
        &super::pages::ResourcesPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/resources"),
            resources,
            notices,
            error,
        },
        csrf,
    )
}

pub async fn list(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<super::Done>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let notices = match q.done.as_deref() {
        Some("removed") => vec!["The resource is removed, with its bookings.".into()],
        _ => Vec::new(),
    };
    list_page(&state, &actor, me, &csrf, notices, None).await
}

#[derive(Deserialize)]
pub struct NewResource {
    csrf: String,
    name: String,
    #[serde(default)]
    address: String,
    kind: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    capacity: String,
    bookable_by: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    max_hours: String,
    #[serde(default)]
    window_days: String,
    #[serde(default)]
    delegates: String,
}

/// A number field: empty is none, anything else must be a number.
fn number(text: &str, what: &str) -> Result<Option<i64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| Some(n as i64))
        .ok_or_else(|| format!("the {what} must be a number"))
}

fn spec_of(f: &NewResource) -> Result<ResourceSpec, String> {
    let hours = f.max_hours.trim();
    let max_minutes = match hours.is_empty() {
        true => None,
        false => Some(
            hours
                .parse::<f64>()
                .ok()
                .filter(|h| h.is_finite() && *h >= 1.0 / 60.0)
                .map(|h| (h * 60.0).round() as i64)
                .ok_or("the longest booking is a number of hours, at least a minute")?,
        ),
    };
    let bookable_by = match f.bookable_by.as_str() {
        "role" => format!("role:{}", f.role.trim()),
        other => other.to_string(),
    };
    let delegates: Vec<String> = f
        .delegates
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    Ok(ResourceSpec {
        name: Some(f.name.clone()),
        address: Some(f.address.trim().to_string()).filter(|a| !a.is_empty()),
        kind: Some(f.kind.clone()),
        department: Some(f.department.trim().to_string()).filter(|d| !d.is_empty()),
        capacity: number(&f.capacity, "capacity")?,
        bookable_by: Some(bookable_by),
        max_minutes,
        window_days: number(&f.window_days, "booking window")?,
        delegates: Some(delegates),
    })
}

pub async fn create(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<NewResource>,
) -> PageResult {
    let back = "/admin/resources";
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let spec = match spec_of(&f) {
        Ok(s) => s,
        Err(e) => return list_page(&state, &actor, me, &csrf, Vec::new(), Some(e)).await,
    };
    match state.resources.create(&actor, &spec).await {
        Ok(r) => {
            let notice = format!(
                "{} is created: invite {} to a meeting to book it.",
                r.name, r.address
            );
            list_page(&state, &actor, me, &csrf, vec![notice], None).await
        }
        Err(e) => {
            let error = correctable(e)?;
            list_page(&state, &actor, me, &csrf, Vec::new(), Some(error)).await
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn remove(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(address): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    let back = "/admin/resources";
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    match state.resources.remove(&actor, &address).await {
        Ok(()) => Ok(see_other("/admin/resources?done=removed", &[])),
        Err(e) => {
            let error = correctable(e)?;
            list_page(&state, &actor, me, &csrf, Vec::new(), Some(error)).await
        }
    }
}

async fn bookings_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    address: &str,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    let resource = view(state.resources.show(address).await?);
    let bookings = state.resources.bookings(actor, address, None).await?;
    render(
        &super::pages::ResourceBookingsPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/resources"),
            resource,
            bookings,
            notices,
            error,
        },
        csrf,
    )
}

pub async fn bookings(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(address): Path<String>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    bookings_page(&state, &actor, me, &csrf, &address, Vec::new(), None).await
}

#[derive(Deserialize)]
pub struct AnswerForm {
    csrf: String,
    id: i64,
    answer: String,
    #[serde(default)]
    reason: String,
}

pub async fn answer(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(address): Path<String>,
    Form(f): Form<AnswerForm>,
) -> PageResult {
    let back = format!("/admin/resources/{address}");
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), &back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let approve = match f.answer.as_str() {
        "approve" => true,
        "decline" => false,
        _ => {
            let error = Some("answer approve or decline".to_string());
            return bookings_page(&state, &actor, me, &csrf, &address, Vec::new(), error).await;
        }
    };
    let reason = Some(f.reason.as_str()).filter(|r| !r.trim().is_empty());
    let (notices, error) = match state
        .resources
        .answer(&actor, &address, f.id, approve, reason)
        .await
    {
        Ok(b) => (
            vec![format!(
                "“{}” is {} for {}.",
                b.summary, b.status, b.organizer
            )],
            None,
        ),
        Err(e) => (Vec::new(), Some(correctable(e)?)),
    };
    bookings_page(&state, &actor, me, &csrf, &address, notices, error).await
}
