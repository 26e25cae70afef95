//! Sessions: a signed-in browser's session behind an opaque cookie, kept in
//! the ephemeral store so any node can read it; whether it may go on (the
//! plugin's `check-session`); and its end, with RP-initiated logout at the
//! provider where offered.

use openidconnect::core::CoreIdToken;
use openidconnect::{ClientId, LogoutRequest, PostLogoutRedirectUrl};
use serde::{Deserialize, Serialize};

use super::SignInService;
use crate::error::Error;
use crate::gate::PartnerGate;
use crate::model::{Account, Staff};

/// A signed-in browser.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    /// The person, in a customer's session; empty in a staff member's.
    pub person_id: String,
    /// The staff member, in a session begun at a staff provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
    /// The organization the session acts for; `None` until the person
    /// picks one of `organizations`.
    pub organization_id: Option<String>,
    /// The organizations the person could act for at sign-in, by id.
    #[serde(default)]
    pub organizations: Vec<String>,
    /// The identity they signed in with.
    pub issuer: String,
    /// Its subject.
    pub subject: String,
    /// The configured provider it came through.
    #[serde(default)]
    pub provider: String,
    /// The ID token, sent back as `id_token_hint` when the session ends.
    #[serde(default)]
    pub id_token: String,
    /// The token a cookie-authenticated change must also send in
    /// `X-PartnerGate-CSRF` (given by `GET /v1/me`).
    #[serde(default)]
    pub csrf_token: String,
}

impl Session {
    /// The principal acting through this session: `staff:<id>`, or the
    /// person pinned to its organization once it has one:
    /// `customer:<person>@<organization>`.
    pub fn actor(&self) -> String {
        if let Some(staff) = &self.staff_id {
            return format!("staff:{staff}");
        }
        match &self.organization_id {
            Some(org) => format!("customer:{}@{org}", self.person_id),
            None => format!("customer:{}", self.person_id),
        }
    }
}

/// Who a live session's principal is, as read for its check.
#[derive(Clone, Debug)]
pub enum Signed {
    /// A customer, with their account.
    Customer(Account),
    /// A staff member, with their record.
    Staff(Staff),
}

impl SignInService {
    /// The session behind a cookie value.
    pub async fn session(&self, id: &str) -> Result<Option<Session>, Error> {
        let value = self.store.get_ephemeral("session", id).await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// The session behind a cookie value and who it is, as read for the
    /// check, if the session may go on. The plugin decides (`check-session`,
    /// `check-staff-session`): a session ends here whenever a fresh sign-in
    /// of its person would be refused (revoked, removed, organization
    /// blocked, rejected or pending, ...) or its staff member is no longer
    /// active, so such a change also signs the browser out.
    pub async fn live_session(
        &self,
        gate: &PartnerGate,
        id: &str,
    ) -> Result<Option<(Session, Signed)>, Error> {
        let Some(session) = self.session(id).await? else {
            return Ok(None);
        };
        if let Some(staff_id) = &session.staff_id {
            match gate.check_staff_session(staff_id).await {
                Ok(staff) => return Ok(Some((session, Signed::Staff(staff)))),
                Err(Error::Refused(reason)) => {
                    tracing::info!(staff = %staff_id, "session refused: {reason}");
                    self.store.delete_ephemeral("session", id).await?;
                    return Ok(None);
                }
                Err(err) => return Err(err),
            }
        }
        // The organization acted for; a session still picking one goes on
        // while any of its choices could be picked.
        let candidates = match &session.organization_id {
            Some(org) => std::slice::from_ref(org),
            None => session.organizations.as_slice(),
        };
        for org in candidates {
            match gate.check_session(&session.person_id, org).await {
                Ok(account) => return Ok(Some((session, Signed::Customer(account)))),
                Err(Error::Refused(reason)) => {
                    tracing::info!(person = %session.person_id, organization = %org, "session refused: {reason}");
                }
                Err(err) => return Err(err),
            }
        }
        self.store.delete_ephemeral("session", id).await?;
        Ok(None)
    }

    /// Switches the session `id` to `organization`: the membership there is
    /// checked as at sign-in, and the session is rotated (a new id and CSRF
    /// token; the old id ends). Returns the new id and session; `Refused`
    /// when the person may not act for that organization now, `None` when
    /// there is no such session.
    pub async fn switch(
        &self,
        gate: &PartnerGate,
        id: &str,
        organization: &str,
    ) -> Result<Option<(String, Session)>, Error> {
        let Some(session) = self.session(id).await? else {
            return Ok(None);
        };
        if session.staff_id.is_some() {
            return Err(Error::Refused(
                "a staff member's session acts for no organization".into(),
            ));
        }
        gate.check_session(&session.person_id, organization)
            .await
            .map_err(|err| match err {
                Error::Refused(_) => Error::Refused(
                    "no membership of yours in that organization may be used now".into(),
                ),
                other => other,
            })?;
        let switched = Session {
            organization_id: Some(organization.to_string()),
            csrf_token: openidconnect::CsrfToken::new_random_len(32)
                .secret()
                .clone(),
            ..session
        };
        let new_id = openidconnect::CsrfToken::new_random_len(32)
            .secret()
            .clone();
        self.store
            .put_ephemeral(
                "session",
                &new_id,
                &serde_json::to_string(&switched).expect("session serializes"),
                super::SESSION_TTL,
            )
            .await?;
        self.store.delete_ephemeral("session", id).await?;
        Ok(Some((new_id, switched)))
    }

    /// Ends a session. When its provider offers RP-initiated logout, returns
    /// the provider's end-session URL to send the browser to, so that the
    /// provider's own session ends too.
    pub async fn logout(&self, id: &str) -> Result<Option<String>, Error> {
        let session = self.session(id).await?;
        self.store.delete_ephemeral("session", id).await?;
        let Some(session) = session else {
            return Ok(None);
        };
        let Some(p) = self.providers.get(&session.provider) else {
            return Ok(None);
        };
        let Some(endpoint) = p
            .metadata
            .read()
            .expect("metadata lock")
            .as_ref()
            .and_then(|m| m.additional_metadata().end_session_endpoint.clone())
        else {
            return Ok(None);
        };
        let mut request =
            LogoutRequest::from(endpoint).set_client_id(ClientId::new(p.config.client_id.clone()));
        if let Ok(token) = session.id_token.parse::<CoreIdToken>() {
            request = request.set_id_token_hint(&token);
        }
        if let Some(uri) = &p.config.post_logout_redirect_uri {
            let uri = PostLogoutRedirectUrl::new(uri.clone())
                .map_err(|e| Error::misconfigured("post_logout_redirect_uri", e))?;
            request = request.set_post_logout_redirect_uri(uri);
        }
        Ok(Some(request.http_get_url().to_string()))
    }
}
