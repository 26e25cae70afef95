//! `cargo bench -p partnergate --bench authorize`: decisions through the host
//! and the plugin component against the same rules compiled natively, in one
//! run.
//!
//! First, **new decisions** — what checkouts do: 100,000 requests on a
//! directory of 100,000 memberships, each new (principal drawn from the
//! memberships, `orderTotal` drawn per order, every action), against the
//! native integration that builds each request from the same records in
//! memory; per action and overall, p50 and p99; where a new decision's time
//! goes; resident size after 100,000 and 1,000,000 new decisions.
//!
//! Then **repeated requests** (five requests again and again): the component
//! against the best native integration (the plugin's memo natively), the
//! same host with `--reuse-decisions 0`, a fresh instance's first decision,
//! cold starts with and without the compiled-artifact cache, the
//! organization-user operations on SQLite, and the status cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use partnergate::clock::Clock;
use partnergate::directory::Directory;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::{AuthorizeRequest, PartnerGate};
use partnergate_plugin::access::{self, Found, Key, Lookup, Memo, Names, Records, Unavailable};
use partnergate_plugin::memory::MemoryRecords;
use partnergate_plugin::model;
use partnergate_plugin::policy_set::{self, PolicyFile};
use serde_json::json;

/// The allocator the `partnergate` binary ships with, so that the resident
/// size measured here is `serve`'s; the native side allocates with it too,
/// which is its best (about a fifth faster than with glibc's malloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ITERATIONS: usize = 20_000;

use partnergate_testkit::policies_dir;

fn requests() -> Vec<AuthorizeRequest> {
    vec![
        AuthorizeRequest::new("customer:bob", "browse", "store:main"),
        AuthorizeRequest::new("customer:bob", "placeOrder", "store:main")
            .with_context(json!({"orderTotal": 12000})),
        AuthorizeRequest::new("customer:alice", "addUser", "organization:acme"),
        AuthorizeRequest::new("customer:alice", "revokeUser", "customer:bob"),
        AuthorizeRequest::new("staff:sam", "demoteAdmin", "customer:alice"),
    ]
}

#[derive(Clone)]
struct Stats {
    p50: Duration,
    p99: Duration,
}

/// One line of the headline table: best native, component, their ratios,
/// and the per-request native p50.
fn row(what: &str, best: Stats, plugin: Stats, per_request: Stats) {
    println!(
        "{:<44} {:>9.2}µs {:>9.2}µs {:>9.2}µs {:>9.2}µs {:>6.2}x {:>6.2}x {:>10.2}µs",
        what,
        us(best.p50),
        us(best.p99),
        us(plugin.p50),
        us(plugin.p99),
        us(plugin.p50) / us(best.p50),
        us(plugin.p99) / us(best.p99),
        us(per_request.p50)
    );
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The same records, for the native rules (the directory speaks the
/// model the plugin's rules work on).
async fn native_records(seed: &Seed, dir: &SqliteDirectory) -> Held {
    let mut records = MemoryRecords::default();
    for p in &seed.people {
        let account = dir.get_account(&p.id).await.unwrap().unwrap();
        records.accounts.insert(p.id.clone(), account);
    }
    for o in &seed.organizations {
        records.organizations.insert(
            o.id.clone(),
            dir.get_organization(&o.id).await.unwrap().unwrap(),
        );
    }
    for s in seed.staff() {
        records.staff.insert(
            s.id.clone(),
            model::Staff {
                id: s.id,
                name: s.name,
                assigned_organizations: s.assigned_organizations,
                ..Default::default()
            },
        );
    }
    records.into()
}

/// The native side's records in memory, each stamped once when put there,
/// as the host's status cache stamps a record when it reads it: a native
/// integration keeps its records' stamps, it does not hash a record again
/// for every decision (`Records::read`'s default does, for tests).
#[derive(Clone, Default)]
struct Held {
    accounts: HashMap<String, (u64, model::Account)>,
    organizations: HashMap<String, (u64, model::Organization)>,
    staff: HashMap<String, (u64, model::Staff)>,
}

impl From<MemoryRecords> for Held {
    fn from(records: MemoryRecords) -> Self {
        fn stamped<T: Clone>(
            records: HashMap<String, T>,
            found: fn(T) -> Found,
        ) -> HashMap<String, (u64, T)> {
            records
                .into_iter()
                .map(|(id, record)| {
                    let stamp = found(record.clone()).stamp().expect("a record has a stamp");
                    (id, (stamp, record))
                })
                .collect()
        }
        Self {
            accounts: stamped(records.accounts, Found::account),
            organizations: stamped(records.organizations, Found::organization),
            staff: stamped(records.staff, Found::staff),
        }
    }
}

impl Records for Held {
    fn account(&self, id: &str) -> Result<Option<model::Account>, Unavailable> {
        Ok(self.accounts.get(id).map(|(_, a)| a.clone()))
    }

    fn organization(&self, id: &str) -> Result<Option<model::Organization>, Unavailable> {
        Ok(self.organizations.get(id).map(|(_, o)| o.clone()))
    }

    fn staff(&self, id: &str) -> Result<Option<model::Staff>, Unavailable> {
        Ok(self.staff.get(id).map(|(_, s)| s.clone()))
    }

    fn read(
        &self,
        first: Lookup<'_>,
        second: Option<Lookup<'_>>,
    ) -> Result<(Found, Option<Found>), Unavailable> {
        fn found<T: Clone>(
            held: Option<&(u64, T)>,
            known: Option<u64>,
            found: fn(u64, T) -> Found,
        ) -> Found {
            match held {
                None => Found::Missing,
                Some((stamp, _)) if Some(*stamp) == known => Found::Unchanged,
                Some((stamp, record)) => found(*stamp, record.clone()),
            }
        }
        let one = |lookup: Lookup<'_>| match lookup.key {
            Key::Account(id) => found(self.accounts.get(id), lookup.known, Found::Account),
            Key::Organization(id) => found(
                self.organizations.get(id),
                lookup.known,
                Found::Organization,
            ),
            Key::Staff(id) => found(self.staff.get(id), lookup.known, Found::Staff),
        };
        Ok((one(first), second.map(one)))
    }
}

/// Reads the records `r` names from the host's status cache, as the
/// `records` import does before a decision.
async fn read_cached(cache: &Arc<dyn partnergate::cache::StatusCache>, r: &AuthorizeRequest) {
    for reference in [&r.principal, &r.resource] {
        match reference.split_once(':') {
            Some(("customer", id)) => {
                std::hint::black_box(cache.get(id).await.unwrap());
            }
            Some(("organization", id)) => {
                std::hint::black_box(cache.get_organization(id).await.unwrap());
            }
            Some(("staff", id)) => {
                std::hint::black_box(cache.get_staff(id).await.unwrap());
            }
            _ => {}
        }
    }
}

/// Where a decision through the component goes, at p50 over all requests:
/// a call the plugin refuses before reading anything (pool, crossing,
/// request copied in, answer copied out), the host's reads of the two
/// records (natively, no crossing), the memoized native decision
/// (evaluation and stamps), and building entities (native rebuild minus
/// memo). What the component takes beyond their sum is the records
/// crossing and the copies.
async fn breakdown(
    gate: &PartnerGate,
    loaded: &policy_set::LoadedPolicies,
    names: &Names,
    records: &Held,
    requests: &[AuthorizeRequest],
    contexts: &[String],
) {
    let refused = AuthorizeRequest::new("nobody", "browse", "store:main");
    let mut empty = Vec::with_capacity(ITERATIONS);
    let mut reads = Vec::with_capacity(ITERATIONS);
    let mut memo_hit = Vec::with_capacity(ITERATIONS);
    let mut rebuild = Vec::with_capacity(ITERATIONS);
    let mut component = Vec::with_capacity(ITERATIONS);
    let mut memo = Memo::default();
    let cache = gate.cache();
    for i in 0..ITERATIONS {
        let k = i % requests.len();
        let (r, ctx) = (&requests[k], &contexts[k]);
        let req = access::Request {
            principal: &r.principal,
            action: &r.action,
            resource: &r.resource,
            context: ctx,
            organization: None,
        };
        let t = Instant::now();
        std::hint::black_box(gate.authorize(&refused).await.unwrap_err());
        empty.push(t.elapsed());
        let t = Instant::now();
        read_cached(cache, r).await;
        reads.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(
            access::authorize_with(loaded, names, records, &req, Some(&mut memo)).unwrap(),
        );
        memo_hit.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(access::authorize(loaded, names, records, &req).unwrap());
        rebuild.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(gate.authorize(r).await.unwrap());
        component.push(t.elapsed());
    }
    let (empty, reads, memo_hit, rebuild, component) = (
        us(stats(empty).p50),
        us(stats(reads).p50),
        us(stats(memo_hit).p50),
        us(stats(rebuild).p50),
        us(stats(component).p50),
    );
    println!("\nwhere a component decision goes (p50 over all requests):");
    println!("  call refused before any read (pool, crossing, copies)  {empty:>8.2}µs");
    println!("  host cache reads of both records (native)              {reads:>8.2}µs");
    println!("  evaluation with the memo (native)                      {memo_hit:>8.2}µs");
    println!(
        "  entity build (native rebuild {rebuild:.2}µs minus memo)      {:>8.2}µs",
        rebuild - memo_hit
    );
    println!(
        "  records crossing and copies (the rest)                 {:>8.2}µs",
        component - empty - reads - memo_hit
    );
    println!("  component decision                                     {component:>8.2}µs");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    run().await;
}

async fn run() {
    // New decisions first: what checkouts do.
    let big = tempfile::tempdir().unwrap();
    let big_db = big.path().join("bench.db");
    drop(SqliteDirectory::open(&big_db, Clock::system()).unwrap());
    let started = Instant::now();
    users::populate(&big_db);
    println!(
        "directory: 100,000 memberships in 10,000 organizations (SQLite file, WAL), populated in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    let seed = Seed::from_file(&policies_dir().join("directory.json")).unwrap();
    let directory = Arc::new(SqliteDirectory::in_memory(Clock::system()).unwrap());
    seed.load_into(&*directory).await.unwrap();
    let records = native_records(&seed, &directory).await;

    let read = |name: &str| PolicyFile {
        name: name.into(),
        text: std::fs::read_to_string(policies_dir().join(name)).unwrap(),
    };
    let loaded = policy_set::load(
        &read("schema.cedarschema"),
        &[
            read("staff.cedar"),
            read("store.cedar"),
            read("users.cedar"),
        ],
    )
    .ok()
    .unwrap();
    let names = Names::new();
    new_decisions::run(&big_db, &loaded).await;
    if std::env::var_os("PARTNERGATE_BENCH_NEW_ONLY").is_some() {
        return;
    }
    println!("\nrepeated requests: the same five requests again and again");

    let cache_dir = tempfile::tempdir().unwrap();
    let gate = PartnerGate::builder()
        .directory(directory.clone())
        .artifact_cache(cache_dir.path())
        .build()
        .await
        .unwrap();

    // The same host with every decision a plugin call: what a decision costs
    // when it crosses (the plugin's memo still answers inside).
    let crossing = PartnerGate::builder()
        .directory(directory.clone())
        .artifact_cache(cache_dir.path())
        .limits(partnergate::Limits {
            reuse_decisions: 0,
            ..Default::default()
        })
        .build()
        .await
        .unwrap();

    let requests = requests();
    let contexts: Vec<String> = requests.iter().map(|r| r.context.to_string()).collect();
    // The two paths must agree before they are timed.
    for (r, ctx) in requests.iter().zip(&contexts) {
        let req = access::Request {
            principal: &r.principal,
            action: &r.action,
            resource: &r.resource,
            context: ctx,
            organization: None,
        };
        let native = access::authorize(&loaded, &names, &records, &req).unwrap();
        let plugin = gate.authorize(r).await.unwrap();
        assert_eq!(
            native.effect == model::Effect::Allow,
            plugin.is_allowed(),
            "{r:?}"
        );
        assert_eq!(native.policies, plugin.policies, "{r:?}");
        assert_eq!(crossing.authorize(r).await.unwrap(), plugin, "{r:?}");
    }

    println!(
        "authorize: {} requests x {ITERATIONS} iterations, {} policies",
        requests.len(),
        loaded.summary.policies
    );
    // The headline compares the component with the best native integration:
    // the same rules, the same memo, the same records in memory. The native
    // integration that rebuilds every request is the second line.
    println!(
        "{:<44} {:>11} {:>11} {:>11} {:>11} {:>7} {:>7} {:>12}",
        "request",
        "best p50",
        "best p99",
        "plugin p50",
        "plugin p99",
        "p50 x",
        "p99 x",
        "per-req p50"
    );
    let mut all_native = Vec::new();
    let mut all_plugin = Vec::new();
    let mut all_memo = Vec::new();
    let mut all_crossing = Vec::new();
    let mut memo = Memo::default();
    for (r, ctx) in requests.iter().zip(&contexts) {
        let req = access::Request {
            principal: &r.principal,
            action: &r.action,
            resource: &r.resource,
            context: ctx,
            organization: None,
        };
        let mut native = Vec::with_capacity(ITERATIONS);
        let mut best = Vec::with_capacity(ITERATIONS);
        let mut plugin = Vec::with_capacity(ITERATIONS);
        for _ in 0..ITERATIONS / 10 {
            std::hint::black_box(access::authorize(&loaded, &names, &records, &req).unwrap());
            std::hint::black_box(
                access::authorize_with(&loaded, &names, &records, &req, Some(&mut memo)).unwrap(),
            );
            std::hint::black_box(gate.authorize(r).await.unwrap());
            std::hint::black_box(crossing.authorize(r).await.unwrap());
        }
        for _ in 0..ITERATIONS {
            let t = Instant::now();
            std::hint::black_box(access::authorize(&loaded, &names, &records, &req).unwrap());
            native.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(
                access::authorize_with(&loaded, &names, &records, &req, Some(&mut memo)).unwrap(),
            );
            best.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(gate.authorize(r).await.unwrap());
            plugin.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(crossing.authorize(r).await.unwrap());
            all_crossing.push(t.elapsed());
        }
        all_native.extend_from_slice(&native);
        all_memo.extend_from_slice(&best);
        all_plugin.extend_from_slice(&plugin);
        row(
            &format!("{} {} {}", r.principal, r.action, r.resource),
            stats(best),
            stats(plugin),
            stats(native),
        );
    }
    let (n, m, p) = (stats(all_native), stats(all_memo), stats(all_plugin));
    row("all requests", m.clone(), p.clone(), n.clone());
    println!(
        "component / best native: p50 {:.2} (target <= 1.30), p99 {:.2} (target <= 1.50)",
        us(p.p50) / us(m.p50),
        us(p.p99) / us(m.p99)
    );
    let c = stats(all_crossing);
    println!(
        "every decision a plugin call (--reuse-decisions 0): p50 {:.2}µs, p99 {:.2}µs; / best native: p50 {:.2}, p99 {:.2}",
        us(c.p50),
        us(c.p99),
        us(c.p50) / us(m.p50),
        us(c.p99) / us(m.p99)
    );
    println!(
        "second line: component / native rebuilding every request: p50 {:.2}",
        us(p.p50) / us(n.p50)
    );
    let native_p50 = n.p50;
    breakdown(&crossing, &loaded, &names, &records, &requests, &contexts).await;

    // A fresh instance's first decision: instantiate, load the policy set, decide.
    let mut first = Vec::new();
    for _ in 0..20 {
        let fresh = PartnerGate::builder()
            .directory(directory.clone())
            .artifact_cache(cache_dir.path())
            .build()
            .await
            .unwrap();
        // `build` loaded the set into one instance (which validated it); take the pool's other path
        // by issuing two concurrent calls: the second needs a new instance.
        let t = Instant::now();
        let (a, b) = tokio::join!(fresh.authorize(&requests[0]), fresh.authorize(&requests[1]));
        a.unwrap();
        b.unwrap();
        first.push(t.elapsed());
    }
    let f = stats(first);
    println!(
        "two concurrent first calls (one on a fresh instance: instantiate + load policies + decide): p50 {:.0}µs p99 {:.0}µs ({:.0}x native p50)",
        us(f.p50),
        us(f.p99),
        us(f.p50) / us(n.p50)
    );

    // Cold starts: engine, component, policy validation, first instance.
    let empty = tempfile::tempdir().unwrap();
    let t = Instant::now();
    PartnerGate::builder()
        .directory(directory.clone())
        .build()
        .await
        .unwrap();
    let uncached = t.elapsed();
    let t = Instant::now();
    PartnerGate::builder()
        .directory(directory.clone())
        .artifact_cache(empty.path())
        .build()
        .await
        .unwrap();
    let compiled_and_stored = t.elapsed();
    let t = Instant::now();
    PartnerGate::builder()
        .directory(directory.clone())
        .artifact_cache(empty.path())
        .build()
        .await
        .unwrap();
    let cached = t.elapsed();
    println!(
        "cold start: without artifact cache {:.0} ms, first with cache (compile + store) {:.0} ms, with cached artifact {:.1} ms ({:.0}x faster)",
        uncached.as_secs_f64() * 1e3,
        compiled_and_stored.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3,
        uncached.as_secs_f64() / cached.as_secs_f64()
    );

    users::run(&big_db, native_p50).await;
    cache::run(native_p50).await;
}

mod users {
    use super::*;
    use partnergate::model::MemberSort;
    use partnergate::model::{NewUser, Target, UserQuery};

    /// 10,000 organizations of 10 members each (one admin), written directly.
    pub fn populate(path: &std::path::Path) {
        let mut conn = rusqlite::Connection::open(path).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut org = tx
                .prepare("INSERT INTO organizations (id, name, status) VALUES (?1, ?2, 'approved')")
                .unwrap();
            let mut person = tx
                .prepare("INSERT INTO people (id, email, name) VALUES (?1, ?2, ?3)")
                .unwrap();
            let mut member = tx
                .prepare(
                    "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles, spending_limit,
                         invited_at, version, added_seq) VALUES (?1, ?2, 'active', NULL, ?3, '[\"buyer\"]', NULL, NULL, 1, ?4)",
                )
                .unwrap();
            let mut staff_org = tx.prepare("INSERT INTO staff_organizations (staff_id, organization_id) VALUES ('bench', ?1)").unwrap();
            tx.execute(
                "INSERT INTO staff (id, name) VALUES ('bench', 'Bench Staff')",
                [],
            )
            .unwrap();
            let mut seq = 0;
            for o in 0..10_000 {
                let org_id = format!("org{o:05}");
                org.execute(rusqlite::params![org_id, format!("Company {o:05}")])
                    .unwrap();
                if o < 100 {
                    staff_org.execute(rusqlite::params![org_id]).unwrap();
                }
                for p in 0..10 {
                    seq += 1;
                    let id = format!("p{o:05}-{p}");
                    person
                        .execute(rusqlite::params![
                            id,
                            format!("{id}@company{o:05}.test"),
                            format!("Person {p} of {o:05}")
                        ])
                        .unwrap();
                    member
                        .execute(rusqlite::params![id, org_id, p == 0, seq])
                        .unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }

    fn report(label: &str, samples: Vec<Duration>, native_p50: Duration) {
        let s = stats(samples);
        println!(
            "{label:<58} p50 {:>9.1}µs  p99 {:>9.1}µs  ({:.0}x native Cedar p50)",
            us(s.p50),
            us(s.p99),
            us(s.p50) / us(native_p50)
        );
    }

    pub async fn run(path: &std::path::Path, native_p50: Duration) {
        println!("\norganization users: the 100,000 memberships in 10,000 organizations");
        let clock = Clock::system();
        let gate = PartnerGate::builder()
            .directory(Arc::new(
                SqliteDirectory::open(path, clock.clone()).unwrap(),
            ))
            .clock(clock)
            .build()
            .await
            .unwrap();

        let n = 1_000;
        let mut add = Vec::with_capacity(n);
        let mut revoke = Vec::with_capacity(n);
        for i in 0..n {
            let org = format!("org{:05}", i % 10_000);
            let admin = format!("customer:p{:05}-0", i % 10_000);
            let user = NewUser {
                email: format!("bench{i}@x.test"),
                name: format!("Bench {i}"),
                roles: vec![],
                is_admin: false,
                spending_limit: None,
            };
            let t = Instant::now();
            let m = gate.add_user(&admin, &org, user).await.unwrap();
            add.push(t.elapsed());
            let t = Instant::now();
            gate.revoke_user(&admin, Target::person(m.person_id, m.version))
                .await
                .unwrap();
            revoke.push(t.elapsed());
        }
        report(
            "add user (decide + transaction + audit + outbox)",
            add,
            native_p50,
        );
        report(
            "revoke user (read + decide + transaction + audit)",
            revoke,
            native_p50,
        );

        let query = |org: Option<String>, search: Option<String>| UserQuery {
            organizations: org,
            status: None,
            search,
            sort: MemberSort::Name,
            descending: false,
            cursor: None,
            limit: 50,
        };
        let mut own = Vec::new();
        let mut search = Vec::new();
        let mut staff = Vec::new();
        for i in 0..500 {
            let org = format!("org{:05}", (i * 7919) % 10_000);
            let admin = format!("customer:p{}-0", &org[3..]);
            let t = Instant::now();
            let page = gate
                .list_users(&admin, query(Some(org.clone()), None))
                .await
                .unwrap();
            own.push(t.elapsed());
            assert!(page.members.len() >= 10);
            let t = Instant::now();
            gate.list_users(&admin, query(Some(org), Some("person 3".into())))
                .await
                .unwrap();
            search.push(t.elapsed());
        }
        for i in 0..50 {
            let t = Instant::now();
            let page = gate
                .list_users(
                    "staff:bench",
                    query(None, Some(format!("person {}", i % 10))),
                )
                .await
                .unwrap();
            staff.push(t.elapsed());
            assert_eq!(page.members.len(), 50);
        }
        report(
            "list one organization's users (admin, first page of 50)",
            own,
            native_p50,
        );
        report(
            "search one organization by name (admin)",
            search,
            native_p50,
        );
        report(
            "search 100 assigned organizations by name (staff, 50 rows)",
            staff,
            native_p50,
        );
    }
}

mod cache {
    use super::*;
    use partnergate::cache::StatusCache;
    use partnergate::cache::none::NoCache;
    use partnergate::cache::redis::{RedisCache, RedisCacheConfig};

    async fn node(db: &std::path::Path, cache: Arc<dyn StatusCache>) -> PartnerGate {
        let clock = Clock::system();
        PartnerGate::builder()
            .directory(Arc::new(SqliteDirectory::open(db, clock.clone()).unwrap()))
            .cache(cache)
            .clock(clock)
            .artifact_cache(std::env::temp_dir().join("partnergate-bench-artifacts"))
            .build()
            .await
            .unwrap()
    }

    async fn redis_cache(port: u16, l1: bool) -> Arc<RedisCache> {
        let mut config = RedisCacheConfig::new(format!("redis://127.0.0.1:{port}"));
        if !l1 {
            config.l1_ttl = Duration::ZERO;
        }
        let cache = RedisCache::connect(config).await.unwrap();
        assert!(cache.wait_ready(Duration::from_secs(5)).await);
        Arc::new(cache)
    }

    async fn timed(gate: &PartnerGate, request: &AuthorizeRequest, n: usize) -> Vec<Duration> {
        for _ in 0..n / 10 {
            gate.authorize(request).await.unwrap();
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            std::hint::black_box(gate.authorize(request).await.unwrap());
            samples.push(t.elapsed());
        }
        samples
    }

    pub async fn run(native_p50: Duration) {
        let redis = partnergate_testkit::RedisServer::start();
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("shared.db");
        {
            let dir = SqliteDirectory::open(&db, Clock::system()).unwrap();
            Seed::from_file(&policies_dir().join("directory.json"))
                .unwrap()
                .load_into(&dir)
                .await
                .unwrap();
        }
        println!(
            "\nstatus cache: customer:bob browse store:main, SQLite file + redis-server on loopback\n(each decision given again by the host once it has read bob's stamp through the tier named)"
        );
        let request = AuthorizeRequest::new("customer:bob", "browse", "store:main");
        let a = node(&db, redis_cache(redis.port, true).await).await;
        let b_cache = redis_cache(redis.port, true).await;
        let b = node(&db, b_cache.clone()).await;
        let report = |label: &str, samples: Vec<Duration>| {
            let s = stats(samples);
            println!(
                "{label:<44} p50 {:>8.2}µs  p99 {:>8.2}µs  {:>5.2}x native p50",
                us(s.p50),
                us(s.p99),
                us(s.p50) / us(native_p50)
            );
        };
        report(
            "first-level (in-process) hit",
            timed(&b, &request, 20_000).await,
        );
        let before = b_cache.stats();
        assert!(before.l1_hits > 10_000, "{before:?}");
        let redis_only = node(&db, redis_cache(redis.port, false).await).await;
        report(
            "Redis hit (first level off)",
            timed(&redis_only, &request, 5_000).await,
        );
        let uncached = node(&db, Arc::new(NoCache)).await;
        report(
            "miss: read from SQLite",
            timed(&uncached, &request, 5_000).await,
        );

        // Revoke on A, first denial on B.
        let dir = SqliteDirectory::open(&db, Clock::system()).unwrap();
        let mut propagation = Vec::new();
        for _ in 0..200 {
            assert!(b.authorize(&request).await.unwrap().is_allowed());
            // The version is read before the clock starts.
            let bob = partnergate_testkit::target(&dir, "bob").await;
            let t = Instant::now();
            a.revoke_user("customer:alice", bob).await.unwrap();
            while b.authorize(&request).await.unwrap().is_allowed() {}
            propagation.push(t.elapsed());
            a.reinstate_user(
                "customer:alice",
                partnergate_testkit::target(&dir, "bob").await,
            )
            .await
            .unwrap();
            while !b.authorize(&request).await.unwrap().is_allowed() {}
        }
        let s = stats(propagation);
        println!(
            "revoke on node A to first denial on node B: p50 {:.2} ms  p99 {:.2} ms (target p99 < 50 ms)",
            us(s.p50) / 1e3,
            us(s.p99) / 1e3
        );

        // HTTP throughput with 64 concurrent clients.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(partnergate::server::serve(
            listener,
            b.clone(),
            None,
            async {
                let _ = stopped.await;
            },
        ));
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/v1/authorize");
        let body = serde_json::to_vec(&request).unwrap();
        let per_client = 500;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_client {
                    let res = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    assert!(res.status().is_success());
                    res.bytes().await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed();
        println!(
            "POST /v1/authorize over loopback, 64 concurrent clients: {:.0} requests/s ({} requests in {:.2} s, client and server on the same 2 cores)",
            (64 * per_client) as f64 / elapsed.as_secs_f64(),
            64 * per_client,
            elapsed.as_secs_f64()
        );
        let _ = stop.send(());
        let _ = server.await;
    }
}

/// New decisions: what checkouts do. Every request differs from every
/// earlier one: its principal is drawn from the 100,000 memberships, its
/// order total is drawn per request, and it asks any action of the schema.
/// The component (with the host's reuse and the plugin's memo on, as
/// shipped: they cannot help a new request, they only cost) against the
/// native integration that builds each request from the same records in
/// memory (the plugin's rules compiled for the host).
mod new_decisions {
    use super::*;
    use std::collections::BTreeMap;

    /// Actions asked by customers, and what their resource is.
    const CUSTOMER_ACTIONS: &[(&str, &str)] = &[
        ("browse", "store"),
        ("placeOrder", "store"),
        ("addUser", "organization"),
        ("listUsers", "organization"),
        ("viewAudit", "organization"),
        ("designateAdmin", "customer"),
        ("demoteAdmin", "customer"),
        ("viewUser", "customer"),
        ("editUser", "customer"),
        ("removeUser", "customer"),
        ("revokeUser", "customer"),
        ("reinstateUser", "customer"),
        ("reinviteUser", "customer"),
    ];

    /// Actions only staff ask.
    const STAFF_ACTIONS: &[(&str, &str)] = &[
        ("approveOnboarding", "onboarding"),
        ("rejectOnboarding", "onboarding"),
        ("listOnboarding", "store"),
        ("createOrganization", "store"),
    ];

    /// Staff members `st0000`… added for these requests, each assigned
    /// three organizations.
    const STAFF: u64 = 2_000;

    /// Adds the [`STAFF`] members to the directory at `db`.
    fn add_staff(db: &std::path::Path) {
        let mut conn = rusqlite::Connection::open(db).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..STAFF {
            let id = format!("st{i:04}");
            tx.execute(
                "INSERT INTO staff (id, name) VALUES (?1, ?2)",
                rusqlite::params![id, format!("Staff {i}")],
            )
            .unwrap();
            for k in 0..3 {
                tx.execute(
                    "INSERT INTO staff_organizations (staff_id, organization_id) VALUES (?1, ?2)",
                    rusqlite::params![id, format!("org{:05}", (i * 7 + k * 3331) % 10_000)],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }

    /// xorshift64*: the bench's own draws, the same in every run.
    struct Draw(u64);

    impl Draw {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// `n` requests, each new: a member of a random organization asks a
    /// random action, on a member or the organization of the same one (so
    /// administrators' decisions are allowed as often as not); every tenth
    /// is staff's.
    pub fn requests(n: usize, seed: u64) -> Vec<AuthorizeRequest> {
        let mut draw = Draw(seed);
        let mut requests = Vec::with_capacity(n);
        for i in 0..n {
            let org = draw.below(10_000);
            let person = |k: u64| format!("customer:p{org:05}-{k}");
            let staff = i % 10 == 9;
            let (principal, (action, kind)) = if staff {
                let all: Vec<_> = CUSTOMER_ACTIONS[2..].iter().chain(STAFF_ACTIONS).collect();
                (
                    format!("staff:st{:04}", draw.below(STAFF)),
                    *all[draw.below(all.len() as u64) as usize],
                )
            } else {
                (
                    person(draw.below(10)),
                    CUSTOMER_ACTIONS[draw.below(CUSTOMER_ACTIONS.len() as u64) as usize],
                )
            };
            let resource = match kind {
                "store" => "store:main".to_string(),
                "organization" => format!("organization:org{org:05}"),
                "customer" => person(draw.below(10)),
                _ => format!("onboarding:req{}", draw.next()),
            };
            let mut request = AuthorizeRequest::new(principal, action, resource);
            // Each request is new: a drawn total, or a request id in the
            // context of actions that take none is refused, so the
            // principal and resource make it new (the draw of 100,000
            // principals and a changing total leave repeats to chance).
            if action == "placeOrder" {
                request = request.with_context(json!({"orderTotal": 1 + draw.below(200_000)}));
            }
            requests.push(request);
        }
        requests
    }

    /// The records `requests` name, read from `dir` into the native model.
    async fn records_of(dir: &SqliteDirectory, requests: &[AuthorizeRequest]) -> Held {
        let mut records = MemoryRecords::default();
        for r in requests {
            for reference in [&r.principal, &r.resource] {
                match reference.split_once(':') {
                    Some(("customer", id)) if !records.accounts.contains_key(id) => {
                        if let Some(a) = dir.get_account(id).await.unwrap() {
                            records.accounts.insert(id.into(), a);
                        }
                    }
                    Some(("organization", id)) if !records.organizations.contains_key(id) => {
                        if let Some(o) = dir.get_organization(id).await.unwrap() {
                            records.organizations.insert(id.into(), o);
                        }
                    }
                    Some(("staff", id)) if !records.staff.contains_key(id) => {
                        if let Some(s) = dir.get_staff(id).await.unwrap() {
                            records.staff.insert(
                                id.into(),
                                model::Staff {
                                    id: s.id,
                                    name: s.name,
                                    assigned_organizations: s.assigned_organizations,
                                    ..Default::default()
                                },
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        records.into()
    }

    /// Puts every record `requests` name in the host's status cache (the
    /// in-process one), as the native side holds them in memory: both then
    /// read the same records from memory, and neither reads SQLite.
    async fn warm_cache(gate: &PartnerGate, dir: &SqliteDirectory, requests: &[AuthorizeRequest]) {
        use partnergate::cache::{CacheRead, Stamped};
        let cache = gate.cache();
        for r in requests {
            for reference in [&r.principal, &r.resource] {
                match reference.split_once(':') {
                    Some(("customer", id)) => {
                        if let CacheRead::Miss(ticket) = cache.get(id).await.unwrap()
                            && let Some(a) = dir.get_account(id).await.unwrap()
                        {
                            cache.put(Stamped::shared(a), ticket).await.unwrap();
                        }
                    }
                    Some(("organization", id)) => {
                        if let CacheRead::Miss(ticket) = cache.get_organization(id).await.unwrap()
                            && let Some(o) = dir.get_organization(id).await.unwrap()
                        {
                            cache
                                .put_organization(Stamped::shared(o), ticket)
                                .await
                                .unwrap();
                        }
                    }
                    Some(("staff", id)) => {
                        if let CacheRead::Miss(ticket) = cache.get_staff(id).await.unwrap()
                            && let Some(s) = dir.get_staff(id).await.unwrap()
                        {
                            cache.put_staff(Stamped::shared(s), ticket).await.unwrap();
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn line(what: &str, native: &Stats, plugin: &Stats, n: usize) {
        println!(
            "{:<22} {:>6} {:>9.2}µs {:>9.2}µs {:>9.2}µs {:>9.2}µs {:>6.2}x {:>6.2}x",
            what,
            n,
            us(native.p50),
            us(native.p99),
            us(plugin.p50),
            us(plugin.p99),
            us(plugin.p50) / us(native.p50),
            us(plugin.p99) / us(native.p99),
        );
    }

    /// Runs the new-decision lines on the 100,000-membership directory at
    /// `db`; returns the native per-request p50 over all.
    pub async fn run(db: &std::path::Path, loaded: &policy_set::LoadedPolicies) -> Duration {
        // 100,000: the actions only staff ask get about 650 requests each, so
        // their p99 is not one slow sample.
        const N: usize = 100_000;
        add_staff(db);
        let names = Names::new();
        let clock = Clock::system();
        let dir = Arc::new(SqliteDirectory::open(db, clock.clone()).unwrap());
        let gate = PartnerGate::builder()
            .directory(dir.clone())
            .clock(clock)
            .artifact_cache(std::env::temp_dir().join("partnergate-bench-artifacts"))
            .build()
            .await
            .unwrap();
        // Warm-up requests are drawn apart from the timed ones.
        let warm = requests(2_000, 0x5EED_0001);
        let timed = requests(N, 0x5EED_0002);
        let all: Vec<AuthorizeRequest> = warm.iter().chain(&timed).cloned().collect();
        let records = records_of(&dir, &all).await;
        warm_cache(&gate, &dir, &all).await;
        let contexts: Vec<String> = all.iter().map(|r| r.context.to_string()).collect();
        let native_decide = |i: usize| {
            let r = &all[i];
            let req = access::Request {
                principal: &r.principal,
                action: &r.action,
                resource: &r.resource,
                context: &contexts[i],
                organization: None,
            };
            access::authorize(loaded, &names, &records, &req)
        };
        let mut allowed = 0;
        for (i, r) in warm.iter().enumerate() {
            let native = native_decide(i).unwrap();
            let plugin = gate.authorize(r).await.unwrap();
            assert_eq!(
                native.effect == model::Effect::Allow,
                plugin.is_allowed(),
                "{r:?}"
            );
            assert_eq!(native.policies, plugin.policies, "{r:?}");
        }
        let mut by_action: BTreeMap<String, (Vec<Duration>, Vec<Duration>)> = BTreeMap::new();
        let (mut native_all, mut plugin_all) = (Vec::with_capacity(N), Vec::with_capacity(N));
        // The best native integration: the same rules with the same memo
        // (entities kept per record), over the same records in memory.
        let mut best_all = Vec::with_capacity(N);
        let mut memo = Memo::default();
        for (i, r) in warm.iter().enumerate() {
            let req = access::Request {
                principal: &r.principal,
                action: &r.action,
                resource: &r.resource,
                context: &contexts[i],
                organization: None,
            };
            access::authorize_with(loaded, &names, &records, &req, Some(&mut memo)).unwrap();
        }
        if std::env::var_os("PARTNERGATE_BENCH_PROFILE").is_some() {
            // For a profiler: the component alone deciding the timed
            // requests, each new, with nothing else in the process's time.
            let t = Instant::now();
            for r in &timed {
                std::hint::black_box(gate.authorize(r).await.unwrap());
            }
            println!(
                "profile: {N} new decisions through the component in {:.2?}",
                t.elapsed()
            );
            std::process::exit(0);
        }
        // Each side meets its own records as a checkout does: cold (the
        // 100,000 accounts do not fit the CPU's caches), and no side warms
        // them for another (each reads its own copies). The sides take
        // turns by blocks of requests, so that a machine whose speed drifts
        // during the run (seen here: the same side 1.6x slower a minute
        // later) slows all three alike and the ratios hold.
        const BLOCK: usize = 1_000;
        let request_of = |i: usize| {
            let r = &all[i];
            access::Request {
                principal: &r.principal,
                action: &r.action,
                resource: &r.resource,
                context: &contexts[i],
                organization: None,
            }
        };
        for block in (0..N).step_by(BLOCK) {
            let block = block..(block + BLOCK).min(N);
            let mut native_decisions = Vec::with_capacity(BLOCK);
            for j in block.clone() {
                let i = warm.len() + j;
                let t = Instant::now();
                let native = std::hint::black_box(native_decide(i).unwrap());
                native_all.push(t.elapsed());
                native_decisions.push(native.effect == model::Effect::Allow);
            }
            for j in block.clone() {
                let req = request_of(warm.len() + j);
                let t = Instant::now();
                std::hint::black_box(
                    access::authorize_with(loaded, &names, &records, &req, Some(&mut memo))
                        .unwrap(),
                );
                best_all.push(t.elapsed());
            }
            for (j, native_allowed) in block.zip(native_decisions) {
                let r = &timed[j];
                let t = Instant::now();
                let plugin = std::hint::black_box(gate.authorize(r).await.unwrap());
                let plugin_took = t.elapsed();
                assert_eq!(native_allowed, plugin.is_allowed(), "{r:?}");
                allowed += usize::from(plugin.is_allowed());
                let entry = by_action.entry(r.action.clone()).or_default();
                entry.0.push(native_all[j]);
                entry.1.push(plugin_took);
                plugin_all.push(plugin_took);
            }
        }
        println!(
            "new decisions: {N} requests, each new (principals drawn from 100,000 memberships, orderTotal drawn per order, {} actions), {allowed} allowed",
            by_action.len()
        );
        println!(
            "{:<22} {:>6} {:>11} {:>11} {:>11} {:>11} {:>7} {:>7}",
            "action", "n", "native p50", "native p99", "plugin p50", "plugin p99", "p50 x", "p99 x"
        );
        for (action, (native, plugin)) in by_action {
            let n = native.len();
            line(&action, &stats(native), &stats(plugin), n);
        }
        let (native, plugin, best) = (stats(native_all), stats(plugin_all), stats(best_all));
        line("all new decisions", &native, &plugin, N);
        println!(
            "new decisions, component / native per-request: p50 {:.2} (target <= 1.50), p99 {:.2} (target <= 2.00)",
            us(plugin.p50) / us(native.p50),
            us(plugin.p99) / us(native.p99)
        );
        println!(
            "new decisions, best native (the plugin's memo natively: entities kept per record) p50 {:.2}µs p99 {:.2}µs; component / best native: p50 {:.2}, p99 {:.2}",
            us(best.p50),
            us(best.p99),
            us(plugin.p50) / us(best.p50),
            us(plugin.p99) / us(best.p99)
        );
        breakdown(
            &gate,
            loaded,
            &names,
            &records,
            &all[warm.len()..],
            &contexts[warm.len()..],
        )
        .await;
        one_buyer(&gate, &dir, loaded, &names, &records).await;
        memory(&gate).await;
        native.p50
    }

    /// New orders of one buyer (every total new): the plugin keeps the
    /// buyer's entities, so only the order is built.
    async fn one_buyer(
        gate: &PartnerGate,
        dir: &SqliteDirectory,
        loaded: &policy_set::LoadedPolicies,
        names: &Names,
        records: &Held,
    ) {
        const N: u64 = 20_000;
        let buyer = "customer:p00042-3";
        let context = |i: u64| json!({"orderTotal": 1 + i * 7});
        let request = |i: u64| {
            AuthorizeRequest::new(buyer, "placeOrder", "store:main").with_context(context(i))
        };
        let (mut native, mut best, mut plugin) = (Vec::new(), Vec::new(), Vec::new());
        let mut memo = Memo::default();
        let mut records = records.clone();
        let id = buyer.split_once(':').unwrap().1;
        let dir_account = dir.get_account(id).await.unwrap().unwrap();
        let stamp = Found::account(dir_account.clone())
            .stamp()
            .expect("an account has a stamp");
        records.accounts.insert(id.into(), (stamp, dir_account));
        for i in 0..N + 1_000 {
            let r = request(i);
            let text = r.context.to_string();
            let req = access::Request {
                principal: &r.principal,
                action: &r.action,
                resource: &r.resource,
                context: &text,
                organization: None,
            };
            let t = Instant::now();
            std::hint::black_box(access::authorize(loaded, names, &records, &req).unwrap());
            let n = t.elapsed();
            let t = Instant::now();
            std::hint::black_box(
                access::authorize_with(loaded, names, &records, &req, Some(&mut memo)).unwrap(),
            );
            let b = t.elapsed();
            let t = Instant::now();
            std::hint::black_box(gate.authorize(&r).await.unwrap());
            let p = t.elapsed();
            if i >= 1_000 {
                native.push(n);
                best.push(b);
                plugin.push(p);
            }
        }
        let (native, best, plugin) = (stats(native), stats(best), stats(plugin));
        println!(
            "\none buyer's new orders (each total new; the buyer's entities kept): component p50 {:.2}µs p99 {:.2}µs; native per-request p50 {:.2}µs p99 {:.2}µs ({:.2}x, {:.2}x); native with the same memo p50 {:.2}µs p99 {:.2}µs ({:.2}x, {:.2}x)",
            us(plugin.p50),
            us(plugin.p99),
            us(native.p50),
            us(native.p99),
            us(plugin.p50) / us(native.p50),
            us(plugin.p99) / us(native.p99),
            us(best.p50),
            us(best.p99),
            us(plugin.p50) / us(best.p50),
            us(plugin.p99) / us(best.p99),
        );
    }

    /// Resident size of this process, in MiB.
    fn resident_mib() -> f64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096.0 / (1024.0 * 1024.0)
    }

    /// Resident size after 100,000 and after 1,000,000 new decisions, asked
    /// by 64 tasks at once so that every instance of the pool (32) is used
    /// and fills its memo.
    async fn memory(gate: &PartnerGate) {
        const TASKS: u64 = 64;
        let decide = |from: u64, to: u64| {
            let mut tasks = Vec::new();
            for t in 0..TASKS {
                let gate = gate.clone();
                tasks.push(tokio::spawn(async move {
                    let mut i = from + t;
                    while i < to {
                        let org = i % 10_000;
                        let request = AuthorizeRequest::new(
                            format!("customer:p{org:05}-{}", (i / 10_000) % 10),
                            "placeOrder",
                            "store:main",
                        )
                        .with_context(json!({"orderTotal": i}));
                        gate.authorize(&request).await.unwrap();
                        i += TASKS;
                    }
                }));
            }
            async move {
                for task in tasks {
                    task.await.unwrap();
                }
            }
        };
        let before = resident_mib();
        decide(0, 100_000).await;
        let at_100k = resident_mib();
        let started = Instant::now();
        decide(100_000, 1_000_000).await;
        let at_1m = resident_mib();
        println!(
            "\nresident size: {before:.0} MiB before, {at_100k:.0} MiB after 100,000 new decisions, {at_1m:.0} MiB after 1,000,000 ({:+.1}%; 900,000 decided in {:.1} s by {TASKS} tasks, {} instances idle)",
            (at_1m / at_100k - 1.0) * 100.0,
            started.elapsed().as_secs_f64(),
            gate.idle_instances()
        );
    }

    /// Where a new decision's time goes, at p50 over the timed requests.
    /// The plugin's own stages are timed natively (the same code); the
    /// component's crossing and the host's record reads are timed through
    /// the host; what the component takes beyond their sum is the stages
    /// running as WebAssembly and the records' copies.
    async fn breakdown(
        gate: &PartnerGate,
        loaded: &policy_set::LoadedPolicies,
        names: &Names,
        records: &Held,
        requests: &[AuthorizeRequest],
        contexts: &[String],
    ) {
        use cedar_policy::{Authorizer, Context, Request as CedarRequest};
        let refused = AuthorizeRequest::new("nobody", "browse", "store:main");
        let cache = gate.cache();
        let n = requests.len().min(5_000);
        let mut t_cross = Vec::with_capacity(n);
        let mut t_reads = Vec::with_capacity(n);
        let mut t_copy = Vec::with_capacity(n);
        let mut t_key = Vec::with_capacity(n);
        let mut t_entities = Vec::with_capacity(n);
        let mut t_context = Vec::with_capacity(n);
        let mut t_request = Vec::with_capacity(n);
        let mut t_eval = Vec::with_capacity(n);
        let mut t_answer = Vec::with_capacity(n);
        let mut t_memo = Vec::with_capacity(n);
        let mut t_native = Vec::with_capacity(n);
        let mut memo = Memo::default();
        for (r, ctx) in requests.iter().zip(contexts).take(n) {
            let t = Instant::now();
            std::hint::black_box(gate.authorize(&refused).await.unwrap_err());
            t_cross.push(t.elapsed());
            let t = Instant::now();
            read_cached(cache, r).await;
            t_reads.push(t.elapsed());
            let req = access::Request {
                principal: &r.principal,
                action: &r.action,
                resource: &r.resource,
                context: ctx,
                organization: None,
            };
            // The records copied out of the native store (what the
            // component's copies across the boundary stand in for).
            let t = Instant::now();
            let (principal_id, resource_id) = (
                r.principal.split_once(':').unwrap().1,
                r.resource.split_once(':').unwrap().1,
            );
            let account = if r.principal.starts_with("customer:") {
                records.account(principal_id).unwrap()
            } else {
                None
            };
            let staff = if r.principal.starts_with("staff:") {
                records.staff(principal_id).unwrap()
            } else {
                None
            };
            let resource_account = if r.resource.starts_with("customer:") {
                records.account(resource_id).unwrap()
            } else {
                None
            };
            let resource_org = if r.resource.starts_with("organization:") {
                records.organization(resource_id).unwrap()
            } else {
                None
            };
            t_copy.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(format!(
                "{}:{}{}:{}{}",
                r.principal.len(),
                r.principal,
                r.action.len(),
                r.action,
                r.resource
            ));
            t_key.push(t.elapsed());
            let action = loaded
                .actions
                .keys()
                .find(|a| a.id().unescaped() == r.action)
                .unwrap()
                .clone();
            let slice = &loaded.actions[&action];
            let t = Instant::now();
            let mut entities = vec![slice.entity.clone()];
            let mut orgs = std::collections::HashSet::new();
            for a in account.iter().chain(&resource_account) {
                entities.push(Arc::new(access::customer_entity(names, a)));
                if let Some(o) = &a.organization
                    && orgs.insert(o.id.clone())
                {
                    entities.push(Arc::new(access::organization_entity(names, o)));
                }
            }
            if let Some(o) = &resource_org
                && orgs.insert(o.id.clone())
            {
                entities.push(Arc::new(access::organization_entity(names, o)));
            }
            if let Some(s) = &staff {
                entities.push(Arc::new(access::staff_entity(names, s)));
            }
            let uid = |reference: &str| {
                let (kind, id) = reference.split_once(':').unwrap();
                let kind = match kind {
                    "customer" => "Customer",
                    "staff" => "Staff",
                    "organization" => "Organization",
                    "store" => "Store",
                    _ => "OnboardingRequest",
                };
                cedar_policy::EntityUid::from_type_name_and_id(
                    format!("PartnerGate::{kind}").parse().unwrap(),
                    cedar_policy::EntityId::new(id),
                )
            };
            let (p, res) = (uid(&r.principal), uid(&r.resource));
            if !r.resource.starts_with("customer:") && !r.resource.starts_with("organization:") {
                entities.push(Arc::new(access::bare_entity(&res)));
            }
            let entities = access::store(entities).unwrap();
            t_entities.push(t.elapsed());
            let t = Instant::now();
            let text = if ctx.trim().is_empty() {
                "{}"
            } else {
                ctx.as_str()
            };
            let context = Context::from_json_str(text, Some((&loaded.schema, &action))).unwrap();
            t_context.push(t.elapsed());
            let t = Instant::now();
            let request = CedarRequest::new(p, action, res, context, None).unwrap();
            t_request.push(t.elapsed());
            let t = Instant::now();
            let response = Authorizer::new().is_authorized(&request, &slice.policies, &entities);
            t_eval.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(access::diagnostics(&response));
            t_answer.push(t.elapsed());
            // Memo bookkeeping: the memoized path minus the plain one, on
            // the same new request.
            let t = Instant::now();
            std::hint::black_box(access::authorize(loaded, names, records, &req).unwrap());
            let plain = t.elapsed();
            t_native.push(plain);
            let t = Instant::now();
            std::hint::black_box(
                access::authorize_with(loaded, names, records, &req, Some(&mut memo)).unwrap(),
            );
            t_memo.push(t.elapsed().saturating_sub(plain));
        }
        let p = |v: Vec<Duration>| us(stats(v).p50);
        println!("\nwhere a new decision's time goes (p50 over {n} new requests):");
        // What every call's future holds (and moves): the slow paths
        // (instantiating, loading, checking a reused decision's stamps)
        // are boxed so that it stays small.
        println!(
            "  {:<70} {:>8} B",
            "a decision's future (PartnerGate::authorize)",
            std::mem::size_of_val(&gate.authorize(&refused))
        );
        let rows = [
            (
                "crossing: a call refused before any read (pool, copies in and out)",
                p(t_cross),
            ),
            (
                "records read by the host (status cache, natively)",
                p(t_reads),
            ),
            ("records copied out of the store (native)", p(t_copy)),
            ("memo key (native)", p(t_key)),
            ("entity building (native)", p(t_entities)),
            ("context parse, typed by the schema (native)", p(t_context)),
            (
                "request built, no second schema check (native)",
                p(t_request),
            ),
            ("evaluation (native)", p(t_eval)),
            ("answer: deciding policies and errors (native)", p(t_answer)),
            ("memo bookkeeping: memoized minus plain (native)", p(t_memo)),
        ];
        for (what, took) in rows {
            println!("  {what:<70} {took:>8.2}µs");
        }
        println!(
            "  {:<70} {:>8.2}µs",
            "native per-request decision, all of the above in one",
            p(t_native)
        );
        let component = {
            let mut v = Vec::with_capacity(n);
            for r in requests.iter().skip(n).take(n) {
                let t = Instant::now();
                std::hint::black_box(gate.authorize(r).await.unwrap());
                v.push(t.elapsed());
            }
            v
        };
        if !component.is_empty() {
            println!(
                "  {:<70} {:>8.2}µs",
                "component, new requests not yet asked",
                p(component)
            );
        }
    }
}
