//! Load never turns into a policy answer, and a starting or degraded server
//! says so: `partnergate serve` ([`partnergate::app::run`]) on port 0.

use super::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use partnergate::config::ServeOptions;
use partnergate::{AuthorizeRequest, Error};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// `serve` on an in-memory copy of the sample records with `extra` flags.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
    _outbox: tempfile::TempDir,
}

fn options(extra: &[&str], outbox: &std::path::Path) -> ServeOptions {
    let seed = common::policies_dir().join("directory.json");
    let mut args: Vec<String> = vec![
        "--database".into(),
        ":memory:".into(),
        "--directory-seed".into(),
        seed.display().to_string(),
        "--outbox-file".into(),
        outbox.join("outbox.jsonl").display().to_string(),
    ];
    if !extra.contains(&"--cache-dir") {
        args.extend([
            "--cache-dir".into(),
            common::artifact_dir().display().to_string(),
        ]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    ServeOptions::from_args(args).expect("serve options")
}

impl Server {
    /// Starts the server without waiting for it to be ready.
    async fn spawn(extra: &[&str]) -> Self {
        let outbox = tempfile::tempdir().unwrap();
        let config = options(extra, outbox.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(partnergate::app::run(listener, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            _outbox: outbox,
        }
    }

    /// Starts the server and waits until health answers 200.
    async fn start(extra: &[&str]) -> Self {
        let server = Self::spawn(extra).await;
        server.ready(Duration::from_secs(120)).await;
        server
    }

    async fn ready(&self, within: Duration) {
        let health = self.url("/v1/health");
        let until = Instant::now() + within;
        while Instant::now() < until {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(!self.task.is_finished(), "the app stopped at start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server did not become ready within {within:?}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.task.await;
    }
}

/// The value of the metric line starting with `name` (no labels).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no metric `{name}` in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A server with a 1 ms call deadline and one instance, sent far more new
/// orders at once than it can decide in time: every answer is a policy
/// decision (the right one for that order) or a 503 `decision_unavailable`
/// with `Retry-After`, never a denial made of a failure, and the failure
/// counter counts exactly the 503s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_server_answers_a_decision_or_503_never_a_denial_it_did_not_decide() {
    let server = Server::start(&[
        "--call-timeout-ms",
        "1",
        "--max-instances",
        "1",
        "--reuse-decisions",
        "0",
    ])
    .await;
    let client = reqwest::Client::new();
    let url = server.url("/v1/authorize");
    let decided = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..48u64 {
        let (client, url) = (client.clone(), url.clone());
        let (decided, unavailable) = (decided.clone(), unavailable.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..40u64 {
                // bob's limit is 50,000: every order has its own total, half
                // of them over it.
                let total = if (c + i) % 2 == 0 {
                    1 + c * 100 + i
                } else {
                    60_000 + c * 100 + i
                };
                let body = json!({
                    "principal": "customer:bob",
                    "action": "placeOrder",
                    "resource": "store:main",
                    "context": {"orderTotal": total},
                });
                let res = client.post(&url).json(&body).send().await.unwrap();
                let status = res.status();
                let retry_after = res.headers().get("retry-after").cloned();
                let answer: Value = res.json().await.unwrap();
                match status.as_u16() {
                    200 => {
                        let expected = if total <= 50_000 { "allow" } else { "deny" };
                        assert_eq!(answer["decision"], expected, "order of {total}: {answer}");
                        decided.fetch_add(1, Ordering::Relaxed);
                    }
                    503 => {
                        assert_eq!(answer["code"], "decision_unavailable", "{answer}");
                        assert!(answer.get("decision").is_none(), "{answer}");
                        assert!(
                            ["deadline", "busy"].contains(&answer["reason"].as_str().unwrap()),
                            "{answer}"
                        );
                        assert_eq!(retry_after.unwrap(), "1");
                        unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("status {other}: {answer}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (decided, unavailable) = (
        decided.load(Ordering::Relaxed),
        unavailable.load(Ordering::Relaxed),
    );
    assert_eq!(decided + unavailable, 48 * 40);
    assert!(unavailable > 0, "the server was never overloaded");
    assert!(decided > 0, "the server decided nothing");
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&metrics, "partnergate_decision_failures_total"),
        unavailable as u64,
        "{metrics}"
    );
    server.stop().await;
}

/// The library says the same with an error, not a decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_returns_an_error_not_a_decision_when_no_instance_comes_free() {
    let gate = common::builder()
        .await
        .limits(partnergate::Limits {
            call_timeout: Duration::from_millis(1),
            max_instances: 1,
            reuse_decisions: 0,
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    // All at once (a barrier): spawned one by one, calls that got faster
    // could drain the queue as fast as they came, and none would wait. A
    // thousand: with faster calls, 200 queued could all start within the
    // 1 ms deadline and none be refused.
    const CALLS: usize = 1_000;
    let mut calls = Vec::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CALLS));
    for i in 0..CALLS as u64 {
        let gate = gate.clone();
        let start = start.clone();
        calls.push(tokio::spawn(async move {
            let request = AuthorizeRequest::new("customer:bob", "placeOrder", "store:main")
                .with_context(json!({"orderTotal": 100 + i}));
            start.wait().await;
            gate.authorize(&request).await
        }));
    }
    let mut failed = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(decision) => assert!(decision.is_allowed(), "{decision:?}"),
            Err(err) => {
                assert!(err.is_decision_unavailable(), "{err}");
                failed += 1;
            }
        }
    }
    assert!(failed > 0, "no call was refused");
    assert!(
        gate.metrics()
            .contains(&format!("partnergate_decision_failures_total {failed}")),
        "{}",
        gate.metrics()
    );
}

/// While the plugin compiles (an empty artifact cache), a request is
/// answered 503 `starting` at once; then the same address serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_still_compiling_answers_503_starting_at_once() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    let server = Server::spawn(&["--cache-dir", &dir]).await;
    let client = reqwest::Client::new();
    let asked = Instant::now();
    let res = client
        .post(server.url("/v1/authorize"))
        .json(&json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"}))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("answered while compiling");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "starting", "{body}");
    server.ready(Duration::from_secs(120)).await;
    let res = client
        .post(server.url("/v1/authorize"))
        .json(&json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["decision"], "allow");
    server.stop().await;
}

/// A decision budget of 8 ms does not stop the policy set from loading (it
/// has a budget of its own), and a load budget too small says in one line
/// what to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_the_policy_set_has_its_own_deadline() {
    let server = Server::start(&["--call-timeout-ms", "8"]).await;
    let res = reqwest::Client::new()
        .post(server.url("/v1/authorize"))
        .json(&json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await;

    let outbox = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = options(&["--policy-load-timeout-ms", "1"], outbox.path());
    let err = partnergate::app::run(listener, config, std::future::pending())
        .await
        .expect_err("a 1 ms load budget cannot load the set");
    let message = err.to_string();
    assert!(message.contains("--policy-load-timeout-ms"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

/// `/v1/health` names what is degraded: here the shared cache, whose Redis
/// was stopped, and the change log that could not be retired into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_what_is_degraded() {
    let mut redis = common::RedisServer::start();
    let url = redis.url();
    let server = Server::start(&["--redis-url", &url]).await;
    let health = || async {
        reqwest::get(server.url("/v1/health"))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let ok = health().await;
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(ok["problems"], json!([]), "{ok}");
    redis.stop();
    let until = Instant::now() + Duration::from_secs(10);
    let degraded = loop {
        let now = health().await;
        if now["status"] == "degraded" && now["checks"]["cache"]["ok"] == false {
            break now;
        }
        assert!(Instant::now() < until, "still {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(degraded["checks"]["directory"]["ok"], true, "{degraded}");
    let problems = degraded["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("Redis") || p.as_str().unwrap().contains("redis")),
        "{degraded}"
    );
    redis.restart();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let now = health().await;
        if now["status"] == "ok" {
            break;
        }
        assert!(Instant::now() < until, "still {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
