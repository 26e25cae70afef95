//! `partnergate serve`'s HTTP API on a real socket.

use super::common;

use std::net::SocketAddr;

use partnergate::server;
use serde_json::{Value, json};
use tokio::sync::oneshot;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(token: Option<&str>) -> Self {
        let gate = common::gate().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            listener,
            gate,
            token.map(String::from),
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            stop: Some(stop),
            task,
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
    let res = client
        .post(server.url("/v1/authorize"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .post(server.url("/v1/authorize"))
        .bearer_auth("wrong")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .post(server.url("/v1/authorize"))
        .bearer_auth("s3cret")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
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
        assert_eq!(status, 404, "{body}");

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
        assert_eq!(status, 422);

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
