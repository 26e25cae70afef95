//! The "Organization users" page in a real headless Chromium (Debian's
//! `chromium` through `chromedriver`, driven with fantoccini), signed in
//! through the real test OpenID provider, served by the real host with the
//! real plugin. Each step saves a screenshot under
//! `target/tmp/page-screenshots/<test>/`.

use super::common::{self, Site};
use partnergate_testkit::fantoccini::actions::{InputSource, KeyAction, KeyActions};
use partnergate_testkit::fantoccini::{Client, Locator, elements::Element, key::Key};
use partnergate_testkit::{Chromedriver, start_provider};

use std::path::PathBuf;
use std::sync::Arc;

use partnergate::model::AccountStatus;
use partnergate::oidc::{ProviderConfig, SignInService};
use partnergate::server::{self, page};

const PREFIX: &str = page::DEFAULT_PREFIX;

/// The host on the sample directory with sign-in through the test
/// provider and the page at its default prefix.
async fn site() -> Site {
    site_with(page::PageConfig::default()).await
}

/// [`site`] with the page as `config` says.
async fn site_with(config: page::PageConfig) -> Site {
    let page_config = config;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = start_provider(&[
        format!("{base}/v1/signin/test/callback"),
        format!("{base}/v1/signin/staff/callback"),
    ]);
    let (gate, dir) = common::gate_and_directory().await;
    // The merchant's provider for its staff (the back office).
    let staff: ProviderConfig = serde_json::from_value(serde_json::json!({
        "name": "staff",
        "issuer": provider.issuer,
        "client_id": "storefront-rs256",
        "client_secret": "test-secret",
        "redirect_uri": format!("{base}/v1/signin/staff/callback"),
        "staff": true,
    }))
    .unwrap();
    let config: ProviderConfig = serde_json::from_value(serde_json::json!({
        "name": "test",
        "issuer": provider.issuer,
        "client_id": "storefront-rs256",
        "client_secret": "test-secret",
        "redirect_uri": format!("{base}/v1/signin/test/callback"),
        // Links existing customers on their verified email (as a
        // workforce provider would).
        "trusted": true,
    }))
    .unwrap();
    let sign_in = SignInService::discover(vec![config, staff], gate.ephemeral().clone())
        .await
        .expect("discovery");
    let router = server::router_with(
        gate.clone(),
        None,
        Some(Arc::new(sign_in)),
        Some(page_config),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve_router(listener, router, async {
        let _ = stopped.await;
    }));
    Site {
        base,
        gate,
        dir,
        provider,
        stop: Some(stop),
    }
}

/// Screenshots of one test, numbered in order.
struct Shots {
    dir: PathBuf,
    next: u32,
}

impl Shots {
    fn new(test: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("page-screenshots")
            .join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, next: 1 }
    }

    async fn take(&mut self, browser: &Client, step: &str) {
        let png = browser.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.dir.join(format!("{:02}-{step}.png", self.next));
        std::fs::write(&path, png).unwrap();
        self.next += 1;
    }
}

/// Signs `account` in through the provider and lands on the page.
async fn sign_in(site: &Site, browser: &Client, account: &str) {
    browser
        .goto(&format!(
            "{}/v1/signin/test/login?login_hint={account}&return_to={PREFIX}",
            site.base
        ))
        .await
        .unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        PREFIX,
        "sign-in lands on the page: {}",
        browser.source().await.unwrap_or_default()
    );
}

async fn css(browser: &Client, selector: &str) -> Element {
    browser
        .wait()
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("`{selector}`: {e}"))
}

/// The page shown now, so that [`navigated`] can tell when it is replaced:
/// a new document has a new address or a root element with a new WebDriver
/// reference (both work without JavaScript too).
async fn mark(browser: &Client) -> (String, Option<String>) {
    (address(browser).await, root(browser).await)
}

async fn address(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default()
}

async fn root(browser: &Client) -> Option<String> {
    let html = browser.find(Locator::Css("html")).await.ok()?;
    Some(html.element_id().to_string())
}

/// Waits until the marked page was replaced: a form's submission is not
/// over when its click returns.
async fn navigated(browser: &Client, page: (String, Option<String>)) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (now, root) = mark(browser).await;
        if root.is_some() && (now != page.0 || root != page.1) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no new page within 20 s: still at {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Clicks `selector` (a link or a submit button) and waits for the page it
/// leads to.
async fn follow(browser: &Client, selector: &str) {
    let page = mark(browser).await;
    css(browser, selector).await.click().await.unwrap();
    navigated(browser, page).await;
}

async fn text(browser: &Client, selector: &str) -> String {
    css(browser, selector).await.text().await.unwrap()
}

/// The person ids of the rows shown, in order.
async fn rows(browser: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for row in browser
        .find_all(Locator::Css("tbody tr[data-person]"))
        .await
        .unwrap()
    {
        ids.push(row.attr("data-person").await.unwrap().unwrap());
    }
    ids
}

/// The row of `person`.
fn row(person: &str) -> String {
    format!("tr[data-person=\"{person}\"]")
}

/// Types `text` into the field `selector` finds.
async fn type_into(browser: &Client, selector: &str, text: &str) {
    css(browser, selector).await.send_keys(text).await.unwrap();
}

/// Ticks the rows of `people` and chooses the bulk `action`.
async fn select_for_bulk(browser: &Client, people: &[&str], action: &str) {
    for person in people {
        css(browser, &format!("{} input[name=target]", row(person)))
            .await
            .click()
            .await
            .unwrap();
    }
    css(browser, "#pg-bulk-action")
        .await
        .select_by_value(action)
        .await
        .unwrap();
}

async fn status_of(site: &Site, person: &str) -> AccountStatus {
    site.dir
        .get_account(person)
        .await
        .unwrap()
        .unwrap()
        .membership
        .unwrap()
        .status
}

/// A person's spending limit as the directory holds it now.
async fn limit_of(site: &Site, person: &str) -> Option<u64> {
    site.dir
        .get_account(person)
        .await
        .unwrap()
        .unwrap()
        .membership
        .unwrap()
        .spending_limit
}

/// The text announced in the polite live region.
async fn notice(browser: &Client) -> String {
    text(browser, "#pg-status").await
}

async fn alert(browser: &Client) -> String {
    text(browser, "#pg-error").await
}

#[tokio::test]
async fn an_administrator_adds_filters_searches_revokes_reinstates_and_removes_in_a_browser() {
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let mut shots = Shots::new("main_flow");
    sign_in(&site, &browser, "alice").await;
    assert!(text(&browser, "h1").await.contains("Acme Corp"));
    let listed = rows(&browser).await;
    for person in ["alice", "bob", "carol", "ivan", "rita", "remy"] {
        assert!(
            listed.contains(&person.to_string()),
            "{person} in {listed:?}"
        );
    }
    assert!(
        !listed.iter().any(|p| p.starts_with('g')),
        "no other organization's users: {listed:?}"
    );
    // Bob's limit (50,000 cents) in the store's currency, as English
    // writes it; Carol has none.
    assert!(text(&browser, &row("bob")).await.contains("$500.00"));
    assert!(text(&browser, &row("carol")).await.contains("No limit"));
    // Alice may not revoke or remove herself: no such buttons on her row.
    let own = css(&browser, &row("alice"))
        .await
        .html(false)
        .await
        .unwrap();
    assert!(
        !own.contains("/revoke") && !own.contains("/remove"),
        "{own}"
    );
    shots.take(&browser, "list").await;

    // Add a user.
    follow(&browser, "nav.pg-nav a[href$='/new']").await;
    type_into(&browser, "#pg-email", "dora@acme.test").await;
    type_into(&browser, "#pg-name", "Dora Buyer").await;
    type_into(&browser, "#pg-roles", "buyer, approver").await;
    type_into(&browser, "#pg-limit", "25000").await;
    shots.take(&browser, "add-form").await;
    follow(&browser, "button[type=submit].pg-primary").await;
    assert_eq!(notice(&browser).await, "The user was added and invited.");
    let dora = site
        .dir
        .find_account_by_email("dora@acme.test")
        .await
        .unwrap()
        .expect("added");
    let membership = dora.membership.unwrap();
    assert_eq!(
        (
            membership.status,
            membership.spending_limit,
            membership.roles
        ),
        (
            AccountStatus::Invited,
            Some(25000),
            vec!["buyer".to_string(), "approver".to_string()]
        )
    );
    let dora_row = text(&browser, &row(&dora.person.id)).await;
    assert!(
        dora_row.contains("Dora Buyer") && dora_row.contains("Invited"),
        "{dora_row}"
    );
    shots.take(&browser, "added").await;

    // Filter: the invited users only.
    follow(&browser, "nav.pg-filters a[href*='status=invited']").await;
    let invited = rows(&browser).await;
    assert_eq!(invited.len(), 2, "{invited:?}");
    assert!(invited.contains(&"ivan".to_string()) && invited.contains(&dora.person.id));
    assert_eq!(
        css(&browser, "nav.pg-filters a[aria-current=page]")
            .await
            .text()
            .await
            .unwrap(),
        "Invited"
    );
    shots.take(&browser, "filter-invited").await;

    // Search across all statuses.
    follow(&browser, "nav.pg-filters a[href$='organization-users']").await;
    let search = css(&browser, "#pg-q").await;
    search.send_keys("CAROL").await.unwrap();
    let page = mark(&browser).await;
    search
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    navigated(&browser, page).await;
    assert_eq!(rows(&browser).await, ["carol"]);
    shots.take(&browser, "search").await;
    follow(&browser, "form.pg-search a").await;

    // Bulk revoke two users.
    select_for_bulk(&browser, &["bob", "carol"], "revoke").await;
    shots.take(&browser, "bulk-selected").await;
    follow(&browser, "#pg-bulk-apply").await;
    assert_eq!(text(&browser, ".pg-summary").await, "2 of 2 done.");
    let results = text(&browser, "table.pg-results").await;
    assert!(
        results.contains("Bob Buyer") && results.contains("Carol Unlimited"),
        "{results}"
    );
    shots.take(&browser, "bulk-results").await;
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Revoked);
    assert_eq!(status_of(&site, "carol").await, AccountStatus::Revoked);

    // Reinstate one.
    follow(&browser, "main p a").await;
    follow(
        &browser,
        &format!("{} button.pg-step-reinstate", row("bob")),
    )
    .await;
    assert_eq!(notice(&browser).await, "The user was reinstated.");
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Active);
    shots.take(&browser, "reinstated").await;

    // Remove one, after a confirmation.
    follow(&browser, &format!("{} a.pg-danger", row("carol"))).await;
    assert_eq!(text(&browser, "main h2").await, "Remove Carol Unlimited?");
    assert_eq!(
        status_of(&site, "carol").await,
        AccountStatus::Revoked,
        "not yet"
    );
    shots.take(&browser, "remove-confirm").await;
    follow(&browser, "button.pg-danger").await;
    assert_eq!(notice(&browser).await, "The user was removed.");
    assert_eq!(status_of(&site, "carol").await, AccountStatus::Removed);
    let carol = text(&browser, &row("carol")).await;
    assert!(carol.contains("Removed"), "{carol}");
    shots.take(&browser, "removed").await;

    // The audit trail shows what was done, by whom.
    follow(&browser, "nav.pg-nav a[href$='/audit']").await;
    let audit = text(&browser, "main table").await;
    for action in ["addUser", "revokeUser", "reinstateUser", "removeUser"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    assert!(audit.contains("customer:alice"));
    shots.take(&browser, "audit").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_stale_edit_shows_the_conflict_and_keeps_what_was_typed() {
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let mut shots = Shots::new("stale_edit");
    sign_in(&site, &browser, "alice").await;
    let edit = format!("{}{PREFIX}/users/bob", site.base);
    // Tab one opens the form.
    browser.goto(&edit).await.unwrap();
    let first = browser.window().await.unwrap();
    // Tab two opens it too, and saves a new limit.
    let second = browser.new_window(true).await.unwrap().handle;
    browser.switch_to_window(second).await.unwrap();
    browser.goto(&edit).await.unwrap();
    let limit = css(&browser, "#pg-limit").await;
    limit.clear().await.unwrap();
    limit.send_keys("60000").await.unwrap();
    follow(&browser, "button.pg-primary").await;
    assert_eq!(notice(&browser).await, "The changes were saved.");
    shots.take(&browser, "second-tab-saved").await;
    // Back in tab one, the older form.
    browser.switch_to_window(first).await.unwrap();
    let limit = css(&browser, "#pg-limit").await;
    assert_eq!(limit.prop("value").await.unwrap().as_deref(), Some("50000"));
    limit.clear().await.unwrap();
    limit.send_keys("70000").await.unwrap();
    follow(&browser, "button.pg-primary").await;
    let message = alert(&browser).await;
    assert!(
        message.contains("Someone else changed this user"),
        "{message}"
    );
    assert_eq!(
        css(&browser, "#pg-limit")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("70000"),
        "what was typed is kept"
    );
    shots.take(&browser, "conflict").await;
    assert_eq!(
        limit_of(&site, "bob").await,
        Some(60000),
        "tab two's change stands"
    );
    // Saving again now applies the typed value knowingly.
    follow(&browser, "button.pg-primary").await;
    assert_eq!(notice(&browser).await, "The changes were saved.");
    assert_eq!(limit_of(&site, "bob").await, Some(70000));
    browser.close().await.unwrap();
}

#[tokio::test]
async fn another_organizations_admin_and_a_buyer_get_no_data_and_a_revoked_admin_is_signed_out() {
    let site = site().await;
    let driver = Chromedriver::start();
    let mut shots = Shots::new("access");

    // Globex's administrator sees Globex only, and nothing of Acme's users.
    let gina = driver.browser().await;
    sign_in(&site, &gina, "gina").await;
    let listed = rows(&gina).await;
    assert!(listed.contains(&"george".to_string()), "{listed:?}");
    assert!(!listed.contains(&"bob".to_string()), "{listed:?}");
    gina.goto(&format!("{}{PREFIX}/users/bob", site.base))
        .await
        .unwrap();
    let body = text(&gina, "main").await;
    assert!(body.contains("You cannot view this user."), "{body}");
    let source = gina.source().await.unwrap();
    assert!(!source.contains("bob@acme.test") && !source.contains("Bob Buyer"));
    // The same page for a user who does not exist: nothing to tell apart.
    gina.goto(&format!("{}{PREFIX}/users/nobody", site.base))
        .await
        .unwrap();
    assert_eq!(text(&gina, "main").await, body);
    gina.goto(&format!("{}{PREFIX}/users/bob/remove?version=1", site.base))
        .await
        .unwrap();
    assert_eq!(text(&gina, "main").await, body);
    shots.take(&gina, "other-organization").await;

    // A buyer gets no page.
    let george = driver.browser().await;
    sign_in(&site, &george, "george").await;
    let body = text(&george, "main").await;
    assert!(body.contains("No access"), "{body}");
    assert!(rows(&george).await.is_empty());
    assert!(!george.source().await.unwrap().contains("gina@globex.test"));
    shots.take(&george, "buyer").await;

    // Gail revokes Gina; Gina's next click signs her out.
    gina.goto(&format!("{}{PREFIX}", site.base)).await.unwrap();
    let gail = driver.browser().await;
    sign_in(&site, &gail, "gail").await;
    follow(&gail, &format!("{} button.pg-step-revoke", row("gina"))).await;
    assert_eq!(notice(&gail).await, "The user's access was revoked.");
    follow(&gina, "nav.pg-filters a[href*='status=active']").await;
    let body = text(&gina, "main").await;
    assert!(body.contains("Sign in to manage"), "{body}");
    assert!(rows(&gina).await.is_empty());
    shots.take(&gina, "revoked-signed-out").await;
    for b in [gina, george, gail] {
        b.close().await.unwrap();
    }
}

/// Presses `key` wherever the focus is, as a keyboard would.
async fn press(browser: &Client, key: Key) {
    let key = char::from(key);
    browser
        .perform_actions(
            KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key }),
        )
        .await
        .unwrap();
}

/// What the focused element is called for a screen reader (its
/// `aria-label`, its label, or its text), and whether its focus is drawn.
async fn focused(browser: &Client) -> (String, bool) {
    let value = browser
        .execute(
            r#"const e = document.activeElement;
               const label = e.getAttribute('aria-label')
                 || (e.labels && e.labels.length ? e.labels[0].textContent : '')
                 || e.textContent || e.value || '';
               const style = getComputedStyle(e);
               return [label.trim(), style.outlineStyle !== 'none' && style.outlineWidth !== '0px'];"#,
            vec![],
        )
        .await
        .unwrap();
    (
        value[0].as_str().unwrap().to_string(),
        value[1].as_bool().unwrap(),
    )
}

/// Tabs forward until the focused element is called `name`; every stop on
/// the way must have a name and a visible focus.
async fn tab_to(browser: &Client, name: &str) -> Vec<String> {
    let mut stops = Vec::new();
    for _ in 0..120 {
        press(browser, Key::Tab).await;
        let (label, drawn) = focused(browser).await;
        assert!(
            !label.is_empty(),
            "a focus stop without a name after {stops:?}"
        );
        assert!(drawn, "`{label}` shows no focus");
        stops.push(label.clone());
        if label == name {
            return stops;
        }
    }
    panic!("`{name}` is not reachable with Tab: {stops:?}");
}

#[tokio::test]
async fn an_administrator_works_with_the_keyboard_alone() {
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let mut shots = Shots::new("keyboard");
    sign_in(&site, &browser, "alice").await;
    // The first stop skips to the users.
    press(&browser, Key::Tab).await;
    assert_eq!(focused(&browser).await.0, "Skip to the users");
    shots.take(&browser, "skip-link").await;
    press(&browser, Key::Enter).await;
    // Filters, search and sorting come before the rows, in reading order.
    let stops = tab_to(&browser, "Revoke Bob Buyer").await;
    let position = |name: &str| stops.iter().position(|s| s == name);
    assert!(position("Invited") < position("Search by name, email or company"));
    assert!(position("Sort by Name").is_some(), "{stops:?}");
    assert!(position("Select Bob Buyer") < position("Revoke Bob Buyer"));
    shots.take(&browser, "revoke-focused").await;
    let page = mark(&browser).await;
    press(&browser, Key::Enter).await;
    navigated(&browser, page).await;
    assert_eq!(notice(&browser).await, "The user's access was revoked.");
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Revoked);
    shots.take(&browser, "revoked").await;
    // Edit Carol's limit with the keyboard.
    tab_to(&browser, "Edit Carol Unlimited").await;
    let page = mark(&browser).await;
    press(&browser, Key::Enter).await;
    navigated(&browser, page).await;
    tab_to(&browser, "Spending limit").await;
    browser
        .active_element()
        .await
        .unwrap()
        .send_keys("12345")
        .await
        .unwrap();
    tab_to(&browser, "Save").await;
    shots.take(&browser, "save-focused").await;
    let page = mark(&browser).await;
    press(&browser, Key::Enter).await;
    navigated(&browser, page).await;
    assert_eq!(notice(&browser).await, "The changes were saved.");
    assert_eq!(limit_of(&site, "carol").await, Some(12345));
    browser.close().await.unwrap();
}

#[tokio::test]
async fn every_action_works_without_javascript() {
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser_without_script().await;
    let mut shots = Shots::new("no_script");
    sign_in(&site, &browser, "alice").await;
    // The select-all box needs script, and stays hidden without it.
    assert!(
        !css(&browser, "#pg-select-all")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    select_for_bulk(&browser, &["bob", "ivan"], "remove").await;
    follow(&browser, "#pg-bulk-apply").await;
    assert_eq!(text(&browser, "main h2").await, "Remove 2 users?");
    shots.take(&browser, "bulk-remove-confirm").await;
    follow(&browser, "button.pg-danger").await;
    assert_eq!(text(&browser, ".pg-summary").await, "2 of 2 done.");
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Removed);
    assert_eq!(status_of(&site, "ivan").await, AccountStatus::Removed);
    shots.take(&browser, "bulk-removed").await;
    // Re-invite is rate-limited: a fresh invitation shows how long to wait.
    follow(&browser, "nav.pg-nav a[href$='/bulk-add']").await;
    type_into(&browser, "#pg-addresses", "Erin Example <erin@acme.test>\nfrank@acme.test, Frank Fox\nnot-an-address\nalice@acme.test").await;
    follow(&browser, "button.pg-primary").await;
    assert_eq!(text(&browser, ".pg-summary").await, "2 of 4 done.");
    let results = text(&browser, "table.pg-results").await;
    assert!(
        results.contains("not-an-address") && results.contains("Not done"),
        "{results}"
    );
    shots.take(&browser, "bulk-add-results").await;
    follow(&browser, "main p a").await;
    let erin = site
        .dir
        .find_account_by_email("erin@acme.test")
        .await
        .unwrap()
        .expect("added");
    assert_eq!(erin.person.name, "Erin Example");
    follow(
        &browser,
        &format!("{} button.pg-step-reinvite", row(&erin.person.id)),
    )
    .await;
    let message = alert(&browser).await;
    assert!(
        message.contains("less than 5 minutes ago") && message.contains("seconds"),
        "{message}"
    );
    shots.take(&browser, "reinvite-limited").await;
    // Sign out: the page then offers sign-in, and shows no data.
    follow(&browser, "form.pg-signout button").await;
    // The provider's session ends too: the page goes on to its end-session
    // address by itself (a meta refresh, which needs no script).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !address(&browser).await.starts_with(&site.provider.issuer) {
        assert!(
            std::time::Instant::now() < deadline,
            "not sent on to the provider: {}",
            address(&browser).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser
        .goto(&format!("{}{PREFIX}", site.base))
        .await
        .unwrap();
    assert!(text(&browser, "main").await.contains("Sign in to manage"));
    assert!(rows(&browser).await.is_empty());
    browser.close().await.unwrap();
}

/// The session cookie the browser holds, as a `Cookie` header value.
async fn session_cookie(browser: &Client) -> String {
    let cookie = browser.get_named_cookie("pg_session").await.unwrap();
    format!("pg_session={}", cookie.value())
}

#[tokio::test]
async fn a_change_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    sign_in(&site, &browser, "alice").await;
    let cookie = session_cookie(&browser).await;
    let version = common::version(site.dir.as_ref(), "bob").await;
    let http = reqwest::Client::new();
    for csrf in ["", "not-the-token"] {
        let res = http
            .post(format!("{}{PREFIX}/users/bob/revoke", site.base))
            .header("cookie", &cookie)
            .form(&[("version", version.to_string()), ("csrf", csrf.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "csrf `{csrf}`");
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Active);
    // The token from the page's own form works.
    let csrf = css(&browser, "input[name=csrf]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let res = http
        .post(format!("{}{PREFIX}/users/bob/revoke", site.base))
        .header("cookie", &cookie)
        .form(&[("version", version.to_string()), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "followed to the list");
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Revoked);
    browser.close().await.unwrap();
}

#[tokio::test]
async fn without_a_session_the_page_offers_sign_in_and_no_data() {
    let site = site().await;
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{}{PREFIX}", site.base))
        .header("cookie", "pg_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let headers = res.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'self'")
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "an unknown session's cookie is cleared"
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("/v1/signin/test/login?return_to=%2Faccount%2Forganization-users"),
        "{body}"
    );
    assert!(
        !body.contains("/v1/signin/staff/login"),
        "the staff provider is the back office's: {body}"
    );
    assert!(!body.contains("@acme.test"));
    // A change without a session changes nothing either.
    let res = http
        .post(format!("{}{PREFIX}/users/bob/revoke", site.base))
        .form(&[("version", "1"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Active);
}

#[tokio::test]
async fn a_second_locale_and_a_theme_need_no_code_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("de")).unwrap();
    std::fs::write(
        dir.path().join("de/page.ftl"),
        "signed-out-title = Anmelden\nsigned-out-explain = Melden Sie sich an, um die Benutzer Ihrer Organisation zu verwalten.\n",
    )
    .unwrap();
    let theme = dir.path().join("theme.css");
    std::fs::write(&theme, ":root { --pg-accent: #5b2a86; }\n").unwrap();
    let config = page::PageConfig::load("/b2b/users", Some(dir.path()), Some(&theme)).unwrap();
    let site = site_with(config).await;
    let http = reqwest::Client::new();
    let page = |lang: &'static str| {
        http.get(format!("{}/b2b/users", site.base))
            .header("accept-language", lang)
            .send()
    };
    let german = page("de-CH, en;q=0.5").await.unwrap().text().await.unwrap();
    assert!(german.contains(r#"<html lang="de">"#), "{german}");
    assert!(german.contains("Melden Sie sich an"));
    assert!(
        german.contains("Sign in with test"),
        "English where German has no message"
    );
    assert!(german.contains(r#"href="/b2b/users/assets/theme.css""#));
    let english = page("fr").await.unwrap().text().await.unwrap();
    assert!(english.contains("Sign in to manage your organization"));
    let css = http
        .get(format!("{}/b2b/users/assets/theme.css", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("#5b2a86"));
    // The default prefix is not served when another is configured.
    let res = http
        .get(format!("{}{PREFIX}", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// Gina administers globex and acme: after sign-in she picks an
/// organization, the header's switcher takes her to the other, each shows
/// only its own users, and a form opened for globex and posted after the
/// switch to acme is refused and changes nothing.
#[tokio::test]
async fn a_person_in_two_organizations_picks_and_switches_and_old_forms_are_refused() {
    let site = site().await;
    common::add_membership(&*site.dir, common::membership("gina", "acme", true)).await;
    let driver = Chromedriver::start();
    let mut shots = Shots::new("organizations");
    let gina = driver.browser().await;
    sign_in(&site, &gina, "gina").await;
    assert_eq!(text(&gina, "main h2").await, "Choose an organization");
    assert!(
        rows(&gina).await.is_empty(),
        "no organization's data before the choice"
    );
    shots.take(&gina, "choose").await;
    css(&gina, "#pg-switch-organization")
        .await
        .select_by_value("globex")
        .await
        .unwrap();
    follow(&gina, "form.pg-switch button").await;
    let listed = rows(&gina).await;
    assert!(listed.contains(&"george".to_string()), "{listed:?}");
    assert!(!listed.contains(&"bob".to_string()), "{listed:?}");
    shots.take(&gina, "globex").await;

    // The globex page's form, kept: its CSRF token and George's version.
    let old_csrf = css(&gina, "input[name=csrf]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let version = common::version(site.dir.as_ref(), "george").await;

    css(&gina, "#pg-switch-organization")
        .await
        .select_by_value("acme")
        .await
        .unwrap();
    follow(&gina, "form.pg-switch button").await;
    // Acme's users now, and nothing of globex's.
    let listed = rows(&gina).await;
    assert!(listed.contains(&"bob".to_string()), "{listed:?}");
    assert!(!gina.source().await.unwrap().contains("george@globex.test"));
    shots.take(&gina, "acme").await;

    let res = reqwest::Client::new()
        .post(format!("{}{PREFIX}/users/george/revoke", site.base))
        .header("cookie", session_cookie(&gina).await)
        .form(&[("version", version.to_string()), ("csrf", old_csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let refused = res.text().await.unwrap();
    assert!(refused.contains("This form has expired"), "{refused}");
    assert_eq!(status_of(&site, "george").await, AccountStatus::Active);
    gina.close().await.unwrap();
}

/// The prospect's form at `/onboarding`, in a browser: messages in place
/// beside each field (what was typed kept), the confirmation, the same
/// confirmation for an email with a request pending (nothing told about
/// who asked before), a post from elsewhere refused, and five requests per
/// address in ten minutes.
#[tokio::test]
async fn a_prospect_applies_through_the_form() {
    use partnergate::model::OnboardingStatus;
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let mut shots = Shots::new("onboarding");
    let form = format!("{}/onboarding", site.base);
    browser.goto(&form).await.unwrap();
    assert_eq!(text(&browser, "h1").await, "Business partners");
    follow(&browser, "form.pg-form button[type=submit]").await;
    for field in ["organization_name", "requester_name", "requester_email"] {
        let input = css(&browser, &format!("#pg-{field}")).await;
        assert_eq!(
            input.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true"),
            "{field}"
        );
        assert_eq!(
            text(&browser, &format!("#pg-{field}-error")).await,
            "Fill this in (up to 200 characters).",
            "{field}"
        );
    }
    shots.take(&browser, "empty").await;
    type_into(&browser, "#pg-organization_name", "Hooli").await;
    type_into(&browser, "#pg-requester_name", "Gavin").await;
    type_into(&browser, "#pg-requester_email", "not-an-email").await;
    follow(&browser, "form.pg-form button[type=submit]").await;
    assert_eq!(
        text(&browser, "#pg-requester_email-error").await,
        "Enter an email address such as name@company.com."
    );
    let kept = css(&browser, "#pg-organization_name").await;
    assert_eq!(kept.prop("value").await.unwrap().as_deref(), Some("Hooli"));
    assert!(
        browser
            .find(Locator::Css("#pg-organization_name-error"))
            .await
            .is_err()
    );
    shots.take(&browser, "bad-email").await;
    let email = css(&browser, "#pg-requester_email").await;
    email.clear().await.unwrap();
    email.send_keys("gavin@hooli.test").await.unwrap();
    follow(&browser, "form.pg-form button[type=submit]").await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        "/onboarding/received"
    );
    assert_eq!(text(&browser, "main h2").await, "Request received");
    shots.take(&browser, "received").await;
    let pending = || async {
        site.gate
            .list_onboarding("staff:sara", Some(OnboardingStatus::Pending))
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.organization_name, r.requester_email))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pending().await,
        [("Hooli".to_string(), "gavin@hooli.test".to_string())]
    );

    // Again for the same email: the same confirmation, one request.
    browser.goto(&form).await.unwrap();
    type_into(&browser, "#pg-organization_name", "Hooli XYZ").await;
    type_into(&browser, "#pg-requester_name", "Gavin").await;
    type_into(&browser, "#pg-requester_email", "gavin@hooli.test").await;
    follow(&browser, "form.pg-form button[type=submit]").await;
    assert_eq!(text(&browser, "main h2").await, "Request received");
    assert_eq!(pending().await.len(), 1);

    // A post without the form's cookie (another site's form) is refused.
    let res = reqwest::Client::new()
        .post(&form)
        .form(&[
            ("csrf", "forged"),
            ("organization_name", "Evil"),
            ("requester_name", "E"),
            ("requester_email", "e@evil.test"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(pending().await.len(), 1);

    // Four requests from this address so far: the fifth is taken, the
    // sixth refused.
    for (n, expected) in [(5, "Request received"), (6, "Apply")] {
        browser.goto(&form).await.unwrap();
        type_into(&browser, "#pg-organization_name", &format!("Co {n}")).await;
        type_into(&browser, "#pg-requester_name", "P").await;
        type_into(&browser, "#pg-requester_email", &format!("p{n}@co.test")).await;
        follow(&browser, "form.pg-form button[type=submit]").await;
        assert_eq!(text(&browser, "main h2").await, expected, "request {n}");
    }
    let body = text(&browser, "main").await;
    assert!(
        body.contains("Too many requests from this address"),
        "{body}"
    );
    shots.take(&browser, "rate-limited").await;
    assert_eq!(pending().await.len(), 2);
    browser.close().await.unwrap();
}

/// Signs staff member `account` in through the staff provider and lands on
/// the back office.
async fn staff_sign_in(site: &Site, browser: &Client, account: &str) {
    browser
        .goto(&format!(
            "{}/v1/signin/staff/login?login_hint={account}&return_to={}",
            site.base,
            page::DEFAULT_BACK_OFFICE_PATH
        ))
        .await
        .unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        page::DEFAULT_BACK_OFFICE_PATH,
        "sign-in lands on the back office: {}",
        browser.source().await.unwrap_or_default()
    );
}

/// The pending onboarding request of `email`, by id.
async fn pending_request(site: &Site, email: &str) -> String {
    site.gate
        .list_onboarding(
            "staff:sara",
            Some(partnergate::model::OnboardingStatus::Pending),
        )
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.requester_email == email)
        .map(|r| r.id)
        .expect("a pending request")
}

/// The notifications waiting in the outbox for `recipient`.
async fn mail_to(site: &Site, recipient: &str) -> Vec<partnergate::model::Notification> {
    site.dir
        .due_messages(100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.notification)
        .filter(|n| n.recipient == recipient)
        .collect()
}

/// The whole loop in the browser: a prospect applies through the form; a
/// staff member signs in through the staff provider and approves it in the
/// back office; the requester receives the invitation, signs in as the new
/// organization's administrator and adds a user. Another request is
/// rejected with a reason the prospect receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_applies_staff_approve_and_the_new_administrator_adds_a_user() {
    let site = site().await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let mut shots = Shots::new("back_office");
    let back_office = format!("{}{}", site.base, page::DEFAULT_BACK_OFFICE_PATH);

    // Two prospects apply.
    for (org, name, email) in [
        ("Penny Parts", "Penny Prospect", "penny@prospect.test"),
        ("Shady Deals", "Stranger", "stranger@elsewhere.test"),
    ] {
        browser
            .goto(&format!("{}/onboarding", site.base))
            .await
            .unwrap();
        type_into(&browser, "#pg-organization_name", org).await;
        type_into(&browser, "#pg-requester_name", name).await;
        type_into(&browser, "#pg-requester_email", email).await;
        follow(&browser, "form.pg-form button[type=submit]").await;
        assert_eq!(text(&browser, "main h2").await, "Request received");
    }
    let penny = pending_request(&site, "penny@prospect.test").await;
    let shady = pending_request(&site, "stranger@elsewhere.test").await;

    // Without a session the back office offers the staff provider only.
    browser.goto(&back_office).await.unwrap();
    let offered = css(&browser, "main").await.html(false).await.unwrap();
    assert!(offered.contains("/v1/signin/staff/login"), "{offered}");
    assert!(!offered.contains("/v1/signin/test/login"), "{offered}");
    assert!(!offered.contains("Penny Parts"), "{offered}");

    // Stella signs in (invited staff: her first sign-in activates her).
    staff_sign_in(&site, &browser, "stella").await;
    assert_eq!(text(&browser, "main h2").await, "Onboarding requests");
    let queue = text(&browser, "main table").await;
    assert!(
        queue.contains("Penny Parts") && queue.contains("Shady Deals"),
        "{queue}"
    );
    shots.take(&browser, "queue").await;

    // Rejecting needs a reason; the prospect receives it.
    let reject = format!("#request-{shady} form[action$='/reject']");
    follow(&browser, &format!("{reject} button")).await;
    assert_eq!(
        css(&browser, &format!("#pg-reason-{shady}"))
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert!(mail_to(&site, "stranger@elsewhere.test").await.is_empty());
    type_into(
        &browser,
        &format!("#pg-reason-{shady}"),
        "We do not trade with resellers.",
    )
    .await;
    follow(&browser, &format!("{reject} button")).await;
    assert_eq!(
        notice(&browser).await,
        "Rejected: the requester has been told why."
    );
    let rejection = mail_to(&site, "stranger@elsewhere.test").await;
    assert_eq!(rejection.len(), 1, "{rejection:?}");
    assert_eq!(
        rejection[0].kind,
        partnergate::model::NotificationKind::Rejection
    );
    assert!(
        rejection[0]
            .params
            .iter()
            .any(|(_, v)| v.contains("resellers")),
        "{rejection:?}"
    );

    // Approving creates the organization and invites the requester.
    follow(
        &browser,
        &format!("#request-{penny} form[action$='/approve'] button"),
    )
    .await;
    assert_eq!(
        notice(&browser).await,
        "Approved: the organization exists and its administrator has been invited."
    );
    assert!(!text(&browser, "main").await.contains("Penny Parts"));
    shots.take(&browser, "approved").await;
    let invitation = mail_to(&site, "penny@prospect.test").await;
    assert!(
        invitation
            .iter()
            .any(|n| n.kind == partnergate::model::NotificationKind::Approval
                || n.kind == partnergate::model::NotificationKind::Invitation),
        "{invitation:?}"
    );
    // The approved filter shows it, without buttons.
    browser
        .goto(&format!("{back_office}?status=approved"))
        .await
        .unwrap();
    let approved = css(&browser, &format!("#request-{penny}"))
        .await
        .html(false)
        .await
        .unwrap();
    assert!(!approved.contains("<form"), "{approved}");
    // The audit trail shows both decisions.
    follow(&browser, "nav.pg-nav a[href$='/audit']").await;
    let trail = text(&browser, "main table").await;
    assert!(
        trail.contains("approveOnboarding") && trail.contains("rejectOnboarding"),
        "{trail}"
    );
    shots.take(&browser, "audit").await;

    // The organization users page is not for staff: it sends her back.
    browser
        .goto(&format!("{}{PREFIX}", site.base))
        .await
        .unwrap();
    assert_eq!(
        text(&browser, "main h2").await,
        "Staff work in the back office"
    );
    assert!(!text(&browser, "main").await.contains("@acme.test"));
    follow(&browser, "main a[href='/back-office']").await;

    // Stella signs out.
    follow(&browser, "form.pg-signout button").await;
    browser.goto(&back_office).await.unwrap();
    assert_eq!(text(&browser, "main h2").await, "Sign in");
    browser.close().await.unwrap();

    // Penny, in her own browser, signs in as the new organization's
    // administrator and adds a user.
    let browser = driver.browser().await;
    sign_in(&site, &browser, "penny").await;
    assert!(text(&browser, "h1").await.contains("Penny Parts"));
    follow(&browser, "nav.pg-nav a[href$='/new']").await;
    type_into(&browser, "#pg-email", "pete@prospect.test").await;
    type_into(&browser, "#pg-name", "Pete Buyer").await;
    follow(&browser, "button[type=submit].pg-primary").await;
    assert_eq!(notice(&browser).await, "The user was added and invited.");
    let pete = site
        .dir
        .find_account_by_email("pete@prospect.test")
        .await
        .unwrap()
        .expect("added");
    let penny_account = site
        .dir
        .find_account_by_email("penny@prospect.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pete.membership.unwrap().organization_id,
        penny_account.membership.unwrap().organization_id
    );
    shots.take(&browser, "new-admin-adds").await;

    // A customer's session sees nothing of the back office.
    browser.goto(&back_office).await.unwrap();
    assert_eq!(text(&browser, "main h2").await, "No access");
    assert!(!text(&browser, "main").await.contains("Shady"));
    browser.close().await.unwrap();
}

/// Blocking in the back office: Stella sees only the organizations assigned
/// to her; blocking Acme (a reason required) signs Alice out on her next
/// click; a block of an organization not assigned to her, or of none at all,
/// gets the same refusal and names nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_block_an_assigned_organization_and_see_nothing_of_the_others() {
    use partnergate::model::OrganizationStatus;
    let site = site().await;
    let driver = Chromedriver::start();
    let alice = driver.browser().await;
    sign_in(&site, &alice, "alice").await;
    let staff = driver.browser().await;
    let mut shots = Shots::new("back_office_block");
    let back_office = format!("{}{}", site.base, page::DEFAULT_BACK_OFFICE_PATH);
    staff_sign_in(&site, &staff, "stella").await;
    follow(&staff, "nav.pg-nav a[href$='/organizations']").await;
    let listed = text(&staff, "main table").await;
    assert!(listed.contains("Acme Corp"), "{listed}");
    for other in ["Globex", "Initech", "Umbrella"] {
        assert!(!listed.contains(other), "{other} in {listed}");
    }
    staff
        .goto(&format!("{back_office}/organizations?search=globex"))
        .await
        .unwrap();
    assert_eq!(
        text(&staff, ".pg-empty").await,
        "No organization assigned to you matches."
    );
    staff
        .goto(&format!("{back_office}/organizations?search=ACME"))
        .await
        .unwrap();
    assert!(text(&staff, "main table").await.contains("Acme Corp"));

    // A block needs a reason.
    follow(&staff, "#organization-acme form button").await;
    assert_eq!(
        css(&staff, "#pg-reason-acme")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    type_into(&staff, "#pg-reason-acme", "Unpaid invoices since March.").await;
    shots.take(&staff, "block-reason").await;
    follow(&staff, "#organization-acme form button").await;
    assert_eq!(
        notice(&staff).await,
        "Blocked: its members are signed out and may not order."
    );
    assert_eq!(
        site.dir
            .get_organization("acme")
            .await
            .unwrap()
            .unwrap()
            .status,
        OrganizationStatus::Blocked
    );
    shots.take(&staff, "blocked").await;

    // Alice's next click finds her signed out.
    alice
        .goto(&format!("{}{PREFIX}/audit", site.base))
        .await
        .unwrap();
    assert!(text(&alice, "main").await.contains("Sign in to manage"));
    assert!(rows(&alice).await.is_empty());

    // Globex is not Stella's, and `nowhere` does not exist: the same
    // refusal, naming neither, and nothing changes.
    let cookie = session_cookie(&staff).await;
    let csrf = css(&staff, "input[name=csrf]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let refusal = |org: &'static str| {
        let (cookie, csrf, back_office) = (cookie.clone(), csrf.clone(), back_office.clone());
        async move {
            let res = reqwest::Client::new()
                .post(format!("{back_office}/organizations/{org}/block"))
                .header("cookie", cookie)
                .form(&[("csrf", csrf.as_str()), ("reason", "no reason at all")])
                .send()
                .await
                .unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    // Another site's form (no session's CSRF token) changes nothing.
    let forged = reqwest::Client::new()
        .post(format!("{back_office}/organizations/acme/unblock"))
        .header("cookie", cookie.clone())
        .form(&[("csrf", "forged"), ("reason", "sneaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        site.dir
            .get_organization("acme")
            .await
            .unwrap()
            .unwrap()
            .status,
        OrganizationStatus::Blocked
    );
    let (globex, nowhere) = (refusal("globex").await, refusal("nowhere").await);
    assert_eq!(globex.0, 403);
    assert_eq!(globex, nowhere);
    assert!(!globex.1.contains("Globex") && !globex.1.contains("globex"));
    assert_eq!(
        site.dir
            .get_organization("globex")
            .await
            .unwrap()
            .unwrap()
            .status,
        OrganizationStatus::Approved
    );
    // The audit trail keeps the reason.
    let trail = site.dir.read_audit(partnergate::directory::AuditQuery {
        organization_id: Some("acme".into()),
        cursor: None,
        limit: 5,
    });
    let trail = trail.await.unwrap();
    assert!(
        trail
            .entries
            .iter()
            .any(|e| e.entry.action == "blockOrganization"
                && e.entry.after.contains("Unpaid invoices")),
        "{:?}",
        trail.entries
    );

    // Unblocked, with a reason: Alice may sign in again.
    staff
        .goto(&format!("{back_office}/organizations"))
        .await
        .unwrap();
    type_into(&staff, "#pg-reason-acme", "Paid in full.").await;
    follow(&staff, "#organization-acme form button").await;
    assert_eq!(
        notice(&staff).await,
        "Unblocked: its members may sign in and order again."
    );
    alice.close().await.unwrap();
    let alice = driver.browser().await;
    sign_in(&site, &alice, "alice").await;
    assert!(text(&alice, "h1").await.contains("Acme Corp"));
    staff.close().await.unwrap();
    alice.close().await.unwrap();
}

/// A refusal from the back office: its status and body, for `path`.
async fn back_office_get(site: &Site, cookie: &str, path: &str) -> (reqwest::StatusCode, String) {
    let res = reqwest::Client::new()
        .get(format!(
            "{}{}{path}",
            site.base,
            page::DEFAULT_BACK_OFFICE_PATH
        ))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Stella, with the keyboard alone: creates an organization (she is
/// assigned to it), assigns a colleague by email and withdraws him, then
/// works the users of her organizations: revokes one, removes another
/// after the confirmation. Every focus stop has a name and a visible
/// focus. An organization that is not hers (its users, its page) is
/// refused exactly as one that does not exist.
#[tokio::test]
async fn staff_create_an_organization_assign_a_colleague_and_manage_users_by_keyboard() {
    use partnergate::model::{Staff, StaffStatus};
    let site = site().await;
    site.gate
        .put_staff(&Staff {
            id: "sid".into(),
            name: "Sid Staff".into(),
            email: Some("sid@merchant.test".into()),
            status: StaffStatus::Invited,
            assigned_organizations: Vec::new(),
        })
        .await
        .unwrap();
    let driver = Chromedriver::start();
    let staff = driver.browser().await;
    let mut shots = Shots::new("back_office_keyboard");
    staff_sign_in(&site, &staff, "stella").await;
    follow(&staff, "nav.pg-nav a[href$='/organizations']").await;

    // Create: the name is required, then Hooli exists and is hers.
    tab_to(&staff, "Create organization").await;
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert_eq!(
        css(&staff, "#pg-new-organization")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    tab_to(&staff, "New organization's name").await;
    staff
        .active_element()
        .await
        .unwrap()
        .send_keys("Hooli")
        .await
        .unwrap();
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert!(
        notice(&staff).await.starts_with("Created"),
        "{}",
        notice(&staff).await
    );
    assert_eq!(text(&staff, "main h2").await, "Hooli");
    let hooli = staff
        .current_url()
        .await
        .unwrap()
        .path_segments()
        .unwrap()
        .next_back()
        .unwrap()
        .to_string();
    let stella = site.dir.get_staff("stella").await.unwrap().unwrap();
    assert!(stella.assigned_organizations.contains(&hooli), "{stella:?}");
    assert!(text(&staff, "main table").await.contains("Stella Staff"));
    shots.take(&staff, "created").await;

    // Assign: an unknown email is refused in place; Sid's is taken.
    tab_to(&staff, "Assign a colleague (their staff email)").await;
    staff
        .active_element()
        .await
        .unwrap()
        .send_keys("nobody@merchant.test")
        .await
        .unwrap();
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert_eq!(
        css(&staff, "#pg-assign-email")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let field = css(&staff, "#pg-assign-email").await;
    field.clear().await.unwrap();
    field.send_keys("sid@merchant.test").await.unwrap();
    let page = mark(&staff).await;
    field
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    navigated(&staff, page).await;
    assert!(
        notice(&staff).await.starts_with("Assigned"),
        "{}",
        notice(&staff).await
    );
    assert!(text(&staff, "main table").await.contains("Sid Staff"));
    let sid = site.dir.get_staff("sid").await.unwrap().unwrap();
    assert_eq!(sid.assigned_organizations, vec![hooli.clone()]);
    shots.take(&staff, "assigned").await;

    // Withdraw Sid's assignment.
    tab_to(&staff, "Withdraw Sid Staff's assignment").await;
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert!(
        notice(&staff).await.starts_with("Withdrawn"),
        "{}",
        notice(&staff).await
    );
    let sid = site.dir.get_staff("sid").await.unwrap().unwrap();
    assert!(sid.assigned_organizations.is_empty(), "{sid:?}");

    // Hooli's administrator, added and invited; then its users.
    tab_to(&staff, "Email").await;
    staff
        .active_element()
        .await
        .unwrap()
        .send_keys("hank@hooli.test")
        .await
        .unwrap();
    tab_to(&staff, "Name").await;
    staff
        .active_element()
        .await
        .unwrap()
        .send_keys("Hank Hooli")
        .await
        .unwrap();
    tab_to(&staff, "Administrator of the organization").await;
    press(&staff, Key::Space).await;
    tab_to(&staff, "Add and invite").await;
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert_eq!(notice(&staff).await, "The user was added and invited.");
    let listed = text(&staff, "main table").await;
    assert!(
        listed.contains("Hank Hooli") && !listed.contains("Bob Buyer"),
        "{listed}"
    );
    let hank = site
        .dir
        .find_account_by_email("hank@hooli.test")
        .await
        .unwrap()
        .unwrap();
    let membership = hank.membership.unwrap();
    assert_eq!(
        (
            membership.organization_id.as_str(),
            membership.status,
            membership.is_admin
        ),
        (hooli.as_str(), AccountStatus::Invited, true)
    );

    // Users of her organizations: Acme's, never Globex's.
    follow(&staff, "nav.pg-nav a[href$='/users']").await;
    let listed = text(&staff, "main table").await;
    assert!(
        listed.contains("Bob Buyer") && listed.contains("Acme Corp"),
        "{listed}"
    );
    assert!(!listed.contains("Gina"), "{listed}");
    tab_to(&staff, "Revoke Bob Buyer").await;
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert_eq!(notice(&staff).await, "The user's access was revoked.");
    assert_eq!(status_of(&site, "bob").await, AccountStatus::Revoked);
    shots.take(&staff, "users").await;
    // Removing asks first.
    tab_to(&staff, "Remove Ivan Invited").await;
    let page = mark(&staff).await;
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert!(text(&staff, "main h2").await.contains("Ivan Invited"));
    assert_eq!(status_of(&site, "ivan").await, AccountStatus::Invited);
    let page = mark(&staff).await;
    // The confirm button has the focus.
    press(&staff, Key::Enter).await;
    navigated(&staff, page).await;
    assert_eq!(notice(&staff).await, "The user was removed.");
    assert_eq!(status_of(&site, "ivan").await, AccountStatus::Removed);
    // A search across her organizations.
    staff
        .goto(&format!(
            "{}{}/users?q=carol",
            site.base,
            page::DEFAULT_BACK_OFFICE_PATH
        ))
        .await
        .unwrap();
    let found = rows(&staff).await;
    assert_eq!(found.len(), 1, "{found:?}");

    // Not hers, and not there: the same refusal.
    let cookie = session_cookie(&staff).await;
    for (theirs, nowhere) in [
        ("/users?organization=globex", "/users?organization=nowhere"),
        ("/organizations/globex", "/organizations/nowhere"),
    ] {
        let a = back_office_get(&site, &cookie, theirs).await;
        let b = back_office_get(&site, &cookie, nowhere).await;
        assert_eq!(a.0, 403, "{theirs}");
        assert_eq!(a, b, "{theirs} and {nowhere}");
        assert!(!a.1.contains("Globex"), "{}", a.1);
    }
    staff.close().await.unwrap();
}

/// Every text of the page in `browser` against its background, as
/// Chromium computed them: the pairs under WCAG AA (4.5:1, 3:1 for large
/// text), each as `text: ratio`.
async fn contrast_failures(browser: &Client) -> Vec<String> {
    let found = browser
        .execute(
            r#"
            const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
            const lum = ([r, g, b]) => {
              const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
              return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            const background = (e) => {
              for (; e; e = e.parentElement) {
                const c = rgb(getComputedStyle(e).backgroundColor);
                if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
              }
              return [255, 255, 255];
            };
            const failures = [];
            for (const e of document.querySelectorAll('body *')) {
              const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
              if (!own || !e.getClientRects().length) continue;
              const s = getComputedStyle(e);
              if (s.visibility === 'hidden') continue;
              const a = lum(rgb(s.color)), b = lum(background(e));
              const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
              const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
              const large = size >= 24 || (bold && size >= 18.66);
              if (ratio < (large ? 3 : 4.5)) failures.push(e.textContent.trim().slice(0, 40) + ': ' + ratio.toFixed(2));
            }
            return failures;"#,
            vec![],
        )
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Each page of the back office, as Chromium draws it, meets WCAG AA
/// contrast: the queue, the organizations, an organization's page with its
/// forms, the users and the audit trail.
#[tokio::test]
async fn the_back_office_pages_meet_wcag_aa_contrast() {
    let site = site().await;
    let driver = Chromedriver::start();
    let staff = driver.browser().await;
    staff_sign_in(&site, &staff, "stella").await;
    let back_office = format!("{}{}", site.base, page::DEFAULT_BACK_OFFICE_PATH);
    for path in [
        "",
        "?status=approved",
        "/organizations",
        "/organizations/acme",
        "/users",
        "/users?status=revoked",
        "/audit",
    ] {
        staff.goto(&format!("{back_office}{path}")).await.unwrap();
        assert!(!text(&staff, "main").await.is_empty(), "{path}");
        let failures = contrast_failures(&staff).await;
        assert!(failures.is_empty(), "{path}: {failures:?}");
    }
    // A refused form shows its error in place, readable too.
    staff
        .goto(&format!("{back_office}/organizations/acme"))
        .await
        .unwrap();
    follow(&staff, "form[action$='/staff'] button").await;
    assert!(
        css(&staff, "#pg-assign-email-error")
            .await
            .text()
            .await
            .is_ok()
    );
    let failures = contrast_failures(&staff).await;
    assert!(failures.is_empty(), "an error: {failures:?}");
    // The check sees a pale text when there is one.
    staff
        .execute(
            "document.querySelector('main h2').style.color = '#c8c8c8'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(contrast_failures(&staff).await.len(), 1);
    staff.close().await.unwrap();
}
