//! The administration pages: finding accounts and acting on one (unlock, sign out everywhere,
//! password and second-factor resets, status). Who may see and do what is decided by the
//! domain's one authorization module, which audits every refusal; the page only hides the
//! buttons a role has no use for, and a refusal shows as a 403 page.

use super::pages::{AdminAccountPage, LockView, NewAccountForm, NewAccountPage, ShownOncePage};
use super::{Csrf, Gate, PageError, PageResult, gate, org, render, see_other, session};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use carepost_identity::{AccountStatus, Actor, IdentityError, NewAccount, PersonName, Role};
use serde::Deserialize;

/// The signed-in staff member as an actor with their roles, or where the browser must go.
pub(super) async fn staff(
    state: &WebState,
    headers: &HeaderMap,
    source: Source,
) -> Result<Result<(Actor, String), Response>, PageError> {
    let Some(s) = session(state, headers).await? else {
        return Ok(Err(see_other("/sign-in", &[])));
    };
    if !matches!(gate(state, &s).await?, Gate::Open) {
        return Ok(Err(see_other("/account", &[])));
    }
    let actor = state
        .directory
        .actor_for(s.account, &s.address, source.0)
        .await?;
    // Staff without a role get no administration at all, before any lookup (so the pages
    // cannot be used to learn which addresses exist).
    if let Some(role) = actor.waiting_for_factor.first() {
        return Err(IdentityError::Forbidden(carepost_identity::role_waits(role)).into());
    }
    if actor.roles.is_empty() {
        return Err(IdentityError::Forbidden(
            "the administration pages are for staff with an administrative role".into(),
        )
        .into());
    }
    Ok(Ok((actor, s.address)))
}

/// `staff`, for a form that changes something: its CSRF token must be the browser's (else
/// the page `back` is shown again), and the session must have proven its second factor in
/// the last minutes (a step-up; else the browser goes to confirm it first, then to `back`).
pub(super) async fn staff_acting(
    state: &WebState,
    headers: &HeaderMap,
    source: Source,
    (csrf, form_csrf): (&Csrf, &str),
    back: &str,
) -> Result<Result<(Actor, String), Response>, PageError> {
    if !csrf.accepts(form_csrf) {
        return Ok(Err(see_other(back, &[])));
    }
    if let Some(s) = session(state, headers).await?
        && state.directory.step_up_needed(&s).await?
    {
        return Ok(Err(super::confirm::confirm_first(back)));
    }
    staff(state, headers, source).await
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    request: Option<i64>,
}

pub async fn account(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(address): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let d = &state.directory;
    let account = d.find_account(&actor, &address).await?;
    let locks = d
        .lock_state(&actor, &address)
        .await?
        .into_iter()
        .map(|(sources, until, failures)| LockView {
            sources,
            until,
            failures,
        })
        .collect();
    let mfa = d.mfa_summary(&actor, &address).await.ok();
    let sources = d.account_sources(&actor, &address).await?;
    let has = |r: Role| actor.roles.contains(&r);
    let notices = match q.done.as_deref() {
        Some("unlock") => vec!["Unlocked: the person can sign in again.".to_string()],
        Some("unlock-nothing") => vec![
            "There was nothing to unlock: the account was not locked and had no failed sign-ins. If sign-ins still fail, look at the networks below.".to_string(),
        ],
        Some("source-cleared") => vec![
            "The network's pause is lifted: sign-ins from it work again.".to_string(),
        ],
        Some("source-nothing") => {
            vec!["That network had no failed sign-ins left: nothing to clear.".to_string()]
        }
        Some("sessions") => vec!["Every web session of this account is signed out.".to_string()],
        Some("mfa") => {
            vec!["Second factors reset: the person enrolls again at the next sign-in.".to_string()]
        }
        Some("status") => vec!["Status changed.".to_string()],
        Some("roles") => vec!["Roles changed.".to_string()],
        Some("app-passwords") => vec![
            "Every app password of this account is revoked: its mail apps must be set up again."
                .to_string(),
        ],
        Some("edited") => vec!["Saved.".to_string()],
        Some("change-requested") => {
            vec!["Request sent to IT. Its outcome shows under change requests.".to_string()]
        }
        Some("renamed") => {
            vec!["Renamed. The old address stays as an alias and still receives mail.".to_string()]
        }
        Some("requested") => vec![format!(
            "Request sent. A supervisor of the person's department approves it at /admin/reset-requests/{} within 24 hours.",
            q.request.unwrap_or_default()
        )],
        Some("created") => vec![
            "Account created. Give the person a temporary password with Reset password."
                .to_string(),
        ],
        _ => Vec::new(),
    };
    render(
        &AdminAccountPage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(&actor, "/admin/accounts"),
            account,
            locks,
            sources,
            mfa,
            notices,
            can_unlock: has(Role::ItAdmin) || has(Role::Helpdesk),
            can_manage: has(Role::ItAdmin),
            can_disable: has(Role::ItAdmin) || has(Role::Supervisor),
            can_reset: has(Role::ItAdmin) || has(Role::Helpdesk),
            can_request: has(Role::Supervisor) && !has(Role::ItAdmin),
            roles: if has(Role::ItAdmin) {
                d.roles_of(&actor, &address).await?
            } else {
                Vec::new()
            },
            // The helpdesk, IT and security read it; a supervisor does not watch their staff.
            sign_ins: match actor.roles.iter().any(|r| {
                carepost_identity::Permission::UnlockAccounts.granted_to(r)
                    || carepost_identity::Permission::ReadAudit.granted_to(r)
            }) {
                true => Some(d.sign_in_log(&actor, &address).await?),
                false => None,
            },
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct Action {
    csrf: String,
    reason: Option<String>,
    status: Option<String>,
    user_code: Option<String>,
    role: Option<String>,
    department: Option<String>,
    first: Option<String>,
    last: Option<String>,
    preferred: Option<String>,
    kind: Option<String>,
    category: Option<String>,
    supervisor: Option<String>,
    employee_id: Option<String>,
    network: Option<String>,
}

/// One action on an account, after the form's token and the staff member are checked; the
/// domain decides whether this actor may.
pub async fn act(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path((address, what)): Path<(String, String)>,
    Form(f): Form<Action>,
) -> PageResult {
    let back = format!("/admin/accounts/{address}");
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), &back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let d = &state.directory;
    let done = match what.as_str() {
        "unlock" => match d.unlock(&actor, &address).await?.nothing_cleared() {
            true => "unlock-nothing",
            false => "unlock",
        },
        "clear-source" => {
            let network = f.network.as_deref().unwrap_or("");
            match d.clear_source(&actor, network).await? {
                0 => "source-nothing",
                _ => "source-cleared",
            }
        }
        "end-sessions" => {
            d.end_all_sessions(&actor, &address).await?;
            "sessions"
        }
        "reset-mfa" => {
            d.mfa_reset(&actor, &address, f.reason.as_deref().unwrap_or(""))
                .await?;
            "mfa"
        }
        "status" => {
            let to = AccountStatus::parse(f.status.as_deref().unwrap_or(""))?;
            d.set_status(&actor, &address, to).await?;
            "status"
        }
        "revoke-app-passwords" => {
            d.revoke_app_passwords_of(&actor, &address).await?;
            "app-passwords"
        }
        "rename" => {
            let text = |v: &Option<String>| {
                v.as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
            };
            let change = carepost_identity::Rename {
                first: text(&f.first),
                middle: None,
                last: text(&f.last),
                preferred: text(&f.preferred),
            };
            let renamed = d.rename(&actor, &address, &change).await?;
            return Ok(see_other(
                &format!("/admin/accounts/{}?done=renamed", renamed.address),
                &[],
            ));
        }
        "edit" => {
            let field = |v: &Option<String>| {
                v.as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
            };
            let edit = carepost_identity::AccountEdit {
                department: field(&f.department),
                category: field(&f.category),
                // The form's word for "no supervisor": an empty field keeps the one there is.
                supervisor: field(&f.supervisor).map(|s| {
                    if s.eq_ignore_ascii_case("none") {
                        String::new()
                    } else {
                        s
                    }
                }),
                employee_id: field(&f.employee_id),
            };
            d.edit_account(&actor, &address, &edit).await?;
            "edited"
        }
        "request-change" => {
            let change = match f.kind.as_deref() {
                Some("move") => carepost_identity::RequestedChange::Move {
                    department: f.department.clone().unwrap_or_default(),
                },
                _ => carepost_identity::RequestedChange::Rename {
                    first: f.first.clone(),
                    last: f.last.clone(),
                    preferred: f.preferred.clone(),
                },
            };
            d.request_change(&actor, &address, &change, f.reason.as_deref().unwrap_or(""))
                .await?;
            "change-requested"
        }
        "grant-role" | "revoke-role" => {
            let role = f
                .role
                .as_deref()
                .and_then(Role::parse)
                .ok_or_else(|| IdentityError::Invalid("choose one of the roles".into()))?;
            if what == "grant-role" {
                let dept = f
                    .department
                    .as_deref()
                    .map(str::trim)
                    .filter(|d| !d.is_empty());
                d.grant_role(&actor, &address, &role, dept).await?;
            } else {
                d.revoke_role(&actor, &address, &role).await?;
            }
            "roles"
        }
        "reset-request" => {
            let id = d
                .request_reset(&actor, &address, f.reason.as_deref().unwrap_or(""))
                .await?;
            return Ok(see_other(
                &format!("{back}?done=requested&request={id}"),
                &[],
            ));
        }
        "reset-password" | "helpdesk-reset" => {
            let temporary = if what == "reset-password" {
                d.reset_password(&actor, &address).await?
            } else {
                let code = f
                    .user_code
                    .as_deref()
                    .map(str::trim)
                    .filter(|c| !c.is_empty());
                d.helpdesk_reset(&actor, &address, code).await?
            };
            return render(
                &ShownOncePage {
                    org: org(&state),
                    signed_in_as: Some(me),
                    csrf: csrf.token.clone(),
                    nav: super::console::nav(&actor, "/admin/accounts"),
                    heading: format!("Temporary password for {address}"),
                    explanation: format!(
                        "Give it to the person in person or by phone after checking who they are. It works for {} and must be changed at the first sign-in.",
                        carepost_identity::human_duration(d.config().password.temporary_lifetime)
                    ),
                    secrets: vec![temporary],
                },
                &csrf,
            );
        }
        _ => {
            return Err(
                carepost_identity::IdentityError::NotFound(format!("no action {what}")).into(),
            );
        }
    };
    Ok(see_other(&format!("{back}?done={done}"), &[]))
}

async fn new_account_form(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    form: NewAccountForm,
    error: Option<String>,
) -> PageResult {
    let departments = state
        .directory
        .list_departments(actor)
        .await?
        .into_iter()
        .map(|d| {
            let chosen = d.name == form.department;
            (d.name, chosen)
        })
        .collect();
    let categories = state
        .directory
        .config()
        .categories
        .iter()
        .map(|c| (c.clone(), *c == form.category))
        .collect();
    let preview = match PersonName::new(&form.first, None, &form.last, None) {
        Ok(name) if !form.first.is_empty() => state
            .directory
            .preview_address_as(actor, &name)
            .await
            .ok()
            .map(|a| a.to_string()),
        _ => None,
    };
    render(
        &NewAccountPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/accounts"),
            form,
            departments,
            categories,
            preview,
            error,
        },
        csrf,
    )
}

pub async fn new_account_page(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    if !actor.roles.contains(&Role::ItAdmin) {
        return Err(
            IdentityError::Forbidden("creating accounts is for IT administrators".into()).into(),
        );
    }
    new_account_form(&state, &actor, me, &csrf, NewAccountForm::default(), None).await
}

/// A form field left empty is absent.
pub(super) fn optional(v: &str) -> Option<&str> {
    Some(v.trim()).filter(|v| !v.is_empty())
}

pub async fn create_account(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<NewAccountForm>,
) -> PageResult {
    let (actor, me) = match staff_acting(
        &state,
        &headers,
        source,
        (&csrf, &f.csrf),
        "/admin/accounts/new",
    )
    .await?
    {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let made = match PersonName::from_form(
        &f.first,
        optional(&f.middle),
        optional(&f.last),
        optional(&f.preferred),
        f.single_name == "yes",
    ) {
        Ok(name) => {
            let new = NewAccount {
                name,
                employee_id: f.employee_id.clone(),
                category: f.category.clone(),
                department: f.department.clone(),
                supervisor: optional(&f.supervisor).map(str::to_string),
            };
            state.directory.create_account(&actor, &new).await
        }
        Err(e) => Err(e),
    };
    match made {
        Ok(a) => Ok(see_other(
            &format!("/admin/accounts/{}?done=created", a.address),
            &[],
        )),
        Err(e) => new_account_form(&state, &actor, me, &csrf, f, Some(super::refusal(e)?)).await,
    }
}

pub async fn reset_request_page(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(id): Path<i64>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    render(
        &super::pages::ResetRequestPage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(&actor, "/admin/reset-requests"),
            id,
        },
        &csrf,
    )
}

pub async fn approve_reset(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(id): Path<i64>,
    Form(f): Form<super::sign_in::CsrfForm>,
) -> PageResult {
    let back = format!("/admin/reset-requests/{id}");
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), &back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let temporary = state.directory.approve_reset(&actor, id).await?;
    render(
        &ShownOncePage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(&actor, "/admin/reset-requests"),
            heading: format!("Reset request {id} approved"),
            explanation: "Hand this temporary password to the person in person. It must be changed at the first sign-in.".to_string(),
            secrets: vec![temporary],
        },
        &csrf,
    )
}

pub async fn reset_requests(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let requests = state.directory.open_reset_requests(&actor).await?;
    render(
        &super::pages::ResetRequestsPage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(&actor, "/admin/reset-requests"),
            requests,
        },
        &csrf,
    )
}
