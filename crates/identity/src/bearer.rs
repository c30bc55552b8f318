//! Mail sign-in with an OAuth access token (SASL OAUTHBEARER and XOAUTH2): the token itself
//! is checked by the OpenID Connect provider; here the sign-in is recorded like any other, the
//! login the client names must be one of the account's addresses, and the session that opens
//! holds the token's grant as its credential (revoking the grant ends it).

use crate::authn::{Credential, Refusal, SecondFactor, SignIn, SignInResult, SignedIn};
use crate::{AccountStatus, Directory, IdentityError};
use carepost_audit::action;
use carepost_store::{AuditRepo, AuthRepo, DirectoryRepo, RosterRepo};
use carepost_types::AccountId;
use serde_json::json;

/// What the provider found a good token to stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub account: AccountId,
    /// The grant the token belongs to.
    pub grant: i64,
    pub client_id: String,
}

impl Directory {
    /// Signs in a mail client with a token the provider verified (`None`: it did not). The
    /// login (`attempt.login`, empty when the client named none) must be an address of the
    /// token's account.
    pub async fn token_sign_in(
        &self,
        attempt: &SignIn<'_>,
        verified: Option<&VerifiedToken>,
    ) -> Result<SignInResult, IdentityError> {
        let network = crate::network_of(attempt.source);
        let row = match verified {
            Some(v) => self.store.read().await?.find_account(v.account).await?,
            None => None,
        };
        let addresses = match &row {
            Some(r) => self
                .store
                .read()
                .await?
                .list_account_addresses(r.id)
                .await?
                .into_iter()
                .map(|a| a.address)
                .collect(),
            None => Vec::new(),
        };
        let login = attempt.login.trim().to_ascii_lowercase();
        let why = match (&row, verified) {
            (None, _) | (_, None) => Some("invalid, expired or revoked token"),
            (Some(r), _) if r.status != AccountStatus::Active.as_str() => {
                Some("account not active")
            }
            (Some(_), _) if !login.is_empty() && !addresses.contains(&login) => {
                Some("the token belongs to another account")
            }
            _ => None,
        };
        let mut tx = self.store.begin().await?;
        if let Some(why) = why {
            let event = self
                .attempt_event(attempt, row.as_ref(), action::SIGNIN_FAILURE)
                .with_outcome(carepost_audit::Outcome::Failure)
                .with_details(json!({
                    "protocol": attempt.protocol.as_str(),
                    "mechanism": "oauth",
                    "reason": why,
                    "network": network,
                }));
            tx.append_audit(&event).await?;
            tx.commit().await?;
            return Ok(Err(Refusal::Invalid));
        }
        let (Some(row), Some(v)) = (row, verified) else {
            return Ok(Err(Refusal::Invalid));
        };
        tx.remember_source(row.id, &network, self.clock.now())
            .await?;
        tx.touch_sign_in(row.id, self.clock.now()).await?;
        self.saw_mail_client(
            &mut tx,
            row.id,
            attempt.protocol,
            Credential::Grant(v.grant),
            attempt.source,
        )
        .await?;
        let event = self
            .attempt_event(attempt, Some(&row), action::SIGNIN_SUCCESS)
            .with_details(json!({
                "protocol": attempt.protocol.as_str(),
                "mechanism": "oauth",
                "client": v.client_id,
                "grant": v.grant,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(Ok(SignedIn {
            complete: true,
            account: row.id,
            address: row.primary_address,
            credential: Credential::Grant(v.grant),
            password_stamp: None,
            must_change_password: false,
            password_expires_soon: false,
            second_factor: SecondFactor::NotRequired,
            through_pause: None,
        }))
    }
}
