//! The SQLite schema: versioned migrations (`PRAGMA user_version`), in
//! step with PostgreSQL's.

use rusqlite::Connection;

use super::{DirectoryError, unavailable};

/// Schema migrations, in order; `PRAGMA user_version` counts those applied.
/// Never edit one that has shipped: add the next.
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
        is_admin INTEGER NOT NULL,
        roles TEXT NOT NULL,
        spending_limit INTEGER,
        invited_at INTEGER,
        version INTEGER NOT NULL,
        added_seq INTEGER NOT NULL
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
        submitted_at INTEGER NOT NULL,
        version INTEGER NOT NULL
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
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
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        params TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        delivered_at INTEGER,
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

/// The schema version of the database (`PRAGMA user_version`).
pub fn schema_version(conn: &Connection) -> Result<usize, DirectoryError> {
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(unavailable)?;
    Ok(v as usize)
}

/// Applies migrations up to `target` (tests use a lower target to build a
/// database as an earlier release left it).
pub fn migrate(conn: &mut Connection, target: usize) -> Result<(), DirectoryError> {
    let current = schema_version(conn)?;
    if current > MIGRATIONS.len() {
        return Err(DirectoryError::Unavailable(format!(
            "the database schema is version {current}, newer than this release knows ({}): upgrade PartnerGate",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(sql).map_err(|e| {
            DirectoryError::Internal(format!("migration {} failed: {e}", index + 1))
        })?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}
