//! Decisions through the real plugin component, on the default policies.

use super::common;

use common::{builder, decide, decide_with, gate};
use partnergate::{AuthorizeRequest, DecisionKind, Error, Limits};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn admin_of_organization_a_adds_users_to_a_but_not_to_b() {
    let gate = gate().await;
    let own = decide(&gate, "customer:alice", "addUser", "organization:acme").await;
    assert!(own.is_allowed(), "{own:?}");
    assert_eq!(own.policies, ["org-admin-manages-own-users"]);
    let other = decide(&gate, "customer:alice", "addUser", "organization:globex").await;
    assert_eq!(other.decision, DecisionKind::Deny, "{other:?}");
}

#[tokio::test]
async fn revoked_user_is_denied_store_access() {
    let gate = gate().await;
    let d = decide(&gate, "customer:rita", "browse", "store:main").await;
    assert_eq!(d.decision, DecisionKind::Deny);
    assert_eq!(d.policies, ["inactive-account-does-nothing"]);
}

#[tokio::test]
async fn user_cannot_remove_themselves() {
    let gate = gate().await;
    let d = decide(&gate, "customer:gina", "removeUser", "customer:gina").await;
    assert_eq!(d.decision, DecisionKind::Deny);
    assert_eq!(d.policies, ["no-self-removal"]);
}

#[tokio::test]
async fn last_admin_cannot_be_demoted_or_removed() {
    let gate = gate().await;
    for action in ["demoteAdmin", "removeUser", "revokeUser"] {
        let d = decide(&gate, "staff:sam", action, "customer:alice").await;
        assert_eq!(d.decision, DecisionKind::Deny, "{action}: {d:?}");
        assert_eq!(d.policies, ["keep-last-admin"], "{action}");
    }
    // With a second admin, the same staff member may demote one of them.
    let d = decide(&gate, "staff:sam", "demoteAdmin", "customer:bob").await;
    assert!(d.is_allowed(), "{d:?}");
}

#[tokio::test]
async fn order_over_the_spending_limit_is_denied_and_under_it_allowed() {
    let gate = gate().await;
    let over = decide_with(
        &gate,
        "customer:bob",
        "placeOrder",
        "store:main",
        json!({"orderTotal": 50001}),
    )
    .await;
    assert_eq!(over.decision, DecisionKind::Deny);
    assert_eq!(over.policies, ["order-within-spending-limit"]);
    let under = decide_with(
        &gate,
        "customer:bob",
        "placeOrder",
        "store:main",
        json!({"orderTotal": 49999}),
    )
    .await;
    assert!(under.is_allowed(), "{under:?}");
    assert_eq!(under.policies, ["active-member-orders"]);
}

#[tokio::test]
async fn member_of_a_blocked_organization_browses_but_cannot_order() {
    let gate = gate().await;
    assert!(
        decide(&gate, "customer:ian", "browse", "store:main")
            .await
            .is_allowed()
    );
    let order = decide_with(
        &gate,
        "customer:ian",
        "placeOrder",
        "store:main",
        json!({"orderTotal": 100}),
    )
    .await;
    assert_eq!(order.decision, DecisionKind::Deny);
    assert_eq!(order.policies, ["blocked-organization-cannot-order"]);
}

#[tokio::test]
async fn malformed_requests_are_refused_with_a_reason() {
    let gate = gate().await;
    let cases = [
        AuthorizeRequest::new("alice", "browse", "store:main"),
        AuthorizeRequest::new("customer:alice", "browse", "shop:main"),
        AuthorizeRequest::new("customer:bob", "teleport", "store:main"),
        AuthorizeRequest::new("customer:bob", "placeOrder", "store:main")
            .with_context(json!({"orderTotal": "lots"})),
        AuthorizeRequest::new("customer:bob", "placeOrder", "store:main").with_context(json!([1])),
    ];
    for request in cases {
        match gate.authorize(&request).await {
            Err(Error::InvalidRequest(message)) => assert!(!message.is_empty()),
            other => panic!("{request:?}: expected an invalid request, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn warm_instances_are_reused_across_calls() {
    let gate = gate().await;
    // Starting loaded the policy set into an instance of its own, which
    // validated it; no call waited for that one.
    let started = counter(&gate, "partnergate_pool_instantiations_total");
    for _ in 0..20 {
        decide(&gate, "customer:bob", "browse", "store:main").await;
    }
    // The first call took the only idle instance, so a spare was warmed
    // behind it; after that, one call at a time never needs another.
    wait_for_idle(&gate, 2).await;
    for _ in 0..20 {
        decide(&gate, "customer:bob", "browse", "store:main").await;
    }
    assert_eq!(gate.idle_instances(), 2);
    assert_eq!(counter(&gate, "partnergate_pool_spares_total"), 1);
    assert_eq!(
        counter(&gate, "partnergate_pool_instantiations_total"),
        started
    );
}

/// A counter of `gate`'s metrics.
fn counter(gate: &partnergate::PartnerGate, name: &str) -> u64 {
    gate.metrics()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

async fn wait_for_idle(gate: &partnergate::PartnerGate, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gate.idle_instances() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{} idle instances, not {n}",
            gate.idle_instances()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `--min-instances` instances are warm from the start: bursts as large
/// start no instance in a call's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_instances_start_warm_and_bursts_as_large_start_none() {
    let gate = builder()
        .await
        .limits(Limits {
            min_instances: 3,
            ..Limits::default()
        })
        .build()
        .await
        .unwrap();
    assert_eq!(gate.idle_instances(), 3);
    let started = counter(&gate, "partnergate_pool_instantiations_total");
    let burst = |gate: partnergate::PartnerGate| async move {
        let calls = (0..3).map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move { decide(&gate, "customer:bob", "browse", "store:main").await })
        });
        for call in calls.collect::<Vec<_>>() {
            assert!(call.await.unwrap().is_allowed());
        }
    };
    for _ in 0..5 {
        burst(gate.clone()).await;
        wait_for_idle(&gate, 3).await;
    }
    assert_eq!(
        counter(&gate, "partnergate_pool_instantiations_total"),
        started
    );
}

#[tokio::test]
async fn concurrent_calls_each_get_a_correct_answer() {
    // 64 calls on 2 cores queue for instances and readers; the deadline
    // counts that wait, so it is long here: this test is about answers.
    let gate = builder()
        .await
        .limits(Limits {
            call_timeout: Duration::from_secs(10),
            ..Limits::default()
        })
        .build()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let (who, allowed) = if i % 2 == 0 {
                ("customer:bob", true)
            } else {
                ("customer:rita", false)
            };
            let d = decide(&gate, who, "browse", "store:main").await;
            assert_eq!(d.is_allowed(), allowed, "{who}: {d:?}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(gate.idle_instances() >= 1);
}
