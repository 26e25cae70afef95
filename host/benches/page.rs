//! `cargo bench -p partnergate --bench page`: the "Organization users" page
//! with 50 rows, rendered by the real router in process (no network), as a
//! signed-in administrator: session check, listing, one `get-users` call
//! (what the viewer may see of the 50 users and which steps the rules
//! allow), two navigation decisions, template. Prints p50 and p99 of the
//! whole page, of its `get-users` call, and, in the same run, of the
//! decisions the page used to ask instead (five per row and two for the
//! navigation) as one batch, which the host mostly gives again.

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
        staff_id: None,
        organization_id: Some("acme".into()),
        organizations: vec!["acme".into()],
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
    let ids: Vec<String> = listed.members.iter().map(|a| a.person.id.clone()).collect();
    let mut requests = vec![
        AuthorizeRequest::new("customer:alice", "addUser", "organization:acme"),
        AuthorizeRequest::new("customer:alice", "viewAudit", "organization:acme"),
    ];
    for id in &ids {
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
                format!("customer:{id}"),
            ));
        }
    }
    let mut views = Vec::with_capacity(ITERATIONS);
    let mut batch = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS / 4 {
        let started = Instant::now();
        let seen = gate.get_users("customer:alice", ids.clone()).await.unwrap();
        views.push(started.elapsed());
        assert!(seen.iter().all(Option::is_some));
        let started = Instant::now();
        let answers = gate.authorize_many(&requests).await.unwrap();
        batch.push(started.elapsed());
        assert!(answers.iter().all(Result::is_ok));
    }
    let views = stats(views);
    let batch = stats(batch);
    println!("organization-users page, {ROWS} rows, {ITERATIONS} renders in process");
    println!("{:<44} {:>10} {:>10}", "", "p50", "p99");
    println!(
        "{:<44} {:>8.2}ms {:>8.2}ms",
        "whole page (budget: p99 < 20 ms)", page.0, page.1
    );
    println!(
        "{:<44} {:>8.2}ms {:>8.2}ms",
        "its get-users call (50 users)", views.0, views.1
    );
    println!(
        "{:<44} {:>8.2}ms {:>8.2}ms",
        "252 decisions, one batch (mostly reused)", batch.0, batch.1
    );
}
