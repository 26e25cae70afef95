//! Picking the backend for a `--database` value.

use super::error::DirectoryError;
use super::{Directory, postgres, sqlite};

/// Opens the directory a `--database` value names: a `postgres://` or
/// `postgresql://` URL (connected with `options`), `:memory:`, or the path
/// of a SQLite file. Either is migrated on open.
pub async fn open(
    database: &str,
    options: &postgres::PostgresOptions,
    clock: crate::clock::Clock,
) -> Result<std::sync::Arc<dyn Directory>, DirectoryError> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let directory = postgres::PostgresDirectory::connect_with(database, options, clock).await?;
        Ok(std::sync::Arc::new(directory))
    } else if database == ":memory:" {
        Ok(std::sync::Arc::new(sqlite::SqliteDirectory::in_memory(
            clock,
        )?))
    } else {
        let path = std::path::Path::new(database);
        Ok(std::sync::Arc::new(sqlite::SqliteDirectory::open(
            path, clock,
        )?))
    }
}
