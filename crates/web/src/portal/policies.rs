//! The console's policies page: the password, lockout, MFA and session policies in force, each
//! key beside the config file's value; IT administrators change them here.

use super::admin::{staff, staff_acting};
use super::pages::{PoliciesPage, PolicyForm, PolicyInput};
use super::{Csrf, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use carepost_identity::{
    Actor, IdentityError, POLICY_FIELDS, Permission, PolicySection, field_text, parse_field,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

fn title(section: &str) -> &'static str {
    match section {
        "password" => "Passwords",
        "lockout" => "Lockout",
        "mfa" => "Second factors",
        _ => "Web sessions",
    }
}

fn form(s: PolicySection) -> PolicyForm {
    PolicyForm {
        section: s.section,
        title: title(s.section),
        not_in_force: s.not_in_force.clone(),
        changed: match (&s.changed_by, &s.changed_at) {
            (Some(by), Some(at)) => Some(format!("Last changed here by {by} at {at}.")),
            _ => None,
        },
        inputs: s
            .fields
            .into_iter()
            .map(|f| PolicyInput {
                key: f.key,
                about: f.about,
                kind: f.kind.as_str(),
                text: field_text(&f.value),
                file_text: field_text(&f.file_value),
                set_here: f.set_here,
            })
            .collect(),
    }
}

async fn policies_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    let sections = state.directory.policy_sections(actor).await?;
    let document = serde_json::to_string_pretty(&carepost_identity::policy_document(
        &state.directory.config(),
    ))
    .unwrap_or_default();
    render(
        &PoliciesPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/policies"),
            can_change: actor
                .roles
                .iter()
                .any(|r| Permission::ManagePolicies.granted_to(r)),
            forms: sections.into_iter().map(form).collect(),
            document,
            notices,
            error,
        },
        csrf,
    )
}

pub async fn policies(
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
    let said = match q.done.as_deref() {
        Some("unchanged") => vec!["Nothing was changed.".to_string()],
        Some(s @ ("password" | "lockout" | "mfa" | "sessions")) => {
            vec![format!("{} saved.", title(s))]
        }
        _ => Vec::new(),
    };
    policies_page(&state, &actor, me, &csrf, said, None).await
}

/// A section's form: each changed key's text, read by its kind. A value equal to the config
/// file's (or left empty) follows the file again rather than being set over it.
pub async fn change(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(section): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let sent = f.get("csrf").map(String::as_str).unwrap_or_default();
    let (actor, me) =
        match staff_acting(&state, &headers, source, (&csrf, sent), "/admin/policies").await? {
            Ok(x) => x,
            Err(to) => return Ok(to),
        };
    let file = state
        .directory
        .policy_sections(&actor)
        .await?
        .into_iter()
        .find(|s| s.section == section);
    let Some(file) = file else {
        let e = format!("no policy section '{section}'");
        return policies_page(&state, &actor, me, &csrf, Vec::new(), Some(e)).await;
    };
    let mut changes = Map::new();
    let mut problems = Vec::new();
    for field in POLICY_FIELDS.iter().filter(|p| p.section == section) {
        let Some(text) = f.get(field.key) else {
            continue;
        };
        // Only what the person changed: the rest of the form is what the page showed, and
        // sending it back would undo a colleague's change made meanwhile.
        let was = f.get(&format!("was_{}", field.key));
        if was.is_some_and(|w| parse_field(field, w).ok() == parse_field(field, text).ok()) {
            continue;
        }
        match parse_field(field, text) {
            Ok(v) => {
                let from_file = file
                    .fields
                    .iter()
                    .find(|x| x.key == field.key)
                    .is_some_and(|x| x.file_value == v);
                changes.insert(
                    field.key.to_string(),
                    if from_file { Value::Null } else { v },
                );
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        let e = problems.join("; ");
        return policies_page(&state, &actor, me, &csrf, Vec::new(), Some(e)).await;
    }
    if changes.is_empty() {
        return Ok(see_other("/admin/policies?done=unchanged", &[]));
    }
    match state
        .directory
        .change_policy(&actor, &section, &changes)
        .await
    {
        Ok(s) => Ok(see_other(
            &format!("/admin/policies?done={}", s.section),
            &[],
        )),
        Err(IdentityError::Invalid(m) | IdentityError::NotFound(m)) => {
            policies_page(&state, &actor, me, &csrf, Vec::new(), Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}
