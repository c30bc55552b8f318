//! The Apple configuration profile (`.mobileconfig`) for an iPhone, iPad or Mac: one file
//! that sets up Mail (IMAP and SMTP over TLS), Calendar (CalDAV) and Contacts (CardDAV) with
//! an app password made for it alone, so that the person types nothing but taps "Install".
//! Made on the account page after the password and, where the account has one, a fresh
//! proof of the second factor, like any app password; the profile holds the secret, so it
//! is sent once, never stored, and the app password it holds is revoked like any other.
//! Written with the `plist` crate (Apple's property-list format). The profile is not signed
//! (the device shows it as unverified); signing it needs a certificate Apple devices trust.

use super::account::signed_in;
use super::{Csrf, Gate, PageResult, stale_form};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use carepost_identity::Protocol;
use plist::{Dictionary, Value};
use serde::Deserialize;
use sha2::Digest;

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    password: String,
    #[serde(default)]
    device: String,
}

/// A UUID for a payload, made from a digest of what names it (Apple needs each payload's
/// UUID to be unique and stable within the profile, nothing more); the version nibble says
/// 8 (custom, RFC 9562).
fn payload_uuid(seed: &str) -> String {
    let d = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b).to_uppercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn dict(pairs: Vec<(String, Value)>) -> Value {
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert(k, v);
    }
    Value::Dictionary(d)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn int(v: u16) -> Value {
    Value::Integer(i64::from(v).into())
}

/// What the profile needs to know.
pub(crate) struct Profile<'a> {
    pub organization: &'a str,
    /// The reverse-DNS prefix of the payload identifiers (from the organization's domain).
    pub identifier: String,
    pub address: &'a str,
    pub secret: &'a str,
    pub mail_host: &'a str,
    pub imap_port: u16,
    pub smtp_port: u16,
    pub web_host: &'a str,
    pub web_port: u16,
    /// Unique to this profile (the app password's id).
    pub seed: String,
}

impl Profile<'_> {
    /// One payload: its own fields, then the five every payload has.
    fn payload(&self, kind: &str, ty: &str, name: &str, fields: Vec<(&str, Value)>) -> Value {
        let mut all: Vec<(String, Value)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        all.extend([
            ("PayloadType".to_string(), s(ty)),
            ("PayloadVersion".to_string(), Value::Integer(1.into())),
            (
                "PayloadIdentifier".to_string(),
                s(&format!("{}.{kind}", self.identifier)),
            ),
            (
                "PayloadUUID".to_string(),
                s(&payload_uuid(&format!("{}/{kind}", self.seed))),
            ),
            ("PayloadDisplayName".to_string(), s(name)),
        ]);
        dict(all)
    }

    /// CalDAV's and CardDAV's payloads name the same fields after their prefix.
    fn dav(&self, kind: &str, prefix: &str, name: &str) -> Value {
        let field = |f: &str| format!("{prefix}{f}");
        let fields: Vec<(String, Value)> = vec![
            (field("AccountDescription"), s(name)),
            (field("HostName"), s(self.web_host)),
            (field("Port"), int(self.web_port)),
            (field("UseSSL"), Value::Boolean(true)),
            (field("Username"), s(self.address)),
            (field("Password"), s(self.secret)),
            (
                field("PrincipalURL"),
                s(&format!("/dav/principals/{}/", self.address)),
            ),
        ];
        let ty = format!("com.apple.{kind}.account");
        let mut v = self.payload(kind, &ty, name, Vec::new());
        if let Value::Dictionary(d) = &mut v {
            for (k, val) in fields {
                d.insert(k, val);
            }
        }
        v
    }
}

/// The profile as XML property-list bytes.
pub(crate) fn build(p: &Profile<'_>) -> Result<Vec<u8>, plist::Error> {
    let mail = p.payload(
        "mail",
        "com.apple.mail.managed",
        &format!("{} mail", p.organization),
        vec![
            ("EmailAccountDescription", s(p.organization)),
            ("EmailAccountName", s(p.address)),
            ("EmailAccountType", s("EmailTypeIMAP")),
            ("EmailAddress", s(p.address)),
            ("IncomingMailServerAuthentication", s("EmailAuthPassword")),
            ("IncomingMailServerHostName", s(p.mail_host)),
            ("IncomingMailServerPortNumber", int(p.imap_port)),
            ("IncomingMailServerUseSSL", Value::Boolean(true)),
            ("IncomingMailServerUsername", s(p.address)),
            ("IncomingPassword", s(p.secret)),
            ("OutgoingMailServerAuthentication", s("EmailAuthPassword")),
            ("OutgoingMailServerHostName", s(p.mail_host)),
            ("OutgoingMailServerPortNumber", int(p.smtp_port)),
            ("OutgoingMailServerUseSSL", Value::Boolean(true)),
            ("OutgoingMailServerUsername", s(p.address)),
            (
                "OutgoingPasswordSameAsIncomingPassword",
                Value::Boolean(true),
            ),
        ],
    );
    let top = |k: &str, v: Value| (k.to_string(), v);
    let profile = dict(vec![
        top(
            "PayloadContent",
            Value::Array(vec![
                mail,
                p.dav("caldav", "CalDAV", &format!("{} calendar", p.organization)),
                p.dav(
                    "carddav",
                    "CardDAV",
                    &format!("{} contacts", p.organization),
                ),
            ]),
        ),
        top(
            "PayloadDisplayName",
            s(&format!("{}: mail, calendar and contacts", p.organization)),
        ),
        top(
            "PayloadDescription",
            s(&format!(
                "Sets up {} for {}. It holds an app password made for this device: revoke it on your account page if the device is lost.",
                p.organization, p.address
            )),
        ),
        top("PayloadIdentifier", s(&p.identifier)),
        top("PayloadOrganization", s(p.organization)),
        top("PayloadType", s("Configuration")),
        top("PayloadUUID", s(&payload_uuid(&p.seed))),
        top("PayloadVersion", Value::Integer(1.into())),
        top("PayloadRemovalDisallowed", Value::Boolean(false)),
    ]);
    let mut out = Vec::new();
    profile.to_writer_xml(&mut out)?;
    Ok(out)
}

pub async fn download(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<ProfileForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/account?error=stale"));
    }
    let (session, _) = match signed_in(&state, &headers, &[Gate::Open]).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    // The profile holds an app password: the same proofs as making one by hand.
    if state.directory.step_up_needed(&session).await? {
        return Ok(super::confirm::confirm_first("/account"));
    }
    if !state
        .directory
        .confirm_password(session.account, &f.password, source.0)
        .await?
    {
        return Ok(super::see_other("/account?error=password", &[]));
    }
    let device = f.device.trim();
    let label = match device.is_empty() {
        true => "Apple device profile".to_string(),
        false => format!("{} (profile)", device.chars().take(60).collect::<String>()),
    };
    let (id, secret) = state
        .directory
        .create_app_password(
            session.account,
            &label,
            &[Protocol::Imap, Protocol::Smtp, Protocol::CalDav],
            None,
        )
        .await?;
    let config = state.directory.config();
    let org = &config.organization;
    let listeners = &config.listeners;
    let web = &config.web.public_url;
    let identifier = org
        .domain
        .as_str()
        .split('.')
        .rev()
        .collect::<Vec<_>>()
        .join(".");
    let profile = Profile {
        organization: &org.name,
        // One per app password: a new profile is a new one on the device, and removing it
        // there leaves the others.
        identifier: format!("{identifier}.carepost.{}.{id}", session.account.0),
        address: &session.address,
        secret: &secret,
        mail_host: &config.mail.hostname,
        // Implicit TLS where it listens, else the standard ports behind a proxy.
        imap_port: listeners.imaps.map_or(993, |a| a.port()),
        smtp_port: listeners.submissions.map_or(465, |a| a.port()),
        web_host: web.host_str().unwrap_or(&config.mail.hostname),
        web_port: web.port_or_known_default().unwrap_or(443),
        seed: format!("{}/{id}", session.account.0),
    };
    let body = build(&profile).map_err(|e| super::PageError::Render(e.to_string()))?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-apple-aspen-config"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"carepost.mobileconfig\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
