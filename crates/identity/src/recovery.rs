//! Forgot password and self-unlock, without the helpdesk: the person proves who they are with a
//! recovery code, or with their authenticator's code while their account is not locked, and may
//! then set a new password; either way the lockout is cleared. Never by a secret question. An
//! account without a second factor has no self-service path (the helpdesk verifies instead),
//! and every refusal looks the same from outside.

use crate::lockout::{is_locked, network_of};
use crate::{AccountStatus, Actor, Directory, IdentityError, Protocol, SignIn};
use carepost_audit::action;
use carepost_store::{AuditRepo, AuthRepo, DirectoryRepo};
use carepost_types::Address;
use serde_json::json;
use std::net::IpAddr;

impl Directory {
    /// Proves the person by `code` and, if given, sets `new_password`; clears the lockout.
    /// `Ok(false)`: not proven (unknown login, wrong code, no second factor, inactive).
    pub async fn recover_account(
        &self,
        login: &str,
        code: &str,
        new_password: Option<&str>,
        source: Option<IpAddr>,
    ) -> Result<bool, IdentityError> {
        if let Some(p) = new_password {
            // The rules that do not depend on the person are checked first, for every login
            // alike (so the answer says nothing about which logins exist), and before a
            // recovery code is spent on a password that would be refused anyway.
            let general = crate::check_new_password(
                &self.config.password,
                p,
                &crate::PasswordContext::default(),
            );
            if !general.is_empty() {
                return Err(IdentityError::PasswordRejected(general));
            }
        }
        let Ok(address) = Address::parse(login) else {
            return Ok(false);
        };
        let mut read = self.store.read().await?;
        let Some(row) = read.find_account_by_address(&address.to_string()).await? else {
            return Ok(false);
        };
        if row.status != AccountStatus::Active.as_str() {
            return Ok(false);
        }
        let network = network_of(source);
        let kind = self.source_kind(&mut read, row.id, &network).await?;
        let locked = is_locked(
            &read.find_lockout(row.id, kind.as_str()).await?,
            self.clock.now(),
        );
        drop(read);
        let attempt = SignIn {
            login: &row.primary_address,
            secret: "",
            protocol: Protocol::Web,
            source,
        };
        let digits = code.chars().filter(char::is_ascii_alphanumeric).count();
        let totp = digits == 6 && code.trim().chars().all(|c| c.is_ascii_digit() || c == ' ');
        // A six-digit code could be guessed if locks did not hold: while locked, only a
        // recovery code (about 79 bits) proves the person.
        let proven = match (totp, locked) {
            (true, true) => false,
            (true, false) => self.check_confirmed_totp(&row, code).await?,
            (false, _) => self.spend_recovery_code(&row, code).await?,
        };
        if !proven {
            self.second_factor_failed(&attempt, &row).await?;
            return Ok(false);
        }
        if let Some(p) = new_password {
            self.set_recovered_password(&row, p, source).await?;
        }
        let mut tx = self.store.begin().await?;
        tx.clear_lockouts(row.id).await?;
        let mut event = self
            .audit(
                &Actor::account(row.id, &row.primary_address),
                action::ACCOUNT_UNLOCK,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "by": "self, after proof", "factor": if totp { "totp" } else { "recovery code" } }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
