//! One directory conformance suite: every test body runs against SQLite
//! and against a PostgreSQL server of the test's own (`initdb` into a temp
//! dir, a free port, stopped at the end). Then what only one backend has:
//! PostgreSQL's migrations and schema, and invariants under concurrent
//! changes from several nodes (pools) on one database.

use std::collections::HashSet;
use std::sync::Arc;

use partnergate::clock::Clock;
use partnergate::directory::postgres::{PostgresDirectory, schema};
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::directory::{AuditQuery, Directory, DirectoryError};
use partnergate::model::{
    AccountStatus, AuditEntry, MemberSort, Membership, OnboardingRequest, OnboardingStatus,
    Organization, OrganizationStatus, Person, Staff,
};
use partnergate::model::{ChangeOp, MemberQuery};
use partnergate::model::{Notification, NotificationKind};
use partnergate_testkit::PostgresServer;

/// A directory under test and what keeps its backend alive.
struct Backend {
    dir: Arc<dyn Directory>,
    _server: Option<PostgresServer>,
}

fn sqlite() -> Backend {
    Backend {
        dir: Arc::new(SqliteDirectory::in_memory(Clock::system()).unwrap()),
        _server: None,
    }
}

async fn postgres() -> Backend {
    let server = PostgresServer::start();
    let dir = PostgresDirectory::connect(&server.new_database(), 8, Clock::system())
        .await
        .expect("connects and migrates");
    Backend {
        dir: Arc::new(dir),
        _server: Some(server),
    }
}

/// Each body as two tests: `sqlite::<name>` and `postgres::<name>`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(&*super::sqlite().dir).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let backend = super::postgres().await;
                super::$name(&*backend.dir).await;
            })*
        }
    };
}

conformance!(
    accounts_and_organizations_read_back,
    staff_round_trip,
    staff_sign_in_records,
    staff_assignments_change_in_the_change_log,
    identities_link_once,
    onboarding_requests,
    listing_orders_and_cursors,
    search_folds_case_and_takes_wildcards_literally,
    uniqueness_versions_and_failed_changes,
    guards_hold_inside_the_change,
    outbox_delivers_in_order,
    audit_pages_newest_first,
    a_person_holds_a_membership_in_each_of_several_organizations,
);

fn audit() -> AuditEntry {
    AuditEntry {
        actor: "system:test".into(),
        action: "test".into(),
        target: "t".into(),
        organization_id: None,
        before: String::new(),
        after: String::new(),
        policies: vec![],
    }
}

/// The error `dir` refuses `ops` with.
async fn refused(dir: &dyn Directory, ops: Vec<ChangeOp>) -> DirectoryError {
    dir.apply(ops, audit())
        .await
        .expect_err("the change is refused")
}

fn audit_of(org: &str, action: &str) -> AuditEntry {
    AuditEntry {
        organization_id: Some(org.into()),
        action: action.into(),
        policies: vec!["p1".into(), "p2".into()],
        ..audit()
    }
}

fn person(id: &str, name: &str) -> Person {
    Person {
        id: id.into(),
        email: format!("{id}@a.test"),
        name: name.into(),
    }
}

fn membership(person: &str, org: &str, admin: bool) -> Membership {
    Membership {
        organization_id: org.into(),
        person_id: person.into(),
        status: AccountStatus::Active,
        previous_status: None,
        is_admin: admin,
        roles: vec!["buyer".into()],
        spending_limit: Some(5),
        invited_at: Some(17),
        version: 1,
    }
}

fn org(id: &str, name: &str) -> Organization {
    Organization {
        id: id.into(),
        name: name.into(),
        status: OrganizationStatus::Approved,
        active_admins: 0,
    }
}

/// Organization `org` with members `(id, name, admin)`.
async fn members(dir: &dyn Directory, org_id: &str, org_name: &str, people: &[(&str, &str, bool)]) {
    let mut ops = vec![ChangeOp::PutOrganization(org(org_id, org_name))];
    for (id, name, admin) in people {
        ops.push(ChangeOp::PutPerson(person(id, name)));
        ops.push(ChangeOp::PutMembership(
            membership(id, org_id, *admin),
            None,
        ));
    }
    dir.apply(ops, audit()).await.unwrap();
}

fn query(orgs: &[&str]) -> MemberQuery {
    MemberQuery {
        organizations: orgs.iter().map(|o| o.to_string()).collect(),
        status: None,
        search: None,
        sort: MemberSort::Name,
        descending: false,
        cursor: None,
        limit: 50,
    }
}

async fn ids(dir: &dyn Directory, q: MemberQuery) -> Vec<String> {
    dir.list_members(q)
        .await
        .unwrap()
        .members
        .into_iter()
        .map(|a| a.person.id)
        .collect()
}

async fn accounts_and_organizations_read_back(dir: &dyn Directory) {
    assert!(dir.is_empty().await.unwrap());
    members(
        dir,
        "acme",
        "Acme",
        &[("alice", "Alice", true), ("bob", "Bob", false)],
    )
    .await;
    dir.apply(vec![ChangeOp::PutPerson(person("loner", "Lone"))], audit())
        .await
        .unwrap();
    assert!(!dir.is_empty().await.unwrap());
    let alice = dir.get_account("alice").await.unwrap().unwrap();
    let m = alice.membership.unwrap();
    assert_eq!(
        (m.organization_id.as_str(), m.status, m.is_admin, m.version),
        ("acme", AccountStatus::Active, true, 1)
    );
    assert_eq!(
        (m.roles, m.spending_limit, m.invited_at),
        (vec!["buyer".to_string()], Some(5), Some(17))
    );
    assert_eq!(alice.organization.unwrap().active_admins, 1);
    let loner = dir.get_account("loner").await.unwrap().unwrap();
    assert!(loner.membership.is_none() && loner.organization.is_none());
    assert!(dir.get_account("nobody").await.unwrap().is_none());
    // By email: trimmed, case-insensitive.
    let bob = dir
        .find_account_by_email("  BOB@A.test ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.person.id, "bob");
    assert!(
        dir.find_account_by_email("x@a.test")
            .await
            .unwrap()
            .is_none()
    );
    let acme = dir.get_organization("acme").await.unwrap().unwrap();
    assert_eq!(
        (acme.name.as_str(), acme.status, acme.active_admins),
        ("Acme", OrganizationStatus::Approved, 1)
    );
    assert!(dir.get_organization("nope").await.unwrap().is_none());
    // Fresh ids: prefixed by their kind, never repeated.
    let ids: HashSet<String> =
        futures_util::future::join_all((0..50).map(|_| dir.new_id("person")))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert_eq!(ids.len(), 50);
    assert!(
        ids.iter()
            .all(|id| id.starts_with("person-") && id.len() > 20),
        "{ids:?}"
    );
}

async fn staff_round_trip(dir: &dyn Directory) {
    assert!(dir.get_staff("sam").await.unwrap().is_none());
    let sam = Staff {
        id: "sam".into(),
        name: "Sam".into(),
        assigned_organizations: vec!["b".into(), "a".into()],
        ..Default::default()
    };
    dir.put_staff(&sam).await.unwrap();
    let read = dir.get_staff("sam").await.unwrap().unwrap();
    assert_eq!(read.assigned_organizations, ["a", "b"]);
    // Storing again replaces the assignments.
    dir.put_staff(&Staff {
        assigned_organizations: vec!["c".into()],
        name: "Samuel".into(),
        ..sam
    })
    .await
    .unwrap();
    let read = dir.get_staff("sam").await.unwrap().unwrap();
    assert_eq!(
        (read.name.as_str(), read.assigned_organizations),
        ("Samuel", vec!["c".to_string()])
    );
}

/// Staff are assigned and withdrawn by change steps, in the same
/// transaction as the organization they are assigned to; an organization's
/// staff read back by name; each step is in the change log (other nodes
/// drop the staff member's cached record); a removed colleague, an unknown
/// one or organization, and a withdrawal of no assignment are refused and
/// change nothing.
async fn staff_assignments_change_in_the_change_log(dir: &dyn Directory) {
    use partnergate::model::StaffStatus;
    use partnergate::touched::Touched;
    for (id, name, status) in [
        ("zed", "Zed", StaffStatus::Active),
        ("amy", "Amy", StaffStatus::Invited),
        ("rex", "Rex", StaffStatus::Removed),
    ] {
        dir.put_staff(&Staff {
            id: id.into(),
            name: name.into(),
            assigned_organizations: Vec::new(),
            email: Some(format!("{id}@merchant.test")),
            status,
        })
        .await
        .unwrap();
    }
    let head = dir.changes_since(0, 1000).await.unwrap().head;
    // Created and assigned in one change: the organization exists by then.
    dir.apply(
        vec![
            ChangeOp::PutOrganization(org("hooli", "Hooli")),
            ChangeOp::AssignStaff("zed".into(), "hooli".into()),
            ChangeOp::AssignStaff("amy".into(), "hooli".into()),
            // Twice changes nothing.
            ChangeOp::AssignStaff("amy".into(), "hooli".into()),
        ],
        audit(),
    )
    .await
    .unwrap();
    let names = |staff: Vec<Staff>| staff.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(dir.list_organization_staff("hooli").await.unwrap()),
        ["Amy", "Zed"]
    );
    assert_eq!(
        dir.get_staff("amy")
            .await
            .unwrap()
            .unwrap()
            .assigned_organizations,
        ["hooli"]
    );
    let feed = dir.changes_since(head, 1000).await.unwrap();
    for id in ["zed", "amy"] {
        assert!(
            feed.entries
                .iter()
                .any(|(_, t)| *t == Touched::Staff(id.into())),
            "{id} in {:?}",
            feed.entries
        );
    }
    assert!(
        dir.list_organization_staff("nowhere")
            .await
            .unwrap()
            .is_empty()
    );

    // Refused, and nothing of the change commits.
    for (ops, what) in [
        (
            vec![ChangeOp::AssignStaff("rex".into(), "hooli".into())],
            "removed",
        ),
        (
            vec![ChangeOp::AssignStaff("ghost".into(), "hooli".into())],
            "unknown staff",
        ),
        (
            vec![ChangeOp::AssignStaff("zed".into(), "nowhere".into())],
            "unknown organization",
        ),
        (
            vec![
                ChangeOp::UnassignStaff("zed".into(), "hooli".into()),
                ChangeOp::UnassignStaff("rex".into(), "hooli".into()),
            ],
            "no such assignment",
        ),
    ] {
        let err = refused(dir, ops).await;
        assert!(
            matches!(
                err,
                DirectoryError::Conflict(_) | DirectoryError::NotFound(_)
            ),
            "{what}: {err:?}"
        );
    }
    assert_eq!(
        names(dir.list_organization_staff("hooli").await.unwrap()),
        ["Amy", "Zed"],
        "nothing changed"
    );

    // Both withdrawn at once would leave Hooli to no one.
    assert!(matches!(
        refused(
            dir,
            vec![
                ChangeOp::UnassignStaff("zed".into(), "hooli".into()),
                ChangeOp::UnassignStaff("amy".into(), "hooli".into()),
            ],
        )
        .await,
        DirectoryError::Conflict(_)
    ));
    dir.apply(
        vec![ChangeOp::UnassignStaff("zed".into(), "hooli".into())],
        audit(),
    )
    .await
    .unwrap();
    assert_eq!(
        names(dir.list_organization_staff("hooli").await.unwrap()),
        ["Amy"]
    );
    assert!(
        dir.get_staff("zed")
            .await
            .unwrap()
            .unwrap()
            .assigned_organizations
            .is_empty()
    );

    // Two staff members each withdrawing the other, many times at once:
    // never both, so Hooli always keeps someone.
    for round in 0..20 {
        dir.apply(
            vec![ChangeOp::AssignStaff("zed".into(), "hooli".into())],
            audit(),
        )
        .await
        .unwrap();
        let (a, b) = tokio::join!(
            dir.apply(
                vec![ChangeOp::UnassignStaff("zed".into(), "hooli".into())],
                audit()
            ),
            dir.apply(
                vec![ChangeOp::UnassignStaff("amy".into(), "hooli".into())],
                audit()
            ),
        );
        assert!(!(a.is_ok() && b.is_ok()), "round {round}: both withdrawn");
        let left = dir.list_organization_staff("hooli").await.unwrap();
        assert!(!left.is_empty(), "round {round}: no one left");
        // Back to Amy and Zed both assigned.
        for id in ["amy", "zed"] {
            if !left.iter().any(|s| s.id == id) {
                dir.apply(
                    vec![ChangeOp::AssignStaff(id.into(), "hooli".into())],
                    audit(),
                )
                .await
                .unwrap();
            }
        }
    }
}

/// A staff member's email and status read back; staff links are apart
/// from customers'; activation holds only for an invited staff member.
async fn staff_sign_in_records(dir: &dyn Directory) {
    use partnergate::model::StaffStatus;
    let stella = Staff {
        id: "stella".into(),
        name: "Stella".into(),
        assigned_organizations: vec!["a".into()],
        email: Some("stella@merchant.test".into()),
        status: StaffStatus::Invited,
    };
    dir.put_staff(&stella).await.unwrap();
    assert_eq!(
        dir.get_staff("stella").await.unwrap().as_ref(),
        Some(&stella)
    );
    assert_eq!(
        dir.find_staff_by_email(" Stella@Merchant.TEST ")
            .await
            .unwrap()
            .as_ref(),
        Some(&stella)
    );
    assert_eq!(
        dir.find_staff_by_email("nobody@merchant.test")
            .await
            .unwrap(),
        None
    );
    // Another staff member with the same email is refused.
    let twin = Staff {
        id: "twin".into(),
        ..stella.clone()
    };
    assert!(matches!(
        dir.put_staff(&twin).await,
        Err(DirectoryError::Duplicate(_))
    ));
    let link = |subject: &str, staff: &str| {
        ChangeOp::PutStaffLink("https://idp.test".into(), subject.into(), staff.into())
    };
    dir.apply(
        vec![
            link("s-stella", "stella"),
            ChangeOp::ActivateStaff("stella".into()),
        ],
        audit(),
    )
    .await
    .unwrap();
    assert_eq!(
        dir.find_staff_link("https://idp.test", "s-stella")
            .await
            .unwrap()
            .as_deref(),
        Some("stella")
    );
    assert_eq!(
        dir.find_link("https://idp.test", "s-stella").await.unwrap(),
        None
    );
    assert_eq!(
        dir.get_staff("stella").await.unwrap().unwrap().status,
        StaffStatus::Active
    );
    // Activating again, or linking the same identity again, changes nothing.
    assert!(matches!(
        refused(dir, vec![ChangeOp::ActivateStaff("stella".into())]).await,
        DirectoryError::Conflict(_)
    ));
    assert!(matches!(
        refused(dir, vec![link("s-stella", "stella")]).await,
        DirectoryError::Duplicate(_)
    ));
    assert!(matches!(
        refused(dir, vec![ChangeOp::ActivateStaff("ghost".into())]).await,
        DirectoryError::NotFound(_)
    ));
    // Removed by the operator: read back as removed.
    dir.put_staff(&Staff {
        status: StaffStatus::Removed,
        ..stella.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        dir.get_staff("stella").await.unwrap().unwrap().status,
        StaffStatus::Removed
    );
}

async fn identities_link_once(dir: &dyn Directory) {
    members(dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    let link = |subject: &str, person: &str| {
        ChangeOp::PutLink("https://idp.test".into(), subject.into(), person.into())
    };
    dir.apply(vec![link("s2", "alice"), link("s1", "alice")], audit())
        .await
        .unwrap();
    assert_eq!(
        dir.find_link("https://idp.test", "s1")
            .await
            .unwrap()
            .as_deref(),
        Some("alice")
    );
    assert!(
        dir.find_link("https://idp.test", "s3")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        dir.list_links("alice").await.unwrap(),
        [
            ("https://idp.test".to_string(), "s1".to_string()),
            ("https://idp.test".into(), "s2".into())
        ]
    );
    let err = refused(dir, vec![link("s1", "alice")]).await;
    assert!(matches!(err, DirectoryError::Duplicate(_)), "{err}");
    let err = refused(dir, vec![link("s9", "ghost")]).await;
    assert!(matches!(err, DirectoryError::NotFound(_)), "{err}");
    assert_eq!(dir.list_links("alice").await.unwrap().len(), 2);
}

fn request(id: &str, email: &str, at: u64) -> OnboardingRequest {
    OnboardingRequest {
        id: id.into(),
        organization_name: format!("Org {id}"),
        requester_name: "Rita".into(),
        requester_email: email.into(),
        status: OnboardingStatus::Pending,
        organization_id: None,
        submitted_at: at,
        version: 1,
    }
}

async fn onboarding_requests(dir: &dyn Directory) {
    for (id, email, at) in [("r1", "a@x.test", 10), ("r2", "b@x.test", 20)] {
        dir.apply(
            vec![ChangeOp::PutOnboarding(request(id, email, at), None)],
            audit(),
        )
        .await
        .unwrap();
    }
    // One pending request per email.
    let err = refused(
        dir,
        vec![ChangeOp::PutOnboarding(request("r3", "a@x.test", 30), None)],
    )
    .await;
    assert!(matches!(err, DirectoryError::Duplicate(_)), "{err}");
    let r1 = dir.get_onboarding("r1").await.unwrap().unwrap();
    assert_eq!((r1.version, r1.status), (1, OnboardingStatus::Pending));
    assert_eq!(
        dir.find_pending_onboarding(" A@x.TEST")
            .await
            .unwrap()
            .unwrap()
            .id,
        "r1"
    );
    let approved = OnboardingRequest {
        status: OnboardingStatus::Approved,
        organization_id: Some("o1".into()),
        ..r1.clone()
    };
    dir.apply(
        vec![ChangeOp::PutOnboarding(approved.clone(), Some(1))],
        audit(),
    )
    .await
    .unwrap();
    // A second approval from the same read conflicts.
    let err = refused(dir, vec![ChangeOp::PutOnboarding(approved, Some(1))]).await;
    assert!(matches!(err, DirectoryError::Conflict(_)), "{err}");
    let r1 = dir.get_onboarding("r1").await.unwrap().unwrap();
    assert_eq!((r1.version, r1.organization_id.as_deref()), (2, Some("o1")));
    assert!(
        dir.find_pending_onboarding("a@x.test")
            .await
            .unwrap()
            .is_none()
    );
    let all: Vec<String> = dir
        .list_onboarding(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, ["r2", "r1"], "newest first");
    let pending = dir
        .list_onboarding(Some(OnboardingStatus::Pending))
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(dir.get_onboarding("nope").await.unwrap().is_none());
}

async fn listing_orders_and_cursors(dir: &dyn Directory) {
    members(
        dir,
        "acme",
        "Acme",
        &[
            ("p1", "bea", true),
            ("p2", "Al", false),
            ("p3", "carl", false),
            ("p4", "al", false),
        ],
    )
    .await;
    members(dir, "zeta", "Zeta", &[("p5", "Abe", true)]).await;
    members(dir, "other", "Other", &[("p6", "Aaron", true)]).await;
    let both = ["acme", "zeta"];
    // Name: case folded, ties by id.
    assert_eq!(ids(dir, query(&both)).await, ["p5", "p2", "p4", "p1", "p3"]);
    let desc = MemberQuery {
        descending: true,
        ..query(&both)
    };
    assert_eq!(ids(dir, desc).await, ["p3", "p1", "p4", "p2", "p5"]);
    let by_email = MemberQuery {
        sort: MemberSort::Email,
        ..query(&both)
    };
    assert_eq!(ids(dir, by_email).await, ["p1", "p2", "p3", "p4", "p5"]);
    let by_company = MemberQuery {
        sort: MemberSort::Company,
        ..query(&both)
    };
    assert_eq!(ids(dir, by_company).await, ["p2", "p4", "p1", "p3", "p5"]);
    let by_added = MemberQuery {
        sort: MemberSort::Added,
        descending: true,
        ..query(&both)
    };
    assert_eq!(ids(dir, by_added).await, ["p5", "p4", "p3", "p2", "p1"]);
    // Status filter.
    let mut revoked = dir
        .get_account("p3")
        .await
        .unwrap()
        .unwrap()
        .membership
        .unwrap();
    revoked.status = AccountStatus::Revoked;
    dir.apply(vec![ChangeOp::PutMembership(revoked, Some(1))], audit())
        .await
        .unwrap();
    let only_revoked = MemberQuery {
        status: Some(AccountStatus::Revoked),
        ..query(&both)
    };
    assert_eq!(ids(dir, only_revoked).await, ["p3"]);
    assert!(ids(dir, query(&[])).await.is_empty());
    // Paging through with cursors, in every order, gives the whole order.
    for sort in [
        MemberSort::Name,
        MemberSort::Email,
        MemberSort::Company,
        MemberSort::Added,
    ] {
        for descending in [false, true] {
            let whole = ids(
                dir,
                MemberQuery {
                    sort,
                    descending,
                    ..query(&both)
                },
            )
            .await;
            let mut paged = Vec::new();
            let mut cursor = None;
            loop {
                let page = dir
                    .list_members(MemberQuery {
                        sort,
                        descending,
                        cursor,
                        limit: 2,
                        ..query(&both)
                    })
                    .await
                    .unwrap();
                assert!(page.members.len() <= 2);
                paged.extend(page.members.into_iter().map(|a| a.person.id));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            assert_eq!(paged, whole, "{sort:?} descending={descending}");
        }
    }
    // A cursor of another order, or not one a directory issued.
    let page = dir
        .list_members(MemberQuery {
            limit: 1,
            ..query(&both)
        })
        .await
        .unwrap();
    let cursor = page.next_cursor.unwrap();
    let err = dir
        .list_members(MemberQuery {
            sort: MemberSort::Email,
            cursor: Some(cursor),
            ..query(&both)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Conflict(_)), "{err}");
    let err = dir
        .list_members(MemberQuery {
            cursor: Some("zz".into()),
            ..query(&both)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Invalid(_)), "{err}");
    // Re-added after removal: counts as newly added.
    let mut removed = dir
        .get_account("p1")
        .await
        .unwrap()
        .unwrap()
        .membership
        .unwrap();
    removed.status = AccountStatus::Removed;
    dir.apply(
        vec![ChangeOp::PutMembership(removed.clone(), Some(1))],
        audit(),
    )
    .await
    .unwrap();
    removed.status = AccountStatus::Invited;
    dir.apply(vec![ChangeOp::PutMembership(removed, Some(2))], audit())
        .await
        .unwrap();
    let by_added = MemberQuery {
        sort: MemberSort::Added,
        descending: true,
        ..query(&both)
    };
    assert_eq!(ids(dir, by_added).await[0], "p1");
}

async fn search_folds_case_and_takes_wildcards_literally(dir: &dyn Directory) {
    members(
        dir,
        "acme",
        "Ärzte Müller",
        &[
            ("p1", "Zoë Ångström", true),
            ("p2", "100% Sure", false),
            ("p3", "under_score", false),
            ("p4", "plain", false),
        ],
    )
    .await;
    members(dir, "globex", "Globex", &[("p5", "ÅSA", true)]).await;
    let search = |text: &str| MemberQuery {
        search: Some(text.into()),
        ..query(&["acme", "globex"])
    };
    assert_eq!(ids(dir, search("ångström")).await, ["p1"]);
    assert_eq!(ids(dir, search("ZOË")).await, ["p1"]);
    assert_eq!(ids(dir, search("åsa")).await, ["p5"]);
    // The company's name, folded.
    assert_eq!(ids(dir, search("ärzte")).await.len(), 4);
    // By email.
    assert_eq!(ids(dir, search("P4@A.TEST")).await, ["p4"]);
    // `%` and `_` match themselves only.
    assert_eq!(ids(dir, search("%")).await, ["p2"]);
    assert_eq!(ids(dir, search("r_s")).await, ["p3"]);
    assert_eq!(ids(dir, search("_")).await, ["p3"]);
    assert!(ids(dir, search("\\")).await.is_empty());
    assert!(ids(dir, search("nobody")).await.is_empty());
}

async fn uniqueness_versions_and_failed_changes(dir: &dyn Directory) {
    members(dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    let audit_before = dir
        .read_audit(AuditQuery::new(None, None, 100))
        .await
        .unwrap()
        .entries
        .len();
    // Another person with alice's email.
    let twin = Person {
        email: "alice@a.test".into(),
        ..person("twin", "Twin")
    };
    let err = refused(dir, vec![ChangeOp::PutPerson(twin)]).await;
    assert!(matches!(err, DirectoryError::Duplicate(_)), "{err}");
    // A stale version, after other ops in the same change: nothing of it stays.
    let notification = Notification {
        kind: NotificationKind::Invitation,
        recipient: "q@a.test".into(),
        params: vec![],
    };
    let err = refused(
        dir,
        vec![
            ChangeOp::PutPerson(person("q", "Q")),
            ChangeOp::Queue(notification),
            ChangeOp::PutMembership(membership("alice", "acme", false), Some(7)),
        ],
    )
    .await;
    assert!(matches!(err, DirectoryError::Conflict(_)), "{err}");
    assert!(dir.get_account("q").await.unwrap().is_none());
    assert!(dir.due_messages(10).await.unwrap().is_empty());
    assert_eq!(
        dir.read_audit(AuditQuery::new(None, None, 100))
            .await
            .unwrap()
            .entries
            .len(),
        audit_before
    );
    // A new membership where one exists, and one naming unknown records.
    let err = refused(
        dir,
        vec![ChangeOp::PutMembership(
            membership("alice", "acme", true),
            None,
        )],
    )
    .await;
    assert!(matches!(err, DirectoryError::Conflict(_)), "{err}");
    let err = refused(
        dir,
        vec![ChangeOp::PutMembership(
            membership("ghost", "acme", true),
            None,
        )],
    )
    .await;
    assert!(matches!(err, DirectoryError::NotFound(_)), "{err}");
    let err = refused(
        dir,
        vec![ChangeOp::PutMembership(
            membership("alice", "nowhere", true),
            Some(1),
        )],
    )
    .await;
    assert!(matches!(err, DirectoryError::NotFound(_)), "{err}");
    // The right version commits and counts up.
    dir.apply(
        vec![ChangeOp::PutMembership(
            membership("alice", "acme", false),
            Some(1),
        )],
        audit(),
    )
    .await
    .unwrap();
    let alice = dir.get_account("alice").await.unwrap().unwrap();
    assert_eq!(alice.membership.unwrap().version, 2);
    assert_eq!(alice.organization.unwrap().active_admins, 0);
    // A spending limit beyond what the store holds is kept at its largest.
    let mut big = membership("alice", "acme", false);
    big.spending_limit = Some(u64::MAX);
    dir.apply(vec![ChangeOp::PutMembership(big, Some(2))], audit())
        .await
        .unwrap();
    let limit = dir
        .get_account("alice")
        .await
        .unwrap()
        .unwrap()
        .membership
        .unwrap()
        .spending_limit;
    assert_eq!(limit, Some(i64::MAX as u64));
}

async fn guards_hold_inside_the_change(dir: &dyn Directory) {
    members(
        dir,
        "acme",
        "Acme",
        &[("a1", "A1", true), ("a2", "A2", true)],
    )
    .await;
    let expect_admins = |n| ChangeOp::ExpectActiveAdmins("acme".into(), n);
    let expect_version = |v| ChangeOp::ExpectMembership("a1".into(), "acme".into(), v);
    dir.apply(vec![expect_admins(2), expect_version(1)], audit())
        .await
        .unwrap();
    let expect_status = |s| ChangeOp::ExpectOrganizationStatus("acme".into(), s);
    dir.apply(vec![expect_status(OrganizationStatus::Approved)], audit())
        .await
        .unwrap();
    assert!(matches!(
        refused(
            dir,
            vec![ChangeOp::ExpectOrganizationStatus(
                "ghost".into(),
                OrganizationStatus::Approved
            )]
        )
        .await,
        DirectoryError::NotFound(_)
    ));
    for wrong in [
        vec![expect_status(OrganizationStatus::Blocked)],
        vec![expect_admins(1)],
        vec![expect_version(2)],
        vec![ChangeOp::ExpectMembership("ghost".into(), "acme".into(), 1)],
    ] {
        let err = refused(dir, wrong).await;
        assert!(matches!(err, DirectoryError::Conflict(_)), "{err}");
    }
}

async fn outbox_delivers_in_order(dir: &dyn Directory) {
    let note = |to: &str| Notification {
        kind: NotificationKind::Invitation,
        recipient: to.into(),
        params: vec![("k".into(), "v".into())],
    };
    dir.enqueue(note("1@x.test")).await.unwrap();
    dir.apply(vec![ChangeOp::Queue(note("2@x.test"))], audit())
        .await
        .unwrap();
    let due = dir.due_messages(10).await.unwrap();
    let to: Vec<&str> = due
        .iter()
        .map(|m| m.notification.recipient.as_str())
        .collect();
    assert_eq!(to, ["1@x.test", "2@x.test"]);
    assert_eq!(
        due[0].notification.params,
        [("k".to_string(), "v".to_string())]
    );
    assert_eq!(
        (due[0].attempts, due[0].notification.kind),
        (0, NotificationKind::Invitation)
    );
    assert_eq!(dir.due_messages(1).await.unwrap().len(), 1);
    // A failure waits for its retry; a delivery leaves the queue.
    dir.mark_failed(due[0].id, "451 try later", u64::MAX / 4)
        .await
        .unwrap();
    dir.mark_delivered(due[1].id).await.unwrap();
    assert!(dir.due_messages(10).await.unwrap().is_empty());
    dir.mark_failed(due[0].id, "451 again", 0).await.unwrap();
    let again = dir.due_messages(10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].id, again[0].attempts),
        (1, due[0].id, 2)
    );
}

async fn audit_pages_newest_first(dir: &dyn Directory) {
    for i in 0..5 {
        let org = if i % 2 == 0 { "a" } else { "b" };
        dir.apply(vec![], audit_of(org, &format!("step{i}")))
            .await
            .unwrap();
    }
    let all = dir
        .read_audit(AuditQuery::new(None, None, 100))
        .await
        .unwrap();
    let actions: Vec<&str> = all
        .entries
        .iter()
        .map(|e| e.entry.action.as_str())
        .collect();
    assert_eq!(actions, ["step4", "step3", "step2", "step1", "step0"]);
    assert!(all.next_cursor.is_none());
    assert_eq!(all.entries[0].entry.policies, ["p1", "p2"]);
    assert!(all.entries[0].at > 1_000_000_000);
    // One organization's, in pages of two.
    let first = dir
        .read_audit(AuditQuery::new(Some("a"), None, 2))
        .await
        .unwrap();
    let next = dir
        .read_audit(AuditQuery::new(Some("a"), first.next_cursor.as_deref(), 2))
        .await
        .unwrap();
    let paged: Vec<&str> = first
        .entries
        .iter()
        .chain(&next.entries)
        .map(|e| e.entry.action.as_str())
        .collect();
    assert_eq!(paged, ["step4", "step2", "step0"]);
    assert!(next.next_cursor.is_none());
    let err = dir
        .read_audit(AuditQuery::new(None, Some("x"), 2))
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Invalid(_)), "{err}");
}

/// PostgreSQL's schema migrates from empty and from each earlier version,
/// keeping what was there; a database from a newer release is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_from_empty_and_from_each_previous_version() {
    let server = PostgresServer::start();
    for from in 0..=schema::MIGRATIONS.len() {
        let url = server.new_database();
        let dir = connect_at(&url, from).await;
        assert_eq!(dir.schema_version().await.unwrap(), from);
        if from >= 1 {
            for row in [
                "INSERT INTO people (id, email, name) VALUES ('kept', 'kept@x.test', 'Kept')",
                "INSERT INTO organizations (id, name, status) VALUES ('old', 'Old', 'approved')",
                "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles, spending_limit, invited_at, version, added_seq)
                 VALUES ('kept', 'old', 'active', NULL, TRUE, '[]', 300, NULL, 6, 1)",
            ] {
                dir.query(row, &[]).await.unwrap();
            }
        }
        let dir = PostgresDirectory::connect(&url, 2, Clock::system())
            .await
            .unwrap();
        assert_eq!(
            dir.schema_version().await.unwrap(),
            schema::MIGRATIONS.len()
        );
        if from >= 1 {
            let kept = dir.get_account("kept").await.unwrap().unwrap();
            let m = kept.membership.expect("the membership is kept");
            assert_eq!(
                (
                    m.organization_id.as_str(),
                    m.is_admin,
                    m.spending_limit,
                    m.version
                ),
                ("old", true, Some(300), 6),
                "from {from}"
            );
        }
        members(&dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    }
    let url = server.new_database();
    let dir = PostgresDirectory::connect(&url, 2, Clock::system())
        .await
        .unwrap();
    dir.query("UPDATE partnergate_schema SET version = 99", &[])
        .await
        .unwrap();
    let err = PostgresDirectory::connect(&url, 2, Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("newer than this release knows"),
        "{err}"
    );
}

/// A PostgreSQL directory whose schema stops at version `target`.
async fn connect_at(url: &str, target: usize) -> PostgresDirectory {
    let dir = PostgresDirectory::connect_unmigrated(url, &Default::default(), Clock::system())
        .await
        .unwrap();
    dir.migrate_to(target).await.unwrap();
    dir
}

/// The two backends keep the same tables, columns and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_schemas_are_in_step() {
    let server = PostgresServer::start();
    let pg = PostgresDirectory::connect(&server.new_database(), 2, Clock::system())
        .await
        .unwrap();
    let columns = pg
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'partnergate_schema'",
            &[],
        )
        .await
        .unwrap();
    let pg_columns: HashSet<(String, String)> =
        columns.iter().map(|r| (r.get(0), r.get(1))).collect();
    let indexes = pg
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'",
            &[],
        )
        .await
        .unwrap();
    let pg_indexes: HashSet<String> = indexes.iter().map(|r| r.get(0)).collect();

    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut conn = conn;
    partnergate::directory::sqlite::migrate(
        &mut conn,
        partnergate::directory::sqlite::MIGRATIONS.len(),
    )
    .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    let sqlite_columns: HashSet<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let sqlite_indexes: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pg_columns, sqlite_columns);
    assert_eq!(pg_indexes, sqlite_indexes);
    assert_eq!(
        schema::MIGRATIONS.len(),
        partnergate::directory::sqlite::MIGRATIONS.len()
    );
}

/// A stored name this release does not know fails the read on PostgreSQL
/// too (the decision that needed it denies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fails_the_read_of_an_unknown_stored_status() {
    let backend = postgres().await;
    members(&*backend.dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    let server = backend._server.as_ref().unwrap();
    let pg = PostgresDirectory::connect(&server.url_of("t0"), 1, Clock::system())
        .await
        .unwrap();
    pg.query(
        "ALTER TABLE memberships DROP CONSTRAINT memberships_status_check",
        &[],
    )
    .await
    .unwrap();
    pg.query("UPDATE memberships SET status = 'suspended'", &[])
        .await
        .unwrap();
    let err = backend.dir.get_account("alice").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown account status `suspended`"),
        "{err}"
    );
}

/// Several nodes (each its own pool) on one database: of two changes that
/// each keep one of two administrators, made at once from two nodes, one
/// commits and the other conflicts, in every round; of concurrent adds of
/// one email and first links of one identity, exactly one commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_invariants_hold_across_nodes_under_concurrency() {
    let server = PostgresServer::start();
    let url = server.new_database();
    let a: Arc<dyn Directory> = Arc::new(
        PostgresDirectory::connect(&url, 4, Clock::system())
            .await
            .unwrap(),
    );
    let b: Arc<dyn Directory> = Arc::new(
        PostgresDirectory::connect(&url, 4, Clock::system())
            .await
            .unwrap(),
    );
    members(
        &*a,
        "globex",
        "Globex",
        &[("gina", "Gina", true), ("gail", "Gail", true)],
    )
    .await;
    for round in 0..40 {
        let revoke = |dir: Arc<dyn Directory>, who: &'static str| async move {
            let m = dir
                .get_account(who)
                .await
                .unwrap()
                .unwrap()
                .membership
                .unwrap();
            let version = m.version;
            let revoked = Membership {
                status: AccountStatus::Revoked,
                previous_status: Some(AccountStatus::Active),
                ..m
            };
            // What the plugin sends: the decision saw two active admins.
            dir.apply(
                vec![
                    ChangeOp::ExpectActiveAdmins("globex".into(), 2),
                    ChangeOp::PutMembership(revoked, Some(version)),
                ],
                audit(),
            )
            .await
        };
        let (x, y) = tokio::join!(
            tokio::spawn(revoke(a.clone(), "gina")),
            tokio::spawn(revoke(b.clone(), "gail"))
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(x.is_ok() != y.is_ok(), "round {round}: {x:?} {y:?}");
        let err = x.err().or(y.err()).unwrap();
        assert!(
            matches!(err, DirectoryError::Conflict(_)),
            "round {round}: {err}"
        );
        assert_eq!(
            a.get_organization("globex")
                .await
                .unwrap()
                .unwrap()
                .active_admins,
            1
        );
        // Reinstate whoever was revoked.
        for who in ["gina", "gail"] {
            let m = a
                .get_account(who)
                .await
                .unwrap()
                .unwrap()
                .membership
                .unwrap();
            if m.status == AccountStatus::Revoked {
                let v = m.version;
                let back = Membership {
                    status: AccountStatus::Active,
                    previous_status: None,
                    ..m
                };
                a.apply(vec![ChangeOp::PutMembership(back, Some(v))], audit())
                    .await
                    .unwrap();
            }
        }
    }
    for round in 0..20 {
        let add = |dir: Arc<dyn Directory>, id: String| async move {
            let p = Person {
                email: format!("same{round}@x.test"),
                ..person(&id, "Same")
            };
            dir.apply(vec![ChangeOp::PutPerson(p)], audit()).await
        };
        let link = |dir: Arc<dyn Directory>| async move {
            dir.apply(
                vec![ChangeOp::PutLink(
                    "https://idp.test".into(),
                    format!("sub{round}"),
                    "gina".into(),
                )],
                audit(),
            )
            .await
        };
        let (x, y, l1, l2) = tokio::join!(
            tokio::spawn(add(a.clone(), format!("x{round}"))),
            tokio::spawn(add(b.clone(), format!("y{round}"))),
            tokio::spawn(link(a.clone())),
            tokio::spawn(link(b.clone())),
        );
        for (first, second, what) in [
            (x.unwrap(), y.unwrap(), "email"),
            (l1.unwrap(), l2.unwrap(), "identity"),
        ] {
            assert!(
                first.is_ok() != second.is_ok(),
                "round {round}, {what}: {first:?} {second:?}"
            );
            let err = first.err().or(second.err()).unwrap();
            assert!(
                matches!(
                    err,
                    DirectoryError::Duplicate(_) | DirectoryError::Conflict(_)
                ),
                "round {round}, {what}: {err}"
            );
        }
    }
}

/// An unreachable PostgreSQL is a clear error, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_is_a_clear_error() {
    let port = partnergate_testkit::free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let err = PostgresDirectory::connect(&url, 2, Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, DirectoryError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
}

/// Two nodes (hosts with their own pools and caches) on one PostgreSQL
/// holding the sample directory, sharing a clock tests can move.
struct PostgresNodes {
    gates: Vec<partnergate::PartnerGate>,
    dir: Arc<dyn Directory>,
    clock: Clock,
    _server: PostgresServer,
}

async fn postgres_nodes() -> PostgresNodes {
    use partnergate::directory::seed::Seed;

    let server = PostgresServer::start();
    let url = server.new_database();
    let clock = Clock::system();
    let mut gates = Vec::new();
    let mut dirs: Vec<Arc<dyn Directory>> = Vec::new();
    for seed in [true, false] {
        let dir: Arc<dyn Directory> = Arc::new(
            PostgresDirectory::connect(&url, 8, clock.clone())
                .await
                .unwrap(),
        );
        if seed {
            Seed::from_file(&partnergate_testkit::sample_seed())
                .unwrap()
                .load_into(&*dir)
                .await
                .unwrap();
        }
        let gate = partnergate::PartnerGate::builder()
            .limits(super::common::limits())
            .directory(dir.clone())
            .clock(clock.clone())
            .artifact_cache(super::common::artifact_dir())
            .build()
            .await
            .unwrap();
        super::common::warm(&gate, 3).await;
        gates.push(gate);
        dirs.push(dir);
    }
    PostgresNodes {
        gates,
        dir: dirs.remove(0),
        clock,
        _server: server,
    }
}

/// What must happen once (an email added, an invitation re-sent, an
/// onboarding request approved) happens once when the concurrent calls
/// arrive at two nodes on one PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_must_happen_once_happens_once_across_nodes_on_postgres() {
    let nodes = postgres_nodes().await;
    super::org_users::happens_once(&nodes.gates, &*nodes.dir, &nodes.clock).await;
}

/// An identity's concurrent first sign-ins through two nodes on one
/// PostgreSQL link it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_identity_is_linked_once_across_nodes_on_postgres() {
    let nodes = postgres_nodes().await;
    super::sign_in::linked_once(&nodes.gates, &*nodes.dir).await;
}

/// The whole stack on two nodes sharing one PostgreSQL: globex's two
/// administrators revoke each other at the same instant, each through
/// another node, in many rounds; `keep-last-admin` holds in every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_never_revoke_the_last_admin() {
    use partnergate::Error;
    use partnergate::model::Target;

    let pg = postgres_nodes().await;
    let dir = pg.dir.clone();
    let target = |who: &'static str| {
        let dir = dir.clone();
        async move {
            Target {
                person_id: who.into(),
                organization_id: None,
                version: partnergate_testkit::version(&*dir, who).await,
            }
        }
    };
    for round in 0..30 {
        let (gina, gail) = (target("gina").await, target("gail").await);
        let (g1, g2) = (pg.gates[0].clone(), pg.gates[1].clone());
        let (a, b) = tokio::join!(
            tokio::spawn(async move { g1.revoke_user("customer:gina", gail).await }),
            tokio::spawn(async move { g2.revoke_user("customer:gail", gina).await }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} {b:?}");
        let err = a.as_ref().err().or(b.as_ref().err()).unwrap();
        assert!(
            matches!(err, Error::Conflict(_) | Error::Denied(_)),
            "round {round}: {err}"
        );
        assert_eq!(
            dir.get_organization("globex")
                .await
                .unwrap()
                .unwrap()
                .active_admins,
            1
        );
        let (admin, revoked) = if a.is_ok() {
            ("gina", "gail")
        } else {
            ("gail", "gina")
        };
        pg.gates[1]
            .reinstate_user(&format!("customer:{admin}"), target(revoked).await)
            .await
            .unwrap();
    }
}

/// SQLite never blocks the async runtime: on a single-threaded runtime, a
/// large change commits while a timer keeps ticking and a read of another
/// record completes before the change does (WAL, a reader beside the
/// writer, both on the blocking pool). Inline, the change would hold the
/// runtime's only thread until it committed.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_reads_and_timers_go_on_while_a_write_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Arc::new(SqliteDirectory::open(&tmp.path().join("d.db"), Clock::system()).unwrap());
    members(&*dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    let ops: Vec<ChangeOp> = (0..40_000)
        .map(|i| ChangeOp::PutPerson(person(&format!("bulk{i}"), "Bulk")))
        .collect();
    let started = std::time::Instant::now();
    let writer = {
        let dir = dir.clone();
        tokio::spawn(async move {
            dir.apply(ops, audit()).await.unwrap();
            started.elapsed()
        })
    };
    // Let the change start.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let read = dir.get_account("alice").await.unwrap();
    let read_at = started.elapsed();
    assert!(read.is_some());
    let mut ticks = 0;
    while !writer.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        ticks += 1;
    }
    let wrote_at = writer.await.unwrap();
    assert!(
        read_at < wrote_at,
        "the read ({read_at:?}) waited for the write ({wrote_at:?})"
    );
    assert!(
        ticks >= 3,
        "the timer ticked {ticks} times during a {wrote_at:?} write"
    );
    assert!(dir.get_account("bulk39999").await.unwrap().is_some());
}

/// TLS to PostgreSQL: `sslmode=require` connects when the server's
/// certificate chains to `--database-ca-file`, and is refused, saying why,
/// when it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_verifies_the_server() {
    use partnergate::directory::postgres::PostgresOptions;

    let (server, ca) = PostgresServer::start_with_tls();
    let url = format!("{}?sslmode=require", server.new_database());
    let trusted = PostgresOptions {
        pool_size: 2,
        ca_file: Some(ca),
    };
    let dir = PostgresDirectory::connect_with(&url, &trusted, Clock::system())
        .await
        .unwrap();
    let on_tls = dir
        .query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(
        on_tls[0].get::<_, bool>(0),
        "the connection is not encrypted"
    );
    members(&dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    let untrusted = PostgresOptions {
        pool_size: 2,
        ca_file: None,
    };
    let err = PostgresDirectory::connect_with(&url, &untrusted, Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, DirectoryError::Unavailable(_)), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // A server without TLS is refused under `require`.
    let plain = PostgresServer::start();
    let url = format!("{}?sslmode=require", plain.new_database());
    let err = PostgresDirectory::connect_with(&url, &trusted, Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, DirectoryError::Unavailable(_)), "{err}");
}

/// A person in two organizations: one account with both memberships (the
/// one acted for unnamed while both are active), each membership with its
/// own version, listed in each organization once with only that membership,
/// and the active-administrator count of each organization its own.
async fn a_person_holds_a_membership_in_each_of_several_organizations(dir: &dyn Directory) {
    members(dir, "acme", "Acme", &[("alice", "Alice", true)]).await;
    members(dir, "globex", "Globex", &[("gina", "Gina", true)]).await;
    dir.apply(
        vec![ChangeOp::PutMembership(
            membership("alice", "globex", false),
            None,
        )],
        audit(),
    )
    .await
    .unwrap();
    let account = dir.get_account("alice").await.unwrap().unwrap();
    assert_eq!(account.memberships.len(), 2);
    assert_eq!(account.membership, None, "two active: none stands out");
    assert!(account.needs_organization());
    let in_globex = account.acting_for(Some("globex"));
    assert_eq!(
        (
            in_globex.membership.as_ref().unwrap().is_admin,
            in_globex.organization.as_ref().unwrap().active_admins
        ),
        (false, 1)
    );
    // A second membership in the same organization is a conflict.
    let again = dir
        .apply(
            vec![ChangeOp::PutMembership(
                membership("alice", "globex", false),
                None,
            )],
            audit(),
        )
        .await
        .unwrap_err();
    assert!(matches!(again, DirectoryError::Conflict(_)), "{again}");
    // Revoking one leaves the other as it was.
    let revoked = Membership {
        status: AccountStatus::Revoked,
        previous_status: Some(AccountStatus::Active),
        ..membership("alice", "globex", false)
    };
    dir.apply(vec![ChangeOp::PutMembership(revoked, Some(1))], audit())
        .await
        .unwrap();
    let account = dir.get_account("alice").await.unwrap().unwrap();
    let acme = account.member_of("acme").unwrap();
    let globex = account.member_of("globex").unwrap();
    assert_eq!(
        (acme.membership.status, acme.membership.version),
        (AccountStatus::Active, 1)
    );
    assert_eq!(
        (globex.membership.status, globex.membership.version),
        (AccountStatus::Revoked, 2)
    );
    assert_eq!(
        account.membership.as_ref().unwrap().organization_id,
        "acme",
        "her only active one"
    );
    // Guards name the organization.
    let stale = ChangeOp::ExpectMembership("alice".into(), "globex".into(), 1);
    assert!(matches!(
        refused(dir, vec![stale]).await,
        DirectoryError::Conflict(_)
    ));
    dir.apply(
        vec![ChangeOp::ExpectMembership("alice".into(), "acme".into(), 1)],
        audit(),
    )
    .await
    .unwrap();
    // Each organization lists its own membership of hers, and only that.
    for org in ["acme", "globex"] {
        let page = dir.list_members(query(&[org])).await.unwrap();
        let alice: Vec<_> = page
            .members
            .iter()
            .filter(|m| m.person.id == "alice")
            .collect();
        assert_eq!(alice.len(), 1, "{org}");
        assert_eq!(alice[0].memberships.len(), 1, "{org}");
        assert_eq!(alice[0].membership.as_ref().unwrap().organization_id, org);
    }
    // Across both, once per membership, and pages of one row keep going.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let mut q = query(&["acme", "globex"]);
        q.limit = 1;
        q.cursor = cursor;
        let page = dir.list_members(q).await.unwrap();
        seen.extend(page.members.iter().map(|m| {
            (
                m.person.id.clone(),
                m.membership.as_ref().unwrap().organization_id.clone(),
            )
        }));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [("alice", "acme"), ("alice", "globex"), ("gina", "globex")]
            .map(|(p, o)| (p.to_string(), o.to_string()))
    );
}

/// The database of the last release (schema 4, one membership per person)
/// migrates keeping every row, and then takes a second membership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_releases_database_migrates_keeping_every_membership() {
    const LAST_RELEASE: usize = 4;
    let rows = [
        "INSERT INTO organizations (id, name, status) VALUES ('acme', 'Acme', 'approved')",
        "INSERT INTO organizations (id, name, status) VALUES ('globex', 'Globex', 'approved')",
        "INSERT INTO people (id, email, name) VALUES ('alice', 'alice@x.test', 'Alice')",
        "INSERT INTO people (id, email, name) VALUES ('rita', 'rita@x.test', 'Rita')",
        "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles, spending_limit, invited_at, version, added_seq)
         VALUES ('alice', 'acme', 'active', NULL, TRUE, '[\"buyer\"]', 5000, 17, 3, 1)",
        "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles, spending_limit, invited_at, version, added_seq)
         VALUES ('rita', 'acme', 'revoked', 'active', FALSE, '[]', NULL, NULL, 7, 2)",
    ];
    let check = |dir: Arc<dyn Directory>| async move {
        let alice = dir.get_account("alice").await.unwrap().unwrap();
        let m = alice.membership.clone().unwrap();
        assert_eq!(
            (
                m.organization_id.as_str(),
                m.status,
                m.is_admin,
                m.roles.clone(),
                m.spending_limit,
                m.invited_at,
                m.version
            ),
            (
                "acme",
                AccountStatus::Active,
                true,
                vec!["buyer".to_string()],
                Some(5000),
                Some(17),
                3
            )
        );
        let rita = dir
            .get_account("rita")
            .await
            .unwrap()
            .unwrap()
            .membership
            .unwrap();
        assert_eq!(
            (rita.status, rita.previous_status, rita.version),
            (AccountStatus::Revoked, Some(AccountStatus::Active), 7)
        );
        assert_eq!(
            dir.get_organization("acme")
                .await
                .unwrap()
                .unwrap()
                .active_admins,
            1
        );
        let page = dir.list_members(query(&["acme"])).await.unwrap();
        assert_eq!(page.members.len(), 2);
        dir.apply(
            vec![ChangeOp::PutMembership(
                membership("alice", "globex", false),
                None,
            )],
            audit(),
        )
        .await
        .unwrap();
        let alice = dir.get_account("alice").await.unwrap().unwrap();
        assert_eq!(alice.memberships.len(), 2);
        // A new member is added after the migrated ones.
        let mut q = query(&["acme", "globex"]);
        q.sort = MemberSort::Added;
        let order: Vec<String> = dir
            .list_members(q)
            .await
            .unwrap()
            .members
            .iter()
            .map(|m| m.person.id.clone())
            .collect();
        assert_eq!(order, ["alice", "rita", "alice"]);
    };

    // SQLite: a file at schema 4, then opened by this release.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("directory.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        partnergate::directory::sqlite::migrate(&mut conn, LAST_RELEASE).unwrap();
        for row in rows {
            conn.execute(&row.replace("TRUE", "1").replace("FALSE", "0"), [])
                .unwrap();
        }
    }
    let sqlite = SqliteDirectory::open(&path, Clock::system()).unwrap();
    check(Arc::new(sqlite)).await;

    // PostgreSQL: the same rows at schema 4, then connected by this release.
    let server = PostgresServer::start();
    let url = server.new_database();
    let old = connect_at(&url, LAST_RELEASE).await;
    for row in rows {
        old.query(row, &[]).await.unwrap();
    }
    let pg = PostgresDirectory::connect(&url, 2, Clock::system())
        .await
        .unwrap();
    assert_eq!(pg.schema_version().await.unwrap(), schema::MIGRATIONS.len());
    check(Arc::new(pg)).await;
}
