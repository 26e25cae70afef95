//! The organization-user operations of the library API: each one call of the
//! plugin's `org-users` interface on a warm instance.

use super::*;

/// A lifecycle step on one user at the version the caller read: one
/// `org-users` call.
macro_rules! lifecycle_step {
    ($(#[$doc:meta])* $name:ident => $call:ident) => {
        $(#[$doc])*
        pub async fn $name(&self, actor: &str, target: Target) -> Result<Membership, Error> {
            let actor = actor.to_string();
            self.org_users(move |g, s| Box::pin(async move { g.$call(s, &actor, &target).await }))
                .await
        }
    };
}

impl PartnerGate {
    /// Runs one `org-users` call on a warm instance; every user operation
    /// goes through here, and its error becomes the library's.
    async fn org_users<R: Send + 'static>(
        &self,
        call: impl for<'a> FnOnce(
            &'a org_users::Guest,
            &'a mut wasmtime::Store<crate::state::HostState>,
        ) -> crate::pool::Call<'a, Result<R, org_users::Error>>
        + Send
        + 'static,
    ) -> Result<R, Error> {
        self.org_users_for(1, call).await
    }

    /// [`Self::org_users`] for a call doing the work of `items` operations
    /// (a bulk call): its deadline is the call timeout plus a tenth of it
    /// per item beyond the first.
    async fn org_users_for<R: Send + 'static>(
        &self,
        items: usize,
        call: impl for<'a> FnOnce(
            &'a org_users::Guest,
            &'a mut wasmtime::Store<crate::state::HostState>,
        ) -> crate::pool::Call<'a, Result<R, org_users::Error>>
        + Send
        + 'static,
    ) -> Result<R, Error> {
        let base = self.limits().call_timeout;
        // Bounded: the plugin refuses more than `BULK_MAX` items anyway.
        let extra = items.saturating_sub(1).min(1000) as u32;
        let budget = base + base / 10 * extra;
        user_result(
            self.pool
                .run_within(budget, move |warm| {
                    call(warm.plugin.partnergate_b2b_org_users(), &mut warm.store)
                })
                .await?,
        )
    }

    /// Adds a user to an organization (status `invited`, invitation queued).
    pub async fn add_user(
        &self,
        actor: &str,
        organization_id: &str,
        user: NewUser,
    ) -> Result<Membership, Error> {
        let (actor, org) = (actor.to_string(), organization_id.to_string());
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_add_user(s, &actor, &org, &user).await })
        })
        .await
    }

    /// Edits a user.
    pub async fn edit_user(
        &self,
        actor: &str,
        target: Target,
        changes: UserChanges,
    ) -> Result<Membership, Error> {
        let actor = actor.to_string();
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_edit_user(s, &actor, &target, &changes).await })
        })
        .await
    }

    lifecycle_step!(
        /// Removes a user (status `removed`).
        remove_user => call_remove_user
    );
    lifecycle_step!(
        /// Revokes a user's access.
        revoke_user => call_revoke_user
    );
    lifecycle_step!(
        /// Reinstates a revoked user.
        reinstate_user => call_reinstate_user
    );
    lifecycle_step!(
        /// Re-sends an invited user's invitation (rate-limited).
        reinvite_user => call_reinvite_user
    );

    /// Adds 1 to 1000 users; one result each, in order (`Error::InvalidRequest`
    /// for the whole call beyond that).
    pub async fn bulk_add(
        &self,
        actor: &str,
        organization_id: &str,
        users: Vec<NewUser>,
    ) -> Result<Vec<Result<Membership, Error>>, Error> {
        let (actor, org) = (actor.to_string(), organization_id.to_string());
        let results = self
            .org_users_for(users.len(), move |g, s| {
                Box::pin(async move { g.call_bulk_add(s, &actor, &org, &users).await })
            })
            .await?;
        Ok(results.into_iter().map(user_result).collect())
    }

    /// Revokes, reinstates, removes or re-invites 1 to 1000 users; one
    /// result each, in order (`Error::InvalidRequest` for the whole call beyond
    /// that).
    pub async fn bulk_change(
        &self,
        actor: &str,
        action: BulkAction,
        targets: Vec<Target>,
    ) -> Result<Vec<Result<Membership, Error>>, Error> {
        let actor = actor.to_string();
        let results = self
            .org_users_for(targets.len(), move |g, s| {
                Box::pin(async move { g.call_bulk_change(s, &actor, action, &targets).await })
            })
            .await?;
        Ok(results.into_iter().map(user_result).collect())
    }

    /// Lists and searches users.
    pub async fn list_users(&self, actor: &str, query: UserQuery) -> Result<MemberPage, Error> {
        let actor = actor.to_string();
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_list_users(s, &actor, &query).await })
        })
        .await
    }

    /// Reads an organization's audit trail, or (`None`) all of it.
    pub async fn read_audit(
        &self,
        actor: &str,
        organization_id: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<AuditPage, Error> {
        let (actor, org, cursor) = (
            actor.to_string(),
            organization_id.map(String::from),
            cursor.map(String::from),
        );
        self.org_users(move |g, s| {
            Box::pin(async move {
                g.call_read_audit(s, &actor, org.as_deref(), cursor.as_deref(), limit)
                    .await
            })
        })
        .await
    }

    /// A prospect's onboarding request.
    pub async fn submit_onboarding(
        &self,
        organization_name: &str,
        requester_name: &str,
        requester_email: &str,
    ) -> Result<OnboardingRequest, Error> {
        let (o, n, e) = (
            organization_name.to_string(),
            requester_name.to_string(),
            requester_email.to_string(),
        );
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_submit_onboarding(s, &o, &n, &e).await })
        })
        .await
    }

    /// Approves an onboarding request.
    pub async fn approve_onboarding(
        &self,
        actor: &str,
        request_id: &str,
    ) -> Result<OnboardingRequest, Error> {
        let (actor, id) = (actor.to_string(), request_id.to_string());
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_approve_onboarding(s, &actor, &id).await })
        })
        .await
    }

    /// Rejects an onboarding request.
    pub async fn reject_onboarding(
        &self,
        actor: &str,
        request_id: &str,
        reason: &str,
    ) -> Result<OnboardingRequest, Error> {
        let (actor, id, reason) = (
            actor.to_string(),
            request_id.to_string(),
            reason.to_string(),
        );
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_reject_onboarding(s, &actor, &id, &reason).await })
        })
        .await
    }

    /// Lists onboarding requests (staff).
    pub async fn list_onboarding(
        &self,
        actor: &str,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<OnboardingRequest>, Error> {
        let actor = actor.to_string();
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_list_onboarding(s, &actor, status).await })
        })
        .await
    }

    /// Creates an approved organization (staff).
    pub async fn create_organization(
        &self,
        actor: &str,
        name: &str,
    ) -> Result<Organization, Error> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.org_users(move |g, s| {
            Box::pin(async move { g.call_create_organization(s, &actor, &name).await })
        })
        .await
    }
}

fn user_result<T>(result: Result<T, org_users::Error>) -> Result<T, Error> {
    result.map_err(|err| match err {
        org_users::Error::Unsupported => {
            Error::Unsupported("the loaded plugin does not implement this operation".into())
        }
        org_users::Error::Denied(d) => Error::Denied(d.into()),
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
