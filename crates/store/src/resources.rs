//! Rows of rooms and equipment that book themselves (CalDAV resources): the resource with its
//! booking rules, its delegates, its answer to each meeting it was invited to, and the time
//! slots those bookings take. A booking decision first takes the resource row's lock
//! (`lock_resource`), so two meetings asking for one slot at the same moment are decided one
//! after the other on either backend, and the second sees the first's slots.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRow {
    pub id: i64,
    pub address: String,
    pub name: String,
    /// `room` or `equipment`.
    pub kind: String,
    pub department_id: Option<DepartmentId>,
    pub capacity: Option<i64>,
    /// `everyone`, `department` or `role:NAME`.
    pub bookable_by: String,
    pub max_minutes: Option<i64>,
    pub window_days: i64,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl ResourceRow {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<ResourceRow> {
        Ok(ResourceRow {
            id: r.try_get("id")?,
            address: r.try_get("address")?,
            name: r.try_get("name")?,
            kind: r.try_get("kind")?,
            department_id: r
                .try_get::<Option<i64>, _>("department_id")?
                .map(DepartmentId),
            capacity: r.try_get("capacity")?,
            bookable_by: r.try_get("bookable_by")?,
            max_minutes: r.try_get("max_minutes")?,
            window_days: r.try_get("window_days")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            updated_at: UnixMillis(r.try_get("updated_at")?),
        })
    }
}

/// A resource's answer to one meeting (one organizer's UID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRow {
    pub id: i64,
    pub resource_id: i64,
    pub organizer_id: AccountId,
    pub uid: String,
    /// `accepted`, `pending` or `declined`.
    pub status: String,
    pub reason: String,
    /// Who answered by hand (a delegate's label); empty when the resource answered.
    pub decided_by: String,
    pub summary: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub fingerprint: String,
    pub updated_at: UnixMillis,
}

impl BookingRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<BookingRow> {
        Ok(BookingRow {
            id: r.try_get("id")?,
            resource_id: r.try_get("resource_id")?,
            organizer_id: AccountId(r.try_get("organizer_id")?),
            uid: r.try_get("uid")?,
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            decided_by: r.try_get("decided_by")?,
            summary: r.try_get("summary")?,
            starts_at: r.try_get("starts_at")?,
            ends_at: r.try_get("ends_at")?,
            fingerprint: r.try_get("fingerprint")?,
            updated_at: UnixMillis(r.try_get("updated_at")?),
        })
    }
}

/// A time a booking takes (seconds), with which booking and how sure it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRow {
    pub booking_id: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    /// The booking's status: `accepted` or `pending`.
    pub status: String,
}

pub(crate) const RESOURCE_COLUMNS: &str = "SELECT id, address, name, kind, department_id, capacity, \
    bookable_by, max_minutes, window_days, created_at, updated_at FROM calendar_resources";
const BOOKING_COLUMNS: &str = "SELECT id, resource_id, organizer_id, uid, status, reason, \
    decided_by, summary, starts_at, ends_at, fingerprint, updated_at FROM resource_bookings";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ResourceRepo {
    /// Claims `address` for a resource if nobody holds it; returns whether it did.
    async fn claim_resource_address(
        &mut self,
        address: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;
    /// Inserts the resource (its address claimed already); its id.
    async fn insert_resource(&mut self, row: &ResourceRow) -> Result<i64, StoreError>;
    /// Writes the name, capacity, department and rules of `row.id` if it was last changed at
    /// `seen` (else another change came first); whether it did.
    async fn update_resource(
        &mut self,
        row: &ResourceRow,
        seen: UnixMillis,
    ) -> Result<bool, StoreError>;
    async fn find_resource(&mut self, address: &str) -> Result<Option<ResourceRow>, StoreError>;
    async fn list_resources(&mut self) -> Result<Vec<ResourceRow>, StoreError>;
    /// Deletes a resource with its delegates, bookings and slots.
    async fn delete_resource(&mut self, id: i64) -> Result<(), StoreError>;
    /// Takes the resource's row lock until the transaction ends (PostgreSQL: the update
    /// waits for another decision on the same resource; SQLite has one writer anyway);
    /// whether the resource still exists.
    async fn lock_resource(&mut self, id: i64) -> Result<bool, StoreError>;
    async fn resource_delegates(&mut self, id: i64) -> Result<Vec<AccountId>, StoreError>;
    async fn set_resource_delegates(
        &mut self,
        id: i64,
        delegates: &[AccountId],
    ) -> Result<(), StoreError>;
    /// The resources `account` is a delegate of.
    async fn delegated_resources(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<ResourceRow>, StoreError>;
    /// `organizer`'s booking of `uid`.
    async fn booking(
        &mut self,
        resource: i64,
        organizer: AccountId,
        uid: &str,
    ) -> Result<Option<BookingRow>, StoreError>;
    async fn booking_by_id(
        &mut self,
        resource: i64,
        id: i64,
    ) -> Result<Option<BookingRow>, StoreError>;
    /// The bookings of a resource (those in `status` when one is named), soonest first, at
    /// most `limit`.
    async fn bookings(
        &mut self,
        resource: i64,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BookingRow>, StoreError>;
    /// Writes a booking (by resource, organizer and UID) and replaces its slots with `slots`
    /// (none for a declined one); its id.
    async fn put_booking(
        &mut self,
        row: &BookingRow,
        slots: &[(i64, i64)],
    ) -> Result<i64, StoreError>;
    /// Keeps a booking's answer and slots, with the meeting's title as it is now.
    async fn touch_booking(
        &mut self,
        id: i64,
        summary: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn delete_booking(&mut self, id: i64) -> Result<(), StoreError>;
    /// Sets a booking's status, reason and who decided; a declined one gives up its slots.
    async fn answer_booking(&mut self, row: &BookingRow) -> Result<(), StoreError>;
    /// The slots of other bookings than `except` that meet [start, end).
    async fn resource_slots(
        &mut self,
        resource: i64,
        start: i64,
        end: i64,
        except: Option<i64>,
    ) -> Result<Vec<SlotRow>, StoreError>;
}

impl ResourceRepo for Tx {
    async fn claim_resource_address(
        &mut self,
        address: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        crate::lists::claim_unowned(self, address, "resource", now).await
    }

    async fn insert_resource(&mut self, row: &ResourceRow) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO calendar_resources (address, name, kind, department_id, capacity, \
             bookable_by, max_minutes, window_days, lock_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10) RETURNING id",
        )
        .bind(&row.address)
        .bind(&row.name)
        .bind(&row.kind)
        .bind(row.department_id.map(|d| d.0))
        .bind(row.capacity)
        .bind(&row.bookable_by)
        .bind(row.max_minutes)
        .bind(row.window_days)
        .bind(row.created_at.0)
        .bind(row.updated_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn update_resource(
        &mut self,
        row: &ResourceRow,
        seen: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE calendar_resources SET name = $2, kind = $3, department_id = $4, \
             capacity = $5, bookable_by = $6, max_minutes = $7, window_days = $8, \
             updated_at = $9 WHERE id = $1 AND updated_at = $10",
        )
        .bind(row.id)
        .bind(&row.name)
        .bind(&row.kind)
        .bind(row.department_id.map(|d| d.0))
        .bind(row.capacity)
        .bind(&row.bookable_by)
        .bind(row.max_minutes)
        .bind(row.window_days)
        .bind(row.updated_at.0)
        .bind(seen.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_resource(&mut self, address: &str) -> Result<Option<ResourceRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{RESOURCE_COLUMNS} WHERE address = $1"));
        let row = sqlx::query(sql)
            .bind(address)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| ResourceRow::from_row(&r)).transpose()?)
    }

    async fn list_resources(&mut self) -> Result<Vec<ResourceRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{RESOURCE_COLUMNS} ORDER BY name, address"));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, ResourceRow::from_row)
    }

    async fn delete_resource(&mut self, id: i64) -> Result<(), StoreError> {
        for table in ["resource_slots", "resource_bookings", "resource_delegates"] {
            let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE resource_id = $1"));
            sqlx::query(sql).bind(id).execute(self.write()?).await?;
        }
        sqlx::query("DELETE FROM calendar_resources WHERE id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn lock_resource(&mut self, id: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE calendar_resources SET lock_seq = lock_seq + 1 WHERE id = $1")
                .bind(id)
                .execute(self.write()?)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn resource_delegates(&mut self, id: i64) -> Result<Vec<AccountId>, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id FROM resource_delegates WHERE resource_id = $1 ORDER BY account_id",
        )
        .bind(id)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| Ok(AccountId(r.try_get("account_id")?)))
    }

    async fn set_resource_delegates(
        &mut self,
        id: i64,
        delegates: &[AccountId],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM resource_delegates WHERE resource_id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        for d in delegates {
            sqlx::query(
                "INSERT INTO resource_delegates (resource_id, account_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(d.0)
            .execute(self.write()?)
            .await?;
        }
        Ok(())
    }

    async fn delegated_resources(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<ResourceRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{RESOURCE_COLUMNS} WHERE id IN (SELECT resource_id FROM resource_delegates \
             WHERE account_id = $1) ORDER BY name, address"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, ResourceRow::from_row)
    }

    async fn booking(
        &mut self,
        resource: i64,
        organizer: AccountId,
        uid: &str,
    ) -> Result<Option<BookingRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{BOOKING_COLUMNS} WHERE resource_id = $1 AND organizer_id = $2 AND uid = $3"
        ));
        let row = sqlx::query(sql)
            .bind(resource)
            .bind(organizer.0)
            .bind(uid)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| BookingRow::from_row(&r)).transpose()?)
    }

    async fn booking_by_id(
        &mut self,
        resource: i64,
        id: i64,
    ) -> Result<Option<BookingRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{BOOKING_COLUMNS} WHERE resource_id = $1 AND id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(resource)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| BookingRow::from_row(&r)).transpose()?)
    }

    async fn bookings(
        &mut self,
        resource: i64,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BookingRow>, StoreError> {
        // A status of '' matches every booking: one statement for both cases.
        let sql = sqlx::AssertSqlSafe(format!(
            "{BOOKING_COLUMNS} WHERE resource_id = $1 AND ($2 = '' OR status = $2) \
             ORDER BY starts_at, id LIMIT $3"
        ));
        let rows = sqlx::query(sql)
            .bind(resource)
            .bind(status.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.conn())
            .await?;
        all(&rows, BookingRow::from_row)
    }

    async fn put_booking(
        &mut self,
        row: &BookingRow,
        slots: &[(i64, i64)],
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO resource_bookings (resource_id, organizer_id, uid, status, reason, \
             decided_by, summary, starts_at, ends_at, fingerprint, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (resource_id, organizer_id, uid) DO UPDATE SET \
               status = excluded.status, reason = excluded.reason, \
               decided_by = excluded.decided_by, summary = excluded.summary, \
               starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
               fingerprint = excluded.fingerprint, updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(row.resource_id)
        .bind(row.organizer_id.0)
        .bind(&row.uid)
        .bind(&row.status)
        .bind(&row.reason)
        .bind(&row.decided_by)
        .bind(&row.summary)
        .bind(row.starts_at)
        .bind(row.ends_at)
        .bind(&row.fingerprint)
        .bind(row.updated_at.0)
        .fetch_one(self.write()?)
        .await?;
        let id: i64 = r.try_get("id")?;
        delete_slots(self, id).await?;
        // Many rows per statement: a daily meeting over a year is a few statements, not 365.
        for chunk in slots.chunks(200) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, $2, ${}, ${})", 3 + 2 * i, 4 + 2 * i))
                .collect();
            let sql = sqlx::AssertSqlSafe(format!(
                "INSERT INTO resource_slots (booking_id, resource_id, starts_at, ends_at) VALUES {}",
                values.join(", ")
            ));
            let mut q = sqlx::query(sql).bind(id).bind(row.resource_id);
            for (start, end) in chunk {
                q = q.bind(*start).bind(*end);
            }
            q.execute(self.write()?).await?;
        }
        Ok(id)
    }

    async fn touch_booking(
        &mut self,
        id: i64,
        summary: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE resource_bookings SET summary = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(summary)
            .bind(now.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn delete_booking(&mut self, id: i64) -> Result<(), StoreError> {
        delete_slots(self, id).await?;
        sqlx::query("DELETE FROM resource_bookings WHERE id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn answer_booking(&mut self, row: &BookingRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE resource_bookings SET status = $2, reason = $3, decided_by = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(row.id)
        .bind(&row.status)
        .bind(&row.reason)
        .bind(&row.decided_by)
        .bind(row.updated_at.0)
        .execute(self.write()?)
        .await?;
        if row.status == "declined" {
            delete_slots(self, row.id).await?;
        }
        Ok(())
    }

    async fn resource_slots(
        &mut self,
        resource: i64,
        start: i64,
        end: i64,
        except: Option<i64>,
    ) -> Result<Vec<SlotRow>, StoreError> {
        // A slot meets the range when it starts before the range ends and ends after it
        // starts; the index on (resource_id, starts_at) bounds the first half.
        let rows = sqlx::query(
            "SELECT s.booking_id, s.starts_at, s.ends_at, b.status FROM resource_slots s \
             JOIN resource_bookings b ON b.id = s.booking_id \
             WHERE s.resource_id = $1 AND s.starts_at < $3 AND s.ends_at > $2 \
               AND s.booking_id <> $4 ORDER BY s.starts_at",
        )
        .bind(resource)
        .bind(start)
        .bind(end)
        .bind(except.unwrap_or(0))
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok(SlotRow {
                booking_id: r.try_get("booking_id")?,
                starts_at: r.try_get("starts_at")?,
                ends_at: r.try_get("ends_at")?,
                status: r.try_get("status")?,
            })
        })
    }
}

async fn delete_slots(tx: &mut Tx, booking: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM resource_slots WHERE booking_id = $1")
        .bind(booking)
        .execute(tx.write()?)
        .await?;
    Ok(())
}
