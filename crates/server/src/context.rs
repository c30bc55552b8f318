//! What a command or a server needs once the config is known: the open store and the domain
//! services over it, with the real clock and the OS random source.

use carepost_config::Config;
use carepost_identity::Directory;
use carepost_store::Store;
use carepost_types::{Clock, OsRng, Rng, SystemClock};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub directory: Directory,
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
        let store = Store::open(&config.store.url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
        let directory = Directory::new(store.clone(), config.clone(), clock, rng);
        Ok(Context {
            config,
            store,
            directory,
        })
    }
}
