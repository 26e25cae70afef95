//! SQLite's failures as the directory's errors.

use crate::directory::error::DirectoryError;

pub(super) fn unavailable(err: rusqlite::Error) -> DirectoryError {
    DirectoryError::Unavailable(err.to_string())
}
