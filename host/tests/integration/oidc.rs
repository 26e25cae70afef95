//! Sign-in end to end against a real OpenID provider (npm `oidc-provider`,
//! pinned in `integration/oidc/`, started on 127.0.0.1 by the test) through
//! `partnergate serve`'s endpoints: login → provider → callback → linked
//! session → store access, and the refusals.

use super::common::{self, Site};
use partnergate_testkit::{free_port, start_provider, start_provider_on};

use std::sync::Arc;
use std::time::Duration;

use partnergate::PartnerGate;
use partnergate::directory::AuditQuery;
use partnergate::oidc::{ProviderConfig, SignInService};
use partnergate::server;
use reqwest::StatusCode;
use serde_json::Value;

fn provider_config(name: &str, issuer: &str, base: &str, client: &str) -> ProviderConfig {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "issuer": issuer,
        "client_id": client,
        "client_secret": "test-secret",
        "redirect_uri": format!("{base}/v1/signin/{name}/callback"),
    }))
    .unwrap()
}

async fn site() -> Site {
    site_with_token(None).await
}

async fn site_with_token(service_token: Option<&str>) -> Site {
    site_with(service_token, |_| Vec::new()).await
}

/// The providers every site registers callbacks for.
const SITE_PROVIDERS: [&str; 6] = ["test", "es", "b2c", "entra", "late", "staff"];

/// A site with the test providers and the configurations `extra` makes
/// from the site's base address.
async fn site_with(
    service_token: Option<&str>,
    extra: impl FnOnce(&str) -> Vec<ProviderConfig>,
) -> Site {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider =
        start_provider(&SITE_PROVIDERS.map(|n| format!("{base}/v1/signin/{n}/callback")));
    let (gate, dir) = common::gate_and_directory().await;
    let stop = serve_node_with(
        &gate,
        &provider.issuer,
        &base,
        service_token,
        listener,
        extra(&base),
    )
    .await;
    Site {
        base,
        gate,
        dir,
        provider,
        stop: Some(stop),
    }
}

/// Serves `gate` with sign-in through the test providers on `listener`;
/// `base` is the public address the providers send browsers back to.
async fn serve_node(
    gate: &PartnerGate,
    issuer: &str,
    base: &str,
    service_token: Option<&str>,
    listener: tokio::net::TcpListener,
) -> tokio::sync::oneshot::Sender<()> {
    serve_node_with(gate, issuer, base, service_token, listener, Vec::new()).await
}

/// [`serve_node`] with more provider configurations.
async fn serve_node_with(
    gate: &PartnerGate,
    issuer: &str,
    base: &str,
    service_token: Option<&str>,
    listener: tokio::net::TcpListener,
    extra: Vec<ProviderConfig>,
) -> tokio::sync::oneshot::Sender<()> {
    let mut es = provider_config("es", issuer, base, "storefront-es256");
    es.trusted = true;
    let mut b2c = provider_config("b2c", issuer, base, "storefront-rs256");
    b2c.subject_claim = "oid".into();
    b2c.emails_verified_by_provider = true;
    b2c.scopes = vec!["b2c".into(), "profile".into()];
    // Entra External ID: the stable identity is `oid` in the pinned tenant.
    let mut entra = provider_config("entra", issuer, base, "storefront-rs256");
    entra.subject_claim = "oid".into();
    entra.tenant_id = Some("tenant-1".into());
    entra.emails_verified_by_provider = true;
    entra.scopes = vec!["entra".into(), "profile".into()];
    // The merchant's own provider for its staff.
    let mut staff = provider_config("staff", issuer, base, "storefront-rs256");
    staff.staff = true;
    let mut configs = vec![
        provider_config("test", issuer, base, "storefront-rs256"),
        es,
        b2c,
        entra,
        staff,
    ];
    configs.extend(extra);
    let store = gate.ephemeral().clone();
    let sign_in = SignInService::discover(configs, store)
        .await
        .expect("discovery");
    let router = server::router_with_sign_in(
        gate.clone(),
        service_token.map(String::from),
        Some(Arc::new(sign_in)),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve_router(listener, router, async {
        let _ = stopped.await;
    }));
    stop
}

/// A browser: its own cookie jar, no automatic redirects, and a timeout so
/// that a stalled server fails the test instead of hanging it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_string()
}

/// Follows the flow up to (not including) our callback; returns its URL and
/// the `state` the provider echoes.
async fn until_callback(
    site: &Site,
    browser: &reqwest::Client,
    provider: &str,
    hint: &str,
) -> String {
    let res = browser
        .get(format!(
            "{}/v1/signin/{provider}/login?login_hint={hint}",
            site.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mut next = location(&res);
    for _ in 0..10 {
        if next.starts_with(&site.base) {
            return next;
        }
        let res = browser.get(&next).send().await.unwrap();
        assert!(res.status().is_redirection(), "{next}: {}", res.status());
        next = location(&res);
        if next.starts_with('/') {
            let origin: String = res.url().origin().ascii_serialization();
            next = format!("{origin}{next}");
        }
    }
    panic!("the flow did not reach the callback");
}

/// Whether the provider's `subject` is linked to a customer.
async fn is_linked(site: &Site, subject: &str) -> bool {
    site.dir
        .find_link(&site.provider.issuer, subject)
        .await
        .unwrap()
        .is_some()
}

/// Asserts a redirect (a finished sign-in), showing the body otherwise.
async fn assert_redirected(res: reqwest::Response) {
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
}

fn state_of(callback: &str) -> String {
    let url = reqwest::Url::parse(callback).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

async fn json(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

/// GETs `url` with `browser` and reads the JSON answer.
async fn get_json(browser: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    json(browser.get(url).send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invited_member_signs_in_gets_a_session_and_store_access_until_revoked() {
    let site = site().await;
    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/v1/me");
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let me = get_json(&b, format!("{}/v1/me", site.base)).await;
    assert_eq!(
        (me["person"]["id"].as_str(), me["status"].as_str()),
        (Some("ivan"), Some("active")),
        "{me}"
    );
    // The person's memberships, the session's active one marked.
    let memberships = me["memberships"].as_array().expect("memberships");
    assert_eq!(memberships.len(), 1, "{me}");
    assert_eq!(
        (
            memberships[0]["organization_id"].as_str(),
            memberships[0]["status"].as_str(),
            memberships[0]["active"].as_bool()
        ),
        (Some("acme"), Some("active"), Some(true)),
        "{me}"
    );
    assert!(
        common::decide(&site.gate, "customer:ivan", "browse", "store:main")
            .await
            .is_allowed()
    );

    let version = common::version(&*site.dir, "ivan").await;
    let target = partnergate::model::Target {
        person_id: "ivan".into(),
        organization_id: None,
        version,
    };
    site.gate
        .revoke_user("customer:alice", target)
        .await
        .unwrap();
    assert!(
        !common::decide(&site.gate, "customer:ivan", "browse", "store:main")
            .await
            .is_allowed()
    );

    // The revocation also ends the browser's session, wherever it is used
    // next.
    let res = b
        .get(format!("{}/v1/organizations/acme/users", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(res).await["code"], "not_signed_in");
    let res = b.get(format!("{}/v1/me", site.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// A staff provider signs invited staff in (linked by verified email and
/// made active) and never a customer; a customer provider never signs staff
/// in. The staff session acts as `staff:<id>`, as the policies allow, and
/// ends on the next request once the staff member is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_only_through_a_staff_provider_and_ends_on_removal() {
    use partnergate::model::StaffStatus;
    let site = site().await;
    // Ivan is an invited customer: the staff provider does not sign him in.
    let b = browser();
    let callback = until_callback(&site, &b, "staff", "ivan").await;
    assert_refused(
        &site,
        b.get(&callback).send().await.unwrap(),
        "customer at the staff provider",
        "ivan",
        "no staff record",
    )
    .await;
    assert_eq!(
        site.dir
            .get_account("ivan")
            .await
            .unwrap()
            .unwrap()
            .membership
            .unwrap()
            .status,
        partnergate::model::AccountStatus::Invited,
        "his invitation is untouched"
    );
    // Stella is invited staff: a customer provider does not sign her in.
    let b = browser();
    let callback = until_callback(&site, &b, "test", "stella").await;
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        json(res).await["message"]
            .as_str()
            .unwrap()
            .contains("no customer record")
    );
    // Removed staff are refused at the staff provider.
    let b = browser();
    let callback = until_callback(&site, &b, "staff", "rex").await;
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        json(res).await["message"]
            .as_str()
            .unwrap()
            .contains("no longer active")
    );

    // Stella at the staff provider: linked, active, a staff session.
    let stella = signed_in(&site, "staff", "stella").await;
    let staff = site.dir.get_staff("stella").await.unwrap().unwrap();
    assert_eq!(staff.status, StaffStatus::Active);
    let me = get_json(&stella, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["staff"]["id"], "stella", "{me}");
    assert!(me["person"].is_null(), "{me}");
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    // She acts as herself on the API, where the policies let her: acme is
    // assigned to her, globex is not.
    let res = stella
        .get(format!("{}/v1/organizations/acme/users", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = stella
        .get(format!("{}/v1/organizations/globex/users", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = stella
        .get(format!("{}/v1/onboarding", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // A staff session has no organization to switch to.
    let res = stella
        .post(format!("{}/v1/me/organization", site.base))
        .header("x-partnergate-csrf", &csrf)
        .json(&serde_json::json!({"organization": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Removed by the merchant: the next request is refused.
    site.gate
        .put_staff(&partnergate::model::Staff {
            status: StaffStatus::Removed,
            ..staff
        })
        .await
        .unwrap();
    let res = stella
        .get(format!("{}/v1/organizations/acme/users", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = stella
        .get(format!("{}/v1/me", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // And the policies deny her, whoever names her.
    assert!(
        !common::decide(&site.gate, "staff:stella", "listOnboarding", "store:main")
            .await
            .is_allowed()
    );
}

/// Logout ends our session and sends the browser to the provider's
/// end-session endpoint with the ID token as the hint; the provider accepts
/// the hint (it answers 400 to one it did not issue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_here_and_at_the_provider() {
    let site = site().await;
    let b = signed_in(&site, "test", "ivan").await;
    assert_eq!(
        get_json(&b, format!("{}/v1/me", site.base)).await["person"]["id"],
        "ivan"
    );
    let res = b
        .post(format!("{}/v1/signin/logout", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let end_session = reqwest::Url::parse(&location(&res)).unwrap();
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/session/end", site.provider.issuer)),
        "{end_session}"
    );
    let params: std::collections::HashMap<_, _> = end_session.query_pairs().collect();
    assert_eq!(params["client_id"], "storefront-rs256");
    assert_eq!(params["id_token_hint"].split('.').count(), 3);
    let provider_page = b.get(end_session.as_str()).send().await.unwrap();
    assert_eq!(provider_page.status(), StatusCode::OK);
    assert_eq!(
        b.get(format!("{}/v1/me", site.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_state_reuse_and_state_mismatch_are_refused() {
    let site = site().await;
    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    assert_eq!(
        b.get(&callback).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let again = b.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(
        json(again).await["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    let b = browser();
    let callback = until_callback(&site, &b, "test", "bob").await;
    let forged = callback.replace(&state_of(&callback), "forged-state");
    let res = b.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Login CSRF (issue #23): an attacker begins a sign-in as george (whose
/// identity the provider vouches for) and
/// sends the callback URL to a victim, whose browser opens it. The victim's
/// browser lacks the binding cookie the login set in the attacker's, so
/// the callback is refused, opens no session, links nobody and is
/// audited; a sign-in begun and finished in one browser still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_login_csrf_a_callback_opened_in_another_browser_is_refused() {
    let site = site().await;
    let login = browser()
        .get(format!(
            "{}/v1/signin/test/login?login_hint=george",
            site.base
        ))
        .send()
        .await
        .unwrap();
    let binding = login
        .headers()
        .get("set-cookie")
        .expect("the login binds the sign-in to the browser")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        binding.starts_with("pg_signin_")
            && binding.contains("HttpOnly")
            && binding.contains("SameSite=Lax")
            && binding.contains("Max-Age=600"),
        "{binding}"
    );

    let attacker = browser();
    let callback = until_callback(&site, &attacker, "test", "george").await;
    let victim = browser();
    let res = victim.get(&callback).send().await.unwrap();
    assert_refused(
        &site,
        res,
        "login csrf",
        "george",
        "did not begin this sign-in",
    )
    .await;
    assert_eq!(
        victim
            .get(format!("{}/v1/me", site.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "the victim is signed in as nobody"
    );
    let refusals = refusals_audited(&site).await;
    assert!(
        refusals
            .iter()
            .any(|after| after.contains("did not begin this sign-in")),
        "the refusal is audited: {refusals:?}"
    );
    // The attacker's own browser cannot use the state any more either.
    let res = attacker.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Begun and finished in one browser, a sign-in goes through.
    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    assert_redirected(b.get(&callback).send().await.unwrap()).await;
    assert_eq!(
        get_json(&b, format!("{}/v1/me", site.base)).await["person"]["id"],
        "ivan"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_pkce_verifier_mismatch_and_rp_nonce_invalid_are_refused() {
    let site = site().await;
    for (field, expect) in [("verifier", "code exchange"), ("nonce", "not valid")] {
        let b = browser();
        let callback = until_callback(&site, &b, "test", "ivan").await;
        let state = state_of(&callback);
        let store = site.gate.ephemeral();
        let stored = store
            .get_ephemeral("oidc-state", &state)
            .await
            .unwrap()
            .expect("state kept server-side");
        let mut pending: Value = serde_json::from_str(&stored).unwrap();
        pending[field] = Value::String("tampered-tampered-tampered-tampered-tampered-x".into());
        store
            .put_ephemeral(
                "oidc-state",
                &state,
                &pending.to_string(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        let res = b.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{field}");
        let message = json(res).await["message"].as_str().unwrap().to_string();
        assert!(message.contains(expect), "{field}: {message}");
    }
    assert!(!is_linked(&site, "ivan").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_email_and_unknown_people_are_refused_with_the_reason() {
    let site = site().await;
    for (hint, reason) in [("mallory", "unverified"), ("stranger", "onboarding")] {
        let b = browser();
        let callback = until_callback(&site, &b, "test", hint).await;
        let res = b.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{hint}");
        let body = json(res).await;
        assert_eq!(body["code"], "sign_in_refused");
        assert!(
            body["message"].as_str().unwrap().contains(reason),
            "{hint}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_tokens_from_a_trusted_provider_link_an_existing_customer() {
    let site = site().await;
    let b = browser();
    let callback = until_callback(&site, &b, "es", "bob").await;
    let res = b.get(&callback).send().await.unwrap();
    assert_redirected(res).await;
    let me = get_json(&b, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["person"]["id"], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2c_shaped_tokens_link_on_emails_and_oid() {
    let site = site().await;
    let b = browser();
    let callback = until_callback(&site, &b, "b2c", "b2c").await;
    let res = b.get(&callback).send().await.unwrap();
    assert_redirected(res).await;
    let me = get_json(&b, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["person"]["id"], "ivan");
    assert_eq!(
        me["identity"]["subject"],
        "00000000-0000-0000-0000-00000000b2c0"
    );
}

/// Makes the provider's next token response carry an ID token changed the way
/// `mode` says (see `integration/oidc/provider.mjs`).
async fn tamper(site: &Site, mode: &str) {
    let res = reqwest::Client::new()
        .post(format!(
            "{}/__test/tamper?mode={mode}",
            site.provider.issuer
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "{mode}");
}

/// Signs `hint` in through `provider` with the next ID token tampered by
/// `mode`; returns the callback's answer.
async fn tampered_sign_in(
    site: &Site,
    provider: &str,
    hint: &str,
    mode: &str,
) -> reqwest::Response {
    let b = browser();
    let callback = until_callback(site, &b, provider, hint).await;
    tamper(site, mode).await;
    b.get(&callback).send().await.unwrap()
}

/// Asserts a refused callback: 403 with the reason, no session, no link.
async fn assert_refused(site: &Site, res: reqwest::Response, case: &str, hint: &str, reason: &str) {
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{case}");
    assert!(
        !res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("pg_session=")),
        "{case}: a session was opened"
    );
    let body = json(res).await;
    assert_eq!(body["code"], "sign_in_refused", "{case}: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(reason),
        "{case}: expected `{reason}` in {message:?}"
    );
    assert!(
        !is_linked(site, hint).await,
        "{case}: an identity was linked"
    );
}

/// An OpenID relying-party conformance case about ID tokens: the real
/// provider issues the token and changes it the way `mode` says before it
/// reaches us. The callback is refused with `reason`, opens no session,
/// links nobody, and is audited; the next, unchanged sign-in succeeds.
async fn refused_id_token(provider: &str, hint: &str, mode: &str, reason: &str) {
    let site = site().await;
    let res = tampered_sign_in(&site, provider, hint, mode).await;
    assert_refused(&site, res, mode, hint, reason).await;
    let audit = site
        .dir
        .read_audit(AuditQuery::new(None, None, 100))
        .await
        .unwrap();
    let refused: Vec<_> = audit
        .entries
        .iter()
        .filter(|r| r.entry.action == "idTokenRefused")
        .collect();
    assert_eq!(refused.len(), 1, "{mode}");
    assert_eq!(refused[0].entry.actor, format!("provider:{provider}"));
    assert!(
        refused[0].entry.after.contains(reason),
        "{}",
        refused[0].entry.after
    );

    let b = browser();
    let callback = until_callback(&site, &b, provider, hint).await;
    assert_redirected(b.get(&callback).send().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_issuer_mismatch() {
    refused_id_token("test", "ivan", "issuer-mismatch", "Invalid issuer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_aud() {
    refused_id_token("test", "ivan", "aud", "Invalid audiences").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_expired() {
    refused_id_token("test", "ivan", "expired", "ID token expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_iat_in_the_future() {
    refused_id_token("test", "ivan", "iat-future", "issued in the future").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_iat() {
    refused_id_token("test", "ivan", "iat-missing", "missing field `iat`").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_sub() {
    refused_id_token("test", "ivan", "sub-missing", "missing field `sub`").await;
}

/// The nonce in the ID token is not the one we sent (the stored one is
/// tampered with in `rp_pkce_verifier_mismatch_and_rp_nonce_invalid_are_refused`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_nonce_invalid() {
    refused_id_token("test", "ivan", "nonce-invalid", "Invalid nonce").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_bad_at_hash() {
    refused_id_token(
        "test",
        "ivan",
        "bad-at_hash",
        "does not match the ID token's at_hash",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_sig_none() {
    refused_id_token("test", "ivan", "sig-none", "No signature found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_bad_sig_rs256() {
    refused_id_token("test", "ivan", "bad-sig", "Crypto error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_bad_sig_es256() {
    refused_id_token("es", "bob", "bad-sig", "Crypto error").await;
}

/// rp-key-rotation-op-sign-key: the provider starts signing with a new key
/// it has just published; the unknown key id makes us fetch its keys again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_key_rotation_op_sign_key_fetches_the_keys_again() {
    let site = site().await;
    let res = tampered_sign_in(&site, "test", "ivan", "key-rotation").await;
    assert_redirected(res).await;
    assert!(is_linked(&site, "ivan").await);
}

/// A key id the provider never publishes: refused even after fetching the
/// keys again, and a second such token within the refresh interval does not
/// fetch them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_kid_unknown_is_refused_after_fetching_the_keys_again() {
    let site = site().await;
    let res = tampered_sign_in(&site, "test", "ivan", "kid-unpublished").await;
    assert_refused(
        &site,
        res,
        "kid-unpublished",
        "ivan",
        "after fetching the provider's keys again",
    )
    .await;
    let res = tampered_sign_in(&site, "test", "ivan", "kid-unpublished").await;
    assert_refused(
        &site,
        res,
        "kid-unpublished twice",
        "ivan",
        "No matching key",
    )
    .await;
}

/// Signs `hint` in through `provider`; the browser then holds the session.
async fn signed_in(site: &Site, provider: &str, hint: &str) -> reqwest::Client {
    let b = browser();
    let callback = until_callback(site, &b, provider, hint).await;
    let res = b.get(&callback).send().await.unwrap();
    assert_redirected(res).await;
    b
}

/// An organization administrator manages users from a signed-in browser: the
/// actor is the session's person, changes need the session's CSRF token, the
/// session opens only the user-management endpoints, and the policies decide
/// as for the storefront.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_administrators_manage_users_with_their_session() {
    let site = site_with_token(Some("service-secret")).await;
    let alice = signed_in(&site, "es", "alice").await;
    let me = get_json(&alice, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["is_admin"], true, "{me}");
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    assert!(csrf.len() >= 32);
    let users = format!("{}/v1/organizations/acme/users", site.base);
    let new_user = serde_json::json!({"email": "new@acme.test", "name": "New"});

    let list = alice.get(&users).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert!(json(list).await["users"].as_array().unwrap().len() > 3);

    // A change without the CSRF token, or with another session's, is refused.
    let res = alice.post(&users).json(&new_user).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(res).await["code"], "csrf_token_required");
    let res = alice
        .post(&users)
        .header("x-partnergate-csrf", "0".repeat(csrf.len()))
        .json(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await["code"], "csrf_token_required");
    // A session cannot act as someone else.
    let res = alice
        .post(&users)
        .header("x-partnergate-csrf", &csrf)
        .header("x-partnergate-actor", "staff:sam")
        .json(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["code"], "actor_mismatch");

    let res = alice
        .post(&users)
        .header("x-partnergate-csrf", &csrf)
        .json(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    let audit = get_json(&alice, format!("{}/v1/organizations/acme/audit", site.base)).await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "customer:alice" && e["action"] == "addUser"),
        "{audit}"
    );

    // The session does not open the storefront's own endpoints.
    let res = alice
        .post(format!("{}/v1/authorize", site.base))
        .header("x-partnergate-csrf", &csrf)
        .json(&serde_json::json!({"principal": "customer:alice", "action": "browse", "resource": "store:main"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // A member who is not an administrator is denied by the policies.
    let bob = signed_in(&site, "es", "bob").await;
    let me = get_json(&bob, format!("{}/v1/me", site.base)).await;
    let res = bob
        .post(&users)
        .header("x-partnergate-csrf", me["csrf_token"].as_str().unwrap())
        .json(&serde_json::json!({"email": "other@acme.test", "name": "Other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(res).await["decision"], "deny");

    // Neither a session nor a made-up cookie opens what needs the token.
    let onboarding = format!("{}/v1/onboarding", site.base);
    let prospect = serde_json::json!({"organization_name": "Hooli", "requester_name": "G", "requester_email": "g@hooli.test"});
    let res = alice
        .post(&onboarding)
        .header("x-partnergate-csrf", &csrf)
        .json(&prospect)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(res).await["code"], "service_token_required");
    let res = reqwest::Client::new()
        .post(&onboarding)
        .header("cookie", "pg_session=made-up")
        .json(&prospect)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(site.dir.list_onboarding(None).await.unwrap().is_empty());

    // After logout the cookie opens nothing.
    alice
        .post(format!("{}/v1/signin/logout", site.base))
        .send()
        .await
        .unwrap();
    let res = browser()
        .get(&users)
        .header("cookie", "pg_session=ended")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        alice.get(&users).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Two nodes behind one public address share Redis and the directory: a
/// sign-in begun on node A finishes on node B, whose session node A honours,
/// and the state stays single-use across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_begun_on_one_node_finishes_on_another() {
    let redis = common::RedisServer::start();
    let (_tmp, node_a, node_b) = common::two_nodes(&redis).await;
    let (gate_a, gate_b) = (node_a.gate, node_b.gate);
    let listener_a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener_b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_a = format!("http://{}", listener_a.local_addr().unwrap());
    let base_b = format!("http://{}", listener_b.local_addr().unwrap());
    // The public address is node A's; the load balancer may send the
    // callback to either node.
    let provider = start_provider(&[format!("{base_a}/v1/signin/test/callback")]);
    let _stop_a = serve_node(&gate_a, &provider.issuer, &base_a, None, listener_a).await;
    let _stop_b = serve_node(&gate_b, &provider.issuer, &base_a, None, listener_b).await;
    let site = Site {
        base: base_a.clone(),
        gate: gate_a,
        dir: node_a.dir.clone(),
        provider,
        stop: None,
    };

    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    let on_b = callback.replace(&base_a, &base_b);
    let res = b.get(&on_b).send().await.unwrap();
    assert_redirected(res).await;
    // Cookies are not port-specific: the browser's session goes to node A.
    let me = get_json(&b, format!("{base_a}/v1/me")).await;
    assert_eq!(me["person"]["id"], "ivan", "{me}");
    // The state was used on B: A refuses it.
    let again = b.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(
        json(again).await["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert!(is_linked(&site, "ivan").await);
}

/// The relying party's HTTP client does not follow redirects: discovery at
/// an address that redirects to the real provider fails on the redirect
/// itself (following it could reach any address the redirect names).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_does_not_follow_redirects() {
    let provider = start_provider(&["http://127.0.0.1:1/callback".into()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let target = provider.issuer.clone();
    let redirector = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{target}{}", uri.path());
        async move { axum::response::Redirect::temporary(&to) }
    });
    tokio::spawn(async move { axum::serve(listener, redirector).await });
    let store = common::gate().await.ephemeral().clone();

    // Discovery at the redirecting address never succeeds: the provider
    // stays unavailable through the background retries too.
    let config = provider_config("test", &base, &base, "storefront-rs256");
    let service = SignInService::discover(vec![config], store.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(service.discovered(), [("test".to_string(), false)]);
    let err = service.begin("test", None, "/").await.unwrap_err();
    assert!(
        matches!(err, partnergate::Error::ProviderUnavailable(_)),
        "{err}"
    );

    let config = provider_config("test", &provider.issuer, &base, "storefront-rs256");
    let direct = SignInService::discover(vec![config], store).await.unwrap();
    assert_eq!(direct.discovered(), [("test".to_string(), true)]);
}

/// The `idTokenRefused` entries in the audit trail.
async fn refusals_audited(site: &Site) -> Vec<String> {
    let audit = site
        .dir
        .read_audit(AuditQuery::new(None, None, 100))
        .await
        .unwrap();
    audit
        .entries
        .into_iter()
        .filter(|r| r.entry.action == "idTokenRefused")
        .map(|r| r.entry.after)
        .collect()
}

/// Makes the provider's next authorization response name `iss` (none when
/// empty).
async fn tamper_response_iss(site: &Site, iss: &str) {
    let res = reqwest::Client::new()
        .post(format!("{}/__test/tamper", site.provider.issuer))
        .query(&[("mode", "response-iss"), ("iss", iss)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

/// RFC 9207 mix-up defence: an authorization response naming another
/// configured provider's issuer is refused before the code is redeemed; so
/// is one without `iss` from a provider that promises it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_mix_up_response_iss_of_another_provider() {
    const OTHER: &str = "http://127.0.0.1:9/other";
    let site = site_with(None, |base| {
        vec![provider_config("other", OTHER, base, "storefront-rs256")]
    })
    .await;

    tamper_response_iss(&site, OTHER).await;
    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    assert!(callback.contains("iss="), "{callback}");
    let res = b.get(&callback).send().await.unwrap();
    assert_refused(&site, res, "mix-up", "ivan", "mix-up").await;
    let audited = refusals_audited(&site).await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert!(audited[0].contains("provider `other`"), "{}", audited[0]);

    tamper_response_iss(&site, "").await;
    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    assert!(!callback.contains("iss="), "{callback}");
    let res = b.get(&callback).send().await.unwrap();
    assert_refused(&site, res, "iss missing", "ivan", "RFC 9207").await;
    assert_eq!(refusals_audited(&site).await.len(), 2);

    // The provider's own, unchanged response signs in.
    let b = browser();
    let callback = until_callback(&site, &b, "test", "ivan").await;
    assert!(callback.contains("iss="), "{callback}");
    assert_redirected(b.get(&callback).send().await.unwrap()).await;
}

/// A provider whose discovery fails at start does not stop the service: its
/// sign-in answers 503 `provider_unavailable`, the rest serves, and it is
/// retried in the background until it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_discovery_fails_is_retried_while_the_rest_serves() {
    let port = free_port();
    let late_issuer = format!("http://127.0.0.1:{port}");
    let site = site_with(None, |base| {
        vec![provider_config(
            "late",
            &late_issuer,
            base,
            "storefront-rs256",
        )]
    })
    .await;
    let login = format!("{}/v1/signin/late/login?login_hint=ivan", site.base);
    let res = browser().get(&login).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json(res).await;
    assert_eq!(body["code"], "provider_unavailable", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("`late`"),
        "{body}"
    );
    let res = browser()
        .get(format!(
            "{}/v1/signin/late/callback?code=c&state=s",
            site.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Everything else works meanwhile.
    let health = reqwest::get(format!("{}/v1/health", site.base))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let res = browser()
        .get(format!(
            "{}/v1/signin/test/login?login_hint=ivan",
            site.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // The provider comes up; a background retry finds it.
    let _late = start_provider_on(
        Some(port),
        &[format!("{}/v1/signin/late/callback", site.base)],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = browser().get(&login).send().await.unwrap().status();
        if status == StatusCode::SEE_OTHER {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            std::time::Instant::now() < deadline,
            "discovery was not retried"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let b = signed_in(&site, "late", "ivan").await;
    assert_eq!(
        get_json(&b, format!("{}/v1/me", site.base)).await["person"]["id"],
        "ivan"
    );
}

/// Entra External ID: `sub` is pairwise, so the identity is `oid` in the
/// pinned tenant; an invited member is linked by an email whose domain is
/// verified (`xms_edov`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_external_id_links_by_oid_in_the_pinned_tenant() {
    let site = site().await;
    let b = signed_in(&site, "entra", "entra").await;
    assert_eq!(
        get_json(&b, format!("{}/v1/me", site.base)).await["person"]["id"],
        "ivan"
    );
    assert!(is_linked(&site, "00000000-0000-0000-0000-0000000e0001").await);
    assert!(
        !is_linked(&site, "entra").await,
        "linked by the pairwise `sub`"
    );
}

/// Signs the Entra-shaped test account `hint` (its `oid`) in through
/// `entra` and asserts the refusal with `reason`.
async fn refused_entra_sign_in(hint: &str, oid: &str, reason: &str) {
    let site = site().await;
    let b = browser();
    let callback = until_callback(&site, &b, "entra", hint).await;
    let res = b.get(&callback).send().await.unwrap();
    assert_refused(&site, res, hint, oid, reason).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_email_of_an_unverified_domain_never_links() {
    refused_entra_sign_in(
        "entra-unverified-domain",
        "00000000-0000-0000-0000-0000000e0002",
        "unverified email never links",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_token_of_another_tenant_is_refused() {
    refused_entra_sign_in(
        "entra-other-tenant",
        "00000000-0000-0000-0000-0000000e0003",
        "`tid`",
    )
    .await;
}

/// A session ends on its next request when its organization is blocked, as
/// a fresh sign-in would be refused (regression: blocked companies' users
/// kept their sessions, as in Adobe Commerce's ACSD-54472).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_when_its_organization_is_blocked() {
    use partnergate::model::ChangeOp;
    use partnergate::model::{AuditEntry, OrganizationStatus};
    let site = site().await;
    let b = signed_in(&site, "test", "ivan").await;
    let me = format!("{}/v1/me", site.base);
    assert_eq!(b.get(&me).send().await.unwrap().status(), StatusCode::OK);

    let mut acme = site.dir.get_organization("acme").await.unwrap().unwrap();
    acme.status = OrganizationStatus::Blocked;
    let audit = AuditEntry {
        actor: "staff:sam".into(),
        action: "blockOrganization".into(),
        target: "organization:acme".into(),
        organization_id: Some("acme".into()),
        before: String::new(),
        after: String::new(),
        policies: Vec::new(),
    };
    site.dir
        .apply(vec![ChangeOp::PutOrganization(acme)], audit)
        .await
        .unwrap();

    let res = b.get(&me).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(res).await["code"], "not_signed_in");
    // Ended everywhere it is used.
    let res = b
        .get(format!("{}/v1/organizations/acme/users", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// `return_to` stays on the site after the browser's own URL parsing: a tab
/// between the slashes (`/<TAB>/evil.example`, which browsers read as
/// `//evil.example`) is refused, and the callback sends the browser to
/// `/v1/me` instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_with_a_tab_between_slashes_does_not_leave_the_site() {
    let site = site().await;
    for (return_to, expected) in [
        ("%2F%09%2Fevil.example", "/v1/me"),
        ("%2F%0A%2Fevil.example", "/v1/me"),
        ("%2F%5Cevil.example", "/v1/me"),
        ("%2Fshop%2Fcart", "/shop/cart"),
    ] {
        let b = browser();
        let res = b
            .get(format!(
                "{}/v1/signin/test/login?login_hint=ivan&return_to={return_to}",
                site.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let mut next = location(&res);
        let callback = loop {
            if next.starts_with(&site.base) {
                break next;
            }
            let res = b.get(&next).send().await.unwrap();
            next = location(&res);
            if next.starts_with('/') {
                next = format!("{}{next}", res.url().origin().ascii_serialization());
            }
        };
        let res = b.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), expected, "{return_to}");
    }
}

/// The value of the session cookie a response sets.
fn session_set_by(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("pg_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// A browser holding only the session cookie `id`.
async fn with_session(site: &Site, id: &str, path: &str) -> reqwest::Response {
    browser()
        .get(format!("{}{path}", site.base))
        .header("cookie", format!("pg_session={id}"))
        .send()
        .await
        .unwrap()
}

/// Gina administers globex and buys for acme: her sign-in lets her pick,
/// a session acts only for the organization picked (and nothing before
/// one is), a switch re-checks the membership and rotates the session, and
/// revoking her acme membership ends an acme session while globex goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_in_two_organizations_picks_switches_and_is_checked_per_membership() {
    let site = site_with_token(Some("service-secret")).await;
    let mut buyer = common::membership("gina", "acme", false);
    buyer.spending_limit = Some(5_000);
    common::add_membership(&*site.dir, buyer).await;

    let b = browser();
    let callback = until_callback(&site, &b, "es", "gina").await;
    let res = b.get(&callback).send().await.unwrap();
    let first = session_set_by(&res);
    assert_redirected(res).await;
    let me = get_json(&b, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["choose_organization"], true, "{me}");
    assert_eq!(me["organization"], Value::Null);
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2, "{me}");
    let csrf = me["csrf_token"].as_str().unwrap().to_string();

    // Nothing is done before an organization is picked.
    let globex_users = format!("{}/v1/organizations/globex/users", site.base);
    let res = b.get(&globex_users).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(res).await["code"], "organization_required");

    // A switch to an organization she does not belong to is refused.
    let switch = |org: &'static str, csrf: String| {
        let b = b.clone();
        let url = format!("{}/v1/me/organization", site.base);
        async move {
            b.post(url)
                .header("x-partnergate-csrf", csrf)
                .json(&serde_json::json!({ "organization": org }))
                .send()
                .await
                .unwrap()
        }
    };
    let res = switch("initech", csrf.clone()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(res).await["code"], "not_a_member");
    let res = switch("globex", "wrong".into()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = switch("globex", csrf.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = session_set_by(&res);
    assert_ne!(second, first, "the session is rotated");
    let switched = json(res).await;
    let csrf = switched["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(
        with_session(&site, &first, "/v1/me").await.status(),
        StatusCode::UNAUTHORIZED,
        "the old session ended"
    );
    let me = get_json(&b, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["organization"]["id"], "globex", "{me}");
    assert_eq!(me["is_admin"], true);

    // Acting for globex: its users, yes; acme's administration, no (she
    // is no administrator there), and not through globex's rights either.
    assert_eq!(
        b.get(&globex_users).send().await.unwrap().status(),
        StatusCode::OK
    );
    let add = |org: &str| {
        b.post(format!("{}/v1/organizations/{org}/users", site.base))
            .header("x-partnergate-csrf", csrf.clone())
            .json(&serde_json::json!({"email": format!("new@{org}.test"), "name": "New"}))
            .send()
    };
    assert_eq!(add("globex").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(add("acme").await.unwrap().status(), StatusCode::FORBIDDEN);
    // Her acme membership, named while acting for globex: refused.
    let res = b
        .get(format!("{}/v1/organizations/acme/users/gina", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Acting for acme, as a buyer there.
    let res = switch("acme", csrf.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let acme_session = session_set_by(&res);
    assert_eq!(
        b.get(&globex_users).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let me = get_json(&b, format!("{}/v1/me", site.base)).await;
    assert_eq!(
        (me["organization"]["id"].as_str(), me["is_admin"].as_bool()),
        (Some("acme"), Some(false))
    );

    // Alice revokes gina in acme: the acme session ends on its next
    // request; globex stays hers.
    let target = partnergate::model::Target::membership("gina", "acme", 1);
    site.gate
        .revoke_user("customer:alice", target)
        .await
        .unwrap();
    assert_eq!(
        with_session(&site, &acme_session, "/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = signed_in(&site, "es", "gina").await;
    let me = get_json(&again, format!("{}/v1/me", site.base)).await;
    assert_eq!(me["organization"]["id"], "globex", "her only one now: {me}");
    assert_eq!(me["choose_organization"], false);
}
