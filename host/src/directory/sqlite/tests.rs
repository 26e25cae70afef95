use super::*;
use crate::model::{AccountStatus, Membership, OrganizationStatus, Person};

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

fn person(id: &str) -> Person {
    Person {
        id: id.into(),
        email: format!("{id}@a.test"),
        name: id.into(),
    }
}

fn membership(person: &str, org: &str) -> Membership {
    Membership {
        organization_id: org.into(),
        person_id: person.into(),
        status: AccountStatus::Active,
        previous_status: None,
        is_admin: true,
        roles: vec!["buyer".into()],
        spending_limit: Some(5),
        invited_at: None,
        version: 1,
    }
}

fn org(id: &str) -> Organization {
    Organization {
        id: id.into(),
        name: id.into(),
        status: OrganizationStatus::Approved,
        active_admins: 0,
    }
}

/// The directory fails closed on a stored name it does not know: the
/// read fails (the decision that needed it denies) instead of guessing.
#[tokio::test]
async fn an_unknown_stored_status_fails_the_read() {
    let dir = SqliteDirectory::in_memory(Clock::system()).unwrap();
    dir.apply(
        vec![
            ChangeOp::PutOrganization(org("a")),
            ChangeOp::PutPerson(person("p")),
            ChangeOp::PutMembership(membership("p", "a"), None),
        ],
        audit(),
    )
    .await
    .unwrap();
    assert!(dir.get_account("p").await.unwrap().is_some());
    // The schema's CHECKs keep such names out; a file written by another
    // version or edited by hand may still hold one.
    dir.conn()
        .pragma_update(None, "ignore_check_constraints", true)
        .unwrap();
    dir.conn()
        .execute("UPDATE memberships SET status = 'suspended'", [])
        .unwrap();
    let err = dir.get_account("p").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown account status `suspended`"),
        "{err}"
    );
    dir.conn()
        .execute("UPDATE memberships SET status = 'active'", [])
        .unwrap();
    dir.conn()
        .execute("UPDATE organizations SET status = 'frozen'", [])
        .unwrap();
    let err = dir.get_account("p").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown organization status `frozen`"),
        "{err}"
    );
}

#[tokio::test]
async fn migrates_an_empty_file_and_a_database_from_the_previous_version() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("fresh.db");
    let dir = SqliteDirectory::open(&fresh, Clock::system()).unwrap();
    assert_eq!(dir.schema_version().unwrap(), MIGRATIONS.len());
    drop(dir);
    // Reopening an up-to-date database changes nothing.
    assert_eq!(
        SqliteDirectory::open(&fresh, Clock::system())
            .unwrap()
            .schema_version()
            .unwrap(),
        MIGRATIONS.len()
    );

    let old = tmp.path().join("old.db");
    {
        let mut conn = Connection::open(&old).unwrap();
        migrate(&mut conn, MIGRATIONS.len() - 1).unwrap();
        conn.execute(
            "INSERT INTO organizations (id, name, status) VALUES ('a', 'A', 'approved')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO onboarding_requests VALUES ('r1', 'X', 'R', 'r@x.test', 'pending', NULL, 1, 1)",
            [],
        )
        .unwrap();
    }
    let dir = SqliteDirectory::open(&old, Clock::system()).unwrap();
    assert_eq!(dir.schema_version().unwrap(), MIGRATIONS.len());
    assert_eq!(dir.get_organization("a").await.unwrap().unwrap().name, "A");
    // The newer migration's rule now holds: one pending request per email.
    let second = OnboardingRequest {
        id: "r2".into(),
        organization_name: "Y".into(),
        requester_name: "R".into(),
        requester_email: "r@x.test".into(),
        status: OnboardingStatus::Pending,
        organization_id: None,
        submitted_at: 2,
        version: 1,
    };
    let err = dir
        .apply(vec![ChangeOp::PutOnboarding(second, None)], audit())
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Duplicate(_)), "{err}");
}

/// From each earlier version, a membership stored then is read back whole
/// now (version 5 changed the memberships table's key).
#[tokio::test]
async fn every_earlier_version_migrates_keeping_its_memberships() {
    let tmp = tempfile::tempdir().unwrap();
    for from in 1..MIGRATIONS.len() {
        let path = tmp.path().join(format!("v{from}.db"));
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate(&mut conn, from).unwrap();
            conn.execute_batch(
                "INSERT INTO organizations (id, name, status) VALUES ('a', 'A', 'approved');
                 INSERT INTO people (id, email, name) VALUES ('p', 'p@x.test', 'P');
                 INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles,
                     spending_limit, invited_at, version, added_seq)
                 VALUES ('p', 'a', 'revoked', 'active', 1, '[\"buyer\"]', 700, 9, 4, 1);",
            )
            .unwrap();
        }
        let dir = SqliteDirectory::open(&path, Clock::system()).unwrap();
        assert_eq!(dir.schema_version().unwrap(), MIGRATIONS.len());
        let m = dir
            .get_account("p")
            .await
            .unwrap()
            .unwrap()
            .membership
            .unwrap();
        assert_eq!(
            (
                m.status,
                m.previous_status,
                m.is_admin,
                m.roles,
                m.spending_limit,
                m.invited_at,
                m.version
            ),
            (
                AccountStatus::Revoked,
                Some(AccountStatus::Active),
                true,
                vec!["buyer".to_string()],
                Some(700),
                Some(9),
                4
            ),
            "from version {from}"
        );
    }
}

#[test]
fn a_database_from_a_newer_release_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("future.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteDirectory::open(&path, Clock::system())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("newer"), "{err}");
}
