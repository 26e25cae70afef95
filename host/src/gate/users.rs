//! The organization-user operations of the library API: each one call of the
//! plugin's `org-users` interface on a warm instance.

use super::PartnerGate;
use super::call::{GuestCall, Owned, plugin_call};
use crate::error::Error;
use crate::model::{
    AuditPage, BulkAction, MemberPage, Membership, NewUser, OnboardingRequest, OnboardingStatus,
    Organization, Staff, Target, UserChanges, UserQuery, UserView,
};

/// What a call costs besides its plugin call.
enum Weight {
    /// One operation on one record.
    One,
    /// A listing or audit read: it takes a listing permit.
    Listing,
    /// A bulk call of this many items: a listing permit, and a longer
    /// deadline.
    Many(usize),
}

impl PartnerGate {
    /// One of the listing permits.
    async fn listing_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        self.listings
            .acquire()
            .await
            .map_err(|_| Error::Unavailable("the host is shutting down".into()))
    }

    /// Runs one `org-users` call on a warm instance; every user operation
    /// goes through here, and its error becomes the library's. A call of
    /// [`Weight::Many`] items has the call timeout plus a tenth of it per
    /// item beyond the first; listings and bulk calls first wait for one of
    /// the few listing permits, so that they queue rather than take the
    /// cores decisions need.
    async fn org_users<R: Send + 'static>(
        &self,
        weight: Weight,
        call: impl GuestCall<Result<R, Error>>,
    ) -> Result<R, Error> {
        let (_permit, items) = match weight {
            Weight::One => (None, 1),
            Weight::Listing => (Some(self.listing_permit().await?), 1),
            Weight::Many(items) => (Some(self.listing_permit().await?), items),
        };
        let base = self.limits().call_timeout;
        // Bounded: the plugin refuses more than `BULK_MAX` items anyway.
        let extra = items.saturating_sub(1).min(1000) as u32;
        let budget = base + base / 10 * extra;
        self.pool
            .run_within(budget, move |warm, _| call(&warm.plugin, &mut warm.store))
            .await?
    }

    plugin_call!(
        /// Adds a user to an organization (status `invited`, invitation queued).
        org_users(Weight::One): add_user(actor: &str, organization_id: &str, user: NewUser) -> Membership
            => add_user(&actor, &organization_id, &user)
    );
    plugin_call!(
        /// Edits a user.
        org_users(Weight::One): edit_user(actor: &str, target: Target, changes: UserChanges) -> Membership
            => edit_user(&actor, &target, &changes)
    );
    plugin_call! {
        /// Removes a user (status `removed`).
        org_users(Weight::One): remove_user(actor: &str, target: Target) -> Membership => remove_user(&actor, &target);
        /// Revokes a user's access.
        org_users(Weight::One): revoke_user(actor: &str, target: Target) -> Membership => revoke_user(&actor, &target);
        /// Reinstates a revoked user.
        org_users(Weight::One): reinstate_user(actor: &str, target: Target) -> Membership => reinstate_user(&actor, &target);
        /// Re-sends an invited user's invitation (rate-limited).
        org_users(Weight::One): reinvite_user(actor: &str, target: Target) -> Membership => reinvite_user(&actor, &target);
    }

    /// Adds 1 to 1000 users; one result each, in order (`Error::InvalidRequest`
    /// for the whole call beyond that).
    pub async fn bulk_add(
        &self,
        actor: &str,
        organization_id: &str,
        users: Vec<NewUser>,
    ) -> Result<Vec<Result<Membership, Error>>, Error> {
        let (actor, org) = (actor.owned(), organization_id.owned());
        let items = users.len();
        self.org_users(Weight::Many(items), move |g, s| {
            Box::pin(async move { g.bulk_add(s, &actor, &org, &users).await })
        })
        .await
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
        let actor = actor.owned();
        let items = targets.len();
        self.org_users(Weight::Many(items), move |g, s| {
            Box::pin(async move { g.bulk_change(s, &actor, action, &targets).await })
        })
        .await
    }

    /// What `actor` may see of each of `person_ids` (1 to 1000) and do to
    /// them, in order: `None` for a person who does not exist, has no
    /// membership or whom the policies do not let the actor view (not told
    /// apart). A page shows a user, a button or an editable field only as
    /// this says: the rules decide, the page copies none.
    pub async fn get_users(
        &self,
        actor: &str,
        person_ids: Vec<String>,
    ) -> Result<Vec<Option<UserView>>, Error> {
        let actor = actor.owned();
        let weight = match person_ids.len() {
            1 => Weight::One,
            n => Weight::Many(n),
        };
        self.org_users(weight, move |g, s| {
            Box::pin(async move { g.get_users(s, &actor, &person_ids).await })
        })
        .await
    }

    /// [`Self::get_users`] for one person.
    pub async fn get_user(&self, actor: &str, person_id: &str) -> Result<Option<UserView>, Error> {
        let mut views = self.get_users(actor, vec![person_id.to_string()]).await?;
        Ok(views.pop().flatten())
    }

    plugin_call!(
        /// Lists and searches users.
        org_users(Weight::Listing): list_users(actor: &str, query: UserQuery) -> MemberPage
            => list_users(&actor, &query)
    );
    plugin_call!(
        /// Reads an organization's audit trail, or (`None`) all of it.
        org_users(Weight::Listing): read_audit(
            actor: &str,
            organization_id: Option<&str>,
            cursor: Option<&str>,
            limit: u32,
        ) -> AuditPage
            => read_audit(&actor, organization_id.as_deref(), cursor.as_deref(), limit)
    );
    plugin_call!(
        /// A prospect's onboarding request.
        org_users(Weight::One): submit_onboarding(
            organization_name: &str,
            requester_name: &str,
            requester_email: &str,
        ) -> OnboardingRequest
            => submit_onboarding(&organization_name, &requester_name, &requester_email)
    );
    plugin_call!(
        /// Approves an onboarding request.
        org_users(Weight::One): approve_onboarding(actor: &str, request_id: &str) -> OnboardingRequest
            => approve_onboarding(&actor, &request_id)
    );
    plugin_call!(
        /// Rejects an onboarding request.
        org_users(Weight::One): reject_onboarding(actor: &str, request_id: &str, reason: &str)
            -> OnboardingRequest
            => reject_onboarding(&actor, &request_id, &reason)
    );
    plugin_call!(
        /// Lists onboarding requests (staff).
        org_users(Weight::Listing): list_onboarding(actor: &str, status: Option<OnboardingStatus>)
            -> Vec<OnboardingRequest>
            => list_onboarding(&actor, status)
    );
    plugin_call!(
        /// The organizations `actor` may see (`viewOrganization`): a staff
        /// member's assigned ones whose name contains `search`, by name.
        org_users(Weight::Listing): list_organizations(actor: &str, search: Option<&str>)
            -> Vec<Organization>
            => list_organizations(&actor, search.as_deref())
    );
    plugin_call!(
        /// Blocks an approved organization, or unblocks a blocked one, with
        /// the reason (staff); a block ends its members' sessions on their
        /// next request.
        org_users(Weight::One): set_organization_blocked(
            actor: &str,
            organization_id: &str,
            blocked: bool,
            reason: &str,
        ) -> Organization
            => set_organization_blocked(&actor, &organization_id, blocked, &reason)
    );
    plugin_call!(
        /// The staff members assigned to an organization, by name (decided
        /// `viewOrganization` before it is read).
        org_users(Weight::Listing): organization_staff(actor: &str, organization_id: &str)
            -> Vec<Staff>
            => organization_staff(&actor, &organization_id)
    );
    plugin_call!(
        /// Assigns the staff member with `staff_email` to an organization
        /// (`assignStaff`); they see it on their next request.
        org_users(Weight::One): assign_staff(actor: &str, organization_id: &str, staff_email: &str)
            -> Staff
            => assign_staff(&actor, &organization_id, &staff_email)
    );
    plugin_call!(
        /// Withdraws a staff member's assignment to an organization
        /// (`unassignStaff`); they see nothing of it on their next request.
        org_users(Weight::One): unassign_staff(actor: &str, organization_id: &str, staff_id: &str)
            -> Staff
            => unassign_staff(&actor, &organization_id, &staff_id)
    );
    plugin_call!(
        /// Creates an approved organization (staff).
        org_users(Weight::One): create_organization(actor: &str, name: &str) -> Organization
            => create_organization(&actor, &name)
    );
}
