//! First-sign-in invitations: after an import, accounts exist with no way in. IT (or a
//! supervisor, for their own staff) issues each person a one-time code, valid for
//! `directory.invitation_lifetime`, handed out on a printed slip or in a CSV; with it and their
//! address the person sets their first password (the whole policy applies), and then signs in,
//! where the MFA policy asks for a second factor as for anyone. Codes are kept as keyed hashes;
//! a new invitation revokes the person's earlier unused one; every issue, use and revocation
//! is audited, and a wrong code counts like a wrong password.

use crate::authn::{Protocol, SignIn, Why};
use crate::authz::Permission;
use crate::directory::{account_by_address, department_id, name_of};
use crate::lockout::{is_locked, network_of};
use crate::{AccountStatus, Actor, Directory, IdentityError};
use carepost_audit::action;
use carepost_store::{
    AccountRow, AuditRepo, AuthRepo, CredentialRepo, DirectoryRepo, InvitationRepo, InvitationRow,
};
use carepost_types::{AccountId, Address, UnixMillis};
use serde::Serialize;
use serde_json::json;

/// An invitation as issued: the code is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedInvitation {
    pub address: String,
    pub name: String,
    pub department: String,
    pub code: String,
    pub expires_at: String,
    /// The personal address HR recorded, where the invitation is mailed too. Not shown (a
    /// supervisor hands out slips; their staff's private addresses are HR's).
    #[serde(skip)]
    pub personal_email: Option<String>,
    /// Whether a mail with the code went to the personal address.
    pub mailed: bool,
}

impl IssuedInvitation {
    /// The mail to the personal address: (subject, plain text). It says what a slip says,
    /// and how to tell it from a phishing mail (nobody asks for the code).
    pub fn notice(&self, organization: &str, welcome_url: &str) -> (String, String) {
        let subject = format!("{organization}: your first sign-in");
        let text = format!(
            "Hello {name},\r\n\r\n\
             Your account at {organization} is ready. To choose your password, go to\r\n\r\n\
             \x20   {welcome_url}\r\n\r\n\
             and enter:\r\n\r\n\
             \x20   Email address:  {address}\r\n\
             \x20   One-time code:  {code}\r\n\r\n\
             Use it before {expires}. Nobody from IT will ask you for this code, by phone or by \
             mail; if you did not expect this message, tell {organization}'s IT helpdesk.\r\n",
            name = self.name,
            address = self.address,
            code = self.code,
            expires = carepost_types::UnixMillis::parse(&self.expires_at).map_or(
                self.expires_at.clone(),
                carepost_types::UnixMillis::to_words_utc
            ),
        );
        (subject, text)
    }
}

/// An invitation on the record (no code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationInfo {
    pub id: i64,
    pub address: String,
    /// `outstanding`, `used`, `expired` or `revoked`.
    pub state: &'static str,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: String,
    pub used_at: Option<String>,
}

impl Directory {
    fn invitation_key(&self) -> [u8; 32] {
        crate::secrets::derive_key(&self.config().master_key, "first sign-in invitations")
    }

    fn invitation_hash(&self, code: &str) -> String {
        let typed: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        crate::secrets::keyed_hash(&self.invitation_key(), &typed)
    }

    /// Invitations for these accounts (each must be active and have no password yet).
    pub async fn invite(
        &self,
        actor: &Actor,
        addresses: &[String],
    ) -> Result<Vec<IssuedInvitation>, IdentityError> {
        let mut rows = Vec::new();
        {
            let mut read = self.store.read().await?;
            for a in addresses {
                rows.push(account_by_address(&mut read, a).await?);
            }
        }
        for row in &rows {
            self.require_account(actor, Permission::InviteStaff, row)
                .await?;
            self.may_be_invited(row).await?;
        }
        self.issue(actor, &rows).await
    }

    /// Invitations for every active account of `department` and below that has no password
    /// yet (the others are left out, not refused).
    pub async fn invite_department(
        &self,
        actor: &Actor,
        department: &str,
    ) -> Result<Vec<IssuedInvitation>, IdentityError> {
        // Who may invite at all is settled before anything about the department is told.
        let may = actor
            .roles
            .iter()
            .any(|r| Permission::InviteStaff.granted_to(r) || *r == crate::Role::Supervisor);
        if !may {
            self.require(actor, Permission::InviteStaff, "invitations")
                .await?;
        }
        let mut read = self.store.read().await?;
        let id = department_id(&mut read, department).await?;
        let all = read.accounts_within(id).await?;
        drop(read);
        let mut rows = Vec::new();
        for row in all {
            if self.may_be_invited(&row).await.is_ok() {
                self.require_account(actor, Permission::InviteStaff, &row)
                    .await?;
                rows.push(row);
            }
        }
        self.issue(actor, &rows).await
    }

    async fn may_be_invited(&self, row: &AccountRow) -> Result<(), IdentityError> {
        if row.status != AccountStatus::Active.as_str() {
            return Err(IdentityError::Conflict(format!(
                "{} is {}: only an active account is invited",
                row.primary_address, row.status
            )));
        }
        if self
            .store
            .read()
            .await?
            .find_password(row.id)
            .await?
            .is_some()
        {
            return Err(IdentityError::Conflict(format!(
                "{} has a password already: an invitation is for a first sign-in (use a helpdesk reset instead)",
                row.primary_address
            )));
        }
        Ok(())
    }

    async fn issue(
        &self,
        actor: &Actor,
        rows: &[AccountRow],
    ) -> Result<Vec<IssuedInvitation>, IdentityError> {
        let now = self.clock.now();
        let expires = now.plus(self.config().invitation_lifetime);
        let mut out = Vec::new();
        let mut tx = self.store.begin().await?;
        for row in rows {
            let personal_email = tx.personal_email(row.id).await?;
            // 16 characters of a 31-letter alphabet: about 79 bits, typed from a slip.
            let code = crate::mfa::random_code(&*self.rng, 16, 4);
            tx.insert_invitation(
                row.id,
                &self.invitation_hash(&code),
                &actor.who.to_string(),
                now,
                expires,
            )
            .await?;
            let event = self
                .audit(
                    actor,
                    action::INVITATION_ISSUE,
                    format!("account:{}", row.primary_address),
                )
                .with_details(json!({ "expires_at": expires.to_rfc3339() }));
            tx.append_audit(&event).await?;
            out.push(IssuedInvitation {
                address: row.primary_address.clone(),
                name: name_of(row).display(),
                department: row.department_name.clone(),
                code,
                expires_at: expires.to_rfc3339(),
                personal_email,
                mailed: false,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The invitations on the record, newest first: one account's, or all (at most 1000).
    pub async fn list_invitations(
        &self,
        actor: &Actor,
        address: Option<&str>,
    ) -> Result<Vec<InvitationInfo>, IdentityError> {
        let mut read = self.store.read().await?;
        let account = match address {
            Some(a) => {
                let row = account_by_address(&mut read, a).await?;
                self.require_account(actor, Permission::ReadDirectory, &row)
                    .await?;
                Some(row.id)
            }
            None => {
                self.require(actor, Permission::ManageAccounts, "invitations")
                    .await?;
                None
            }
        };
        let now = self.clock.now();
        let mut out = Vec::new();
        for r in read.list_invitations(account, 1000).await? {
            let address = match read.find_account(r.account_id).await? {
                Some(a) => a.primary_address,
                None => continue,
            };
            out.push(info(&r, address, now));
        }
        Ok(out)
    }

    /// Revokes an account's unused invitation; how many were revoked.
    pub async fn revoke_invitation(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<u64, IdentityError> {
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        self.require_account(actor, Permission::InviteStaff, &row)
            .await?;
        let n = tx.revoke_invitations(row.id, self.clock.now()).await?;
        let event = self
            .audit(
                actor,
                action::INVITATION_REVOKE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "revoked": n }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The invited person sets their first password with their address and code. `Ok(None)`:
    /// not accepted, the same answer whatever was wrong (counted like a wrong password); a
    /// refused password is an error listing the rules, after the code proved right.
    pub async fn accept_invitation(
        &self,
        login: &str,
        code: &str,
        new_password: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Option<AccountId>, IdentityError> {
        // The rules that do not depend on the person first, for every login alike.
        let general = crate::check_new_password(
            &self.config().password,
            new_password,
            &crate::PasswordContext::default(),
        );
        if !general.is_empty() {
            return Err(IdentityError::PasswordRejected(general));
        }
        let attempt = SignIn {
            login,
            secret: "",
            protocol: Protocol::Web,
            source,
        };
        let network = network_of(source);
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        // A paused network is held here as at sign-in: guesses at codes are a spray too.
        if self
            .source_paused_until(&mut read, &network, source)
            .await?
            .is_some()
        {
            drop(read);
            self.record_failure(&attempt, None, &network, Why::Throttled)
                .await?;
            return Ok(None);
        }
        let row = match Address::parse(login) {
            Ok(a) => read.find_account_by_address(&a.to_string()).await?,
            Err(_) => None,
        };
        let Some(row) = row.filter(|r| r.status == AccountStatus::Active.as_str()) else {
            drop(read);
            self.record_failure(&attempt, None, &network, Why::UnknownAccount)
                .await?;
            return Ok(None);
        };
        let kind = self.source_kind(&mut read, row.id, &network).await?;
        let locked = is_locked(&read.find_lockout(row.id, kind.as_str()).await?, now);
        let found = read
            .find_usable_invitation(row.id, &self.invitation_hash(code), now)
            .await?;
        drop(read);
        let Some(invitation) = found.filter(|_| !locked) else {
            let why = if locked {
                Why::Locked
            } else {
                Why::WrongSecret
            };
            self.record_failure(&attempt, Some((&row, kind)), &network, why)
                .await?;
            return Ok(None);
        };
        self.check_password(&row, new_password).await?;
        let hash = self.hasher.hash(&*self.rng, new_password).await?;
        let mut tx = self.store.begin().await?;
        // A password set meanwhile (a reset, an administrator) ends what the invitation was
        // for: it never replaces one. Read under the audit lock, as every password change is.
        let current = tx.find_account(row.id).await?;
        if tx.find_password(row.id).await?.is_some()
            || current.is_none_or(|a| a.status != AccountStatus::Active.as_str())
            || is_locked(&tx.find_lockout(row.id, kind.as_str()).await?, now)
        {
            return Ok(None);
        }
        if !tx.use_invitation(invitation.id, now).await? {
            return Ok(None);
        }
        self.store_first_password(&mut tx, row.id, &hash).await?;
        let mut event = self
            .audit(
                &Actor::account(row.id, &row.primary_address),
                action::INVITATION_USE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "invitation": invitation.id, "kind": kind.as_str() }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(Some(row.id))
    }
}

fn info(r: &InvitationRow, address: String, now: UnixMillis) -> InvitationInfo {
    let state = match (r.used_at, r.revoked_at) {
        (Some(_), _) => "used",
        (None, Some(_)) => "revoked",
        (None, None) if r.expires_at <= now => "expired",
        (None, None) => "outstanding",
    };
    InvitationInfo {
        id: r.id,
        address,
        state,
        created_at: r.created_at.to_rfc3339(),
        created_by: r.created_by.clone(),
        expires_at: r.expires_at.to_rfc3339(),
        used_at: r.used_at.map(UnixMillis::to_rfc3339),
    }
}
