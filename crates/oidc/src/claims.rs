//! Claims: what a token or the userinfo endpoint says about a person, by scope (OpenID Connect
//! Core §5.4), and the subject identifier, which is stable and opaque: a keyed hash of the
//! account id, never the address (which changes with a name).

use crate::Provider;
use carepost_identity::Profile;
use carepost_types::AccountId;
use serde_json::{Map, Value, json};

/// The scopes this provider knows. `groups` adds the departments and roles; `mail` lets a
/// token open IMAP and SMTP.
pub const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "profile",
    "email",
    "groups",
    "offline_access",
    "mail",
];
/// Authentication context classes: a password alone, or with a second factor. Asking for
/// `ACR_MFA` in `acr_values` asks for a second factor (step-up).
pub const ACR_PWD: &str = "urn:carepost:acr:pwd";
pub const ACR_MFA: &str = "urn:carepost:acr:mfa";

pub(crate) fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        ACR_MFA
    } else {
        ACR_PWD
    }
}

pub(crate) fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

impl Provider {
    /// The `sub` of an account: 128 bits of HMAC-SHA256 under a key derived from the master
    /// key, in hex. The same for every client (the organization's applications correlate
    /// their users by it).
    pub fn subject(&self, account: AccountId) -> String {
        let key = carepost_identity::secrets::derive_key(&self.config.master_key, "oidc subject");
        let full = carepost_identity::secrets::keyed_hash(&key, &account.0.to_string());
        full[..32].to_string()
    }
}

/// The claims about `p` that `scope` lets a client see (without `sub`).
pub(crate) fn user_claims(p: &Profile, scope: &str) -> Map<String, Value> {
    let mut c = Map::new();
    if has_scope(scope, "profile") {
        let given = p
            .name
            .preferred
            .clone()
            .unwrap_or_else(|| p.name.first.clone());
        c.insert("name".into(), json!(p.name.display()));
        c.insert("given_name".into(), json!(given));
        // OIDC Core 5.1: a person with one legal name has no family name to claim.
        if !p.name.last.is_empty() {
            c.insert("family_name".into(), json!(p.name.last));
        }
        if let Some(m) = &p.name.middle {
            c.insert("middle_name".into(), json!(m));
        }
        c.insert("preferred_username".into(), json!(p.address));
        c.insert("department".into(), json!(p.department()));
        c.insert("role_category".into(), json!(p.category));
    }
    if has_scope(scope, "email") {
        c.insert("email".into(), json!(p.address));
        // carepost made the address and delivers its mail.
        c.insert("email_verified".into(), json!(true));
    }
    if has_scope(scope, "groups") {
        let groups: Vec<&str> = p.departments.iter().map(|d| d.1.as_str()).collect();
        c.insert("groups".into(), json!(groups));
        c.insert("roles".into(), json!(p.roles));
        c.insert("department".into(), json!(p.department()));
        c.insert("role_category".into(), json!(p.category));
    }
    c
}
