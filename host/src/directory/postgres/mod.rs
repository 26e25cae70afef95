//! The customer directory in PostgreSQL, for several nodes sharing one
//! database (`--database postgres://…`). Connections come from a pool
//! (`deadpool-postgres`, size `--database-pool-size`).
//!
//! Every change and its audit entry (and any notifications it queues) commit
//! in one `SERIALIZABLE` transaction, so whatever a decision read (a
//! membership's version, an organization's active administrators, an
//! unused email or identity) still holds when the change commits, on every
//! node. A transaction that loses a serialization race is run again; its
//! checks then see the winner's change and refuse.
//!
//! TLS (rustls): with `sslmode=require` the connection is encrypted or
//! refused; with `prefer` (the default) it is encrypted when the server
//! offers it. The server's certificate is always verified, for the host
//! named in the URL, against the public (webpki) roots and the PEM file of
//! `--database-ca-file`.
//!
//! Text search folds case with the database's `lower()`: create the database
//! with a UTF-8 `LC_CTYPE` (`C.UTF-8`, `en_US.UTF-8`) so that it folds more
//! than ASCII. Sort keys compare bytewise (`COLLATE "C"`), as in SQLite, so
//! an order and its cursors mean the same on every node and backend.

mod changes;
mod errors;
mod rows;
pub mod schema;
mod tls;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use changes::{Failure, apply_op, changes_since, enqueue, log_changes};
use errors::{pool_error, unavailable};
use rows::{member_row, onboarding_row, sort_key, stored};
use tls::tls;

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

/// How often a change that lost a serialization race is tried again.
const SERIALIZATION_RETRIES: usize = 8;

/// How to connect besides the URL.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Connections in the pool.
    pub pool_size: usize,
    /// PEM file of CA certificates the server's certificate may chain to,
    /// besides the public roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            ca_file: None,
        }
    }
}

/// The staff member `id` with their assignments, in order, through
/// `client` (a connection or a transaction).
async fn staff_row(
    client: &impl tokio_postgres::GenericClient,
    id: &str,
) -> Result<Option<Staff>, Failure> {
    let Some(row) = client
        .query_opt(
            "SELECT name, email, status FROM staff WHERE id = $1",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let orgs = client
        .query(
            r#"SELECT organization_id FROM staff_organizations WHERE staff_id = $1
               ORDER BY organization_id COLLATE "C""#,
            &[&id],
        )
        .await?;
    Ok(Some(Staff {
        id: id.to_string(),
        name: row.get(0),
        assigned_organizations: orgs.iter().map(|r| r.get(0)).collect(),
        email: row.get(1),
        status: stored(row.get::<_, &str>(2))?,
    }))
}

/// A [`Directory`] in PostgreSQL.
pub struct PostgresDirectory {
    pool: Pool,
    label: String,
    clock: Clock,
}

impl PostgresDirectory {
    /// The account whose `column` (`p.id`, `p.email`) is `value`.
    async fn account_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Account>, DirectoryError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE {column} = $1 {ACCOUNT_ORDER}"
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await.map_err(unavailable)?;
        let rows = client
            .query(&statement, &[&value])
            .await
            .map_err(unavailable)?;
        let rows = rows.iter().map(member_row).collect::<Result<Vec<_>, _>>()?;
        Ok(account_of(rows))
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// `?sslmode=disable|prefer|require`) with a pool of `pool_size`
    /// connections, and migrates the schema.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        clock: Clock,
    ) -> Result<Self, DirectoryError> {
        let options = PostgresOptions {
            pool_size,
            ..PostgresOptions::default()
        };
        Self::connect_with(url, &options, clock).await
    }

    /// [`Self::connect`] with every option.
    pub async fn connect_with(
        url: &str,
        options: &PostgresOptions,
        clock: Clock,
    ) -> Result<Self, DirectoryError> {
        let directory = Self::connect_unmigrated(url, options, clock).await?;
        directory.migrate_to(schema::MIGRATIONS.len()).await?;
        Ok(directory)
    }

    /// [`Self::connect_with`] without migrating (tests build older schemas).
    pub async fn connect_unmigrated(
        url: &str,
        options: &PostgresOptions,
        clock: Clock,
    ) -> Result<Self, DirectoryError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| DirectoryError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        let label = format!(
            "PostgreSQL at {}/{}",
            config
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_default(),
            config.get_dbname().unwrap_or("")
        );
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(config, NoTls, manager_config)
        } else {
            Manager::from_config(config, tls(options.ca_file.as_deref())?, manager_config)
        };
        let timeouts = Timeouts {
            wait: Some(Duration::from_secs(5)),
            create: Some(Duration::from_secs(5)),
            recycle: Some(Duration::from_secs(5)),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .timeouts(timeouts)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| DirectoryError::Internal(format!("PostgreSQL pool: {e}")))?;
        Ok(Self { pool, label, clock })
    }

    /// Applies migrations up to `target` (tests).
    pub async fn migrate_to(&self, target: usize) -> Result<(), DirectoryError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        schema::migrate(&mut client, target).await
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<usize, DirectoryError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        schema::schema_version(&**client).await
    }

    /// Runs one statement (tests, operators): its rows.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DirectoryError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client.query(sql, params).await.map_err(unavailable)
    }

    /// Runs one statement: its row, if any.
    /// What (issuer, subject) is linked to in `links`.
    async fn linked(
        &self,
        links: LinkTable,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError> {
        let (table, column, _) = links.names();
        let row = self
            .query_opt(
                &format!("SELECT {column} FROM {table} WHERE issuer = $1 AND subject = $2"),
                &[&issuer, &subject],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DirectoryError> {
        let client = self.client().await?;
        client.query_opt(sql, params).await.map_err(unavailable)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, DirectoryError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Applies `ops` and `audit` in one `SERIALIZABLE` transaction, which
    /// waits for no lock and runs no statement past `deadline`, and commits
    /// only before it.
    async fn apply_once(
        client: &mut tokio_postgres::Client,
        ops: &[ChangeOp],
        audit: &AuditEntry,
        staff: &[Staff],
        now: u64,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::OverBudget);
        }
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::Serializable)
            .start()
            .await?;
        // Dropping the transaction without commit rolls everything back.
        let ms = left.as_millis().max(1);
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {ms}"
        ))
        .await?;
        // The staff records the decision read, as they were before this
        // change (which may itself assign the actor, creating an
        // organization); the transaction is serializable, so a change to
        // them committed meanwhile fails this one.
        for expected in staff {
            if staff_row(&tx, &expected.id).await?.as_ref() != Some(expected) {
                return Err(Failure::Refused(staff_changed(&expected.id)));
            }
        }
        for op in ops {
            apply_op(&tx, op, now).await?;
        }
        tx.execute(
            "INSERT INTO audit_log (at, actor, action, target, organization_id, before, after, policies)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &(now as i64),
                &audit.actor,
                &audit.action,
                &audit.target,
                &audit.organization_id,
                &audit.before,
                &audit.after,
                &serde_json::to_string(&audit.policies).unwrap_or_else(|_| "[]".into()),
            ],
        )
        .await?;
        // Last, so the change log's one row is held for as short a time as
        // possible.
        log_changes(&tx, &Touched::of(ops)).await?;
        if Instant::now() >= deadline {
            return Err(Failure::OverBudget);
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Directory for PostgresDirectory {
    fn summary(&self) -> String {
        self.label.clone()
    }

    async fn new_id(&self, kind: &str) -> Result<String, DirectoryError> {
        let prefix: String = kind
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT substr(replace(gen_random_uuid()::text, '-', ''), 1, 24)",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(format!("{prefix}-{}", row.get::<_, String>(0)))
    }

    async fn get_account(&self, person_id: &str) -> Result<Option<Account>, DirectoryError> {
        self.account_where("p.id", person_id).await
    }

    async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, DirectoryError> {
        self.account_where("p.email", &email.trim().to_lowercase())
            .await
    }

    async fn get_organization(&self, id: &str) -> Result<Option<Organization>, DirectoryError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT o.id, o.name, o.status,
                     (SELECT count(*) FROM memberships a WHERE a.organization_id = o.id AND a.status = 'active' AND a.is_admin)
                 FROM organizations o WHERE o.id = $1",
            )
            .await
            .map_err(unavailable)?;
        let Some(r) = client
            .query_opt(&statement, &[&id])
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        Ok(Some(Organization {
            id: r.get(0),
            name: r.get(1),
            status: stored(r.get::<_, &str>(2))?,
            active_admins: r.get::<_, i64>(3) as u32,
        }))
    }

    async fn get_staff(&self, id: &str) -> Result<Option<Staff>, DirectoryError> {
        staff_row(&**self.client().await?, id)
            .await
            .map_err(Failure::into_error)
    }

    async fn list_organization_staff(
        &self,
        organization_id: &str,
    ) -> Result<Vec<Staff>, DirectoryError> {
        let client = self.client().await?;
        let rows = client
            .query(
                r#"SELECT s.id FROM staff s JOIN staff_organizations a ON a.staff_id = s.id
                   WHERE a.organization_id = $1 ORDER BY s.name COLLATE "C", s.id COLLATE "C""#,
                &[&organization_id],
            )
            .await
            .map_err(unavailable)?;
        let mut staff = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(s) = staff_row(&**client, row.get(0))
                .await
                .map_err(Failure::into_error)?
            {
                staff.push(s);
            }
        }
        Ok(staff)
    }

    async fn find_staff_by_email(&self, email: &str) -> Result<Option<Staff>, DirectoryError> {
        let email = email.trim().to_lowercase();
        let client = self.client().await?;
        let Some(row) = client
            .query_opt("SELECT id FROM staff WHERE email = $1", &[&email])
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        staff_row(&**client, row.get(0))
            .await
            .map_err(Failure::into_error)
    }

    async fn find_staff_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError> {
        self.linked(LinkTable::Staff, issuer, subject).await
    }

    async fn put_staff(&self, staff: &Staff) -> Result<(), DirectoryError> {
        let mut client = self.client().await?;
        // SERIALIZABLE like every change, so one that read this record
        // before commits only if it still holds.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::Serializable)
            .start()
            .await
            .map_err(unavailable)?;
        tx.execute(
            "INSERT INTO staff (id, name, email, status) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE
             SET name = excluded.name, email = excluded.email, status = excluded.status",
            &[&staff.id, &staff.name, &staff.email, &staff.status.name()],
        )
        .await
        .map_err(|e| match e.code() {
            Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => DirectoryError::Duplicate(
                format!("another staff member has the email of `{}`", staff.id),
            ),
            _ => unavailable(e),
        })?;
        tx.execute(
            "DELETE FROM staff_organizations WHERE staff_id = $1",
            &[&staff.id],
        )
        .await
        .map_err(unavailable)?;
        for org in &staff.assigned_organizations {
            tx.execute(
                "INSERT INTO staff_organizations (staff_id, organization_id) VALUES ($1, $2)",
                &[&staff.id, org],
            )
            .await
            .map_err(unavailable)?;
        }
        log_changes(&tx, &[Touched::Staff(staff.id.clone())])
            .await
            .map_err(Failure::into_error)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn is_empty(&self) -> Result<bool, DirectoryError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM people)",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.get::<_, i64>(0) == 0)
    }

    async fn find_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, DirectoryError> {
        self.linked(LinkTable::Customer, issuer, subject).await
    }

    async fn list_links(&self, person_id: &str) -> Result<Vec<(String, String)>, DirectoryError> {
        let rows = self
            .query(
                r#"SELECT issuer, subject FROM identity_links WHERE person_id = $1
                   ORDER BY issuer COLLATE "C", subject COLLATE "C""#,
                &[&person_id],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn get_onboarding(&self, id: &str) -> Result<Option<OnboardingRequest>, DirectoryError> {
        let row = self
            .query_opt(
                &format!("SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(onboarding_row).transpose()
    }

    async fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirectoryError> {
        let status = status.map(OnboardingStatus::name);
        let rows = self
            .query(
                &format!(
                    r#"SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests
                       WHERE $1::text IS NULL OR status = $1
                       ORDER BY submitted_at DESC, id COLLATE "C" DESC LIMIT 1000"#
                ),
                &[&status],
            )
            .await?;
        rows.iter().map(onboarding_row).collect()
    }

    async fn find_pending_onboarding(
        &self,
        email: &str,
    ) -> Result<Option<OnboardingRequest>, DirectoryError> {
        let email = email.trim().to_lowercase();
        let row = self
            .query_opt(
                &format!(
                    "SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE requester_email = $1 AND status = 'pending'"
                ),
                &[&email],
            )
            .await?;
        row.as_ref().map(onboarding_row).transpose()
    }

    async fn list_members(&self, query: MemberQuery) -> Result<MemberPage, DirectoryError> {
        let Some(plan) = listing::plan(&query)? else {
            return Ok(listing::empty());
        };
        let (cmp, order) = (plan.after, plan.order);
        let key = sort_key(query.sort);
        let status = query.status.map(|s| s.name());
        let pattern = query.search.as_deref().map(like_pattern);
        let (after_key, after_id) = match &plan.cursor {
            Some(c) => (Some(c.k.as_str()), Some(c.id.as_str())),
            None => (None, None),
        };
        let fetch = listing::fetch(&query) as i64;
        let sql = format!(
            r#"SELECT {ACCOUNT_COLUMNS}, {key} FROM {MEMBER_FROM}
               WHERE m.organization_id = ANY($1)
                 AND ($2::text IS NULL OR m.status = $2)
                 AND ($3::text IS NULL OR lower(p.name) LIKE $3 OR p.email LIKE $3 OR lower(o.name) LIKE $3)
                 AND ($4::text IS NULL OR ({key}, {MEMBER_ID} COLLATE "C") {cmp} ($4 COLLATE "C", $5::text COLLATE "C"))
               ORDER BY {key} {order}, {MEMBER_ID} COLLATE "C" {order} LIMIT $6"#
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await.map_err(unavailable)?;
        let rows = client
            .query(
                &statement,
                &[
                    &query.organizations,
                    &status,
                    &pattern,
                    &after_key,
                    &after_id,
                    &fetch,
                ],
            )
            .await
            .map_err(unavailable)?;
        let rows = rows
            .iter()
            .map(|row| {
                let (person, member) = member_row(row)?;
                let member = member.expect("a listed row is a membership");
                Ok((Account::listed(person, member), row.get::<_, String>(14)))
            })
            .collect::<Result<Vec<_>, DirectoryError>>()?;
        Ok(listing::page(rows, &query))
    }

    async fn read_audit(&self, query: AuditQuery) -> Result<AuditPage, DirectoryError> {
        let (before, fetch) = query.window()?;
        let rows = self
            .query(
                "SELECT id, at, actor, action, target, organization_id, before, after, policies FROM audit_log
                 WHERE id < $1 AND ($2::text IS NULL OR organization_id = $2) ORDER BY id DESC LIMIT $3",
                &[&before, &query.organization_id, &fetch],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get::<_, i64>(0) as u64,
                at: r.get::<_, i64>(1) as u64,
                entry: AuditEntry {
                    actor: r.get(2),
                    action: r.get(3),
                    target: r.get(4),
                    organization_id: r.get(5),
                    before: r.get(6),
                    after: r.get(7),
                    policies: serde_json::from_str(r.get::<_, &str>(8)).unwrap_or_default(),
                },
            })
            .collect();
        Ok(query.page(entries))
    }

    async fn apply_within(
        &self,
        ops: Vec<ChangeOp>,
        audit: AuditEntry,
        staff: &[Staff],
        budget: Duration,
    ) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs();
        let deadline = Instant::now() + budget;
        let mut client = tokio::time::timeout_at(deadline.into(), self.client())
            .await
            .map_err(|_| over_budget(budget))??;
        for attempt in 0..SERIALIZATION_RETRIES {
            match Self::apply_once(&mut client, &ops, &audit, staff, now, deadline).await {
                Ok(()) => return Ok(()),
                Err(Failure::Refused(err)) => return Err(err),
                Err(Failure::OverBudget) => return Err(over_budget(budget)),
                Err(Failure::Race) => {
                    // Back off a little, differently each time, so that the
                    // racers do not meet again.
                    let jitter = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap_or_default()
                            .subsec_nanos()
                            % 500,
                    );
                    let pause = 200 * (attempt as u64 + 1) + jitter;
                    tokio::time::sleep(Duration::from_micros(pause)).await;
                }
            }
        }
        Err(DirectoryError::Conflict(
            "the change kept meeting concurrent changes: try again".into(),
        ))
    }

    async fn changes_since(&self, after: u64, limit: u32) -> Result<ChangeFeed, DirectoryError> {
        let mut client = self.client().await?;
        changes_since(&mut client, after, limit).await
    }
}

#[async_trait]
impl Outbox for PostgresDirectory {
    async fn enqueue(&self, notification: Notification) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs();
        enqueue(&**self.client().await?, &notification, now)
            .await
            .map_err(unavailable)
    }

    async fn due_messages(&self, limit: u32) -> Result<Vec<OutboxMessage>, DirectoryError> {
        let now = self.clock.now_secs() as i64;
        let rows = self
            .query(
                "SELECT id, kind, recipient, params, attempts FROM outbox
                 WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
                &[&now, &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: r.get::<_, i64>(0) as u64,
                    notification: Notification {
                        kind: stored(r.get::<_, &str>(1))?,
                        recipient: r.get(2),
                        params: serde_json::from_str(r.get::<_, &str>(3)).unwrap_or_default(),
                    },
                    attempts: r.get::<_, i64>(4) as u32,
                })
            })
            .collect()
    }

    async fn mark_delivered(&self, id: u64) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs() as i64;
        self.client()
            .await?
            .execute(
                "UPDATE outbox SET delivered_at = $2, last_error = NULL WHERE id = $1",
                &[&(id as i64), &now],
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn mark_failed(&self, id: u64, error: &str, retry_at: u64) -> Result<(), DirectoryError> {
        self.client()
            .await?
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1",
                &[&(id as i64), &error, &(retry_at as i64)],
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
