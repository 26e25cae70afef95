//! How the page is served: its prefix, message catalog and theme.

use std::path::PathBuf;
use std::sync::Arc;

use super::i18n::{Catalog, Messages};
use super::views::{Chrome, Nav};
use crate::error::Error;

/// Where the page is served unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "/account/organization-users";

/// Where the prospect's form is served by default.
pub const DEFAULT_ONBOARDING_PATH: &str = "/onboarding";

/// Where the back office is served by default.
pub const DEFAULT_BACK_OFFICE_PATH: &str = "/back-office";

/// How the page is served.
pub struct PageConfig {
    /// The path prefix: `/account/organization-users` by default.
    pub prefix: String,
    /// The message catalog.
    pub catalog: Catalog,
    /// A stylesheet served after the page's own, to theme it.
    pub theme_css: Option<String>,
    /// The store's currency, in which spending limits are shown.
    pub currency: super::money::Currency,
    /// Where the prospect's form is served.
    pub onboarding_path: String,
    /// The form's requests per client address.
    pub onboarding_limit: std::sync::Arc<super::rate_limit::RateLimit>,
    /// Where the staff's back office is served.
    pub back_office: String,
}

impl Default for PageConfig {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.into(),
            catalog: Catalog::english(),
            theme_css: None,
            currency: Default::default(),
            onboarding_path: DEFAULT_ONBOARDING_PATH.into(),
            onboarding_limit: Default::default(),
            back_office: DEFAULT_BACK_OFFICE_PATH.into(),
        }
    }
}

impl PageConfig {
    /// The frame of a page that shows no one's data: no navigation, no
    /// forms.
    pub(super) fn bare_chrome<'a>(&'a self, m: Messages<'a>, title: String) -> Chrome<'a> {
        Chrome {
            m,
            prefix: &self.prefix,
            app: m.t("page-title"),
            title,
            organization: None,
            me: None,
            csrf: String::new(),
            notice: None,
            error: None,
            theme: self.theme_css.is_some(),
            nav: Nav::default(),
            refresh: None,
            switch: Vec::new(),
        }
    }

    /// The page under `prefix`, with the locales of `locales` and the theme
    /// in `theme_css`; a bad prefix, catalog or unreadable theme is refused.
    pub fn load(
        prefix: &str,
        locales: Option<&std::path::Path>,
        theme_css: Option<&PathBuf>,
    ) -> Result<Self, Error> {
        let prefix = checked_path(prefix, "page prefix", "/account/organization-users")?;
        let prefix = prefix.as_str();
        let theme_css = theme_css
            .map(|path| {
                std::fs::read_to_string(path).map_err(|e| {
                    Error::misconfigured(format!("page theme `{}`", path.display()), e)
                })
            })
            .transpose()?;
        Ok(Self {
            prefix: prefix.into(),
            catalog: Catalog::load(locales)?,
            theme_css,
            currency: Default::default(),
            onboarding_path: DEFAULT_ONBOARDING_PATH.into(),
            onboarding_limit: Default::default(),
            back_office: DEFAULT_BACK_OFFICE_PATH.into(),
        })
    }

    /// The back office served at `path` (the same rules as the page's
    /// prefix).
    pub fn with_back_office_path(mut self, path: &str) -> Result<Self, Error> {
        self.back_office = checked_path(path, "back office path", "/back-office")?;
        Ok(self)
    }

    /// The prospect's form served at `path` (the same rules as the page's
    /// prefix).
    pub fn with_onboarding_path(mut self, path: &str) -> Result<Self, Error> {
        self.onboarding_path = checked_path(path, "onboarding form path", "/onboarding")?;
        Ok(self)
    }

    /// The page showing amounts in `currency`.
    pub fn with_currency(mut self, currency: super::money::Currency) -> Self {
        self.currency = currency;
        self
    }
}

/// The shared state when the page is served.
pub(crate) type SharedPage = Arc<PageConfig>;

/// `path` without a trailing slash, if it is one the page may be served
/// under: letters, digits, `/-_.`, not under `/v1`.
fn checked_path(path: &str, what: &str, example: &str) -> Result<String, Error> {
    let path = path.trim_end_matches('/');
    if !path.starts_with('/')
        || path.starts_with("/v1")
        || path
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || "/-_.".contains(c)))
    {
        return Err(Error::Config(format!(
            "{what} `{path}`: use a path such as `{example}` (letters, digits, `/-_.`; not under `/v1`)"
        )));
    }
    Ok(path.to_string())
}
