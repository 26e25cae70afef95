//! The component's exports and imports: conversion only.

use std::cell::RefCell;

use crate::access::{self, AccessError, Names, Records, Unavailable};
use crate::model;
use crate::policy_set::{self, LoadedPolicies, Problem, SourceFile, Summary};

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    generate_all,
});

use exports::partnergate::b2b::{access as wit_access, org_users, policy, sign_in};
use partnergate::b2b::{directory, status_cache, types};
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
}

impl policy::Guest for Component {
    fn load(
        schema: policy::PolicyFile,
        files: Vec<policy::PolicyFile>,
    ) -> Result<policy::Summary, policy::Error> {
        let loaded = check(schema, files)?;
        let summary = summary_to_wit(&loaded.summary);
        log(Level::Info, "policy", &format!("loaded policy set {}", summary.version));
        STATE.with(|state| *state.borrow_mut() = Some(State { loaded, names: Names::new() }));
        Ok(summary)
    }

    fn validate(
        schema: policy::PolicyFile,
        files: Vec<policy::PolicyFile>,
    ) -> Result<policy::Summary, policy::Error> {
        check(schema, files).map(|loaded| summary_to_wit(&loaded.summary))
    }

    fn current() -> Option<policy::Summary> {
        STATE.with(|state| state.borrow().as_ref().map(|s| summary_to_wit(&s.loaded.summary)))
    }
}

fn check(
    schema: policy::PolicyFile,
    files: Vec<policy::PolicyFile>,
) -> Result<LoadedPolicies, policy::Error> {
    let source = |f: policy::PolicyFile| SourceFile { name: f.name, text: f.text };
    let files: Vec<SourceFile> = files.into_iter().map(source).collect();
    policy_set::load(&source(schema), &files)
        .map_err(|problems| policy::Error::Invalid(problems.into_iter().map(problem_to_wit).collect()))
}

fn problem_to_wit(p: Problem) -> policy::Problem {
    policy::Problem { file: p.file, line: p.line, column: p.column, message: p.message }
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
            match access::authorize(&state.loaded, &state.names, &HostRecords, &request) {
                Ok(decision) => Ok(decision_to_wit(decision)),
                Err(AccessError::InvalidRequest(m)) => Err(wit_access::Error::InvalidRequest(m)),
                Err(AccessError::Unavailable(Unavailable(m))) => Err(wit_access::Error::Unavailable(m)),
            }
        })
    }
}

impl org_users::Guest for Component {
    fn add_user(
        _actor: String,
        _organization_id: String,
        _user: org_users::NewUser,
    ) -> Result<types::Membership, org_users::Error> {
        Err(org_users::Error::Unsupported)
    }

    fn revoke_user(_actor: String, _person_id: String, _version: u64) -> Result<types::Membership, org_users::Error> {
        Err(org_users::Error::Unsupported)
    }

    fn reinstate_user(_actor: String, _person_id: String, _version: u64) -> Result<types::Membership, org_users::Error> {
        Err(org_users::Error::Unsupported)
    }

    fn remove_user(_actor: String, _person_id: String, _version: u64) -> Result<types::Membership, org_users::Error> {
        Err(org_users::Error::Unsupported)
    }
}

impl sign_in::Guest for Component {
    fn link(_identity: types::ExternalIdentity) -> Result<String, sign_in::Error> {
        Err(sign_in::Error::Unsupported)
    }
}

/// Records read through the host: the status cache first, then the directory.
struct HostRecords;

impl Records for HostRecords {
    fn account(&self, person_id: &str) -> Result<Option<model::Account>, Unavailable> {
        match status_cache::get(person_id) {
            Ok(Some(account)) => return Ok(Some(account_from_wit(account))),
            Ok(None) => {}
            Err(err) => log(Level::Warn, "status-cache", &format!("cache read failed, reading the directory: {err:?}")),
        }
        let Some(account) = directory::get_account(person_id).map_err(directory_unavailable)? else {
            return Ok(None);
        };
        if let Err(err) = status_cache::put(&account) {
            log(Level::Warn, "status-cache", &format!("cache write failed: {err:?}"));
        }
        Ok(Some(account_from_wit(account)))
    }

    fn organization(&self, id: &str) -> Result<Option<model::Organization>, Unavailable> {
        directory::get_organization(id)
            .map(|org| org.map(organization_from_wit))
            .map_err(directory_unavailable)
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
        person: model::Person { id: a.person.id, email: a.person.email, name: a.person.name },
        membership: a.membership.map(|m| model::Membership {
            organization_id: m.organization_id,
            person_id: m.person_id,
            status: account_status(m.status),
            previous_status: m.previous_status.map(account_status),
            is_admin: m.is_admin,
            roles: m.roles,
            spending_limit: m.spending_limit,
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
