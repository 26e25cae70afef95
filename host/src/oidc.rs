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
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError,
    ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet, LogoutProviderMetadata,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::bindings::types::{Account, ExternalIdentity};
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

/// How long the first retry of a failed discovery waits; each later one
/// waits twice as long, up to [`DISCOVERY_RETRY_MAX`].
pub const DISCOVERY_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two discovery retries.
pub const DISCOVERY_RETRY_MAX: Duration = Duration::from_secs(60);

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
    /// sign-up); otherwise the `email_verified` claim decides. Either way an
    /// Entra External ID `xms_edov` claim that is present and not `true`
    /// (the email's domain is not verified) makes the email unverified.
    #[serde(default)]
    pub emails_verified_by_provider: bool,
    /// The tenant whose tokens are accepted: the ID token's `tid` must be
    /// this. For an Entra External ID issuer
    /// (`https://<tenant-id>.ciamlogin.com/<tenant-id>/v2.0`) it is the
    /// issuer's tenant unless set here. With `subject_claim: "oid"`, the
    /// stable identity is then `oid` within that tenant (`sub` is pairwise
    /// per application).
    #[serde(default)]
    pub tenant_id: Option<String>,
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
    /// The tenant the ID token's `tid` must name: the configured one, or an
    /// Entra External ID issuer's own.
    pub fn pinned_tenant(&self) -> Option<String> {
        self.tenant_id
            .clone()
            .or_else(|| entra_tenant(&self.issuer))
    }

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

/// Discovery metadata beyond the core: RP-initiated logout's
/// `end_session_endpoint` and RFC 9207's flag.
type Metadata = ProviderMetadata<
    LogoutProviderMetadata<IssParameter>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// RFC 9207: whether the provider puts `iss` into its authorization
/// responses.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssParameter {
    /// `authorization_response_iss_parameter_supported`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssParameter {}

/// A provider's discovered metadata: `None` until discovery has succeeded
/// (it is retried in the background).
type Discovered = Arc<RwLock<Option<Metadata>>>;

struct Provider {
    config: ProviderConfig,
    metadata: Discovered,
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
    /// Checks the configurations and discovers every provider. A provider
    /// whose discovery fails is retried in the background with backoff
    /// ([`DISCOVERY_RETRY_FIRST`] doubling up to [`DISCOVERY_RETRY_MAX`]);
    /// meanwhile its sign-in endpoints answer `provider_unavailable` and the
    /// other providers work. Fails only on a wrong configuration.
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
            let metadata: Discovered = Arc::new(RwLock::new(None));
            match Metadata::discover_async(issuer.clone(), &http).await {
                Ok(discovered) => *metadata.write().expect("metadata lock") = Some(discovered),
                Err(e) => {
                    tracing::warn!(provider = %config.name, "discovery failed, retrying in the background: {e}");
                    tokio::spawn(rediscover(
                        config.name.clone(),
                        issuer,
                        http.clone(),
                        Arc::downgrade(&metadata),
                    ));
                }
            }
            providers.insert(
                config.name.clone(),
                Provider {
                    config,
                    metadata,
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

    /// Whether each provider has been discovered, by name.
    pub fn discovered(&self) -> Vec<(String, bool)> {
        let mut all: Vec<(String, bool)> = self
            .providers
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    p.metadata.read().expect("metadata lock").is_some(),
                )
            })
            .collect();
        all.sort();
        all
    }

    fn provider(&self, name: &str) -> Result<&Provider, Error> {
        self.providers
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("no sign-in provider `{name}`")))
    }

    /// The provider's metadata, or `provider_unavailable` while its
    /// discovery has not succeeded.
    fn metadata(provider: &Provider) -> Result<Metadata, Error> {
        provider
            .metadata
            .read()
            .expect("metadata lock")
            .clone()
            .ok_or_else(|| {
                Error::ProviderUnavailable(format!(
                    "sign-in with `{}` is unavailable: its discovery has not succeeded yet (retried in the background); try again shortly",
                    provider.config.name
                ))
            })
    }

    fn client(provider: &Provider) -> Result<RpClient, Error> {
        let metadata = Self::metadata(provider)?;
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
        iss: Option<&str>,
    ) -> Result<(String, String), Error> {
        let p = self.provider(provider)?;
        Self::metadata(p)?;
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
        // Before the code goes anywhere: a response from another provider
        // must not be redeemed here (mix-up, RFC 9207).
        if let Err(reason) = self.check_response_issuer(p, iss) {
            self.audit_refusal(gate, p, &reason).await;
            return Err(Error::Refused(reason));
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

    /// RFC 9207: the authorization response's `iss` must be this provider's
    /// issuer. It must be present when the provider advertises
    /// `authorization_response_iss_parameter_supported`; one naming another
    /// configured provider is always refused (a mix-up attack).
    fn check_response_issuer(&self, p: &Provider, iss: Option<&str>) -> Result<(), String> {
        let (expected, promised) = {
            let metadata = p.metadata.read().expect("metadata lock");
            let metadata = metadata.as_ref().expect("checked discovered");
            (
                metadata.issuer().as_str().to_string(),
                metadata
                    .additional_metadata()
                    .additional_metadata
                    .authorization_response_iss_parameter_supported,
            )
        };
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        match iss {
            Some(iss) if same(iss, &expected) => Ok(()),
            Some(iss) => {
                let other = self.providers.values().find(|o| {
                    o.config.name != p.config.name
                        && (same(&o.config.issuer, iss)
                            || o.metadata
                                .read()
                                .expect("metadata lock")
                                .as_ref()
                                .is_some_and(|m| same(m.issuer().as_str(), iss)))
                });
                Err(match other {
                    Some(o) => format!(
                        "mix-up: the authorization response names the issuer of provider `{}` (`{iss}`), not `{expected}`: start the sign-in again",
                        o.config.name
                    ),
                    None => format!(
                        "the authorization response names issuer `{iss}`, not `{expected}`: start the sign-in again"
                    ),
                })
            }
            None if promised => Err(format!(
                "the authorization response has no `iss` although `{expected}` promises it (RFC 9207): start the sign-in again"
            )),
            None => Ok(()),
        }
    }

    /// Puts a refused code exchange or ID token into the audit trail (staff
    /// read it with `GET /v1/audit`) through the plugin: a provider sending
    /// bad tokens is a security event. Refusals of unknown `state` are only
    /// logged, since anyone can send those.
    async fn audit_refusal(&self, gate: &PartnerGate, p: &Provider, reason: &str) {
        if let Err(err) = gate
            .record_refusal(&p.config.name, &p.config.issuer, reason)
            .await
        {
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
        let uri = Self::metadata(p)?.jwks_uri().clone();
        let keys = JsonWebKeySet::fetch_async(&uri, &self.http)
            .await
            .map_err(http_error)?;
        tracing::info!(provider = %p.config.name, keys = keys.keys().len(), "fetched the provider's keys again for an unknown key id");
        let mut metadata = p.metadata.write().expect("metadata lock");
        if let Some(current) = metadata.take() {
            *metadata = Some(current.set_jwks(keys));
        }
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
            Ok(()) => {
                let account = gate
                    .directory()
                    .get_account(&session.person_id)
                    .await
                    .map_err(|e| Error::Unavailable(e.to_string()))?;
                if let Some(account) = account {
                    return Ok(Some((session, account)));
                }
                tracing::info!(person = %session.person_id, "session ended: the customer record is gone");
            }
            Err(Error::Refused(reason)) => {
                tracing::info!(person = %session.person_id, "session ended: {reason}");
            }
            Err(err) => return Err(err),
        }
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

/// Retries a failed discovery with backoff until it succeeds, or until the
/// service that wanted it is gone.
async fn rediscover(
    name: String,
    issuer: IssuerUrl,
    http: openidconnect::reqwest::Client,
    metadata: std::sync::Weak<RwLock<Option<Metadata>>>,
) {
    let mut wait = DISCOVERY_RETRY_FIRST;
    loop {
        tokio::time::sleep(wait).await;
        let Some(slot) = metadata.upgrade() else {
            return;
        };
        match Metadata::discover_async(issuer.clone(), &http).await {
            Ok(discovered) => {
                *slot.write().expect("metadata lock") = Some(discovered);
                tracing::info!(provider = %name, "discovery succeeded; sign-in with it is available");
                return;
            }
            Err(e) => {
                wait = (wait * 2).min(DISCOVERY_RETRY_MAX);
                tracing::warn!(provider = %name, "discovery failed again, next try in {wait:?}: {e}");
            }
        }
    }
}

/// The tenant id of an Entra External ID issuer,
/// `https://<tenant-id>.ciamlogin.com/<tenant-id>/v2.0` (the form its
/// metadata always names, whatever domain discovery was reached through).
fn entra_tenant(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let host = url.host_str()?;
    let subdomain = host.strip_suffix(".ciamlogin.com")?;
    let mut segments = url.path_segments()?;
    let tenant = segments.next()?;
    (!tenant.is_empty() && subdomain == tenant).then(|| tenant.to_string())
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

/// Only paths of this site: never redirect the browser elsewhere after
/// sign-in. The path is resolved the way a browser resolves it (WHATWG URL
/// parsing, which strips tabs and newlines and reads `\` as `/`) against a
/// fixed origin, and kept only if it stays on that origin; what is returned
/// is the resolved path, so the browser is sent exactly where was checked.
/// Control characters are refused before parsing.
fn safe_return(return_to: &str) -> String {
    const FALLBACK: &str = "/v1/me";
    if !return_to.starts_with('/') || return_to.chars().any(char::is_control) {
        return FALLBACK.into();
    }
    let base = url::Url::parse("https://partnergate.invalid/").expect("fixed base parses");
    match base.join(return_to) {
        Ok(resolved) if resolved.origin() == base.origin() => {
            let mut path = resolved.path().to_string();
            if let Some(query) = resolved.query() {
                path.push('?');
                path.push_str(query);
            }
            if let Some(fragment) = resolved.fragment() {
                path.push('#');
                path.push_str(fragment);
            }
            // A resolved path never starts with `//`; check anyway.
            if path.starts_with("//") {
                FALLBACK.into()
            } else {
                path
            }
        }
        _ => FALLBACK.into(),
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
    if let Some(tenant) = config.pinned_tenant()
        && text("tid").as_deref() != Some(tenant.as_str())
    {
        return Err(Error::Refused(format!(
            "the ID token's `tid` is not the configured tenant `{tenant}`"
        )));
    }
    // Entra External ID: `xms_edov` says whether the email's domain is
    // verified; when present, nothing else makes the email verified.
    let domain_verified = claims.get("xms_edov").is_none_or(edov_is_true);
    let email_verified = domain_verified
        && (config.emails_verified_by_provider
            || claims
                .get("email_verified")
                .and_then(|v| v.as_bool())
                .unwrap_or(false));
    let extra = ["idp", "tfp", "acr", "oid", "tid"]
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

/// `xms_edov` is a boolean, sent by some tenants as `"1"`/`"true"`.
fn edov_is_true(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => s == "1" || s.eq_ignore_ascii_case("true"),
        serde_json::Value::Number(n) => n.as_u64() == Some(1),
        _ => false,
    }
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
            tenant_id: None,
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
    fn entra_external_id_issuers_pin_their_tenant() {
        const TENANT: &str = "8f1a3b2c-0000-4000-8000-00000000e1d0";
        let issuer = format!("https://{TENANT}.ciamlogin.com/{TENANT}/v2.0");
        assert_eq!(entra_tenant(&issuer).as_deref(), Some(TENANT));
        // Not the issuer form: nothing is pinned from it (set `tenant_id`).
        assert_eq!(
            entra_tenant("https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0"),
            None
        );
        assert_eq!(
            entra_tenant("https://tenant.b2clogin.com/tenant-id/v2.0/"),
            None
        );
        assert_eq!(entra_tenant("https://ciamlogin.com.evil.test/t/v2.0"), None);

        let mut c = config("oid", true);
        c.issuer = issuer.clone();
        assert_eq!(c.pinned_tenant().as_deref(), Some(TENANT));
        let claims = |tid: &str| {
            token(serde_json::json!({
                "iss": issuer, "sub": "pairwise", "oid": "o-1", "tid": tid,
                "email": "a@x.test", "xms_edov": true
            }))
        };
        let identity = identity_from_token(&c, &claims(TENANT)).unwrap();
        assert_eq!(identity.subject, "o-1");
        assert!(identity.email_verified);
        let err = identity_from_token(&c, &claims("another-tenant")).unwrap_err();
        assert!(err.to_string().contains("`tid`"), "{err}");
        // A configured tenant wins over the issuer's.
        c.tenant_id = Some("another-tenant".into());
        assert!(identity_from_token(&c, &claims("another-tenant")).is_ok());
        assert!(identity_from_token(&c, &claims(TENANT)).is_err());
    }

    #[test]
    fn an_unverified_email_domain_is_never_a_verified_email() {
        let with_edov = |edov: serde_json::Value| {
            token(
                serde_json::json!({"iss": "i", "sub": "s", "email": "a@x.test", "email_verified": true, "xms_edov": edov}),
            )
        };
        for (edov, verified) in [
            (serde_json::json!(true), true),
            (serde_json::json!("1"), true),
            (serde_json::json!(false), false),
            (serde_json::json!("0"), false),
            (serde_json::json!(null), false),
        ] {
            for by_provider in [false, true] {
                let identity =
                    identity_from_token(&config("sub", by_provider), &with_edov(edov.clone()))
                        .unwrap();
                assert_eq!(
                    identity.email_verified, verified,
                    "xms_edov {edov}, provider {by_provider}"
                );
            }
        }
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
        assert_eq!(safe_return("/shop/cart?x=1#top"), "/shop/cart?x=1#top");
        // Resolved, so dot segments and encoded characters stay on the site.
        assert_eq!(safe_return("/a/../b"), "/b");
        assert_eq!(safe_return("/%2F/evil.test"), "/%2F/evil.test");
        assert_eq!(safe_return("/%09/evil.test"), "/%09/evil.test");
        assert_eq!(safe_return("/%5Cevil.test"), "/%5Cevil.test");
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "\\\\evil.test",
            "\\/evil.test",
            "javascript:x",
            "",
            "shop",
            " //evil.test",
            // Browsers strip tabs and newlines anywhere in a URL: these
            // would become `//evil.test` (regression: `/<TAB>/evil.example`
            // was sent as the Location after the callback).
            "/\t/evil.test",
            "/\n/evil.test",
            "/\r\n/evil.test",
            "\t//evil.test",
            "/\t\\evil.test",
            "/\u{0}/evil.test",
            "/\u{7f}/evil.test",
        ] {
            assert_eq!(safe_return(bad), "/v1/me", "{bad:?}");
        }
    }
}
