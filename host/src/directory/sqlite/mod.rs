//! The customer directory in SQLite: the embedded default. One file (or
//! `:memory:`), WAL, foreign keys on, schema migrations run on open.
//!
//! Every change and its audit entry (and any notifications it queues) commit
//! in one transaction.

mod changes;
mod connections;
mod errors;
mod rows;
pub mod schema;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use changes::{apply_op, changes_since, enqueue, log_changes};
use connections::Connections;
use errors::unavailable;
use rows::{member_row, onboarding_row, sort_key, stored};

use super::listing::account_of;
use super::listing::{self, AuditQuery, like_pattern};
use super::schema::{
    ACCOUNT_COLUMNS, ACCOUNT_FROM, ACCOUNT_ORDER, LinkTable, MEMBER_FROM, MEMBER_ID,
    ONBOARDING_COLUMNS,
};
use super::{
    ChangeFeed, Directory, DirectoryError, Outbox, OutboxMessage, Touched, over_budget,
    staff_changed,
};
use crate::clock::Clock;
use crate::model::Notification;
use crate::model::{
    Account, AuditEntry, AuditPage, AuditRecord, MemberPage, OnboardingRequest, OnboardingStatus,
    Organization, Staff,
};
use crate::model::{ChangeOp, MemberQuery};
pub use schema::{MIGRATIONS, migrate};

/// How long a connection waits for another process's lock, outside a
/// change's own budget.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections of a file database besides its writer.
const READERS: usize = 4;

/// A read-only connection to the database at `path`.
fn reader(path: &Path) -> Result<Connection, DirectoryError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| DirectoryError::Unavailable(format!("cannot open `{}`: {e}", path.display())))?;
    add_fold(&conn).map_err(unavailable)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    Ok(conn)
}

/// The writer connection, set up and migrated.
fn prepare_writer(mut conn: Connection) -> Result<Connection, DirectoryError> {
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(unavailable)?;
    add_fold(&conn).map_err(unavailable)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    migrate(&mut conn, MIGRATIONS.len())?;
    conn.pragma_update(None, "optimize", 0x10002)
        .map_err(unavailable)?;
    Ok(conn)
}

/// The staff member `id` with their assignments, in order.
fn staff_row(conn: &Connection, id: &str) -> Result<Option<Staff>, DirectoryError> {
    let Some((name, email, status)) = conn
        .query_row(
            "SELECT name, email, status FROM staff WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    stored(&r.get::<_, String>(2)?)?,
                ))
            },
        )
        .optional()
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT organization_id FROM staff_organizations WHERE staff_id = ?1 ORDER BY organization_id",
        )
        .map_err(unavailable)?;
    let orgs = stmt
        .query_map(params![id], |r| r.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(unavailable)?;
    Ok(Some(Staff {
        id: id.to_string(),
        name,
        assigned_organizations: orgs,
        email,
        status,
    }))
}

/// A [`Directory`] in SQLite.
pub struct SqliteDirectory {
    conns: Connections,
    label: String,
    clock: Clock,
}

impl SqliteDirectory {
    /// What (issuer, subject) is linked to in `links`.
    async fn linked(
        &self,
        links: LinkTable,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError> {
        let (table, column, _) = links.names();
        let select = format!("SELECT {column} FROM {table} WHERE issuer = ?1 AND subject = ?2");
        let issuer = issuer.to_string();
        self.conns
            .read_by(subject, move |conn, subject| {
                conn.query_row(&select, params![issuer, subject], |r| r.get(0))
                    .optional()
                    .map_err(unavailable)
            })
            .await
    }

    /// The account whose `column` (`p.id`, `p.email`) is `value`.
    async fn account_where(
        &self,
        column: &'static str,
        value: String,
    ) -> Result<Option<Account>, DirectoryError> {
        self.conns
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE {column} = ?1 {ACCOUNT_ORDER}"
                    ))
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map(params![value], member_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(unavailable)?;
                Ok(account_of(rows))
            })
            .await
    }

    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path, clock: Clock) -> Result<Self, DirectoryError> {
        let conn = Connection::open(path).map_err(|e| {
            DirectoryError::Unavailable(format!("cannot open `{}`: {e}", path.display()))
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(unavailable)?;
        let writer = prepare_writer(conn)?;
        // Opened after the writer migrated, so they see the schema.
        let readers = (0..READERS)
            .map(|_| reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conns: Connections::new(writer, readers),
            label: format!("SQLite at {}", path.display()),
            clock,
        })
    }

    /// A private in-memory database (tests, policy tests, one-off commands).
    pub fn in_memory(clock: Clock) -> Result<Self, DirectoryError> {
        let conn = Connection::open_in_memory().map_err(unavailable)?;
        Ok(Self {
            conns: Connections::new(prepare_writer(conn)?, Vec::new()),
            label: "SQLite in memory".into(),
            clock,
        })
    }

    /// The writer connection, here and now: start-up and tests only.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conns.writer()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<usize, DirectoryError> {
        schema::schema_version(&self.conn())
    }
}

/// Registers `fold(text)`: Rust's Unicode lower case, which searches and
/// name sorts compare (SQLite's own `lower()` folds ASCII only).
pub fn add_fold(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text: Option<String> = ctx.get(0)?;
            Ok(text.map(|t| t.to_lowercase()))
        },
    )
}

#[async_trait]
impl Directory for SqliteDirectory {
    fn summary(&self) -> String {
        self.label.clone()
    }

    async fn new_id(&self, kind: &str) -> Result<String, DirectoryError> {
        let kind = kind.to_string();
        let prefix: String = kind
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        self.conns
            .read(move |conn| {
                let random: String = conn
                    .query_row("SELECT lower(hex(randomblob(12)))", [], |r| r.get(0))
                    .map_err(unavailable)?;
                Ok(format!("{prefix}-{random}"))
            })
            .await
    }

    async fn get_account(&self, person_id: &str) -> Result<Option<Account>, DirectoryError> {
        self.account_where("p.id", person_id.to_string()).await
    }

    async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, DirectoryError> {
        self.account_where("p.email", email.trim().to_lowercase())
            .await
    }

    async fn get_organization(&self, id: &str) -> Result<Option<Organization>, DirectoryError> {
        self.conns
            .read_by(id, |conn, id| {
            conn.query_row(
                "SELECT o.id, o.name, o.status,
                     (SELECT count(*) FROM memberships a WHERE a.organization_id = o.id AND a.status = 'active' AND a.is_admin)
                 FROM organizations o WHERE o.id = ?1",
                params![id],
                |r| {
                    Ok(Organization {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        status: stored(&r.get::<_, String>(2)?)?,
                        active_admins: r.get::<_, i64>(3)? as u32,
                    })
                },
            )
            .optional()
            .map_err(unavailable)
            })
            .await
    }

    async fn get_staff(&self, id: &str) -> Result<Option<Staff>, DirectoryError> {
        self.conns.read_by(id, staff_row).await
    }

    async fn put_staff(&self, staff: &Staff) -> Result<(), DirectoryError> {
        let staff = staff.clone();
        self.conns
            .write(move |conn| {
                let tx = conn.transaction().map_err(unavailable)?;
                tx.execute(
                    "INSERT INTO staff (id, name, email, status) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO UPDATE
                     SET name = excluded.name, email = excluded.email, status = excluded.status",
                    params![staff.id, staff.name, staff.email, staff.status.name()],
                )
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        DirectoryError::Duplicate(format!(
                            "another staff member has the email of `{}`",
                            staff.id
                        ))
                    }
                    other => unavailable(other),
                })?;
                tx.execute(
                    "DELETE FROM staff_organizations WHERE staff_id = ?1",
                    params![staff.id],
                )
                .map_err(unavailable)?;
                for org in &staff.assigned_organizations {
                    tx.execute(
                    "INSERT INTO staff_organizations (staff_id, organization_id) VALUES (?1, ?2)",
                    params![staff.id, org],
                )
                .map_err(unavailable)?;
                }
                log_changes(&tx, &[Touched::Staff(staff.id.clone())])?;
                tx.commit().map_err(unavailable)
            })
            .await
    }

    async fn is_empty(&self) -> Result<bool, DirectoryError> {
        self.conns
            .read(move |conn| {
                let n: i64 = conn
                .query_row(
                    "SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM people)",
                    [],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
                Ok(n == 0)
            })
            .await
    }

    async fn find_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError> {
        self.linked(LinkTable::Customer, issuer, subject).await
    }

    async fn find_staff_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError> {
        self.linked(LinkTable::Staff, issuer, subject).await
    }

    async fn list_organization_staff(
        &self,
        organization_id: &str,
    ) -> Result<Vec<Staff>, DirectoryError> {
        self.conns
            .read_by(organization_id, |conn, organization_id| {
                let ids = conn
                    .prepare_cached(
                        "SELECT s.id FROM staff s JOIN staff_organizations a ON a.staff_id = s.id
                         WHERE a.organization_id = ?1 ORDER BY s.name, s.id",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_map(params![organization_id], |r| r.get(0))?
                            .collect::<Result<Vec<String>, _>>()
                    })
                    .map_err(unavailable)?;
                let mut staff = Vec::with_capacity(ids.len());
                for id in ids {
                    staff.extend(staff_row(conn, &id)?);
                }
                Ok(staff)
            })
            .await
    }

    async fn find_staff_by_email(&self, email: &str) -> Result<Option<Staff>, DirectoryError> {
        let email = email.trim().to_lowercase();
        self.conns
            .read_by(&email, |conn, email| {
                let id: Option<String> = conn
                    .query_row(
                        "SELECT id FROM staff WHERE email = ?1",
                        params![email],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                match id {
                    Some(id) => staff_row(conn, &id),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn list_links(&self, person_id: &str) -> Result<Vec<(String, String)>, DirectoryError> {
        self.conns
            .read_by(person_id, |conn, person_id| {
            let mut stmt = conn
                .prepare_cached("SELECT issuer, subject FROM identity_links WHERE person_id = ?1 ORDER BY issuer, subject")
                .map_err(unavailable)?;
            stmt.query_map(params![person_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(unavailable)
            })
            .await
    }

    async fn get_onboarding(&self, id: &str) -> Result<Option<OnboardingRequest>, DirectoryError> {
        self.conns
            .read_by(id, |conn, id| {
                conn.query_row(
                    &format!("SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE id = ?1"),
                    params![id],
                    onboarding_row,
                )
                .optional()
                .map_err(unavailable)
            })
            .await
    }

    async fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirectoryError> {
        self.conns
            .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE ?1 IS NULL OR status = ?1
                     ORDER BY submitted_at DESC, id DESC LIMIT 1000"
                ))
                .map_err(unavailable)?;
            stmt.query_map(params![status.map(OnboardingStatus::name)], onboarding_row)
                .and_then(|rows| rows.collect())
                .map_err(unavailable)
            })
            .await
    }

    async fn find_pending_onboarding(
        &self,
        email: &str,
    ) -> Result<Option<OnboardingRequest>, DirectoryError> {
        self.conns
            .read_by(email, |conn, email| {
            conn.query_row(
                &format!("SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE requester_email = ?1 AND status = 'pending'"),
                params![email.trim().to_lowercase()],
                onboarding_row,
            )
            .optional()
            .map_err(unavailable)
            })
            .await
    }

    async fn list_members(&self, query: MemberQuery) -> Result<MemberPage, DirectoryError> {
        let Some(plan) = listing::plan(&query)? else {
            return Ok(listing::empty());
        };
        let (cmp, order) = (plan.after, plan.order);
        let key = sort_key(query.sort);
        let mut sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, {key} FROM {MEMBER_FROM} WHERE m.organization_id IN ("
        );
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        for (i, org) in query.organizations.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            values.push(org.clone().into());
        }
        sql.push(')');
        if let Some(status) = query.status {
            sql.push_str(" AND m.status = ?");
            values.push(status.name().to_string().into());
        }
        if let Some(search) = &query.search {
            sql.push_str(" AND (fold(p.name) LIKE ? ESCAPE '\\' OR p.email LIKE ? ESCAPE '\\' OR fold(o.name) LIKE ? ESCAPE '\\')");
            let pattern = like_pattern(search);
            values.extend([
                pattern.clone().into(),
                pattern.clone().into(),
                pattern.into(),
            ]);
        }
        if let Some(cursor) = plan.cursor {
            sql.push_str(&format!(" AND ({key}, {MEMBER_ID}) {cmp} (?, ?)"));
            values.extend([cursor.k.into(), cursor.id.into()]);
        }
        sql.push_str(&format!(
            " ORDER BY {key} {order}, {MEMBER_ID} {order} LIMIT {}",
            listing::fetch(&query)
        ));
        self.conns
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
                let rows: Vec<(Account, String)> = stmt
                    .query_map(params_from_iter(values), |row| {
                        let (person, member) = member_row(row)?;
                        let member = member.expect("a listed row is a membership");
                        Ok((Account::listed(person, member), row.get::<_, String>(14)?))
                    })
                    .and_then(|rows| rows.collect())
                    .map_err(unavailable)?;
                Ok(listing::page(rows, &query))
            })
            .await
    }

    async fn read_audit(&self, query: AuditQuery) -> Result<AuditPage, DirectoryError> {
        let (before, fetch) = query.window()?;
        self.conns
            .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, at, actor, action, target, organization_id, before, after, policies FROM audit_log
                     WHERE id < ?1 AND (?2 IS NULL OR organization_id = ?2) ORDER BY id DESC LIMIT ?3",
                )
                .map_err(unavailable)?;
            let entries = stmt
                .query_map(params![before, query.organization_id, fetch], |r| {
                    let policies: String = r.get(8)?;
                    Ok(AuditRecord {
                        id: r.get::<_, i64>(0)? as u64,
                        at: r.get::<_, i64>(1)? as u64,
                        entry: AuditEntry {
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            target: r.get(4)?,
                            organization_id: r.get(5)?,
                            before: r.get(6)?,
                            after: r.get(7)?,
                            policies: serde_json::from_str(&policies).unwrap_or_default(),
                        },
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(unavailable)?;
            Ok(query.page(entries))
            })
            .await
    }

    async fn apply_within(
        &self,
        ops: Vec<ChangeOp>,
        audit: AuditEntry,
        staff: &[Staff],
        budget: Duration,
    ) -> Result<(), DirectoryError> {
        let staff = staff.to_vec();
        let now = self.clock.now_secs();
        let deadline = Instant::now() + budget;
        self.conns
            .write(move |conn| {
            // Waiting for the write lock (held by another process sharing the
            // file) counts against the budget; a change that could only
            // commit after it rolls back instead.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(over_budget(budget));
            }
            conn.busy_timeout(left).map_err(unavailable)?;
            let outcome = (|| {
            // Dropping the transaction without commit rolls everything back.
            // IMMEDIATE takes the write lock first, so the checks below (versions,
            // `expect-*` guards) and the writes see one state, also when other
            // processes share the file.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                        over_budget(budget)
                    }
                    other => unavailable(other),
                })?;
            // The staff records the decision read, as they were before this
            // change (which may itself assign the actor, creating an
            // organization).
            for expected in &staff {
                if staff_row(&tx, &expected.id)?.as_ref() != Some(expected) {
                    return Err(staff_changed(&expected.id));
                }
            }
            for op in &ops {
                apply_op(&tx, op, now)?;
            }
            tx.execute(
                "INSERT INTO audit_log (at, actor, action, target, organization_id, before, after, policies)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    now as i64,
                    audit.actor,
                    audit.action,
                    audit.target,
                    audit.organization_id,
                    audit.before,
                    audit.after,
                    serde_json::to_string(&audit.policies).unwrap_or_else(|_| "[]".into()),
                ],
            )
            .map_err(unavailable)?;
            log_changes(&tx, &Touched::of(&ops))?;
            if Instant::now() >= deadline {
                return Err(over_budget(budget));
            }
            tx.commit().map_err(unavailable)
            })();
            let _ = conn.busy_timeout(BUSY_TIMEOUT);
            outcome
            })
            .await
    }

    async fn changes_since(&self, after: u64, limit: u32) -> Result<ChangeFeed, DirectoryError> {
        self.conns
            .read(move |conn| changes_since(conn, after, limit))
            .await
    }
}

#[async_trait]
impl Outbox for SqliteDirectory {
    async fn enqueue(&self, notification: Notification) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs();
        self.conns
            .write(move |conn| enqueue(conn, &notification, now))
            .await
    }

    async fn due_messages(&self, limit: u32) -> Result<Vec<OutboxMessage>, DirectoryError> {
        let now = self.clock.now_secs() as i64;
        self.conns
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, kind, recipient, params, attempts FROM outbox
                     WHERE delivered_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
                    )
                    .map_err(unavailable)?;
                stmt.query_map(params![now, limit], |r| {
                    let params: String = r.get(3)?;
                    Ok(OutboxMessage {
                        id: r.get::<_, i64>(0)? as u64,
                        notification: Notification {
                            kind: stored(&r.get::<_, String>(1)?)?,
                            recipient: r.get(2)?,
                            params: serde_json::from_str(&params).unwrap_or_default(),
                        },
                        attempts: r.get::<_, i64>(4)? as u32,
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(unavailable)
            })
            .await
    }

    async fn mark_delivered(&self, id: u64) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs() as i64;
        self.conns
            .write(move |conn| {
                conn.execute(
                    "UPDATE outbox SET delivered_at = ?2, last_error = NULL WHERE id = ?1",
                    params![id as i64, now],
                )
                .map(|_| ())
                .map_err(unavailable)
            })
            .await
    }

    async fn mark_failed(&self, id: u64, error: &str, retry_at: u64) -> Result<(), DirectoryError> {
        let error = error.to_string();
        self.conns
            .write(move |conn| {
                conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                    params![id as i64, error, retry_at as i64],
                )
                .map(|_| ())
                .map_err(unavailable)
            })
            .await
    }
}
