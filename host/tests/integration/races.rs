//! A change holds on the next request, whatever races it (issue #23):
//! readers asking about a user while an administrator revokes and
//! reinstates them, with unrelated edits alongside, on every cache (in
//! process, Redis with two nodes) and every directory (SQLite, PostgreSQL).
//! Each run counts the allows of requests sent after a revocation returned
//! and answered before the reinstatement began: they must be 0.

use super::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::RedisServer;
use partnergate::PartnerGate;
use partnergate::cache::StatusCache;
use partnergate::cache::redis::{RedisCache, RedisCacheConfig};
use partnergate::clock::Clock;
use partnergate::directory::Directory;
use partnergate::directory::postgres::PostgresDirectory;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::model::Membership;
use partnergate::model::{Target, UserChanges};
use partnergate_testkit::PostgresServer;

/// Revoke/reinstate rounds per run.
const ROUNDS: usize = 1000;
/// Concurrent readers per run.
const READERS: usize = 4;

/// What the services of a run are kept alive by.
#[allow(dead_code)]
pub enum Keep {
    Dir(tempfile::TempDir),
    Postgres(PostgresServer),
    Redis(RedisServer),
}

/// Which directory a run uses.
#[derive(Clone, Copy)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// Opens `nodes` directories on one new database of `store` (the first
/// seeded with the sample records).
pub async fn directories(store: Store, nodes: usize) -> (Vec<Arc<dyn Directory>>, Vec<Keep>) {
    let clock = Clock::system();
    let seed = Seed::from_file(&common::policies_dir().join("directory.json")).unwrap();
    let mut keep = Vec::new();
    let mut dirs: Vec<Arc<dyn Directory>> = Vec::new();
    match store {
        Store::Sqlite => {
            let tmp = tempfile::tempdir().unwrap();
            let db = tmp.path().join("races.db");
            for _ in 0..nodes {
                dirs.push(Arc::new(SqliteDirectory::open(&db, clock.clone()).unwrap()));
            }
            keep.push(Keep::Dir(tmp));
        }
        Store::Postgres => {
            let server = PostgresServer::start();
            let url = server.new_database();
            for _ in 0..nodes {
                dirs.push(Arc::new(
                    PostgresDirectory::connect(&url, 8, clock.clone())
                        .await
                        .unwrap(),
                ));
            }
            keep.push(Keep::Postgres(server));
        }
    }
    seed.load_into(&*dirs[0]).await.unwrap();
    (dirs, keep)
}

/// A node on `dir` with `cache` (the in-process default when `None`).
pub async fn node_on(dir: Arc<dyn Directory>, cache: Option<Arc<RedisCache>>) -> PartnerGate {
    node_with(dir, cache, common::limits()).await
}

/// [`node_on`] with `limits`: the default ones for a test about the call's
/// deadline.
pub async fn node_with(
    dir: Arc<dyn Directory>,
    cache: Option<Arc<RedisCache>>,
    limits: partnergate::Limits,
) -> PartnerGate {
    let mut builder = PartnerGate::builder()
        .limits(limits)
        .directory(dir)
        .artifact_cache(common::artifact_dir());
    if let Some(cache) = cache {
        builder = builder
            .cache(cache.clone() as Arc<dyn StatusCache>)
            .ephemeral(cache);
    }
    let gate = builder.build().await.unwrap();
    common::warm(&gate, READERS + 2).await;
    gate
}

/// A Redis cache on `redis`, connected.
pub async fn redis_cache(redis: &RedisServer) -> Arc<RedisCache> {
    let cache = Arc::new(
        RedisCache::connect(RedisCacheConfig::new(redis.url()))
            .await
            .unwrap(),
    );
    assert!(cache.wait_ready(Duration::from_secs(5)).await);
    cache
}

/// One node with the in-process cache, or two sharing one Redis.
async fn nodes(store: Store, redis: bool) -> (Vec<PartnerGate>, Vec<Keep>) {
    let count = if redis { 2 } else { 1 };
    let (dirs, mut keep) = directories(store, count).await;
    let server = redis.then(RedisServer::start);
    let mut gates = Vec::new();
    for dir in dirs {
        let cache = match &server {
            Some(server) => Some(redis_cache(server).await),
            None => None,
        };
        gates.push(node_on(dir, cache).await);
    }
    keep.extend(server.map(Keep::Redis));
    (gates, keep)
}

pub async fn browses(gate: &PartnerGate, person: &str) -> bool {
    common::decide(gate, &format!("customer:{person}"), "browse", "store:main")
        .await
        .is_allowed()
}

/// What readers saw: when each request was sent, when it was answered, and
/// whether it was allowed.
type Seen = Vec<(Instant, Instant, bool)>;

/// Runs `ROUNDS` revoke/reinstate rounds of bob by alice on the first node,
/// with carol's name edited on the last node meanwhile and `READERS`
/// readers asking about bob on every node; the allows of requests sent
/// after a revoke returned and answered before the reinstate began, and how
/// many such requests there were.
async fn race(gates: &[PartnerGate]) -> (usize, usize) {
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for i in 0..READERS {
        let gate = gates[i % gates.len()].clone();
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut seen: Seen = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let allowed = browses(&gate, "bob").await;
                seen.push((sent, Instant::now(), allowed));
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    let editor = {
        let gate = gates[gates.len() - 1].clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut edits = 0;
            let mut version = None;
            while !done.load(Ordering::Relaxed) {
                let target = Target {
                    person_id: "carol".into(),
                    organization_id: None,
                    version: match version {
                        Some(v) => v,
                        None => version_of(&gate, "carol").await,
                    },
                };
                let changes = UserChanges {
                    name: Some(format!("Carol {edits}")),
                    email: None,
                    roles: None,
                    is_admin: None,
                    spending_limit: None,
                };
                version = gate
                    .edit_user("customer:alice", target, changes)
                    .await
                    .ok()
                    .map(|m| m.version);
                edits += 1;
            }
            edits
        })
    };
    let writer = &gates[0];
    let mut revoked: Vec<(Instant, Instant)> = Vec::new();
    for _ in 0..ROUNDS {
        again(writer, "bob", |target| {
            writer.revoke_user("customer:alice", target)
        })
        .await;
        let returned = Instant::now();
        // Give the readers a moment with bob revoked.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let reinstating = Instant::now();
        again(writer, "bob", |target| {
            writer.reinstate_user("customer:alice", target)
        })
        .await;
        revoked.push((returned, reinstating));
    }
    done.store(true, Ordering::Relaxed);
    let edits = editor.await.unwrap();
    assert!(edits > 0, "the unrelated edits ran alongside");
    let mut seen: Seen = Vec::new();
    for reader in readers {
        seen.extend(reader.await.unwrap());
    }
    // The windows are in order and apart: a request was asked and answered
    // while bob was revoked when it was sent after the last window to open
    // before it opened, and answered before that window closed (an answer
    // after the reinstatement began may rightly see it).
    let revoked_while = |sent: &Instant, answered: &Instant| {
        let opened = revoked.partition_point(|(from, _)| from <= sent);
        opened > 0 && *answered < revoked[opened - 1].1
    };
    let during: Vec<bool> = seen
        .iter()
        .filter(|(sent, answered, _)| revoked_while(sent, answered))
        .map(|(_, _, allowed)| *allowed)
        .collect();
    let stale = during.iter().filter(|allowed| **allowed).count();
    let during = during.len();
    (stale, during)
}

/// Runs a change on `person` until it commits, reading their version
/// again after each conflict (a lost serialization race with the unrelated
/// edits, which a client answers by trying again).
async fn again<F, Fut>(gate: &PartnerGate, person: &str, change: F) -> Membership
where
    F: Fn(Target) -> Fut,
    Fut: std::future::Future<Output = Result<Membership, partnergate::Error>>,
{
    for _ in 0..20 {
        let target = Target {
            person_id: person.into(),
            organization_id: None,
            version: version_of(gate, person).await,
        };
        match change(target).await {
            Ok(m) => return m,
            Err(partnergate::Error::Conflict(_)) => {}
            Err(err) => panic!("{person}: {err}"),
        }
    }
    panic!("{person}: the change kept conflicting")
}

/// `person`'s membership version as their administrator alice sees it.
async fn version_of(gate: &PartnerGate, person: &str) -> u64 {
    gate.get_user("customer:alice", person)
        .await
        .unwrap()
        .and_then(|view| view.member.membership)
        .unwrap_or_else(|| panic!("alice sees no membership of `{person}`"))
        .version
}

async fn no_stale_allows(store: Store, redis: bool) {
    let (gates, _keep) = nodes(store, redis).await;
    let (stale, during) = race(&gates).await;
    eprintln!("{stale} stale allows of {during} requests sent while bob was revoked");
    assert!(during > 0, "readers asked while bob was revoked");
    assert_eq!(
        stale, 0,
        "requests sent after a revoke returned were allowed"
    );
    // And the end state holds on every node.
    for gate in &gates {
        assert!(browses(gate, "bob").await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_revokes_see_no_old_record_in_process_on_sqlite() {
    no_stale_allows(Store::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_revokes_see_no_old_record_in_process_on_postgres() {
    no_stale_allows(Store::Postgres, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_revokes_see_no_old_record_on_two_redis_nodes_on_sqlite() {
    no_stale_allows(Store::Sqlite, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_revokes_see_no_old_record_on_two_redis_nodes_on_postgres() {
    no_stale_allows(Store::Postgres, true).await;
}

/// Issue #23 item 4: gail (globex's administrator) adds users while gina,
/// globex's other administrator, revokes gail. An add decided before the
/// revocation must not commit after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_administrator_adds_no_one_after_the_revocation() {
    let (dirs, _keep) = directories(Store::Sqlite, 1).await;
    let dir = dirs[0].clone();
    let gate = node_on(dir.clone(), None).await;
    let mut late = 0;
    let rounds = 60;
    for round in 0..rounds {
        let adder = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let user = partnergate::model::NewUser {
                    email: format!("new{round}@globex.test"),
                    name: format!("New {round}"),
                    roles: vec![],
                    is_admin: false,
                    spending_limit: None,
                };
                gate.add_user("customer:gail", "globex", user).await.is_ok()
            })
        };
        let gail = common::target(&*dir, "gail").await;
        let revoked = gate.revoke_user("customer:gina", gail).await.is_ok();
        let added = adder.await.unwrap();
        if revoked && added {
            // Both committed: the add must be the earlier one.
            let audit = dir
                .read_audit(partnergate::directory::AuditQuery {
                    organization_id: Some("globex".into()),
                    cursor: None,
                    limit: 2,
                })
                .await
                .unwrap();
            if audit.entries.first().map(|e| e.entry.action.as_str()) == Some("addUser") {
                late += 1;
            }
        }
        let gail = common::target(&*dir, "gail").await;
        let _ = gate.reinstate_user("customer:gina", gail).await;
    }
    assert_eq!(late, 0, "adds committed after their actor's revocation");
}

/// Issue #23 item 3, staff changes: the merchant unassigns sam from acme
/// while sam revokes an acme user. A revocation decided on sam's old
/// assignments must not commit after the unassignment (the change log's
/// positions tell which committed first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassigned_staff_member_changes_nothing_after_the_unassignment() {
    use partnergate::model::Staff;
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("staff.db");
    let dir: Arc<dyn Directory> = Arc::new(SqliteDirectory::open(&db, Clock::system()).unwrap());
    Seed::from_file(&common::policies_dir().join("directory.json"))
        .unwrap()
        .load_into(&*dir)
        .await
        .unwrap();
    let gate = node_on(dir.clone(), None).await;
    let sam = |organizations: &[&str]| Staff {
        id: "sam".into(),
        name: "Sam Staff".into(),
        assigned_organizations: organizations.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    };
    let log = rusqlite::Connection::open(&db).unwrap();
    let last = |kind: &str, id: &str| -> i64 {
        log.query_row(
            "SELECT coalesce(max(seq), 0) FROM changes WHERE kind = ?1 AND id = ?2",
            [kind, id],
            |r| r.get(0),
        )
        .unwrap()
    };
    let (mut late, mut both) = (0, 0);
    for round in 0..100u64 {
        gate.put_staff(&sam(&["acme", "initech"])).await.unwrap();
        let revoke = {
            let gate = gate.clone();
            let bob = common::target(&*dir, "bob").await;
            tokio::spawn(async move { gate.revoke_user("staff:sam", bob).await.is_ok() })
        };
        // Land the unassignment at a different point of the revocation
        // each round.
        tokio::time::sleep(Duration::from_micros(100 * (round % 30))).await;
        gate.put_staff(&sam(&["initech"])).await.unwrap();
        if revoke.await.unwrap() {
            both += 1;
            if last("p", "bob") > last("s", "sam") {
                late += 1;
            }
            let bob = common::target(&*dir, "bob").await;
            gate.reinstate_user("customer:alice", bob).await.unwrap();
        }
    }
    eprintln!("{both} revocations committed beside the unassignment, {late} after it");
    assert_eq!(
        late, 0,
        "revocations committed after their actor was unassigned"
    );
}

/// The guard itself, on both directories: a change whose decision read a
/// staff record commits only while the record is stored as read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_decided_on_a_staff_record_conflicts_once_it_changed() {
    use partnergate::model::{AuditEntry, Staff};
    for store in [Store::Sqlite, Store::Postgres] {
        let (dirs, _keep) = directories(store, 1).await;
        let dir = &dirs[0];
        let read = dir.get_staff("sam").await.unwrap().unwrap();
        let audit = || AuditEntry {
            actor: "staff:sam".into(),
            action: "createOrganization".into(),
            target: "organization:new".into(),
            organization_id: None,
            before: String::new(),
            after: String::new(),
            policies: vec![],
        };
        let budget = Duration::from_secs(5);
        dir.apply_within(vec![], audit(), std::slice::from_ref(&read), budget)
            .await
            .expect("unchanged: commits");
        dir.put_staff(&Staff {
            assigned_organizations: vec!["initech".into()],
            ..read.clone()
        })
        .await
        .unwrap();
        let err = dir
            .apply_within(vec![], audit(), std::slice::from_ref(&read), budget)
            .await
            .unwrap_err();
        assert!(
            matches!(err, partnergate::directory::DirectoryError::Conflict(_)),
            "{err}"
        );
    }
}

/// The version of `person`'s membership in `org`.
async fn membership_version(dir: &Arc<dyn Directory>, person: &str, org: &str) -> u64 {
    dir.get_account(person)
        .await
        .unwrap()
        .unwrap()
        .member_of(org)
        .unwrap()
        .membership
        .version
}

/// Gina and Gail administer both globex and acme (besides acme's Alice).
/// Each round, in both organizations at once, each revokes the other: in
/// globex (two admins) exactly one revocation commits and one admin stays;
/// in acme (three) one or both. The guards are per organization: a change
/// in one never conflicts with, or leaks into, the other.
async fn admins_revoke_each_other_in_two_organizations_at_once(store: Store) {
    use partnergate::model::{AccountStatus, ChangeOp};
    let (dirs, _keep) = directories(store, 1).await;
    let dir = dirs[0].clone();
    let admin_of_acme = |person: &str| Membership {
        organization_id: "acme".into(),
        person_id: person.into(),
        status: AccountStatus::Active,
        previous_status: None,
        is_admin: true,
        roles: vec![],
        spending_limit: None,
        invited_at: None,
        version: 1,
    };
    dir.apply(
        vec![
            ChangeOp::PutMembership(admin_of_acme("gina"), None),
            ChangeOp::PutMembership(admin_of_acme("gail"), None),
        ],
        Seed::audit(),
    )
    .await
    .unwrap();
    let gate = node_on(dir.clone(), None).await;
    let version = |person: &'static str, org: &'static str| {
        let dir = dir.clone();
        async move { membership_version(&dir, person, org).await }
    };
    let admins = |org: &'static str| {
        let dir = dir.clone();
        async move {
            dir.get_organization(org)
                .await
                .unwrap()
                .unwrap()
                .active_admins
        }
    };
    for round in 0..20 {
        let mut calls: Vec<
            std::pin::Pin<
                Box<
                    dyn std::future::Future<
                            Output = (
                                &str,
                                Result<partnergate::model::Membership, partnergate::Error>,
                            ),
                        > + Send,
                >,
            >,
        > = Vec::new();
        for org in ["globex", "acme"] {
            for (actor, target) in [("gina", "gail"), ("gail", "gina")] {
                let gate = gate.clone();
                let t = Target::membership(target, org, version(target, org).await);
                calls.push(Box::pin(async move {
                    (
                        org,
                        gate.revoke_user(&format!("customer:{actor}@{org}"), t)
                            .await,
                    )
                }));
            }
        }
        let results = common::at_once(calls).await;
        let committed = |org: &str| {
            results
                .iter()
                .filter(|(o, r)| *o == org && r.is_ok())
                .count()
        };
        for (org, result) in &results {
            if let Err(e) = result {
                assert!(
                    matches!(
                        e,
                        partnergate::Error::Conflict(_) | partnergate::Error::Denied(_)
                    ),
                    "round {round}, {org}: {e}"
                );
            }
        }
        assert_eq!(
            (committed("globex"), admins("globex").await),
            (1, 1),
            "round {round}: {results:?}"
        );
        // Acme has a third admin: one or both commit (a change decided on
        // three admins conflicts once another committed), never more.
        let in_acme = committed("acme");
        assert!((1..=2).contains(&in_acme), "round {round}: {results:?}");
        assert_eq!(admins("acme").await as usize, 3 - in_acme, "round {round}");
        // Alice reinstates whoever was revoked in acme; globex's remaining
        // admin the other.
        for (org, result) in &results {
            if let (&"acme", Ok(m)) = (org, result) {
                let t = Target::membership(
                    m.person_id.clone(),
                    "acme",
                    membership_version(&dir, &m.person_id, "acme").await,
                );
                gate.reinstate_user("customer:alice", t).await.unwrap();
            }
        }
        let (admin, revoked) = if results
            .iter()
            .any(|(o, r)| *o == "globex" && r.as_ref().is_ok_and(|m| m.person_id == "gail"))
        {
            ("gina", "gail")
        } else {
            ("gail", "gina")
        };
        let t = Target::membership(revoked, "globex", version(revoked, "globex").await);
        gate.reinstate_user(&format!("customer:{admin}@globex"), t)
            .await
            .unwrap();
        assert_eq!((admins("globex").await, admins("acme").await), (2, 3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_revoke_each_other_in_two_organizations_at_once_on_sqlite() {
    admins_revoke_each_other_in_two_organizations_at_once(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_revoke_each_other_in_two_organizations_at_once_on_postgres() {
    admins_revoke_each_other_in_two_organizations_at_once(Store::Postgres).await;
}
