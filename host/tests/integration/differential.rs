//! The differential check: over random directories and random requests,
//! the component (through the host, with its memo and the status cache)
//! and the same rules compiled natively (the plugin crate, per request,
//! over records in memory) agree on every decision: allowed or not, the
//! deciding policy ids, and whether the request was refused as invalid.
//! `PROPTEST_CASES` sets the number of directories (each with
//! `REQUESTS` requests).

use std::sync::Arc;

use partnergate::clock::Clock;
use partnergate::directory::Directory;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::model as wit;
use partnergate::model::ChangeOp;
use partnergate::{AuthorizeRequest, PartnerGate};
use partnergate_plugin::access::{self, Names};
use partnergate_plugin::memory::MemoryRecords;
use partnergate_plugin::model;
use partnergate_plugin::policy_set::{self, LoadedPolicies, PolicyFile};
use partnergate_testkit::policies_dir;
use proptest::prelude::*;

/// Requests decided per random directory.
const REQUESTS: usize = 60;

const ORGANIZATIONS: usize = 3;
const PEOPLE: usize = 7;

const ACTIONS: &[&str] = &[
    "browse",
    "placeOrder",
    "addUser",
    "listUsers",
    "viewUser",
    "editUser",
    "removeUser",
    "revokeUser",
    "reinstateUser",
    "reinviteUser",
    "designateAdmin",
    "demoteAdmin",
    "viewAudit",
    "approveOnboarding",
    "listOnboarding",
    "createOrganization",
];

#[derive(Clone, Debug)]
struct Member {
    organization: usize,
    status: model::AccountStatus,
    is_admin: bool,
    roles: Vec<String>,
    spending_limit: Option<u64>,
}

#[derive(Clone, Debug)]
struct World {
    organizations: Vec<model::OrganizationStatus>,
    people: Vec<Option<Member>>,
    /// Organizations assigned to `staff:s0` (`staff:s1` has none).
    assigned: Vec<usize>,
}

fn account_status() -> impl Strategy<Value = model::AccountStatus> {
    prop_oneof![
        Just(model::AccountStatus::Invited),
        Just(model::AccountStatus::Active),
        Just(model::AccountStatus::Active),
        Just(model::AccountStatus::Revoked),
        Just(model::AccountStatus::Removed),
    ]
}

fn organization_status() -> impl Strategy<Value = model::OrganizationStatus> {
    prop_oneof![
        Just(model::OrganizationStatus::Approved),
        Just(model::OrganizationStatus::Approved),
        Just(model::OrganizationStatus::Pending),
        Just(model::OrganizationStatus::Rejected),
        Just(model::OrganizationStatus::Blocked),
    ]
}

fn member() -> impl Strategy<Value = Option<Member>> {
    let roles = proptest::sample::subsequence(vec!["buyer", "approver", "viewer"], 0..=2);
    proptest::option::weighted(
        0.85,
        (
            0..ORGANIZATIONS,
            account_status(),
            any::<bool>(),
            roles,
            proptest::option::of(0u64..100_000),
        )
            .prop_map(
                |(organization, status, is_admin, roles, spending_limit)| Member {
                    organization,
                    status,
                    is_admin,
                    roles: roles.into_iter().map(String::from).collect(),
                    spending_limit,
                },
            ),
    )
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(organization_status(), ORGANIZATIONS),
        proptest::collection::vec(member(), PEOPLE),
        proptest::sample::subsequence((0..ORGANIZATIONS).collect::<Vec<_>>(), 0..=ORGANIZATIONS),
    )
        .prop_map(|(organizations, people, assigned)| World {
            organizations,
            people,
            assigned,
        })
}

/// A resource of the kind `action` applies to, mostly; sometimes any
/// (an ill-formed request both sides must refuse alike).
fn resource_for(action: &'static str) -> BoxedStrategy<String> {
    let store = Just("store:main".to_string());
    let organization = (0..ORGANIZATIONS).prop_map(|i| format!("organization:o{i}"));
    let customer = prop_oneof![
        (0..PEOPLE).prop_map(|i| format!("customer:p{i}")),
        Just("customer:ghost".to_string()),
    ];
    let onboarding = Just("onboarding:r1".to_string());
    let fitting = match action {
        "browse" | "placeOrder" | "listOnboarding" | "createOrganization" => store.boxed(),
        "addUser" | "listUsers" | "viewAudit" => organization.boxed(),
        "approveOnboarding" => onboarding.boxed(),
        _ => customer.boxed(),
    };
    let any = prop_oneof![
        Just("store:main".to_string()),
        (0..ORGANIZATIONS).prop_map(|i| format!("organization:o{i}")),
        (0..PEOPLE).prop_map(|i| format!("customer:p{i}")),
        Just("onboarding:r1".to_string()),
    ];
    prop_oneof![4 => fitting, 1 => any].boxed()
}

/// A context that fits `action`, mostly: an order total for `placeOrder`,
/// nothing for the others; sometimes one that does not fit.
fn context_for(action: &'static str) -> BoxedStrategy<String> {
    let total = (0u64..200_000).prop_map(|n| format!(r#"{{"orderTotal": {n}}}"#));
    let empty = Just("{}".to_string());
    let wrong = Just(r#"{"orderTotal": "lots"}"#.to_string());
    match action {
        "placeOrder" => prop_oneof![8 => total, 1 => empty, 1 => wrong].boxed(),
        _ => prop_oneof![8 => empty, 1 => total, 1 => wrong].boxed(),
    }
}

fn request() -> impl Strategy<Value = (String, String, String, String)> {
    let principal = prop_oneof![
        4 => (0..PEOPLE).prop_map(|i| format!("customer:p{i}")),
        1 => Just("customer:ghost".to_string()),
        1 => Just("staff:s0".to_string()),
        1 => Just("staff:s1".to_string()),
    ];
    (principal, proptest::sample::select(ACTIONS)).prop_flat_map(|(p, a)| {
        (resource_for(a), context_for(a)).prop_map(move |(r, c)| (p.clone(), a.to_string(), r, c))
    })
}

fn organization(world: &World, i: usize) -> model::Organization {
    let active_admins = world
        .people
        .iter()
        .flatten()
        .filter(|m| m.organization == i && m.is_admin && m.status == model::AccountStatus::Active)
        .count() as u32;
    model::Organization {
        id: format!("o{i}"),
        name: format!("Org {i}"),
        status: world.organizations[i],
        active_admins,
    }
}

/// The world as the native rules read it.
fn records(world: &World) -> MemoryRecords {
    let mut records = MemoryRecords::default();
    for i in 0..ORGANIZATIONS {
        records
            .organizations
            .insert(format!("o{i}"), organization(world, i));
    }
    for (i, member) in world.people.iter().enumerate() {
        let id = format!("p{i}");
        let account = model::Account::of_person(
            model::Person {
                id: id.clone(),
                email: format!("{id}@x.test"),
                name: id.clone(),
            },
            member
                .iter()
                .map(|m| model::Member {
                    membership: model::Membership {
                        organization_id: format!("o{}", m.organization),
                        person_id: id.clone(),
                        status: m.status,
                        previous_status: None,
                        is_admin: m.is_admin,
                        roles: m.roles.clone(),
                        spending_limit: m.spending_limit,
                        invited_at: None,
                        version: 1,
                    },
                    organization: organization(world, m.organization),
                })
                .collect(),
        );
        records.accounts.insert(id, account);
    }
    for (id, assigned) in [("s0", world.assigned.clone()), ("s1", Vec::new())] {
        records.staff.insert(
            id.into(),
            model::Staff {
                id: id.into(),
                name: id.into(),
                assigned_organizations: assigned.iter().map(|i| format!("o{i}")).collect(),
                ..Default::default()
            },
        );
    }
    records
}

fn wit_status(s: model::AccountStatus) -> wit::AccountStatus {
    match s {
        model::AccountStatus::Invited => wit::AccountStatus::Invited,
        model::AccountStatus::Active => wit::AccountStatus::Active,
        model::AccountStatus::Revoked => wit::AccountStatus::Revoked,
        model::AccountStatus::Removed => wit::AccountStatus::Removed,
    }
}

fn wit_organization_status(s: model::OrganizationStatus) -> wit::OrganizationStatus {
    match s {
        model::OrganizationStatus::Pending => wit::OrganizationStatus::Pending,
        model::OrganizationStatus::Approved => wit::OrganizationStatus::Approved,
        model::OrganizationStatus::Rejected => wit::OrganizationStatus::Rejected,
        model::OrganizationStatus::Blocked => wit::OrganizationStatus::Blocked,
    }
}

/// The world in a directory of its own, behind a host.
async fn host(world: &World) -> PartnerGate {
    let dir = Arc::new(SqliteDirectory::in_memory(Clock::system()).unwrap());
    let mut ops = Vec::new();
    for i in 0..ORGANIZATIONS {
        ops.push(ChangeOp::PutOrganization(wit::Organization {
            id: format!("o{i}"),
            name: format!("Org {i}"),
            status: wit_organization_status(world.organizations[i]),
            active_admins: 0,
        }));
    }
    for (i, member) in world.people.iter().enumerate() {
        let id = format!("p{i}");
        ops.push(ChangeOp::PutPerson(wit::Person {
            id: id.clone(),
            email: format!("{id}@x.test"),
            name: id.clone(),
        }));
        if let Some(m) = member {
            ops.push(ChangeOp::PutMembership(
                wit::Membership {
                    organization_id: format!("o{}", m.organization),
                    person_id: id,
                    status: wit_status(m.status),
                    previous_status: None,
                    is_admin: m.is_admin,
                    roles: m.roles.clone(),
                    spending_limit: m.spending_limit,
                    invited_at: None,
                    version: 1,
                },
                None,
            ));
        }
    }
    let audit = partnergate::directory::seed::Seed::audit();
    dir.apply(ops, audit).await.unwrap();
    for (id, assigned) in [("s0", world.assigned.clone()), ("s1", Vec::new())] {
        dir.put_staff(&wit::Staff {
            id: id.into(),
            name: id.into(),
            assigned_organizations: assigned.iter().map(|i| format!("o{i}")).collect(),
            email: None,
            status: wit::StaffStatus::Active,
        })
        .await
        .unwrap();
    }
    super::common::builder()
        .await
        .directory(dir)
        .build()
        .await
        .unwrap()
}

/// The default policies, loaded natively.
fn native_policies() -> LoadedPolicies {
    let mut files: Vec<_> = std::fs::read_dir(policies_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cedar"))
        .collect();
    files.sort();
    let read = |path: &std::path::Path| PolicyFile {
        name: path.file_name().unwrap().to_string_lossy().into(),
        text: std::fs::read_to_string(path).unwrap(),
    };
    let files: Vec<PolicyFile> = files.iter().map(|p| read(p)).collect();
    policy_set::load(&read(&policies_dir().join("schema.cedarschema")), &files)
        .ok()
        .expect("the default policies load")
}

#[test]
fn the_component_and_the_native_rules_agree() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let loaded = native_policies();
    let names = Names::new();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    });
    let compared = std::sync::atomic::AtomicUsize::new(0);
    let allowed = std::sync::atomic::AtomicUsize::new(0);
    let denied = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(
            &(world(), proptest::collection::vec(request(), REQUESTS)),
            |(world, requests)| {
                let records = records(&world);
                let gate = runtime.block_on(host(&world));
                for (principal, action, resource, context) in &requests {
                    let native = access::authorize(
                        &loaded,
                        &names,
                        &records,
                        &access::Request {
                            principal,
                            action,
                            resource,
                            context,
                            organization: None,
                        },
                    );
                    let request = AuthorizeRequest::new(principal, action, resource)
                        .with_context(serde_json::from_str(context).unwrap());
                    let component = runtime.block_on(gate.authorize(&request));
                    let what = format!("{principal} {action} {resource} {context}");
                    match (&native, &component) {
                        (Ok(n), Ok(c)) => {
                            prop_assert_eq!(
                                n.effect == model::Effect::Allow,
                                c.is_allowed(),
                                "{}",
                                what
                            );
                            prop_assert_eq!(&n.policies, &c.policies, "{}", what);
                            prop_assert_eq!(
                                n.errors.is_empty(),
                                c.errors.is_empty(),
                                "{}: {:?} {:?}",
                                what,
                                n,
                                c
                            );
                            let kind = if c.is_allowed() { &allowed } else { &denied };
                            kind.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        (Err(_), Err(partnergate::Error::InvalidRequest(_))) => {}
                        _ => prop_assert!(
                            false,
                            "{}: native {:?}, component {:?}",
                            what,
                            native,
                            component
                        ),
                    }
                    compared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            },
        )
        .unwrap();
    let compared = compared.into_inner();
    assert!(compared >= cases as usize * REQUESTS);
    // The requests were not all refused alike: enough decisions of each
    // kind were compared.
    let (allowed, denied) = (allowed.into_inner(), denied.into_inner());
    eprintln!(
        "compared {compared} decisions: {allowed} allowed, {denied} denied, the rest invalid"
    );
    assert!(
        allowed > 0 && denied > 0,
        "allowed {allowed}, denied {denied}"
    );
}
