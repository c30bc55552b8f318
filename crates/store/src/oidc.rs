//! The OpenID Connect provider's rows: signing keys (sealed by the caller), registered clients,
//! authorization codes, grants, refresh tokens and consents. Secrets arrive here already hashed
//! or sealed. Spending a code or a refresh token is a conditional update, so that of two
//! requests racing with one code, one wins and the other sees it spent.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcKeyRow {
    pub id: i64,
    pub kid: String,
    /// `ES256` or `RS256`.
    pub alg: String,
    /// The sealed PKCS#8 private key.
    pub private_key: String,
    /// The public JWK, as JSON.
    pub public_jwk: String,
    pub created_at: UnixMillis,
    pub retired_at: Option<UnixMillis>,
    pub published_until: Option<UnixMillis>,
}

impl OidcKeyRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<OidcKeyRow> {
        Ok(OidcKeyRow {
            id: r.try_get("id")?,
            kid: r.try_get("kid")?,
            alg: r.try_get("alg")?,
            private_key: r.try_get("private_key")?,
            public_jwk: r.try_get("public_jwk")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            retired_at: r.try_get::<Option<i64>, _>("retired_at")?.map(UnixMillis),
            published_until: r
                .try_get::<Option<i64>, _>("published_until")?
                .map(UnixMillis),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClientRow {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    /// A keyed hash of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// One URI per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    /// Space-separated.
    pub scopes: String,
    /// Comma-separated role names; empty: anyone.
    pub allowed_roles: String,
    /// Comma-separated department ids; empty: every department.
    pub allowed_departments: String,
    pub consent: bool,
    pub require_mfa: bool,
    pub id_token_alg: String,
    pub created_by: String,
    pub created_at: UnixMillis,
    pub removed_at: Option<UnixMillis>,
}

impl OidcClientRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<OidcClientRow> {
        Ok(OidcClientRow {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            name: r.try_get("name")?,
            secret_hash: r.try_get("secret_hash")?,
            redirect_uris: r.try_get("redirect_uris")?,
            post_logout_redirect_uris: r.try_get("post_logout_redirect_uris")?,
            scopes: r.try_get("scopes")?,
            allowed_roles: r.try_get("allowed_roles")?,
            allowed_departments: r.try_get("allowed_departments")?,
            consent: r.try_get::<i64, _>("consent")? != 0,
            require_mfa: r.try_get::<i64, _>("require_mfa")? != 0,
            id_token_alg: r.try_get("id_token_alg")?,
            created_by: r.try_get("created_by")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            removed_at: r.try_get::<Option<i64>, _>("removed_at")?.map(UnixMillis),
        })
    }
}

/// An authorization code, as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcCodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub account_id: AccountId,
    pub session_id: Option<i64>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub auth_time: UnixMillis,
    /// Comma-separated RFC 8176 methods.
    pub amr: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
    pub grant_id: Option<i64>,
}

impl OidcCodeRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<OidcCodeRow> {
        Ok(OidcCodeRow {
            code_hash: r.try_get("code_hash")?,
            client_id: r.try_get("client_id")?,
            account_id: AccountId(r.try_get("account_id")?),
            session_id: r.try_get("session_id")?,
            redirect_uri: r.try_get("redirect_uri")?,
            scope: r.try_get("scope")?,
            nonce: r.try_get("nonce")?,
            code_challenge: r.try_get("code_challenge")?,
            auth_time: UnixMillis(r.try_get("auth_time")?),
            amr: r.try_get("amr")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
            used_at: r.try_get::<Option<i64>, _>("used_at")?.map(UnixMillis),
            grant_id: r.try_get("grant_id")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcGrantRow {
    pub id: i64,
    pub client_id: String,
    /// `None`: the client acting for itself (client credentials).
    pub account_id: Option<AccountId>,
    pub session_id: Option<i64>,
    pub scope: String,
    pub auth_time: Option<UnixMillis>,
    pub amr: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
}

impl OidcGrantRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<OidcGrantRow> {
        Ok(OidcGrantRow {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            account_id: r.try_get::<Option<i64>, _>("account_id")?.map(AccountId),
            session_id: r.try_get("session_id")?,
            scope: r.try_get("scope")?,
            auth_time: r.try_get::<Option<i64>, _>("auth_time")?.map(UnixMillis),
            amr: r.try_get("amr")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
            revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(UnixMillis),
        })
    }
}

/// A grant as its owner's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGrantRow {
    pub grant: OidcGrantRow,
    pub client_name: String,
    pub last_used_at: Option<UnixMillis>,
    pub last_used_source: Option<String>,
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    pub grant_id: i64,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
}

const KEY_COLUMNS: &str = "SELECT id, kid, alg, private_key, public_jwk, created_at, retired_at, \
    published_until FROM oidc_keys";
const CLIENT_COLUMNS: &str = "SELECT id, client_id, name, secret_hash, redirect_uris, \
    post_logout_redirect_uris, scopes, allowed_roles, allowed_departments, consent, require_mfa, \
    id_token_alg, created_by, created_at, removed_at FROM oidc_clients";
const CODE_COLUMNS: &str = "SELECT code_hash, client_id, account_id, session_id, redirect_uri, \
    scope, nonce, code_challenge, auth_time, amr, created_at, expires_at, used_at, grant_id \
    FROM oidc_codes";
const GRANT_COLUMNS: &str = "SELECT id, client_id, account_id, session_id, scope, auth_time, amr, \
    created_at, expires_at, revoked_at FROM oidc_grants";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait OidcRepo {
    async fn insert_oidc_key(&mut self, row: &OidcKeyRow) -> Result<i64, StoreError>;
    /// Every key, newest first.
    async fn list_oidc_keys(&mut self) -> Result<Vec<OidcKeyRow>, StoreError>;
    /// Retires the keys that still sign; they stay published until `published_until`.
    async fn retire_oidc_keys(
        &mut self,
        at: UnixMillis,
        published_until: UnixMillis,
    ) -> Result<u64, StoreError>;

    async fn insert_oidc_client(&mut self, row: &OidcClientRow) -> Result<i64, StoreError>;
    /// A client by its `client_id`, removed or not.
    async fn find_oidc_client(
        &mut self,
        client_id: &str,
    ) -> Result<Option<OidcClientRow>, StoreError>;
    /// The clients not removed, by name.
    async fn list_oidc_clients(&mut self) -> Result<Vec<OidcClientRow>, StoreError>;
    /// Returns whether a client in use was removed.
    async fn remove_oidc_client(
        &mut self,
        client_id: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;

    async fn insert_oidc_code(&mut self, row: &OidcCodeRow) -> Result<(), StoreError>;
    async fn find_oidc_code(&mut self, code_hash: &str) -> Result<Option<OidcCodeRow>, StoreError>;
    /// Marks an unspent code spent and records the grant it made; false if it was spent.
    async fn spend_oidc_code(
        &mut self,
        code_hash: &str,
        at: UnixMillis,
        grant: i64,
    ) -> Result<bool, StoreError>;
    /// Forgets codes that expired before `before` (bookkeeping).
    async fn purge_oidc_codes(&mut self, before: UnixMillis) -> Result<u64, StoreError>;
    /// Forgets refresh tokens, and then grants, that ended before `before` (bookkeeping).
    async fn purge_oidc_grants(&mut self, before: UnixMillis) -> Result<u64, StoreError>;

    async fn insert_oidc_grant(&mut self, row: &OidcGrantRow) -> Result<i64, StoreError>;
    /// The grants of an account live, or ended after `since`, newest first.
    async fn list_account_grants(
        &mut self,
        account: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<AccountGrantRow>, StoreError>;
    /// Records a use of a grant (kept to the minute; bookkeeping).
    async fn touch_oidc_grant(
        &mut self,
        id: i64,
        at: UnixMillis,
        source: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn find_oidc_grant(&mut self, id: i64) -> Result<Option<OidcGrantRow>, StoreError>;
    /// Returns whether a live grant was revoked.
    async fn revoke_oidc_grant(
        &mut self,
        id: i64,
        at: UnixMillis,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Revokes every live grant of an account (a password change, "sign out everywhere"),
    /// but those made from the web session `except`.
    async fn revoke_account_grants(
        &mut self,
        account: AccountId,
        at: UnixMillis,
        reason: &str,
        except: Option<i64>,
    ) -> Result<u64, StoreError>;
    /// Revokes every live grant of `account` made from one of its web sessions (a sign-out);
    /// with `keep_offline`, not those given `offline_access`.
    async fn revoke_session_grants(
        &mut self,
        account: AccountId,
        session: i64,
        at: UnixMillis,
        reason: &str,
        keep_offline: bool,
    ) -> Result<u64, StoreError>;
    /// Revokes every live grant of a client (it was removed).
    async fn revoke_client_grants(
        &mut self,
        client_id: &str,
        at: UnixMillis,
        reason: &str,
    ) -> Result<u64, StoreError>;

    async fn insert_refresh_token(
        &mut self,
        token_hash: &str,
        row: &RefreshTokenRow,
    ) -> Result<(), StoreError>;
    async fn find_refresh_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRow>, StoreError>;
    /// Marks an unspent refresh token spent; false if it was spent already.
    async fn spend_refresh_token(
        &mut self,
        token_hash: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// The scopes an account allowed a client, if it did.
    async fn find_consent(
        &mut self,
        account: AccountId,
        client_id: &str,
    ) -> Result<Option<String>, StoreError>;
    async fn save_consent(
        &mut self,
        account: AccountId,
        client_id: &str,
        scope: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError>;
}

impl OidcRepo for Tx {
    async fn insert_oidc_key(&mut self, row: &OidcKeyRow) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO oidc_keys (kid, alg, private_key, public_jwk, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&row.kid)
        .bind(&row.alg)
        .bind(&row.private_key)
        .bind(&row.public_jwk)
        .bind(row.created_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn list_oidc_keys(&mut self) -> Result<Vec<OidcKeyRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{KEY_COLUMNS} ORDER BY id DESC"));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, OidcKeyRow::from_row)
    }

    async fn retire_oidc_keys(
        &mut self,
        at: UnixMillis,
        published_until: UnixMillis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_keys SET retired_at = $1, published_until = $2 WHERE retired_at IS NULL",
        )
        .bind(at.0)
        .bind(published_until.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_oidc_client(&mut self, row: &OidcClientRow) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris, \
             post_logout_redirect_uris, scopes, allowed_roles, allowed_departments, consent, \
             require_mfa, id_token_alg, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(&row.client_id)
        .bind(&row.name)
        .bind(&row.secret_hash)
        .bind(&row.redirect_uris)
        .bind(&row.post_logout_redirect_uris)
        .bind(&row.scopes)
        .bind(&row.allowed_roles)
        .bind(&row.allowed_departments)
        .bind(i64::from(row.consent))
        .bind(i64::from(row.require_mfa))
        .bind(&row.id_token_alg)
        .bind(&row.created_by)
        .bind(row.created_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn find_oidc_client(
        &mut self,
        client_id: &str,
    ) -> Result<Option<OidcClientRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{CLIENT_COLUMNS} WHERE client_id = $1"));
        let row = sqlx::query(sql)
            .bind(client_id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(OidcClientRow::from_row).transpose()?)
    }

    async fn list_oidc_clients(&mut self) -> Result<Vec<OidcClientRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{CLIENT_COLUMNS} WHERE removed_at IS NULL ORDER BY name, id"
        ));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, OidcClientRow::from_row)
    }

    async fn remove_oidc_client(
        &mut self,
        client_id: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_clients SET removed_at = $2 WHERE client_id = $1 AND removed_at IS NULL",
        )
        .bind(client_id)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_oidc_code(&mut self, row: &OidcCodeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, account_id, session_id, redirect_uri, \
             scope, nonce, code_challenge, auth_time, amr, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&row.code_hash)
        .bind(&row.client_id)
        .bind(row.account_id.0)
        .bind(row.session_id)
        .bind(&row.redirect_uri)
        .bind(&row.scope)
        .bind(&row.nonce)
        .bind(&row.code_challenge)
        .bind(row.auth_time.0)
        .bind(&row.amr)
        .bind(row.created_at.0)
        .bind(row.expires_at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_oidc_code(&mut self, code_hash: &str) -> Result<Option<OidcCodeRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{CODE_COLUMNS} WHERE code_hash = $1"));
        let row = sqlx::query(sql)
            .bind(code_hash)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(OidcCodeRow::from_row).transpose()?)
    }

    async fn spend_oidc_code(
        &mut self,
        code_hash: &str,
        at: UnixMillis,
        grant: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_codes SET used_at = $2, grant_id = $3 \
             WHERE code_hash = $1 AND used_at IS NULL",
        )
        .bind(code_hash)
        .bind(at.0)
        .bind(grant)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_oidc_codes(&mut self, before: UnixMillis) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1")
            .bind(before.0)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_oidc_grants(&mut self, before: UnixMillis) -> Result<u64, StoreError> {
        sqlx::query(
            "DELETE FROM oidc_refresh_tokens WHERE expires_at < $1 OR grant_id IN \
             (SELECT id FROM oidc_grants WHERE expires_at < $1 OR revoked_at < $1)",
        )
        .bind(before.0)
        .execute(self.write()?)
        .await?;
        sqlx::query(
            "UPDATE oidc_codes SET grant_id = NULL WHERE grant_id IN \
             (SELECT id FROM oidc_grants WHERE expires_at < $1 OR revoked_at < $1)",
        )
        .bind(before.0)
        .execute(self.write()?)
        .await?;
        let done = sqlx::query("DELETE FROM oidc_grants WHERE expires_at < $1 OR revoked_at < $1")
            .bind(before.0)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_oidc_grant(&mut self, row: &OidcGrantRow) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO oidc_grants (client_id, account_id, session_id, scope, auth_time, amr, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&row.client_id)
        .bind(row.account_id.map(|a| a.0))
        .bind(row.session_id)
        .bind(&row.scope)
        .bind(row.auth_time.map(|t| t.0))
        .bind(&row.amr)
        .bind(row.created_at.0)
        .bind(row.expires_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn list_account_grants(
        &mut self,
        account: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<AccountGrantRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.id, g.client_id, g.account_id, g.session_id, g.scope, g.auth_time, g.amr, \
             g.created_at, g.expires_at, g.revoked_at, g.revoke_reason, g.last_used_at, \
             g.last_used_source, c.name AS client_name \
             FROM oidc_grants g JOIN oidc_clients c ON c.client_id = g.client_id \
             WHERE g.account_id = $1 AND COALESCE(g.revoked_at, g.expires_at) > $2 \
             ORDER BY g.id DESC LIMIT 200",
        )
        .bind(account.0)
        .bind(since.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok(AccountGrantRow {
                grant: OidcGrantRow::from_row(r)?,
                client_name: r.try_get("client_name")?,
                last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(UnixMillis),
                last_used_source: r.try_get("last_used_source")?,
                revoke_reason: r.try_get("revoke_reason")?,
            })
        })
    }

    async fn touch_oidc_grant(
        &mut self,
        id: i64,
        at: UnixMillis,
        source: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE oidc_grants SET last_used_at = $2, last_used_source = $3 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $4)",
        )
        .bind(id)
        .bind(at.0)
        .bind(source)
        .bind(at.0 - 60_000)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_oidc_grant(&mut self, id: i64) -> Result<Option<OidcGrantRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{GRANT_COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(OidcGrantRow::from_row).transpose()?)
    }

    async fn revoke_oidc_grant(
        &mut self,
        id: i64,
        at: UnixMillis,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2, revoke_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(at.0)
        .bind(reason)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_account_grants(
        &mut self,
        account: AccountId,
        at: UnixMillis,
        reason: &str,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2, revoke_reason = $3 \
             WHERE account_id = $1 AND revoked_at IS NULL \
             AND (CAST($4 AS BIGINT) IS NULL OR session_id IS NULL OR session_id <> $4)",
        )
        .bind(account.0)
        .bind(at.0)
        .bind(reason)
        .bind(except)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_session_grants(
        &mut self,
        account: AccountId,
        session: i64,
        at: UnixMillis,
        reason: &str,
        keep_offline: bool,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2, revoke_reason = $3 \
             WHERE session_id = $1 AND account_id = $5 AND revoked_at IS NULL \
             AND NOT ($4 = 1 AND (' ' || scope || ' ') LIKE '% offline_access %')",
        )
        .bind(session)
        .bind(at.0)
        .bind(reason)
        .bind(i64::from(keep_offline))
        .bind(account.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_client_grants(
        &mut self,
        client_id: &str,
        at: UnixMillis,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2, revoke_reason = $3 \
             WHERE client_id = $1 AND revoked_at IS NULL",
        )
        .bind(client_id)
        .bind(at.0)
        .bind(reason)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_refresh_token(
        &mut self,
        token_hash: &str,
        row: &RefreshTokenRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(row.grant_id)
        .bind(row.created_at.0)
        .bind(row.expires_at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_refresh_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT grant_id, created_at, expires_at, used_at FROM oidc_refresh_tokens \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.conn())
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(RefreshTokenRow {
            grant_id: r.try_get("grant_id")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
            used_at: r.try_get::<Option<i64>, _>("used_at")?.map(UnixMillis),
        }))
    }

    async fn spend_refresh_token(
        &mut self,
        token_hash: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
        )
        .bind(token_hash)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_consent(
        &mut self,
        account: AccountId,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row =
            sqlx::query("SELECT scope FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
                .bind(account.0)
                .bind(client_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|r| r.try_get("scope")).transpose()?)
    }

    async fn save_consent(
        &mut self,
        account: AccountId,
        client_id: &str,
        scope: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_consents (account_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, client_id) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(account.0)
        .bind(client_id)
        .bind(scope)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }
}
