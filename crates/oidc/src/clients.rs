//! Registered applications. IT administrators register them (CLI, console, API): confidential
//! clients get a secret, shown once and stored as a keyed hash; public clients (mobile and
//! desktop apps) have none and must use PKCE. Redirect URIs match exactly, except that a
//! loopback URI (a desktop app listening on 127.0.0.1) matches on any port (RFC 8252 §7.3).
//! A client may be limited to people holding some roles or working in some departments.

use crate::{OidcError, Provider};
use carepost_audit::{NewEvent, action};
use carepost_identity::{Actor, Permission, Profile};
use carepost_store::{AuditRepo, DirectoryRepo, OidcClientRow, OidcRepo};
use carepost_types::DepartmentId;
use serde::Serialize;
use serde_json::json;

/// The built-in public client of mail apps (Thunderbird and others), announced by autoconfig.
pub const MAIL_CLIENT_ID: &str = "carepost-mail";
/// What every client may ask for. `groups` (departments and administrative roles) and `mail`
/// must be registered for a client.
const STANDARD_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
const SECRET_PREFIX: &str = "cps_";
const SECRET_PURPOSE: &str = "oidc client secrets";
const MAX_URIS: usize = 20;

/// What registering a client needs.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// A server-side application that can keep a secret.
    pub confidential: bool,
    /// Scopes beyond the standard ones (an application's own API scopes, or `mail`).
    pub extra_scopes: Vec<String>,
    /// Role names; empty: anyone.
    pub allowed_roles: Vec<String>,
    /// Department names (each with its subtree); empty: every department.
    pub allowed_departments: Vec<String>,
    /// Ask each person before the first sign-in (for applications not run by the
    /// organization); first-party applications skip the question.
    pub consent: bool,
    /// Only sign-ins with a second factor.
    pub require_mfa: bool,
    /// `RS256` (the default every library accepts) or `ES256`.
    pub id_token_alg: Option<String>,
}

/// A client as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientInfo {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub allowed_roles: Vec<String>,
    pub allowed_departments: Vec<String>,
    pub consent: bool,
    pub require_mfa: bool,
    pub id_token_alg: String,
    pub created_by: String,
    pub created_at: String,
}

/// A registered, usable client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub row: OidcClientRow,
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn list(s: &str, sep: char) -> Vec<String> {
    s.split(sep)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Whether `uri` may be registered as a redirect URI.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), OidcError> {
    let bad = |why: &str| OidcError::request(format!("redirect URI '{uri}': {why}"));
    if uri.len() > 2000 {
        return Err(bad("too long"));
    }
    let url = url::Url::parse(uri).map_err(|e| bad(&e.to_string()))?;
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" | "https" => Err(bad(
            "must be https (plain http only on the loopback address)",
        )),
        // A native app's private-use scheme is a reversed domain name (RFC 8252 §7.1).
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(bad(
            "must be https, a loopback address, or a reversed-domain scheme such as org.example.app:/callback",
        )),
    }
}

/// Whether `given` is the registered `registered`: the same text, or the same loopback URI
/// with any port.
fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(r), Ok(g)) = (url::Url::parse(registered), url::Url::parse(given)) else {
        return false;
    };
    is_loopback(&r)
        && r.scheme() == g.scheme()
        && r.host() == g.host()
        && r.path() == g.path()
        && r.query() == g.query()
        && g.fragment().is_none()
        && g.username().is_empty()
        && g.password().is_none()
}

impl Client {
    pub fn id(&self) -> &str {
        &self.row.client_id
    }

    pub fn is_public(&self) -> bool {
        self.row.secret_hash.is_none()
    }

    pub fn allows_redirect(&self, uri: &str) -> bool {
        lines(&self.row.redirect_uris)
            .iter()
            .any(|r| redirect_matches(r, uri))
    }

    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        lines(&self.row.post_logout_redirect_uris)
            .iter()
            .any(|r| r == uri)
    }

    pub fn scopes(&self) -> Vec<String> {
        list(&self.row.scopes, ' ')
    }

    /// Whether this person may use the client.
    pub fn admits(&self, p: &Profile) -> bool {
        let roles = list(&self.row.allowed_roles, ',');
        let departments: Vec<DepartmentId> = list(&self.row.allowed_departments, ',')
            .iter()
            .filter_map(|d| d.parse().ok().map(DepartmentId))
            .collect();
        (roles.is_empty() || roles.iter().any(|r| p.roles.contains(r)))
            && (departments.is_empty() || departments.iter().any(|d| p.works_within(*d)))
    }

    pub fn id_token_alg(&self) -> jsonwebtoken::Algorithm {
        match self.row.id_token_alg.as_str() {
            "ES256" => jsonwebtoken::Algorithm::ES256,
            _ => jsonwebtoken::Algorithm::RS256,
        }
    }
}

/// A client secret or a code as presented, for the token endpoint.
#[derive(Clone, Default)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Provider {
    async fn department_names(&self, ids: &str) -> Result<Vec<String>, OidcError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.store.read().await?.list_departments().await?;
        Ok(list(ids, ',')
            .iter()
            .filter_map(|id| {
                all.iter()
                    .find(|d| d.id.0.to_string() == *id)
                    .map(|d| d.name.clone())
            })
            .collect())
    }

    async fn info(&self, row: OidcClientRow) -> Result<ClientInfo, OidcError> {
        Ok(ClientInfo {
            allowed_departments: self.department_names(&row.allowed_departments).await?,
            confidential: row.secret_hash.is_some(),
            redirect_uris: lines(&row.redirect_uris),
            post_logout_redirect_uris: lines(&row.post_logout_redirect_uris),
            scopes: list(&row.scopes, ' '),
            allowed_roles: list(&row.allowed_roles, ','),
            created_at: row.created_at.to_rfc3339(),
            client_id: row.client_id,
            name: row.name,
            consent: row.consent,
            require_mfa: row.require_mfa,
            id_token_alg: row.id_token_alg,
            created_by: row.created_by,
        })
    }

    /// Registers a client; returns it and, for a confidential client, its secret (shown once).
    pub async fn register_client(
        &self,
        actor: &Actor,
        new: &NewClient,
    ) -> Result<(ClientInfo, Option<String>), OidcError> {
        self.directory
            .require(actor, Permission::ManageApps, "oidc-clients")
            .await?;
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(OidcError::request(
                "a client's name is 1 to 100 printable characters",
            ));
        }
        if new.redirect_uris.is_empty() {
            return Err(OidcError::request(
                "a client needs at least one --redirect-uri",
            ));
        }
        if new.redirect_uris.len() > MAX_URIS || new.post_logout_redirect_uris.len() > MAX_URIS {
            return Err(OidcError::request(format!(
                "at most {MAX_URIS} URIs of each kind"
            )));
        }
        for uri in new
            .redirect_uris
            .iter()
            .chain(&new.post_logout_redirect_uris)
        {
            check_redirect_uri(uri)?;
        }
        let mut scopes: Vec<String> = STANDARD_SCOPES.iter().map(|s| s.to_string()).collect();
        for s in &new.extra_scopes {
            let ok = !s.is_empty()
                && s.len() <= 100
                && s.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
            if !ok {
                return Err(OidcError::request(format!("'{s}' is not a scope name")));
            }
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        for r in &new.allowed_roles {
            if carepost_identity::Role::parse(r).is_none() {
                return Err(OidcError::request(format!(
                    "'{r}' is not a role: it-admin, helpdesk, supervisor, security-officer or communications"
                )));
            }
        }
        let alg = match new.id_token_alg.as_deref() {
            None | Some("RS256") => "RS256",
            Some("ES256") => "ES256",
            Some(other) => {
                return Err(OidcError::request(format!(
                    "ID tokens are signed with RS256 or ES256, not '{other}'"
                )));
            }
        };
        let mut departments = Vec::new();
        {
            let mut read = self.store.read().await?;
            for d in &new.allowed_departments {
                let row = read
                    .find_department_by_name(d)
                    .await?
                    .ok_or_else(|| OidcError::request(format!("there is no department '{d}'")))?;
                departments.push(row.id.0.to_string());
            }
        }
        let secret = new
            .confidential
            .then(|| format!("{SECRET_PREFIX}{}", self.random_token()));
        let slug: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .take(4)
            .collect::<Vec<_>>()
            .join("-");
        let client_id = format!(
            "{}{}{}",
            slug,
            if slug.is_empty() { "" } else { "-" },
            hex::encode(self.rng.bytes(6))
        );
        let row = OidcClientRow {
            id: 0,
            client_id: client_id.clone(),
            name: name.to_string(),
            secret_hash: secret
                .as_deref()
                .map(|s| self.secret_hash(SECRET_PURPOSE, s)),
            redirect_uris: new.redirect_uris.join("\n"),
            post_logout_redirect_uris: new.post_logout_redirect_uris.join("\n"),
            scopes: scopes.join(" "),
            allowed_roles: new.allowed_roles.join(","),
            allowed_departments: departments.join(","),
            consent: new.consent,
            require_mfa: new.require_mfa,
            id_token_alg: alg.to_string(),
            created_by: actor.who.label(),
            created_at: self.now(),
            removed_at: None,
        };
        self.insert_client(actor, &row).await?;
        Ok((self.info(row).await?, secret))
    }

    async fn insert_client(&self, actor: &Actor, row: &OidcClientRow) -> Result<(), OidcError> {
        let mut tx = self.store.begin().await?;
        tx.insert_oidc_client(row).await?;
        let mut event = NewEvent::success(
            self.now(),
            &actor.who,
            action::OIDC_CLIENT_ADD,
            format!("client:{}", row.client_id),
        )
        .with_details(json!({
            "name": row.name,
            "confidential": row.secret_hash.is_some(),
            "redirect_uris": lines(&row.redirect_uris),
            "scopes": row.scopes,
            "allowed_roles": row.allowed_roles,
            "allowed_departments": row.allowed_departments,
            "consent": row.consent,
            "require_mfa": row.require_mfa,
        }));
        event.source = actor.source.clone();
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The built-in public client of mail apps exists (first start).
    pub(crate) async fn ensure_mail_client(&self) -> Result<(), OidcError> {
        if self
            .store
            .read()
            .await?
            .find_oidc_client(MAIL_CLIENT_ID)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let row = OidcClientRow {
            id: 0,
            client_id: MAIL_CLIENT_ID.to_string(),
            name: "Mail apps".to_string(),
            secret_hash: None,
            // Desktop mail apps receive the code on a loopback listener, on any port.
            redirect_uris:
                "http://127.0.0.1/\nhttp://[::1]/\nhttp://localhost/\nhttps://localhost/"
                    .to_string(),
            post_logout_redirect_uris: String::new(),
            scopes: "openid profile email offline_access mail".to_string(),
            allowed_roles: String::new(),
            allowed_departments: String::new(),
            consent: false,
            require_mfa: false,
            id_token_alg: "RS256".to_string(),
            created_by: "system".to_string(),
            created_at: self.now(),
            removed_at: None,
        };
        match self.insert_client(&Actor::system(), &row).await {
            // Another node made it first.
            Err(OidcError::Identity(carepost_identity::IdentityError::Conflict(_))) => Ok(()),
            other => other,
        }
    }

    pub async fn list_clients(&self, actor: &Actor) -> Result<Vec<ClientInfo>, OidcError> {
        self.directory
            .require(actor, Permission::ManageApps, "oidc-clients")
            .await?;
        let rows = self.store.read().await?.list_oidc_clients().await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.info(r).await?);
        }
        Ok(out)
    }

    /// Removes a client; every grant it holds is revoked with it.
    pub async fn remove_client(&self, actor: &Actor, client_id: &str) -> Result<(), OidcError> {
        self.directory
            .require(actor, Permission::ManageApps, "oidc-clients")
            .await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !tx.remove_oidc_client(client_id, now).await? {
            return Err(OidcError::Identity(
                carepost_identity::IdentityError::NotFound(format!("no client '{client_id}'")),
            ));
        }
        let revoked = tx
            .revoke_client_grants(client_id, now, "client removed")
            .await?;
        let mut event = NewEvent::success(
            now,
            &actor.who,
            action::OIDC_CLIENT_REMOVE,
            format!("client:{client_id}"),
        )
        .with_details(json!({ "grants_revoked": revoked }));
        event.source = actor.source.clone();
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A usable client by id (not removed).
    pub(crate) async fn client(&self, client_id: &str) -> Result<Option<Client>, OidcError> {
        if client_id.is_empty() || client_id.len() > 200 {
            return Ok(None);
        }
        let row = self.store.read().await?.find_oidc_client(client_id).await?;
        Ok(row
            .filter(|r| r.removed_at.is_none())
            .map(|row| Client { row }))
    }

    /// The client a token request comes from, authenticated: a confidential client by its
    /// secret, a public one by its id alone (PKCE then proves the rest).
    pub(crate) async fn authenticate_client(
        &self,
        creds: &ClientCredentials,
    ) -> Result<Client, OidcError> {
        let unknown = || OidcError::InvalidClient("client authentication failed".into());
        let client = self.client(&creds.client_id).await?.ok_or_else(unknown)?;
        match (&client.row.secret_hash, &creds.secret) {
            (Some(hash), Some(secret)) => {
                let key =
                    carepost_identity::secrets::derive_key(&self.config.master_key, SECRET_PURPOSE);
                if secret.len() > 200
                    || !carepost_identity::secrets::verify_keyed_hash(&key, secret, hash)
                {
                    return Err(unknown());
                }
            }
            (None, None) => {}
            _ => return Err(unknown()),
        }
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_or_on_loopback_ports() {
        assert!(redirect_matches(
            "https://ehr.kaiser.org/cb",
            "https://ehr.kaiser.org/cb"
        ));
        assert!(!redirect_matches(
            "https://ehr.kaiser.org/cb",
            "https://ehr.kaiser.org/cb/"
        ));
        assert!(!redirect_matches(
            "https://ehr.kaiser.org/cb",
            "https://ehr.kaiser.org/cb?x=1"
        ));
        assert!(!redirect_matches(
            "https://ehr.kaiser.org/cb",
            "https://ehr.kaiser.org:444/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/",
            "http://127.0.0.1:53211/"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/",
            "http://127.0.0.1:53211/x"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/",
            "http://evil.example:53211/"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/",
            "http://user@127.0.0.1:1/"
        ));
    }

    #[test]
    fn only_safe_redirect_uris_are_registered() {
        assert!(check_redirect_uri("https://ehr.kaiser.org/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(check_redirect_uri("org.kaiser.app:/cb").is_ok());
        assert!(check_redirect_uri("http://ehr.kaiser.org/cb").is_err());
        assert!(check_redirect_uri("https://ehr.kaiser.org/cb#x").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("not a uri").is_err());
    }
}
