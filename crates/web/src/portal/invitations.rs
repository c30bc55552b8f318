//! First-sign-in invitations in the browser: `/welcome`, where an invited person sets their
//! first password with the code from their slip, and the console's `/admin/invitations`, which
//! issues a department's invitations and shows the printable slips once.

use super::admin::{staff, staff_acting};
use super::{Csrf, PageResult, org, render, stale_form};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use carepost_identity::IdentityError;
use serde::Deserialize;

fn welcome_page(
    state: &WebState,
    csrf: &Csrf,
    error: Option<String>,
    done: bool,
) -> super::pages::WelcomePage {
    super::pages::WelcomePage {
        org: org(state),
        signed_in_as: None,
        csrf: csrf.token.clone(),
        error,
        done,
        mfa_hint: false,
        min_length: state.directory.config().password.min_length,
    }
}

pub async fn welcome_form(State(state): State<WebState>, csrf: Csrf) -> PageResult {
    render(&welcome_page(&state, &csrf, None, false), &csrf)
}

#[derive(Deserialize)]
pub struct WelcomeForm {
    csrf: String,
    login: String,
    code: String,
    new_password: String,
}

pub async fn welcome(
    State(state): State<WebState>,
    source: Source,
    csrf: Csrf,
    Form(f): Form<WelcomeForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/welcome"));
    }
    let error = match state
        .directory
        .accept_invitation(&f.login, &f.code, &f.new_password, source.0)
        .await
    {
        Ok(Some(_)) => return render(&welcome_page(&state, &csrf, None, true), &csrf),
        Ok(None) => {
            "That address and code do not go together, or the code was used, revoked or has expired. Ask whoever gave you the slip for a new one.".to_string()
        }
        Err(IdentityError::PasswordRejected(v)) => {
            let list: Vec<String> = v.iter().map(ToString::to_string).collect();
            format!("Choose another password: {}", list.join("; "))
        }
        Err(e) => return Err(e.into()),
    };
    render(&welcome_page(&state, &csrf, Some(error), false), &csrf)
}

async fn invitations_page(
    state: &WebState,
    actor: &carepost_identity::Actor,
    me: String,
    csrf: &Csrf,
    mut issued: Vec<carepost_identity::IssuedInvitation>,
    error: Option<String>,
    left_out: Vec<String>,
) -> PageResult {
    let d = &state.directory;
    crate::mail_invitations(&state.mail, actor, &mut issued).await;
    // IT sees the whole record; a supervisor the slips they issue (asking for the record
    // would only put a refusal on it).
    let it = actor
        .roles
        .iter()
        .any(|r| carepost_identity::Permission::ManageAccounts.granted_to(r));
    let invitations = match it {
        true => d.list_invitations(actor, None).await?,
        false => Vec::new(),
    };
    render(
        &super::pages::InvitationsPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/invitations"),
            error,
            // The departments this person may invite in (a supervisor: their own branch).
            departments: d
                .department_tree(actor)
                .await?
                .into_iter()
                .map(|n| n.name)
                .collect(),
            invitations,
            issued,
            left_out,
            welcome_url: format!("{}welcome", d.config().web.public_url.as_str()),
        },
        csrf,
    )
}

pub async fn list(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    invitations_page(&state, &actor, me, &csrf, Vec::new(), None, Vec::new()).await
}

#[derive(Deserialize)]
pub struct IssueForm {
    csrf: String,
    department: String,
}

/// Issues a department's invitations and shows the slips (the codes exist only now, so this
/// page is the answer itself rather than a redirect).
pub async fn issue(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<IssueForm>,
) -> PageResult {
    let (actor, me) = match staff_acting(
        &state,
        &headers,
        source,
        (&csrf, &f.csrf),
        "/admin/invitations",
    )
    .await?
    {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    match state
        .directory
        .invite_department(&actor, &f.department)
        .await
    {
        Ok(issued) if issued.is_empty() => {
            let e = format!(
                "Everyone in {} has a password already: nobody to invite.",
                f.department.trim()
            );
            invitations_page(&state, &actor, me, &csrf, Vec::new(), Some(e), Vec::new()).await
        }
        Ok(issued) => invitations_page(&state, &actor, me, &csrf, issued, None, Vec::new()).await,
        Err(e) => {
            invitations_page(
                &state,
                &actor,
                me,
                &csrf,
                Vec::new(),
                Some(super::refusal(e)?),
                Vec::new(),
            )
            .await
        }
    }
}

/// The slips of invitations issued from the accounts table, with who was left out and why
/// (or, when nobody could be invited, the reasons as the page's error).
pub(super) async fn slips_page(
    state: &WebState,
    actor: &carepost_identity::Actor,
    me: String,
    csrf: &Csrf,
    issued: Vec<carepost_identity::IssuedInvitation>,
    left_out: Vec<String>,
) -> PageResult {
    if issued.is_empty() {
        let e = format!("Nobody was invited. {}", left_out.join("; "));
        return invitations_page(state, actor, me, csrf, issued, Some(e), Vec::new()).await;
    }
    invitations_page(state, actor, me, csrf, issued, None, left_out).await
}
