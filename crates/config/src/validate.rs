//! Turns a `RawConfig` into a `Config`, collecting every problem instead of stopping at the
//! first, each prefixed with the key it concerns.

use crate::raw::{RawAddress, RawConfig, RawListeners, RawLog, RawOrganization, RawStore, RawTls};
use crate::security;
use crate::{
    AddressConfig, AddressTemplate, BUILTIN_CATEGORIES, BUILTIN_RESERVED, Config, Listeners,
    LogConfig, LogFormat, NameSource, Organization, StoreConfig, TlsConfig, parse_duration,
};
use base64::Engine;
use carepost_types::{Domain, LocalPart};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Collects errors while values are checked one by one.
#[derive(Default)]
pub(crate) struct Errors(Vec<String>);

impl Errors {
    pub(crate) fn push(&mut self, e: &str) {
        self.0.push(e.to_string());
    }

    pub(crate) fn check<T>(&mut self, key: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.0.push(format!("{key}: {e}"))).ok()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `v` if nothing was found wrong, else everything that was.
    pub(crate) fn into_result<T>(self, v: T) -> Result<T, Vec<String>> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(self.0)
        }
    }

    fn required<T>(&mut self, key: &str, v: Option<T>) -> Option<T> {
        if v.is_none() {
            self.0.push(format!("{key}: missing"));
        }
        v
    }
}

pub fn validate(raw: RawConfig, base: &Path) -> Result<Config, Vec<String>> {
    let mut errs = Errors::default();
    let dev = raw.dev.unwrap_or(false);
    let organization = organization(&mut errs, raw.organization);
    let store = store(&mut errs, raw.store, base);
    let tls = tls(&mut errs, raw.tls, base, dev);
    let listeners = listeners(&mut errs, raw.listeners, dev);
    let address = address(&mut errs, raw.address);
    let categories = categories(&mut errs, raw.directory.categories);
    let invitation_lifetime = match raw.directory.invitation_lifetime.as_deref() {
        None => Duration::from_secs(7 * 86_400),
        Some(t) => errs
            .check("directory.invitation_lifetime", parse_duration(t))
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(7 * 86_400)),
    };
    let import_owns = match raw.directory.import_owns {
        None => crate::IMPORT_FIELDS.map(str::to_string).to_vec(),
        Some(fields) => {
            for f in &fields {
                if !crate::IMPORT_FIELDS.contains(&f.as_str()) {
                    errs.0.push(format!(
                        "directory.import_owns: '{f}' is not one of {}",
                        crate::IMPORT_FIELDS.join(", ")
                    ));
                }
            }
            fields
        }
    };
    let log = log(&mut errs, raw.log);
    let password = security::password(&mut errs, raw.password);
    let lockout = security::lockout(&mut errs, raw.lockout);
    let mfa = security::mfa(&mut errs, raw.mfa, &categories);
    let sessions = security::sessions(&mut errs, raw.sessions);
    let oidc = security::oidc(&mut errs, raw.oidc);
    let org_domain = organization.as_ref().map(|o| o.domain.as_str().to_string());
    let mail = crate::mail::mail(&mut errs, raw.mail, org_domain.as_deref(), base);
    let imap = crate::mail::imap(&mut errs, raw.imap);
    let files = files(&mut errs, raw.files);
    let web = crate::web::web(&mut errs, raw.web, &mail.hostname, listeners.https, dev);
    let master_key = errs
        .required("secrets.master_key", raw.secrets.master_key)
        .and_then(|k| errs.check("secrets.master_key", decode_key(&k)));
    match (organization, store, tls, address, log, master_key, web) {
        (
            Some(organization),
            Some(store),
            Some(tls),
            Some(address),
            Some(log),
            Some(master_key),
            Some(web),
        ) if errs.0.is_empty() => Ok(Config {
            dev,
            organization,
            store,
            tls,
            listeners,
            address,
            categories,
            import_reactivates_disabled: raw.directory.import_reactivates_disabled.unwrap_or(false),
            import_owns,
            change_requests_own_department: raw
                .directory
                .change_requests_own_department
                .unwrap_or(true),
            invitation_lifetime,
            log,
            master_key,
            password,
            lockout,
            mfa,
            sessions,
            oidc,
            mail,
            imap,
            web,
            calendar: crate::CalendarPolicy {
                public_feeds: raw.calendar.public_feeds.unwrap_or(false),
            },
            files,
        }),
        _ => Err(errs.0),
    }
}

fn files(errs: &mut Errors, raw: crate::raw::RawFiles) -> crate::FilesPolicy {
    let d = crate::FilesPolicy::default();
    let quota = crate::mail::size(errs, "files.quota", raw.quota, d.quota);
    let max_file_size = crate::mail::size(
        errs,
        "files.max_file_size",
        raw.max_file_size,
        d.max_file_size,
    );
    // The whole file is read into memory, and the database keeps it in one row.
    if max_file_size > 512 << 20 {
        errs.push("files.max_file_size: at most 512MiB");
    }
    crate::FilesPolicy {
        enabled: raw.enabled.unwrap_or(d.enabled),
        quota,
        max_file_size: max_file_size.max(1),
    }
}

fn organization(errs: &mut Errors, raw: RawOrganization) -> Option<Organization> {
    let name = errs.required("organization.name", raw.name);
    let domain = errs
        .required("organization.domain", raw.domain)
        .and_then(|d| errs.check("organization.domain", parse_domain(&d)));
    let extra_domains = raw
        .extra_domains
        .iter()
        .filter_map(|d| errs.check("organization.extra_domains", parse_domain(d)))
        .collect();
    Some(Organization {
        name: name?,
        domain: domain?,
        extra_domains,
    })
}

fn store(errs: &mut Errors, raw: RawStore, base: &Path) -> Option<StoreConfig> {
    let url = errs
        .required("store.url", raw.url)
        .and_then(|u| errs.check("store.url", check_store_url(&u, base)));
    let blob_dir = errs
        .required("store.blob_dir", raw.blob_dir)
        .map(|p| resolve(base, &p));
    Some(StoreConfig {
        url: url?,
        blob_dir: blob_dir?,
    })
}

fn tls(errs: &mut Errors, raw: RawTls, base: &Path, dev: bool) -> Option<TlsConfig> {
    let cert = errs
        .required("tls.cert", raw.cert)
        .map(|p| resolve(base, &p));
    let key = errs.required("tls.key", raw.key).map(|p| resolve(base, &p));
    Some(TlsConfig {
        cert: cert?,
        key: key?,
        generate_if_missing: raw.generate_if_missing.unwrap_or(dev),
    })
}

fn address(errs: &mut Errors, raw: RawAddress) -> Option<AddressConfig> {
    let template = match raw.template {
        Some(t) => errs.check("address.template", AddressTemplate::parse(&t)),
        None => Some(AddressTemplate::default()),
    };
    let mononym_template = match raw.mononym_template {
        Some(t) => errs.check(
            "address.mononym_template",
            AddressTemplate::parse_mononym(&t),
        ),
        None => Some(AddressTemplate::mononym_default()),
    };
    let mut reserved: Vec<String> = BUILTIN_RESERVED.iter().map(|s| s.to_string()).collect();
    for r in &raw.reserved {
        let checked = LocalPart::parse(r).map_err(|e| e.to_string());
        if let Some(l) = errs.check("address.reserved", checked) {
            reserved.push(l.as_str().to_string());
        }
    }
    let quarantine = match raw.quarantine {
        Some(q) => errs.check("address.quarantine", parse_duration(&q)),
        None => Some(Duration::from_secs(365 * 86_400)),
    };
    let name_source = match raw.name.as_deref() {
        None | Some("legal") => Some(NameSource::Legal),
        Some("preferred") => Some(NameSource::Preferred),
        Some(other) => errs.check(
            "address.name",
            Err(format!("'{other}': use \"legal\" or \"preferred\"")),
        ),
    };
    Some(AddressConfig {
        template: template?,
        mononym_template: mononym_template?,
        reserved,
        quarantine: quarantine?,
        name_source: name_source?,
    })
}

fn categories(errs: &mut Errors, raw: Vec<String>) -> Vec<String> {
    let mut categories: Vec<String> = BUILTIN_CATEGORIES.iter().map(|s| s.to_string()).collect();
    for c in raw {
        let c = c.trim().to_ascii_lowercase();
        let ok = !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            errs.0.push(format!(
                "directory.categories: '{c}' must be lower-case letters, digits and '-'"
            ));
        } else if !categories.contains(&c) {
            categories.push(c);
        }
    }
    categories
}

fn log(errs: &mut Errors, raw: RawLog) -> Option<LogConfig> {
    let format = match raw.format.as_deref() {
        None | Some("text") => Some(LogFormat::Text),
        Some("json") => Some(LogFormat::Json),
        Some(other) => errs.check(
            "log.format",
            Err(format!("'{other}': use \"text\" or \"json\"")),
        ),
    };
    let level = raw.level.unwrap_or_else(|| "info".to_string());
    let level_ok = !level.trim().is_empty()
        && level
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_=,:.-".contains(c));
    if !level_ok {
        errs.0.push(format!(
            "log.level: '{level}' is not a log filter; write e.g. \"info\" or \"carepost_store=debug,info\""
        ));
    }
    Some(LogConfig {
        format: format?,
        level,
    })
}

fn parse_domain(d: &str) -> Result<Domain, String> {
    Domain::parse(d).map_err(|e| e.to_string())
}

pub(crate) fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Accepts `sqlite:PATH` / `sqlite://PATH` (relative paths taken from the config's
/// directory) and `postgres://` / `postgresql://` URLs.
fn check_store_url(url: &str, base: &Path) -> Result<String, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(url.to_string());
    }
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(format!(
            "'{url}': use sqlite://PATH or postgres://USER@HOST/DATABASE"
        ));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err("the sqlite URL names no file".to_string());
    }
    let path = resolve(base, path);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Ok(format!("sqlite://{}{query}", path.display()))
}

fn listeners(errs: &mut Errors, raw: RawListeners, dev: bool) -> Listeners {
    let mut one = |key: &str, v: Option<String>| -> Option<SocketAddr> {
        let v = v.filter(|s| !s.trim().is_empty())?;
        errs.check(
            &format!("listeners.{key}"),
            v.trim()
                .parse::<SocketAddr>()
                .map_err(|_| format!("'{v}' is not an address:port such as 0.0.0.0:443")),
        )
    };
    let l = Listeners {
        https: one("https", raw.https),
        http: one("http", raw.http),
        smtp: one("smtp", raw.smtp),
        submission: one("submission", raw.submission),
        submissions: one("submissions", raw.submissions),
        imap: one("imap", raw.imap),
        imaps: one("imaps", raw.imaps),
        metrics: one("metrics", raw.metrics),
    };
    if l.http.is_some() && !dev {
        errs.0.push(
            "listeners.http: plain HTTP is only for development mode (dev = true); use https"
                .to_string(),
        );
    }
    let all = [
        l.https,
        l.http,
        l.smtp,
        l.submission,
        l.submissions,
        l.imap,
        l.imaps,
        l.metrics,
    ];
    let bound: Vec<SocketAddr> = all.iter().flatten().copied().collect();
    for (i, a) in bound.iter().enumerate() {
        if a.port() != 0 && bound[..i].contains(a) {
            errs.0
                .push(format!("listeners: {a} is given to two listeners"));
        }
    }
    l
}

fn decode_key(k: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(k.trim())
        .map_err(|_| "not base64".to_string())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("must be 32 bytes, found {}", bytes.len()))
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::Config;
    use std::path::Path;

    pub(crate) const GOOD: &str = r#"
        [organization]
        name = "Kaiser"
        domain = "Kaiser.org"
        [store]
        url = "sqlite:data/carepost.db"
        blob_dir = "blobs"
        [tls]
        cert = "tls/cert.pem"
        key = "tls/key.pem"
        [listeners]
        https = "0.0.0.0:443"
        smtp = "0.0.0.0:25"
        [address]
        template = "{f}{last}"
        reserved = ["pharmacy"]
        quarantine = "30d"
        [secrets]
        master_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    "#;

    #[test]
    fn a_good_config_resolves_paths_from_its_directory() {
        let c = Config::from_toml(GOOD, Path::new("/etc/carepost")).unwrap();
        assert_eq!(c.organization.domain.as_str(), "kaiser.org");
        assert_eq!(c.store.url, "sqlite:///etc/carepost/data/carepost.db");
        assert_eq!(c.tls.cert, Path::new("/etc/carepost/tls/cert.pem"));
        assert!(c.address.reserved.contains(&"pharmacy".to_string()));
        assert!(c.address.reserved.contains(&"postmaster".to_string()));
        assert_eq!(c.address.quarantine.as_secs(), 30 * 86_400);
        assert_eq!(c.listeners.smtp.unwrap().port(), 25);
        assert!(c.listeners.imap.is_none());
        assert!(!c.dev);
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let text = r#"
            [organization]
            domain = "not a domain"
            [store]
            url = "mysql://x"
            [listeners]
            https = "everywhere"
            http = "127.0.0.1:80"
            [address]
            template = "{first}.{nick}"
            quarantine = "forever"
            [log]
            format = "xml"
            level = "info; rm -rf"
            [secrets]
            master_key = "c2hvcnQ="
        "#;
        let e = Config::from_toml(text, Path::new("/")).unwrap_err();
        let all = e.errors.join("\n");
        for key in [
            "organization.name: missing",
            "organization.domain:",
            "store.url:",
            "store.blob_dir: missing",
            "tls.cert: missing",
            "listeners.https:",
            "listeners.http: plain HTTP",
            "address.template:",
            "address.quarantine:",
            "log.format:",
            "log.level:",
            "secrets.master_key: must be 32 bytes",
        ] {
            assert!(all.contains(key), "missing {key} in:\n{all}");
        }
        assert_eq!(e.errors.len(), 13, "{all}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let e = Config::from_toml("[store]\nurll = \"x\"\n", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("urll"), "{e}");
    }

    #[test]
    fn the_same_address_on_two_listeners_is_an_error() {
        let text = GOOD.replace("0.0.0.0:25", "0.0.0.0:443");
        let e = Config::from_toml(&text, Path::new("/")).unwrap_err();
        assert!(e.errors[0].contains("two listeners"), "{e}");
    }

    #[test]
    fn single_sign_on_and_step_up_lifetimes_have_defaults_and_bounds() {
        let c = Config::from_toml(GOOD, Path::new("/")).unwrap();
        assert_eq!(c.oidc.access_token_lifetime.as_secs(), 600);
        assert_eq!(c.oidc.refresh_token_idle.as_secs(), 14 * 86_400);
        assert_eq!(c.oidc.offline_lifetime.as_secs(), 90 * 86_400);
        assert_eq!(c.sessions.step_up.as_secs(), 900);
        let text = format!(
            "{GOOD}\n[oidc]\naccess_token_lifetime = \"2m\"\noffline_lifetime = \"30d\"\n[sessions]\nstep_up = \"5m\"\n"
        );
        let c = Config::from_toml(&text, Path::new("/")).unwrap();
        assert_eq!(c.oidc.access_token_lifetime.as_secs(), 120);
        assert_eq!(c.oidc.offline_lifetime.as_secs(), 30 * 86_400);
        assert_eq!(c.sessions.step_up.as_secs(), 300);
        let text = format!(
            "{GOOD}\n[oidc]\naccess_token_lifetime = \"2h\"\nrefresh_token_idle = \"0s\"\n[sessions]\nstep_up = \"0s\"\n"
        );
        let e = Config::from_toml(&text, Path::new("/"))
            .unwrap_err()
            .errors
            .join("\n");
        for key in [
            "oidc.access_token_lifetime",
            "oidc: refresh_token_idle",
            "sessions.step_up",
        ] {
            assert!(e.contains(key), "missing {key} in:\n{e}");
        }
    }
}
