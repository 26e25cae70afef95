//! `cargo bench -p partnergate --bench signin`: the sign-in callback's own
//! work once the provider has answered — ID-token validation, linking through
//! the plugin, the session — for an already-linked person and for a first
//! sign-in (an invited member linked and activated), p50 and p99.
//!
//! The provider here is a stand-in served in-process (discovery, keys, a
//! token endpoint answering with tokens signed by `fixtures/bench-signing-key.pem`),
//! so that its own time is as small as possible; the token exchange's round
//! trip to it is timed separately and subtracted. The native baseline is the
//! same ID token validated with `openidconnect` alone, in the same run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AccessToken, Audience, EmptyAdditionalClaims, EndUserEmail, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use partnergate::PartnerGate;
use partnergate::clock::Clock;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::model::NewUser;
use partnergate::oidc::{ProviderConfig, SignInService};
use serde_json::{Value, json};

const ITERATIONS: usize = 300;
const CLIENT_ID: &str = "bench-client";

/// The stand-in provider: token responses by authorization code.
#[derive(Clone, Default)]
struct Tokens(Arc<Mutex<HashMap<String, Value>>>);

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    run().await;
}

async fn provider(key: &CoreRsaPrivateSigningKey) -> (String, Tokens) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let jwks = json!({ "keys": [key.as_verification_key()] });
    let tokens = Tokens::default();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }))
        .route(
            "/token",
            post(
                |State(tokens): State<Tokens>, Form(form): Form<HashMap<String, String>>| async move {
                    let code = form.get("code").cloned().unwrap_or_default();
                    let answer = tokens.0.lock().unwrap().remove(&code);
                    match answer {
                        Some(body) => Json(body).into_response(),
                        None => (
                            axum::http::StatusCode::BAD_REQUEST,
                            Json(json!({"error": "invalid_grant"})),
                        )
                            .into_response(),
                    }
                },
            ),
        )
        .with_state(tokens.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (issuer, tokens)
}

/// A token response for `subject`/`email`, answering the sign-in whose
/// authorization URL is `url`; returns the code and state to call back with.
fn answer(
    key: &CoreRsaPrivateSigningKey,
    issuer: &str,
    url: &str,
    subject: &str,
    email: &str,
    tokens: &Tokens,
    n: usize,
) -> (String, String, CoreIdToken, Nonce) {
    let url = reqwest::Url::parse(url).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let nonce = Nonce::new(param("nonce"));
    let access = AccessToken::new(format!("access-{n}"));
    let now = chrono::Utc::now();
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer.to_string()).unwrap(),
        vec![Audience::new(CLIENT_ID.into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new(subject.into()))
            .set_email(Some(EndUserEmail::new(email.into())))
            .set_email_verified(Some(true)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(nonce.clone()));
    let id_token = CoreIdToken::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access),
        None,
    )
    .unwrap();
    let code = format!("code-{n}");
    tokens.0.lock().unwrap().insert(
        code.clone(),
        json!({
            "access_token": access.secret(),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token.to_string(),
        }),
    );
    (code, param("state"), id_token, nonce)
}

async fn run() {
    let pem = include_str!("fixtures/bench-signing-key.pem");
    let key =
        CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new("bench-1".into()))).unwrap();
    let (issuer, tokens) = provider(&key).await;

    let seed = Seed::from_file(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/directory.json"),
    )
    .unwrap();
    let directory = Arc::new(SqliteDirectory::in_memory(Clock::system()).unwrap());
    seed.load_into(&*directory).await.unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let gate = PartnerGate::builder()
        .directory(directory.clone())
        .artifact_cache(cache_dir.path())
        .build()
        .await
        .unwrap();
    // The people whose first sign-in is timed: invited members of acme.
    for i in 0..ITERATIONS {
        let user = NewUser {
            email: format!("first-{i}@acme.test"),
            name: format!("First {i}"),
            roles: vec!["buyer".into()],
            is_admin: false,
            spending_limit: None,
        };
        gate.add_user("customer:alice", "acme", user).await.unwrap();
    }

    let config: ProviderConfig = serde_json::from_value(json!({
        "name": "bench",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": "bench-secret",
        "redirect_uri": "http://127.0.0.1:1/v1/signin/bench/callback",
    }))
    .unwrap();
    let store = gate.ephemeral().clone();
    let sign_in = SignInService::discover(vec![config], store).await.unwrap();

    // Native baseline: the same validation with openidconnect alone.
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{issuer}{path}"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let metadata: CoreProviderMetadata =
        serde_json::from_value(get("/.well-known/openid-configuration").await).unwrap();
    let jwks = serde_json::from_value(get("/jwks").await).unwrap();
    let client = openidconnect::core::CoreClient::from_provider_metadata(
        metadata.set_jwks(jwks),
        openidconnect::ClientId::new(CLIENT_ID.into()),
        None,
    );

    // ivan is invited: his first sign-in links him; the timed ones are then
    // sign-ins of an already-linked person.
    let (url, binding) = sign_in.begin("bench", None, "/v1/me").await.unwrap();
    let (code, state, _, _) = answer(
        &key,
        &issuer,
        &url,
        "ivan-sub",
        "ivan@acme.test",
        &tokens,
        0,
    );
    sign_in
        .finish(&gate, "bench", &code, &state, None, Some(&binding.value))
        .await
        .unwrap();

    let mut linked = Vec::new();
    let mut first = Vec::new();
    let mut exchange = Vec::new();
    let mut native = Vec::new();
    for i in 0..ITERATIONS {
        // Already linked.
        let (url, binding) = sign_in.begin("bench", None, "/v1/me").await.unwrap();
        let (code, state, id_token, nonce) = answer(
            &key,
            &issuer,
            &url,
            "ivan-sub",
            "ivan@acme.test",
            &tokens,
            1 + 3 * i,
        );
        let start = Instant::now();
        let (session, _) = sign_in
            .finish(&gate, "bench", &code, &state, None, Some(&binding.value))
            .await
            .unwrap();
        linked.push(start.elapsed());
        assert!(sign_in.session(&session).await.unwrap().is_some());

        let start = Instant::now();
        let verifier = client.id_token_verifier();
        id_token.claims(&verifier, &nonce).unwrap();
        native.push(start.elapsed());

        // First sign-in of an invited member.
        let (url, binding) = sign_in.begin("bench", None, "/v1/me").await.unwrap();
        let email = format!("first-{i}@acme.test");
        let (code, state, _, _) = answer(
            &key,
            &issuer,
            &url,
            &format!("first-sub-{i}"),
            &email,
            &tokens,
            2 + 3 * i,
        );
        let start = Instant::now();
        sign_in
            .finish(&gate, "bench", &code, &state, None, Some(&binding.value))
            .await
            .unwrap();
        first.push(start.elapsed());

        // The exchange's round trip alone: the provider's part.
        let code = format!("code-{}", 3 + 3 * i);
        tokens.0.lock().unwrap().insert(
            code.clone(),
            json!({"access_token": "a", "token_type": "Bearer"}),
        );
        let start = Instant::now();
        let res = http
            .post(format!("{issuer}/token"))
            .basic_auth(CLIENT_ID, Some("bench-secret"))
            .form(&[("grant_type", "authorization_code"), ("code", &code)])
            .send()
            .await
            .unwrap();
        res.bytes().await.unwrap();
        exchange.push(start.elapsed());
    }

    let native = stats(native);
    let exchange = stats(exchange);
    println!(
        "sign-in callback: {ITERATIONS} iterations each; provider in-process, RS256 ID tokens"
    );
    println!(
        "{:<40} {:>10} {:>10} {:>14}",
        "", "p50 µs", "p99 µs", "own p50/native"
    );
    println!(
        "{:<40} {:>10.1} {:>10.1} {:>14}",
        "native: ID-token validation only",
        us(native.p50),
        us(native.p99),
        "1.00"
    );
    println!(
        "{:<40} {:>10.1} {:>10.1} {:>14}",
        "token exchange round trip (provider)",
        us(exchange.p50),
        us(exchange.p99),
        "-"
    );
    for (name, samples) in [
        ("callback, already linked", linked),
        ("callback, first sign-in (link+activate)", first),
    ] {
        let s = stats(samples);
        let own = s.p50.saturating_sub(exchange.p50);
        println!(
            "{:<40} {:>10.1} {:>10.1} {:>14.2}",
            name,
            us(s.p50),
            us(s.p99),
            us(own) / us(native.p50)
        );
        println!(
            "{:<40} {:>10.1} {:>10.1}",
            "  of which own work (minus exchange)",
            us(own),
            us(s.p99.saturating_sub(exchange.p50))
        );
    }
}
