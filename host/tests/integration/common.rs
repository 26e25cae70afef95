//! Helpers shared by the host's integration tests: every test loads the real
//! plugin component built by `build.rs`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use partnergate::cache::redis::{RedisCache, RedisCacheConfig};
use partnergate::clock::Clock;
use partnergate::directory::Directory;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::{AuthorizeRequest, Builder, Decision, PartnerGate};

pub use partnergate_testkit::{RedisServer, policies_dir, target, version};

/// A compiled-artifact cache shared by all tests of this build.
pub fn artifact_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("partnergate-artifacts")
}

/// The sample directory beside the default policies, in an in-memory database.
pub async fn sample_directory(clock: &Clock) -> Arc<SqliteDirectory> {
    let seed = Seed::from_file(&policies_dir().join("directory.json")).expect("sample directory");
    let dir = SqliteDirectory::in_memory(clock.clone()).expect("in-memory database");
    seed.load_into(&dir).await.expect("sample directory loads");
    Arc::new(dir)
}

/// The limits of tests that are not about deadlines: a call deadline long
/// enough that a machine busy with other tests never misses it (the default
/// 250 ms is missed when other processes hold both cores).
pub fn limits() -> partnergate::Limits {
    partnergate::Limits {
        call_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// A builder with the sample directory, the shared artifact cache and
/// [`limits`].
pub async fn builder() -> Builder {
    let clock = Clock::system();
    PartnerGate::builder()
        .limits(limits())
        .directory(sample_directory(&clock).await)
        .clock(clock)
        .artifact_cache(artifact_dir())
}

/// A host on the default policies and the sample directory.
pub async fn gate() -> PartnerGate {
    builder().await.build().await.expect("host starts")
}

/// [`gate`], and its directory for a test to read what was stored (the
/// library gives no way around the plugin).
pub async fn gate_and_directory() -> (PartnerGate, Arc<dyn Directory>) {
    let clock = Clock::system();
    let dir: Arc<dyn Directory> = sample_directory(&clock).await;
    let gate = PartnerGate::builder()
        .limits(limits())
        .directory(dir.clone())
        .clock(clock)
        .artifact_cache(artifact_dir())
        .build()
        .await
        .expect("host starts");
    (gate, dir)
}

/// Decides and unwraps.
pub async fn decide(gate: &PartnerGate, principal: &str, action: &str, resource: &str) -> Decision {
    decide_with(gate, principal, action, resource, serde_json::json!({})).await
}

/// Decides with a context and unwraps.
pub async fn decide_with(
    gate: &PartnerGate,
    principal: &str,
    action: &str,
    resource: &str,
    context: serde_json::Value,
) -> Decision {
    let request = AuthorizeRequest::new(principal, action, resource).with_context(context);
    gate.authorize(&request)
        .await
        .unwrap_or_else(|e| panic!("{principal} {action} {resource}: {e}"))
}

/// One node of several: its host, its Redis-backed cache, its connection to
/// the shared SQLite file.
pub struct Node {
    pub gate: PartnerGate,
    pub cache: Arc<RedisCache>,
    pub dir: Arc<SqliteDirectory>,
}

/// A node on the SQLite file `db` and `redis`; `seed` loads the sample records.
pub async fn node(db: &std::path::Path, redis: &RedisServer, seed: bool) -> Node {
    let clock = Clock::system();
    let dir = Arc::new(SqliteDirectory::open(db, clock.clone()).unwrap());
    if seed {
        Seed::from_file(&policies_dir().join("directory.json"))
            .unwrap()
            .load_into(&*dir)
            .await
            .unwrap();
    }
    let cache = Arc::new(
        RedisCache::connect(RedisCacheConfig::new(redis.url()))
            .await
            .unwrap(),
    );
    assert!(
        cache.wait_ready(Duration::from_secs(5)).await,
        "cache connects"
    );
    let gate = PartnerGate::builder()
        .limits(limits())
        .directory(dir.clone())
        .cache(cache.clone())
        .ephemeral(cache.clone())
        .clock(clock)
        .artifact_cache(artifact_dir())
        .build()
        .await
        .unwrap();
    Node { gate, cache, dir }
}

/// Two nodes sharing a new SQLite file and `redis`.
pub async fn two_nodes(redis: &RedisServer) -> (tempfile::TempDir, Node, Node) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("shared.db");
    let a = node(&db, redis, true).await;
    let b = node(&db, redis, false).await;
    (tmp, a, b)
}

/// Grows the pool to at least `n` warm instances, so that concurrent calls
/// in a race test decide at the same time rather than one waiting for an
/// instance.
pub async fn warm(gate: &PartnerGate, n: usize) {
    gate.warm_up(n).await.expect("instances start");
    assert!(gate.idle_instances() >= n, "the pool did not grow to {n}");
}

/// Runs `calls` at once, each on its own task; their results in order.
pub async fn at_once<T: Send + 'static>(
    calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>>,
) -> Vec<T> {
    let tasks: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// A served host with sign-in through a test provider, stopped when
/// dropped.
pub struct Site {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The library the server runs on.
    pub gate: PartnerGate,
    /// Its directory, for reading what was stored.
    pub dir: Arc<dyn Directory>,
    /// The OpenID provider, stopped with the site.
    pub provider: partnergate_testkit::Provider,
    /// Stops the server.
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An active membership of `person` in `organization` (a second one, for a
/// person in several), as a seed would store it.
pub fn membership(person: &str, organization: &str, admin: bool) -> partnergate::model::Membership {
    partnergate::model::Membership {
        organization_id: organization.into(),
        person_id: person.into(),
        status: partnergate::model::AccountStatus::Active,
        previous_status: None,
        is_admin: admin,
        roles: vec!["buyer".into()],
        spending_limit: None,
        invited_at: None,
        version: 1,
    }
}

/// Gives `person` the membership `membership` in `dir`, before any node
/// read them.
pub async fn add_membership(dir: &dyn Directory, membership: partnergate::model::Membership) {
    dir.apply(
        vec![partnergate::model::ChangeOp::PutMembership(
            membership, None,
        )],
        partnergate::directory::seed::Seed::audit(),
    )
    .await
    .unwrap();
}
