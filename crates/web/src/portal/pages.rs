//! The page templates (`crates/web/templates`) and what each shows. Every page carries the
//! base template's fields: the organization's name, who is signed in, the CSRF token.

use super::console::NavLink;

/// A recorded time (RFC 3339 text) in words with its zone, for a page to show until its script
/// puts the viewer's own zone in its place: `7 Dec 2026, 15:20 UTC`, never the raw string.
/// Text that is not a time is shown as it is.
pub(crate) trait When {
    fn when(&self) -> String;
}

impl When for str {
    fn when(&self) -> String {
        match carepost_types::UnixMillis::parse(self) {
            Ok(t) => t.to_words_utc(),
            Err(_) => self.to_string(),
        }
    }
}
use askama::Template;
use carepost_identity::{Account, MfaSummary, PasswordState, SessionInfo};

#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub login: String,
    pub error: Option<String>,
    pub notices: Vec<String>,
    /// Where to go after signing in (an application's authorization request), or empty.
    pub next: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
pub(crate) struct VerifyPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub error: Option<String>,
    /// Why the step is asked for when the network is paused (see `Pending::notice`).
    pub notice: Option<String>,
    pub totp: bool,
    pub passkey: bool,
    pub next: String,
}

#[derive(Template)]
#[template(path = "welcome.html")]
pub(crate) struct WelcomePage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub error: Option<String>,
    pub done: bool,
    pub mfa_hint: bool,
    pub min_length: usize,
}

#[derive(Template)]
#[template(path = "admin_invitations.html")]
pub(crate) struct InvitationsPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub error: Option<String>,
    pub departments: Vec<String>,
    pub invitations: Vec<carepost_identity::InvitationInfo>,
    /// Just issued: the printable slips (codes shown this once).
    pub issued: Vec<carepost_identity::IssuedInvitation>,
    /// Picked for invitations but left out, each with why.
    pub left_out: Vec<String>,
    pub welcome_url: String,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub(crate) struct ForgotPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub error: Option<String>,
    /// What a proven person is told; the form is gone then.
    pub done: Vec<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
pub(crate) struct PasswordPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub forced: bool,
    pub errors: Vec<String>,
    pub min_length: usize,
}

#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct AccountPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub account: Account,
    pub password: PasswordState,
    pub mfa: MfaSummary,
    pub sessions: Vec<SessionInfo>,
    pub current_session: i64,
    /// Applications signed in with the account (single sign-on grants), and those signed out
    /// in the last week (with why).
    pub apps: Vec<carepost_oidc::GrantInfo>,
    pub ended_apps: Vec<carepost_oidc::GrantInfo>,
    /// Mail apps seen in the last 30 days.
    pub mail_clients: Vec<carepost_identity::MailClientInfo>,
    pub notices: Vec<String>,
    pub error: Option<String>,
    /// A required second factor is overdue: nothing but enrollment is shown.
    pub enrollment_only: bool,
    /// The DAV root, for calendar apps that ask for a server.
    pub dav_url: String,
    /// The account holds an administrative role: link to the administration pages.
    pub administers: bool,
    pub activity: Vec<ActivityView>,
}

/// One of the account's security events, in words for its owner.
pub(crate) struct ActivityView {
    pub at: String,
    pub what: String,
    pub source: String,
    pub failed: bool,
}

impl ActivityView {
    pub fn from_event(e: &carepost_audit::Event) -> ActivityView {
        let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
        let protocol = details["protocol"].as_str().map(|p| match p {
            "imap" => "mail app (IMAP)",
            "smtp" => "mail app (sending)",
            "web" => "the portal",
            "api" => "the API",
            other => other,
        });
        let what = carepost_audit::action::in_words(&e.action);
        let what = match protocol {
            Some(p) => format!("{what}, through {p}"),
            None => what.to_string(),
        };
        ActivityView {
            at: e.at.to_rfc3339(),
            what,
            source: e.source.clone().unwrap_or_default(),
            failed: e.outcome != "success",
        }
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
pub(crate) struct TotpPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// Made on the server from the otpauth URL (no image request, no third party).
    pub qr_svg: String,
    pub secret: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "shown_once.html")]
pub(crate) struct ShownOncePage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub heading: String,
    pub explanation: String,
    pub secrets: Vec<String>,
}

/// A column of the accounts table: its title, the link that sorts by it, its `aria-sort`.
pub(crate) struct ColumnHead {
    pub title: &'static str,
    pub link: Option<String>,
    pub aria_sort: &'static str,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
pub(crate) struct AccountsTablePage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub notices: Vec<String>,
    pub error: Option<String>,
    pub query: String,
    /// Each choice of a filter and whether it is the one chosen.
    pub statuses: Vec<(String, bool)>,
    pub categories: Vec<(String, bool)>,
    pub roles: Vec<(String, bool)>,
    /// (name, name indented by its depth, chosen).
    pub departments: Vec<(String, String, bool)>,
    pub per_page: Vec<(i64, bool)>,
    pub sort: String,
    pub descending: bool,
    pub heads: Vec<ColumnHead>,
    /// The last sign-in column: not for a supervisor.
    pub shows_sign_ins: bool,
    pub entries: Vec<carepost_identity::RosterEntry>,
    /// "1–100 of 2,345 accounts".
    pub summary: String,
    pub previous: Option<String>,
    pub next: Option<String>,
    pub can_create: bool,
    /// This table, for a bulk action to come back to.
    pub back: String,
}

#[derive(Template)]
#[template(path = "admin_bulk.html")]
pub(crate) struct BulkConfirmPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub action: String,
    pub heading: String,
    pub what: String,
    /// (address, name) of everyone affected.
    pub people: Vec<(String, String)>,
    pub back: String,
}

/// One kind of source's lockout state.
pub(crate) struct LockView {
    pub sources: String,
    pub until: Option<String>,
    pub failures: i64,
}

#[derive(Template)]
#[template(path = "admin_account.html")]
pub(crate) struct AdminAccountPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub account: Account,
    pub locks: Vec<LockView>,
    /// Networks the account failed to sign in from lately, with their pause.
    pub sources: Vec<carepost_identity::SourceState>,
    /// `None` when this actor may not read it.
    pub mfa: Option<MfaSummary>,
    pub notices: Vec<String>,
    pub can_unlock: bool,
    pub can_manage: bool,
    pub can_disable: bool,
    /// Helpdesk and IT: the verified reset and the request for a supervisor's approval.
    pub can_reset: bool,
    /// A supervisor asks IT for renames and moves.
    pub can_request: bool,
    /// Roles and the department a supervisor covers (shown to IT).
    pub roles: Vec<(String, Option<String>)>,
    /// The recent sign-in attempts, for the roles that read them.
    pub sign_ins: Option<Vec<carepost_identity::SignInRecord>>,
}

#[derive(Template)]
#[template(path = "admin_reset_request.html")]
pub(crate) struct ResetRequestPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub id: i64,
}

/// The create form as typed (kept when it is shown again with an error).
#[derive(serde::Deserialize, Default)]
pub(crate) struct NewAccountForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub middle: String,
    #[serde(default)]
    pub last: String,
    #[serde(default)]
    pub preferred: String,
    #[serde(default)]
    pub employee_id: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub supervisor: String,
    /// "yes" for a person with one legal name (a mononym): no last name.
    #[serde(default)]
    pub single_name: String,
}

#[derive(Template)]
#[template(path = "admin_new_account.html")]
pub(crate) struct NewAccountPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub form: NewAccountForm,
    /// Each department and whether it is chosen.
    pub departments: Vec<(String, bool)>,
    pub categories: Vec<(String, bool)>,
    pub preview: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub(crate) struct AuditPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub filter: super::audit::AuditSearch,
    /// The kinds of events: (action or family, name, chosen).
    pub families: Vec<(String, String, bool)>,
    pub outcomes: Vec<(&'static str, bool)>,
    pub events: Vec<super::audit::EventView>,
    pub limit: usize,
    /// The same search through the JSON API, for export.
    pub export: String,
    pub verified: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_home.html")]
pub(crate) struct AdminHomePage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    /// For the roles that read the whole directory.
    pub overview: Option<carepost_identity::Overview>,
}

#[derive(Template)]
#[template(path = "admin_sources.html")]
pub(crate) struct SourcesPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub sources: Vec<carepost_identity::SourceState>,
    pub can_clear: bool,
    pub notices: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_directory.html")]
pub(crate) struct DirectoryPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub tree: Vec<super::departments::TreeRow>,
    /// Department names for the forms' choices, by name.
    pub departments: Vec<String>,
    pub can_manage: bool,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

/// A policy key as its form shows it.
pub(crate) struct PolicyInput {
    pub key: &'static str,
    pub about: &'static str,
    /// `number`, `duration`, `bool` or `list`.
    pub kind: &'static str,
    pub text: String,
    pub file_text: String,
    pub set_here: bool,
}

pub(crate) struct PolicyForm {
    pub section: &'static str,
    pub title: &'static str,
    pub changed: Option<String>,
    /// The values set here do not pass any more, and why.
    pub not_in_force: Option<String>,
    pub inputs: Vec<PolicyInput>,
}

#[derive(Template)]
#[template(path = "admin_change_requests.html")]
pub(crate) struct ChangeRequestsPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    /// IT decides; others follow their own requests.
    pub deciding: bool,
    pub requests: Vec<carepost_identity::ChangeRequestInfo>,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_policies.html")]
pub(crate) struct PoliciesPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub can_change: bool,
    pub forms: Vec<PolicyForm>,
    /// Everything in force (the keys set only in the file too), pretty-printed.
    pub document: String,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_reset_requests.html")]
pub(crate) struct ResetRequestsPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub requests: Vec<carepost_identity::OpenResetRequest>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub(crate) struct ConsentPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub params: Vec<(String, String)>,
}

/// A form that confirms an action (a button and hidden fields).
pub(crate) struct ConfirmForm {
    pub action: String,
    pub label: String,
    pub params: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub heading: String,
    pub text: String,
    pub problem: bool,
    pub confirm: Option<ConfirmForm>,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
pub(crate) struct RolesPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    /// Each role: its name, what it may do, its holders.
    pub sections: Vec<(
        &'static str,
        &'static str,
        Vec<carepost_identity::RoleHolder>,
    )>,
}

#[derive(Template)]
#[template(path = "refused.html")]
pub(crate) struct RefusedPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub text: String,
}

#[derive(Template)]
#[template(path = "admin_apps.html")]
pub(crate) struct AppsPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The console's navigation (empty outside the console).
    pub nav: Vec<NavLink>,
    pub issuer: String,
    pub apps: Vec<carepost_oidc::ClientInfo>,
    /// A client just registered: its id and secret, shown once.
    pub shown_once: Option<(String, Option<String>)>,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
pub(crate) struct CalendarPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    /// The organization's domain, for the placeholder of the invitation field.
    pub domain: String,
}

#[derive(Template)]
#[template(path = "calendars.html")]
pub(crate) struct CalendarsPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub own: Vec<super::calendars::CalendarRow>,
    pub shared: Vec<carepost_calendar::SharedCalendar>,
    /// The account's assistants, and whose assistant it is.
    pub delegates: Vec<String>,
    pub delegating: Vec<String>,
    pub feeds_allowed: bool,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_resources.html")]
pub(crate) struct ResourcesPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub resources: Vec<super::resources::ResourceView>,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_resource.html")]
pub(crate) struct ResourceBookingsPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub resource: super::resources::ResourceView,
    pub bookings: Vec<carepost_calendar::Booking>,
    pub notices: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub org: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
    pub window: String,
    pub error: Option<String>,
    pub totp: bool,
    pub passkey: bool,
    /// Where to go back after the proof: a page of the portal or the console.
    pub next: String,
}
