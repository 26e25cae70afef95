//! The organization-user lifecycle through the real plugin, on SQLite: every
//! change decided by Cedar first, committed with its audit entry and
//! notifications, and reflected in the very next authorization.

use super::common;

use std::sync::Arc;
use std::time::Duration;

use partnergate::clock::Clock;
use partnergate::directory::Outbox;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::directory::{AuditQuery, Directory};
use partnergate::model::ChangeOp;
use partnergate::model::{
    AccountStatus, AuditEntry, MemberSort, Membership, OnboardingRequest, OnboardingStatus,
    OrganizationStatus,
};
use partnergate::model::{BulkAction, NewUser, Target, UserChanges, UserQuery};
use partnergate::{AuthorizeRequest, Error, PartnerGate};

struct Fixture {
    gate: PartnerGate,
    dir: Arc<SqliteDirectory>,
    clock: Clock,
}

async fn fixture() -> Fixture {
    let clock = Clock::system();
    let dir = common::sample_directory(&clock).await;
    let gate = PartnerGate::builder()
        .directory(dir.clone())
        .clock(clock.clone())
        .artifact_cache(common::artifact_dir())
        .build()
        .await
        .expect("host starts");
    Fixture { gate, dir, clock }
}

fn none() -> UserChanges {
    UserChanges {
        name: None,
        email: None,
        roles: None,
        is_admin: None,
        spending_limit: None,
    }
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: format!("User {email}"),
        roles: vec!["buyer".into()],
        is_admin: false,
        spending_limit: None,
    }
}

impl Fixture {
    async fn target(&self, person: &str) -> Target {
        common::target(&*self.dir, person).await
    }

    async fn browses(&self, person: &str) -> bool {
        common::decide(
            &self.gate,
            &format!("customer:{person}"),
            "browse",
            "store:main",
        )
        .await
        .is_allowed()
    }

    async fn audit_len(&self) -> usize {
        self.dir
            .read_audit(AuditQuery::new(None, None, 500))
            .await
            .unwrap()
            .entries
            .len()
    }

    async fn outbox(&self) -> Vec<String> {
        self.dir
            .due_messages(500)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.notification.recipient)
            .collect()
    }
}

fn denied_by(result: Result<impl std::fmt::Debug, Error>) -> Vec<String> {
    match result {
        Err(Error::Denied(decision)) => decision.policies,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn admin_adds_a_user_who_is_invited_notified_and_audited() {
    let f = fixture().await;
    let m = f
        .gate
        .add_user("customer:alice", "acme", new_user(" New.User@Acme.TEST "))
        .await
        .unwrap();
    assert_eq!(m.status, AccountStatus::Invited);
    assert_eq!(m.organization_id, "acme");
    let account = f.dir.get_account(&m.person_id).await.unwrap().unwrap();
    assert_eq!(account.person.email, "new.user@acme.test");
    assert_eq!(f.outbox().await, ["new.user@acme.test"]);
    let audit = f
        .gate
        .read_audit("customer:alice", Some("acme"), None, 10)
        .await
        .unwrap();
    let entry = &audit.entries[0].entry;
    assert_eq!(
        (entry.action.as_str(), entry.actor.as_str()),
        ("addUser", "customer:alice")
    );
    assert_eq!(entry.policies, ["org-admin-manages-own-users"]);
    assert!(entry.after.contains("\"invited\""), "{}", entry.after);
    // Invited users may do nothing yet.
    assert!(!f.browses(&m.person_id).await);
}

#[tokio::test]
async fn admin_cannot_add_users_to_another_organization_and_nothing_changes() {
    let f = fixture().await;
    let before = f.audit_len().await;
    assert_eq!(
        denied_by(
            f.gate
                .add_user("customer:alice", "globex", new_user("x@globex.test"))
                .await
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        denied_by(
            f.gate
                .add_user("customer:bob", "acme", new_user("y@acme.test"))
                .await
        ),
        Vec::<String>::new()
    );
    assert_eq!(f.audit_len().await, before);
    assert!(f.outbox().await.is_empty());
    assert!(
        f.dir
            .find_account_by_email("x@globex.test")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn adding_a_member_again_is_a_conflict_and_a_member_elsewhere_is_invited_too() {
    let f = fixture().await;
    let err = f
        .gate
        .add_user("customer:alice", "acme", new_user("BOB@acme.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ref m) if m.contains("already a member")),
        "{err}"
    );
    // Ian belongs to initech: adding him to acme invites him into acme too,
    // his initech membership untouched.
    let added = f
        .gate
        .add_user("staff:sam", "acme", new_user("ian@initech.test"))
        .await
        .unwrap();
    assert_eq!(
        (
            added.person_id.as_str(),
            added.organization_id.as_str(),
            added.status
        ),
        ("ian", "acme", AccountStatus::Invited)
    );
    let ian = f.dir.get_account("ian").await.unwrap().unwrap();
    assert_eq!(ian.memberships.len(), 2);
    assert_eq!(
        ian.member_of("initech").unwrap().membership.status,
        AccountStatus::Active
    );
    assert_eq!(ian.person.name, "Ian", "his record is his own");
    let err = f
        .gate
        .add_user("customer:alice", "acme", new_user("not-an-email"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    let err = f
        .gate
        .add_user("customer:alice", "nowhere", new_user("z@acme.test"))
        .await
        .unwrap_err();
    // Permit before details: not a member of `nowhere`, so not told that it
    // does not exist.
    assert!(matches!(err, Error::Denied(_)), "{err}");
}

/// A counter of `gate`'s metrics.
fn counter(gate: &PartnerGate, name: &str) -> u64 {
    gate.metrics()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// The host gives a decision again without a plugin call only while every
/// record it rests on keeps its stamp: a revoke changes the principal's, a
/// change to the organization the resource's; a decision on a missing
/// record is never given again. A request is kept only once it was asked
/// before (the doorkeeper), so it is given again from its third asking.
#[tokio::test]
async fn a_decision_is_reused_until_a_record_it_rests_on_changes() {
    const REUSED: &str = "partnergate_decisions_reused_total";
    let f = fixture().await;
    assert!(f.browses("bob").await);
    assert!(f.browses("bob").await);
    assert_eq!(counter(&f.gate, REUSED), 0, "kept at its first asking");
    assert!(f.browses("bob").await);
    assert!(f.browses("bob").await);
    assert_eq!(counter(&f.gate, REUSED), 2);
    f.gate
        .revoke_user("customer:alice", f.target("bob").await)
        .await
        .unwrap();
    assert!(
        !f.browses("bob").await,
        "reused a decision on a stale record"
    );
    assert_eq!(counter(&f.gate, REUSED), 2);
    assert!(!f.browses("bob").await);
    assert_eq!(counter(&f.gate, REUSED), 3);

    // The resource's record counts too: reinstating bob changes his record,
    // not staff member sam's.
    let demotes = || common::decide(&f.gate, "staff:sam", "demoteAdmin", "customer:bob");
    let before = demotes().await;
    assert_eq!(demotes().await, before);
    assert_eq!(counter(&f.gate, REUSED), 3);
    assert_eq!(demotes().await, before);
    assert_eq!(counter(&f.gate, REUSED), 4);
    f.gate
        .reinstate_user("customer:alice", f.target("bob").await)
        .await
        .unwrap();
    demotes().await;
    assert_eq!(
        counter(&f.gate, REUSED),
        4,
        "reused a decision on a stale resource"
    );
    demotes().await;
    assert_eq!(counter(&f.gate, REUSED), 5);

    // Nobody's decision rests on no record: it is made every time.
    for _ in 0..3 {
        let d = common::decide(&f.gate, "customer:nobody", "browse", "store:main").await;
        assert!(!d.is_allowed());
    }
    assert_eq!(counter(&f.gate, REUSED), 5);

    // A batch gives again what it may and asks the plugin for the rest:
    // bob was reinstated since his last browse, nobody never rests on a
    // record.
    let batch = [
        AuthorizeRequest::new("customer:bob", "browse", "store:main"),
        AuthorizeRequest::new("customer:nobody", "browse", "store:main"),
    ];
    let allowed = |answers: Vec<Result<partnergate::Decision, Error>>| -> Vec<bool> {
        answers
            .into_iter()
            .map(|a| a.unwrap().is_allowed())
            .collect()
    };
    assert_eq!(
        allowed(f.gate.authorize_many(&batch).await.unwrap()),
        [true, false]
    );
    assert_eq!(counter(&f.gate, REUSED), 5);
    assert_eq!(
        allowed(f.gate.authorize_many(&batch).await.unwrap()),
        [true, false]
    );
    assert_eq!(counter(&f.gate, REUSED), 6);
}

/// A decision is kept by the request's context too: an order over the
/// limit is not given the decision of one under it, however often either
/// was asked, and `12000.0` is the same request as `12000`.
#[tokio::test]
async fn a_decision_is_given_again_only_for_the_same_context() {
    const REUSED: &str = "partnergate_decisions_reused_total";
    let f = fixture().await;
    let order = |total: serde_json::Value| {
        let gate = f.gate.clone();
        async move {
            gate.authorize(
                &AuthorizeRequest::new("customer:bob", "placeOrder", "store:main")
                    .with_context(serde_json::json!({ "orderTotal": total })),
            )
            .await
            .unwrap()
        }
    };
    // Asked four times each: decided twice, given again twice.
    for _ in 0..4 {
        assert!(order(12000.into()).await.is_allowed());
        let over = order(50001.into()).await;
        assert!(!over.is_allowed(), "{over:?}");
        assert_eq!(over.policies, ["order-within-spending-limit"]);
    }
    assert_eq!(counter(&f.gate, REUSED), 4);
    assert!(order(serde_json::json!(12000.0)).await.is_allowed());
    assert_eq!(counter(&f.gate, REUSED), 5);
    let fraction = f
        .gate
        .authorize(
            &AuthorizeRequest::new("customer:bob", "placeOrder", "store:main")
                .with_context(serde_json::json!({ "orderTotal": 12000.5 })),
        )
        .await;
    assert!(
        !matches!(&fraction, Ok(d) if d.is_allowed()),
        "a fraction is not the whole number: {fraction:?}"
    );
    assert_eq!(counter(&f.gate, REUSED), 5);
}

/// `reuse_decisions: 0` makes every decision a plugin call.
#[tokio::test]
async fn with_reuse_off_every_decision_is_a_plugin_call() {
    let clock = Clock::system();
    let dir = common::sample_directory(&clock).await;
    let gate = PartnerGate::builder()
        .directory(dir)
        .clock(clock)
        .artifact_cache(common::artifact_dir())
        .limits(partnergate::Limits {
            reuse_decisions: 0,
            ..Default::default()
        })
        .build()
        .await
        .expect("host starts");
    for _ in 0..3 {
        assert!(
            common::decide(&gate, "customer:bob", "browse", "store:main")
                .await
                .is_allowed()
        );
    }
    assert_eq!(counter(&gate, "partnergate_decisions_reused_total"), 0);
}

#[tokio::test]
async fn revoke_takes_effect_on_the_next_request_and_reinstate_restores_it() {
    let f = fixture().await;
    assert!(f.browses("bob").await);
    let revoked = f
        .gate
        .revoke_user("customer:alice", f.target("bob").await)
        .await
        .unwrap();
    assert_eq!(
        (revoked.status, revoked.previous_status),
        (AccountStatus::Revoked, Some(AccountStatus::Active))
    );
    assert!(
        !f.browses("bob").await,
        "a revoked user must be denied at once"
    );
    let reinstated = f
        .gate
        .reinstate_user("customer:alice", f.target("bob").await)
        .await
        .unwrap();
    assert_eq!(reinstated.status, AccountStatus::Active);
    assert!(f.browses("bob").await);
    // Reinstating an invited user who was revoked gives back `invited`.
    f.gate
        .revoke_user("customer:alice", f.target("ivan").await)
        .await
        .unwrap();
    let back = f
        .gate
        .reinstate_user("customer:alice", f.target("ivan").await)
        .await
        .unwrap();
    assert_eq!(back.status, AccountStatus::Invited);
    let err = f
        .gate
        .reinstate_user("customer:alice", f.target("bob").await)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
}

#[tokio::test]
async fn removed_user_is_denied_and_adding_them_again_starts_a_new_invitation() {
    let f = fixture().await;
    let removed = f
        .gate
        .remove_user("customer:alice", f.target("carol").await)
        .await
        .unwrap();
    assert_eq!(removed.status, AccountStatus::Removed);
    assert!(!f.browses("carol").await);
    assert!(
        f.dir.get_account("carol").await.unwrap().is_some(),
        "the record stays"
    );
    let again = f
        .gate
        .add_user("customer:alice", "acme", new_user("carol@acme.test"))
        .await
        .unwrap();
    assert_eq!(
        (again.person_id.as_str(), again.status),
        ("carol", AccountStatus::Invited)
    );
    assert_eq!(again.version, removed.version + 1);
    assert_eq!(f.outbox().await, ["carol@acme.test"]);
}

#[tokio::test]
async fn nobody_removes_revokes_or_demotes_themselves_or_the_last_admin() {
    let f = fixture().await;
    assert_eq!(
        denied_by(
            f.gate
                .remove_user("customer:gina", f.target("gina").await)
                .await
        ),
        ["no-self-removal"]
    );
    assert_eq!(
        denied_by(
            f.gate
                .revoke_user("customer:gina", f.target("gina").await)
                .await
        ),
        ["no-self-removal"]
    );
    assert_eq!(
        denied_by(
            f.gate
                .remove_user("staff:sam", f.target("alice").await)
                .await
        ),
        ["keep-last-admin"]
    );
    let demote = UserChanges {
        is_admin: Some(false),
        ..none()
    };
    assert_eq!(
        denied_by(
            f.gate
                .edit_user("staff:sam", f.target("alice").await, demote.clone())
                .await
        ),
        ["keep-last-admin"]
    );
    // Once staff designate a second admin, the first may be demoted.
    let designate = UserChanges {
        is_admin: Some(true),
        ..none()
    };
    assert_eq!(
        denied_by(
            f.gate
                .edit_user("customer:alice", f.target("bob").await, designate.clone())
                .await
        ),
        Vec::<String>::new()
    );
    f.gate
        .edit_user("staff:sam", f.target("bob").await, designate)
        .await
        .unwrap();
    let alice = f
        .gate
        .edit_user("staff:sam", f.target("alice").await, demote)
        .await
        .unwrap();
    assert!(!alice.is_admin);
    // Authorization follows at once: alice no longer manages users, bob does.
    assert!(
        !common::decide(&f.gate, "customer:alice", "addUser", "organization:acme")
            .await
            .is_allowed()
    );
    assert!(
        common::decide(&f.gate, "customer:bob", "addUser", "organization:acme")
            .await
            .is_allowed()
    );
}

#[tokio::test]
async fn email_changes_only_while_invited_and_never_for_a_linked_identity() {
    let f = fixture().await;
    let change = |email: &str| UserChanges {
        email: Some(email.into()),
        ..none()
    };
    let m = f
        .gate
        .edit_user(
            "customer:alice",
            f.target("ivan").await,
            change("ivan.new@acme.test"),
        )
        .await
        .unwrap();
    assert_eq!(
        f.dir
            .get_account("ivan")
            .await
            .unwrap()
            .unwrap()
            .person
            .email,
        "ivan.new@acme.test"
    );
    assert_eq!(m.version, 2);
    let err = f
        .gate
        .edit_user(
            "customer:alice",
            f.target("bob").await,
            change("bob2@acme.test"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref msg) if msg.contains("remove the user and add them again")),
        "{err}"
    );
    let link = ChangeOp::PutLink("https://idp.test".into(), "sub-ivan".into(), "ivan".into());
    f.dir.apply(vec![link], audit("link")).await.unwrap();
    let err = f
        .gate
        .edit_user(
            "customer:alice",
            f.target("ivan").await,
            change("ivan3@acme.test"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref msg) if msg.contains("in use for sign-in")),
        "{err}"
    );
    let err = f
        .gate
        .edit_user(
            "customer:alice",
            f.target("ivan").await,
            change("bob@acme.test"),
        )
        .await
        .unwrap_err();
    assert!(!matches!(err, Error::Denied(_)), "{err}");
    // Name, roles and limit change freely, and the limit applies at once.
    let limit = UserChanges {
        spending_limit: Some(Some(100)),
        name: Some("Bob B.".into()),
        ..none()
    };
    f.gate
        .edit_user("customer:alice", f.target("bob").await, limit)
        .await
        .unwrap();
    let order = common::decide_with(
        &f.gate,
        "customer:bob",
        "placeOrder",
        "store:main",
        serde_json::json!({"orderTotal": 101}),
    )
    .await;
    assert_eq!(order.policies, ["order-within-spending-limit"]);
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        actor: "system:test".into(),
        action: action.into(),
        target: String::new(),
        organization_id: None,
        before: String::new(),
        after: String::new(),
        policies: vec![],
    }
}

#[tokio::test]
async fn stale_edit_is_a_conflict_and_of_two_concurrent_edits_one_wins() {
    let f = fixture().await;
    let read = f.target("bob").await;
    f.gate
        .edit_user(
            "customer:alice",
            read.clone(),
            UserChanges {
                roles: Some(vec!["approver".into()]),
                ..none()
            },
        )
        .await
        .unwrap();
    let err = f
        .gate
        .edit_user(
            "customer:alice",
            read.clone(),
            UserChanges {
                roles: Some(vec!["x".into()]),
                ..none()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert_eq!(
        f.dir
            .get_account("bob")
            .await
            .unwrap()
            .unwrap()
            .membership
            .unwrap()
            .roles,
        ["approver"]
    );

    let read = f.target("bob").await;
    let (a, b) = tokio::join!(
        f.gate.edit_user(
            "customer:alice",
            read.clone(),
            UserChanges {
                name: Some("A".into()),
                ..none()
            }
        ),
        f.gate.edit_user(
            "customer:alice",
            read.clone(),
            UserChanges {
                name: Some("B".into()),
                ..none()
            }
        ),
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
    assert!(matches!(a.err().or(b.err()), Some(Error::Conflict(_))));
}

#[tokio::test]
async fn reinvite_is_rate_limited_by_the_clock() {
    let f = fixture().await;
    let m = f
        .gate
        .add_user("customer:alice", "acme", new_user("late@acme.test"))
        .await
        .unwrap();
    let target = Target {
        person_id: m.person_id.clone(),
        organization_id: None,
        version: m.version,
    };
    let err = f
        .gate
        .reinvite_user("customer:alice", target.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited(s) if s > 0 && s <= 300),
        "{err}"
    );
    f.clock.advance(Duration::from_secs(301));
    let again = f
        .gate
        .reinvite_user("customer:alice", target)
        .await
        .unwrap();
    assert_eq!(f.outbox().await, ["late@acme.test", "late@acme.test"]);
    let err = f
        .gate
        .reinvite_user("customer:alice", f.target("bob").await)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    assert!(again.invited_at > m.invited_at);
}

#[tokio::test]
async fn bulk_change_reports_each_item_and_one_bad_item_does_not_stop_the_others() {
    let f = fixture().await;
    let targets = vec![
        f.target("bob").await,
        Target {
            person_id: "carol".into(),
            organization_id: None,
            version: 99,
        },
        Target {
            person_id: "nobody".into(),
            organization_id: None,
            version: 1,
        },
        f.target("george").await,
        f.target("ivan").await,
    ];
    let results = f
        .gate
        .bulk_change("customer:alice", BulkAction::Revoke, targets)
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert!(
        results[0]
            .as_ref()
            .is_ok_and(|m| m.status == AccountStatus::Revoked)
    );
    assert!(
        matches!(results[1], Err(Error::Conflict(_))),
        "{:?}",
        results[1]
    );
    // Someone who may not see `nobody` learns nothing, not even that no
    // such user exists.
    assert!(
        matches!(&results[2], Err(Error::Denied(d)) if d.policies.is_empty() && d.errors.is_empty()),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(Error::Denied(_))),
        "{:?}",
        results[3]
    );
    assert!(results[4].is_ok());
    assert!(!f.browses("bob").await);
    assert!(f.browses("george").await);

    let users = vec![
        new_user("one@acme.test"),
        new_user("bob@acme.test"),
        new_user("bad"),
        new_user("two@acme.test"),
    ];
    let results = f
        .gate
        .bulk_add("customer:alice", "acme", users)
        .await
        .unwrap();
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, false, true]);
}

#[tokio::test]
async fn list_pages_with_a_stable_cursor_filters_and_searches() {
    let f = fixture().await;
    for i in 0..23 {
        f.gate
            .add_user(
                "staff:sam",
                "acme",
                new_user(&format!("page{i:02}@acme.test")),
            )
            .await
            .unwrap();
    }
    let query = |cursor: Option<String>| UserQuery {
        organizations: Some("acme".into()),
        status: None,
        search: None,
        sort: MemberSort::Email,
        descending: false,
        cursor,
        limit: 10,
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = f
            .gate
            .list_users("customer:alice", query(cursor))
            .await
            .unwrap();
        pages += 1;
        if pages == 2 {
            // A user who sorts before the cursor, added mid-listing, does not shift later pages.
            f.gate
                .add_user("staff:sam", "acme", new_user("aaa-late@acme.test"))
                .await
                .unwrap();
        }
        seen.extend(page.members.into_iter().map(|a| a.person.email));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6 + 23, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages must be in order with no repeats");

    let invited = f
        .gate
        .list_users(
            "customer:alice",
            UserQuery {
                status: Some(AccountStatus::Invited),
                limit: 500,
                ..query(None)
            },
        )
        .await
        .unwrap();
    assert_eq!(invited.members.len(), 1 + 23 + 1);
    let search = f
        .gate
        .list_users(
            "customer:alice",
            UserQuery {
                search: Some("PAGE1".into()),
                limit: 500,
                ..query(None)
            },
        )
        .await
        .unwrap();
    assert_eq!(search.members.len(), 10);
    let desc = f
        .gate
        .list_users(
            "customer:alice",
            UserQuery {
                descending: true,
                ..query(None)
            },
        )
        .await
        .unwrap();
    assert_eq!(desc.members[0].person.email, "rita@acme.test");
    assert!(denied_by(f.gate.list_users("customer:gina", query(None)).await).is_empty());
    let bad = f
        .gate
        .list_users(
            "customer:alice",
            UserQuery {
                limit: 0,
                ..query(None)
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidRequest(_)));
    let bad_cursor = f
        .gate
        .list_users("customer:alice", query(Some("zz".into())))
        .await
        .unwrap_err();
    assert!(
        matches!(bad_cursor, Error::InvalidRequest(_)),
        "{bad_cursor}"
    );
}

#[tokio::test]
async fn staff_list_every_assigned_organization_and_search_by_company() {
    let f = fixture().await;
    let q = UserQuery {
        organizations: None,
        status: None,
        search: Some("initech".into()),
        sort: MemberSort::Company,
        descending: false,
        cursor: None,
        limit: 100,
    };
    let page = f.gate.list_users("staff:sam", q.clone()).await.unwrap();
    let orgs: Vec<String> = page
        .members
        .iter()
        .map(|a| a.membership.as_ref().unwrap().organization_id.clone())
        .collect();
    assert_eq!(orgs, ["initech", "initech"]);
    let all = f
        .gate
        .list_users(
            "staff:sam",
            UserQuery {
                search: None,
                ..q.clone()
            },
        )
        .await
        .unwrap();
    assert!(all.members.iter().all(|a| {
        ["acme", "initech"].contains(&a.membership.as_ref().unwrap().organization_id.as_str())
    }));
    assert!(matches!(
        f.gate.list_users("customer:alice", q).await,
        Err(Error::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn audit_trail_is_readable_by_own_admin_and_staff_only() {
    let f = fixture().await;
    f.gate
        .revoke_user("customer:alice", f.target("bob").await)
        .await
        .unwrap();
    f.gate
        .revoke_user("customer:gina", f.target("george").await)
        .await
        .unwrap();
    let acme = f
        .gate
        .read_audit("customer:alice", Some("acme"), None, 50)
        .await
        .unwrap();
    assert_eq!(acme.entries.len(), 1);
    let e = &acme.entries[0].entry;
    assert_eq!(
        (e.action.as_str(), e.target.as_str()),
        ("revokeUser", "customer:bob")
    );
    assert!(
        e.before.contains("\"active\"") && e.after.contains("\"revoked\""),
        "{e:?}"
    );
    assert!(acme.entries[0].at > 0);
    assert_eq!(
        denied_by(
            f.gate
                .read_audit("customer:alice", Some("globex"), None, 50)
                .await
        ),
        Vec::<String>::new()
    );
    assert!(matches!(
        f.gate.read_audit("customer:alice", None, None, 50).await,
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        f.gate
            .read_audit("customer:bob", Some("acme"), None, 50)
            .await,
        Err(Error::Denied(_))
    ));
    // The whole trail, to staff: the store's own entries and those of
    // their assigned organizations only (Sam: acme and initech).
    let organizations = |page: &partnergate::model::AuditPage| -> Vec<String> {
        page.entries
            .iter()
            .filter_map(|r| r.entry.organization_id.clone())
            .collect()
    };
    let sam = f
        .gate
        .read_audit("staff:sam", None, None, 50)
        .await
        .unwrap();
    let seen = organizations(&sam);
    assert!(seen.contains(&"acme".to_string()), "{seen:?}");
    assert!(!seen.contains(&"globex".to_string()), "{seen:?}");
    let sara = f
        .gate
        .read_audit("staff:sara", None, None, 50)
        .await
        .unwrap();
    assert!(organizations(&sara).is_empty(), "assigned nowhere");
    assert!(!sara.entries.is_empty(), "the store's own entries");
    // A page holds at most `limit` entries (the newest, globex's, is left
    // out here), and its cursor goes on past it.
    let first = f.gate.read_audit("staff:sam", None, None, 1).await.unwrap();
    assert!(organizations(&first).is_empty(), "{:?}", first.entries);
    let next = f
        .gate
        .read_audit("staff:sam", None, first.next_cursor.as_deref(), 50)
        .await
        .unwrap();
    assert!(organizations(&next).contains(&"acme".to_string()));
}

#[tokio::test]
async fn onboarding_is_submitted_once_and_approved_or_rejected_by_staff() {
    let f = fixture().await;
    let req = f
        .gate
        .submit_onboarding("Hooli", "Gavin", "Gavin@hooli.test")
        .await
        .unwrap();
    assert_eq!(req.status, OnboardingStatus::Pending);
    let err = f
        .gate
        .submit_onboarding("Hooli 2", "Gavin", "gavin@hooli.test ")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    // Bob, a member of acme, may ask for an organization of his own.
    let bobs = f
        .gate
        .submit_onboarding("Bob's Bikes", "Bob", "bob@acme.test")
        .await
        .unwrap();
    assert!(matches!(
        f.gate.approve_onboarding("customer:alice", &req.id).await,
        Err(Error::Denied(_))
    ));

    let listed = f
        .gate
        .list_onboarding("staff:sara", Some(OnboardingStatus::Pending))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    // Approving it makes him its administrator in a membership of its own;
    // his acme membership stays as it was.
    let approved = f
        .gate
        .approve_onboarding("staff:sara", &bobs.id)
        .await
        .unwrap();
    let bikes = approved.organization_id.unwrap();
    let bob = f.dir.get_account("bob").await.unwrap().unwrap();
    let admin = &bob.member_of(&bikes).unwrap().membership;
    assert!(admin.is_admin && admin.status == AccountStatus::Invited);
    let acme = &bob.member_of("acme").unwrap().membership;
    assert!(!acme.is_admin && acme.status == AccountStatus::Active && acme.version == 1);
    assert_eq!(f.outbox().await, ["bob@acme.test"]);
    let approved = f
        .gate
        .approve_onboarding("staff:sara", &req.id)
        .await
        .unwrap();
    let org_id = approved.organization_id.clone().unwrap();
    let org = f.dir.get_organization(&org_id).await.unwrap().unwrap();
    assert_eq!(
        (org.name.as_str(), org.status),
        ("Hooli", OrganizationStatus::Approved)
    );
    let gavin = f
        .dir
        .find_account_by_email("gavin@hooli.test")
        .await
        .unwrap()
        .unwrap();
    let m = gavin.membership.unwrap();
    assert!(m.is_admin && m.status == AccountStatus::Invited && m.organization_id == org_id);
    assert_eq!(f.outbox().await, ["bob@acme.test", "gavin@hooli.test"]);
    assert!(matches!(
        f.gate.approve_onboarding("staff:sara", &req.id).await,
        Err(Error::InvalidRequest(_))
    ));

    let other = f
        .gate
        .submit_onboarding("Pied Piper", "Richard", "richard@pp.test")
        .await
        .unwrap();
    let rejected = f
        .gate
        .reject_onboarding("staff:sam", &other.id, "no references")
        .await
        .unwrap();
    assert_eq!(
        (rejected.status, rejected.organization_id),
        (OnboardingStatus::Rejected, None)
    );
    assert!(
        f.dir
            .find_account_by_email("richard@pp.test")
            .await
            .unwrap()
            .is_none()
    );
    let outbox = f.dir.due_messages(10).await.unwrap();
    let last = outbox.last().unwrap();
    assert_eq!(last.notification.recipient, "richard@pp.test");
    assert!(
        last.notification
            .params
            .iter()
            .any(|(k, v)| k == "reason" && v == "no references")
    );
}

#[tokio::test]
async fn staff_create_an_organization_and_its_admin_directly() {
    let f = fixture().await;
    let org = f
        .gate
        .create_organization("staff:sara", "Vandelay Industries")
        .await
        .unwrap();
    assert!(matches!(
        f.gate.create_organization("customer:alice", "Nope").await,
        Err(Error::Denied(_))
    ));
    // Sara created it, so she is assigned to it (and sees it); Sam, who is
    // not, may not add its administrator.
    let admin = NewUser {
        is_admin: true,
        ..new_user("art@vandelay.test")
    };
    assert!(matches!(
        f.gate.add_user("staff:sam", &org.id, admin.clone()).await,
        Err(Error::Denied(_))
    ));
    let sara = f.gate.list_organizations("staff:sara", None).await.unwrap();
    assert_eq!(sara.len(), 1);
    assert_eq!(sara[0].id, org.id);
    let m = f.gate.add_user("staff:sara", &org.id, admin).await.unwrap();
    assert!(m.is_admin);
    // An organization admin may not add another admin by default.
    let err = f
        .gate
        .add_user(
            "customer:alice",
            "acme",
            NewUser {
                is_admin: true,
                ..new_user("boss@acme.test")
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err}");
}

/// Two administrators revoking each other at the same instant never leave
/// their organization without one: what `keep-last-admin` decided on (two
/// active administrators) is checked again inside the change's transaction,
/// so the second change fails with a conflict and, decided again, is denied.
/// Pins the race where both succeeded in 6 of 30 tries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_revoking_each_other_at_once_leave_one_admin() {
    let f = fixture().await;
    let active_admins = |f: &Fixture| {
        let dir = f.dir.clone();
        async move {
            dir.get_organization("globex")
                .await
                .unwrap()
                .unwrap()
                .active_admins
        }
    };
    common::warm(&f.gate, 2).await;
    let mut both = 0;
    let mut one = 0;
    for round in 0..40 {
        let (gina, gail) = (f.target("gina").await, f.target("gail").await);
        let (g1, g2) = (f.gate.clone(), f.gate.clone());
        let (a, b) = tokio::join!(
            tokio::spawn(async move { g1.revoke_user("customer:gina", gail).await }),
            tokio::spawn(async move { g2.revoke_user("customer:gail", gina).await }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        match (&a, &b) {
            (Ok(_), Ok(_)) => both += 1,
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                one += 1;
                assert!(
                    matches!(e, Error::Conflict(_) | Error::Denied(_)),
                    "round {round}: {e}"
                );
            }
            (Err(x), Err(y)) => panic!("round {round}: neither revoked: {x}; {y}"),
        }
        assert_eq!(active_admins(&f).await, 1, "round {round}: {a:?} {b:?}");
        // The one still active reinstates the other.
        let (admin, revoked) = if a.is_ok() {
            ("gina", "gail")
        } else {
            ("gail", "gina")
        };
        f.gate
            .reinstate_user(&format!("customer:{admin}"), f.target(revoked).await)
            .await
            .unwrap();
        assert_eq!(active_admins(&f).await, 2);
    }
    assert_eq!(both, 0, "both revocations committed in {both} rounds");
    assert_eq!(one, 40);
}

/// A bulk call may do the work of 1000 calls: its deadline grows with its
/// items, so the largest one allowed completes instead of tripping the
/// per-call deadline (a schemathesis run found 503 `plugin_deadline` for
/// 1000 items under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_call_of_a_thousand_users_completes() {
    let f = fixture().await;
    let users: Vec<NewUser> = (0..1000)
        .map(|i| new_user(&format!("bulk{i:04}@acme.test")))
        .collect();
    let results = f
        .gate
        .bulk_add("customer:alice", "acme", users)
        .await
        .unwrap();
    assert_eq!(results.len(), 1000);
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
}

/// Concurrent changes that must happen once do: the same email added by
/// two administrators' calls at once, one onboarding request approved twice
/// at once, and one invitation re-sent twice at once. Each round, exactly
/// one succeeds; the others fail with a conflict (or, decided again, what
/// the rules say) and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_must_happen_once_happens_once_under_concurrent_calls() {
    let f = fixture().await;
    common::warm(&f.gate, 3).await;
    happens_once(&[f.gate.clone()], &*f.dir, &f.clock).await;
}

/// [`what_must_happen_once_happens_once_under_concurrent_calls`]'s rounds,
/// each call on the next of `gates` (nodes sharing the directory `dir`).
pub(crate) async fn happens_once(gates: &[PartnerGate], dir: &dyn Directory, clock: &Clock) {
    let node = |i: usize| gates[i % gates.len()].clone();
    for round in 0..20 {
        let email = format!("race{round}@acme.test");
        let adds: Vec<Result<Membership, Error>> = common::at_once(
            (0..3)
                .map(|i| {
                    let (gate, email) = (node(i), email.clone());
                    Box::pin(async move {
                        gate.add_user("customer:alice", "acme", new_user(&email))
                            .await
                    })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
                })
                .collect(),
        )
        .await;
        let added: Vec<_> = adds.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(added.len(), 1, "round {round}: {adds:?}");
        assert!(
            adds.iter()
                .all(|r| r.is_ok() || matches!(r, Err(Error::Conflict(_)))),
            "{adds:?}"
        );

        // The one invitation may be re-sent once per interval, however many
        // ask at once.
        let person = added[0].as_ref().unwrap().person_id.clone();
        clock.advance(Duration::from_secs(301));
        let target = common::target(dir, &person).await;
        let resends: Vec<Result<Membership, Error>> = common::at_once(
            (0..3)
                .map(|i| {
                    let (gate, target) = (node(i), target.clone());
                    Box::pin(async move { gate.reinvite_user("customer:alice", target).await })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
                })
                .collect(),
        )
        .await;
        assert_eq!(
            resends.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {resends:?}"
        );

        let request = node(round)
            .submit_onboarding(
                &format!("Race {round}"),
                "Requester",
                &format!("req{round}@race.test"),
            )
            .await
            .unwrap();
        let approvals: Vec<Result<OnboardingRequest, Error>> = common::at_once(
            (0..3)
                .map(|i| {
                    let (gate, id) = (node(i), request.id.clone());
                    Box::pin(async move { gate.approve_onboarding("staff:sam", &id).await })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
                })
                .collect(),
        )
        .await;
        assert_eq!(
            approvals.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {approvals:?}"
        );
    }
}
