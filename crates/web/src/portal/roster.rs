//! The console's accounts table: every column an IT team sorts and filters by (employee id,
//! category, roles, second factor, last sign-in, status), filters by department subtree,
//! status, category and role, pages over the whole organization, and bulk actions on the rows
//! picked (disable, first-sign-in invitations, a CSV export), each confirmed on a page that
//! says how many people it affects before anything is done.

use super::admin::{optional, staff, staff_acting};
use super::console::nav;
use super::pages::{AccountsTablePage, BulkConfirmPage, ColumnHead};
use super::{Csrf, PageError, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use carepost_identity::{
    AccountStatus, Actor, IdentityError, ListFilter, Role, RosterRequest, RosterSort,
};
use serde::Deserialize;

/// Rows per page unless the viewer asks for another of `PER_PAGE`.
const DEFAULT_PER_PAGE: i64 = 100;
const PER_PAGE: [i64; 3] = [50, 100, 200];
/// Most rows one bulk action takes (a page's worth, at the largest page size).
const MOST_PICKED: usize = 200;

/// The table's query string: filters, order, page.
#[derive(Deserialize, Default, Clone)]
pub struct TableQuery {
    #[serde(default)]
    query: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    per: Option<i64>,
    /// A bulk action's outcome, as fixed words: `disabled`, `invited`.
    #[serde(default)]
    done: Option<String>,
}

fn sort_of(key: &str) -> RosterSort {
    match key {
        "address" => RosterSort::Address,
        "employee_id" => RosterSort::EmployeeId,
        "department" => RosterSort::Department,
        "category" => RosterSort::Category,
        "status" => RosterSort::Status,
        "last_sign_in" => RosterSort::LastSignIn,
        _ => RosterSort::Name,
    }
}

impl TableQuery {
    /// This query's URL with some keys changed (the others kept, paging reset unless set).
    fn link(&self, changes: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("query", self.query.clone()),
            ("status", self.status.clone()),
            ("category", self.category.clone()),
            ("role", self.role.clone()),
            ("department", self.department.clone()),
            ("sort", self.sort.clone()),
            ("desc", self.desc.clone().unwrap_or_default()),
            ("per", self.per.map(|p| p.to_string()).unwrap_or_default()),
        ];
        for (k, v) in changes {
            match pairs.iter_mut().find(|(key, _)| key == k) {
                Some(p) => p.1 = (*v).to_string(),
                None => pairs.push((k, (*v).to_string())),
            }
        }
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            url.append_pair(k, v);
        }
        format!("/admin/accounts?{}", url.finish())
    }

    fn descending(&self) -> bool {
        self.desc.as_deref() == Some("1")
    }

    fn filter(&self) -> Result<ListFilter, IdentityError> {
        Ok(ListFilter {
            department: optional(&self.department).map(str::to_string),
            status: optional(&self.status)
                .map(AccountStatus::parse)
                .transpose()?,
            category: optional(&self.category).map(str::to_string),
            role: optional(&self.role).map(Role::named).transpose()?,
            query: optional(&self.query).map(str::to_string),
            limit: None,
        })
    }
}

pub async fn table(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let d = &state.directory;
    let per_page = q
        .per
        .filter(|p| PER_PAGE.contains(p))
        .unwrap_or(DEFAULT_PER_PAGE);
    let departments = d.department_tree(&actor).await?;
    let (roster, error) = match q.filter() {
        Ok(mut filter) => {
            // A supervisor of several departments who chose none sees the first of them
            // (the table shows one subtree at a time), not a refusal.
            let global = actor
                .roles
                .iter()
                .any(|r| carepost_identity::Permission::ReadDirectory.granted_to(r));
            if filter.department.is_none() && !global {
                filter.department = departments
                    .iter()
                    .find(|n| n.depth == 0)
                    .map(|n| n.name.clone());
            }
            let r = RosterRequest {
                filter,
                sort: sort_of(&q.sort),
                descending: q.descending(),
                page: q.page.unwrap_or(0),
                per_page,
            };
            match d.roster(&actor, &r).await {
                Ok(roster) => (Some(roster), None),
                Err(e) => (None, Some(super::refusal(e)?)),
            }
        }
        Err(e) => (None, Some(super::refusal(e)?)),
    };
    let shows_sign_ins = roster.as_ref().is_some_and(|r| r.shows_sign_ins);
    let sorted_by = sort_of(&q.sort);
    let heads = [
        ("name", "Name", RosterSort::Name),
        ("address", "Address", RosterSort::Address),
        ("employee_id", "Employee id", RosterSort::EmployeeId),
        ("department", "Department", RosterSort::Department),
        ("category", "Category", RosterSort::Category),
        ("", "Roles", RosterSort::Name),
        ("", "Second factor", RosterSort::Name),
        ("last_sign_in", "Last sign-in", RosterSort::LastSignIn),
        ("status", "Status", RosterSort::Status),
    ]
    .into_iter()
    .filter(|(key, _, _)| *key != "last_sign_in" || shows_sign_ins)
    .map(|(key, title, sort)| {
        let here = !key.is_empty() && sort == sorted_by;
        ColumnHead {
            title,
            // A sortable column links to itself sorted, the other way round when it already is.
            link: (!key.is_empty()).then(|| {
                let desc = if here && !q.descending() { "1" } else { "" };
                q.link(&[("sort", key), ("desc", desc), ("page", "")])
            }),
            aria_sort: match (here, q.descending()) {
                (false, _) => "",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    })
    .collect();
    let (total, page) = roster.as_ref().map_or((0, 0), |r| (r.total, r.page));
    let first = page.saturating_mul(per_page);
    let shown = roster.as_ref().map_or(0, |r| r.entries.len());
    // Fixed words only: a link cannot make the page claim a number of accounts disabled.
    let notices = match q.done.as_deref() {
        Some("disabled") => vec![
            "The people you picked are disabled, except any your role does not reach: the \
             status column and the audit trail show each one."
                .to_string(),
        ],
        _ => Vec::new(),
    };
    let config = d.config();
    render(
        &AccountsTablePage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: nav(&actor, "/admin/accounts"),
            notices,
            error,
            query: q.query.clone(),
            statuses: ["active", "disabled", "deprovisioned"]
                .map(|s| (s.to_string(), s == q.status))
                .to_vec(),
            categories: config
                .categories
                .iter()
                .map(|c| (c.clone(), *c == q.category))
                .collect(),
            roles: Role::ALL
                .map(|r| (r.as_str().to_string(), r.as_str() == q.role))
                .to_vec(),
            departments: departments
                .iter()
                .map(|n| {
                    (
                        n.name.clone(),
                        format!("{}{}", "\u{a0}\u{a0}".repeat(n.depth), n.name),
                        n.name == q.department,
                    )
                })
                .collect(),
            per_page: PER_PAGE.map(|p| (p, p == per_page)).to_vec(),
            sort: q.sort.clone(),
            descending: q.descending(),
            heads,
            shows_sign_ins,
            entries: roster.map(|r| r.entries).unwrap_or_default(),
            summary: match total {
                0 => "No account matches.".to_string(),
                _ => format!(
                    "{}–{} of {} account{}",
                    first.saturating_add(1),
                    first.saturating_add(i64::try_from(shown).unwrap_or(0)),
                    total,
                    if total == 1 { "" } else { "s" }
                ),
            },
            previous: (page > 0).then(|| q.link(&[("page", &(page - 1).to_string())])),
            next: (page.saturating_add(1).saturating_mul(per_page) < total)
                .then(|| q.link(&[("page", &(page + 1).to_string())])),
            can_create: actor.roles.contains(&Role::ItAdmin),
            back: q.link(&[("page", &page.to_string())]),
        },
        &csrf,
    )
}

/// A bulk form: the action, the addresses picked, whether it is the confirmation, and the
/// table to go back to. Repeated `pick` fields are why this is parsed by hand.
struct Bulk {
    csrf: String,
    action: String,
    picked: Vec<String>,
    confirmed: bool,
    back: String,
}

fn bulk_form(body: &[u8]) -> Bulk {
    let mut b = Bulk {
        csrf: String::new(),
        action: String::new(),
        picked: Vec::new(),
        confirmed: false,
        back: "/admin/accounts".into(),
    };
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "csrf" => b.csrf = v.into_owned(),
            "action" => b.action = v.into_owned(),
            "pick" if b.picked.len() < MOST_PICKED && !b.picked.contains(&v.to_string()) => {
                b.picked.push(v.into_owned());
            }
            "confirmed" => b.confirmed = v == "yes",
            // Only a table of this console to go back to: never another site.
            "back" if v.starts_with("/admin/accounts") && super::confirm::safe_back(&v) == v => {
                b.back = v.into_owned();
            }
            _ => {}
        }
    }
    b
}

/// `POST /admin/accounts/bulk`: first the confirmation with the count, then the action.
pub async fn bulk(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    body: Bytes,
) -> PageResult {
    let f = bulk_form(&body);
    let back = f.back.clone();
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), &back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let (verb, what) = match f.action.as_str() {
        "disable" => (
            "Disable",
            "disabled: they can no longer sign in or receive mail",
        ),
        "invite" => (
            "Invite",
            "sent first-sign-in invitations: those who already have a password are left out",
        ),
        "export" => ("Export", "exported as a CSV file"),
        _ => return Ok(see_other(&back, &[])),
    };
    if f.picked.is_empty() {
        return Ok(see_other(&back, &[]));
    }
    if !f.confirmed {
        let mut people = Vec::new();
        for a in &f.picked {
            match state.directory.find_account(&actor, a).await {
                Ok(account) => people.push((account.address, account.name.display())),
                Err(e) => return Err(e.into()),
            }
        }
        let n = people.len();
        return render(
            &BulkConfirmPage {
                org: org(&state),
                signed_in_as: Some(me),
                csrf: csrf.token.clone(),
                nav: nav(&actor, "/admin/accounts"),
                action: f.action.clone(),
                heading: format!("{verb} {n} {}?", if n == 1 { "person" } else { "people" }),
                what: format!(
                    "{} {} will be {what}.",
                    n,
                    if n == 1 { "person" } else { "people" }
                ),
                people,
                back,
            },
            &csrf,
        );
    }
    match f.action.as_str() {
        "disable" => disable_all(&state, &actor, &f.picked, &back).await,
        "invite" => invite_all(&state, &actor, me, &csrf, &f.picked).await,
        _ => export(&state, &actor, &f.picked).await,
    }
}

async fn disable_all(state: &WebState, actor: &Actor, picked: &[String], back: &str) -> PageResult {
    for a in picked {
        // Each is decided (and audited) on its own: a supervisor's pick that includes
        // someone outside their departments, or a role holder, leaves that one as it was.
        match state
            .directory
            .set_status(actor, a, AccountStatus::Disabled)
            .await
        {
            Ok(_) => {}
            Err(IdentityError::Forbidden(_) | IdentityError::NotFound(_))
            | Err(IdentityError::Invalid(_) | IdentityError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(see_other(&format!("{back}{sep}done=disabled"), &[]))
}

/// Issues each picked person's invitation (those with a password already are left out) and
/// shows the slips: the codes exist only now.
async fn invite_all(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    picked: &[String],
) -> PageResult {
    let mut issued = Vec::new();
    let mut left_out = Vec::new();
    let mut out_of_reach = 0usize;
    for a in picked {
        match state.directory.invite(actor, std::slice::from_ref(a)).await {
            Ok(mut slips) => issued.append(&mut slips),
            // Why someone in reach is left out (a password already, not active) is theirs to
            // know; anything else is counted, not told (which addresses exist, or hold a role).
            Err(IdentityError::Conflict(m)) => left_out.push(format!("{a}: {m}")),
            Err(IdentityError::Forbidden(_) | IdentityError::NotFound(_))
            | Err(IdentityError::Invalid(_)) => out_of_reach += 1,
            Err(e) => return Err(e.into()),
        }
    }
    if out_of_reach > 0 {
        left_out.push(format!(
            "{out_of_reach} more that your role does not reach, or that are no account"
        ));
    }
    super::invitations::slips_page(state, actor, me, csrf, issued, left_out).await
}

/// A cell a spreadsheet will not run: text that would start a formula (an HR name such as
/// `=HYPERLINK(...)`) is kept as text by a leading apostrophe (OWASP's advice on CSV
/// injection).
fn inert(cell: &str) -> String {
    match cell.trim_start().chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// The picked accounts as CSV (a spreadsheet's first row names the columns).
async fn export(state: &WebState, actor: &Actor, picked: &[String]) -> PageResult {
    // Every cell quoted: a spreadsheet that splits on another separator (`;` in much of
    // Europe) still keeps each cell whole.
    let mut out = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let row_error = |e: csv::Error| PageError::Render(e.to_string());
    out.write_record([
        "address",
        "name",
        "employee_id",
        "department",
        "category",
        "status",
        "supervisor",
    ])
    .map_err(row_error)?;
    for account in state.directory.export_accounts(actor, picked).await? {
        let cells = [
            account.address.clone(),
            account.name.display(),
            account.employee_id.clone(),
            account.department.clone(),
            account.category.clone(),
            account.status.as_str().to_string(),
            account.supervisor.clone().unwrap_or_default(),
        ];
        out.write_record(cells.iter().map(|c| inert(c)))
            .map_err(row_error)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| PageError::Render(e.to_string()))?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"accounts.csv\""),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn a_cell_that_would_start_a_formula_is_kept_as_text() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert("+1"), "'+1");
        assert_eq!(inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert("  =1+1"), "'  =1+1");
        assert_eq!(inert("Ann Lee"), "Ann Lee");
        assert_eq!(inert(""), "");
    }
}
