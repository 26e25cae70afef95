//! The component: its exports, each handing the work to the rules
//! (`access`, `users`, `signin`) over the records the host lends
//! ([`host`]), with the WIT types converted in [`convert`].

mod bindings;
mod convert;
mod host;

use std::cell::RefCell;

use crate::access::{self, AccessError, Names, Unavailable};
use crate::model;
use crate::policy_set::{self, LoadedPolicies, PolicyFile};
use crate::rules::Rules;
use crate::{signin, users};

use bindings::exports::partnergate::b2b::{access as wit_access, org_users, policy, sign_in};
use bindings::partnergate::b2b::types;
use bindings::wasi::logging::logging::{Level, log};

use convert::{
    account_status, account_status_to_wit, account_to_wit, decision_to_wit, identity_from_wit,
    membership_to_wit, new_user, onboarding_status_from_wit, onboarding_to_wit,
    organization_to_wit, problem_to_wit, sign_in_error_to_wit, staff_to_wit, summary_to_wit,
    target_from_wit, user_error, user_view_to_wit,
};
use host::{HostRecords, key_to_wit};

struct Component;

bindings::export!(Component with_types_in bindings);

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
        Ok(put_in_use(check(schema, files)?))
    }

    fn prepared() -> Option<String> {
        STATE.with(|state| {
            let prepared = state.borrow().as_ref()?.loaded.prepared();
            prepared
                .map_err(|e| log(Level::Warn, "policy", &format!("no prepared set: {e}")))
                .ok()
        })
    }

    fn load_prepared(prepared: String) -> Result<policy::Summary, policy::Error> {
        let loaded = policy_set::load_prepared(&prepared)
            .map_err(|e| policy::Error::InternalError(Some(e)))?;
        Ok(put_in_use(loaded))
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

/// Makes `loaded` the set every later decision uses, with an empty memo.
fn put_in_use(loaded: LoadedPolicies) -> policy::Summary {
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
    summary
}

fn check(
    schema: policy::PolicyFile,
    files: Vec<policy::PolicyFile>,
) -> Result<LoadedPolicies, policy::Error> {
    let source = |f: policy::PolicyFile| PolicyFile {
        name: f.name,
        text: f.text,
    };
    let files: Vec<PolicyFile> = files.into_iter().map(source).collect();
    policy_set::load(&source(schema), &files).map_err(|problems| {
        policy::Error::Invalid(problems.into_iter().map(problem_to_wit).collect())
    })
}

impl wit_access::Guest for Component {
    fn authorize(request: wit_access::Request) -> Result<wit_access::Answer, wit_access::Error> {
        STATE.with(|state| {
            let state = state.borrow();
            let state = state.as_ref().ok_or(wit_access::Error::NotLoaded)?;
            let request = access::Request {
                principal: &request.principal,
                action: &request.action,
                resource: &request.resource,
                context: &request.context,
                organization: request.organization.as_deref(),
            };
            let decided = MEMO.with(|memo| {
                access::answer_for(
                    &state.loaded,
                    &state.names,
                    &HostRecords,
                    &request,
                    Some(&mut memo.borrow_mut()),
                )
            });
            match decided {
                Ok(answer) => Ok(wit_access::Answer {
                    decision: decision_to_wit(answer.decision),
                    basis: answer.basis.map(|basis| {
                        basis
                            .into_iter()
                            .map(|(key, stamp)| wit_access::Stamped {
                                key: key_to_wit(key),
                                stamp,
                            })
                            .collect()
                    }),
                }),
                Err(AccessError::InvalidRequest(m)) => Err(wit_access::Error::InvalidRequest(m)),
                Err(AccessError::Unavailable(Unavailable(m))) => {
                    Err(wit_access::Error::Unavailable(m))
                }
            }
        })
    }
}

/// The `org-users` calls that take just the actor and one target user, each
/// handed to the rule of the same name.
macro_rules! on_target {
    ($($name:ident),+) => {$(
        fn $name(
            actor: String,
            target: org_users::Target,
        ) -> Result<types::Membership, org_users::Error> {
            with_users(|u| u.$name(&actor, &target_from_wit(target))).map(membership_to_wit)
        }
    )+};
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

    on_target! { remove_user, revoke_user, reinstate_user, reinvite_user }

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

    fn get_users(
        actor: String,
        person_ids: Vec<String>,
    ) -> Result<Vec<Option<org_users::UserView>>, org_users::Error> {
        with_users(|u| u.view_users(&actor, &person_ids))
            .map(|views| views.into_iter().map(|v| v.map(user_view_to_wit)).collect())
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

    fn list_organizations(
        actor: String,
        search: Option<String>,
    ) -> Result<Vec<types::Organization>, org_users::Error> {
        with_users(|u| u.list_organizations(&actor, search.as_deref()))
            .map(|orgs| orgs.into_iter().map(organization_to_wit).collect())
    }

    fn set_organization_blocked(
        actor: String,
        organization_id: String,
        blocked: bool,
        reason: String,
    ) -> Result<types::Organization, org_users::Error> {
        with_users(|u| u.set_organization_blocked(&actor, &organization_id, blocked, &reason))
            .map(organization_to_wit)
    }

    fn organization_staff(
        actor: String,
        organization_id: String,
    ) -> Result<Vec<types::Staff>, org_users::Error> {
        with_users(|u| u.organization_staff(&actor, &organization_id))
            .map(|staff| staff.into_iter().map(staff_to_wit).collect())
    }

    fn assign_staff(
        actor: String,
        organization_id: String,
        staff_email: String,
    ) -> Result<types::Staff, org_users::Error> {
        with_users(|u| u.assign_staff(&actor, &organization_id, &staff_email)).map(staff_to_wit)
    }

    fn unassign_staff(
        actor: String,
        organization_id: String,
        staff_id: String,
    ) -> Result<types::Staff, org_users::Error> {
        with_users(|u| u.unassign_staff(&actor, &organization_id, &staff_id)).map(staff_to_wit)
    }
}

/// Runs `f` with the rules over the policy set in use and the host's
/// records; without a policy set, fails with `unloaded`'s internal error.
fn with_rules<T, E>(
    unloaded: fn(Option<String>) -> E,
    f: impl FnOnce(&Rules<'_, HostRecords>) -> Result<T, E>,
) -> Result<T, E> {
    STATE.with(|state| match state.borrow().as_ref() {
        Some(state) => f(&Rules::new(&state.loaded, &state.names, &HostRecords)),
        None => Err(unloaded(Some("no policy set loaded".into()))),
    })
}

/// A lifecycle rule, its error converted.
fn with_users<T>(
    f: impl FnOnce(&Rules<'_, HostRecords>) -> Result<T, users::UserError>,
) -> Result<T, org_users::Error> {
    with_rules(org_users::Error::InternalError, |rules| {
        f(rules).map_err(user_error)
    })
}

/// A sign-in rule, its error converted.
fn with_sign_in<T>(
    f: impl FnOnce(&Rules<'_, HostRecords>) -> Result<T, signin::SignInError>,
) -> Result<T, sign_in::Error> {
    with_rules(sign_in::Error::InternalError, |rules| {
        f(rules).map_err(sign_in_error_to_wit)
    })
}

impl sign_in::Guest for Component {
    fn link(identity: types::ExternalIdentity) -> Result<sign_in::SignedIn, sign_in::Error> {
        let identity = identity_from_wit(identity);
        let s = with_sign_in(|rules| rules.link(&identity))?;
        Ok(sign_in::SignedIn {
            person_id: s.person_id,
            organization_id: s.organization_id,
            organizations: s.organizations,
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

    fn check_session(
        person_id: String,
        organization_id: String,
    ) -> Result<types::Account, sign_in::Error> {
        with_sign_in(|rules| rules.check_session(&person_id, &organization_id)).map(account_to_wit)
    }

    fn link_staff(identity: types::ExternalIdentity) -> Result<String, sign_in::Error> {
        let identity = identity_from_wit(identity);
        with_sign_in(|rules| rules.link_staff(&identity))
    }

    fn check_staff_session(staff_id: String) -> Result<types::Staff, sign_in::Error> {
        with_sign_in(|rules| rules.check_staff_session(&staff_id)).map(staff_to_wit)
    }

    fn record_refusal(
        provider: String,
        issuer: String,
        reason: String,
    ) -> Result<(), sign_in::Error> {
        with_sign_in(|rules| rules.record_refusal(&provider, &issuer, &reason))
    }
}
