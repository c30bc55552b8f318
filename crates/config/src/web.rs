//! `[web]`: how browsers reach the portal. Its public URL is the origin that passkeys are bound
//! to (the WebAuthn relying party, W3C WebAuthn Level 3 §5.1.3): the host is the relying party
//! id, and a passkey made for one host never signs in to another.

use crate::raw::RawWeb;
use crate::validate::Errors;
use std::net::SocketAddr;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// Scheme, host and port only, such as `https://mail.kaiser.org`.
    pub public_url: Url,
    /// The host of `public_url`: the WebAuthn relying party id.
    pub rp_id: String,
}

impl WebConfig {
    /// The origin for `hostname` served on `https`.
    pub fn for_host(hostname: &str, https: Option<SocketAddr>) -> Result<WebConfig, String> {
        let port = https
            .map(|a| a.port())
            .filter(|p| *p != 443 && *p != 0)
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        parse(&format!("https://{hostname}{port}"), false)
    }
}

fn parse(text: &str, dev: bool) -> Result<WebConfig, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(_) => {
            return Err(format!(
                "'{text}': browsers bind passkeys to a host name, not an IP address"
            ));
        }
        None => return Err(format!("'{text}' has no host")),
    };
    let http_ok = dev && host == "localhost";
    if url.scheme() != "https" && !(url.scheme() == "http" && http_ok) {
        return Err(format!("'{text}': must be https://"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "'{text}': scheme, host and port only, such as https://mail.example.org"
        ));
    }
    Ok(WebConfig {
        public_url: url,
        rp_id: host,
    })
}

pub(crate) fn web(
    errs: &mut Errors,
    raw: RawWeb,
    hostname: &str,
    https: Option<SocketAddr>,
    dev: bool,
) -> Option<WebConfig> {
    match raw.public_url {
        Some(u) => errs.check("web.public_url", parse(&u, dev)),
        None => errs.check(
            "web.public_url",
            WebConfig::for_host(hostname, https)
                .map_err(|e| format!("not set, and mail.hostname does not make one: {e}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_the_host_and_the_https_port() {
        let a: SocketAddr = "0.0.0.0:443".parse().unwrap();
        let c = WebConfig::for_host("mail.kaiser.org", Some(a)).unwrap();
        assert_eq!(c.public_url.as_str(), "https://mail.kaiser.org/");
        assert_eq!(c.rp_id, "mail.kaiser.org");
        let a: SocketAddr = "127.0.0.1:10443".parse().unwrap();
        let c = WebConfig::for_host("localhost", Some(a)).unwrap();
        assert_eq!(c.public_url.as_str(), "https://localhost:10443/");
    }

    #[test]
    fn addresses_paths_and_plain_http_are_refused() {
        assert!(parse("https://10.0.0.1", false).unwrap_err().contains("IP"));
        assert!(parse("https://mail.kaiser.org/portal", false).is_err());
        assert!(parse("http://mail.kaiser.org", false).is_err());
        assert!(parse("http://localhost:8080", false).is_err());
        assert!(parse("http://localhost:8080", true).is_ok());
        assert!(parse("not a url", false).is_err());
    }
}
