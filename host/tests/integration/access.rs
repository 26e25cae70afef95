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
    for _ in 0..20 {
        decide(&gate, "customer:bob", "browse", "store:main").await;
    }
    assert_eq!(gate.idle_instances(), 1);
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
