//! What a command or a server needs once the config is known: the open store and the domain
//! services over it, with the real clock and the OS random source.

use carepost_config::Config;
use carepost_identity::Directory;
use carepost_mail::MailStore;
use carepost_oidc::Provider;
use carepost_store::Store;
use carepost_types::{Clock, OsRng, Rng, SystemClock};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub directory: Directory,
    pub mail: MailStore,
    pub oidc: Provider,
    /// Calendars and address books, mailing invitations to people outside through `mail`.
    pub calendars: carepost_calendar::Calendars,
    pub files: carepost_files::Files,
    /// Rooms and equipment, managed by IT and supervisors.
    pub resources: carepost_calendar::Resources,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
}

impl Context {
    /// Opens (and migrates) the store of `config`.
    pub async fn open(config: Arc<Config>) -> anyhow::Result<Context> {
        Context::open_with(config, Arc::new(SystemClock), Arc::new(OsRng)).await
    }

    pub async fn open_with(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
    ) -> anyhow::Result<Context> {
        let seal_key = carepost_audit::seal_key(&config.master_key);
        let store = Store::open(&config.store.url, seal_key)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the store {}: {e}",
                    redact_url(&config.store.url)
                )
            })?;
        // The master key must open the store's root key, from which every secret is derived;
        // a node with another key stops here rather than writing what no other node can read.
        let root =
            carepost_identity::keyring::open_root(&store, &config.master_key, &*clock, &*rng)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let store = store.with_seal_key(carepost_audit::seal_key(&root));
        let config = match root == config.master_key {
            true => config,
            false => {
                let mut with_root = (*config).clone();
                with_root.master_key = root;
                Arc::new(with_root)
            }
        };
        let directory = Directory::new(store.clone(), config.clone(), clock.clone(), rng.clone())?;
        directory
            .reload_policies()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the policies set at run time: {e}"))?;
        let mail = MailStore::open(store.clone(), config.clone(), clock.clone(), rng.clone());
        let oidc = Provider::new(
            store.clone(),
            directory.clone(),
            config.clone(),
            clock.clone(),
            rng.clone(),
        );
        let calendars =
            carepost_calendar::Calendars::new(store.clone(), clock.clone()).with_mail(mail.clone());
        let resources = carepost_calendar::Resources::new(directory.clone(), clock.clone());
        let files = carepost_files::Files::new(
            store.clone(),
            clock.clone(),
            rng.clone(),
            &config.master_key,
            config.files,
        );
        Ok(Context {
            config,
            store,
            directory,
            mail,
            oidc,
            calendars,
            files,
            resources,
            clock,
            rng,
        })
    }
}

/// A store URL fit for printing: any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_in_store_urls_are_not_printed() {
        assert_eq!(
            redact_url("postgres://carepost:s3cret@db:5432/carepost"),
            "postgres://carepost:***@db:5432/carepost"
        );
        assert_eq!(
            redact_url("postgres://postgres@db/x"),
            "postgres://postgres@db/x"
        );
        assert_eq!(
            redact_url("sqlite:///srv/carepost.db"),
            "sqlite:///srv/carepost.db"
        );
    }
}
