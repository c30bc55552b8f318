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
        Err(
            IdentityError::Invalid(m) | IdentityError::Conflict(m) | IdentityError::NotFound(m),
        ) => directory_page(&state, &actor, me, &csrf, Vec::new(), Some(m)).await,
        Err(e) => Err(e.into()),
    }
}
