//! The JSON form of cached records in Redis, and how an unknown stored
//! name fails closed.

use serde::{Deserialize, Serialize};

use crate::model::{
    Account, AccountStatus, Member, Membership, Organization, OrganizationStatus, Person, Staff,
    StaffStatus,
};

/// The JSON form of an account in Redis.
#[derive(Serialize, Deserialize)]
pub(super) struct CachedAccount {
    id: String,
    email: String,
    name: String,
    membership: Option<CachedMembership>,
    organization: Option<CachedOrganization>,
    /// Every membership with its organization (a person in several).
    #[serde(default)]
    memberships: Vec<(CachedMembership, CachedOrganization)>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct CachedMembership {
    organization_id: String,
    status: String,
    previous_status: Option<String>,
    is_admin: bool,
    roles: Vec<String>,
    spending_limit: Option<u64>,
    invited_at: Option<u64>,
    version: u64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct CachedOrganization {
    id: String,
    name: String,
    status: String,
    active_admins: u32,
}

#[derive(Serialize, Deserialize)]
pub(super) struct CachedStaff {
    id: String,
    name: String,
    assigned_organizations: Vec<String>,
    #[serde(default)]
    email: Option<String>,
    /// Absent in entries an earlier release wrote: read as `removed`.
    #[serde(default)]
    status: String,
}

impl From<&Staff> for CachedStaff {
    fn from(s: &Staff) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            assigned_organizations: s.assigned_organizations.clone(),
            email: s.email.clone(),
            status: s.status.name().into(),
        }
    }
}

impl From<CachedStaff> for Staff {
    fn from(s: CachedStaff) -> Self {
        Staff {
            id: s.id,
            name: s.name,
            assigned_organizations: s.assigned_organizations,
            email: s.email,
            // An unknown or missing status decodes to `removed`: never more
            // than was cached.
            status: s.status.parse().unwrap_or(StaffStatus::Removed),
        }
    }
}

impl From<&Membership> for CachedMembership {
    fn from(m: &Membership) -> Self {
        Self {
            organization_id: m.organization_id.clone(),
            status: m.status.name().into(),
            previous_status: m.previous_status.map(|s| s.name().into()),
            is_admin: m.is_admin,
            roles: m.roles.clone(),
            spending_limit: m.spending_limit,
            invited_at: m.invited_at,
            version: m.version,
        }
    }
}

impl CachedMembership {
    /// The membership of `person_id` this stored form holds.
    fn of(self, person_id: &str) -> Membership {
        Membership {
            organization_id: self.organization_id,
            person_id: person_id.to_string(),
            status: status(&self.status),
            previous_status: self.previous_status.as_deref().map(status),
            is_admin: self.is_admin,
            roles: self.roles,
            spending_limit: self.spending_limit,
            invited_at: self.invited_at,
            version: self.version,
        }
    }
}

/// An account status read back from Redis. Fails closed on a name this
/// node does not know (another version wrote it): `revoked`, never more
/// access than was cached.
fn status(s: &str) -> AccountStatus {
    s.parse().unwrap_or(AccountStatus::Revoked)
}

impl From<&Organization> for CachedOrganization {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            status: o.status.name().into(),
            active_admins: o.active_admins,
        }
    }
}

impl From<CachedOrganization> for Organization {
    fn from(o: CachedOrganization) -> Self {
        Organization {
            id: o.id,
            name: o.name,
            // An unknown status decodes to `blocked`: never more than was cached.
            status: o.status.parse().unwrap_or(OrganizationStatus::Blocked),
            active_admins: o.active_admins,
        }
    }
}

impl From<&Account> for CachedAccount {
    fn from(a: &Account) -> Self {
        Self {
            id: a.person.id.clone(),
            email: a.person.email.clone(),
            name: a.person.name.clone(),
            membership: a.membership.as_ref().map(CachedMembership::from),
            organization: a.organization.as_ref().map(CachedOrganization::from),
            memberships: a
                .memberships
                .iter()
                .map(|m| {
                    (
                        CachedMembership::from(&m.membership),
                        CachedOrganization::from(&m.organization),
                    )
                })
                .collect(),
        }
    }
}

impl From<CachedAccount> for Account {
    fn from(c: CachedAccount) -> Self {
        let person = Person {
            id: c.id,
            email: c.email,
            name: c.name,
        };
        let membership = c.membership.map(|m| m.of(&person.id));
        let organization = c.organization.map(Organization::from);
        let memberships = c
            .memberships
            .into_iter()
            .map(|(m, o)| Member {
                membership: m.of(&person.id),
                organization: o.into(),
            })
            .collect();
        Account {
            person,
            membership,
            organization,
            memberships,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name this node does not know (written by another version) reads
    /// as no more access than there can have been: a revoked account, a
    /// blocked organization.
    #[test]
    fn unknown_cached_names_fail_closed() {
        assert_eq!(status("suspended"), AccountStatus::Revoked);
        assert_eq!(status("active"), AccountStatus::Active);
        let org: Organization = CachedOrganization {
            id: "a".into(),
            name: "A".into(),
            status: "frozen".into(),
            active_admins: 1,
        }
        .into();
        assert_eq!(org.status, OrganizationStatus::Blocked);
    }

    /// A staff record keeps its email and status in Redis; one an earlier
    /// release wrote (no status) reads as removed, never as more.
    #[test]
    fn cached_staff_round_trips_and_an_old_entry_reads_as_removed() {
        let staff = Staff {
            id: "stella".into(),
            name: "Stella".into(),
            assigned_organizations: vec!["acme".into()],
            email: Some("stella@merchant.test".into()),
            status: StaffStatus::Active,
        };
        let json = serde_json::to_string(&CachedStaff::from(&staff)).unwrap();
        let back: CachedStaff = serde_json::from_str(&json).unwrap();
        assert_eq!(Staff::from(back), staff);
        let old: CachedStaff =
            serde_json::from_str(r#"{"id":"sam","name":"Sam","assigned_organizations":["acme"]}"#)
                .unwrap();
        assert_eq!(Staff::from(old).status, StaffStatus::Removed);
    }

    #[test]
    fn cached_account_round_trips() {
        let account = Account {
            person: Person {
                id: "p".into(),
                email: "p@x.test".into(),
                name: "P".into(),
            },
            membership: Some(Membership {
                organization_id: "o".into(),
                person_id: "p".into(),
                status: AccountStatus::Revoked,
                previous_status: Some(AccountStatus::Active),
                is_admin: true,
                roles: vec!["buyer".into()],
                spending_limit: Some(7),
                invited_at: Some(9),
                version: 3,
            }),
            organization: Some(Organization {
                id: "o".into(),
                name: "O".into(),
                status: OrganizationStatus::Blocked,
                active_admins: 2,
            }),
            memberships: Vec::new(),
        };
        let account = Account::of_person(
            account.person.clone(),
            vec![Member {
                membership: account.membership.clone().unwrap(),
                organization: account.organization.clone().unwrap(),
            }],
        );
        let json = serde_json::to_string(&CachedAccount::from(&account)).unwrap();
        let back = Account::from(serde_json::from_str::<CachedAccount>(&json).unwrap());
        assert_eq!(format!("{back:?}"), format!("{account:?}"));
    }
}
