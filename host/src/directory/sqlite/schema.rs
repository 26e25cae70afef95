//! The SQLite schema: versioned migrations (`PRAGMA user_version`), in
//! step with PostgreSQL's.

use rusqlite::Connection;

use super::errors::unavailable;
use crate::directory::error::DirectoryError;

pub use crate::directory::schema::MIGRATIONS;
use crate::directory::schema::{Dialect, render};

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
        tx.execute_batch(&render(sql, Dialect::Sqlite))
            .map_err(|e| {
                DirectoryError::Internal(format!("migration {} failed: {e}", index + 1))
            })?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}
