//! What an ID token says: validating it, and reading the identity out of it
//! with the shapes of Azure AD B2C and Entra External ID.

use base64::Engine as _;
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{AccessTokenHash, ClaimsVerificationError, Nonce};

use super::config::ProviderConfig;
use crate::error::Error;
use crate::model::ExternalIdentity;

/// How far the provider's clock may be from ours when checking an ID token's
/// `exp` and `iat`.
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(60);

/// The relying party's client of one provider, as discovered.
pub(super) type RpClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Why an ID token was refused.
#[derive(Debug)]
pub(super) enum Refusal {
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
pub(super) fn verify_id_token(
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

/// The identity in a validated ID token, with B2C's claim shapes: `emails`
/// when there is no `email`, `oid` as the subject when configured.
pub(super) fn identity_from_token(
    config: &ProviderConfig,
    compact: &str,
) -> Result<ExternalIdentity, Error> {
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
pub(super) mod tests {
    use super::*;
    use crate::oidc::config::entra_tenant;

    pub(crate) fn config(subject: &str, verified_by_provider: bool) -> ProviderConfig {
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
            staff: false,
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
}
