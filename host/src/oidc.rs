//! The OpenID Connect relying party: sign-in with one or more providers
//! (OIDC, Azure AD B2C, Entra External ID), authorization code flow with PKCE
//! (S256), `state` and `nonce` kept server-side in the status cache (single
//! use, short TTL, so any node can finish a sign-in another began), ID tokens
//! validated with `openidconnect`, and a server-side session behind an opaque
//! cookie. Which customer an identity is, is the plugin's decision
//! ([`PartnerGate::link_identity`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, JsonWebKeySet, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::bindings::types::{Account, AccountStatus, AuditEntry, ExternalIdentity};
use crate::cache::EphemeralStore;
use crate::error::Error;
use crate::gate::PartnerGate;

/// How long a begun sign-in may take.
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The session cookie.
pub const SESSION_COOKIE: &str = "pg_session";
/// How far the provider's clock may be from ours when checking an ID token's
/// `exp` and `iat`.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The least time between two key fetches for unknown key ids, so that a
/// provider sending them cannot make every callback fetch its keys.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// One provider, as configured (a JSON array of these in `--oidc-providers`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Short name used in URLs: `/v1/signin/<name>/login`.
    pub name: String,
    /// Issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`
    /// (for B2C, the issuer with its tenant path).
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret; absent for a public client.
    pub client_secret: Option<String>,
    /// The exact redirect URI registered with the provider, ending in
    /// `/v1/signin/<name>/callback`.
    pub redirect_uri: String,
    /// Scopes besides `openid` (default `email`, `profile`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim that identifies the subject: `sub` (default) or B2C's `oid`.
    #[serde(default = "default_subject")]
    pub subject_claim: String,
    /// The claim holding the email address (default `email`; B2C's `emails`
    /// array is read when it is absent). Entra External ID may use
    /// `preferred_username`, for example.
    #[serde(default = "default_email")]
    pub email_claim: String,
    /// The claim holding the display name (default `name`).
    #[serde(default = "default_name")]
    pub name_claim: String,
    /// Whether this provider verifies email addresses itself (B2C does during
    /// sign-up); otherwise the `email_verified` claim decides.
    #[serde(default)]
    pub emails_verified_by_provider: bool,
    /// Whether existing customers may be linked automatically by verified
    /// email (the `autoLink` policy decides; the default policies require it).
    #[serde(default)]
    pub trusted: bool,
    /// Where the provider sends the browser after ending its own session
    /// (RP-initiated logout); must be registered with the provider.
    #[serde(default)]
    pub post_logout_redirect_uri: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

fn default_subject() -> String {
    "sub".into()
}

fn default_email() -> String {
    "email".into()
}

fn default_name() -> String {
    "name".into()
}

impl ProviderConfig {
    /// Reads a JSON array of providers.
    pub fn from_file(path: &Path) -> Result<Vec<Self>, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read OIDC providers `{}`: {e}",
                path.display()
            ))
        })?;
        let providers: Vec<Self> = serde_json::from_str(&text)
            .map_err(|e| Error::Config(format!("OIDC providers `{}`: {e}", path.display())))?;
        Self::check(&providers)
            .map_err(|e| Error::Config(format!("OIDC providers `{}`: {e}", path.display())))?;
        Ok(providers)
    }

    /// Names are unique and URL-safe, and each redirect URI is the
    /// provider's own callback. [`SignInService::discover`] checks this too,
    /// for configurations built in code.
    fn check(providers: &[Self]) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for p in providers {
            if p.name.is_empty()
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "provider name `{}` must be letters, digits, `-` or `_`",
                    p.name
                ));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(format!("provider `{}` is configured twice", p.name));
            }
            let callback = format!("/v1/signin/{}/callback", p.name);
            if !p.redirect_uri.ends_with(&callback) {
                return Err(format!(
                    "provider `{}`: redirect_uri `{}` must end in `{callback}`",
                    p.name, p.redirect_uri
                ));
            }
        }
        Ok(())
    }
}

/// A client for one provider: discovered endpoints, code flow only.
type RpClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

struct Provider {
    config: ProviderConfig,
    metadata: RwLock<ProviderMetadataWithLogout>,
    /// When the keys were last fetched again for an unknown key id.
    keys_refreshed: Mutex<Option<Instant>>,
}

/// What a begun sign-in keeps server-side, under its `state`.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    verifier: String,
    nonce: String,
    return_to: String,
}

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

/// The relying party for every configured provider.
pub struct SignInService {
    providers: HashMap<String, Provider>,
    http: openidconnect::reqwest::Client,
    store: Arc<dyn EphemeralStore>,
}

fn http_error(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("OpenID provider: {e}"))
}

impl SignInService {
    /// Discovers every provider. Fails when one cannot be discovered.
    pub async fn discover(
        configs: Vec<ProviderConfig>,
        store: Arc<dyn EphemeralStore>,
    ) -> Result<Self, Error> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would expose the service to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(http_error)?;
        ProviderConfig::check(&configs).map_err(Error::Config)?;
        let mut providers = HashMap::new();
        for config in configs {
            let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| {
                Error::Config(format!("provider `{}`: bad issuer: {e}", config.name))
            })?;
            RedirectUrl::new(config.redirect_uri.clone()).map_err(|e| {
                Error::Config(format!("provider `{}`: bad redirect URI: {e}", config.name))
            })?;
            let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
                .await
                .map_err(|e| {
                    Error::Config(format!("provider `{}`: discovery failed: {e}", config.name))
                })?;
            providers.insert(
                config.name.clone(),
                Provider {
                    config,
                    metadata: RwLock::new(metadata),
                    keys_refreshed: Mutex::new(None),
                },
            );
        }
        Ok(Self {
            providers,
            http,
            store,
        })
    }

    fn provider(&self, name: &str) -> Result<&Provider, Error> {
        self.providers
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("no sign-in provider `{name}`")))
    }

    fn client(provider: &Provider) -> Result<RpClient, Error> {
        let metadata = provider.metadata.read().expect("metadata lock").clone();
        let config = &provider.config;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(
            RedirectUrl::new(config.redirect_uri.clone())
                .map_err(|e| Error::Config(e.to_string()))?,
        ))
    }

    /// Begins a sign-in: the provider URL to redirect the browser to.
    pub async fn begin(
        &self,
        provider: &str,
        login_hint: Option<&str>,
        return_to: &str,
    ) -> Result<String, Error> {
        let p = self.provider(provider)?;
        let client = Self::client(p)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &p.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            provider: provider.to_string(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            return_to: safe_return(return_to),
        };
        let value = serde_json::to_string(&pending).expect("pending serializes");
        self.store
            .put_ephemeral("oidc-state", state.secret(), &value, STATE_TTL)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(url.to_string())
    }

    /// Finishes a sign-in at the callback: checks `state` (single use),
    /// exchanges the code with the PKCE verifier, validates the ID token,
    /// links the identity through the plugin and opens a session. Returns the
    /// session id and where to send the browser.
    pub async fn finish(
        &self,
        gate: &PartnerGate,
        provider: &str,
        code: &str,
        state: &str,
    ) -> Result<(String, String), Error> {
        let p = self.provider(provider)?;
        let pending = self
            .store
            .take_ephemeral("oidc-state", state)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                Error::Refused(
                    "unknown, expired or already used sign-in state: start the sign-in again"
                        .into(),
                )
            })?;
        let pending: Pending = serde_json::from_str(&pending)
            .map_err(|e| Error::Engine(format!("stored sign-in state: {e}")))?;
        if pending.provider != provider {
            return Err(Error::Refused(
                "the sign-in state belongs to another provider".into(),
            ));
        }
        let (identity, id_token) = match self
            .validated_identity(p, code, pending.verifier, pending.nonce)
            .await
        {
            Ok(validated) => validated,
            Err(Error::Refused(reason)) => {
                self.audit_refusal(gate, p, &reason).await;
                return Err(Error::Refused(reason));
            }
            Err(err) => return Err(err),
        };
        let signed = gate.link_identity(identity.clone()).await?;
        let session = Session {
            person_id: signed.person_id,
            organization_id: signed.organization_id,
            issuer: identity.issuer,
            subject: identity.subject,
            provider: provider.to_string(),
            id_token,
            csrf_token: CsrfToken::new_random_len(32).secret().clone(),
        };
        let id = CsrfToken::new_random_len(32).secret().clone();
        self.store
            .put_ephemeral(
                "session",
                &id,
                &serde_json::to_string(&session).expect("session serializes"),
                SESSION_TTL,
            )
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok((id, pending.return_to))
    }

    /// Exchanges the code with the PKCE verifier and validates the ID token;
    /// the identity in it and the token itself.
    async fn validated_identity(
        &self,
        p: &Provider,
        code: &str,
        verifier: String,
        nonce: String,
    ) -> Result<(ExternalIdentity, String), Error> {
        let client = Self::client(p)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| Error::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;
        let id_token = token
            .id_token()
            .ok_or_else(|| Error::Refused("the provider returned no ID token".into()))?;
        let nonce = Nonce::new(nonce);
        let verify =
            |client: &RpClient| verify_id_token(client, id_token, token.access_token(), &nonce);
        match verify(&client) {
            Ok(()) => {}
            // A key id we do not know: the provider may have rotated its
            // keys. Fetch them once more and verify again.
            Err(Refusal::Claims(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ))) if self.refresh_keys(p).await? => {
                verify(&Self::client(p)?).map_err(|e| {
                    Error::Refused(format!(
                        "the ID token is not valid: {e} (after fetching the provider's keys again)"
                    ))
                })?;
            }
            Err(e) => return Err(Error::Refused(format!("the ID token is not valid: {e}"))),
        }
        let identity = identity_from_token(&p.config, &id_token.to_string())?;
        Ok((identity, id_token.to_string()))
    }

    /// Puts a refused code exchange or ID token into the audit trail (staff
    /// read it with `GET /v1/audit`): a provider sending bad tokens is a
    /// security event. Refusals of unknown `state` are only logged, since
    /// anyone can send those.
    async fn audit_refusal(&self, gate: &PartnerGate, p: &Provider, reason: &str) {
        let entry = AuditEntry {
            actor: format!("provider:{}", p.config.name),
            action: "idTokenRefused".into(),
            target: String::new(),
            organization_id: None,
            before: String::new(),
            after: serde_json::json!({ "refused": reason, "issuer": p.config.issuer }).to_string(),
            policies: Vec::new(),
        };
        if let Err(err) = gate.directory().apply(Vec::new(), entry).await {
            tracing::warn!(provider = %p.config.name, "cannot audit a refused sign-in: {err}");
        }
    }

    /// Fetches a provider's keys again, unless that was done less than
    /// [`KEY_REFRESH_INTERVAL`] ago. Returns whether the keys were fetched.
    async fn refresh_keys(&self, p: &Provider) -> Result<bool, Error> {
        {
            let mut last = p.keys_refreshed.lock().expect("refresh lock");
            if last.is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        let uri = p.metadata.read().expect("metadata lock").jwks_uri().clone();
        let keys = JsonWebKeySet::fetch_async(&uri, &self.http)
            .await
            .map_err(http_error)?;
        tracing::info!(provider = %p.config.name, keys = keys.keys().len(), "fetched the provider's keys again for an unknown key id");
        let mut metadata = p.metadata.write().expect("metadata lock");
        *metadata = metadata.clone().set_jwks(keys);
        Ok(true)
    }

    /// The session behind a cookie value.
    pub async fn session(&self, id: &str) -> Result<Option<Session>, Error> {
        let value = self
            .store
            .get_ephemeral("session", id)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// The session behind a cookie value and its person's account, if the
    /// person may still sign in: a session whose person was revoked or
    /// removed (or is gone) is ended here, so a revocation also signs the
    /// browser out.
    pub async fn live_session(
        &self,
        gate: &PartnerGate,
        id: &str,
    ) -> Result<Option<(Session, Account)>, Error> {
        let Some(session) = self.session(id).await? else {
            return Ok(None);
        };
        let account = gate
            .directory()
            .get_account(&session.person_id)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        if let Some(account) = account
            && account.membership.as_ref().is_some_and(|m| {
                !matches!(m.status, AccountStatus::Revoked | AccountStatus::Removed)
            })
        {
            return Ok(Some((session, account)));
        }
        tracing::info!(person = %session.person_id, "session ended: the membership was revoked or removed");
        self.store
            .delete_ephemeral("session", id)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(None)
    }

    /// Ends a session. When its provider offers RP-initiated logout, returns
    /// the provider's end-session URL to send the browser to, so that the
    /// provider's own session ends too.
    pub async fn logout(&self, id: &str) -> Result<Option<String>, Error> {
        let session = self.session(id).await?;
        self.store
            .delete_ephemeral("session", id)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
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
            .additional_metadata()
            .end_session_endpoint
            .clone()
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
                .map_err(|e| Error::Config(format!("post_logout_redirect_uri: {e}")))?;
            request = request.set_post_logout_redirect_uri(uri);
        }
        Ok(Some(request.http_get_url().to_string()))
    }

    /// Whether the session cookie must be `Secure` (the provider's redirect
    /// URI is https).
    pub fn secure_cookies(&self, provider: &str) -> bool {
        self.providers
            .get(provider)
            .is_some_and(|p| p.config.redirect_uri.starts_with("https://"))
    }
}

/// A failed code exchange, saying what was wrong: the provider's own error,
/// or which part of its answer could not be read (an ID token without `sub`
/// or `iat` fails here).
fn exchange_error<E: std::error::Error + 'static>(
    e: openidconnect::RequestTokenError<
        E,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> Error {
    use openidconnect::RequestTokenError as E;
    match e {
        E::ServerResponse(r) => {
            Error::Refused(format!("the provider refused the code exchange: {r}"))
        }
        E::Parse(e, _) => {
            Error::Refused(format!("the provider's token response is not valid: {e}"))
        }
        E::Request(e) => http_error(e),
        E::Other(e) => Error::Refused(format!("the code exchange failed: {e}")),
    }
}

/// Why an ID token was refused.
#[derive(Debug)]
enum Refusal {
    Claims(ClaimsVerificationError),
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // openidconnect's message for a signature failure leaves out why.
            Refusal::Claims(ClaimsVerificationError::SignatureVerification(e)) => {
                write!(f, "signature verification failed: {e}")
            }
            Refusal::Claims(e) => write!(f, "{e}"),
            Refusal::Other(e) => f.write_str(e),
        }
    }
}

/// Validates an ID token (OpenID Connect Core 3.1.3.7): signature with RS256
/// or ES256 (`none` and symmetric algorithms refused), issuer, audience,
/// expiry and issue time within [`CLOCK_SKEW`], nonce, and `at_hash` when
/// present.
fn verify_id_token(
    client: &RpClient,
    id_token: &openidconnect::core::CoreIdToken,
    access_token: &openidconnect::AccessToken,
    nonce: &Nonce,
) -> Result<(), Refusal> {
    let skew = chrono::Duration::from_std(CLOCK_SKEW).expect("skew fits");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ])
        // Expired only once `exp` is more than the skew behind our clock.
        .set_time_fn(move || chrono::Utc::now() - skew)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > chrono::Utc::now() + skew {
                Err(format!("ID token issued in the future ({iat})"))
            } else {
                Ok(())
            }
        });
    let claims = id_token.claims(&verifier, nonce).map_err(Refusal::Claims)?;
    if let Some(expected) = claims.access_token_hash() {
        let other = |e: &dyn std::fmt::Display| Refusal::Other(e.to_string());
        let alg = id_token.signing_alg().map_err(|e| other(&e))?;
        let key = id_token.signing_key(&verifier).map_err(|e| other(&e))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key).map_err(|e| other(&e))?;
        if actual != *expected {
            return Err(Refusal::Other(
                "the access token does not match the ID token's at_hash".into(),
            ));
        }
    }
    Ok(())
}

/// Only local paths: never redirect the browser to another site after sign-in.
fn safe_return(return_to: &str) -> String {
    if return_to.starts_with('/') && !return_to.starts_with("//") && !return_to.contains('\\') {
        return_to.to_string()
    } else {
        "/v1/me".into()
    }
}

/// The identity in a validated ID token, with B2C's claim shapes: `emails`
/// when there is no `email`, `oid` as the subject when configured.
fn identity_from_token(config: &ProviderConfig, compact: &str) -> Result<ExternalIdentity, Error> {
    let payload = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| Error::Refused("malformed ID token".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| Error::Refused("malformed ID token payload".into()))?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|_| Error::Refused("malformed ID token claims".into()))?;
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(String::from);
    let issuer = text("iss").unwrap_or_default();
    let subject = text(&config.subject_claim).ok_or_else(|| {
        Error::Refused(format!(
            "the ID token has no `{}` claim",
            config.subject_claim
        ))
    })?;
    let mut emails: Vec<String> = text(&config.email_claim).into_iter().collect();
    if emails.is_empty()
        && let Some(list) = claims.get("emails").and_then(|v| v.as_array())
    {
        emails.extend(list.iter().filter_map(|v| v.as_str().map(String::from)));
    }
    let email_verified = config.emails_verified_by_provider
        || claims
            .get("email_verified")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    let extra = ["idp", "tfp", "acr", "oid"]
        .iter()
        .filter_map(|name| claims.get(*name).map(|v| (name.to_string(), v.to_string())))
        .collect();
    Ok(ExternalIdentity {
        issuer,
        subject,
        emails,
        email_verified,
        trusted_provider: config.trusted,
        name: text(&config.name_claim),
        claims: extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(subject: &str, verified_by_provider: bool) -> ProviderConfig {
        ProviderConfig {
            name: "b2c".into(),
            issuer: "https://tenant.b2clogin.com/tenant-id/v2.0/".into(),
            client_id: "c".into(),
            client_secret: None,
            redirect_uri: "https://shop.test/v1/signin/b2c/callback".into(),
            scopes: vec![],
            subject_claim: subject.into(),
            email_claim: "email".into(),
            name_claim: "name".into(),
            emails_verified_by_provider: verified_by_provider,
            trusted: false,
            post_logout_redirect_uri: None,
        }
    }

    fn token(claims: serde_json::Value) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            b64(br#"{"alg":"RS256"}"#),
            b64(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn b2c_claim_shapes_are_understood() {
        let t = token(serde_json::json!({
            "iss": "https://tenant.b2clogin.com/tenant-id/v2.0/", "sub": "s", "oid": "o-1",
            "emails": ["a@x.test", "b@x.test"], "idp": "local", "tfp": "B2C_1_signin"
        }));
        let identity = identity_from_token(&config("oid", true), &t).unwrap();
        assert_eq!(identity.subject, "o-1");
        assert_eq!(identity.emails, ["a@x.test", "b@x.test"]);
        assert!(identity.email_verified);
        assert!(
            identity
                .claims
                .iter()
                .any(|(k, v)| k == "tfp" && v == "\"B2C_1_signin\"")
        );
    }

    #[test]
    fn email_is_unverified_unless_the_claim_or_the_provider_says_so() {
        let t = token(serde_json::json!({"iss": "i", "sub": "s", "email": "a@x.test"}));
        assert!(
            !identity_from_token(&config("sub", false), &t)
                .unwrap()
                .email_verified
        );
        let t = token(
            serde_json::json!({"iss": "i", "sub": "s", "email": "a@x.test", "email_verified": true}),
        );
        assert!(
            identity_from_token(&config("sub", false), &t)
                .unwrap()
                .email_verified
        );
    }

    #[test]
    fn email_and_name_come_from_the_configured_claims() {
        let t = token(serde_json::json!({
            "iss": "i", "sub": "s", "email": "other@x.test",
            "preferred_username": "a@x.test", "given_name": "Ann"
        }));
        let mut c = config("sub", true);
        c.email_claim = "preferred_username".into();
        c.name_claim = "given_name".into();
        let identity = identity_from_token(&c, &t).unwrap();
        assert_eq!(identity.emails, ["a@x.test"]);
        assert_eq!(identity.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn missing_subject_is_refused() {
        let t = token(serde_json::json!({"iss": "i", "email": "a@x.test"}));
        assert!(matches!(
            identity_from_token(&config("oid", false), &t),
            Err(Error::Refused(_))
        ));
    }

    #[test]
    fn provider_files_with_mistakes_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("providers.json");
        let provider = |name: &str, redirect: &str| {
            serde_json::json!({"name": name, "issuer": "https://idp.test", "client_id": "c",
                               "redirect_uri": redirect})
        };
        let ok = provider("b2c", "https://shop.test/v1/signin/b2c/callback");
        for (providers, expected) in [
            (serde_json::json!([ok, ok]), "configured twice"),
            (
                serde_json::json!([provider("b 2", "https://shop.test/v1/signin/b 2/callback")]),
                "letters, digits",
            ),
            (
                serde_json::json!([provider("b2c", "https://shop.test/callback")]),
                "must end in `/v1/signin/b2c/callback`",
            ),
            (
                serde_json::json!([{"name": "b2c", "issuer": "https://idp.test", "client_id": "c",
                                    "redirect_uri": "https://shop.test/v1/signin/b2c/callback",
                                    "trusted_provider": true}]),
                "unknown field `trusted_provider`",
            ),
        ] {
            std::fs::write(&file, providers.to_string()).unwrap();
            let err = ProviderConfig::from_file(&file).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("providers.json"), "{err}");
        }
        std::fs::write(&file, serde_json::json!([ok]).to_string()).unwrap();
        assert_eq!(
            ProviderConfig::from_file(&file).unwrap()[0].subject_claim,
            "sub"
        );
    }

    #[tokio::test]
    async fn configurations_built_in_code_are_checked_before_discovery() {
        let config = || {
            let mut c = config("sub", false);
            c.redirect_uri = "https://shop.test/v1/signin/b2c/callback".into();
            c
        };
        let store: Arc<dyn EphemeralStore> = Arc::new(crate::cache::memory::MemoryCache::new(
            Duration::from_secs(1),
        ));
        let err = match SignInService::discover(vec![config(), config()], store).await {
            Ok(_) => panic!("two providers named `b2c` were accepted"),
            Err(err) => err.to_string(),
        };
        assert!(err.contains("configured twice"), "{err}");
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(safe_return("/shop"), "/shop");
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "javascript:x",
        ] {
            assert_eq!(safe_return(bad), "/v1/me", "{bad}");
        }
    }
}
