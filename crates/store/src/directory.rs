//! The directory's rows: departments (a tree), accounts, and every address ever assigned.

use crate::rows::all;
use crate::rows::{ACCOUNT_COLUMNS, ACCOUNT_JOINS};
use crate::{AccountRow, AddressRow, DepartmentRow, NewAccountRow, StoreError, Tx};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::{AssertSqlSafe, Row};

/// Which accounts `list_accounts` returns.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// This department and every department below it.
    pub department: Option<DepartmentId>,
    pub status: Option<String>,
    /// Lower-case text contained in a name, an address or the employee id.
    pub query: Option<String>,
    pub category: Option<String>,
    /// Holders of this role.
    pub role: Option<String>,
    /// Only accounts whose primary address sorts after this one (paging).
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// What refers to a department (see `DirectoryRepo::department_holders`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepartmentHolders {
    pub accounts: i64,
    pub children: i64,
    pub roles: i64,
    pub lists: i64,
    /// Single sign-on applications open only to it.
    pub applications: i64,
    /// Rooms and equipment that belong to it.
    pub resources: i64,
    /// Calendars shared with it.
    pub calendar_shares: i64,
}

impl DepartmentHolders {
    pub fn is_empty(&self) -> bool {
        *self == DepartmentHolders::default()
    }
}

/// Directory storage, in domain words.
#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait DirectoryRepo {
    async fn insert_department(
        &mut self,
        name: &str,
        parent: Option<DepartmentId>,
        now: UnixMillis,
    ) -> Result<DepartmentId, StoreError>;
    async fn find_department_by_name(
        &mut self,
        name: &str,
    ) -> Result<Option<DepartmentRow>, StoreError>;
    async fn list_departments(&mut self) -> Result<Vec<DepartmentRow>, StoreError>;
    /// Whether `department` is `root` or lies below it.
    async fn department_within(
        &mut self,
        department: DepartmentId,
        root: DepartmentId,
    ) -> Result<bool, StoreError>;
    async fn rename_department(&mut self, id: DepartmentId, name: &str) -> Result<(), StoreError>;
    async fn set_department_parent(
        &mut self,
        id: DepartmentId,
        parent: Option<DepartmentId>,
    ) -> Result<(), StoreError>;
    /// What still refers to a department: accounts in it, departments below it, supervisor
    /// roles scoped to it, mail lists for it.
    async fn department_holders(
        &mut self,
        id: DepartmentId,
    ) -> Result<DepartmentHolders, StoreError>;
    async fn delete_department(&mut self, id: DepartmentId) -> Result<bool, StoreError>;
    /// The accounts in `root` and every department below it.
    async fn accounts_within(&mut self, root: DepartmentId) -> Result<Vec<AccountRow>, StoreError>;

    async fn insert_account(
        &mut self,
        a: &NewAccountRow,
        now: UnixMillis,
    ) -> Result<AccountId, StoreError>;
    async fn update_account(
        &mut self,
        id: AccountId,
        a: &NewAccountRow,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn update_account_status(
        &mut self,
        id: AccountId,
        status: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn find_account(&mut self, id: AccountId) -> Result<Option<AccountRow>, StoreError>;
    /// The account an address belongs to now, whether primary or alias, active or not.
    async fn find_account_by_address(
        &mut self,
        address: &str,
    ) -> Result<Option<AccountRow>, StoreError>;
    async fn find_account_by_employee_id(
        &mut self,
        employee_id: &str,
    ) -> Result<Option<AccountRow>, StoreError>;
    async fn list_accounts(&mut self, f: &AccountFilter) -> Result<Vec<AccountRow>, StoreError>;
    /// The number of the last change to any account (the directory book's sync token).
    async fn last_account_change(&mut self) -> Result<i64, StoreError>;
    /// Accounts whatever their status, with their change numbers, in the order of their
    /// last change, after change number `after` (the directory address book's sync).
    async fn accounts_changed_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AccountRow)>, StoreError>;
    /// The personal address HR recorded for the account (where an invitation is mailed).
    async fn personal_email(&mut self, id: AccountId) -> Result<Option<String>, StoreError>;
    async fn set_personal_email(
        &mut self,
        id: AccountId,
        address: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn count_accounts(&mut self) -> Result<i64, StoreError>;

    /// Gives `address` to `account` if nobody holds it: it was never assigned, its quarantine
    /// ended before `now`, or it already belongs to `account`. Returns whether it did. This
    /// single statement is what keeps two concurrent creations apart.
    async fn claim_address(
        &mut self,
        address: &str,
        account: AccountId,
        kind: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;
    async fn find_address(&mut self, address: &str) -> Result<Option<AddressRow>, StoreError>;
    /// Every address row, for bulk work that decides many addresses at once.
    async fn list_addresses(&mut self) -> Result<Vec<AddressRow>, StoreError>;
    async fn update_account_supervisor(
        &mut self,
        id: AccountId,
        supervisor: Option<AccountId>,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn list_account_addresses(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<AddressRow>, StoreError>;
    /// Makes `address` the account's primary and its previous primary an alias.
    async fn set_primary_address(
        &mut self,
        account: AccountId,
        address: &str,
    ) -> Result<(), StoreError>;
    /// Stops an alias receiving mail and holds it back until `reusable_after`.
    async fn release_address(
        &mut self,
        address: &str,
        reusable_after: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Sets when all of an account's addresses may be reassigned (`None`: held again).
    async fn set_account_addresses_reusable(
        &mut self,
        account: AccountId,
        reusable_after: Option<UnixMillis>,
    ) -> Result<(), StoreError>;
}

fn account_sql(tail: &'static str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_JOINS} {tail}"))
}

impl DirectoryRepo for Tx {
    async fn insert_department(
        &mut self,
        name: &str,
        parent: Option<DepartmentId>,
        now: UnixMillis,
    ) -> Result<DepartmentId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO departments (name, name_key, parent_id, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(name.to_lowercase())
        .bind(parent.map(|p| p.0))
        .bind(now.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(DepartmentId(row.try_get("id")?))
    }

    async fn find_department_by_name(
        &mut self,
        name: &str,
    ) -> Result<Option<DepartmentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, parent_id, created_at FROM departments WHERE name_key = $1",
        )
        .bind(name.trim().to_lowercase())
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(DepartmentRow::from_row).transpose()?)
    }

    async fn list_departments(&mut self) -> Result<Vec<DepartmentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, parent_id, created_at FROM departments ORDER BY name_key",
        )
        .fetch_all(self.conn())
        .await?;
        all(&rows, DepartmentRow::from_row)
    }

    async fn department_within(
        &mut self,
        department: DepartmentId,
        root: DepartmentId,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "WITH RECURSIVE sub(id) AS ( \
               SELECT id FROM departments WHERE id = $2 \
               UNION ALL SELECT c.id FROM departments c JOIN sub ON c.parent_id = sub.id) \
             SELECT COUNT(*) AS n FROM sub WHERE id = $1",
        )
        .bind(department.0)
        .bind(root.0)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    async fn rename_department(&mut self, id: DepartmentId, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE departments SET name = $2, name_key = $3 WHERE id = $1")
            .bind(id.0)
            .bind(name)
            .bind(name.to_lowercase())
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn set_department_parent(
        &mut self,
        id: DepartmentId,
        parent: Option<DepartmentId>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE departments SET parent_id = $2 WHERE id = $1")
            .bind(id.0)
            .bind(parent.map(|p| p.0))
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn department_holders(
        &mut self,
        id: DepartmentId,
    ) -> Result<DepartmentHolders, StoreError> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM accounts WHERE department_id = $1) AS accounts, \
               (SELECT COUNT(*) FROM departments WHERE parent_id = $1) AS children, \
               (SELECT COUNT(*) FROM account_roles WHERE scope_department_id = $1) AS roles, \
               (SELECT COUNT(*) FROM mail_lists WHERE department_id = $1) AS lists, \
               (SELECT COUNT(*) FROM calendar_resources WHERE department_id = $1) AS resources, \
               (SELECT COUNT(*) FROM dav_shares WHERE grantee_department_id = $1) AS calendar_shares, \
               (SELECT COUNT(*) FROM oidc_clients WHERE \
                  ',' || allowed_departments || ',' LIKE '%,' || CAST($1 AS TEXT) || ',%') \
                 AS applications",
        )
        .bind(id.0)
        .fetch_one(self.conn())
        .await?;
        Ok(DepartmentHolders {
            accounts: row.try_get("accounts")?,
            children: row.try_get("children")?,
            roles: row.try_get("roles")?,
            lists: row.try_get("lists")?,
            applications: row.try_get("applications")?,
            resources: row.try_get("resources")?,
            calendar_shares: row.try_get("calendar_shares")?,
        })
    }

    async fn delete_department(&mut self, id: DepartmentId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM departments WHERE id = $1")
            .bind(id.0)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn accounts_within(&mut self, root: DepartmentId) -> Result<Vec<AccountRow>, StoreError> {
        let sql = account_sql(
            "WHERE a.department_id IN (WITH RECURSIVE sub(id) AS ( \
               SELECT id FROM departments WHERE id = $1 \
               UNION ALL SELECT c.id FROM departments c JOIN sub ON c.parent_id = sub.id) \
             SELECT id FROM sub) ORDER BY a.id",
        );
        let rows = sqlx::query(sql).bind(root.0).fetch_all(self.conn()).await?;
        all(&rows, AccountRow::from_row)
    }

    async fn insert_account(
        &mut self,
        a: &NewAccountRow,
        now: UnixMillis,
    ) -> Result<AccountId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO accounts (first_name, middle_name, last_name, preferred_name, \
             employee_id, category, department_id, supervisor_id, status, primary_address, \
             search_text, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(&a.first_name)
        .bind(&a.middle_name)
        .bind(&a.last_name)
        .bind(&a.preferred_name)
        .bind(&a.employee_id)
        .bind(&a.category)
        .bind(a.department_id.0)
        .bind(a.supervisor_id.map(|s| s.0))
        .bind(&a.status)
        .bind(&a.primary_address)
        .bind(&a.search_text)
        .bind(now.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(AccountId(row.try_get("id")?))
    }

    async fn update_account(
        &mut self,
        id: AccountId,
        a: &NewAccountRow,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET first_name = $1, middle_name = $2, last_name = $3, \
             preferred_name = $4, employee_id = $5, category = $6, department_id = $7, \
             supervisor_id = $8, status = $9, primary_address = $10, search_text = $11, \
             updated_at = $12 WHERE id = $13",
        )
        .bind(&a.first_name)
        .bind(&a.middle_name)
        .bind(&a.last_name)
        .bind(&a.preferred_name)
        .bind(&a.employee_id)
        .bind(&a.category)
        .bind(a.department_id.0)
        .bind(a.supervisor_id.map(|s| s.0))
        .bind(&a.status)
        .bind(&a.primary_address)
        .bind(&a.search_text)
        .bind(now.0)
        .bind(id.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn update_account_status(
        &mut self,
        id: AccountId,
        status: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(now.0)
            .bind(id.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn find_account(&mut self, id: AccountId) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query(account_sql("WHERE a.id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(AccountRow::from_row).transpose()?)
    }

    async fn find_account_by_address(
        &mut self,
        address: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query(account_sql(
            "JOIN addresses x ON x.account_id = a.id WHERE x.address = $1",
        ))
        .bind(address)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(AccountRow::from_row).transpose()?)
    }

    async fn find_account_by_employee_id(
        &mut self,
        employee_id: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query(account_sql("WHERE a.employee_id = $1"))
            .bind(employee_id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(AccountRow::from_row).transpose()?)
    }

    async fn last_account_change(&mut self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT seq FROM directory_seq WHERE id = 1")
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(r) => r.try_get("seq")?,
            None => 0,
        })
    }

    async fn accounts_changed_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AccountRow)>, StoreError> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS}, a.change_seq {ACCOUNT_JOINS} WHERE a.change_seq > $1 \
             ORDER BY a.change_seq LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(after)
            .bind(limit)
            .fetch_all(self.conn())
            .await?;
        all(&rows, |r| {
            Ok((r.try_get("change_seq")?, AccountRow::from_row(r)?))
        })
    }

    async fn list_accounts(&mut self, f: &AccountFilter) -> Result<Vec<AccountRow>, StoreError> {
        let (mut conditions, mut args) = self.account_conditions(f);
        if let Some(after) = &f.after {
            args.push(Arg::Text(after.clone()));
            conditions.push(format!("a.primary_address > ${}", args.len()));
        }
        args.push(Arg::Int(f.limit.unwrap_or(i64::MAX)));
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} {ACCOUNT_JOINS} {} ORDER BY a.primary_address LIMIT ${}",
            where_clause(&conditions),
            args.len()
        ));
        let rows = bind_all(sqlx::query(sql), args)
            .fetch_all(self.conn())
            .await?;
        all(&rows, AccountRow::from_row)
    }

    async fn personal_email(&mut self, id: AccountId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT personal_email FROM accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(r) => r.try_get("personal_email")?,
            None => None,
        })
    }

    async fn set_personal_email(
        &mut self,
        id: AccountId,
        address: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET personal_email = $1 WHERE id = $2")
            .bind(address)
            .bind(id.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn count_accounts(&mut self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts")
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn claim_address(
        &mut self,
        address: &str,
        account: AccountId,
        kind: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO addresses (address, account_id, kind, active, reusable_after, created_at) \
             VALUES ($1, $2, $3, 1, NULL, $4) \
             ON CONFLICT (address) DO UPDATE SET account_id = excluded.account_id, \
               kind = excluded.kind, active = 1, reusable_after = NULL, \
               created_at = excluded.created_at \
             WHERE addresses.account_id = excluded.account_id \
                OR (addresses.reusable_after IS NOT NULL AND addresses.reusable_after <= $4)",
        )
        .bind(address)
        .bind(account.0)
        .bind(kind)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_address(&mut self, address: &str) -> Result<Option<AddressRow>, StoreError> {
        let row = sqlx::query(
            "SELECT address, account_id, kind, active, reusable_after, created_at \
             FROM addresses WHERE address = $1",
        )
        .bind(address)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(AddressRow::from_row).transpose()?)
    }

    async fn list_addresses(&mut self) -> Result<Vec<AddressRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT address, account_id, kind, active, reusable_after, created_at FROM addresses",
        )
        .fetch_all(self.conn())
        .await?;
        all(&rows, AddressRow::from_row)
    }

    async fn update_account_supervisor(
        &mut self,
        id: AccountId,
        supervisor: Option<AccountId>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET supervisor_id = $1, updated_at = $2 WHERE id = $3")
            .bind(supervisor.map(|s| s.0))
            .bind(now.0)
            .bind(id.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn list_account_addresses(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<AddressRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT address, account_id, kind, active, reusable_after, created_at \
             FROM addresses WHERE account_id = $1 ORDER BY kind DESC, address",
        )
        .bind(account.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, AddressRow::from_row)
    }

    async fn set_primary_address(
        &mut self,
        account: AccountId,
        address: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE addresses SET kind = CASE WHEN address = $2 THEN 'primary' ELSE 'alias' END \
             WHERE account_id = $1 AND (kind = 'primary' OR address = $2)",
        )
        .bind(account.0)
        .bind(address)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn release_address(
        &mut self,
        address: &str,
        reusable_after: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE addresses SET active = 0, reusable_after = $2 WHERE address = $1")
            .bind(address)
            .bind(reusable_after.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn set_account_addresses_reusable(
        &mut self,
        account: AccountId,
        reusable_after: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE addresses SET reusable_after = $2 WHERE account_id = $1 AND active = 1",
        )
        .bind(account.0)
        .bind(reusable_after.map(|t| t.0))
        .execute(self.write()?)
        .await?;
        Ok(())
    }
}

/// A value bound to a composed statement.
#[derive(Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

impl Tx {
    /// The conditions of `f` (without its paging), as SQL over `accounts a` and their
    /// arguments. Only the conditions asked for go into the statement, so that each can use
    /// its index (a catch-all `$n IS NULL OR ...` form defeats the planners).
    pub(crate) fn account_conditions(&self, f: &AccountFilter) -> (Vec<String>, Vec<Arg>) {
        let mut conditions: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        if let Some(d) = f.department {
            args.push(Arg::Int(d.0));
            conditions.push(format!(
                "a.department_id IN (WITH RECURSIVE sub(id) AS ( \
                   SELECT id FROM departments WHERE id = ${n} \
                   UNION ALL SELECT c.id FROM departments c JOIN sub ON c.parent_id = sub.id) \
                 SELECT id FROM sub)",
                n = args.len()
            ));
        }
        if let Some(status) = &f.status {
            args.push(Arg::Text(status.clone()));
            conditions.push(format!("a.status = ${}", args.len()));
        }
        if let Some(category) = &f.category {
            args.push(Arg::Text(category.clone()));
            conditions.push(format!("a.category = ${}", args.len()));
        }
        if let Some(role) = &f.role {
            args.push(Arg::Text(role.clone()));
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM account_roles r WHERE r.account_id = a.id AND r.role = ${})",
                args.len()
            ));
        }
        if let Some(q) = &f.query {
            if q.contains(['%', '_', '\\']) {
                // Wildcard characters taken literally: an escaped scan, rare and still correct.
                args.push(Arg::Text(format!("%{}%", escape_like(q))));
                conditions.push(format!("a.search_text LIKE ${} ESCAPE '\\'", args.len()));
            } else {
                args.push(Arg::Text(format!("%{q}%")));
                conditions.push(self.backend().search_condition(args.len()));
            }
        }
        (conditions, args)
    }
}

/// `WHERE` and the conditions, or nothing.
pub(crate) fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// Binds `args` in order.
pub(crate) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        query = match a {
            Arg::Int(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
        };
    }
    query
}

/// `LIKE` treats `%` and `_` as wildcards; a search for "john_smith" means those characters.
pub(crate) fn escape_like(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
