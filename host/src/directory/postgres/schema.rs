//! The PostgreSQL schema: versioned migrations, in step with SQLite's (the
//! same tables, columns and indexes, by name; a test compares them).

use tokio_postgres::{Client, GenericClient};

use super::errors::unavailable;
use crate::directory::error::DirectoryError;

pub use crate::directory::schema::MIGRATIONS;
use crate::directory::schema::{Dialect, render};

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
        tx.batch_execute(&render(sql, Dialect::Postgres))
            .await
            .map_err(|e| {
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
