//! Conversions between the WIT types and the rules' model.

use super::bindings::exports::partnergate::b2b::{org_users, policy, sign_in};
use super::bindings::partnergate::b2b::{directory, notifications, types};
use crate::policy_set::{Problem, Summary};
use crate::{model, signin, users};

pub(super) fn change_op_to_wit(op: model::ChangeOp) -> directory::ChangeOp {
    match op {
        model::ChangeOp::ExpectMembership(person, organization, version) => {
            directory::ChangeOp::ExpectMembership((person, organization, version))
        }
        model::ChangeOp::ExpectActiveAdmins(organization, count) => {
            directory::ChangeOp::ExpectActiveAdmins((organization, count))
        }
        model::ChangeOp::ExpectOrganizationStatus(organization, status) => {
            directory::ChangeOp::ExpectOrganizationStatus((
                organization,
                organization_status_to_wit(status),
            ))
        }
        model::ChangeOp::PutPerson(p) => directory::ChangeOp::PutPerson(types::Person {
            id: p.id,
            email: p.email,
            name: p.name,
        }),
        model::ChangeOp::PutOrganization(o) => {
            directory::ChangeOp::PutOrganization(organization_to_wit(o))
        }
        model::ChangeOp::PutLink(issuer, subject, person) => {
            directory::ChangeOp::LinkIdentity((issuer, subject, person))
        }
        model::ChangeOp::PutStaffLink(issuer, subject, staff) => {
            directory::ChangeOp::LinkStaffIdentity((issuer, subject, staff))
        }
        model::ChangeOp::ActivateStaff(id) => directory::ChangeOp::ActivateStaff(id),
        model::ChangeOp::AssignStaff(staff, organization) => {
            directory::ChangeOp::AssignStaff((staff, organization))
        }
        model::ChangeOp::UnassignStaff(staff, organization) => {
            directory::ChangeOp::UnassignStaff((staff, organization))
        }
        model::ChangeOp::PutMembership(m, expected) => {
            directory::ChangeOp::PutMembership((membership_to_wit(m), expected))
        }
        model::ChangeOp::PutOnboarding(r, expected) => {
            directory::ChangeOp::PutOnboarding((onboarding_to_wit(r), expected))
        }
        model::ChangeOp::Queue(n) => {
            directory::ChangeOp::QueueNotification(notifications::Notification {
                kind: match n.kind {
                    model::NotificationKind::Invitation => notifications::Kind::Invitation,
                    model::NotificationKind::Approval => notifications::Kind::Approval,
                    model::NotificationKind::Rejection => notifications::Kind::Rejection,
                },
                recipient: n.recipient,
                params: n.params,
            })
        }
    }
}

pub(super) fn account_status_to_wit(s: model::AccountStatus) -> types::AccountStatus {
    match s {
        model::AccountStatus::Invited => types::AccountStatus::Invited,
        model::AccountStatus::Active => types::AccountStatus::Active,
        model::AccountStatus::Revoked => types::AccountStatus::Revoked,
        model::AccountStatus::Removed => types::AccountStatus::Removed,
    }
}

pub(super) fn membership_to_wit(m: model::Membership) -> types::Membership {
    types::Membership {
        organization_id: m.organization_id,
        person_id: m.person_id,
        status: account_status_to_wit(m.status),
        previous_status: m.previous_status.map(account_status_to_wit),
        is_admin: m.is_admin,
        roles: m.roles,
        spending_limit: m.spending_limit,
        invited_at: m.invited_at,
        version: m.version,
    }
}

pub(super) fn organization_to_wit(o: model::Organization) -> types::Organization {
    types::Organization {
        id: o.id,
        name: o.name,
        status: organization_status_to_wit(o.status),
        active_admins: o.active_admins,
    }
}

fn organization_status_to_wit(s: model::OrganizationStatus) -> types::OrganizationStatus {
    match s {
        model::OrganizationStatus::Pending => types::OrganizationStatus::Pending,
        model::OrganizationStatus::Approved => types::OrganizationStatus::Approved,
        model::OrganizationStatus::Rejected => types::OrganizationStatus::Rejected,
        model::OrganizationStatus::Blocked => types::OrganizationStatus::Blocked,
    }
}

pub(super) fn onboarding_status_to_wit(s: model::OnboardingStatus) -> types::OnboardingStatus {
    match s {
        model::OnboardingStatus::Pending => types::OnboardingStatus::Pending,
        model::OnboardingStatus::Approved => types::OnboardingStatus::Approved,
        model::OnboardingStatus::Rejected => types::OnboardingStatus::Rejected,
    }
}

pub(super) fn onboarding_status_from_wit(s: types::OnboardingStatus) -> model::OnboardingStatus {
    match s {
        types::OnboardingStatus::Pending => model::OnboardingStatus::Pending,
        types::OnboardingStatus::Approved => model::OnboardingStatus::Approved,
        types::OnboardingStatus::Rejected => model::OnboardingStatus::Rejected,
    }
}

pub(super) fn onboarding_to_wit(r: model::OnboardingRequest) -> types::OnboardingRequest {
    types::OnboardingRequest {
        id: r.id,
        organization_name: r.organization_name,
        requester_name: r.requester_name,
        requester_email: r.requester_email,
        status: onboarding_status_to_wit(r.status),
        organization_id: r.organization_id,
        submitted_at: r.submitted_at,
        version: r.version,
    }
}

pub(super) fn onboarding_from_wit(r: types::OnboardingRequest) -> model::OnboardingRequest {
    model::OnboardingRequest {
        id: r.id,
        organization_name: r.organization_name,
        requester_name: r.requester_name,
        requester_email: r.requester_email,
        status: onboarding_status_from_wit(r.status),
        organization_id: r.organization_id,
        submitted_at: r.submitted_at,
        version: r.version,
    }
}

pub(super) fn account_status(s: types::AccountStatus) -> model::AccountStatus {
    match s {
        types::AccountStatus::Invited => model::AccountStatus::Invited,
        types::AccountStatus::Active => model::AccountStatus::Active,
        types::AccountStatus::Revoked => model::AccountStatus::Revoked,
        types::AccountStatus::Removed => model::AccountStatus::Removed,
    }
}

pub(super) fn organization_from_wit(o: types::Organization) -> model::Organization {
    model::Organization {
        id: o.id,
        name: o.name,
        status: match o.status {
            types::OrganizationStatus::Pending => model::OrganizationStatus::Pending,
            types::OrganizationStatus::Approved => model::OrganizationStatus::Approved,
            types::OrganizationStatus::Rejected => model::OrganizationStatus::Rejected,
            types::OrganizationStatus::Blocked => model::OrganizationStatus::Blocked,
        },
        active_admins: o.active_admins,
    }
}

fn membership_from_wit(m: types::Membership) -> model::Membership {
    model::Membership {
        organization_id: m.organization_id,
        person_id: m.person_id,
        status: account_status(m.status),
        previous_status: m.previous_status.map(account_status),
        is_admin: m.is_admin,
        roles: m.roles,
        spending_limit: m.spending_limit,
        invited_at: m.invited_at,
        version: m.version,
    }
}

fn person_from_wit(p: types::Person) -> model::Person {
    model::Person {
        id: p.id,
        email: p.email,
        name: p.name,
    }
}

fn members_from_wit(members: Vec<types::Member>) -> Vec<model::Member> {
    members
        .into_iter()
        .map(|m| model::Member {
            membership: membership_from_wit(m.membership),
            organization: organization_from_wit(m.organization),
        })
        .collect()
}

pub(super) fn account_from_wit(a: types::Account) -> model::Account {
    model::Account {
        person: person_from_wit(a.person),
        membership: a.membership.map(membership_from_wit),
        organization: a.organization.map(organization_from_wit),
        memberships: members_from_wit(a.memberships),
    }
}

/// An account as `records.read` gives it: the membership acted for is
/// derived from the memberships, as the directory derived it.
pub(super) fn account_record_from_wit(
    a: super::bindings::partnergate::b2b::records::AccountRecord,
) -> model::Account {
    model::Account::of_person(person_from_wit(a.person), members_from_wit(a.memberships))
}

pub(super) fn account_to_wit(a: model::Account) -> types::Account {
    types::Account {
        person: types::Person {
            id: a.person.id,
            email: a.person.email,
            name: a.person.name,
        },
        membership: a.membership.map(membership_to_wit),
        organization: a.organization.map(organization_to_wit),
        memberships: a
            .memberships
            .into_iter()
            .map(|m| types::Member {
                membership: membership_to_wit(m.membership),
                organization: organization_to_wit(m.organization),
            })
            .collect(),
    }
}

pub(super) fn user_view_to_wit(v: model::UserView) -> org_users::UserView {
    let s = v.steps;
    org_users::UserView {
        member: account_to_wit(v.member),
        steps: org_users::UserSteps {
            edit: s.edit,
            edit_email: s.edit_email,
            change_admin: s.change_admin,
            revoke: s.revoke,
            reinstate: s.reinstate,
            remove: s.remove,
            reinvite: s.reinvite,
        },
    }
}

pub(super) fn decision_to_wit(d: model::Decision) -> types::Decision {
    types::Decision {
        effect: match d.effect {
            model::Effect::Allow => types::Effect::Allow,
            model::Effect::Deny => types::Effect::Deny,
        },
        policies: d.policies,
        errors: d.errors,
    }
}

pub(super) fn problem_to_wit(p: Problem) -> policy::Problem {
    policy::Problem {
        file: p.file,
        line: p.line,
        column: p.column,
        message: p.message,
    }
}

pub(super) fn summary_to_wit(s: &Summary) -> policy::Summary {
    policy::Summary {
        version: s.version.clone(),
        policies: s.policies,
        permits: s.permits,
        forbids: s.forbids,
    }
}

pub(super) fn user_error(err: users::UserError) -> org_users::Error {
    match err {
        users::UserError::Denied(d) => org_users::Error::Denied(decision_to_wit(d)),
        users::UserError::Invalid(m) => org_users::Error::Invalid(m),
        users::UserError::NotFound(m) => org_users::Error::NotFound(m),
        users::UserError::Conflict(m) => org_users::Error::Conflict(m),
        users::UserError::RateLimited(s) => org_users::Error::RateLimited(s),
        users::UserError::Unavailable(m) => org_users::Error::Unavailable(m),
    }
}

pub(super) fn new_user(u: org_users::NewUser) -> users::NewUser {
    users::NewUser {
        email: u.email,
        name: u.name,
        roles: u.roles,
        is_admin: u.is_admin,
        spending_limit: u.spending_limit,
    }
}

pub(super) fn target_from_wit(t: org_users::Target) -> users::Target {
    users::Target {
        person_id: t.person_id,
        organization_id: t.organization_id,
        version: t.version,
    }
}

pub(super) fn identity_from_wit(identity: types::ExternalIdentity) -> signin::Identity {
    signin::Identity {
        issuer: identity.issuer,
        subject: identity.subject,
        emails: identity.emails,
        email_verified: identity.email_verified,
        trusted_provider: identity.trusted_provider,
    }
}

pub(super) fn sign_in_error_to_wit(err: signin::SignInError) -> sign_in::Error {
    match err {
        signin::SignInError::Refused(reason) => sign_in::Error::Refused(reason),
        signin::SignInError::Unavailable(m) => sign_in::Error::Unavailable(m),
    }
}

pub(super) fn staff_from_wit(s: types::Staff) -> model::Staff {
    model::Staff {
        id: s.id,
        name: s.name,
        assigned_organizations: s.assigned_organizations,
        email: s.email,
        status: match s.status {
            types::StaffStatus::Invited => model::StaffStatus::Invited,
            types::StaffStatus::Active => model::StaffStatus::Active,
            types::StaffStatus::Removed => model::StaffStatus::Removed,
        },
    }
}

pub(super) fn staff_to_wit(s: model::Staff) -> types::Staff {
    types::Staff {
        id: s.id,
        name: s.name,
        assigned_organizations: s.assigned_organizations,
        email: s.email,
        status: match s.status {
            model::StaffStatus::Invited => types::StaffStatus::Invited,
            model::StaffStatus::Active => types::StaffStatus::Active,
            model::StaffStatus::Removed => types::StaffStatus::Removed,
        },
    }
}
