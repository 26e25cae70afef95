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

pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, NoTls, Row, Transaction};

use super::listing::{self, like_pattern};
use super::{Directory, DirectoryError, OutboxMessage};
use crate::bindings::directory::{ChangeOp, MemberQuery};
use crate::bindings::notifications::Notification;
use crate::bindings::types::{
    Account, AccountStatus, AuditEntry, AuditPage, AuditRecord, MemberPage, MemberSort, Membership,
    OnboardingRequest, OnboardingStatus, Organization, Person, Staff,
};
use crate::clock::Clock;

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

/// The TLS connector: rustls with the public roots and those of `ca_file`.
fn tls(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DirectoryError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let bad = |e: &dyn std::fmt::Display| {
            DirectoryError::Unavailable(format!("database CA file `{}`: {e}", path.display()))
        };
        let certificates = CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))?;
        let mut added = 0;
        for certificate in certificates {
            roots
                .add(certificate.map_err(|e| bad(&e))?)
                .map_err(|e| bad(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad(&"no PEM certificate in it"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Internal(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A [`Directory`] in PostgreSQL.
pub struct PostgresDirectory {
    pool: Pool,
    label: String,
    clock: Clock,
}

pub(crate) fn unavailable(err: tokio_postgres::Error) -> DirectoryError {
    match err.as_db_error() {
        Some(db) => DirectoryError::Unavailable(format!("PostgreSQL: {}", db.message())),
        None => DirectoryError::Unavailable(format!("PostgreSQL: {}", causes(&err))),
    }
}

fn pool_error(err: deadpool_postgres::PoolError) -> DirectoryError {
    DirectoryError::Unavailable(format!("PostgreSQL: {}", causes(&err)))
}

/// An error with its causes, `: `-separated (a TLS failure says why).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
        source = source.and_then(std::error::Error::source);
    }
    text
}

/// Reads a stored name. Fails closed on a name this release does not know:
/// the read fails, and the decision that needed it denies.
fn stored<T: std::str::FromStr<Err = crate::names::UnknownName>>(
    s: &str,
) -> Result<T, DirectoryError> {
    s.parse()
        .map_err(|e| DirectoryError::Unavailable(format!("a stored record is unreadable: {e}")))
}

/// Columns of `account_row`, joined from people, memberships, organizations.
const ACCOUNT_COLUMNS: &str = "p.id, p.email, p.name,
    m.organization_id, m.status, m.previous_status, m.is_admin, m.roles, m.spending_limit, m.invited_at, m.version,
    o.name, o.status,
    (SELECT count(*) FROM memberships a WHERE a.organization_id = o.id AND a.status = 'active' AND a.is_admin)";

const ACCOUNT_FROM: &str = "people p LEFT JOIN memberships m ON m.person_id = p.id LEFT JOIN organizations o ON o.id = m.organization_id";

const MEMBER_FROM: &str = "memberships m JOIN people p ON p.id = m.person_id JOIN organizations o ON o.id = m.organization_id";

const ONBOARDING_COLUMNS: &str = "id, organization_name, requester_name, requester_email, status, organization_id, submitted_at, version";

fn account_row(row: &Row) -> Result<Account, DirectoryError> {
    let person = Person {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
    };
    let org_id: Option<String> = row.get(3);
    let (membership, organization) = match org_id {
        None => (None, None),
        Some(org_id) => {
            let roles: String = row.get(7);
            let previous: Option<String> = row.get(5);
            let membership = Membership {
                organization_id: org_id.clone(),
                person_id: person.id.clone(),
                status: stored(row.get::<_, &str>(4))?,
                previous_status: previous.as_deref().map(stored).transpose()?,
                is_admin: row.get(6),
                roles: serde_json::from_str(&roles).unwrap_or_default(),
                spending_limit: row.get::<_, Option<i64>>(8).map(|v| v as u64),
                invited_at: row.get::<_, Option<i64>>(9).map(|v| v as u64),
                version: row.get::<_, i64>(10) as u64,
            };
            let organization = Organization {
                id: org_id,
                name: row.get(11),
                status: stored(row.get::<_, &str>(12))?,
                active_admins: row.get::<_, i64>(13) as u32,
            };
            (Some(membership), Some(organization))
        }
    };
    Ok(Account {
        person,
        membership,
        organization,
    })
}

fn onboarding_row(row: &Row) -> Result<OnboardingRequest, DirectoryError> {
    Ok(OnboardingRequest {
        id: row.get(0),
        organization_name: row.get(1),
        requester_name: row.get(2),
        requester_email: row.get(3),
        status: stored(row.get::<_, &str>(4))?,
        organization_id: row.get(5),
        submitted_at: row.get::<_, i64>(6) as u64,
        version: row.get::<_, i64>(7) as u64,
    })
}

/// The sort key of a listing, as text that orders as the sort does.
fn sort_key(sort: MemberSort) -> &'static str {
    match sort {
        MemberSort::Name => r#"lower(p.name) COLLATE "C""#,
        MemberSort::Email => r#"p.email COLLATE "C""#,
        MemberSort::Company => r#"(lower(o.name) || chr(31) || lower(p.name)) COLLATE "C""#,
        MemberSort::Added => r#"lpad(m.added_seq::text, 20, '0') COLLATE "C""#,
    }
}

/// Whether `err` is a lost serialization race (or a deadlock), which a
/// retry resolves.
fn is_race(err: &tokio_postgres::Error) -> bool {
    matches!(
        err.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

/// Why a change failed: a race to retry, or the directory's answer.
enum Failure {
    Race,
    Refused(DirectoryError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        if is_race(&err) {
            Failure::Race
        } else {
            Failure::Refused(unavailable(err))
        }
    }
}

impl From<DirectoryError> for Failure {
    fn from(err: DirectoryError) -> Self {
        Failure::Refused(err)
    }
}

/// A unique violation as the directory's error for it; anything else as is.
fn unique(err: tokio_postgres::Error, what: impl FnOnce(&str) -> DirectoryError) -> Failure {
    match err.as_db_error() {
        Some(db) if db.code() == &SqlState::UNIQUE_VIOLATION => {
            Failure::Refused(what(db.constraint().unwrap_or_default()))
        }
        _ => err.into(),
    }
}

impl PostgresDirectory {
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

    async fn client(&self) -> Result<deadpool_postgres::Object, DirectoryError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Applies `ops` and `audit` in one `SERIALIZABLE` transaction.
    async fn apply_once(
        client: &mut tokio_postgres::Client,
        ops: &[ChangeOp],
        audit: &AuditEntry,
        now: u64,
    ) -> Result<(), Failure> {
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::Serializable)
            .start()
            .await?;
        // Dropping the transaction without commit rolls everything back.
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
        tx.commit().await?;
        Ok(())
    }
}

async fn apply_op(tx: &Transaction<'_>, op: &ChangeOp, now: u64) -> Result<(), Failure> {
    match op {
        ChangeOp::PutPerson(p) => {
            if let Some(other) = tx
                .query_opt(
                    "SELECT id FROM people WHERE email = $1 AND id <> $2",
                    &[&p.email, &p.id],
                )
                .await?
            {
                return Err(DirectoryError::Duplicate(format!(
                    "email `{}` belongs to person `{}`",
                    p.email,
                    other.get::<_, String>(0)
                ))
                .into());
            }
            tx.execute(
                "INSERT INTO people (id, email, name) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name",
                &[&p.id, &p.email, &p.name],
            )
            .await
            .map_err(|e| {
                unique(e, |_| {
                    DirectoryError::Duplicate(format!(
                        "email `{}` belongs to another person",
                        p.email
                    ))
                })
            })?;
        }
        ChangeOp::PutOrganization(o) => {
            tx.execute(
                "INSERT INTO organizations (id, name, status) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status",
                &[&o.id, &o.name, &o.status.name()],
            )
            .await?;
        }
        ChangeOp::PutMembership((m, expected)) => {
            if tx
                .query_opt("SELECT 1 FROM people WHERE id = $1", &[&m.person_id])
                .await?
                .is_none()
            {
                return Err(DirectoryError::NotFound(format!("person `{}`", m.person_id)).into());
            }
            if tx
                .query_opt(
                    "SELECT 1 FROM organizations WHERE id = $1",
                    &[&m.organization_id],
                )
                .await?
                .is_none()
            {
                return Err(DirectoryError::NotFound(format!(
                    "organization `{}`",
                    m.organization_id
                ))
                .into());
            }
            let current = tx
                .query_opt(
                    "SELECT version FROM memberships WHERE person_id = $1",
                    &[&m.person_id],
                )
                .await?
                .map(|r| r.get::<_, i64>(0) as u64);
            if current != *expected {
                return Err(DirectoryError::Conflict(format!(
                    "the membership of `{}` changed since it was read (version {} now, {} expected)",
                    m.person_id,
                    current.map_or("none".into(), |v| v.to_string()),
                    expected.map_or("none".into(), |v| v.to_string()),
                ))
                .into());
            }
            let version = current.map_or(1, |v| v + 1) as i64;
            let roles = serde_json::to_string(&m.roles).unwrap_or_else(|_| "[]".into());
            let spending_limit = m.spending_limit.map(|v| v.min(i64::MAX as u64) as i64);
            let invited_at = m.invited_at.map(|v| v as i64);
            let values: [&(dyn ToSql + Sync); 9] = [
                &m.person_id,
                &m.organization_id,
                &m.status.name(),
                &m.previous_status.map(AccountStatus::name),
                &m.is_admin,
                &roles,
                &spending_limit,
                &invited_at,
                &version,
            ];
            let sql = if current.is_none() {
                "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles,
                     spending_limit, invited_at, version, added_seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT coalesce(max(added_seq), 0) + 1 FROM memberships))"
            } else {
                // A person added to an organization again counts as newly added.
                "UPDATE memberships SET organization_id = $2, status = $3, previous_status = $4, is_admin = $5,
                     roles = $6, spending_limit = $7, invited_at = $8, version = $9,
                     added_seq = CASE WHEN status = 'removed' AND $3 <> 'removed'
                         THEN (SELECT coalesce(max(added_seq), 0) + 1 FROM memberships) ELSE added_seq END
                 WHERE person_id = $1"
            };
            tx.execute(sql, &values).await.map_err(|e| {
                unique(e, |_| {
                    DirectoryError::Conflict(format!(
                        "the membership of `{}` changed since it was read",
                        m.person_id
                    ))
                })
            })?;
        }
        ChangeOp::LinkIdentity((issuer, subject, person)) => {
            if tx
                .query_opt(
                    "SELECT person_id FROM identity_links WHERE issuer = $1 AND subject = $2",
                    &[issuer, subject],
                )
                .await?
                .is_some()
            {
                return Err(DirectoryError::Duplicate(format!(
                    "identity `{subject}` at `{issuer}` is linked already"
                ))
                .into());
            }
            tx.execute(
                "INSERT INTO identity_links (issuer, subject, person_id) VALUES ($1, $2, $3)",
                &[issuer, subject, person],
            )
            .await
            .map_err(|e| match e.code() {
                Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                    Failure::Refused(DirectoryError::NotFound(format!("person `{person}`")))
                }
                _ => unique(e, |_| {
                    DirectoryError::Duplicate(format!(
                        "identity `{subject}` at `{issuer}` is linked already"
                    ))
                }),
            })?;
        }
        ChangeOp::PutOnboarding((r, expected)) => {
            let current = tx
                .query_opt(
                    "SELECT version FROM onboarding_requests WHERE id = $1",
                    &[&r.id],
                )
                .await?
                .map(|row| row.get::<_, i64>(0));
            if current.map(|v| v as u64) != *expected {
                return Err(DirectoryError::Conflict(format!(
                    "onboarding request `{}` changed since it was read",
                    r.id
                ))
                .into());
            }
            let version = current.map_or(1, |v| v + 1);
            tx.execute(
                "INSERT INTO onboarding_requests (id, organization_name, requester_name, requester_email, status,
                     organization_id, submitted_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, organization_id = excluded.organization_id,
                     version = excluded.version",
                &[
                    &r.id,
                    &r.organization_name,
                    &r.requester_name,
                    &r.requester_email,
                    &r.status.name(),
                    &r.organization_id,
                    &(r.submitted_at as i64),
                    &version,
                ],
            )
            .await
            .map_err(|e| {
                unique(e, |_| {
                    DirectoryError::Duplicate(format!(
                        "a request for `{}` is already pending",
                        r.requester_email
                    ))
                })
            })?;
        }
        ChangeOp::QueueNotification(n) => enqueue(tx, n, now).await?,
        ChangeOp::ExpectMembership((person, version)) => {
            let stored = tx
                .query_opt(
                    "SELECT version FROM memberships WHERE person_id = $1",
                    &[person],
                )
                .await?
                .map(|r| r.get::<_, i64>(0));
            if stored != Some(*version as i64) {
                return Err(DirectoryError::Conflict(format!(
                    "the membership of `{person}` changed since the decision: read it again"
                ))
                .into());
            }
        }
        ChangeOp::ExpectActiveAdmins((organization, count)) => {
            let now: i64 = tx
                .query_one(
                    "SELECT count(*) FROM memberships
                     WHERE organization_id = $1 AND is_admin AND status = 'active'",
                    &[organization],
                )
                .await?
                .get(0);
            if now != i64::from(*count) {
                return Err(DirectoryError::Conflict(format!(
                    "the administrators of `{organization}` changed since the decision: read it again"
                ))
                .into());
            }
        }
    }
    Ok(())
}

async fn enqueue(
    client: &impl GenericClient,
    n: &Notification,
    now: u64,
) -> Result<(), tokio_postgres::Error> {
    let params_json = serde_json::to_string(&n.params).unwrap_or_else(|_| "[]".into());
    client
        .execute(
            "INSERT INTO outbox (kind, recipient, params, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)",
            &[&n.kind.name(), &n.recipient, &params_json, &(now as i64)],
        )
        .await?;
    Ok(())
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
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE p.id = $1");
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await.map_err(unavailable)?;
        let row = client
            .query_opt(&statement, &[&person_id])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(account_row).transpose()
    }

    async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, DirectoryError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE p.email = $1");
        let email = email.trim().to_lowercase();
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await.map_err(unavailable)?;
        let row = client
            .query_opt(&statement, &[&email])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(account_row).transpose()
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
        let client = self.client().await?;
        let Some(row) = client
            .query_opt("SELECT name FROM staff WHERE id = $1", &[&id])
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let orgs = client
            .query(
                r#"SELECT organization_id FROM staff_organizations WHERE staff_id = $1
                   ORDER BY organization_id COLLATE "C""#,
                &[&id],
            )
            .await
            .map_err(unavailable)?;
        Ok(Some(Staff {
            id: id.to_string(),
            name: row.get(0),
            assigned_organizations: orgs.iter().map(|r| r.get(0)).collect(),
        }))
    }

    async fn put_staff(&self, staff: &Staff) -> Result<(), DirectoryError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        tx.execute(
            "INSERT INTO staff (id, name) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            &[&staff.id, &staff.name],
        )
        .await
        .map_err(unavailable)?;
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
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT person_id FROM identity_links WHERE issuer = $1 AND subject = $2",
                &[&issuer, &subject],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn list_links(&self, person_id: &str) -> Result<Vec<(String, String)>, DirectoryError> {
        let rows = self
            .client()
            .await?
            .query(
                r#"SELECT issuer, subject FROM identity_links WHERE person_id = $1
                   ORDER BY issuer COLLATE "C", subject COLLATE "C""#,
                &[&person_id],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn get_onboarding(&self, id: &str) -> Result<Option<OnboardingRequest>, DirectoryError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(unavailable)?;
        row.as_ref().map(onboarding_row).transpose()
    }

    async fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirectoryError> {
        let status = status.map(OnboardingStatus::name);
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    r#"SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests
                       WHERE $1::text IS NULL OR status = $1
                       ORDER BY submitted_at DESC, id COLLATE "C" DESC LIMIT 1000"#
                ),
                &[&status],
            )
            .await
            .map_err(unavailable)?;
        rows.iter().map(onboarding_row).collect()
    }

    async fn find_pending_onboarding(
        &self,
        email: &str,
    ) -> Result<Option<OnboardingRequest>, DirectoryError> {
        let email = email.trim().to_lowercase();
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {ONBOARDING_COLUMNS} FROM onboarding_requests WHERE requester_email = $1 AND status = 'pending'"
                ),
                &[&email],
            )
            .await
            .map_err(unavailable)?;
        row.as_ref().map(onboarding_row).transpose()
    }

    async fn list_members(&self, query: MemberQuery) -> Result<MemberPage, DirectoryError> {
        let Some(listing::Plan {
            cursor,
            after: cmp,
            order,
        }) = listing::plan(&query)?
        else {
            return Ok(listing::empty());
        };
        let key = sort_key(query.sort);
        let status = query.status.map(|s| s.name());
        let pattern = query.search.as_deref().map(like_pattern);
        let (after_key, after_id) = match &cursor {
            Some(c) => (Some(c.k.as_str()), Some(c.id.as_str())),
            None => (None, None),
        };
        let fetch = listing::fetch(&query) as i64;
        let sql = format!(
            r#"SELECT {ACCOUNT_COLUMNS}, {key} FROM {MEMBER_FROM}
               WHERE m.organization_id = ANY($1)
                 AND ($2::text IS NULL OR m.status = $2)
                 AND ($3::text IS NULL OR lower(p.name) LIKE $3 OR p.email LIKE $3 OR lower(o.name) LIKE $3)
                 AND ($4::text IS NULL OR ({key}, p.id COLLATE "C") {cmp} ($4 COLLATE "C", $5::text COLLATE "C"))
               ORDER BY {key} {order}, p.id COLLATE "C" {order} LIMIT $6"#
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
            .map(|row| Ok((account_row(row)?, row.get::<_, String>(14))))
            .collect::<Result<Vec<_>, DirectoryError>>()?;
        Ok(listing::page(rows, &query))
    }

    async fn read_audit(
        &self,
        organization_id: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<AuditPage, DirectoryError> {
        let limit = limit.clamp(1, listing::PAGE_MAX) as i64;
        let before = listing::audit_before(cursor)?;
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, at, actor, action, target, organization_id, before, after, policies FROM audit_log
                 WHERE id < $1 AND ($2::text IS NULL OR organization_id = $2) ORDER BY id DESC LIMIT $3",
                &[&before, &organization_id, &(limit + 1)],
            )
            .await
            .map_err(unavailable)?;
        let mut entries: Vec<AuditRecord> = rows
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
        let next_cursor = listing::audit_next(&mut entries, limit as usize, |e| e.id);
        Ok(AuditPage {
            entries,
            next_cursor,
        })
    }

    async fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs();
        let mut client = self.client().await?;
        for attempt in 0..SERIALIZATION_RETRIES {
            match Self::apply_once(&mut client, &ops, &audit, now).await {
                Ok(()) => return Ok(()),
                Err(Failure::Refused(err)) => return Err(err),
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

    async fn enqueue(&self, notification: Notification) -> Result<(), DirectoryError> {
        let now = self.clock.now_secs();
        enqueue(&**self.client().await?, &notification, now)
            .await
            .map_err(unavailable)
    }

    async fn due_messages(&self, limit: u32) -> Result<Vec<OutboxMessage>, DirectoryError> {
        let now = self.clock.now_secs() as i64;
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, kind, recipient, params, attempts FROM outbox
                 WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
                &[&now, &i64::from(limit)],
            )
            .await
            .map_err(unavailable)?;
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
