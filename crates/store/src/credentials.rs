//! Password hashes and role grants. Hashes only: this crate never sees a password.

use crate::{PasswordRow, StoreError, Tx};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::Row;

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait CredentialRepo {
    async fn upsert_password(
        &mut self,
        account: AccountId,
        hash: &str,
        must_change: bool,
        set_by_admin: bool,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn find_password(
        &mut self,
        account: AccountId,
    ) -> Result<Option<PasswordRow>, StoreError>;
    /// Swaps the stored hash for `new` only if it is still `old`; returns whether it did.
    async fn replace_password_hash(
        &mut self,
        account: AccountId,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
    async fn grant_role(
        &mut self,
        account: AccountId,
        role: &str,
        scope: Option<DepartmentId>,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn list_roles(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<(String, Option<DepartmentId>)>, StoreError>;
    async fn count_role_holders(&mut self, role: &str) -> Result<i64, StoreError>;
    /// Active holders of `role` with the department their role is scoped to.
    async fn list_scoped_role_holders(
        &mut self,
        role: &str,
    ) -> Result<Vec<(AccountId, DepartmentId)>, StoreError>;
    /// Holders of `role` whose accounts are active.
    async fn count_active_role_holders(&mut self, role: &str) -> Result<i64, StoreError>;
    /// Removes a role; returns whether the account had it.
    async fn revoke_role(&mut self, account: AccountId, role: &str) -> Result<bool, StoreError>;
}

impl CredentialRepo for Tx {
    async fn upsert_password(
        &mut self,
        account: AccountId,
        hash: &str,
        must_change: bool,
        set_by_admin: bool,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO credentials (account_id, password_hash, must_change, changed_at, set_by_admin) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
             password_hash = excluded.password_hash, must_change = excluded.must_change, \
             changed_at = excluded.changed_at, set_by_admin = excluded.set_by_admin",
        )
        .bind(account.0)
        .bind(hash)
        .bind(i64::from(must_change))
        .bind(now.0)
        .bind(i64::from(set_by_admin))
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_password(
        &mut self,
        account: AccountId,
    ) -> Result<Option<PasswordRow>, StoreError> {
        let row = sqlx::query(
            "SELECT password_hash, must_change, changed_at, set_by_admin FROM credentials \
             WHERE account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(self.conn())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(PasswordRow {
            account_id: account,
            password_hash: r.try_get("password_hash")?,
            must_change: r.try_get::<i64, _>("must_change")? != 0,
            changed_at: UnixMillis(r.try_get("changed_at")?),
            set_by_admin: r.try_get::<i64, _>("set_by_admin")? != 0,
        }))
    }

    async fn replace_password_hash(
        &mut self,
        account: AccountId,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET password_hash = $3 WHERE account_id = $1 AND password_hash = $2",
        )
        .bind(account.0)
        .bind(old)
        .bind(new)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn grant_role(
        &mut self,
        account: AccountId,
        role: &str,
        scope: Option<DepartmentId>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_roles (account_id, role, scope_department_id, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, role) DO UPDATE SET \
             scope_department_id = excluded.scope_department_id",
        )
        .bind(account.0)
        .bind(role)
        .bind(scope.map(|d| d.0))
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn list_roles(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<(String, Option<DepartmentId>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT role, scope_department_id FROM account_roles WHERE account_id = $1 ORDER BY role",
        )
        .bind(account.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("role")?,
                    r.try_get::<Option<i64>, _>("scope_department_id")?
                        .map(DepartmentId),
                ))
            })
            .collect()
    }

    async fn revoke_role(&mut self, account: AccountId, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM account_roles WHERE account_id = $1 AND role = $2")
            .bind(account.0)
            .bind(role)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_active_role_holders(&mut self, role: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM account_roles r JOIN accounts a ON a.id = r.account_id \
             WHERE r.role = $1 AND a.status = 'active'",
        )
        .bind(role)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn list_scoped_role_holders(
        &mut self,
        role: &str,
    ) -> Result<Vec<(AccountId, DepartmentId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.account_id, r.scope_department_id FROM account_roles r \
             JOIN accounts a ON a.id = r.account_id \
             WHERE r.role = $1 AND r.scope_department_id IS NOT NULL AND a.status = 'active' \
             ORDER BY r.account_id",
        )
        .bind(role)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    AccountId(r.try_get("account_id")?),
                    DepartmentId(r.try_get("scope_department_id")?),
                ))
            })
            .collect()
    }

    async fn count_role_holders(&mut self, role: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM account_roles WHERE role = $1")
            .bind(role)
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get("n")?)
    }
}
