//! Who is signed in: the session behind a page request, resolved once by
//! the [`Signed`] extractor (anyone else gets the sign-in page), and the
//! [`Viewer`] every page handler works with.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::config::PageConfig;
use super::i18n::Messages;
use super::respond::{failure, html, message};
use super::views::{Chrome, MessagePage, Nav};
use crate::decision::AuthorizeRequest;
use crate::error::Error;
use crate::oidc::Session;
use crate::server::auth::{cleared_session_cookie, constant_time_eq, session_cookie};
use crate::server::state::AppState;

/// The signed-in organization administrator a request comes from: an
/// extractor, so that a handler runs only for one (anyone else gets the
/// sign-in page or a refusal). [`Signed::viewer`] lends what every page
/// needs.
pub(super) struct Signed {
    pub state: AppState,
    accept_language: Option<String>,
    /// The session cookie's value.
    pub session_id: String,
    session: Session,
    actor: String,
    name: String,
    organization_name: String,
    /// The organization the session acts for (empty while choosing).
    organization_id: String,
    /// The organizations the person may act for: (id, name).
    organizations: Vec<(String, String)>,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        signed(state, &parts.headers, false).await
    }
}

/// A signed-in person who may not have chosen an organization yet: for
/// choosing one, and for signing out.
pub(super) struct Choosing(pub Signed);

impl FromRequestParts<AppState> for Choosing {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        signed(state, &parts.headers, true).await.map(Choosing)
    }
}

impl Signed {
    /// The sign-in service the session came from.
    pub fn sign_in(&self) -> &crate::oidc::SignInService {
        self.state
            .sign_in
            .as_deref()
            .expect("a signed-in viewer means sign-in")
    }

    /// The viewer, with the page's configuration and messages in the
    /// request's language.
    pub fn viewer(&self) -> Viewer<'_> {
        let page = self
            .state
            .page
            .as_deref()
            .expect("the page's routes exist only with its configuration");
        Viewer {
            state: &self.state,
            page,
            m: page.catalog.for_request(self.accept_language.as_deref()),
            session: &self.session,
            actor: &self.actor,
            name: &self.name,
            organization_name: &self.organization_name,
            organization_id: &self.organization_id,
            organizations: &self.organizations,
        }
    }
}

/// The signed-in organization administrator a request comes from, with
/// what every page needs.
pub(super) struct Viewer<'a> {
    pub state: &'a AppState,
    pub page: &'a PageConfig,
    pub m: Messages<'a>,
    pub session: &'a Session,
    pub actor: &'a str,
    pub name: &'a str,
    pub organization_name: &'a str,
    /// The organization the session acts for.
    pub organization_id: &'a str,
    organizations: &'a [(String, String)],
}

impl<'a> Viewer<'a> {
    /// The failure page for `err`, for `map_err(..)?` in handlers.
    pub fn failed(&self, err: Error) -> Response {
        failure(self.page, self.m, &err)
    }

    /// The page's frame for this viewer.
    pub fn chrome(&self, title: String, current: &'static str, nav: (bool, bool)) -> Chrome<'a> {
        Chrome {
            organization: Some(self.organization_name.to_string()),
            me: Some(self.name.to_string()),
            csrf: self.session.csrf_token.clone(),
            nav: Nav {
                shown: true,
                add: nav.0,
                audit: nav.1,
                current,
            },
            switch: self.switch(),
            ..self.page.bare_chrome(self.m, title)
        }
    }

    /// The organizations to switch among, when there are several.
    fn switch(&self) -> Vec<(String, String, bool)> {
        if self.organizations.len() < 2 {
            return Vec::new();
        }
        self.organizations
            .iter()
            .map(|(id, name)| (id.clone(), name.clone(), id == self.organization_id))
            .collect()
    }

    /// `organization:<id>` of the viewer's organization.
    pub fn organization(&self) -> String {
        format!("organization:{}", self.organization_id)
    }

    /// Whether `csrf` is this session's token.
    pub fn csrf_ok(&self, csrf: &str) -> bool {
        !self.session.csrf_token.is_empty()
            && constant_time_eq(csrf.as_bytes(), self.session.csrf_token.as_bytes())
    }

    /// Asks the policies, in one batch, whether the viewer may do each
    /// `(action, resource)`; a request that could not be decided is a
    /// denial.
    pub async fn permitted(&self, asks: &[(&str, String)]) -> Result<Vec<bool>, Error> {
        permitted(self.state, self.actor, asks).await
    }

    /// Which of the add and audit links to show.
    pub async fn nav(&self) -> Result<(bool, bool), Error> {
        let org = self.organization();
        let allowed = self
            .permitted(&[("addUser", org.clone()), ("viewAudit", org)])
            .await?;
        Ok((allowed[0], allowed[1]))
    }
}

/// A page request's session, resolved the same way for the page and the
/// back office: the live session behind the cookie, if any.
pub(super) struct Visit<'a> {
    pub page: &'a PageConfig,
    pub m: Messages<'a>,
    pub accept_language: Option<&'a str>,
    service: &'a crate::oidc::SignInService,
    /// The session cookie's value, if the request had one.
    pub cookie: Option<String>,
    /// The session behind it and who it is, if it may go on.
    pub live: Option<(Session, crate::oidc::Signed)>,
}

impl<'a> Visit<'a> {
    /// The request's session, or the page to show instead: sign-in is not
    /// configured, or the session could not be checked.
    pub async fn of(state: &'a AppState, headers: &'a HeaderMap) -> Result<Self, Response> {
        let page = state
            .page
            .as_deref()
            .expect("the page's routes exist only with its configuration");
        let accept_language = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let m = page.catalog.for_request(accept_language);
        let Some(service) = state.sign_in.as_deref() else {
            return Err(message(
                page,
                m,
                StatusCode::NOT_IMPLEMENTED,
                m.t("signed-out-title"),
                m.t("sign-in-none"),
                Vec::new(),
            ));
        };
        let cookie = session_cookie(headers);
        let live = match &cookie {
            Some(id) => service
                .live_session(&state.gate, id)
                .await
                .map_err(|err| failure(page, m, &err))?,
            None => None,
        };
        Ok(Self {
            page,
            m,
            accept_language,
            service,
            cookie,
            live,
        })
    }

    /// The sign-in page in `frame`: a link per staff (`staff`) or customer
    /// provider, each back to `return_to`; a cookie whose session ended is
    /// cleared.
    pub fn sign_in(
        &self,
        frame: Chrome<'a>,
        staff: bool,
        return_to: &str,
        explain: String,
    ) -> Response {
        let m = self.m;
        let back = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        let links = self
            .service
            .providers_for(staff)
            .into_iter()
            .map(|name| {
                (
                    format!("/v1/signin/{name}/login?{back}"),
                    m.t1("sign-in-with", "provider", &name),
                )
            })
            .collect();
        let mut reply = html(
            StatusCode::UNAUTHORIZED,
            MessagePage {
                heading: m.t("signed-out-title"),
                explain,
                links,
                chrome: frame,
            },
        );
        if self.cookie.is_some() {
            reply.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cleared_session_cookie())
                    .expect("a fixed cookie is a header value"),
            );
        }
        reply
    }
}

/// Who a request comes from, or the page to show instead: sign in (no or
/// an ended session, the cookie then cleared) or an error.
async fn signed(state: &AppState, headers: &HeaderMap, choosing: bool) -> Result<Signed, Response> {
    let visit = Visit::of(state, headers).await?;
    let (page, m) = (visit.page, visit.m);
    // Staff work in the back office, not on an organization's page.
    let (session, account) = match visit.live {
        Some((_, crate::oidc::Signed::Staff(_))) => {
            let links = vec![(page.back_office.clone(), m.t("back-office-title"))];
            return Err(message(
                page,
                m,
                StatusCode::FORBIDDEN,
                m.t("staff-elsewhere-title"),
                m.t("staff-elsewhere-explain"),
                links,
            ));
        }
        Some((session, crate::oidc::Signed::Customer(account))) => (session, account),
        None => {
            return Err(visit.sign_in(
                page.bare_chrome(m, m.t("signed-out-title")),
                false,
                &page.prefix,
                m.t("signed-out-explain"),
            ));
        }
    };
    // The person's own memberships that may be acted for now.
    let organizations: Vec<(String, String)> = account
        .memberships
        .iter()
        .filter(|m| {
            m.membership.status == crate::model::AccountStatus::Active
                && m.organization.status == crate::model::OrganizationStatus::Approved
        })
        .map(|m| (m.organization.id.clone(), m.organization.name.clone()))
        .collect();
    let Some(organization_id) = session
        .organization_id
        .clone()
        .or(choosing.then(String::new))
    else {
        // Signed in, no organization picked yet: the choice.
        let mut chrome = page.bare_chrome(m, m.t("choose-organization-title"));
        chrome.me = Some(account.person.name.clone());
        chrome.csrf = session.csrf_token.clone();
        chrome.switch = organizations
            .iter()
            .map(|(id, name)| (id.clone(), name.clone(), false))
            .collect();
        return Err(html(
            StatusCode::OK,
            MessagePage {
                chrome,
                heading: m.t("choose-organization-title"),
                explain: m.t("choose-organization-explain"),
                links: Vec::new(),
            },
        ));
    };
    Ok(Signed {
        state: state.clone(),
        accept_language: visit.accept_language.map(str::to_string),
        session_id: visit.cookie.unwrap_or_default(),
        actor: session.actor(),
        name: account.person.name.clone(),
        organization_name: account
            .organization
            .as_ref()
            .filter(|_| session.organization_id.is_some())
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        organization_id,
        organizations,
        session,
    })
}

/// The page an actor who may not list the organization's users gets: no
/// data, only their sign-out.
pub(super) fn forbidden(viewer: &Viewer<'_>) -> Response {
    let m = viewer.m;
    let mut chrome = viewer.chrome(m.t("forbidden-title"), "", (false, false));
    chrome.nav = Nav::default();
    chrome.organization = None;
    html(
        StatusCode::FORBIDDEN,
        MessagePage {
            chrome,
            heading: m.t("forbidden-title"),
            explain: m.t("forbidden-explain"),
            links: Vec::new(),
        },
    )
}

/// The page someone gets for a user they may not view, whether or not the
/// user exists.
pub(super) fn no_user(viewer: &Viewer<'_>) -> Response {
    message(
        viewer.page,
        viewer.m,
        StatusCode::FORBIDDEN,
        viewer.m.t("page-title"),
        viewer.m.t("error-no-user"),
        vec![(viewer.page.prefix.clone(), viewer.m.t("back-to-list"))],
    )
}

/// Whether `person`'s membership moved on from `version` (a stale read).
pub(super) async fn moved_on(viewer: &Viewer<'_>, person: &str, version: u64) -> bool {
    matches!(
        viewer.state.gate.get_user(viewer.actor, person).await,
        Ok(Some(view)) if view.member.membership.as_ref().is_some_and(|m| m.version != version)
    )
}

/// Whether the policies permit `actor` each `(action, resource)`, asked in
/// one batch; a request that could not be decided is a denial. What the
/// page and the back office show their buttons on.
pub(super) async fn permitted(
    state: &AppState,
    actor: &str,
    asks: &[(&str, String)],
) -> Result<Vec<bool>, Error> {
    let requests: Vec<AuthorizeRequest> = asks
        .iter()
        .map(|(action, resource)| AuthorizeRequest::by_actor(actor, *action, resource.clone()))
        .collect();
    Ok(state
        .gate
        .authorize_many(&requests)
        .await?
        .into_iter()
        .map(|d| d.is_ok_and(|d| d.is_allowed()))
        .collect())
}
