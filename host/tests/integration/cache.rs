//! The account-status cache: several nodes sharing one SQLite file and one
//! Redis (each test starts its own `redis-server`), and the same lifecycle
//! checks against the in-process cache.

use super::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Node, RedisServer, two_nodes};
use partnergate::PartnerGate;
use partnergate::cache::memory::MemoryCache;
use partnergate::cache::redis::{RedisCache, RedisCacheConfig};
use partnergate::cache::{CacheRead, Stamped, StatusCache};
use partnergate::clock::Clock;
use partnergate::directory::Directory;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::model::{AccountStatus, Staff};
use partnergate::model::{Target, UserChanges};

async fn browses(node: &Node, person: &str) -> bool {
    allowed_to_browse(&node.gate, person).await
}

async fn allowed_to_browse(gate: &PartnerGate, person: &str) -> bool {
    common::decide(gate, &format!("customer:{person}"), "browse", "store:main")
        .await
        .is_allowed()
}

async fn target(node: &Node, person: &str) -> Target {
    common::target(&*node.dir, person).await
}

async fn target_in(dir: &SqliteDirectory, person: &str) -> Target {
    common::target(dir, person).await
}

/// Staff on `node` makes carol an administrator of acme (a second one).
async fn make_carol_admin(node: &Node) {
    let carol = target(node, "carol").await;
    let changes = UserChanges {
        is_admin: Some(true),
        ..none()
    };
    node.gate
        .edit_user("staff:sam", carol, changes)
        .await
        .unwrap();
}

fn none() -> UserChanges {
    UserChanges {
        name: None,
        email: None,
        roles: None,
        is_admin: None,
        spending_limit: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_node_a_is_seen_by_node_b_on_its_next_request() {
    let redis = RedisServer::start();
    let (_tmp, a, b) = two_nodes(&redis).await;
    // Warm node B's first level.
    assert!(browses(&b, "bob").await);
    assert!(browses(&b, "bob").await);
    assert!(b.cache.stats().l1_hits >= 1, "{:?}", b.cache.stats());

    a.gate
        .revoke_user("customer:alice", target(&a, "bob").await)
        .await
        .unwrap();
    assert!(
        !browses(&b, "bob").await,
        "revoke on A, B must deny at once"
    );
    a.gate
        .reinstate_user("customer:alice", target(&a, "bob").await)
        .await
        .unwrap();
    assert!(browses(&b, "bob").await, "reinstate on A, B allows again");
    assert!(browses(&b, "bob").await);

    let roles = UserChanges {
        roles: Some(vec!["approver".into()]),
        spending_limit: Some(Some(10)),
        ..none()
    };
    a.gate
        .edit_user("customer:alice", target(&a, "bob").await, roles)
        .await
        .unwrap();
    // (Every node's round of the change log retires the edit in Redis too,
    // after the fact: a fill before that round is dropped again. Wait for
    // it, so that the entry below is the one that stays.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    let order = common::decide_with(
        &b.gate,
        "customer:bob",
        "placeOrder",
        "store:main",
        serde_json::json!({"orderTotal": 11}),
    )
    .await;
    assert_eq!(order.policies, ["order-within-spending-limit"]);
    let cached = b
        .cache
        .get("bob")
        .await
        .unwrap()
        .hit()
        .expect("B cached the fresh entry");
    assert_eq!(cached.membership.as_ref().unwrap().roles, ["approver"]);

    // An organization-wide change (a second admin) reaches B's cached admin count.
    assert!(
        !common::decide(&b.gate, "staff:sam", "removeUser", "customer:alice")
            .await
            .is_allowed()
    );
    make_carol_admin(&a).await;
    assert!(
        common::decide(&b.gate, "staff:sam", "removeUser", "customer:alice")
            .await
            .is_allowed()
    );

    assert!(browses(&b, "bob").await);
    a.gate
        .remove_user("customer:alice", target(&a, "bob").await)
        .await
        .unwrap();
    assert!(
        !browses(&b, "bob").await,
        "remove on A, B must deny at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_fill_racing_an_invalidation_is_never_cached() {
    let redis = RedisServer::start();
    let (_tmp, a, b) = two_nodes(&redis).await;
    // B misses and reads the directory (bob active) ...
    let CacheRead::Miss(ticket) = b.cache.get("bob").await.unwrap() else {
        panic!("B holds no entry for bob yet")
    };
    let stale = b.dir.get_account("bob").await.unwrap().unwrap();
    // ... meanwhile A revokes bob, and another reader on B misses after the
    // revocation (its ticket is newer: it must not lend it to the first) ...
    a.gate
        .revoke_user("customer:alice", target(&a, "bob").await)
        .await
        .unwrap();
    // (Once every node's round of the change log has retired the change.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    let CacheRead::Miss(later) = b.cache.get("bob").await.unwrap() else {
        panic!("the revocation dropped bob's entry")
    };
    // ... and B's late write of the old state must be refused.
    b.cache.put(Stamped::shared(stale), ticket).await.unwrap();
    assert!(
        b.cache.get("bob").await.unwrap().hit().is_none(),
        "the stale entry must not be stored"
    );
    assert!(!browses(&b, "bob").await);
    // The reader that missed after the revocation stores what it read.
    let fresh = b.dir.get_account("bob").await.unwrap().unwrap();
    b.cache.put(Stamped::shared(fresh), later).await.unwrap();
    assert!(b.cache.get("bob").await.unwrap().hit().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_entry_is_dropped_on_every_node_when_its_members_change() {
    let redis = RedisServer::start();
    let (_tmp, a, b) = two_nodes(&redis).await;
    for _ in 0..2 {
        assert!(
            common::decide(&b.gate, "customer:alice", "addUser", "organization:acme")
                .await
                .is_allowed()
        );
    }
    let cached = b
        .cache
        .get_organization("acme")
        .await
        .unwrap()
        .hit()
        .expect("B caches the organization");
    assert_eq!(cached.active_admins, 1);
    make_carol_admin(&a).await;
    assert!(
        b.cache
            .get_organization("acme")
            .await
            .unwrap()
            .hit()
            .is_none(),
        "B dropped the stale organization"
    );
    // (Once the change log's rounds have retired the change everywhere, as
    // above.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        common::decide(&b.gate, "customer:alice", "addUser", "organization:acme")
            .await
            .is_allowed()
    );
    assert_eq!(
        b.cache
            .get_organization("acme")
            .await
            .unwrap()
            .hit()
            .unwrap()
            .active_admins,
        2
    );
}

/// Staff records are cached like accounts (decisions on staff requests read
/// no directory) and dropped on every node when the merchant changes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_change_on_node_a_is_seen_by_node_b_on_its_next_request() {
    let redis = RedisServer::start();
    let (_tmp, a, b) = two_nodes(&redis).await;
    let adds = |node: &Node| {
        let gate = node.gate.clone();
        async move {
            common::decide(&gate, "staff:sara", "addUser", "organization:globex")
                .await
                .is_allowed()
        }
    };
    for _ in 0..2 {
        assert!(!adds(&b).await, "sara has no organizations");
    }
    assert!(
        b.cache.get_staff("sara").await.unwrap().hit().is_some(),
        "B caches the staff record"
    );
    let sara = |organizations: &[&str]| Staff {
        id: "sara".into(),
        name: "Sara Staff".into(),
        assigned_organizations: organizations.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    };
    a.gate.put_staff(&sara(&["globex"])).await.unwrap();
    assert!(adds(&b).await, "assigned on A, B allows at once");
    assert!(adds(&b).await);
    a.gate.put_staff(&sara(&[])).await.unwrap();
    assert!(!adds(&b).await, "unassigned on A, B denies at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_never_allows_a_revoked_user_keeps_writes_and_recovers() {
    let mut redis = RedisServer::start();
    let (_tmp, a, b) = two_nodes(&redis).await;
    assert!(browses(&b, "carol").await && browses(&b, "carol").await);

    redis.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.cache.is_healthy() || b.cache.is_healthy() {
        assert!(Instant::now() < deadline, "nodes notice the outage");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Decisions carry on from the directory; the write commits.
    assert!(browses(&b, "carol").await);
    let revoked = a
        .gate
        .revoke_user("customer:alice", target(&a, "carol").await)
        .await
        .unwrap();
    assert_eq!(revoked.status, AccountStatus::Revoked);
    for _ in 0..5 {
        assert!(
            !browses(&b, "carol").await,
            "no wrong allow during the outage"
        );
        assert!(!browses(&a, "carol").await);
    }

    redis.restart();
    assert!(
        a.cache.wait_ready(Duration::from_secs(10)).await
            && b.cache.wait_ready(Duration::from_secs(10)).await
    );
    for _ in 0..5 {
        assert!(!browses(&b, "carol").await, "no wrong allow after recovery");
    }
    let before = b.cache.stats();
    assert!(browses(&b, "bob").await && browses(&b, "bob").await);
    let after = b.cache.stats();
    assert!(
        after.l1_hits > before.l1_hits,
        "the cache is used again without a restart: {before:?} -> {after:?}"
    );
    a.gate
        .reinstate_user("customer:alice", target(&a, "carol").await)
        .await
        .unwrap();
    assert!(browses(&b, "carol").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_state_begun_on_one_node_is_finished_on_another_once() {
    use partnergate::cache::EphemeralStore;
    let redis = RedisServer::start();
    let a = RedisCache::connect(RedisCacheConfig::new(redis.url()))
        .await
        .unwrap();
    let b = RedisCache::connect(RedisCacheConfig::new(redis.url()))
        .await
        .unwrap();
    a.put_ephemeral(
        "oidc-state",
        "st-1",
        r#"{"nonce":"n","verifier":"v"}"#,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    a.put_ephemeral("session", "sess-1", "alice", Duration::from_secs(60))
        .await
        .unwrap();
    let (x, y) = tokio::join!(
        b.take_ephemeral("oidc-state", "st-1"),
        a.take_ephemeral("oidc-state", "st-1")
    );
    let taken: Vec<String> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(
        taken,
        [r#"{"nonce":"n","verifier":"v"}"#],
        "exactly one node gets the state"
    );
    assert_eq!(
        b.get_ephemeral("session", "sess-1")
            .await
            .unwrap()
            .as_deref(),
        Some("alice")
    );
    a.delete_ephemeral("session", "sess-1").await.unwrap();
    assert_eq!(b.get_ephemeral("session", "sess-1").await.unwrap(), None);
    a.put_ephemeral("oidc-state", "st-2", "x", Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        b.take_ephemeral("oidc-state", "st-2").await.unwrap(),
        None,
        "expired state is gone"
    );
}

/// The single-node lifecycle checks, run against a given cache.
async fn lifecycle_reaches_the_next_request(cache: Arc<dyn StatusCache>) {
    let clock = Clock::system();
    let dir = common::sample_directory(&clock).await;
    let gate = PartnerGate::builder()
        .directory(dir.clone())
        .cache(cache)
        .clock(clock)
        .artifact_cache(common::artifact_dir())
        .build()
        .await
        .unwrap();
    for _ in 0..2 {
        assert!(allowed_to_browse(&gate, "bob").await);
    }
    gate.revoke_user("customer:alice", target_in(&dir, "bob").await)
        .await
        .unwrap();
    assert!(!allowed_to_browse(&gate, "bob").await);
    gate.reinstate_user("customer:alice", target_in(&dir, "bob").await)
        .await
        .unwrap();
    assert!(allowed_to_browse(&gate, "bob").await);
    let limit = UserChanges {
        spending_limit: Some(Some(5)),
        ..none()
    };
    gate.edit_user("customer:alice", target_in(&dir, "bob").await, limit)
        .await
        .unwrap();
    let order = common::decide_with(
        &gate,
        "customer:bob",
        "placeOrder",
        "store:main",
        serde_json::json!({"orderTotal": 6}),
    )
    .await;
    assert!(!order.is_allowed());
    gate.remove_user("customer:alice", target_in(&dir, "bob").await)
        .await
        .unwrap();
    assert!(!allowed_to_browse(&gate, "bob").await);
}

#[tokio::test]
async fn lifecycle_reaches_the_next_request_with_the_in_process_cache() {
    lifecycle_reaches_the_next_request(Arc::new(MemoryCache::new(Duration::from_secs(60)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_reaches_the_next_request_with_redis() {
    let redis = RedisServer::start();
    let cache = RedisCache::connect(RedisCacheConfig::new(redis.url()))
        .await
        .unwrap();
    assert!(cache.wait_ready(Duration::from_secs(5)).await);
    lifecycle_reaches_the_next_request(Arc::new(cache)).await;
}

/// Whether `person`, acting for `organization`, may browse on `node`.
async fn browses_for(node: &Node, person: &str, organization: &str) -> bool {
    let request =
        partnergate::AuthorizeRequest::new(format!("customer:{person}"), "browse", "store:main")
            .for_organization(organization);
    node.gate.authorize(&request).await.unwrap().is_allowed()
}

/// Gina administers globex and buys for acme. Both nodes cache her (one
/// entry holding both memberships); alice revokes her acme membership on
/// node A: node B denies her in acme on its next request and goes on
/// allowing her in globex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_one_membership_across_nodes_leaves_the_other_active() {
    let redis = RedisServer::start();
    let (_tmp, a, b) = two_nodes(&redis).await;
    // Stored before either node read her.
    common::add_membership(&*a.dir, common::membership("gina", "acme", false)).await;
    for node in [&a, &b] {
        for _ in 0..2 {
            assert!(browses_for(node, "gina", "acme").await);
            assert!(browses_for(node, "gina", "globex").await);
        }
    }
    assert!(b.cache.stats().l1_hits >= 1, "{:?}", b.cache.stats());
    a.gate
        .revoke_user("customer:alice", Target::membership("gina", "acme", 1))
        .await
        .unwrap();
    assert!(
        !browses_for(&b, "gina", "acme").await,
        "revoked in acme, at once on B"
    );
    assert!(browses_for(&b, "gina", "globex").await, "globex untouched");
    assert!(browses_for(&a, "gina", "globex").await);
    assert!(browses(&b, "bob").await);
}
