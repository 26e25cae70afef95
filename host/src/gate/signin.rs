//! The sign-in operations of the library API: linking, the `autoLink`
//! dry run, session checks and refusal audits, through the plugin's
//! `sign-in` interface.

use super::call::{GuestCall, Owned, plugin_call};
use super::{Decision, PartnerGate};
use crate::error::Error;
use crate::model::{Account, ExternalIdentity, SignedIn, Staff};

impl PartnerGate {
    /// Runs one `sign-in` call on a warm instance; its error becomes the
    /// library's.
    async fn sign_in<R: Send + 'static>(
        &self,
        call: impl GuestCall<Result<R, Error>>,
    ) -> Result<R, Error> {
        self.pool
            .run(move |warm, _| call(&warm.plugin, &mut warm.store))
            .await?
    }

    plugin_call!(
        /// Resolves an identity whose ID token was validated to a customer,
        /// linking it when the sign-in rules allow. `Err(Error::Refused(reason))`
        /// says why not; every link and refusal is audited.
        sign_in: link_identity(identity: ExternalIdentity) -> SignedIn => link(&identity)
    );

    /// What the policies decide on `autoLink` for `identity` and the customer
    /// `person_id`, changing nothing (policy tests, explaining a refusal).
    /// `Err(Error::Refused)` when there is no such customer.
    pub async fn decide_link(
        &self,
        identity: ExternalIdentity,
        person_id: &str,
    ) -> Result<Decision, Error> {
        let person_id = person_id.to_string();
        self.sign_in(move |g, s| {
            Box::pin(async move { g.decide_link(s, &identity, &person_id).await })
        })
        .await
    }

    plugin_call!(
        /// Whether a session of `person_id`, begun in `organization_id`, may go
        /// on, with the person's account as read for the check:
        /// `Err(Error::Refused)` with the reason whenever a fresh sign-in of
        /// the person would be refused.
        sign_in: check_session(person_id: &str, organization_id: &str) -> Account
            => check_session(&person_id, &organization_id)
    );
    plugin_call!(
        /// Resolves an identity from a provider the operator marked as a
        /// staff provider to a staff member (never a customer), linking an
        /// invited one by verified email; the staff id.
        /// `Err(Error::Refused(reason))` says why not; audited like
        /// [`PartnerGate::link_identity`].
        sign_in: link_staff(identity: ExternalIdentity) -> String => link_staff(&identity)
    );
    plugin_call!(
        /// Whether a staff member's session may go on: only while the staff
        /// record exists and is active. The record as read.
        sign_in: check_staff_session(staff_id: &str) -> Staff => check_staff_session(&staff_id)
    );
    plugin_call!(
        /// Puts an ID token or code exchange refused before linking into the
        /// audit trail (`idTokenRefused` by `provider:<provider>`), through the
        /// plugin like every other entry.
        sign_in: record_refusal(provider: &str, issuer: &str, reason: &str) -> ()
            => record_refusal(&provider, &issuer, &reason)
    );
}
