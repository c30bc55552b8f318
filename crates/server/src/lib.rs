//! The `carepost` program: the command line, the wiring of config, store and domain services,
//! and the listeners. `serve` runs every listener in this one process; the admin commands work
//! directly on the store named by `--data DIR` or `--config FILE`, also while a server runs.

pub mod cli;
mod context;
mod dev;
mod http;
mod serve;
mod telemetry;
mod tls;

pub use context::{Context, redact_url};
pub use dev::prepare_dev;
pub use serve::{Running, start};
pub use telemetry::install_crypto_provider;
