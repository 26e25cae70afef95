//! The OpenID Connect relying party: sign-in with one or more providers
//! (OIDC, Azure AD B2C, Entra External ID), authorization code flow with PKCE
//! (S256), `state` and `nonce` kept server-side in the status cache (single
//! use, short TTL, so any node can finish a sign-in another began), ID tokens
//! validated with `openidconnect`, and a server-side session behind an opaque
//! cookie. Which customer an identity is, is the plugin's decision
//! ([`PartnerGate::link_identity`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, JsonWebKeySet, LogoutProviderMetadata, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::cache::EphemeralStore;
use crate::error::Error;
use crate::gate::PartnerGate;
use crate::model::ExternalIdentity;

mod claims;
mod config;
mod return_to;
mod session;

pub use claims::CLOCK_SKEW;
use claims::{Refusal, RpClient, identity_from_token, verify_id_token};
pub use config::ProviderConfig;
use return_to::safe_return;
pub use session::{Session, Signed};

/// How long a begun sign-in may take.
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The session cookie.
pub const SESSION_COOKIE: &str = "pg_session";
/// The least time between two key fetches for unknown key ids, so that a
/// provider sending them cannot make every callback fetch its keys.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// How long the first retry of a failed discovery waits; each later one
/// waits twice as long, up to [`DISCOVERY_RETRY_MAX`].
pub const DISCOVERY_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two discovery retries.
pub const DISCOVERY_RETRY_MAX: Duration = Duration::from_secs(60);

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
    /// What the browser that began the sign-in holds in its binding cookie.
    binding: String,
}

/// The browser's half of a begun sign-in: a value set in a short-lived
/// cookie of the browser that began it, without which the callback is
/// refused (a callback URL sent to someone else signs no one in).
#[derive(Clone, Debug)]
pub struct Binding {
    /// The cookie's name, per sign-in (several may be under way in tabs).
    pub cookie: String,
    /// Its value.
    pub value: String,
}

/// The binding cookie's name for the sign-in with `state`: `__Host-` prefixed
/// over https. `None` for a `state` this service could not have issued.
pub fn binding_cookie_name(state: &str, secure: bool) -> Option<String> {
    let valid = !state.is_empty()
        && state.len() <= 64
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| {
        let prefix = if secure { "__Host-" } else { "" };
        format!("{prefix}pg_signin_{state}")
    })
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

    /// The names of the providers that sign in staff (`staff`) or
    /// customers, in order: the sign-in links a page offers.
    pub fn providers_for(&self, staff: bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .providers
            .iter()
            .filter(|(_, p)| p.config.staff == staff)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
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
                .map_err(|e| Error::misconfigured("redirect_uri", e))?,
        ))
    }

    /// Begins a sign-in: the provider URL to redirect the browser to, and
    /// the cookie that binds the sign-in to this browser (set it on the
    /// redirect; [`SignInService::finish`] wants it back).
    pub async fn begin(
        &self,
        provider: &str,
        login_hint: Option<&str>,
        return_to: &str,
    ) -> Result<(String, Binding), Error> {
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
        let binding = Binding {
            cookie: binding_cookie_name(state.secret(), self.secure_cookies(provider))
                .ok_or_else(|| Error::Engine("a generated state is not a cookie name".into()))?,
            value: CsrfToken::new_random_len(32).secret().clone(),
        };
        let pending = Pending {
            provider: provider.to_string(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            return_to: safe_return(return_to),
            binding: binding.value.clone(),
        };
        let value = serde_json::to_string(&pending).expect("pending serializes");
        self.store
            .put_ephemeral("oidc-state", state.secret(), &value, STATE_TTL)
            .await?;
        Ok((url.to_string(), binding))
    }

    /// Finishes a sign-in at the callback: checks `state` (single use) and
    /// that `binding` is the value of the binding cookie of the browser that
    /// began it (else refused and audited: login CSRF), exchanges the code with the PKCE verifier, validates the ID token,
    /// links the identity through the plugin and opens a session. Returns the
    /// session id and where to send the browser.
    pub async fn finish(
        &self,
        gate: &PartnerGate,
        provider: &str,
        code: &str,
        state: &str,
        iss: Option<&str>,
        binding: Option<&str>,
    ) -> Result<(String, String), Error> {
        let p = self.provider(provider)?;
        Self::metadata(p)?;
        let pending = self
            .store
            .take_ephemeral("oidc-state", state)
            .await?
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
        let bound = binding.is_some_and(|b| {
            b.len() == pending.binding.len()
                && b.bytes()
                    .zip(pending.binding.bytes())
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0
        });
        if !bound {
            let reason = "the callback came from a browser that did not begin this sign-in (no or another binding cookie): start the sign-in again in the same browser";
            self.audit_refusal(gate, p, reason).await;
            return Err(Error::Refused(reason.into()));
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
        // A staff provider signs in staff only; a customer provider,
        // customers only.
        let (person_id, staff_id, organization_id, organizations) = if p.config.staff {
            let staff = gate.link_staff(identity.clone()).await?;
            (String::new(), Some(staff), None, Vec::new())
        } else {
            let signed = gate.link_identity(identity.clone()).await?;
            (
                signed.person_id,
                None,
                signed.organization_id,
                signed.organizations,
            )
        };
        let session = Session {
            person_id,
            staff_id,
            organization_id,
            organizations,
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
            .await?;
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
            .map_err(|e| Error::misconfigured("the provider's token endpoint", e))?
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

#[cfg(test)]
mod tests {
    use super::*;
    use claims::tests::config;

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
}
