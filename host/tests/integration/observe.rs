//! What operators see of a running `partnergate serve`: shadow evaluation
//! of a candidate policy set, `/metrics` (parsed with the Prometheus
//! client's own text parser), and the sampled decision log.

use super::common;

use std::path::{Path, PathBuf};

use partnergate::config::ServeOptions;
use partnergate::policies::PolicySource;
use partnergate_testkit::policies_dir;
use serde_json::{Value, json};

const TOKEN: &str = "observe-test-token";

/// The default policies with the organization administrators' policy
/// tightened to approvers: a candidate that disagrees on admin requests.
fn tightened() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("candidate");
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(policies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let users = std::fs::read_to_string(dir.join("users.cedar")).unwrap();
    let tightened = users.replacen(
        "  resource in principal.organization\n};",
        "  resource in principal.organization &&\n  principal.roles.contains(\"approver\")\n};",
        1,
    );
    assert_ne!(users, tightened);
    std::fs::write(dir.join("users.cedar"), tightened).unwrap();
    (tmp, dir)
}

#[tokio::test]
async fn shadow_disagreements_are_counted_and_never_change_the_answer() {
    let (_tmp, candidate) = tightened();
    let gate = common::builder()
        .await
        .shadow_policies(PolicySource::Dir(candidate))
        .build()
        .await
        .unwrap();
    // The set in use allows; the candidate would deny.
    let admin = common::decide(&gate, "customer:alice", "addUser", "organization:acme").await;
    assert!(admin.is_allowed(), "the answer is the set in use's");
    // Both allow; both deny.
    assert!(
        common::decide(&gate, "customer:bob", "browse", "store:main")
            .await
            .is_allowed()
    );
    assert!(
        !common::decide(&gate, "customer:rita", "browse", "store:main")
            .await
            .is_allowed()
    );
    let mut report = gate.shadow_report().unwrap();
    for _ in 0..500 {
        if report.agree + report.disagree + report.failed == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        report = gate.shadow_report().unwrap();
    }
    assert_eq!((report.agree, report.disagree, report.failed), (2, 1, 0));
    assert!(report.source.contains("candidate"), "{report:?}");
    assert_ne!(report.version, gate.policy_summary().version);
    // Without a shadow set there is no report.
    assert!(common::gate().await.shadow_report().is_none());
}

/// `partnergate serve` with `extra` flags, on port 0.
struct Served {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _outbox: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(extra: &[String]) -> Served {
    let outbox = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec![
        "--database".into(),
        ":memory:".into(),
        "--directory-seed".into(),
        policies_dir().join("directory.json").display().to_string(),
        "--cache-dir".into(),
        common::artifact_dir().display().to_string(),
        "--outbox-file".into(),
        outbox.path().join("outbox.jsonl").display().to_string(),
        "--service-token".into(),
        TOKEN.into(),
    ];
    args.extend_from_slice(extra);
    let config = ServeOptions::from_args(args).expect("serve options");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(partnergate::app::run(listener, config, async {
        let _ = stopped.await;
    }));
    // Until healthy: the first start compiles the component, long on
    // loaded cores.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        if reqwest::get(format!("{base}/v1/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(!task.is_finished(), "serve stopped at start");
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not become healthy within 180 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Served {
        base,
        stop: Some(stop),
        _outbox: outbox,
    }
}

async fn authorize(base: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/v1/authorize"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The samples of a Prometheus text exposition, as Python's
/// `prometheus_client.parser` reads them: `[name, labels, value]`.
fn parse_prometheus(text: &str, dir: &Path) -> Vec<(String, Value, f64)> {
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys\n\
             from prometheus_client.parser import text_string_to_metric_families\n\
             samples = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(open(sys.argv[1]).read()) for s in f.samples]\n\
             print(json.dumps(samples))",
        )
        .arg(&file)
        .output()
        .expect("python3 (scripts/test.sh installs prometheus-client)");
    assert!(
        out.status.success(),
        "the exposition does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, Value, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    samples
}

fn sample(samples: &[(String, Value, f64)], name: &str, labels: Value) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| l.get(k) == Some(v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn metrics_parse_with_a_prometheus_text_parser_and_count_what_happened() {
    let tmp = tempfile::tempdir().unwrap();
    let (_candidate_dir, candidate) = tightened();
    let served = serve(&["--shadow-policies".into(), candidate.display().to_string()]).await;
    let base = &served.base;
    authorize(
        base,
        json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"}),
    )
    .await;
    authorize(base, json!({"principal": "customer:bob", "action": "placeOrder", "resource": "store:main", "context": {"orderTotal": 70000}})).await;
    authorize(base, json!({"principal": "customer:alice", "action": "addUser", "resource": "organization:acme"})).await;
    let client = reqwest::Client::new();
    let reload = client
        .post(format!("{base}/v1/policies/reload"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    // The shadow report over HTTP.
    let mut shadow = Value::Null;
    for _ in 0..500 {
        shadow = client
            .get(format!("{base}/v1/shadow"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if shadow["agree"].as_u64().unwrap() + shadow["disagree"].as_u64().unwrap() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        (shadow["agree"].as_u64(), shadow["disagree"].as_u64()),
        (Some(2), Some(1)),
        "{shadow}"
    );
    // Metrics need the token like the rest of the operator's endpoints.
    let refused = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(refused.status(), 401);
    let res = client
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parse_prometheus(&res.text().await.unwrap(), tmp.path());
    assert_eq!(
        sample(
            &samples,
            "partnergate_decisions_total",
            json!({"effect": "allow"})
        ),
        2.0
    );
    assert_eq!(
        sample(
            &samples,
            "partnergate_decisions_total",
            json!({"effect": "deny"})
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "partnergate_decision_policies_total",
            json!({"policy": "order-within-spending-limit", "effect": "deny"})
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "partnergate_decision_duration_seconds_count",
            json!({})
        ),
        3.0
    );
    assert!(
        sample(
            &samples,
            "partnergate_decision_duration_seconds_bucket",
            json!({"le": "+Inf"})
        ) >= 3.0
    );
    assert_eq!(
        sample(
            &samples,
            "partnergate_policy_reloads_total",
            json!({"outcome": "applied"})
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "partnergate_shadow_decisions_total",
            json!({"outcome": "disagree"})
        ),
        1.0
    );
    assert!(
        sample(
            &samples,
            "partnergate_cache_lookups_total",
            json!({"tier": "memory"})
        ) >= 1.0
    );
    assert!(sample(&samples, "partnergate_pool_idle_instances", json!({})) >= 1.0);
    // No call here finds the pool without a warm instance (starting loads
    // the set into one): the counter is exported, and access.rs counts it.
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n == "partnergate_pool_instantiations_total"),
        "the instantiations are exported"
    );
    assert!(
        samples
            .iter()
            .any(|(n, _, v)| n == "partnergate_decision_log_dropped_total" && *v == 0.0),
        "the decision log's dropped lines are exported"
    );
}

#[tokio::test]
async fn the_decision_log_writes_a_sampled_json_line_per_decision_and_no_token() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("decisions.jsonl");
    let served = serve(&[
        "--decision-log".into(),
        log.display().to_string(),
        "--decision-log-sample".into(),
        "0.5".into(),
    ])
    .await;
    for total in [100, 60000, 200, 70000] {
        authorize(
            &served.base,
            json!({"principal": "customer:bob", "action": "placeOrder", "resource": "store:main", "context": {"orderTotal": total}}),
        )
        .await;
    }
    // The log is written by a thread of its own: wait for the two lines.
    let mut text = String::new();
    for _ in 0..500 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!text.contains(TOKEN), "never the service token");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "half of four: {text}");
    let first = &lines[0];
    assert_eq!(first["principal"], "customer:bob");
    assert_eq!(first["action"], "placeOrder");
    assert_eq!(first["context"]["orderTotal"], 100);
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["policies"], json!(["active-member-orders"]));
    assert!(first["latency_us"].as_u64().is_some());
    assert_eq!(first["policy_set"].as_str().unwrap().len(), 16);
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["context"]["orderTotal"], 200);
    // A share outside 0..1 is refused at start.
    let config = ServeOptions::from_args([
        "--decision-log",
        "-",
        "--decision-log-sample",
        "1.5",
        "--database",
        ":memory:",
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = partnergate::app::run(listener, config, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("--decision-log-sample"), "{err}");
}

/// A counter's value in the gate's metrics.
fn counter(gate: &partnergate::PartnerGate, name: &str) -> f64 {
    gate.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no `{name}`"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_reload_warms_instances_on_the_new_set_so_no_call_after_it_loads_one() {
    let (_tmp, dir) = tightened();
    let gate = common::builder()
        .await
        .policies(PolicySource::Dir(dir.clone()))
        .build()
        .await
        .unwrap();
    common::warm(&gate, 3).await;
    let alive = gate.idle_instances();
    let before = gate.policy_summary().version;
    let prepared = counter(&gate, "partnergate_pool_prepared_loads_total");
    let store = dir.join("store.cedar");
    let text = std::fs::read_to_string(&store).unwrap();
    std::fs::write(&store, text + "\n// a new version\n").unwrap();
    gate.reload_policies().await.unwrap();
    assert_ne!(gate.policy_summary().version, before);
    assert_eq!(
        gate.idle_instances(),
        alive,
        "as many warm instances as before"
    );
    assert_eq!(
        counter(&gate, "partnergate_pool_prepared_loads_total") - prepared,
        (alive - 1) as f64,
        "one instance loads the files, the others the set it prepared"
    );
    let loads = counter(&gate, "partnergate_pool_late_loads_total");
    let made = counter(&gate, "partnergate_pool_instantiations_total");
    let calls: Vec<_> = (0..alive)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move {
                common::decide(&gate, "customer:bob", "browse", "store:main").await
            })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().is_allowed());
    }
    assert_eq!(
        counter(&gate, "partnergate_pool_late_loads_total"),
        loads,
        "no call after the switch loads the set"
    );
    assert_eq!(
        counter(&gate, "partnergate_pool_instantiations_total"),
        made,
        "nor meets a fresh instance"
    );
}

#[tokio::test]
async fn metrics_count_redis_cache_lookups_by_tier() {
    let tmp = tempfile::tempdir().unwrap();
    let redis = common::RedisServer::start();
    let served = serve(&["--redis-url".into(), redis.url()]).await;
    let browse = json!({"principal": "customer:bob", "action": "browse", "resource": "store:main"});
    for _ in 0..3 {
        assert_eq!(
            authorize(&served.base, browse.clone()).await["decision"],
            "allow"
        );
    }
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", served.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = parse_prometheus(&text, tmp.path());
    let lookups = |tier: &str, result: &str| {
        sample(
            &samples,
            "partnergate_cache_lookups_total",
            json!({"tier": tier, "result": result}),
        )
    };
    assert!(
        lookups("redis", "miss") >= 1.0,
        "the first read misses: {text}"
    );
    assert!(
        lookups("first-level", "hit") >= 1.0,
        "later reads hit the first level: {text}"
    );
    assert_eq!(lookups("memory", "hit") + lookups("memory", "miss"), 0.0);
}
