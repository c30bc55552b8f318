//! The one integration-test binary: real stores (SQLite, and PostgreSQL when
//! `CAREPOST_TEST_POSTGRES_URL` is set), the real server on port 0, the real `carepost` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod auth;
mod authz;
mod browser;
mod change_requests;
mod cli;
mod cli_mail;
mod cli_serve;
mod console;
mod crash;
mod day_one;
mod departments;
mod directory;
mod helpdesk;
mod imap;
mod imap_clients;
mod imap_rust;
mod imaptest;
mod import;
mod invitations;
mod lists;
mod mail;
mod mfa;
mod oidc;
mod openapi;
mod outbound;
mod policies;
mod portal;
mod portal_browser;
mod server;
mod smtp;
mod step_up;
mod store;
mod support;
