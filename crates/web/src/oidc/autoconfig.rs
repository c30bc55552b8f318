//! The autoconfig document (Thunderbird's `config-v1.1.xml`, also read by other mail apps):
//! from an address alone, a mail app learns the IMAP and SMTP servers, that TLS is required,
//! and that it may sign in with OAuth 2.0 through carepost (and so with a second factor)
//! instead of an app password.

use crate::WebState;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Wanted {
    emailaddress: Option<String>,
}

/// Text safe inside XML.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub async fn document(State(state): State<WebState>, Query(q): Query<Wanted>) -> Response {
    let config = state.directory.config();
    let org = &config.organization;
    let domains: Vec<String> = std::iter::once(&org.domain)
        .chain(&org.extra_domains)
        .map(|d| d.to_string())
        .collect();
    let domain = match q.emailaddress.as_deref().and_then(|a| a.rsplit_once('@')) {
        Some((_, d)) => {
            let d = d.to_ascii_lowercase();
            if !domains.contains(&d) {
                return (
                    StatusCode::NOT_FOUND,
                    "carepost does not serve that domain\n",
                )
                    .into_response();
            }
            d
        }
        None => domains[0].clone(),
    };
    let host = xml(&config.mail.hostname);
    let l = &config.listeners;
    let incoming = match (l.imaps, l.imap) {
        (Some(a), _) => Some((a.port(), "SSL")),
        (None, Some(a)) => Some((a.port(), "STARTTLS")),
        (None, None) => None,
    };
    let outgoing = match (l.submissions, l.submission) {
        (Some(a), _) => Some((a.port(), "SSL")),
        (None, Some(a)) => Some((a.port(), "STARTTLS")),
        (None, None) => None,
    };
    let server = |kind: &str, tag: &str, (port, socket): (u16, &str)| {
        format!(
            "    <{tag} type=\"{kind}\">\n      <hostname>{host}</hostname>\n      <port>{port}</port>\n      <socketType>{socket}</socketType>\n      <authentication>OAuth2</authentication>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%</username>\n    </{tag}>\n"
        )
    };
    let issuer = state.oidc.issuer();
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n",
    );
    body.push_str(&format!(
        "  <emailProvider id=\"{d}\">\n    <domain>{d}</domain>\n    <displayName>{n}</displayName>\n    <displayShortName>{n}</displayShortName>\n",
        d = xml(&domain),
        n = xml(&org.name)
    ));
    if let Some(i) = incoming {
        body.push_str(&server("imap", "incomingServer", i));
    }
    if let Some(o) = outgoing {
        body.push_str(&server("smtp", "outgoingServer", o));
    }
    body.push_str("  </emailProvider>\n");
    body.push_str(&format!(
        "  <oAuth2>\n    <issuer>{iss}</issuer>\n    <clientID>{client}</clientID>\n    <scope>openid email offline_access mail</scope>\n    <authURL>{iss}/oauth2/authorize</authURL>\n    <tokenURL>{iss}/oauth2/token</tokenURL>\n  </oAuth2>\n",
        iss = xml(&issuer),
        client = carepost_oidc::MAIL_CLIENT_ID
    ));
    body.push_str("</clientConfig>\n");
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    res
}
