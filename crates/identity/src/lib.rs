//! The staff directory and who may change it: departments, accounts and their addresses made
//! by the organization's policy, bulk import from HR, the first administrator, and the one
//! authorization check every operation passes through. Every change is written together with
//! its audit event, in one store transaction.
//!
//! This crate knows nothing of HTTP, sockets or protocols; callers hand it an `Actor`.

mod accounts;
mod actor;
pub mod address;
mod aliases;
mod app_passwords;
mod attempts;
mod audit_trail;
mod authn;
mod authz;
mod bearer;
mod bootstrap;
mod change_requests;
mod credentials;
mod departments;
mod directory;
mod edit;
mod error;
mod helpdesk;
mod import;
mod invitations;
pub mod keyring;
mod lists;
mod lockout;
mod mail_clients;
mod mfa;
mod model;
mod overview;
mod passkeys;
mod password;
mod pending;
mod policies;
mod policy_doc;
mod profile;
mod recovery;
mod rename;
mod roles;
mod roster;
pub mod secrets;
mod sessions;
mod sources;
mod status;
mod step_up;
mod tokens;

pub use actor::{Actor, Role};
pub use app_passwords::AppPasswordInfo;
/// The revoke reason an owner's own password change gives its app passwords.
pub const REVOKED_BY_PASSWORD_CHANGE: &str = app_passwords::why::PASSWORD_CHANGED;
pub use audit_trail::{SIGN_IN_LOG, SignInRecord};
pub use authn::{Credential, Protocol, Refusal, SecondFactor, SignIn, SignInResult, SignedIn};
pub use authz::{Permission, role_waits};
pub use bearer::VerifiedToken;
pub use bootstrap::FirstAdmin;
pub use carepost_config::{EDITABLE as POLICY_FIELDS, FieldKind, field_text, parse_field};
pub use carepost_store::RosterSort;
pub use change_requests::{ChangeRequestInfo, RequestedChange};
pub use credentials::PasswordState;
pub use directory::{Directory, ListFilter};
pub use edit::AccountEdit;
pub use error::IdentityError;
pub use helpdesk::OpenResetRequest;
pub use import::{ImportLineError, ImportSummary};
pub use invitations::{InvitationInfo, IssuedInvitation};
pub use lists::MailList;
pub use lockout::network_of;
pub use mail_clients::MailClientInfo;
pub use mfa::{ENROLLED_IN_SESSION, MfaSummary, TotpEnrollment};
pub use model::{Account, AccountStatus, Department, NewAccount, PersonName, Rename};
pub use overview::Overview;
pub use passkeys::{
    CreationChallengeResponse, PasskeyChallenge, PasskeyInfo, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse,
};
pub use password::{
    Hasher, PasswordContext, PolicyViolation, check_new_password, hash_password,
    is_common_password, verify_password,
};
pub use pending::{Pending, SecondStep};
pub use policies::{PolicyFieldView, PolicySection};
pub use policy_doc::{human_duration, policy_document};
pub use profile::Profile;
pub use recovery::Recovered;
pub use roster::{DepartmentNode, RoleHolder, Roster, RosterEntry, RosterRequest};
pub use sessions::{Session, SessionInfo};
pub use sources::{SourceState, Unlocked};
pub use tokens::ApiTokenInfo;
