//! `cargo bench -p partnergate --bench page`: the "Organization users" page
//! with 50 rows, rendered by the real router in process (no network), as a
//! signed-in administrator: session check, listing, one batch of 252
//! decisions (five per row and two for the navigation), template. Prints
//! p50 and p99 of the whole page, and of its decisions asked as one batch
//! and as 252 single calls, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use partnergate::clock::Clock;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::model as wit;
use partnergate::oidc::{SESSION_TTL, Session, SignInService};
use partnergate::server::{self, page};
use partnergate::{AuthorizeRequest, PartnerGate};
use partnergate_testkit::sample_seed;
use tower::ServiceExt;

const ITERATIONS: usize = 2_000;
const ROWS: usize = 50;

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(at(0.50)), ms(at(0.99)))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    run().await;
}

async fn run() {
    let clock = Clock::system();
    // The sample directory, and 60 more Acme buyers so the first page is
    // full.
    let mut seed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample_seed()).unwrap()).unwrap();
    let people = seed["people"].as_array_mut().unwrap();
    for i in 0..60 {
        people.push(serde_json::json!({
            "id": format!("buyer{i:02}"),
            "email": format!("buyer{i:02}@acme.test"),
            "name": format!("Buyer {i:02}"),
            "organization": "acme",
            "roles": ["buyer"],
            "spending_limit": 10_000 + i,
        }));
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), seed.to_string()).unwrap();
    let dir = SqliteDirectory::in_memory(clock.clone()).unwrap();
    Seed::from_file(file.path())
        .unwrap()
        .load_into(&dir)
        .await
        .unwrap();
    let dir = Arc::new(dir);
    let gate = PartnerGate::builder()
        .directory(dir.clone())
        .clock(clock)
        .build()
        .await
        .unwrap();
    let session = Session {
        person_id: "alice".into(),
        organization_id: "acme".into(),
        issuer: "https://idp.bench".into(),
        subject: "alice".into(),
        provider: "bench".into(),
        id_token: String::new(),
        csrf_token: "bench-csrf".into(),
    };
    gate.ephemeral()
        .put_ephemeral(
            "session",
            "bench-session",
            &serde_json::to_string(&session).unwrap(),
            SESSION_TTL,
        )
        .await
        .unwrap();
    let sign_in = SignInService::discover(Vec::new(), gate.ephemeral().clone())
        .await
        .unwrap();
    let router = server::router_with(
        gate.clone(),
        None,
        Some(Arc::new(sign_in)),
        Some(page::PageConfig::default()),
    );
    let get = || {
        Request::get(page::DEFAULT_PREFIX)
            .header("cookie", "pg_session=bench-session")
            .body(Body::empty())
            .unwrap()
    };
    // The page is what the bench says it is: 50 rows, each with buttons.
    let response = router.clone().oneshot(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(html.matches("<tr data-person=").count(), ROWS);
    assert!(html.matches("pg-step-revoke").count() >= ROWS - 5);

    let mut samples = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let started = Instant::now();
        let response = router.clone().oneshot(get()).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        samples.push(started.elapsed());
        assert!(body.len() > 10_000);
    }
    let page = stats(samples);

    // The decisions of that page: as one batch, and one call each.
    let listed = partnergate::directory::Directory::list_members(
        &*dir,
        partnergate::model::MemberQuery {
            organizations: vec!["acme".into()],
            status: None,
            search: None,
            sort: wit::MemberSort::Name,
            descending: false,
            cursor: None,
            limit: ROWS as u32,
        },
    )
    .await
    .unwrap();
    let mut requests = vec![
        AuthorizeRequest::new("customer:alice", "addUser", "organization:acme"),
        AuthorizeRequest::new("customer:alice", "viewAudit", "organization:acme"),
    ];
    for account in &listed.members {
        for action in [
            "editUser",
            "revokeUser",
            "reinstateUser",
            "removeUser",
            "reinviteUser",
        ] {
            requests.push(AuthorizeRequest::new(
                "customer:alice",
                action,
                format!("customer:{}", account.person.id),
            ));
        }
    }
    let mut batch = Vec::with_capacity(ITERATIONS);
    let mut single = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS / 4 {
        let started = Instant::now();
        let answers = gate.authorize_many(&requests).await.unwrap();
        batch.push(started.elapsed());
        assert!(answers.iter().all(Result::is_ok));
        let started = Instant::now();
        for request in &requests {
            gate.authorize(request).await.unwrap();
        }
        single.push(started.elapsed());
    }
    let batch = stats(batch);
    let single = stats(single);
    println!(
        "organization-users page, {ROWS} rows, {} decisions, {ITERATIONS} renders in process",
        requests.len()
    );
    println!("{:<44} {:>10} {:>10}", "", "p50", "p99");
    println!(
        "{:<44} {:>8.2}ms {:>8.2}ms",
        "whole page (budget: p99 < 20 ms)", page.0, page.1
    );
    println!(
        "{:<44} {:>8.2}ms {:>8.2}ms",
        "its decisions, one batch", batch.0, batch.1
    );
    println!(
        "{:<44} {:>8.2}ms {:>8.2}ms",
        "its decisions, one call each", single.0, single.1
    );
    println!(
        "{:<44} {:>9.2}x {:>9.2}x",
        "one call each / one batch",
        single.0 / batch.0,
        single.1 / batch.1
    );
}
