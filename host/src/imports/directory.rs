//! The `directory` import: reads pass through to the directory; a change
//! goes through the one commit path ([`crate::records::commit`]).

use crate::bindings::directory::{self, ChangeOp, MemberQuery};
use crate::bindings::types::{
    Account, AuditEntry, AuditPage, MemberPage, OnboardingRequest, OnboardingStatus, Organization,
    Staff,
};
use crate::convert::Conv;
use crate::directory::{AuditQuery, DirectoryError};
use crate::state::HostState;

/// Imports that are the directory's own reads: each passes its arguments
/// (in the model) to the method of the same name, and gives back its
/// answer in WIT.
macro_rules! reads {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => ($($pass:expr),*);)+) => {$(
        async fn $name(&mut self, $($arg: $ty),*) -> Result<$ret, DirectoryError> {
            let started = std::time::Instant::now();
            let read = crate::records::fresh(&self.services).$name($($pass),*).await;
            self.host_wait += started.elapsed();
            read.map(Conv::conv)
        }
    )+};
}

impl directory::Host for HostState {
    reads! {
        new_id(kind: String) -> String => (&kind);
        get_account(person_id: String) -> Option<Account> => (&person_id);
        find_account_by_email(email: String) -> Option<Account> => (&email);
        get_organization(organization_id: String) -> Option<Organization> => (&organization_id);
        find_link(issuer: String, subject: String) -> Option<String> => (&issuer, &subject);
        find_staff_link(issuer: String, subject: String) -> Option<String> => (&issuer, &subject);
        find_staff_by_email(email: String) -> Option<Staff> => (&email);
        list_organization_staff(organization_id: String) -> Vec<Staff> => (&organization_id);
        list_links(person_id: String) -> Vec<(String, String)> => (&person_id);
        get_onboarding(request_id: String) -> Option<OnboardingRequest> => (&request_id);
        list_onboarding(status: Option<OnboardingStatus>) -> Vec<OnboardingRequest> => (status.conv());
        find_pending_onboarding(email: String) -> Option<OnboardingRequest> => (&email);
        list_members(query: MemberQuery) -> MemberPage => (query.conv());
    }

    async fn get_staff(&mut self, staff_id: String) -> Result<Option<Staff>, DirectoryError> {
        let started = std::time::Instant::now();
        let read = crate::records::fresh(&self.services)
            .get_staff(&staff_id)
            .await;
        self.host_wait += started.elapsed();
        // What a decision read fresh of a staff member must still hold
        // when the call's change commits.
        if let Ok(Some(staff)) = &read {
            self.staff_read.push(staff.clone());
        }
        read.map(Conv::conv)
    }

    async fn read_audit(
        &mut self,
        organization_id: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<AuditPage, DirectoryError> {
        crate::records::fresh(&self.services)
            .read_audit(AuditQuery {
                organization_id,
                cursor,
                limit,
            })
            .await
            .map(Conv::conv)
    }

    async fn apply(&mut self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirectoryError> {
        // The commit gets what is left of the call's time, less the trust
        // window its answer may wait for; the time is the host's, not the
        // plugin's (the call's epoch deadline does not count it).
        let budget = self.commit_budget();
        let started = std::time::Instant::now();
        let staff = std::mem::take(&mut self.staff_read);
        let outcome =
            crate::records::commit(&self.services, ops.conv(), audit.conv(), staff, budget).await;
        self.host_wait += started.elapsed();
        outcome
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
