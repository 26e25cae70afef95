//! Helpers shared by the host's integration tests: every test loads the real
//! plugin component built by `build.rs`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use partnergate::cache::redis::{RedisCache, RedisCacheConfig};
use partnergate::clock::Clock;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::{AuthorizeRequest, Builder, Decision, PartnerGate};

/// The repository's `policies/` directory.
pub fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

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

/// A builder with the sample directory and the shared artifact cache.
pub async fn builder() -> Builder {
    let clock = Clock::system();
    PartnerGate::builder()
        .directory(sample_directory(&clock).await)
        .clock(clock)
        .artifact_cache(artifact_dir())
}

/// A host on the default policies and the sample directory.
pub async fn gate() -> PartnerGate {
    builder().await.build().await.expect("host starts")
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

/// A `redis-server` of the test's own, on a free port, without persistence.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { port, child: None };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
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
            .load_into(&dir)
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
