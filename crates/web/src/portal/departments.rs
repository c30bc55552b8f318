//! The directory page: the department tree and new departments (IT), the HR import (a file
//! sent by the page's script to `/api/v1/import`).

use super::admin::{optional, staff, staff_acting};
use super::{Csrf, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use carepost_identity::{Actor, IdentityError, Role};
use serde::Deserialize;

/// A department of the tree as the page draws it: nested lists, each with children a
/// `<details>` to expand or collapse; `closes` is how many levels end after it.
pub(crate) struct TreeRow {
    pub node: carepost_identity::DepartmentNode,
    pub closes: usize,
    /// The accounts table filtered to this department and below.
    pub people_link: String,
}

async fn directory_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    let nodes = state.directory.department_tree(actor).await?;
    let depth_after = |i: usize| nodes.get(i + 1).map_or(0, |n| n.depth);
    let tree: Vec<TreeRow> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| TreeRow {
            closes: match n.has_children && depth_after(i) > n.depth {
                true => 0,
                false => n.depth.saturating_sub(depth_after(i)),
            },
            people_link: format!(
                "/admin/accounts?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("department", &n.name)
                    .finish()
            ),
            node: n.clone(),
        })
        .collect();
    let mut departments: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    departments.sort_by_key(|n| n.to_lowercase());
    render(
        &super::pages::DirectoryPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/departments"),
            tree,
            departments,
            can_manage: actor.roles.contains(&Role::ItAdmin),
            notices,
            error,
        },
        csrf,
    )
}

/// What a change's redirect says: fixed words, and a department's name only when it names
/// a department that exists now (so a link cannot make the page claim a change).
#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    name: Option<String>,
}

pub async fn directory(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let tree = state.directory.department_tree(&actor).await?;
    let named = q
        .name
        .as_deref()
        .and_then(|n| tree.iter().find(|d| d.name == n));
    let parent_of = |d: &carepost_identity::DepartmentNode| {
        d.parent
            .and_then(|p| tree.iter().find(|x| x.id == p))
            .map(|p| p.name.clone())
    };
    let notices = match (q.done.as_deref(), named) {
        (Some("created"), Some(d)) => vec![format!("Department {} created.", d.name)],
        (Some("renamed"), Some(d)) => vec![format!("The department is now called {}.", d.name)],
        (Some("moved"), Some(d)) => vec![match parent_of(d) {
            Some(p) => format!("{} is now within {p}.", d.name),
            None => format!("{} is now at the top level.", d.name),
        }],
        (Some("removed"), _) => vec!["The department is removed.".to_string()],
        _ => Vec::new(),
    };
    directory_page(&state, &actor, me, &csrf, notices, None).await
}

/// The redirect after a change: a reload shows the page again, and changes nothing.
fn changed(done: &str, name: Option<&str>) -> axum::response::Response {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("done", done);
    if let Some(n) = name {
        q.append_pair("name", n);
    }
    see_other(&format!("/admin/departments?{}", q.finish()), &[])
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
        Ok(d) => Ok(changed("created", Some(&d.name))),
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
            .map(|x| changed("renamed", Some(&x.name))),
        "move" => d
            .move_department(&actor, &f.department, optional(&f.parent))
            .await
            .map(|x| changed("moved", Some(&x.name))),
        "remove" => d
            .remove_department(&actor, &f.department)
            .await
            .map(|()| changed("removed", None)),
        _ => Err(IdentityError::Invalid(
            "choose rename, move or remove".into(),
        )),
    };
    match done {
        Ok(to) => Ok(to),
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

/// `/admin/roles`: who holds each role, where, and whether it is open yet.
pub async fn roles(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let holders = state.directory.role_holders(&actor).await?;
    let sections = Role::ALL
        .iter()
        .map(|r| {
            let held: Vec<carepost_identity::RoleHolder> = holders
                .iter()
                .filter(|h| h.role == r.as_str())
                .cloned()
                .collect();
            (r.as_str(), role_words(r), held)
        })
        .collect();
    render(
        &super::pages::RolesPage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(&actor, "/admin/roles"),
            sections,
        },
        &csrf,
    )
}

/// What each role may do, in a line.
fn role_words(r: &Role) -> &'static str {
    match r {
        Role::ItAdmin => "Everything: accounts, roles, policies, applications, the audit trail.",
        Role::Helpdesk => {
            "Reads the directory, unlocks accounts and networks, starts verified password resets."
        }
        Role::Supervisor => {
            "Within their department and below: reads it, approves resets, disables leavers, invites, asks IT for changes."
        }
        Role::SecurityOfficer => "Reads the directory and the audit trail.",
        Role::Communications => "Posts to the organization's lists.",
    }
}
