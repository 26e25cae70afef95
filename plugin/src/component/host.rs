//! Records and changes through the host's imports: records for decisions
//! from `records` (the host's cache, then its directory), changes and fresh
//! reads from `directory`.

use super::bindings::partnergate::b2b::{directory, records, types};
use super::convert::{
    account_from_wit, account_record_from_wit, account_status_to_wit, change_op_to_wit,
    onboarding_from_wit, onboarding_status_to_wit, organization_from_wit, staff_from_wit,
};
use crate::access::{Found, Key, Lookup, Records, Unavailable};
use crate::{model, users};

/// Records read through the host's `records` import: its cache, then its
/// directory, in one call.
pub(super) struct HostRecords;

pub(super) fn key_to_wit(key: Key<'_>) -> records::Key {
    match key {
        Key::Account(id) => records::Key::Account(id.to_string()),
        Key::Organization(id) => records::Key::Organization(id.to_string()),
        Key::Staff(id) => records::Key::Staff(id.to_string()),
    }
}

fn lookup_to_wit(lookup: Lookup<'_>) -> records::Lookup {
    records::Lookup {
        key: key_to_wit(lookup.key),
        known: lookup.known,
    }
}

fn found_from_wit(found: records::Found) -> Found {
    match found {
        records::Found::Unchanged => Found::Unchanged,
        records::Found::Missing => Found::Missing,
        records::Found::Account((stamp, a)) => Found::Account(stamp, account_record_from_wit(a)),
        records::Found::Organization((stamp, o)) => {
            Found::Organization(stamp, organization_from_wit(o))
        }
        records::Found::Staff((stamp, s)) => Found::Staff(stamp, staff_from_wit(s)),
    }
}

fn records_unavailable(err: records::Error) -> Unavailable {
    Unavailable(match err {
        records::Error::Unavailable(m) => format!("records unavailable: {m}"),
        records::Error::InternalError(m) => m.unwrap_or_else(|| "records failed".into()),
    })
}

impl HostRecords {
    /// One record, whatever it is.
    fn one(&self, key: Key<'_>) -> Result<Found, Unavailable> {
        self.read(Lookup { key, known: None }, None)
            .map(|(found, _)| found)
    }
}

impl Records for HostRecords {
    fn account(&self, person_id: &str) -> Result<Option<model::Account>, Unavailable> {
        Ok(match self.one(Key::Account(person_id))? {
            Found::Account(_, account) => Some(account),
            _ => None,
        })
    }

    fn organization(&self, id: &str) -> Result<Option<model::Organization>, Unavailable> {
        Ok(match self.one(Key::Organization(id))? {
            Found::Organization(_, org) => Some(org),
            _ => None,
        })
    }

    fn staff(&self, id: &str) -> Result<Option<model::Staff>, Unavailable> {
        Ok(match self.one(Key::Staff(id))? {
            Found::Staff(_, staff) => Some(staff),
            _ => None,
        })
    }

    fn read(
        &self,
        first: Lookup<'_>,
        second: Option<Lookup<'_>>,
    ) -> Result<(Found, Option<Found>), Unavailable> {
        let (first, second) =
            records::read(&lookup_to_wit(first), second.map(lookup_to_wit).as_ref())
                .map_err(records_unavailable)?;
        Ok((found_from_wit(first), second.map(found_from_wit)))
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

impl crate::ports::AuditEntries for types::AuditPage {
    fn retain_organizations(&mut self, mut keep: impl FnMut(Option<&str>) -> bool) {
        self.entries
            .retain(|r| keep(r.entry.organization_id.as_deref()));
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

    fn fresh_organization(&self, id: &str) -> Result<Option<model::Organization>, users::DirError> {
        directory::get_organization(id)
            .map(|o| o.map(organization_from_wit))
            .map_err(dir_error)
    }

    fn fresh_staff(&self, id: &str) -> Result<Option<model::Staff>, users::DirError> {
        directory::get_staff(id)
            .map(|s| s.map(staff_from_wit))
            .map_err(dir_error)
    }

    fn staff_by_email(&self, email: &str) -> Result<Option<model::Staff>, users::DirError> {
        directory::find_staff_by_email(email)
            .map(|s| s.map(staff_from_wit))
            .map_err(dir_error)
    }

    fn organization_staff(
        &self,
        organization_id: &str,
    ) -> Result<Vec<model::Staff>, users::DirError> {
        directory::list_organization_staff(organization_id)
            .map(|list| list.into_iter().map(staff_from_wit).collect())
            .map_err(dir_error)
    }

    fn find_staff_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, users::DirError> {
        directory::find_staff_link(issuer, subject).map_err(dir_error)
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
