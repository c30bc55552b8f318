//! The only crate with SQL. It keeps the directory, credentials and the audit chain in SQLite
//! (embedded default) or PostgreSQL (several nodes), behind small repository traits named in
//! domain words, and message bodies in a content-addressed blob store.
//!
//! Both engines run the same SQL through sqlx's `Any` driver: the statements here keep to the
//! dialect SQLite and PostgreSQL share (`$n` placeholders, `RETURNING`, `ON CONFLICT`,
//! `WITH RECURSIVE`, `CAST`). What differs between the engines (connection settings,
//! migrations, how a write transaction takes the audit lock) lives in `backend`, chosen once
//! when the store opens. This crate knows rows, not policy: it never decides who may do what.

mod audit;
mod auth;
mod backend;
mod blob;
mod book;
mod change_requests;
mod credentials;
mod dav;
mod directory;
mod error;
mod files;
mod imip;
mod invitations;
mod keys;
mod lists;
mod mail;
mod mail_clients;
mod migrate;
mod notify;
mod oidc;
mod passkeys;
mod policies;
mod queue;
mod resets;
mod resources;
mod roster;
mod rows;
mod sessions;
mod shares;
mod sources;
mod tls;
mod tokens;

pub use audit::{AuditFilter, AuditRepo};
pub use auth::{AppPasswordRow, AuthRepo, LockoutRow, TotpRow};
pub use backend::Backend;
pub use blob::{BlobId, BlobStore, FsBlobStore};
pub use book::BookRepo;
pub use change_requests::{ChangeRequestRepo, ChangeRequestRow};
pub use credentials::CredentialRepo;
pub use dav::{CollectionRow, DavChangeRow, DavObjectRow, DavRepo};
pub use directory::{AccountFilter, DepartmentHolders, DirectoryRepo};
pub use error::StoreError;
pub use files::{FilePropRow, FileRepo, FileRow};
pub use imip::{ImipRepo, ImipRow};
pub use invitations::{InvitationRepo, InvitationRow};
pub use keys::{KeyRepo, MasterKeyRow};
pub use lists::{ListRepo, ListRow, MemberRow};
pub use mail::{BlobRow, MAX_IDS_PER_QUERY, MailRepo, MailboxRow, MessageRow, RecipientRow};
pub use mail_clients::{MailClientRepo, MailClientRow};
pub use migrate::{MIGRATIONS, create_at_version, schema_version};
pub use notify::ChangeListener;
pub use oidc::{
    AccountGrantRow, OidcClientRow, OidcCodeRow, OidcGrantRow, OidcKeyRow, OidcRepo,
    RefreshTokenRow,
};
pub use passkeys::{CeremonyRow, PasskeyRepo, PasskeyRow};
pub use policies::{PolicyRepo, PolicySettingsRow};
pub use queue::{QueueMessageRow, QueueRecipientRow, QueueRepo};
pub use resets::{ResetRepo, ResetRequestRow};
pub use resources::{BookingRow, ResourceRepo, ResourceRow, SlotRow};
pub use roster::{RoleHolderRow, RosterQuery, RosterRepo, RosterRow, RosterSort};
pub use rows::{AccountRow, AddressRow, DepartmentRow, NewAccountRow, PasswordRow};
pub use sessions::{NewSession, SessionRepo, SessionRow};
pub use shares::{ShareRepo, ShareRow};
pub use sources::{SourceFailuresRow, SourceRepo};
pub use tls::{StsPolicyRow, TlsRepo, TlsResultRow};
pub use tokens::{ApiTokenRepo, ApiTokenRow};

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Transaction};

/// An open store: a connection pool and the engine behind it.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL the store was opened with (a listener connects to it on its own).
    url: String,
    /// Seals the audit chain's head (see `carepost_audit::seal_key`).
    seal_key: [u8; 32],
}

impl Store {
    /// Connects, creating an SQLite file if needed, and brings the schema up to date. Refuses
    /// a schema newer than this build knows. `seal_key` seals the audit chain's head.
    pub async fn open(url: &str, seal_key: [u8; 32]) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .after_connect(move |conn, _| Box::pin(backend.prepare_connection(conn)))
            .connect(&backend.connect_url(url))
            .await?;
        backend.prepare_database(&pool).await?;
        migrate::run(&pool, backend).await?;
        Ok(Store {
            pool,
            backend,
            url: url.to_string(),
            seal_key,
        })
    }

    /// The same store (the same pool), sealing the audit chain's head with `seal_key`: for
    /// when the key is known only after the store is open (it comes from the store's root key).
    pub fn with_seal_key(&self, seal_key: [u8; 32]) -> Store {
        Store {
            seal_key,
            ..self.clone()
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction for a change that is audited. It holds the audit chain's lock from the
    /// start, so audited changes are ordered the same in the chain and in the data.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let mut tx = self.pool.begin_with(self.backend.begin_write()).await?;
        let head = audit::lock_head(&mut tx, self.backend).await?;
        Ok(Tx {
            inner: tx,
            backend: self.backend,
            seal_key: self.seal_key,
            head: Some(head),
            head_dirty: false,
            wrote: false,
            bookkeeping: false,
        })
    }

    /// A transaction for bookkeeping that records no change of security meaning (a session's
    /// last activity): it may write without an audit event, and cannot append one.
    pub async fn begin_bookkeeping(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.pool.begin_with(self.backend.begin_write()).await?,
            backend: self.backend,
            seal_key: self.seal_key,
            head: None,
            head_dirty: false,
            wrote: false,
            bookkeeping: true,
        })
    }

    /// A transaction for reading: one consistent view, no locks held.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.pool.begin_with(self.backend.begin_read()).await?,
            backend: self.backend,
            seal_key: self.seal_key,
            head: None,
            head_dirty: false,
            wrote: false,
            bookkeeping: false,
        })
    }

    /// Checks that the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// The seal key stays out of debug output.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("audited", &self.head.is_some())
            .finish_non_exhaustive()
    }
}

/// A transaction. Dropping it without `commit` rolls it back.
///
/// Only a transaction from `Store::begin` may write, and it may only commit a write together
/// with at least one audit event: a change cannot reach the store unrecorded.
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    seal_key: [u8; 32],
    /// The chain head, when this transaction holds the audit lock.
    head: Option<carepost_audit::Head>,
    head_dirty: bool,
    wrote: bool,
    bookkeeping: bool,
}

impl Tx {
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection, for reading.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    /// The connection, for writing: refused outside an audited transaction.
    pub(crate) fn write(&mut self) -> Result<&mut AnyConnection, StoreError> {
        if self.head.is_none() && !self.bookkeeping {
            return Err(StoreError::NotAudited);
        }
        self.wrote = true;
        Ok(&mut self.inner)
    }

    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.wrote && !self.head_dirty && !self.bookkeeping {
            return Err(StoreError::Unaudited);
        }
        if self.head_dirty
            && let Some(head) = self.head.take()
        {
            audit::store_head(&mut self.inner, &head, &self.seal_key).await?;
        }
        self.inner.commit().await?;
        Ok(())
    }
}
