//! The providers' configuration: the JSON file `--oidc-providers` names,
//! checked before anything is discovered.

use std::path::Path;

use serde::Deserialize;

use crate::error::Error;

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
    /// Whether this provider signs in the merchant's staff (typically the
    /// company's Entra ID) instead of customers: its identities are linked
    /// to staff records only, and a customer provider's never are.
    #[serde(default)]
    pub staff: bool,
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
            .map_err(|e| Error::misconfigured(format!("OIDC providers `{}`", path.display()), e))?;
        Self::check(&providers)
            .map_err(|e| Error::Config(format!("OIDC providers `{}`: {e}", path.display())))?;
        Ok(providers)
    }

    /// Names are unique and URL-safe, and each redirect URI is the
    /// provider's own callback. [`SignInService::discover`] checks this too,
    /// for configurations built in code.
    pub(super) fn check(providers: &[Self]) -> Result<(), String> {
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

/// The tenant id of an Entra External ID issuer,
/// `https://<tenant-id>.ciamlogin.com/<tenant-id>/v2.0` (the form its
/// metadata always names, whatever domain discovery was reached through).
pub(super) fn entra_tenant(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let host = url.host_str()?;
    let subdomain = host.strip_suffix(".ciamlogin.com")?;
    let mut segments = url.path_segments()?;
    let tenant = segments.next()?;
    (!tenant.is_empty() && subdomain == tenant).then(|| tenant.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
