//! Records and changes through the host's imports: the status cache first,
//! then the directory.

use super::convert::{
    account_from_wit, account_status_to_wit, change_op_to_wit, directory_unavailable,
    onboarding_from_wit, onboarding_status_to_wit, organization_from_wit,
};
use super::wasi::logging::logging::{Level, log};
use super::{directory, status_cache, types};
use crate::access::{Records, Unavailable};
use crate::{model, users};

/// Records read through the host: the status cache first, then the directory.
pub(super) struct HostRecords;

impl Records for HostRecords {
    fn account(&self, person_id: &str) -> Result<Option<model::Account>, Unavailable> {
        match status_cache::get(person_id) {
            Ok(Some(account)) => return Ok(Some(account_from_wit(account))),
            Ok(None) => {}
            Err(err) => log(
                Level::Warn,
                "status-cache",
                &format!("cache read failed, reading the directory: {err:?}"),
            ),
        }
        let Some(account) = directory::get_account(person_id).map_err(directory_unavailable)?
        else {
            return Ok(None);
        };
        if let Err(err) = status_cache::put(&account) {
            log(
                Level::Warn,
                "status-cache",
                &format!("cache write failed: {err:?}"),
            );
        }
        Ok(Some(account_from_wit(account)))
    }

    fn organization(&self, id: &str) -> Result<Option<model::Organization>, Unavailable> {
        match status_cache::get_organization(id) {
            Ok(Some(org)) => return Ok(Some(organization_from_wit(org))),
            Ok(None) => {}
            Err(err) => log(
                Level::Warn,
                "status-cache",
                &format!("cache read failed, reading the directory: {err:?}"),
            ),
        }
        let Some(org) = directory::get_organization(id).map_err(directory_unavailable)? else {
            return Ok(None);
        };
        if let Err(err) = status_cache::put_organization(&org) {
            log(
                Level::Warn,
                "status-cache",
                &format!("cache write failed: {err:?}"),
            );
        }
        Ok(Some(organization_from_wit(org)))
    }

    fn staff(&self, id: &str) -> Result<Option<model::Staff>, Unavailable> {
        directory::get_staff(id)
            .map(|staff| {
                staff.map(|s| model::Staff {
                    id: s.id,
                    name: s.name,
                    assigned_organizations: s.assigned_organizations,
                })
            })
            .map_err(directory_unavailable)
    }
}

pub(super) fn dir_error(err: directory::Error) -> users::DirError {
    match err {
        directory::Error::Conflict(m) => users::DirError::Conflict(m),
        directory::Error::NotFound(m) => users::DirError::NotFound(m),
        directory::Error::Duplicate(m) => users::DirError::Duplicate(m),
        directory::Error::Invalid(m) => users::DirError::Invalid(m),
        directory::Error::Unavailable(m) => users::DirError::Unavailable(m),
        directory::Error::InternalError(m) => {
            users::DirError::Unavailable(m.unwrap_or_else(|| "directory failed".into()))
        }
    }
}

impl users::Directory for HostRecords {
    type MemberPage = types::MemberPage;
    type AuditPage = types::AuditPage;

    fn new_id(&self, kind: &str) -> Result<String, users::DirError> {
        directory::new_id(kind).map_err(dir_error)
    }

    fn fresh_account(&self, person_id: &str) -> Result<Option<model::Account>, users::DirError> {
        directory::get_account(person_id)
            .map(|a| a.map(account_from_wit))
            .map_err(dir_error)
    }

    fn account_by_email(&self, email: &str) -> Result<Option<model::Account>, users::DirError> {
        directory::find_account_by_email(email)
            .map(|a| a.map(account_from_wit))
            .map_err(dir_error)
    }

    fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, users::DirError> {
        directory::find_link(issuer, subject).map_err(dir_error)
    }

    fn has_links(&self, person_id: &str) -> Result<bool, users::DirError> {
        directory::list_links(person_id)
            .map(|links| !links.is_empty())
            .map_err(dir_error)
    }

    fn onboarding(&self, id: &str) -> Result<Option<model::OnboardingRequest>, users::DirError> {
        directory::get_onboarding(id)
            .map(|r| r.map(onboarding_from_wit))
            .map_err(dir_error)
    }

    fn pending_onboarding(
        &self,
        email: &str,
    ) -> Result<Option<model::OnboardingRequest>, users::DirError> {
        directory::find_pending_onboarding(email)
            .map(|r| r.map(onboarding_from_wit))
            .map_err(dir_error)
    }

    fn list_onboarding(
        &self,
        status: Option<model::OnboardingStatus>,
    ) -> Result<Vec<model::OnboardingRequest>, users::DirError> {
        directory::list_onboarding(status.map(onboarding_status_to_wit))
            .map(|list| list.into_iter().map(onboarding_from_wit).collect())
            .map_err(dir_error)
    }

    fn list_members(&self, q: model::MemberQuery) -> Result<types::MemberPage, users::DirError> {
        let query = directory::MemberQuery {
            organizations: q.organizations,
            status: q.status.map(account_status_to_wit),
            search: q.search,
            sort: match q.sort {
                model::MemberSort::Name => types::MemberSort::Name,
                model::MemberSort::Email => types::MemberSort::Email,
                model::MemberSort::Company => types::MemberSort::Company,
                model::MemberSort::Added => types::MemberSort::Added,
            },
            descending: q.descending,
            cursor: q.cursor,
            limit: q.limit,
        };
        directory::list_members(&query).map_err(dir_error)
    }

    fn read_audit(
        &self,
        organization: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<types::AuditPage, users::DirError> {
        directory::read_audit(organization, cursor, limit).map_err(dir_error)
    }

    fn apply(
        &self,
        ops: Vec<model::ChangeOp>,
        audit: model::AuditEntry,
    ) -> Result<(), users::DirError> {
        let ops: Vec<directory::ChangeOp> = ops.into_iter().map(change_op_to_wit).collect();
        let audit = types::AuditEntry {
            actor: audit.actor,
            action: audit.action,
            target: audit.target,
            organization_id: audit.organization_id,
            before: audit.before,
            after: audit.after,
            policies: audit.policies,
        };
        directory::apply(&ops, &audit).map_err(dir_error)
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
