use crate::bindings::directory::{self, AuditEntry, ChangeOp};
use crate::bindings::types::{Account, Organization, Staff};
use crate::cache;
use crate::directory::DirectoryError;
use crate::state::HostState;

impl directory::Host for HostState {
    async fn get_account(&mut self, person_id: String) -> Result<Option<Account>, DirectoryError> {
        self.services.directory.get_account(&person_id).await
    }

    async fn get_organization(&mut self, organization_id: String) -> Result<Option<Organization>, DirectoryError> {
        self.services.directory.get_organization(&organization_id).await
    }

    async fn get_staff(&mut self, staff_id: String) -> Result<Option<Staff>, DirectoryError> {
        self.services.directory.get_staff(&staff_id).await
    }

    async fn find_link(&mut self, issuer: String, subject: String) -> Result<Option<String>, DirectoryError> {
        self.services.directory.find_link(&issuer, &subject).await
    }

    async fn apply(&mut self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError> {
        let touched = ops.clone();
        self.services.directory.apply(ops, audit).await?;
        // The change is committed; a cache that may still hold the old state
        // must not be trusted, so failing here traps the call.
        cache::invalidate_after(self.services.cache.as_ref(), &touched)
            .await
            .map_err(|err| DirectoryError::Internal(format!("change committed but not invalidated: {err}")))
    }

    fn convert_error(&mut self, err: DirectoryError) -> wasmtime::Result<directory::Error> {
        Ok(match err {
            DirectoryError::Conflict(m) => directory::Error::Conflict(m),
            DirectoryError::NotFound(m) => directory::Error::NotFound(m),
            DirectoryError::Duplicate(m) => directory::Error::Duplicate(m),
            DirectoryError::Unavailable(m) => directory::Error::Unavailable(m),
            err @ DirectoryError::Internal(_) => return Err(wasmtime::Error::msg(err.to_string())),
        })
    }
}
