//! Test support: a fresh store per test on SQLite and, when `CAREPOST_TEST_POSTGRES_URL` is
//! set, on PostgreSQL (a database created for the test and dropped after it); an in-process
//! server on port 0; a small HTTPS client that trusts the server's own certificate.
//!
//! Used only by tests; panics here are test failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db;
mod hr;
mod https;
mod server;
mod sink;

pub use db::{TestDb, backends, postgres_url};
pub use hr::hr_export;
pub use https::{HttpResponse, https_get, https_request, tls_connect};
pub use server::{TestServer, test_config};
pub use sink::{SinkMode, SinkTls, SmtpSink, SunkMessage};
