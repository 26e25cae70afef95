//! The component's exports and imports: conversion only.

use std::cell::RefCell;

use crate::access::{self, AccessError, Names, Records, Unavailable};
use crate::model;
use crate::policy_set::{self, LoadedPolicies, Problem, SourceFile, Summary};
use crate::{signin, users};

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    generate_all,
});

use exports::partnergate::b2b::{access as wit_access, org_users, policy, sign_in};
use partnergate::b2b::{directory, notifications, status_cache, types};
use wasi::logging::logging::{Level, log};

struct Component;

export!(Component);

/// The policy set in use and the names decisions are built with.
struct State {
    loaded: LoadedPolicies,
    names: Names,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    /// Requests this instance has built, reused while their records are unchanged.
    static MEMO: RefCell<access::Memo> = RefCell::new(access::Memo::default());
}

impl policy::Guest for Component {
    fn load(
        schema: policy::PolicyFile,
        files: Vec<policy::PolicyFile>,
    ) -> Result<policy::Summary, policy::Error> {
        let loaded = check(schema, files)?;
        let summary = summary_to_wit(&loaded.summary);
        log(
            Level::Info,
            "policy",
            &format!("loaded policy set {}", summary.version),
        );
        STATE.with(|state| {
            *state.borrow_mut() = Some(State {
                loaded,
                names: Names::new(),
            })
        });
        MEMO.with(|memo| *memo.borrow_mut() = access::Memo::default());
        Ok(summary)
    }

    fn validate(
        schema: policy::PolicyFile,
        files: Vec<policy::PolicyFile>,
    ) -> Result<policy::Summary, policy::Error> {
        check(schema, files).map(|loaded| summary_to_wit(&loaded.summary))
    }

    fn current() -> Option<policy::Summary> {
        STATE.with(|state| {
            state
                .borrow()
                .as_ref()
                .map(|s| summary_to_wit(&s.loaded.summary))
        })
    }
}

fn check(
    schema: policy::PolicyFile,
    files: Vec<policy::PolicyFile>,
) -> Result<LoadedPolicies, policy::Error> {
    let source = |f: policy::PolicyFile| SourceFile {
        name: f.name,
        text: f.text,
    };
    let files: Vec<SourceFile> = files.into_iter().map(source).collect();
    policy_set::load(&source(schema), &files).map_err(|problems| {
        policy::Error::Invalid(problems.into_iter().map(problem_to_wit).collect())
    })
}

fn problem_to_wit(p: Problem) -> policy::Problem {
    policy::Problem {
        file: p.file,
        line: p.line,
        column: p.column,
        message: p.message,
    }
}

fn summary_to_wit(s: &Summary) -> policy::Summary {
    policy::Summary {
        version: s.version.clone(),
        policies: s.policies,
        permits: s.permits,
        forbids: s.forbids,
    }
}

impl wit_access::Guest for Component {
    fn authorize(request: wit_access::Request) -> Result<types::Decision, wit_access::Error> {
        STATE.with(|state| {
            let state = state.borrow();
            let state = state.as_ref().ok_or(wit_access::Error::NotLoaded)?;
            let request = access::Request {
                principal: &request.principal,
                action: &request.action,
                resource: &request.resource,
                context: &request.context,
            };
            let decided = MEMO.with(|memo| {
                access::authorize_with(
                    &state.loaded,
                    &state.names,
                    &HostRecords,
                    &request,
                    Some(&mut memo.borrow_mut()),
                )
            });
            match decided {
                Ok(decision) => Ok(decision_to_wit(decision)),
                Err(AccessError::InvalidRequest(m)) => Err(wit_access::Error::InvalidRequest(m)),
                Err(AccessError::Unavailable(Unavailable(m))) => {
                    Err(wit_access::Error::Unavailable(m))
                }
            }
        })
    }
}

impl org_users::Guest for Component {
    fn add_user(
        actor: String,
        organization_id: String,
        user: org_users::NewUser,
    ) -> Result<types::Membership, org_users::Error> {
        with_users(|u| u.add_user(&actor, &organization_id, new_user(user))).map(membership_to_wit)
    }

    fn edit_user(
        actor: String,
        target: org_users::Target,
        changes: org_users::UserChanges,
    ) -> Result<types::Membership, org_users::Error> {
        let changes = users::UserChanges {
            name: changes.name,
            email: changes.email,
            roles: changes.roles,
            is_admin: changes.is_admin,
            spending_limit: changes.spending_limit,
        };
        with_users(|u| u.edit_user(&actor, &target_from_wit(target), changes))
            .map(membership_to_wit)
    }

    fn remove_user(
        actor: String,
        target: org_users::Target,
    ) -> Result<types::Membership, org_users::Error> {
        with_users(|u| u.remove_user(&actor, &target_from_wit(target))).map(membership_to_wit)
    }

    fn revoke_user(
        actor: String,
        target: org_users::Target,
    ) -> Result<types::Membership, org_users::Error> {
        with_users(|u| u.revoke_user(&actor, &target_from_wit(target))).map(membership_to_wit)
    }

    fn reinstate_user(
        actor: String,
        target: org_users::Target,
    ) -> Result<types::Membership, org_users::Error> {
        with_users(|u| u.reinstate_user(&actor, &target_from_wit(target))).map(membership_to_wit)
    }

    fn reinvite_user(
        actor: String,
        target: org_users::Target,
    ) -> Result<types::Membership, org_users::Error> {
        with_users(|u| u.reinvite_user(&actor, &target_from_wit(target))).map(membership_to_wit)
    }

    fn bulk_add(
        actor: String,
        organization_id: String,
        users: Vec<org_users::NewUser>,
    ) -> Result<Vec<Result<types::Membership, org_users::Error>>, org_users::Error> {
        let users: Vec<users::NewUser> = users.into_iter().map(new_user).collect();
        let results = with_users(|u| u.bulk_add(&actor, &organization_id, users))?;
        Ok(results
            .into_iter()
            .map(|r| r.map(membership_to_wit).map_err(user_error))
            .collect())
    }

    fn bulk_change(
        actor: String,
        action: org_users::BulkAction,
        targets: Vec<org_users::Target>,
    ) -> Result<Vec<Result<types::Membership, org_users::Error>>, org_users::Error> {
        let action = match action {
            org_users::BulkAction::Revoke => users::BulkAction::Revoke,
            org_users::BulkAction::Reinstate => users::BulkAction::Reinstate,
            org_users::BulkAction::Remove => users::BulkAction::Remove,
            org_users::BulkAction::Reinvite => users::BulkAction::Reinvite,
        };
        let targets: Vec<users::Target> = targets.into_iter().map(target_from_wit).collect();
        let results = with_users(|u| u.bulk_change(&actor, action, &targets))?;
        Ok(results
            .into_iter()
            .map(|r| r.map(membership_to_wit).map_err(user_error))
            .collect())
    }

    fn list_users(
        actor: String,
        query: org_users::UserQuery,
    ) -> Result<types::MemberPage, org_users::Error> {
        let query = users::UserQuery {
            organizations: query.organization_id,
            status: query.status.map(account_status),
            search: query.search,
            sort: match query.sort {
                types::MemberSort::Name => model::MemberSort::Name,
                types::MemberSort::Email => model::MemberSort::Email,
                types::MemberSort::Company => model::MemberSort::Company,
                types::MemberSort::Added => model::MemberSort::Added,
            },
            descending: query.descending,
            cursor: query.cursor,
            limit: query.limit,
        };
        with_users(|u| u.list_users(&actor, query))
    }

    fn read_audit(
        actor: String,
        organization_id: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<types::AuditPage, org_users::Error> {
        with_users(|u| u.read_audit(&actor, organization_id.as_deref(), cursor.as_deref(), limit))
    }

    fn submit_onboarding(
        organization_name: String,
        requester_name: String,
        requester_email: String,
    ) -> Result<types::OnboardingRequest, org_users::Error> {
        with_users(|u| u.submit_onboarding(&organization_name, &requester_name, &requester_email))
            .map(onboarding_to_wit)
    }

    fn approve_onboarding(
        actor: String,
        request_id: String,
    ) -> Result<types::OnboardingRequest, org_users::Error> {
        with_users(|u| u.approve_onboarding(&actor, &request_id)).map(onboarding_to_wit)
    }

    fn reject_onboarding(
        actor: String,
        request_id: String,
        reason: String,
    ) -> Result<types::OnboardingRequest, org_users::Error> {
        with_users(|u| u.reject_onboarding(&actor, &request_id, &reason)).map(onboarding_to_wit)
    }

    fn list_onboarding(
        actor: String,
        status: Option<types::OnboardingStatus>,
    ) -> Result<Vec<types::OnboardingRequest>, org_users::Error> {
        with_users(|u| u.list_onboarding(&actor, status.map(onboarding_status_from_wit)))
            .map(|list| list.into_iter().map(onboarding_to_wit).collect())
    }

    fn create_organization(
        actor: String,
        name: String,
    ) -> Result<types::Organization, org_users::Error> {
        with_users(|u| u.create_organization(&actor, &name)).map(organization_to_wit)
    }
}

/// Runs `f` with the lifecycle rules over the loaded policies and the host.
fn with_users<T>(
    f: impl FnOnce(&users::Users<'_, HostRecords>) -> Result<T, users::UserError>,
) -> Result<T, org_users::Error> {
    STATE.with(|state| {
        let state = state.borrow();
        let Some(state) = state.as_ref() else {
            return Err(org_users::Error::InternalError(Some(
                "no policy set loaded".into(),
            )));
        };
        f(&users::Users {
            loaded: &state.loaded,
            names: &state.names,
            dir: &HostRecords,
        })
        .map_err(user_error)
    })
}

fn user_error(err: users::UserError) -> org_users::Error {
    match err {
        users::UserError::Denied(d) => org_users::Error::Denied(decision_to_wit(d)),
        users::UserError::Invalid(m) => org_users::Error::Invalid(m),
        users::UserError::NotFound(m) => org_users::Error::NotFound(m),
        users::UserError::Conflict(m) => org_users::Error::Conflict(m),
        users::UserError::RateLimited(s) => org_users::Error::RateLimited(s),
        users::UserError::Unavailable(m) => org_users::Error::Unavailable(m),
    }
}

fn new_user(u: org_users::NewUser) -> users::NewUser {
    users::NewUser {
        email: u.email,
        name: u.name,
        roles: u.roles,
        is_admin: u.is_admin,
        spending_limit: u.spending_limit,
    }
}

fn target_from_wit(t: org_users::Target) -> users::Target {
    users::Target {
        person_id: t.person_id,
        version: t.version,
    }
}

fn identity_from_wit(identity: types::ExternalIdentity) -> signin::Identity {
    signin::Identity {
        issuer: identity.issuer,
        subject: identity.subject,
        emails: identity.emails,
        email_verified: identity.email_verified,
        trusted_provider: identity.trusted_provider,
    }
}

fn sign_in_error_to_wit(err: signin::SignInError) -> sign_in::Error {
    match err {
        signin::SignInError::Refused(reason) => sign_in::Error::Refused(reason),
        signin::SignInError::Unavailable(m) => sign_in::Error::Unavailable(m),
    }
}

/// Runs `f` with the sign-in rules over the loaded policy set.
fn with_sign_in<T>(
    f: impl FnOnce(&signin::SignIn<'_, HostRecords>) -> Result<T, signin::SignInError>,
) -> Result<T, sign_in::Error> {
    STATE.with(|state| {
        let state = state.borrow();
        let Some(state) = state.as_ref() else {
            return Err(sign_in::Error::InternalError(Some(
                "no policy set loaded".into(),
            )));
        };
        let rules = signin::SignIn {
            loaded: &state.loaded,
            names: &state.names,
            dir: &HostRecords,
        };
        f(&rules).map_err(sign_in_error_to_wit)
    })
}

impl sign_in::Guest for Component {
    fn link(identity: types::ExternalIdentity) -> Result<sign_in::SignedIn, sign_in::Error> {
        let identity = identity_from_wit(identity);
        let s = with_sign_in(|rules| rules.link(&identity))?;
        Ok(sign_in::SignedIn {
            person_id: s.person_id,
            organization_id: s.organization_id,
            status: account_status_to_wit(s.status),
            linked: s.linked,
        })
    }

    fn decide_link(
        identity: types::ExternalIdentity,
        person_id: String,
    ) -> Result<types::Decision, sign_in::Error> {
        let identity = identity_from_wit(identity);
        with_sign_in(|rules| rules.decide_link(&identity, &person_id)).map(decision_to_wit)
    }

    fn check_session(person_id: String, organization_id: String) -> Result<(), sign_in::Error> {
        with_sign_in(|rules| rules.check_session(&person_id, &organization_id))
    }

    fn record_refusal(
        provider: String,
        issuer: String,
        reason: String,
    ) -> Result<(), sign_in::Error> {
        with_sign_in(|rules| rules.record_refusal(&provider, &issuer, &reason))
    }
}

/// Records read through the host: the status cache first, then the directory.
struct HostRecords;

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

fn dir_error(err: directory::Error) -> users::DirError {
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

fn change_op_to_wit(op: model::ChangeOp) -> directory::ChangeOp {
    match op {
        model::ChangeOp::ExpectMembership(person, version) => {
            directory::ChangeOp::ExpectMembership((person, version))
        }
        model::ChangeOp::ExpectActiveAdmins(organization, count) => {
            directory::ChangeOp::ExpectActiveAdmins((organization, count))
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

fn account_status_to_wit(s: model::AccountStatus) -> types::AccountStatus {
    match s {
        model::AccountStatus::Invited => types::AccountStatus::Invited,
        model::AccountStatus::Active => types::AccountStatus::Active,
        model::AccountStatus::Revoked => types::AccountStatus::Revoked,
        model::AccountStatus::Removed => types::AccountStatus::Removed,
    }
}

fn membership_to_wit(m: model::Membership) -> types::Membership {
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

fn organization_to_wit(o: model::Organization) -> types::Organization {
    types::Organization {
        id: o.id,
        name: o.name,
        status: match o.status {
            model::OrganizationStatus::Pending => types::OrganizationStatus::Pending,
            model::OrganizationStatus::Approved => types::OrganizationStatus::Approved,
            model::OrganizationStatus::Rejected => types::OrganizationStatus::Rejected,
            model::OrganizationStatus::Blocked => types::OrganizationStatus::Blocked,
        },
        active_admins: o.active_admins,
    }
}

fn onboarding_status_to_wit(s: model::OnboardingStatus) -> types::OnboardingStatus {
    match s {
        model::OnboardingStatus::Pending => types::OnboardingStatus::Pending,
        model::OnboardingStatus::Approved => types::OnboardingStatus::Approved,
        model::OnboardingStatus::Rejected => types::OnboardingStatus::Rejected,
    }
}

fn onboarding_status_from_wit(s: types::OnboardingStatus) -> model::OnboardingStatus {
    match s {
        types::OnboardingStatus::Pending => model::OnboardingStatus::Pending,
        types::OnboardingStatus::Approved => model::OnboardingStatus::Approved,
        types::OnboardingStatus::Rejected => model::OnboardingStatus::Rejected,
    }
}

fn onboarding_to_wit(r: model::OnboardingRequest) -> types::OnboardingRequest {
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

fn onboarding_from_wit(r: types::OnboardingRequest) -> model::OnboardingRequest {
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

fn directory_unavailable(err: directory::Error) -> Unavailable {
    Unavailable(match err {
        directory::Error::Unavailable(m) => format!("directory unavailable: {m}"),
        other => format!("directory: {other:?}"),
    })
}

fn account_status(s: types::AccountStatus) -> model::AccountStatus {
    match s {
        types::AccountStatus::Invited => model::AccountStatus::Invited,
        types::AccountStatus::Active => model::AccountStatus::Active,
        types::AccountStatus::Revoked => model::AccountStatus::Revoked,
        types::AccountStatus::Removed => model::AccountStatus::Removed,
    }
}

fn organization_from_wit(o: types::Organization) -> model::Organization {
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

fn account_from_wit(a: types::Account) -> model::Account {
    model::Account {
        person: model::Person {
            id: a.person.id,
            email: a.person.email,
            name: a.person.name,
        },
        membership: a.membership.map(|m| model::Membership {
            organization_id: m.organization_id,
            person_id: m.person_id,
            status: account_status(m.status),
            previous_status: m.previous_status.map(account_status),
            is_admin: m.is_admin,
            roles: m.roles,
            spending_limit: m.spending_limit,
            invited_at: m.invited_at,
            version: m.version,
        }),
        organization: a.organization.map(organization_from_wit),
    }
}

fn decision_to_wit(d: model::Decision) -> types::Decision {
    types::Decision {
        effect: match d.effect {
            model::Effect::Allow => types::Effect::Allow,
            model::Effect::Deny => types::Effect::Deny,
        },
        policies: d.policies,
        errors: d.errors,
    }
}
