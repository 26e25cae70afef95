//! The PostgreSQL schema: versioned migrations, in step with SQLite's (the
//! same tables, columns and indexes, by name; a test compares them).

use tokio_postgres::{Client, GenericClient};

use super::{DirectoryError, unavailable};

/// Schema migrations, in order; `partnergate_schema.version` counts those
/// applied. Never edit one that has shipped: add the next.
pub const MIGRATIONS: &[&str] = &[
    // 1: the directory.
    r#"
    CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'blocked'))
    );
    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL
    );
    CREATE TABLE memberships (
        person_id TEXT PRIMARY KEY REFERENCES people(id),
        organization_id TEXT NOT NULL REFERENCES organizations(id),
        status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'revoked', 'removed')),
        previous_status TEXT,
        is_admin BOOLEAN NOT NULL,
        roles TEXT NOT NULL,
        spending_limit BIGINT,
        invited_at BIGINT,
        version BIGINT NOT NULL,
        added_seq BIGINT NOT NULL
    );
    CREATE INDEX memberships_by_organization ON memberships(organization_id, status);
    CREATE TABLE staff (id TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE staff_organizations (
        staff_id TEXT NOT NULL REFERENCES staff(id),
        organization_id TEXT NOT NULL,
        PRIMARY KEY (staff_id, organization_id)
    );
    CREATE TABLE identity_links (
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        person_id TEXT NOT NULL REFERENCES people(id),
        PRIMARY KEY (issuer, subject)
    );
    CREATE TABLE onboarding_requests (
        id TEXT PRIMARY KEY,
        organization_name TEXT NOT NULL,
        requester_name TEXT NOT NULL,
        requester_email TEXT NOT NULL,
        status TEXT NOT NULL,
        organization_id TEXT,
        submitted_at BIGINT NOT NULL,
        version BIGINT NOT NULL
    );
    CREATE TABLE audit_log (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        organization_id TEXT,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        policies TEXT NOT NULL
    );
    CREATE INDEX audit_by_organization ON audit_log(organization_id, id);
    CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        params TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_error TEXT
    );
    "#,
    // 2: one pending onboarding request per email, enforced by the store;
    // the outbox's due messages found by index.
    r#"
    CREATE UNIQUE INDEX onboarding_one_pending ON onboarding_requests(requester_email) WHERE status = 'pending';
    CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE delivered_at IS NULL;
    CREATE INDEX identity_links_by_person ON identity_links(person_id);
    "#,
    // 3: adding a member takes the next `added_seq` without scanning.
    r#"
    CREATE INDEX memberships_by_added ON memberships(added_seq);
    "#,
];

/// Any number: the advisory lock every node takes while it migrates, so
/// that nodes starting together migrate one after the other.
const MIGRATION_LOCK: i64 = 0x7061_7274_6e65_7267; // "partnerg"

/// The schema version of the database (0 when empty).
pub async fn schema_version(client: &impl GenericClient) -> Result<usize, DirectoryError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS partnergate_schema (version BIGINT NOT NULL);
             INSERT INTO partnergate_schema (version)
                 SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM partnergate_schema)",
        )
        .await
        .map_err(unavailable)?;
    let row = client
        .query_one("SELECT version FROM partnergate_schema", &[])
        .await
        .map_err(unavailable)?;
    Ok(row.get::<_, i64>(0) as usize)
}

/// Applies migrations up to `target` (tests use a lower target to build a
/// database as an earlier release left it), in one transaction under an
/// advisory lock.
pub async fn migrate(client: &mut Client, target: usize) -> Result<(), DirectoryError> {
    let tx = client.transaction().await.map_err(unavailable)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(unavailable)?;
    let current = schema_version(&tx).await?;
    if current > MIGRATIONS.len() {
        return Err(DirectoryError::Unavailable(format!(
            "the database schema is version {current}, newer than this release knows ({}): upgrade PartnerGate",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        tx.batch_execute(sql).await.map_err(|e| {
            DirectoryError::Internal(format!("migration {} failed: {e}", index + 1))
        })?;
        tx.execute(
            "UPDATE partnergate_schema SET version = $1",
            &[&((index + 1) as i64)],
        )
        .await
        .map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)
}
