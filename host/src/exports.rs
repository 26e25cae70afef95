//! The plugin's exports, called in the model's types: each call converts
//! its arguments to WIT, calls the generated binding, and gives back the
//! result in the model with the guest's error as the library's
//! [`Error`]. An `Err` of the outer `wasmtime::Result` is the instance
//! failing (a trap, the deadline), which the pool discards it for.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::exports::partnergate::b2b::{access, org_users, policy, sign_in};
use crate::bindings::{Plugin, PluginPre};
use crate::convert::Conv;
use crate::decision::Decision;
use crate::error::Error;
use crate::model::{
    AccessRequest, Account, Answer, AuditPage, BulkAction, ExternalIdentity, MemberPage,
    Membership, NewUser, OnboardingRequest, OnboardingStatus, Organization, PolicyFile, SignedIn,
    Summary, Target, UserChanges, UserQuery, UserView,
};
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
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(link)?;
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
        self.0.instantiate_async(store).await.map(Instance)
    }
}

/// One instance of the plugin.
pub(crate) struct Instance(Plugin);

/// Items of the model as the bindings take them.
fn many<T: Clone + Conv<U>, U>(items: &[T]) -> Vec<U> {
    items.iter().cloned().map(Conv::conv).collect()
}

impl Instance {
    /// Decides `request`; gives it back with the answer.
    pub(crate) async fn authorize(
        &self,
        store: &mut Store<HostState>,
        request: AccessRequest,
    ) -> wasmtime::Result<(AccessRequest, Result<Answer, Error>)> {
        let wit: access::Request = request.conv();
        let answer = self
            .0
            .partnergate_b2b_access()
            .call_authorize(store, &wit)
            .await?;
        Ok((wit.conv(), answer.map(Conv::conv).map_err(access_error)))
    }

    /// Loads a policy set from its files (which validates it).
    pub(crate) async fn load(
        &self,
        store: &mut Store<HostState>,
        schema: &PolicyFile,
        files: &[PolicyFile],
    ) -> Outcome<Summary> {
        let (schema, files) = (schema.clone().conv(), many(files));
        let loaded = self
            .0
            .partnergate_b2b_policy()
            .call_load(store, &schema, &files)
            .await?;
        Ok(loaded.map(Conv::conv).map_err(policy_error))
    }

    /// Checks a policy set without putting it in use.
    pub(crate) async fn validate(
        &self,
        store: &mut Store<HostState>,
        schema: &PolicyFile,
        files: &[PolicyFile],
    ) -> Outcome<Summary> {
        let (schema, files) = (schema.clone().conv(), many(files));
        let checked = self
            .0
            .partnergate_b2b_policy()
            .call_validate(store, &schema, &files)
            .await?;
        Ok(checked.map(Conv::conv).map_err(policy_error))
    }

    /// The set in use as the plugin prepared it for other instances.
    pub(crate) async fn prepared(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Option<String>> {
        self.0.partnergate_b2b_policy().call_prepared(store).await
    }

    /// Loads a set another instance prepared.
    pub(crate) async fn load_prepared(
        &self,
        store: &mut Store<HostState>,
        prepared: &str,
    ) -> Outcome<Summary> {
        let loaded = self
            .0
            .partnergate_b2b_policy()
            .call_load_prepared(store, prepared)
            .await?;
        Ok(loaded.map(Conv::conv).map_err(policy_error))
    }

    /// Adds a user.
    pub(crate) async fn add_user(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        organization_id: &str,
        user: &NewUser,
    ) -> Outcome<Membership> {
        let user = user.clone().conv();
        let done = self
            .0
            .partnergate_b2b_org_users()
            .call_add_user(store, actor, organization_id, &user)
            .await?;
        Ok(user_result(done).map(Conv::conv))
    }

    /// Edits a user.
    pub(crate) async fn edit_user(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        target: &Target,
        changes: &UserChanges,
    ) -> Outcome<Membership> {
        let (target, changes) = (target.clone().conv(), changes.clone().conv());
        let done = self
            .0
            .partnergate_b2b_org_users()
            .call_edit_user(store, actor, &target, &changes)
            .await?;
        Ok(user_result(done).map(Conv::conv))
    }
}

/// Lifecycle steps on one target: each is `actor`, `target` to a
/// membership.
macro_rules! steps {
    ($($(#[$doc:meta])* $name:ident => $call:ident;)+) => {
        impl Instance {$(
            $(#[$doc])*
            pub(crate) async fn $name(
                &self,
                store: &mut Store<HostState>,
                actor: &str,
                target: &Target,
            ) -> Outcome<Membership> {
                let target = target.clone().conv();
                let done = self
                    .0
                    .partnergate_b2b_org_users()
                    .$call(store, actor, &target)
                    .await?;
                Ok(user_result(done).map(Conv::conv))
            }
        )+}
    };
}

steps! {
    /// Removes a user.
    remove_user => call_remove_user;
    /// Revokes a user's access.
    revoke_user => call_revoke_user;
    /// Reinstates a revoked user.
    reinstate_user => call_reinstate_user;
    /// Re-sends an invitation.
    reinvite_user => call_reinvite_user;
}

impl Instance {
    /// Adds many users; one result each.
    pub(crate) async fn bulk_add(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        organization_id: &str,
        users: &[NewUser],
    ) -> Outcome<Vec<Result<Membership, Error>>> {
        let users = many(users);
        let done = self
            .0
            .partnergate_b2b_org_users()
            .call_bulk_add(store, actor, organization_id, &users)
            .await?;
        Ok(user_result(done).map(per_item))
    }

    /// One lifecycle step for many users; one result each.
    pub(crate) async fn bulk_change(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        action: BulkAction,
        targets: &[Target],
    ) -> Outcome<Vec<Result<Membership, Error>>> {
        let targets = many(targets);
        let done = self
            .0
            .partnergate_b2b_org_users()
            .call_bulk_change(store, actor, action.conv(), &targets)
            .await?;
        Ok(user_result(done).map(per_item))
    }

    /// What `actor` may see of each person and do to them.
    pub(crate) async fn get_users(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        person_ids: &[String],
    ) -> Outcome<Vec<Option<UserView>>> {
        let views = self
            .0
            .partnergate_b2b_org_users()
            .call_get_users(store, actor, person_ids)
            .await?;
        Ok(user_result(views).map(Conv::conv))
    }

    /// Lists and searches users.
    pub(crate) async fn list_users(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        query: &UserQuery,
    ) -> Outcome<MemberPage> {
        let query = query.clone().conv();
        let page = self
            .0
            .partnergate_b2b_org_users()
            .call_list_users(store, actor, &query)
            .await?;
        Ok(user_result(page).map(Conv::conv))
    }

    /// Reads the audit trail.
    pub(crate) async fn read_audit(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        organization_id: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Outcome<AuditPage> {
        let page = self
            .0
            .partnergate_b2b_org_users()
            .call_read_audit(store, actor, organization_id, cursor, limit)
            .await?;
        Ok(user_result(page).map(Conv::conv))
    }

    /// A prospect's onboarding request.
    pub(crate) async fn submit_onboarding(
        &self,
        store: &mut Store<HostState>,
        organization_name: &str,
        requester_name: &str,
        requester_email: &str,
    ) -> Outcome<OnboardingRequest> {
        let request = self
            .0
            .partnergate_b2b_org_users()
            .call_submit_onboarding(store, organization_name, requester_name, requester_email)
            .await?;
        Ok(user_result(request).map(Conv::conv))
    }

    /// Approves an onboarding request.
    pub(crate) async fn approve_onboarding(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        request_id: &str,
    ) -> Outcome<OnboardingRequest> {
        let request = self
            .0
            .partnergate_b2b_org_users()
            .call_approve_onboarding(store, actor, request_id)
            .await?;
        Ok(user_result(request).map(Conv::conv))
    }

    /// Rejects an onboarding request.
    pub(crate) async fn reject_onboarding(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        request_id: &str,
        reason: &str,
    ) -> Outcome<OnboardingRequest> {
        let request = self
            .0
            .partnergate_b2b_org_users()
            .call_reject_onboarding(store, actor, request_id, reason)
            .await?;
        Ok(user_result(request).map(Conv::conv))
    }

    /// Lists onboarding requests.
    pub(crate) async fn list_onboarding(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        status: Option<OnboardingStatus>,
    ) -> Outcome<Vec<OnboardingRequest>> {
        let requests = self
            .0
            .partnergate_b2b_org_users()
            .call_list_onboarding(store, actor, status.conv())
            .await?;
        Ok(user_result(requests).map(Conv::conv))
    }

    /// Creates an approved organization.
    pub(crate) async fn create_organization(
        &self,
        store: &mut Store<HostState>,
        actor: &str,
        name: &str,
    ) -> Outcome<Organization> {
        let created = self
            .0
            .partnergate_b2b_org_users()
            .call_create_organization(store, actor, name)
            .await?;
        Ok(user_result(created).map(Conv::conv))
    }

    /// Links an identity to a customer when the sign-in rules allow.
    pub(crate) async fn link(
        &self,
        store: &mut Store<HostState>,
        identity: &ExternalIdentity,
    ) -> Outcome<SignedIn> {
        let identity = identity.clone().conv();
        let linked = self
            .0
            .partnergate_b2b_sign_in()
            .call_link(store, &identity)
            .await?;
        Ok(linked.map(Conv::conv).map_err(sign_in_error))
    }

    /// What the policies decide on `autoLink`, changing nothing.
    pub(crate) async fn decide_link(
        &self,
        store: &mut Store<HostState>,
        identity: &ExternalIdentity,
        person_id: &str,
    ) -> Outcome<Decision> {
        let identity = identity.clone().conv();
        let decided = self
            .0
            .partnergate_b2b_sign_in()
            .call_decide_link(store, &identity, person_id)
            .await?;
        Ok(decided
            .map(|d| Decision::from(Conv::<crate::model::Decision>::conv(d)))
            .map_err(sign_in_error))
    }

    /// Whether a session may go on; the person's account when it may.
    pub(crate) async fn check_session(
        &self,
        store: &mut Store<HostState>,
        person_id: &str,
        organization_id: &str,
    ) -> Outcome<Account> {
        let checked = self
            .0
            .partnergate_b2b_sign_in()
            .call_check_session(store, person_id, organization_id)
            .await?;
        Ok(checked.map(Conv::conv).map_err(sign_in_error))
    }

    /// Audits a sign-in refused before linking.
    pub(crate) async fn record_refusal(
        &self,
        store: &mut Store<HostState>,
        provider: &str,
        issuer: &str,
        reason: &str,
    ) -> Outcome<()> {
        let recorded = self
            .0
            .partnergate_b2b_sign_in()
            .call_record_refusal(store, provider, issuer, reason)
            .await?;
        Ok(recorded.map_err(sign_in_error))
    }
}

/// A bulk call's results, each with the library's error.
fn per_item(
    results: Vec<Result<org_users::Membership, org_users::Error>>,
) -> Vec<Result<Membership, Error>> {
    results
        .into_iter()
        .map(|result| user_result(result).map(Conv::conv))
        .collect()
}

/// An `org-users` result with the library's error.
fn user_result<T>(result: Result<T, org_users::Error>) -> Result<T, Error> {
    result.map_err(|err| match err {
        org_users::Error::Unsupported => {
            Error::Unsupported("the loaded plugin does not implement this operation".into())
        }
        org_users::Error::Denied(d) => {
            Error::Denied(Decision::from(Conv::<crate::model::Decision>::conv(d)))
        }
        org_users::Error::Invalid(m) => Error::InvalidRequest(m),
        org_users::Error::NotFound(m) => Error::NotFound(m),
        org_users::Error::Conflict(m) => Error::Conflict(m),
        org_users::Error::RateLimited(s) => Error::RateLimited(s),
        org_users::Error::Unavailable(m) => Error::Unavailable(m),
        org_users::Error::InternalError(m) => {
            Error::Engine(m.unwrap_or_else(|| "plugin internal error".into()))
        }
    })
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
