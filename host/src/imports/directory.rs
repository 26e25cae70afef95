use crate::bindings::directory::{self, ChangeOp, MemberQuery};
use crate::bindings::types::{
    Account, AuditEntry, AuditPage, MemberPage, OnboardingRequest, OnboardingStatus, Organization,
    Staff,
};
use crate::cache::{self, CacheError};
use crate::directory::{AuditQuery, DirectoryError};
use crate::state::HostState;

impl directory::Host for HostState {
    async fn new_id(&mut self, kind: String) -> Result<String, DirectoryError> {
        self.services.directory.new_id(&kind).await
    }

    async fn get_account(&mut self, person_id: String) -> Result<Option<Account>, DirectoryError> {
        self.services.directory.get_account(&person_id).await
    }

    async fn find_account_by_email(
        &mut self,
        email: String,
    ) -> Result<Option<Account>, DirectoryError> {
        self.services.directory.find_account_by_email(&email).await
    }

    async fn get_organization(
        &mut self,
        organization_id: String,
    ) -> Result<Option<Organization>, DirectoryError> {
        self.services
            .directory
            .get_organization(&organization_id)
            .await
    }

    async fn get_staff(&mut self, staff_id: String) -> Result<Option<Staff>, DirectoryError> {
        self.services.directory.get_staff(&staff_id).await
    }

    async fn find_link(
        &mut self,
        issuer: String,
        subject: String,
    ) -> Result<Option<String>, DirectoryError> {
        self.services.directory.find_link(&issuer, &subject).await
    }

    async fn list_links(
        &mut self,
        person_id: String,
    ) -> Result<Vec<(String, String)>, DirectoryError> {
        self.services.directory.list_links(&person_id).await
    }

    async fn get_onboarding(
        &mut self,
        request_id: String,
    ) -> Result<Option<OnboardingRequest>, DirectoryError> {
        self.services.directory.get_onboarding(&request_id).await
    }

    async fn list_onboarding(
        &mut self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, DirectoryError> {
        self.services.directory.list_onboarding(status).await
    }

    async fn find_pending_onboarding(
        &mut self,
        email: String,
    ) -> Result<Option<OnboardingRequest>, DirectoryError> {
        self.services
            .directory
            .find_pending_onboarding(&email)
            .await
    }

    async fn list_members(&mut self, query: MemberQuery) -> Result<MemberPage, DirectoryError> {
        self.services.directory.list_members(query).await
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
