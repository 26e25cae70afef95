//! Helpers shared by the host's integration tests: every test loads the real
//! plugin component built by `build.rs`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

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
    PartnerGate::builder().directory(sample_directory(&clock).await).clock(clock).artifact_cache(artifact_dir())
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
    gate.authorize(&request).await.unwrap_or_else(|e| panic!("{principal} {action} {resource}: {e}"))
}
