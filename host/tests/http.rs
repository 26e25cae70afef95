//! `partnergate serve`'s HTTP API on a real socket.

mod common;

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
        let task = tokio::spawn(server::serve(listener, gate, token.map(String::from), async {
            let _ = stopped.await;
        }));
        Self { addr, stop: Some(stop), task }
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
    let request = json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"});
    let res = client.post(server.url("/v1/authorize")).json(&request).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = client.post(server.url("/v1/authorize")).bearer_auth("wrong").json(&request).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = client.post(server.url("/v1/authorize")).bearer_auth("s3cret").json(&request).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Health stays open for probes.
    assert_eq!(client.get(server.url("/v1/health")).send().await.unwrap().status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn health_reports_the_policy_set_in_use() {
    let server = Server::start(None).await;
    let body: Value = reqwest::get(server.url("/v1/health")).await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["policy"]["version"].as_str().unwrap().len(), 16);
    assert!(body["policy"]["policies"].as_u64().unwrap() >= 8);
    server.shutdown().await;
}

#[tokio::test]
async fn openapi_document_describes_every_route_served() {
    let server = Server::start(None).await;
    let doc: Value = reqwest::get(server.url("/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in server::ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
        // And the route really is served (not the 404 fallback).
        let res = reqwest::Client::new().request(method.to_uppercase().parse().unwrap(), server.url(path)).send().await.unwrap();
        assert_ne!(res.status(), 404, "{method} {path}");
    }
    let documented = doc["paths"].as_object().unwrap().len();
    assert_eq!(documented, server::ROUTES.iter().map(|(_, p)| p).collect::<std::collections::HashSet<_>>().len());
    let res = reqwest::get(server.url("/v1/nothing-here")).await.unwrap();
    assert_eq!(res.status(), 404);
    server.shutdown().await;
}
