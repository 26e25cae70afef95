//! Why a directory call failed: the `directory` import's error, apart
//! from the backends so that the bindings depend on nothing else here.

/// Why a directory call failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The stored version differs from the one the change expected.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The change names a record that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change would break a uniqueness rule.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The input is malformed (a cursor this directory did not issue).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend cannot be reached.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data in the backend: traps the plugin call.
    #[error("directory failed: {0}")]
    Internal(String),
}

impl DirectoryError {
    /// `Conflict` unless the stored membership version of `person` is the
    /// one the change expected (`None`: no membership).
    pub fn check_membership_version(
        person: &str,
        current: Option<u64>,
        expected: Option<u64>,
    ) -> Result<(), Self> {
        if current == expected {
            return Ok(());
        }
        let shown = |v: Option<u64>| v.map_or("none".into(), |v| v.to_string());
        Err(Self::Conflict(format!(
            "the membership of `{person}` changed since it was read (version {} now, {} expected)",
            shown(current),
            shown(expected),
        )))
    }
}
