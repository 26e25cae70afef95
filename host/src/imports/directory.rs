//! The `directory` import: reads pass through to the directory; a change is
//! applied, then what it touched is dropped from the status cache.

use crate::bindings::directory::{self, ChangeOp, MemberQuery};
use crate::bindings::types::{
    Account, AuditEntry, AuditPage, MemberPage, OnboardingRequest, OnboardingStatus, Organization,
    Staff,
};
use crate::cache::{self, CacheError};
use crate::directory::{AuditQuery, DirectoryError};
use crate::state::HostState;

/// Imports that are the directory's own reads: each passes its arguments to
/// the method of the same name.
macro_rules! reads {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => ($($pass:expr),*);)+) => {$(
        async fn $name(&mut self, $($arg: $ty),*) -> Result<$ret, DirectoryError> {
            self.services.directory.$name($($pass),*).await
        }
    )+};
}

impl directory::Host for HostState {
    reads! {
        new_id(kind: String) -> String => (&kind);
        get_account(person_id: String) -> Option<Account> => (&person_id);
        find_account_by_email(email: String) -> Option<Account> => (&email);
        get_organization(organization_id: String) -> Option<Organization> => (&organization_id);
        get_staff(staff_id: String) -> Option<Staff> => (&staff_id);
        find_link(issuer: String, subject: String) -> Option<String> => (&issuer, &subject);
        list_links(person_id: String) -> Vec<(String, String)> => (&person_id);
        get_onboarding(request_id: String) -> Option<OnboardingRequest> => (&request_id);
        list_onboarding(status: Option<OnboardingStatus>) -> Vec<OnboardingRequest> => (status);
        find_pending_onboarding(email: String) -> Option<OnboardingRequest> => (&email);
        list_members(query: MemberQuery) -> MemberPage => (query);
    }

    async fn read_audit(
        &mut self,
        organization_id: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<AuditPage, DirectoryError> {
        self.services
            .directory
            .read_audit(AuditQuery {
                organization_id,
                cursor,
                limit,
            })
            .await
    }

    async fn apply(&mut self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError> {
        let touched: Vec<ChangeOp> = ops
            .iter()
            .filter(|op| cache::affects_cache(op))
            .cloned()
            .collect();
        let queues = ops
            .iter()
            .any(|op| matches!(op, ChangeOp::QueueNotification(_)));
        self.services.directory.apply(ops, audit).await?;
        if queues {
            self.services.outbox_ready.notify_one();
        }
        // The change is committed. A cache that cannot be reached is not read
        // either (every node reads the directory until it is back, and a new
        // generation starts then); any other failure traps the call.
        match cache::invalidate_after(self.services.cache.as_ref(), &touched).await {
            Ok(()) => Ok(()),
            Err(CacheError::Unavailable(err)) => {
                tracing::warn!("change committed while the status cache is unreachable: {err}");
                Ok(())
            }
            Err(err) => Err(DirectoryError::Internal(format!(
                "change committed but not invalidated: {err}"
            ))),
        }
    }

    fn convert_error(&mut self, err: DirectoryError) -> wasmtime::Result<directory::Error> {
        Ok(match err {
            DirectoryError::Conflict(m) => directory::Error::Conflict(m),
            DirectoryError::NotFound(m) => directory::Error::NotFound(m),
            DirectoryError::Duplicate(m) => directory::Error::Duplicate(m),
            DirectoryError::Invalid(m) => directory::Error::Invalid(m),
            DirectoryError::Unavailable(m) => directory::Error::Unavailable(m),
            err @ DirectoryError::Internal(_) => return Err(wasmtime::Error::msg(err.to_string())),
        })
    }
}
