//! The one conversion between the generated WIT types and the model
//! ([`partnergate_model`]): the host speaks the model everywhere, and only
//! the import glue (`imports/`) and the export calls (`exports`) meet the
//! WIT types, through [`Conv`]. A WIT version bump touches `bindings.rs`,
//! those and this file.
//!
//! Records with the same fields on both sides are converted field by field
//! by `same_record!`, enums by `same_enum!`; the variants whose shapes
//! differ are written out.

use crate::bindings::exports::partnergate::b2b::{access, org_users, policy, sign_in};
use crate::bindings::partnergate::b2b::{directory, notifications, records, types};
use crate::model;

/// A conversion between a WIT type and its model type, in either
/// direction; containers convert their items.
pub(crate) trait Conv<T> {
    /// The value as a `T`.
    fn conv(self) -> T;
}

/// Types that are the same on both sides.
macro_rules! same_type {
    ($($ty:ty),* $(,)?) => {$(
        impl Conv<$ty> for $ty {
            fn conv(self) -> $ty {
                self
            }
        }
    )*};
}

same_type!(String, u64, u32, bool, (String, String));

impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(self) -> Option<B> {
        self.map(Conv::conv)
    }
}

impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(self) -> Vec<B> {
        self.into_iter().map(Conv::conv).collect()
    }
}

/// Enums with the same cases, both ways.
macro_rules! same_enum {
    ($($model:ty, $wit:ty { $($case:ident),+ $(,)? };)+) => {$(
        impl Conv<$wit> for $model {
            fn conv(self) -> $wit {
                match self {
                    $(Self::$case => <$wit>::$case,)+
                }
            }
        }

        impl Conv<$model> for $wit {
            fn conv(self) -> $model {
                match self {
                    $(Self::$case => <$model>::$case,)+
                }
            }
        }
    )+};
}

/// Records with the same fields, both ways.
macro_rules! same_record {
    ($($model:path, $wit:path { $($field:ident),+ $(,)? };)+) => {$(
        impl Conv<$wit> for $model {
            fn conv(self) -> $wit {
                $wit {
                    $($field: self.$field.conv(),)+
                }
            }
        }

        impl Conv<$model> for $wit {
            fn conv(self) -> $model {
                $model {
                    $($field: self.$field.conv(),)+
                }
            }
        }
    )+};
}

same_enum! {
    model::AccountStatus, types::AccountStatus { Invited, Active, Revoked, Removed };
    model::OrganizationStatus, types::OrganizationStatus { Pending, Approved, Rejected, Blocked };
    model::OnboardingStatus, types::OnboardingStatus { Pending, Approved, Rejected };
    model::StaffStatus, types::StaffStatus { Invited, Active, Removed };
    model::Effect, types::Effect { Allow, Deny };
    model::MemberSort, types::MemberSort { Name, Email, Company, Added };
    model::NotificationKind, notifications::Kind { Invitation, Approval, Rejection };
    model::BulkAction, org_users::BulkAction { Revoke, Reinstate, Remove, Reinvite };
}

same_record! {
    model::Person, types::Person { id, email, name };
    model::Organization, types::Organization { id, name, status, active_admins };
    model::Membership, types::Membership {
        organization_id, person_id, status, previous_status, is_admin, roles, spending_limit,
        invited_at, version,
    };
    model::Member, types::Member { membership, organization };
    model::Account, types::Account { person, membership, organization, memberships };
    model::Staff, types::Staff { id, name, assigned_organizations, email, status };
    model::OnboardingRequest, types::OnboardingRequest {
        id, organization_name, requester_name, requester_email, status, organization_id,
        submitted_at, version,
    };
    model::Decision, types::Decision { effect, policies, errors };
    model::AuditEntry, types::AuditEntry {
        actor, action, target, organization_id, before, after, policies,
    };
    model::AuditRecord, types::AuditRecord { id, at, entry };
    model::AuditPage, types::AuditPage { entries, next_cursor };
    model::MemberPage, types::MemberPage { members, next_cursor };
    model::ExternalIdentity, types::ExternalIdentity {
        issuer, subject, emails, email_verified, trusted_provider, name, claims,
    };
    model::Notification, notifications::Notification { kind, recipient, params };
    model::MemberQuery, directory::MemberQuery {
        organizations, status, search, sort, descending, cursor, limit,
    };
    model::NewUser, org_users::NewUser { email, name, roles, is_admin, spending_limit };
    model::UserChanges, org_users::UserChanges { name, email, roles, is_admin, spending_limit };
    model::Target, org_users::Target { person_id, organization_id, version };
    model::UserSteps, org_users::UserSteps {
        edit, edit_email, change_admin, revoke, reinstate, remove, reinvite,
    };
    model::UserView, org_users::UserView { member, steps };
    model::SignedIn, sign_in::SignedIn { person_id, organization_id, organizations, status, linked };
    model::PolicyFile, policy::PolicyFile { name, text };
    model::Summary, policy::Summary { version, policies, permits, forbids };
    model::Problem, policy::Problem { file, line, column, message };
    model::Stamped, access::Stamped { key, stamp };
    model::Answer, access::Answer { decision, basis };
}

impl Conv<org_users::UserQuery> for model::UserQuery {
    fn conv(self) -> org_users::UserQuery {
        org_users::UserQuery {
            organization_id: self.organizations,
            status: self.status.conv(),
            search: self.search,
            sort: self.sort.conv(),
            descending: self.descending,
            cursor: self.cursor,
            limit: self.limit,
        }
    }
}

impl Conv<model::ChangeOp> for directory::ChangeOp {
    fn conv(self) -> model::ChangeOp {
        use directory::ChangeOp as W;
        use model::ChangeOp as M;
        match self {
            W::PutPerson(p) => M::PutPerson(p.conv()),
            W::PutOrganization(o) => M::PutOrganization(o.conv()),
            W::PutMembership((m, read)) => M::PutMembership(m.conv(), read),
            W::LinkIdentity((issuer, subject, person)) => M::PutLink(issuer, subject, person),
            W::LinkStaffIdentity((issuer, subject, staff)) => {
                M::PutStaffLink(issuer, subject, staff)
            }
            W::ActivateStaff(id) => M::ActivateStaff(id),
            W::AssignStaff((staff, org)) => M::AssignStaff(staff, org),
            W::UnassignStaff((staff, org)) => M::UnassignStaff(staff, org),
            W::PutOnboarding((r, read)) => M::PutOnboarding(r.conv(), read),
            W::QueueNotification(n) => M::Queue(n.conv()),
            W::ExpectMembership((person, org, version)) => {
                M::ExpectMembership(person, org, version)
            }
            W::ExpectActiveAdmins((org, count)) => M::ExpectActiveAdmins(org, count),
            W::ExpectOrganizationStatus((org, status)) => {
                M::ExpectOrganizationStatus(org, status.conv())
            }
        }
    }
}

impl Conv<records::Key> for model::RecordKey {
    fn conv(self) -> records::Key {
        match self {
            Self::Account(id) => records::Key::Account(id),
            Self::Organization(id) => records::Key::Organization(id),
            Self::Staff(id) => records::Key::Staff(id),
        }
    }
}

impl Conv<model::RecordKey> for records::Key {
    fn conv(self) -> model::RecordKey {
        match self {
            Self::Account(id) => model::RecordKey::Account(id),
            Self::Organization(id) => model::RecordKey::Organization(id),
            Self::Staff(id) => model::RecordKey::Staff(id),
        }
    }
}
