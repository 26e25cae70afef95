//! PostgreSQL's failures as the directory's errors.

use crate::directory::error::DirectoryError;

pub(super) fn unavailable(err: tokio_postgres::Error) -> DirectoryError {
    match err.as_db_error() {
        Some(db) => DirectoryError::Unavailable(format!("PostgreSQL: {}", db.message())),
        None => DirectoryError::Unavailable(format!("PostgreSQL: {}", causes(&err))),
    }
}

pub(super) fn pool_error(err: deadpool_postgres::PoolError) -> DirectoryError {
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
