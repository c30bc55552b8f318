//! The console's listings of people: the accounts table (filtered, sorted and paged over the
//! whole organization, with each row's roles, second factors and last sign-in), people counted
//! per department for the tree, and every role holder for the roles overview. The filters are
//! the directory's own (`AccountFilter`), so the console and `account list` agree.

use crate::directory::{Arg, bind_all, where_clause};
use crate::rows::{ACCOUNT_COLUMNS, ACCOUNT_JOINS, all};
use crate::{AccountFilter, AccountRow, StoreError, Tx};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::{AssertSqlSafe, Row};

/// What the accounts table is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RosterSort {
    #[default]
    Name,
    Address,
    EmployeeId,
    Department,
    Category,
    Status,
    LastSignIn,
}

impl RosterSort {
    /// The `ORDER BY` columns; the address last, so that equal keys keep one order across
    /// pages. Accounts that never signed in come after the rest, whichever the direction.
    fn order(self, descending: bool) -> String {
        let dir = if descending { "DESC" } else { "ASC" };
        let key = match self {
            RosterSort::Name => format!("a.last_name {dir}, a.first_name {dir}"),
            RosterSort::Address => format!("a.primary_address {dir}"),
            RosterSort::EmployeeId => format!("a.employee_id {dir}"),
            RosterSort::Department => format!("d.name {dir}"),
            RosterSort::Category => format!("a.category {dir}"),
            RosterSort::Status => format!("a.status {dir}"),
            RosterSort::LastSignIn => format!(
                "CASE WHEN a.last_sign_in_at IS NULL THEN 1 ELSE 0 END, a.last_sign_in_at {dir}"
            ),
        };
        format!("{key}, a.primary_address {dir}")
    }
}

/// One page of the accounts table.
#[derive(Debug, Clone, Default)]
pub struct RosterQuery {
    pub filter: AccountFilter,
    pub sort: RosterSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// One row of the accounts table.
#[derive(Debug, Clone)]
pub struct RosterRow {
    pub account: AccountRow,
    pub last_sign_in_at: Option<UnixMillis>,
    /// A confirmed authenticator app.
    pub totp: bool,
    pub passkeys: i64,
    /// Each role with the department it is scoped to.
    pub roles: Vec<(String, Option<DepartmentId>)>,
}

/// A holder of a role, for the roles overview.
#[derive(Debug, Clone)]
pub struct RoleHolderRow {
    pub role: String,
    pub scope: Option<DepartmentId>,
    pub account: AccountRow,
    pub granted_at: UnixMillis,
    /// Whether the holder has a second factor (a role waits until they do).
    pub has_factor: bool,
}

/// Whether the account `a` has a second factor, as an integer column both engines return alike.
const HAS_FACTOR: &str = "CAST(CASE WHEN EXISTS (SELECT 1 FROM totp_secrets t \
      WHERE t.account_id = a.id AND t.confirmed_at IS NOT NULL) \
    OR EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = a.id) THEN 1 ELSE 0 END AS BIGINT)";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait RosterRepo {
    /// A page of the accounts `q` asks for, and how many match in all.
    async fn roster(&mut self, q: &RosterQuery) -> Result<(Vec<RosterRow>, i64), StoreError>;
    /// Accounts per department (the department's own people, not its subtree's).
    async fn department_people(&mut self) -> Result<Vec<(DepartmentId, i64)>, StoreError>;
    /// Every role held, by role then address.
    async fn role_holders(&mut self) -> Result<Vec<RoleHolderRow>, StoreError>;
    /// Notes a completed sign-in.
    async fn touch_sign_in(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
}

impl RosterRepo for Tx {
    async fn roster(&mut self, q: &RosterQuery) -> Result<(Vec<RosterRow>, i64), StoreError> {
        let (conditions, args) = self.account_conditions(&q.filter);
        let filter = where_clause(&conditions);
        let count_sql = AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM accounts a {filter}"));
        let total: i64 = bind_all(sqlx::query(count_sql), args.clone())
            .fetch_one(self.conn())
            .await?
            .try_get("n")?;
        let mut args = args;
        args.push(Arg::Int(q.limit));
        let limit = args.len();
        args.push(Arg::Int(q.offset));
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS}, a.last_sign_in_at, \
               CAST(CASE WHEN EXISTS (SELECT 1 FROM totp_secrets t \
                 WHERE t.account_id = a.id AND t.confirmed_at IS NOT NULL) THEN 1 ELSE 0 END \
                 AS BIGINT) AS totp, \
               (SELECT COUNT(*) FROM passkeys p WHERE p.account_id = a.id) AS passkeys \
             {ACCOUNT_JOINS} {filter} ORDER BY {} LIMIT ${limit} OFFSET ${}",
            q.sort.order(q.descending),
            args.len()
        ));
        let rows = bind_all(sqlx::query(sql), args)
            .fetch_all(self.conn())
            .await?;
        let mut out = all(&rows, |r| {
            Ok(RosterRow {
                account: AccountRow::from_row(r)?,
                last_sign_in_at: r
                    .try_get::<Option<i64>, _>("last_sign_in_at")?
                    .map(UnixMillis),
                totp: r.try_get::<i64, _>("totp")? == 1,
                passkeys: r.try_get("passkeys")?,
                roles: Vec::new(),
            })
        })?;
        // The page's roles in one statement (a page is at most a few hundred rows).
        if !out.is_empty() {
            let ids: Vec<String> = out.iter().map(|r| r.account.id.0.to_string()).collect();
            let sql = AssertSqlSafe(format!(
                "SELECT account_id, role, scope_department_id FROM account_roles \
                 WHERE account_id IN ({}) ORDER BY role",
                ids.join(", ")
            ));
            for r in sqlx::query(sql).fetch_all(self.conn()).await? {
                let id = AccountId(r.try_get("account_id")?);
                let role: String = r.try_get("role")?;
                let scope = r
                    .try_get::<Option<i64>, _>("scope_department_id")?
                    .map(DepartmentId);
                if let Some(row) = out.iter_mut().find(|x| x.account.id == id) {
                    row.roles.push((role, scope));
                }
            }
        }
        Ok((out, total))
    }

    async fn department_people(&mut self) -> Result<Vec<(DepartmentId, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT department_id, COUNT(*) AS n FROM accounts GROUP BY department_id")
                .fetch_all(self.conn())
                .await?;
        all(&rows, |r| {
            Ok((DepartmentId(r.try_get("department_id")?), r.try_get("n")?))
        })
    }

    async fn role_holders(&mut self) -> Result<Vec<RoleHolderRow>, StoreError> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS}, r.role, r.scope_department_id, r.granted_at, \
               {HAS_FACTOR} AS has_factor \
             {ACCOUNT_JOINS} JOIN account_roles r ON r.account_id = a.id \
             ORDER BY r.role, a.primary_address"
        ));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, |r| {
            Ok(RoleHolderRow {
                role: r.try_get("role")?,
                scope: r
                    .try_get::<Option<i64>, _>("scope_department_id")?
                    .map(DepartmentId),
                account: AccountRow::from_row(r)?,
                granted_at: UnixMillis(r.try_get("granted_at")?),
                has_factor: r.try_get::<i64, _>("has_factor")? == 1,
            })
        })
    }

    async fn touch_sign_in(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET last_sign_in_at = $1 WHERE id = $2")
            .bind(now.0)
            .bind(account.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }
}
