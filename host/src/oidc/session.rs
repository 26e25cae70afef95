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
use crate::model::Account;

/// A signed-in browser.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    /// The person.
    pub person_id: String,
    /// Their organization.
    pub organization_id: String,
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

impl SignInService {
    /// The session behind a cookie value.
    pub async fn session(&self, id: &str) -> Result<Option<Session>, Error> {
        let value = self.store.get_ephemeral("session", id).await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// The session behind a cookie value and its person's account, if the
    /// session may go on. The plugin decides (`check-session`): a session
    /// ends here whenever a fresh sign-in of its person would be refused
    /// (revoked, removed, organization blocked, rejected or pending, ...), so
    /// such a change also signs the browser out.
    pub async fn live_session(
        &self,
        gate: &PartnerGate,
        id: &str,
    ) -> Result<Option<(Session, Account)>, Error> {
        let Some(session) = self.session(id).await? else {
            return Ok(None);
        };
        match gate
            .check_session(&session.person_id, &session.organization_id)
            .await
        {
            Ok(account) => return Ok(Some((session, account))),
            Err(Error::Refused(reason)) => {
                tracing::info!(person = %session.person_id, "session ended: {reason}");
            }
            Err(err) => return Err(err),
        }
        self.store.delete_ephemeral("session", id).await?;
        Ok(None)
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
