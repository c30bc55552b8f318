//! The mail apps an account signs in with, for its owner's sessions list: which protocol,
//! with what (the password, an app password, single sign-on), from where, and when last. A
//! person whose phone stopped syncing sees when it last signed in, and with what.

use crate::{Credential, Directory, IdentityError};
use carepost_store::{AuthRepo, MailClientRepo, OidcRepo, Tx};
use carepost_types::{AccountId, UnixMillis};
use serde::Serialize;
use std::net::IpAddr;

/// How long a mail app not seen is still listed.
const SHOWN_FOR: i64 = 30 * 86_400_000;

/// A mail app as its owner's list shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailClientInfo {
    /// `imap` or `smtp`.
    pub protocol: String,
    /// In words: "your password", "app password “Phone”", "single sign-on (Mail apps)".
    pub with: String,
    pub source: String,
    pub first_seen: String,
    pub last_seen: String,
}

fn credential_text(c: Credential) -> String {
    match c {
        Credential::Password => "password".into(),
        Credential::AppPassword(id) => format!("app-password:{id}"),
        Credential::Grant(id) => format!("grant:{id}"),
    }
}

impl Directory {
    /// Records a mail sign-in inside `tx` (the sign-in's own audited transaction).
    pub(crate) async fn saw_mail_client(
        &self,
        tx: &mut Tx,
        account: AccountId,
        protocol: crate::Protocol,
        credential: Credential,
        source: Option<IpAddr>,
    ) -> Result<(), IdentityError> {
        if !protocol.is_mail_client() {
            return Ok(());
        }
        let source = source.map(|ip| ip.to_string()).unwrap_or_default();
        tx.saw_mail_client(
            account,
            protocol.as_str(),
            &credential_text(credential),
            &source,
            self.clock.now(),
        )
        .await?;
        Ok(())
    }

    /// The mail apps seen in the last 30 days, most recent first.
    pub async fn mail_clients(
        &self,
        account: AccountId,
    ) -> Result<Vec<MailClientInfo>, IdentityError> {
        let since = UnixMillis(self.clock.now().0 - SHOWN_FOR);
        let mut read = self.store.read().await?;
        let rows = read.list_mail_clients(account, since).await?;
        let app_passwords = read.list_app_passwords(account).await?;
        let grants = read.list_account_grants(account, UnixMillis(0)).await?;
        drop(read);
        Ok(rows
            .into_iter()
            .map(|r| {
                let with = match r.credential.split_once(':') {
                    Some(("app-password", id)) => {
                        let label = app_passwords
                            .iter()
                            .find(|a| a.id.to_string() == id)
                            .map(|a| a.label.clone())
                            .unwrap_or_default();
                        format!("app password “{label}”")
                    }
                    Some(("grant", id)) => {
                        let app = grants
                            .iter()
                            .find(|g| g.grant.id.to_string() == id)
                            .map(|g| g.client_name.clone())
                            .unwrap_or_else(|| "an application".into());
                        format!("single sign-on ({app})")
                    }
                    _ => "your password".into(),
                };
                MailClientInfo {
                    protocol: r.protocol.to_uppercase(),
                    with,
                    source: r.source,
                    first_seen: r.first_seen.to_rfc3339(),
                    last_seen: r.last_seen.to_rfc3339(),
                }
            })
            .collect())
    }

    /// Forgets the mail apps not seen for 30 days (bookkeeping, from time to time).
    pub async fn forget_old_mail_clients(&self) -> Result<u64, IdentityError> {
        let mut tx = self.store.begin_bookkeeping().await?;
        let n = tx
            .forget_mail_clients(UnixMillis(self.clock.now().0 - SHOWN_FOR))
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}
