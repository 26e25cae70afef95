//! The plugin's exports, called in the model's types: each call converts
//! its arguments to WIT, calls the generated binding, and gives back the
//! result in the model with the guest's error as the library's
//! [`Error`]. An `Err` of the outer `wasmtime::Result` is the instance
//! failing (a trap, the deadline), which the pool discards it for.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::exports::partnergate::b2b::{access, org_users, policy, sign_in};
use crate::bindings::types;
use crate::bindings::{Plugin, PluginPre};
use crate::convert::Conv;
use crate::decision::Decision;
use crate::error::Error;
use crate::model::{
    Account, Answer, AuditPage, BulkAction, ExternalIdentity, MemberPage, Membership, NewUser,
    OnboardingRequest, OnboardingStatus, Organization, PolicyFile, SignedIn, Staff, Summary,
    Target, UserChanges, UserQuery, UserView,
};
use crate::reuse::Asked;
use crate::state::HostState;

/// What a call gives: the instance failed (outer), or the plugin answered
/// (inner).
pub(crate) type Outcome<T> = wasmtime::Result<Result<T, Error>>;

/// The component with its imports linked, ready to instantiate.
pub(crate) struct Linked(PluginPre<HostState>);

impl Linked {
    /// Links WASI and the plugin's imports for `component`.
    pub(crate) fn new(engine: &wasmtime::Engine, component: &Component) -> Result<Self, Error> {
        let mut linker: Linker<HostState> = Linker::new(engine);
        let link =
            |e: wasmtime::Error| Error::Engine(format!("cannot link the plugin's imports: {e:?}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        // Each import but `records`, which lowers the host's records itself.
        {
            use crate::bindings::partnergate::b2b::{directory, notifications, types};
            use crate::bindings::wasi::logging::logging;
            logging::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link)?;
            types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link)?;
            directory::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link)?;
            notifications::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(link)?;
        }
        crate::imports::records::add_to_linker(&mut linker).map_err(link)?;
        let pre = linker.instantiate_pre(component).map_err(link)?;
        let pre = PluginPre::new(pre).map_err(|e| {
            Error::Engine(format!("the component is not a PartnerGate plugin: {e:?}"))
        })?;
        Ok(Self(pre))
    }

    /// A new instance in `store`.
    pub(crate) async fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Instance> {
        self.0
            .instantiate_async(store)
            .await
            .map(|plugin| Instance {
                plugin: Box::new(plugin),
                request: access::Request {
                    principal: String::new(),
                    action: String::new(),
                    resource: String::new(),
                    context: String::new(),
                    organization: None,
                },
            })
    }
}

/// One instance of the plugin. Boxed: the bindings hold a handle for every
/// export (kilobytes), and an instance moves in and out of the pool on
/// every call.
pub(crate) struct Instance {
    plugin: Box<Plugin>,
    /// The request of the last `authorize`, kept so that the next one is
    /// written into the same strings rather than allocated anew.
    request: access::Request,
}

/// Items of the model as the bindings take them.
fn many<T: Clone + Conv<U>, U>(items: &[T]) -> Vec<U> {
    items.iter().cloned().map(Conv::conv).collect()
}

impl Instance {
    /// Decides `asked`.
    pub(crate) async fn authorize(
        &mut self,
        store: &mut Store<HostState>,
        asked: Asked<'_>,
    ) -> Outcome<Answer> {
        let request = &mut self.request;
        for (text, given) in [
            (&mut request.principal, asked.principal),
            (&mut request.action, asked.action),
            (&mut request.resource, asked.resource),
            (&mut request.context, asked.context),
        ] {
            text.clear();
            text.push_str(given);
        }
        match (&mut request.organization, asked.organization) {
            (Some(text), Some(given)) => {
                text.clear();
                text.push_str(given);
            }
            (organization, given) => *organization = given.map(str::to_string),
        }
        let answer = self
            .plugin
            .partnergate_b2b_access()
            .call_authorize(store, &self.request)
            .await?;
        Ok(answer.map(Conv::conv).map_err(access_error))
    }

    /// The set in use as the plugin prepared it for other instances.
    pub(crate) async fn prepared(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Option<String>> {
        self.plugin
            .partnergate_b2b_policy()
            .call_prepared(store)
            .await
    }
}

/// Calls of one guest interface (`$guest`, its error made the library's
/// by `$error`): each takes the store and the listed arguments, lends them
/// to the binding as the expressions after `=>` say, and gives the answer
/// in the model (through `|` a function other than `conv`).
macro_rules! guest_calls {
    ($guest:ident, $error:path; $(
        $(#[$doc:meta])*
        $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty
            => $call:ident($($pass:expr),*) $(| $map:expr)?;
    )+) => {
        impl Instance {$(
            $(#[$doc])*
            pub(crate) async fn $name(
                &self,
                store: &mut Store<HostState>,
                $($arg: $ty),*
            ) -> Outcome<$ret> {
                let answer = self.plugin.$guest().$call(store, $($pass),*).await?;
                Ok(answer.map_err($error).map(guest_calls!(@map $($map)?)))
            }
        )+}
    };
    (@map) => { Conv::conv };
    (@map $map:expr) => { $map };
}

guest_calls! { partnergate_b2b_policy, policy_error;
    /// Loads a policy set from its files (which validates it).
    load(schema: &PolicyFile, files: &[PolicyFile]) -> Summary
        => call_load(&schema.clone().conv(), &many(files));
    /// Checks a policy set without putting it in use.
    validate(schema: &PolicyFile, files: &[PolicyFile]) -> Summary
        => call_validate(&schema.clone().conv(), &many(files));
    /// Loads a set another instance prepared.
    load_prepared(prepared: &str) -> Summary => call_load_prepared(prepared);
}

guest_calls! { partnergate_b2b_sign_in, sign_in_error;
    /// Links an identity to a customer when the sign-in rules allow.
    link(identity: &ExternalIdentity) -> SignedIn => call_link(&identity.clone().conv());
    /// What the policies decide on `autoLink`, changing nothing.
    decide_link(identity: &ExternalIdentity, person_id: &str) -> Decision
        => call_decide_link(&identity.clone().conv(), person_id) | decision;
    /// Whether a session may go on; the person's account when it may.
    check_session(person_id: &str, organization_id: &str) -> Account
        => call_check_session(person_id, organization_id);
    /// Links an identity from a staff provider to a staff member.
    link_staff(identity: &ExternalIdentity) -> String
        => call_link_staff(&identity.clone().conv());
    /// Whether a staff member's session may go on; the record when it may.
    check_staff_session(staff_id: &str) -> Staff => call_check_staff_session(staff_id);
    /// Audits a sign-in refused before linking.
    record_refusal(provider: &str, issuer: &str, reason: &str) -> ()
        => call_record_refusal(provider, issuer, reason) | |()| ();
}

guest_calls! { partnergate_b2b_org_users, user_error;
    /// Adds a user.
    add_user(actor: &str, organization_id: &str, user: &NewUser) -> Membership
        => call_add_user(actor, organization_id, &user.clone().conv());
    /// Edits a user.
    edit_user(actor: &str, target: &Target, changes: &UserChanges) -> Membership
        => call_edit_user(actor, &target.clone().conv(), &changes.clone().conv());
    /// Removes a user.
    remove_user(actor: &str, target: &Target) -> Membership
        => call_remove_user(actor, &target.clone().conv());
    /// Revokes a user's access.
    revoke_user(actor: &str, target: &Target) -> Membership
        => call_revoke_user(actor, &target.clone().conv());
    /// Reinstates a revoked user.
    reinstate_user(actor: &str, target: &Target) -> Membership
        => call_reinstate_user(actor, &target.clone().conv());
    /// Re-sends an invitation.
    reinvite_user(actor: &str, target: &Target) -> Membership
        => call_reinvite_user(actor, &target.clone().conv());
    /// Adds many users; one result each.
    bulk_add(actor: &str, organization_id: &str, users: &[NewUser])
        -> Vec<Result<Membership, Error>>
        => call_bulk_add(actor, organization_id, &many(users)) | per_item;
    /// One lifecycle step for many users; one result each.
    bulk_change(actor: &str, action: BulkAction, targets: &[Target])
        -> Vec<Result<Membership, Error>>
        => call_bulk_change(actor, action.conv(), &many(targets)) | per_item;
    /// What `actor` may see of each person and do to them.
    get_users(actor: &str, person_ids: &[String]) -> Vec<Option<UserView>>
        => call_get_users(actor, person_ids);
    /// Lists and searches users.
    list_users(actor: &str, query: &UserQuery) -> MemberPage
        => call_list_users(actor, &query.clone().conv());
    /// Reads the audit trail.
    read_audit(actor: &str, organization_id: Option<&str>, cursor: Option<&str>, limit: u32)
        -> AuditPage
        => call_read_audit(actor, organization_id, cursor, limit);
    /// A prospect's onboarding request.
    submit_onboarding(organization_name: &str, requester_name: &str, requester_email: &str)
        -> OnboardingRequest
        => call_submit_onboarding(organization_name, requester_name, requester_email);
    /// Approves an onboarding request.
    approve_onboarding(actor: &str, request_id: &str) -> OnboardingRequest
        => call_approve_onboarding(actor, request_id);
    /// Rejects an onboarding request.
    reject_onboarding(actor: &str, request_id: &str, reason: &str) -> OnboardingRequest
        => call_reject_onboarding(actor, request_id, reason);
    /// Lists onboarding requests.
    list_onboarding(actor: &str, status: Option<OnboardingStatus>) -> Vec<OnboardingRequest>
        => call_list_onboarding(actor, status.conv());
    /// Creates an approved organization.
    create_organization(actor: &str, name: &str) -> Organization
        => call_create_organization(actor, name);
    /// The organizations an actor may see.
    list_organizations(actor: &str, search: Option<&str>) -> Vec<Organization>
        => call_list_organizations(actor, search);
    /// Blocks or unblocks an organization.
    set_organization_blocked(actor: &str, organization_id: &str, blocked: bool, reason: &str)
        -> Organization
        => call_set_organization_blocked(actor, organization_id, blocked, reason);
    /// The staff assigned to an organization.
    organization_staff(actor: &str, organization_id: &str) -> Vec<Staff>
        => call_organization_staff(actor, organization_id);
    /// Assigns a staff member, by email, to an organization.
    assign_staff(actor: &str, organization_id: &str, staff_email: &str) -> Staff
        => call_assign_staff(actor, organization_id, staff_email);
    /// Withdraws a staff member's assignment to an organization.
    unassign_staff(actor: &str, organization_id: &str, staff_id: &str) -> Staff
        => call_unassign_staff(actor, organization_id, staff_id);
}

/// A bulk call's results, each with the library's error.
fn per_item(
    results: Vec<Result<org_users::Membership, org_users::Error>>,
) -> Vec<Result<Membership, Error>> {
    results
        .into_iter()
        .map(|result| result.map_err(user_error).map(Conv::conv))
        .collect()
}

/// A decision of the plugin as the library's.
fn decision(d: types::Decision) -> Decision {
    Decision::from(Conv::<crate::model::Decision>::conv(d))
}

/// An `org-users` error as the library's.
fn user_error(err: org_users::Error) -> Error {
    match err {
        org_users::Error::Unsupported => {
            Error::Unsupported("the loaded plugin does not implement this operation".into())
        }
        org_users::Error::Denied(d) => Error::Denied(decision(d)),
        org_users::Error::Invalid(m) => Error::InvalidRequest(m),
        org_users::Error::NotFound(m) => Error::NotFound(m),
        org_users::Error::Conflict(m) => Error::Conflict(m),
        org_users::Error::RateLimited(s) => Error::RateLimited(s),
        org_users::Error::Unavailable(m) => Error::Unavailable(m),
        org_users::Error::InternalError(m) => {
            Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))
        }
    }
}

fn sign_in_error(err: sign_in::Error) -> Error {
    match err {
        sign_in::Error::Unsupported => {
            Error::Unsupported("the loaded plugin does not implement sign-in".into())
        }
        sign_in::Error::Refused(reason) => Error::Refused(reason),
        sign_in::Error::Unavailable(m) => Error::Unavailable(m),
        sign_in::Error::InternalError(m) => {
            Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))
        }
    }
}

fn access_error(err: access::Error) -> Error {
    match err {
        access::Error::InvalidRequest(m) => Error::InvalidRequest(m),
        access::Error::Unavailable(m) => Error::Unavailable(m),
        access::Error::NotLoaded => Error::Engine("the plugin has no policy set loaded".into()),
        access::Error::InternalError(m) => {
            Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))
        }
    }
}

fn policy_error(err: policy::Error) -> Error {
    match err {
        policy::Error::Invalid(problems) => Error::InvalidPolicies(problems.conv()),
        policy::Error::InternalError(m) => Error::Engine(format!(
            "the plugin failed to load policies: {}",
            m.unwrap_or_default()
        )),
    }
}
