//! A misbehaving guest is contained: a runaway loop hits the deadline, a
//! runaway allocation hits the memory limit, a panic traps; each call is
//! denied and the host answers the next call correctly.

use super::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use partnergate::{AuthorizeRequest, Error, Fault, Limits, PartnerGate, PluginSource};

async fn hostile_gate() -> PartnerGate {
    hostile_gate_with(Duration::from_millis(100)).await
}

/// [`hostile_gate`] with its own call deadline.
async fn hostile_gate_with(call_timeout: Duration) -> PartnerGate {
    PartnerGate::builder()
        .plugin(PluginSource::File(PathBuf::from(env!(
            "HOSTILE_GUEST_WASM"
        ))))
        .artifact_cache(common::artifact_dir())
        .limits(Limits {
            memory_bytes: 32 << 20,
            call_timeout,
            max_instances: 4,
            ..Limits::default()
        })
        .build()
        .await
        .expect("hostile guest loads")
}

async fn expect_fault(gate: &PartnerGate, action: &str, expected: Fault) {
    let started = Instant::now();
    match gate
        .authorize(&AuthorizeRequest::new("customer:x", action, "store:main"))
        .await
    {
        Err(Error::Plugin { fault, message }) => assert_eq!(fault, expected, "{action}: {message}"),
        other => panic!("{action}: expected a {expected:?} fault, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{action} took {:?}",
        started.elapsed()
    );
    // The next call is answered correctly by a fresh instance.
    let next = gate
        .authorize(&AuthorizeRequest::new("customer:x", "ok", "store:main"))
        .await
        .expect("next call answered");
    assert!(next.is_allowed());
    assert_eq!(next.policies, ["hostile-guest-ok"]);
}

#[tokio::test]
async fn endless_loop_hits_the_deadline_and_the_host_keeps_serving() {
    let gate = hostile_gate().await;
    expect_fault(&gate, "loop", Fault::Deadline).await;
}

#[tokio::test]
async fn runaway_allocation_hits_the_memory_limit_and_the_host_keeps_serving() {
    // A deadline the allocation never reaches first, however busy the
    // machine: this is about the memory limit (with 100 ms, a loaded run
    // once hit the deadline instead).
    let gate = hostile_gate_with(Duration::from_secs(2)).await;
    expect_fault(&gate, "alloc", Fault::MemoryLimit).await;
}

#[tokio::test]
async fn panicking_guest_traps_and_the_host_keeps_serving() {
    let gate = hostile_gate().await;
    expect_fault(&gate, "panic", Fault::Trap).await;
}

#[tokio::test]
async fn a_trapped_instance_is_not_reused() {
    let gate = hostile_gate().await;
    gate.authorize(&AuthorizeRequest::new("customer:x", "ok", "store:main"))
        .await
        .unwrap();
    assert_eq!(gate.idle_instances(), 1);
    let _ = gate
        .authorize(&AuthorizeRequest::new("customer:x", "loop", "store:main"))
        .await;
    assert_eq!(
        gate.idle_instances(),
        0,
        "the looping instance must be discarded"
    );
}

#[tokio::test]
async fn instances_of_a_plugin_that_refuses_its_own_prepared_set_load_the_files() {
    let gate = hostile_gate().await;
    common::warm(&gate, 3).await;
    let prepared_loads = gate
        .metrics()
        .lines()
        .find_map(|l| l.strip_prefix("partnergate_pool_prepared_loads_total "))
        .map(|v| v.trim().to_string());
    assert_eq!(prepared_loads.as_deref(), Some("0"));
    let decisions: Vec<Result<partnergate::Decision, Error>> = common::at_once(
        (0..3)
            .map(|_| {
                let gate = gate.clone();
                Box::pin(async move {
                    gate.authorize(&AuthorizeRequest::new("customer:x", "ok", "store:main"))
                        .await
                }) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
            })
            .collect(),
    )
    .await;
    for decision in decisions {
        assert!(decision.expect("answered").is_allowed());
    }
}
