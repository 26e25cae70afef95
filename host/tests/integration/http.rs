//! `partnergate serve`'s HTTP API on a real socket.

use super::common;

use std::net::SocketAddr;

use partnergate::config::ServeOptions;
use partnergate::server;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// `partnergate serve` itself ([`partnergate::app::run`]) on port 0, on an
/// in-memory directory seeded with the sample records.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), partnergate::Error>>,
    _outbox: tempfile::TempDir,
}

impl Server {
    async fn start(token: Option<&str>) -> Self {
        Self::start_seeded(token, &common::policies_dir().join("directory.json")).await
    }

    /// A server on the records of the seed file `seed`.
    async fn start_seeded(token: Option<&str>, seed: &std::path::Path) -> Self {
        let outbox = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = vec![
            "--database".into(),
            ":memory:".into(),
            "--directory-seed".into(),
            seed.display().to_string(),
            "--cache-dir".into(),
            common::artifact_dir().display().to_string(),
            "--outbox-file".into(),
            outbox.path().join("outbox.jsonl").display().to_string(),
            // Not about deadlines: a loaded machine must not turn a decision
            // into a 503 here (load.rs tests the deadline).
            "--call-timeout-ms".into(),
            "5000".into(),
        ];
        if let Some(token) = token {
            args.extend(["--service-token".into(), token.into()]);
        }
        let config = ServeOptions::from_args(args).expect("serve options");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(partnergate::app::run(listener, config, async {
            let _ = stopped.await;
        }));
        // Serving once health answers (the first start compiles the
        // component, which takes long on loaded cores: a test must not
        // begin while it answers 503 `starting`).
        let health = format!("http://{addr}/v1/health");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        loop {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(!task.is_finished(), "the app stopped at start");
            assert!(
                std::time::Instant::now() < deadline,
                "the app did not become healthy within 180 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Self {
            addr,
            stop: Some(stop),
            task,
            _outbox: outbox,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn shutdown(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn authorize_over_http_returns_the_decision_and_deciding_policies() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let res = client
        .post(server.url("/v1/authorize"))
        .json(&json!({"principal": "customer:bob", "action": "placeOrder", "resource": "store:main", "context": {"orderTotal": 70000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["decision"], "deny");
    assert_eq!(body["policies"], json!(["order-within-spending-limit"]));

    let res = client
        .post(server.url("/v1/authorize"))
        .json(&json!({"principal": "customer:alice", "action": "addUser", "resource": "organization:acme"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["decision"], "allow", "{body}");
    server.shutdown().await;
}

/// A customer may name the organization they act for: their own decides as
/// without it; another is denied with a reason (and the decision is given
/// again only for the same organization); staff, with no memberships, are
/// denied for any.
#[tokio::test]
async fn a_decision_for_an_organization_the_customer_is_no_member_of_is_denied() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let ask = |body: Value| {
        let client = client.clone();
        let url = server.url("/v1/authorize");
        async move {
            let res = client.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let order = |organization: Option<&str>| {
        let mut body = json!({"principal": "customer:bob", "action": "placeOrder",
            "resource": "store:main", "context": {"orderTotal": 100}});
        if let Some(org) = organization {
            body["organization"] = json!(org);
        }
        body
    };
    let (status, plain) = ask(order(None)).await;
    assert_eq!(
        (status, plain["decision"].as_str()),
        (200, Some("allow")),
        "{plain}"
    );
    let (status, own) = ask(order(Some("acme"))).await;
    assert_eq!(status, 200);
    assert_eq!(own, plain, "bob's own organization decides as without it");
    for _ in 0..2 {
        // Asked twice: a decision given again keeps the organization apart.
        let (status, other) = ask(order(Some("globex"))).await;
        assert_eq!(
            (status, other["decision"].as_str()),
            (200, Some("deny")),
            "{other}"
        );
        assert_eq!(other["policies"], json!([]));
        let reason = other["errors"][0].as_str().unwrap();
        assert!(
            reason.contains("no membership in organization `globex`"),
            "{reason}"
        );
        let (_, own_again) = ask(order(Some("acme"))).await;
        assert_eq!(own_again["decision"], "allow");
    }
    let (status, staff) = ask(json!({"principal": "staff:sam", "action": "listUsers",
        "resource": "organization:acme", "organization": "acme"}))
    .await;
    assert_eq!(
        (status, staff["decision"].as_str()),
        (200, Some("deny")),
        "{staff}"
    );
    assert!(
        staff["errors"][0]
            .as_str()
            .unwrap()
            .contains("no membership in organization `acme`"),
        "{staff}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_400_with_a_stable_code_and_deny() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    for body in [
        "not json".to_string(),
        json!({"principal": "customer:bob"}).to_string(),
        json!({"principal": "bob", "action": "browse", "resource": "store:main"}).to_string(),
    ] {
        let res = client
            .post(server.url("/v1/authorize"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["code"], "invalid_request", "{err}");
        assert_eq!(err["decision"], "deny");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn service_token_is_required_when_configured() {
    let server = Server::start(Some("s3cret")).await;
    let client = reqwest::Client::new();
    let request =
        json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"});
    for (token, status) in [(None, 401), (Some("wrong"), 401), (Some("s3cret"), 200)] {
        let mut post = client.post(server.url("/v1/authorize")).json(&request);
        if let Some(token) = token {
            post = post.bearer_auth(token);
        }
        let res = post.send().await.unwrap();
        assert_eq!(res.status(), status, "token {token:?}");
    }
    // Health stays open for probes.
    assert_eq!(
        client
            .get(server.url("/v1/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.shutdown().await;
}

/// Without `--oidc-providers`, every sign-in endpoint says so (501), in the
/// API's error shape.
#[tokio::test]
async fn sign_in_endpoints_answer_501_when_sign_in_is_not_configured() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/v1/signin/test/login"),
        ("GET", "/v1/signin/test/callback?code=c&state=s"),
        ("POST", "/v1/signin/logout"),
        ("GET", "/v1/me"),
    ] {
        let res = client
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 501, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "sign_in_not_configured", "{method} {path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn health_reports_the_policy_set_in_use() {
    let server = Server::start(None).await;
    let body: Value = reqwest::get(server.url("/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["policy"]["version"].as_str().unwrap().len(), 16);
    assert!(body["policy"]["policies"].as_u64().unwrap() >= 8);
    server.shutdown().await;
}

#[tokio::test]
async fn openapi_document_describes_every_route_served() {
    let server = Server::start(None).await;
    let doc: Value = reqwest::get(server.url("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in server::ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
        // And the route really is served (not the 404 fallback).
        let res = reqwest::Client::new()
            .request(method.to_uppercase().parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 404, "{method} {path}");
    }
    let documented = doc["paths"].as_object().unwrap().len();
    assert_eq!(
        documented,
        server::ROUTES
            .iter()
            .map(|(_, p)| p)
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    let res = reqwest::get(server.url("/v1/nothing-here")).await.unwrap();
    assert_eq!(res.status(), 404);
    server.shutdown().await;
}

mod users {
    use super::*;

    async fn call(
        server: &Server,
        method: &str,
        path: &str,
        actor: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = reqwest::Client::new().request(method.parse().unwrap(), server.url(path));
        if let Some(actor) = actor {
            req = req.header("X-PartnerGate-Actor", actor);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, res.json().await.unwrap_or(Value::Null), headers)
    }

    /// An unknown step after a user or an onboarding request is 404 with
    /// the steps there are.
    #[tokio::test]
    async fn an_unknown_step_is_404_naming_the_steps_there_are() {
        let server = Server::start(None).await;
        for (path, steps, body) in [
            (
                "/v1/users/bob/promote",
                "use revoke, reinstate, remove or reinvite",
                json!({"version": 1}),
            ),
            (
                "/v1/onboarding/req-1/promote",
                "use approve or reject",
                json!({"reason": "no"}),
            ),
        ] {
            let (status, body, _) =
                call(&server, "POST", path, Some("staff:sam"), Some(body)).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["code"], "not_found", "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("`promote`") && message.ends_with(steps),
                "{message}"
            );
        }
        server.shutdown().await;
    }

    /// `GET /v1/users/{person}` gives the user with the steps the rules
    /// allow the actor; a user the actor may not view is the same 404 as
    /// no such user.
    #[tokio::test]
    async fn a_user_comes_with_the_steps_the_rules_allow_and_reveals_nothing_otherwise() {
        let server = Server::start(None).await;
        let (status, body, _) = call(
            &server,
            "GET",
            "/v1/users/bob",
            Some("customer:alice"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["person"]["id"], "bob");
        assert_eq!(body["user"]["membership"]["status"], "active");
        let steps = &body["steps"];
        assert_eq!(
            (
                steps["edit"].as_bool(),
                steps["revoke"].as_bool(),
                steps["reinstate"].as_bool()
            ),
            (Some(true), Some(true), Some(false)),
            "{body}"
        );
        assert_eq!(
            steps["edit_email"], false,
            "bob is active: his email is fixed"
        );

        // Gina administers globex: acme's bob is hidden from her exactly as
        // a person who does not exist is (the same answer, naming only what
        // she asked for).
        let (hidden, hidden_body, _) =
            call(&server, "GET", "/v1/users/bob", Some("customer:gina"), None).await;
        let (missing, missing_body, _) = call(
            &server,
            "GET",
            "/v1/users/nobody",
            Some("customer:gina"),
            None,
        )
        .await;
        assert_eq!((hidden, missing), (404, 404));
        assert_eq!(
            hidden_body["message"]
                .as_str()
                .unwrap()
                .replace("bob", "nobody"),
            missing_body["message"].as_str().unwrap(),
        );
        assert_eq!(hidden_body["code"], missing_body["code"]);
        assert!(hidden_body.get("user").is_none() && hidden_body.get("steps").is_none());
        server.shutdown().await;
    }

    #[tokio::test]
    async fn user_lifecycle_over_http_with_conventional_status_codes() {
        let server = Server::start(None).await;
        let (status, body, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/users",
            None,
            Some(json!({"email": "h@acme.test", "name": "H"})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("actor_required"))
        );

        let (status, added, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/users",
            Some("customer:alice"),
            Some(json!({"email": "h@acme.test", "name": "H", "spending_limit": 500})),
        )
        .await;
        assert_eq!(status, 201, "{added}");
        assert_eq!(added["status"], "invited");
        let person = added["person_id"].as_str().unwrap().to_string();

        let (status, body, _) = call(
            &server,
            "POST",
            "/v1/organizations/globex/users",
            Some("customer:alice"),
            Some(json!({"email": "x@globex.test", "name": "X"})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str(), body["decision"].as_str()),
            (403, Some("denied"), Some("deny")),
            "{body}"
        );
        assert!(body["policies"].is_array());

        let (status, body, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/users",
            Some("customer:alice"),
            Some(json!({"email": "h@acme.test", "name": "H"})),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));

        let (status, body, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/users",
            Some("customer:alice"),
            Some(json!({"email": "nope", "name": "H"})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_request"))
        );

        let (status, body, _) = call(
            &server,
            "POST",
            "/v1/organizations/nowhere/users",
            Some("staff:sam"),
            Some(json!({"email": "n@w.test", "name": "N"})),
        )
        .await;
        // Permit before details: an organization the actor may not see is
        // a denial, whether it exists or not.
        assert_eq!(status, 403, "{body}");

        let (status, _, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/users",
            Some("customer:alice"),
            Some(json!({"email": "h2@acme.test"})),
        )
        .await;
        assert_eq!(status, 400);

        let (status, body, headers) = call(
            &server,
            "POST",
            &format!("/v1/users/{person}/reinvite"),
            Some("customer:alice"),
            Some(json!({"version": 1})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("rate_limited")),
            "{body}"
        );
        assert!(headers.get("retry-after").is_some());

        let (status, edited, _) = call(
            &server,
            "PATCH",
            &format!("/v1/users/{person}"),
            Some("customer:alice"),
            Some(json!({"version": 1, "spending_limit": null, "roles": ["approver"]})),
        )
        .await;
        assert_eq!(status, 200, "{edited}");
        assert_eq!(
            (edited["spending_limit"].clone(), edited["version"].as_u64()),
            (Value::Null, Some(2))
        );
        let (status, _, _) = call(
            &server,
            "PATCH",
            &format!("/v1/users/{person}"),
            Some("customer:alice"),
            Some(json!({"version": 1, "name": "stale"})),
        )
        .await;
        assert_eq!(status, 409);

        let (status, revoked, _) = call(
            &server,
            "POST",
            "/v1/users/bob/revoke",
            Some("customer:alice"),
            Some(json!({"version": 1})),
        )
        .await;
        assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
        let res = reqwest::Client::new()
            .post(server.url("/v1/authorize"))
            .json(
                &json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["decision"], "deny");

        let (status, page, _) = call(
            &server,
            "GET",
            "/v1/organizations/acme/users?status=revoked&sort=email&limit=1",
            Some("customer:alice"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["users"][0]["person"]["email"], "bob@acme.test");
        let cursor = page["next_cursor"]
            .as_str()
            .expect("rita is revoked too")
            .to_string();
        let (_, next, _) = call(
            &server,
            "GET",
            &format!(
                "/v1/organizations/acme/users?status=revoked&sort=email&limit=1&cursor={cursor}"
            ),
            Some("customer:alice"),
            None,
        )
        .await;
        assert_eq!(next["users"][0]["person"]["email"], "rita@acme.test");
        let (status, _, _) = call(
            &server,
            "GET",
            "/v1/organizations/acme/users?sort=height",
            Some("customer:alice"),
            None,
        )
        .await;
        assert_eq!(status, 400);

        let (status, bulk, _) = call(&server, "POST", "/v1/users/bulk", Some("customer:alice"), Some(json!({"action": "remove", "targets": [{"person_id": "carol", "version": 1}, {"person_id": "george", "version": 1}]}))).await;
        assert_eq!(status, 200, "{bulk}");
        assert_eq!(bulk["results"][0]["ok"]["status"], "removed");
        assert_eq!(bulk["results"][1]["error"]["code"], "denied");

        let (status, audit, _) = call(
            &server,
            "GET",
            "/v1/organizations/acme/audit?limit=2",
            Some("customer:alice"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(audit["entries"][0]["action"], "removeUser");
        assert_eq!(audit["entries"][0]["after"]["status"], "removed");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn onboarding_over_http() {
        let server = Server::start(None).await;
        let (status, req, _) = call(&server, "POST", "/v1/onboarding", None, Some(json!({"organization_name": "Hooli", "requester_name": "G", "requester_email": "g@hooli.test"}))).await;
        assert_eq!(status, 201, "{req}");
        let id = req["id"].as_str().unwrap();
        let (status, _, _) = call(&server, "POST", "/v1/onboarding", None, Some(json!({"organization_name": "Hooli", "requester_name": "G", "requester_email": "g@hooli.test"}))).await;
        assert_eq!(status, 409);
        let (status, list, _) = call(
            &server,
            "GET",
            "/v1/onboarding?status=pending",
            Some("staff:sam"),
            None,
        )
        .await;
        assert_eq!(
            (status, list["requests"].as_array().unwrap().len()),
            (200, 1)
        );
        let (status, _, _) = call(
            &server,
            "POST",
            &format!("/v1/onboarding/{id}/approve"),
            Some("customer:alice"),
            None,
        )
        .await;
        assert_eq!(status, 403);
        let (status, approved, _) = call(
            &server,
            "POST",
            &format!("/v1/onboarding/{id}/approve"),
            Some("staff:sam"),
            None,
        )
        .await;
        assert_eq!(
            (status, approved["status"].as_str()),
            (200, Some("approved")),
            "{approved}"
        );
        let (status, org, _) = call(
            &server,
            "POST",
            "/v1/organizations",
            Some("staff:sam"),
            Some(json!({"name": "Initrode"})),
        )
        .await;
        assert_eq!((status, org["status"].as_str()), (201, Some("approved")));
        server.shutdown().await;
    }
}

/// The API is what its OpenAPI document says: schemathesis (PyPI, pinned in
/// `integration/requirements.txt`) generates requests from the served
/// document — valid and invalid ones, with the service token and a staff
/// actor — and runs all of its checks: no server error, status codes, content
/// types and bodies as documented, invalid input refused, valid input
/// accepted. A fixed seed and a bound on the examples keep it reproducible
/// and short. It pins the mismatches a first run found: plain-text
/// query-string errors, 409 for a malformed cursor, undocumented
/// constraints, unknown fields accepted by `/v1/authorize`, and an empty JSON
/// body refused on approve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_what_its_openapi_document_says() {
    let server = Server::start(Some("conformance-token")).await;
    // Its console script through the Python that installed it, so that no
    // PATH entry for scripts is needed.
    let program = std::env::var("PARTNERGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let report = tempfile::tempdir().unwrap();
    let config = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../integration/schemathesis.toml");
    let out = tokio::process::Command::new(&program)
        .args([
            "-c",
            "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())",
        ])
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(server.url("/v1/openapi.json"))
        .args(["--checks", "all", "--seed", "20261126", "--max-examples", "12"])
        .args(["--workers", "2", "--request-timeout", "10", "--no-color"])
        .args(["--header", "Authorization: Bearer conformance-token"])
        .args(["--header", "X-PartnerGate-Actor: staff:sam"])
        // Without sign-in configured, its endpoints answer 501 by design;
        // the sign-in tests (oidc.rs) cover them against a real provider.
        .args(["--exclude-path-regex", "^/v1/(signin/|me$|me/)"])
        .arg("--report-dir")
        .arg(report.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("run `{program}` (scripts/test.sh installs it from integration/requirements.txt): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found mismatches:\n{text}"
    );
    // It did test: operations ran and cases were generated.
    assert!(text.contains("passed"), "{text}");
    server.shutdown().await;
}

/// Permit before details: an actor the policies do not permit learns nothing
/// about the target from a refused operation. Pins the bug where globex's
/// administrator got 409 with bob's version, 422 with rita's status and 404
/// for an unknown person, and only 403 for a correct version.
mod permit_before_details {
    use super::*;

    async fn call(
        server: &Server,
        method: &str,
        path: &str,
        actor: &str,
        body: Value,
    ) -> (u16, Value) {
        let res = reqwest::Client::new()
            .request(method.parse().unwrap(), server.url(path))
            .header("X-PartnerGate-Actor", actor)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    /// acme's users as the sample directory has them (every seeded
    /// membership starts at version 1), a stale version, and nobody.
    const TARGETS: &[(&str, u64)] = &[
        ("bob", 1),
        ("bob", 99),
        ("rita", 1),
        ("ivan", 1),
        ("remy", 1),
        ("alice", 1),
        ("nobody", 1),
    ];

    /// The organization endpoints for staff: Sam (assigned acme and
    /// initech) lists, blocks with a reason, and assigns Stella to a new
    /// organization and withdraws her; Sara (assigned nowhere) gets one
    /// answer for acme, for umbrella and for an organization that does not
    /// exist, on every endpoint, and changes nothing.
    #[tokio::test]
    async fn staff_work_organizations_over_the_api_and_others_learn_nothing() {
        let server = Server::start(None).await;
        let (status, listed) = call(
            &server,
            "GET",
            "/v1/organizations?search=AC",
            "staff:sam",
            Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["organizations"][0]["id"], "acme");
        assert_eq!(listed["organizations"].as_array().unwrap().len(), 1);

        // A reason is required; with one, the block holds.
        let (status, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/block",
            "staff:sam",
            json!({"reason": " "}),
        )
        .await;
        assert_eq!(status, 422);
        let (status, blocked) = call(
            &server,
            "POST",
            "/v1/organizations/acme/block",
            "staff:sam",
            json!({"reason": "unpaid"}),
        )
        .await;
        assert_eq!(
            (status, blocked["status"].as_str()),
            (200, Some("blocked")),
            "{blocked}"
        );
        let (status, _) = call(
            &server,
            "POST",
            "/v1/organizations/acme/block",
            "staff:sam",
            json!({"reason": "again"}),
        )
        .await;
        assert_eq!(status, 422, "only an approved organization is blocked");
        let (status, unblocked) = call(
            &server,
            "POST",
            "/v1/organizations/acme/unblock",
            "staff:sam",
            json!({"reason": "paid"}),
        )
        .await;
        assert_eq!(
            (status, unblocked["status"].as_str()),
            (200, Some("approved"))
        );

        // Created, Sam is assigned; he assigns Stella and withdraws her.
        let (status, org) = call(
            &server,
            "POST",
            "/v1/organizations",
            "staff:sam",
            json!({"name": "Hooli"}),
        )
        .await;
        assert_eq!(status, 201, "{org}");
        let hooli = org["id"].as_str().unwrap().to_string();
        let staff_path = format!("/v1/organizations/{hooli}/staff");
        let (status, stella) = call(
            &server,
            "POST",
            &staff_path,
            "staff:sam",
            json!({"email": "stella@merchant.test"}),
        )
        .await;
        assert_eq!(status, 200, "{stella}");
        assert!(
            stella["assigned_organizations"]
                .as_array()
                .unwrap()
                .contains(&json!(hooli))
        );
        let (status, assigned) = call(&server, "GET", &staff_path, "staff:sam", Value::Null).await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = assigned["staff"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["sam", "stella"]);
        let (status, _) = call(
            &server,
            "POST",
            &staff_path,
            "staff:sam",
            json!({"email": "rex@merchant.test"}),
        )
        .await;
        assert_eq!(status, 422, "a removed colleague is not assigned");
        let (status, _) = call(
            &server,
            "POST",
            &staff_path,
            "staff:sam",
            json!({"email": "nobody@merchant.test"}),
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = call(
            &server,
            "DELETE",
            &format!("{staff_path}/stella"),
            "staff:sam",
            Value::Null,
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &server,
            "DELETE",
            &format!("{staff_path}/stella"),
            "staff:sam",
            Value::Null,
        )
        .await;
        assert_eq!(status, 404);

        // Sara: one answer whatever the organization, and nothing changes.
        let ops: &[(&str, &str, Value)] = &[
            ("POST", "block", json!({"reason": "x"})),
            ("POST", "unblock", json!({"reason": "x"})),
            ("GET", "staff", Value::Null),
            ("POST", "staff", json!({"email": "sara@merchant.test"})),
            ("DELETE", "staff/sam", Value::Null),
        ];
        for (method, step, body) in ops {
            let mut answers = Vec::new();
            for org in ["acme", "umbrella", hooli.as_str(), "nowhere"] {
                let path = format!("/v1/organizations/{org}/{step}");
                answers.push(call(&server, method, &path, "staff:sara", body.clone()).await);
            }
            assert_eq!(answers[0].0, 403, "{method} {step}: {}", answers[0].1);
            assert!(
                answers.iter().all(|a| *a == answers[0]),
                "{method} {step}: {answers:?}"
            );
        }
        let (_, listed) = call(
            &server,
            "GET",
            "/v1/organizations",
            "staff:sara",
            Value::Null,
        )
        .await;
        assert_eq!(listed["organizations"], json!([]));
        // The whole trail shows Sara no entry of acme or Hooli; Sam sees the
        // block he made.
        let orgs = |trail: &Value| -> Vec<String> {
            trail["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["organization_id"].as_str().map(String::from))
                .collect()
        };
        let (status, trail) = call(
            &server,
            "GET",
            "/v1/audit?limit=100",
            "staff:sara",
            Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{trail}");
        assert!(orgs(&trail).is_empty(), "{trail}");
        let (_, trail) = call(
            &server,
            "GET",
            "/v1/audit?limit=100",
            "staff:sam",
            Value::Null,
        )
        .await;
        assert!(orgs(&trail).contains(&"acme".to_string()), "{trail}");
        let (status, _) = call(
            &server,
            "GET",
            "/v1/organizations/acme/audit",
            "staff:sara",
            Value::Null,
        )
        .await;
        assert_eq!(status, 403);
        let (_, assigned) = call(&server, "GET", &staff_path, "staff:sam", Value::Null).await;
        assert_eq!(assigned["staff"].as_array().unwrap().len(), 1, "{assigned}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn another_organizations_admin_gets_one_answer_for_every_user_operation() {
        let server = Server::start(None).await;
        let ops: &[(&str, &str, fn(u64) -> Value)] = &[
            ("POST", "revoke", |v| json!({ "version": v })),
            ("POST", "reinstate", |v| json!({ "version": v })),
            ("POST", "remove", |v| json!({ "version": v })),
            ("POST", "reinvite", |v| json!({ "version": v })),
            (
                "PATCH",
                "",
                |v| json!({ "version": v, "spending_limit": 1 }),
            ),
            (
                "PATCH",
                "",
                |v| json!({ "version": v, "email": "new@acme.test" }),
            ),
            ("PATCH", "", |v| json!({ "version": v, "is_admin": false })),
        ];
        for (method, step, body) in ops {
            let mut answers = Vec::new();
            for (person, version) in TARGETS {
                let path = if step.is_empty() {
                    format!("/v1/users/{person}")
                } else {
                    format!("/v1/users/{person}/{step}")
                };
                let (status, reply) =
                    call(&server, method, &path, "customer:gina", body(*version)).await;
                answers.push((status, reply));
            }
            let (status, first) = &answers[0];
            assert_eq!(*status, 403, "{method} {step}: {first}");
            assert_eq!(first["code"], "denied");
            assert_eq!(first["policies"], json!([]));
            for (i, answer) in answers.iter().enumerate() {
                assert_eq!(answer, &answers[0], "{method} {step} on {:?}", TARGETS[i]);
            }

            let targets: Vec<Value> = TARGETS
                .iter()
                .map(|(p, v)| json!({ "person_id": p, "version": v }))
                .collect();
            if !step.is_empty() {
                let (status, reply) = call(
                    &server,
                    "POST",
                    "/v1/users/bulk",
                    "customer:gina",
                    json!({ "action": step, "targets": targets }),
                )
                .await;
                assert_eq!(status, 200, "{reply}");
                let results = reply["results"].as_array().unwrap();
                assert_eq!(results.len(), TARGETS.len());
                for (i, result) in results.iter().enumerate() {
                    assert_eq!(
                        result["error"],
                        first.clone(),
                        "bulk {step} on {:?}",
                        TARGETS[i]
                    );
                }
            }
        }
        // The same requests from acme's own administrator do tell: the
        // answers above are hidden, not absent.
        let (status, _) = call(
            &server,
            "POST",
            "/v1/users/bob/revoke",
            "customer:alice",
            json!({"version": 99}),
        )
        .await;
        assert_eq!(status, 409);
        let (status, _) = call(
            &server,
            "POST",
            "/v1/users/rita/revoke",
            "customer:alice",
            json!({"version": 1}),
        )
        .await;
        assert_eq!(status, 422);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn another_organizations_admin_learns_nothing_about_organizations() {
        let server = Server::start(None).await;
        let mut answers = Vec::new();
        for org in ["acme", "initech", "no-such-org"] {
            let add = call(
                &server,
                "POST",
                &format!("/v1/organizations/{org}/users"),
                "customer:gina",
                json!({"email": "bob@acme.test", "name": "B"}),
            )
            .await;
            let bulk = call(
                &server,
                "POST",
                &format!("/v1/organizations/{org}/users/bulk"),
                "customer:gina",
                json!({"users": [{"email": "bob@acme.test", "name": "B"}, {"email": "bad", "name": "B"}]}),
            )
            .await;
            let list = call(
                &server,
                "GET",
                &format!("/v1/organizations/{org}/users"),
                "customer:gina",
                Value::Null,
            )
            .await;
            let audit = call(
                &server,
                "GET",
                &format!("/v1/organizations/{org}/audit"),
                "customer:gina",
                Value::Null,
            )
            .await;
            for (status, reply) in [&add, &list, &audit] {
                assert_eq!(*status, 403, "{org}: {reply}");
            }
            answers.push((add, bulk, list, audit));
        }
        assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn bulk_calls_are_bounded_in_the_plugin() {
        let gate = common::gate().await;
        use partnergate::Error;
        use partnergate::model::{BulkAction, Target};
        let none = gate
            .bulk_change("customer:alice", BulkAction::Revoke, Vec::new())
            .await;
        assert!(
            matches!(none, Err(Error::InvalidRequest(ref m)) if m.contains("1 to 1000")),
            "{none:?}"
        );
        let many: Vec<Target> = (0..1001)
            .map(|i| Target {
                person_id: format!("p{i}"),
                organization_id: None,
                version: 1,
            })
            .collect();
        let over = gate
            .bulk_change("customer:alice", BulkAction::Revoke, many)
            .await;
        assert!(
            matches!(over, Err(Error::InvalidRequest(ref m)) if m.contains("not 1001")),
            "{over:?}"
        );
        let over = gate.bulk_add("customer:alice", "acme", Vec::new()).await;
        assert!(matches!(over, Err(Error::InvalidRequest(_))), "{over:?}");
    }
}

/// Mismatches between the server and its OpenAPI document that a
/// schemathesis run found, each pinned on its own.
mod conformance {
    use super::*;

    async fn send(req: reqwest::RequestBuilder) -> (u16, String, Value) {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            status,
            content_type,
            res.json().await.unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn a_body_over_the_limit_gets_413_in_the_api_error_shape() {
        let server = Server::start(None).await;
        let big = format!(
            "{{\"users\": [], \"pad\": \"{}\"}}",
            "x".repeat(20 * 1024 * 1024)
        );
        let (status, content_type, body) = send(
            reqwest::Client::new()
                .post(server.url("/v1/organizations/acme/users/bulk"))
                .header("X-PartnerGate-Actor", "customer:alice")
                .header("content-type", "application/json")
                .body(big),
        )
        .await;
        assert_eq!(status, 413, "{body}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert_eq!(body["code"], "body_too_large");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&partnergate::server::MAX_BODY_BYTES.to_string())
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn query_string_errors_are_400_in_the_api_error_shape() {
        let server = Server::start(None).await;
        let client = reqwest::Client::new();
        for (path, actor) in [
            ("/v1/onboarding?status=null", "staff:sam"),
            ("/v1/organizations/acme/users?limit=many", "customer:alice"),
            ("/v1/organizations/acme/users?unknown=1", "customer:alice"),
            ("/v1/organizations/acme/users?limit=0", "customer:alice"),
            (
                "/v1/organizations/acme/users?cursor=not-a-cursor",
                "customer:alice",
            ),
            (
                "/v1/organizations/acme/audit?cursor=not-a-cursor",
                "customer:alice",
            ),
        ] {
            let (status, content_type, body) = send(
                client
                    .get(server.url(path))
                    .header("X-PartnerGate-Actor", actor),
            )
            .await;
            assert_eq!(status, 400, "{path}: {body}");
            assert!(
                content_type.starts_with("application/json"),
                "{path}: {content_type}"
            );
            assert_eq!(body["code"], "invalid_request", "{path}");
            if path.starts_with("/v1/onboarding") {
                assert_eq!(
                    body["message"],
                    "unknown onboarding status `null`: use pending, approved, rejected or all"
                );
            }
        }
        server.shutdown().await;
    }

    /// Issue #23 item 7: `{"orderTotal":60000,"orderTotal":1}` was `allow`
    /// for bob (limit 50,000), the last key winning, while a gateway that
    /// reads the first would see another total. Every body refuses a key
    /// named twice.
    #[tokio::test]
    async fn a_body_that_names_a_key_twice_is_refused_everywhere() {
        let server = Server::start(None).await;
        let client = reqwest::Client::new();
        let raw = |path: &str, body: &'static str| {
            client
                .post(server.url(path))
                .header("content-type", "application/json")
                .header("x-partnergate-actor", "customer:alice")
                .body(body)
        };
        let (status, _, body) = send(raw(
            "/v1/authorize",
            r#"{"principal": "customer:bob", "action": "placeOrder", "resource": "store:main",
                "context": {"orderTotal": 60000, "orderTotal": 1}}"#,
        ))
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], "invalid_request");
        assert_eq!(body["decision"], "deny");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("`orderTotal` appears twice"),
            "{body}"
        );
        let (status, _, body) = send(raw(
            "/v1/authorize",
            r#"{"principal": "customer:carol", "principal": "customer:bob", "action": "browse", "resource": "store:main"}"#,
        ))
        .await;
        assert_eq!(status, 400, "{body}");
        let (status, _, body) = send(raw(
            "/v1/organizations/acme/users",
            r#"{"email": "dup@acme.test", "name": "A", "name": "B"}"#,
        ))
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("appears twice"),
            "{body}"
        );
        // The same total once is decided as before.
        let (status, _, body) = send(raw(
            "/v1/authorize",
            r#"{"principal": "customer:bob", "action": "placeOrder", "resource": "store:main",
                "context": {"orderTotal": 60000}}"#,
        ))
        .await;
        assert_eq!(
            (status, body["decision"].as_str()),
            (200, Some("deny")),
            "{body}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn authorize_refuses_unknown_fields_like_every_other_endpoint() {
        let server = Server::start(None).await;
        let (status, _, body) = send(reqwest::Client::new().post(server.url("/v1/authorize")).json(
            &json!({"principal": "customer:bob", "action": "browse", "resource": "store:main", "extra": 1}),
        ))
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["decision"], "deny");
        assert!(
            body["message"].as_str().unwrap().contains("extra"),
            "{body}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn approve_takes_an_empty_json_body() {
        let server = Server::start(None).await;
        let client = reqwest::Client::new();
        let (status, _, request) = send(client.post(server.url("/v1/onboarding")).json(&json!({
            "organization_name": "Hooli", "requester_name": "Gavin", "requester_email": "gavin@hooli.test"
        })))
        .await;
        assert_eq!(status, 201, "{request}");
        let id = request["id"].as_str().unwrap();
        let (status, _, body) = send(
            client
                .post(server.url(&format!("/v1/onboarding/{id}/approve")))
                .header("X-PartnerGate-Actor", "staff:sam")
                .header("content-type", "application/json"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "approved");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn whole_numbers_with_a_zero_fraction_are_integers() {
        let server = Server::start(None).await;
        let (status, _, body) = send(
            reqwest::Client::new()
                .post(server.url("/v1/organizations/acme/users"))
                .header("X-PartnerGate-Actor", "customer:alice")
                .header("content-type", "application/json")
                .body(r#"{"email": "whole@acme.test", "name": "W", "spending_limit": 6230.0}"#),
        )
        .await;
        assert_eq!(
            (status, &body["spending_limit"]),
            (201, &json!(6230)),
            "{body}"
        );
        server.shutdown().await;
    }
}

/// Organizations acme and globex; dana buys for acme (limit 10,000) and
/// administers globex (limit 90,000); alice administers acme, gina globex;
/// bob buys for acme only.
const TWO_ORGANIZATIONS: &str = r#"{
  "organizations": [
    { "id": "acme", "name": "Acme", "status": "approved" },
    { "id": "globex", "name": "Globex", "status": "approved" }
  ],
  "people": [
    { "id": "alice", "email": "alice@acme.test", "name": "Alice", "organization": "acme", "admin": true },
    { "id": "gina", "email": "gina@globex.test", "name": "Gina", "organization": "globex", "admin": true },
    { "id": "bob", "email": "bob@acme.test", "name": "Bob", "organization": "acme", "roles": ["buyer"], "spending_limit": 10000 },
    { "id": "dana", "email": "dana@example.test", "name": "Dana", "memberships": [
      { "organization": "acme", "roles": ["buyer"], "spending_limit": 10000 },
      { "organization": "globex", "admin": true, "roles": ["buyer"], "spending_limit": 90000 }
    ] }
  ]
}"#;

async fn two_organizations() -> (Server, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed.json");
    std::fs::write(&seed, TWO_ORGANIZATIONS).unwrap();
    (Server::start_seeded(None, &seed).await, tmp)
}

/// `POST /v1/authorize` for a person active in two organizations: without
/// an organization, 400 naming the problem and neither organization; with
/// one, decided on that membership's limit. A person with one membership
/// needs none.
#[tokio::test]
async fn authorize_needs_the_organization_of_a_person_active_in_several() {
    let (server, _seed) = two_organizations().await;
    let client = reqwest::Client::new();
    let order = |principal: &str, organization: Option<&str>| {
        let mut body = json!({"principal": principal, "action": "placeOrder",
            "resource": "store:main", "context": {"orderTotal": 20000}});
        if let Some(org) = organization {
            body["organization"] = json!(org);
        }
        let request = client.post(server.url("/v1/authorize")).json(&body);
        async move {
            let res = request.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = order("customer:dana", None).await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("more than one organization"), "{text}");
    assert!(!text.contains("acme") && !text.contains("globex"), "{text}");
    let (status, body) = order("customer:dana", Some("acme")).await;
    assert_eq!(
        (status, body["decision"].as_str()),
        (200, Some("deny")),
        "{body}"
    );
    let (status, body) = order("customer:dana", Some("globex")).await;
    assert_eq!(
        (status, body["decision"].as_str()),
        (200, Some("allow")),
        "{body}"
    );
    // Repeated, the answers stay apart by organization.
    let (_, body) = order("customer:dana", Some("acme")).await;
    assert_eq!(body["decision"], "deny");
    let (status, body) = order("customer:bob", None).await;
    assert_eq!(
        (status, body["decision"].as_str()),
        (200, Some("deny")),
        "over bob's limit: {body}"
    );
    server.shutdown().await;
}

/// The membership routes: an administrator acts on a person's membership
/// in their own organization only (the confused deputy gets 403 or 404),
/// sees nothing of the person's other organizations, and revoking one
/// membership leaves the other active.
#[tokio::test]
async fn membership_routes_act_on_one_organization_only() {
    let (server, _seed) = two_organizations().await;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, actor: &str, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, server.url(path))
            .header("x-partnergate-actor", actor);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let res = request.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method;
    let (status, body) = call(
        Method::GET,
        "customer:alice",
        "/v1/organizations/acme/users/dana",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.to_string().contains("globex"),
        "nothing of her other organization: {body}"
    );
    // Alice on dana's globex membership: not hers to see or change.
    let (status, _) = call(
        Method::GET,
        "customer:alice",
        "/v1/organizations/globex/users/dana",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(
        Method::POST,
        "customer:alice",
        "/v1/organizations/globex/users/dana/revoke",
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Dana, pinned to acme (a session there), cannot use her globex rights.
    let (status, body) = call(
        Method::POST,
        "customer:dana@acme",
        "/v1/organizations/globex/users/gina/revoke",
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Alice revokes dana in acme; globex stays active.
    let (status, body) = call(
        Method::POST,
        "customer:alice",
        "/v1/organizations/acme/users/dana/revoke",
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("revoked")),
        "{body}"
    );
    let decide = |org: &str| {
        let body = json!({"principal": "customer:dana", "action": "browse", "resource": "store:main", "organization": org});
        let request = client.post(server.url("/v1/authorize")).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["decision"].clone() }
    };
    assert_eq!(decide("acme").await, "deny");
    assert_eq!(decide("globex").await, "allow");
    // Her only active membership now: no organization needed.
    let body = json!({"principal": "customer:dana", "action": "browse", "resource": "store:main"});
    let res = client
        .post(server.url("/v1/authorize"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["decision"], "allow");
    // Gina edits dana's globex membership through the membership route;
    // the person route still works for bob's only membership.
    let (status, body) = call(
        Method::PATCH,
        "customer:gina",
        "/v1/organizations/globex/users/dana",
        Some(json!({"version": 1, "spending_limit": 1000})),
    )
    .await;
    assert_eq!(
        (status, body["spending_limit"].as_u64()),
        (200, Some(1000)),
        "{body}"
    );
    let (status, body) = call(
        Method::PATCH,
        "customer:alice",
        "/v1/users/bob",
        Some(json!({"version": 1, "roles": ["buyer", "approver"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Bulk calls name the organization of each membership.
    let (status, body) = call(
        Method::POST,
        "customer:alice",
        "/v1/users/bulk",
        Some(json!({"action": "reinstate", "targets": [{"person_id": "dana", "organization_id": "acme", "version": 2}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["ok"]["status"], "active", "{body}");
    server.shutdown().await;
}
