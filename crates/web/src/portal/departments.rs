//! The directory page: the department tree and new departments (IT), the HR import (a file
//! sent by the page's script to `/api/v1/import`).

use super::admin::{optional, staff, staff_acting};
use super::{Csrf, PageResult, org, render};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use carepost_identity::{Actor, IdentityError, Role};
use serde::Deserialize;

async fn directory_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    let departments = state.directory.list_departments(actor).await?;
    render(
        &super::pages::DirectoryPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/departments"),
            departments,
            can_manage: actor.roles.contains(&Role::ItAdmin),
            notices,
            error,
        },
        csrf,
    )
}

pub async fn directory(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    directory_page(&state, &actor, me, &csrf, Vec::new(), None).await
}

#[derive(Deserialize)]
pub struct NewDepartment {
    csrf: String,
    name: String,
    #[serde(default)]
    parent: String,
}

pub async fn create_department(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<NewDepartment>,
) -> PageResult {
    let (actor, me) = match staff_acting(
        &state,
        &headers,
        source,
        (&csrf, &f.csrf),
        "/admin/departments",
    )
    .await?
    {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let parent = optional(&f.parent);
    match state
        .directory
        .create_department(&actor, &f.name, parent)
        .await
    {
        Ok(d) => {
            let said = vec![format!("Department {} created.", d.name)];
            directory_page(&state, &actor, me, &csrf, said, None).await
        }
        Err(e) => {
            directory_page(
                &state,
                &actor,
                me,
                &csrf,
                Vec::new(),
                Some(super::refusal(e)?),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct DepartmentChange {
    csrf: String,
    department: String,
    action: String,
    #[serde(default)]
    new_name: String,
    #[serde(default)]
    parent: String,
}

/// Rename, move or remove a department from the directory page.
pub async fn change_department(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<DepartmentChange>,
) -> PageResult {
    let (actor, me) = match staff_acting(
        &state,
        &headers,
        source,
        (&csrf, &f.csrf),
        "/admin/departments",
    )
    .await?
    {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let d = &state.directory;
    let done = match f.action.as_str() {
        "rename" => d
            .rename_department(&actor, &f.department, &f.new_name)
            .await
            .map(|x| format!("{} is now called {}.", f.department.trim(), x.name)),
        "move" => d
            .move_department(&actor, &f.department, optional(&f.parent))
            .await
            .map(|x| match &x.parent {
                Some(p) => format!("{} is now within {p}.", x.name),
                None => format!("{} is now at the top level.", x.name),
            }),
        "remove" => d
            .remove_department(&actor, &f.department)
            .await
            .map(|()| format!("{} is removed.", f.department.trim())),
        _ => Err(IdentityError::Invalid(
            "choose rename, move or remove".into(),
        )),
    };
    match done {
        Ok(said) => directory_page(&state, &actor, me, &csrf, vec![said], None).await,
        Err(e) => {
            directory_page(
                &state,
                &actor,
                me,
                &csrf,
                Vec::new(),
                Some(super::refusal(e)?),
            )
            .await
        }
    }
}
