//! Native tests of the lifecycle rules over [`MemoryDirectory`]: each
//! step and its denials, without wasmtime.

use super::*;
use crate::access::Names;
use crate::access::Unavailable;
use crate::memory::MemoryDirectory;
use crate::model::{
    Decision, Effect, OnboardingStatus, OrganizationStatus, Person, Staff, StaffStatus,
};
use crate::policy_set::{LoadedPolicies, PolicyFile, load};

/// The default policies, read from `policies/`.
pub(crate) fn policies() -> LoadedPolicies {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    let read = |name: &str| PolicyFile {
        name: name.into(),
        text: std::fs::read_to_string(format!("{dir}/{name}")).unwrap(),
    };
    let files = ["store.cedar", "users.cedar", "staff.cedar", "signin.cedar"].map(read);
    load(&read("schema.cedarschema"), &files)
        .ok()
        .expect("default policies load")
}

/// acme (alice its only admin; bob active, rita revoked, ivan invited)
/// and globex (gina and gail admins); sam is staff for acme.
pub(crate) fn directory() -> MemoryDirectory {
    let dir = MemoryDirectory::default();
    {
        let mut s = dir.state.borrow_mut();
        s.now = 1_000_000;
        for (id, status) in [
            ("acme", OrganizationStatus::Approved),
            ("globex", OrganizationStatus::Approved),
        ] {
            s.organizations.insert(
                id.into(),
                Organization {
                    id: id.into(),
                    name: id.into(),
                    status,
                    active_admins: 0,
                },
            );
        }
        for (id, org, status, admin) in [
            ("alice", "acme", AccountStatus::Active, true),
            ("bob", "acme", AccountStatus::Active, false),
            ("rita", "acme", AccountStatus::Revoked, false),
            ("ivan", "acme", AccountStatus::Invited, false),
            ("gina", "globex", AccountStatus::Active, true),
            ("gail", "globex", AccountStatus::Active, true),
        ] {
            s.people.insert(
                id.into(),
                Person {
                    id: id.into(),
                    email: format!("{id}@{org}.test"),
                    name: id.into(),
                },
            );
            s.memberships.insert(
                (id.into(), org.into()),
                Membership {
                    organization_id: org.into(),
                    person_id: id.into(),
                    status,
                    previous_status: None,
                    is_admin: admin,
                    roles: vec!["buyer".into()],
                    spending_limit: None,
                    invited_at: Some(0),
                    version: 1,
                },
            );
        }
        s.staff.insert(
            "sam".into(),
            Staff {
                id: "sam".into(),
                name: "Sam".into(),
                assigned_organizations: vec!["acme".into()],
                ..Default::default()
            },
        );
    }
    dir
}

fn with_users<T>(f: impl FnOnce(&Rules<'_, MemoryDirectory>, &MemoryDirectory) -> T) -> T {
    let loaded = policies();
    let dir = directory();
    f(&Rules::new(&loaded, &Names::new(), &dir), &dir)
}

fn target(person: &str, version: u64) -> Target {
    Target::person(person, version)
}

fn denied_by(err: UserError) -> Vec<String> {
    match err {
        UserError::Denied(d) => d.policies,
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: "New".into(),
        roles: vec![],
        is_admin: false,
        spending_limit: None,
    }
}

#[test]
fn an_organizations_admin_revokes_and_reinstates_its_users() {
    with_users(|users, dir| {
        let revoked = users
            .revoke_user("customer:alice", &target("bob", 1))
            .unwrap();
        assert_eq!(
            (revoked.status, revoked.previous_status, revoked.version),
            (AccountStatus::Revoked, Some(AccountStatus::Active), 2)
        );
        let audit = dir.state.borrow().audit.clone();
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (audit[0].action.as_str(), audit[0].policies.clone()),
            (
                "revokeUser",
                vec!["org-admin-manages-own-users".to_string()]
            )
        );
        let back = users
            .reinstate_user("customer:alice", &target("bob", 2))
            .unwrap();
        assert_eq!((back.status, back.version), (AccountStatus::Active, 3));
    });
}

#[test]
fn another_organizations_admin_gets_one_denial_whatever_the_target() {
    with_users(|users, dir| {
        let ops: [(
            &str,
            fn(&Rules<'_, MemoryDirectory>, &Target) -> Result<Membership, UserError>,
        ); 5] = [
            ("revoke", |u, t| u.revoke_user("customer:gina", t)),
            ("reinstate", |u, t| u.reinstate_user("customer:gina", t)),
            ("remove", |u, t| u.remove_user("customer:gina", t)),
            ("reinvite", |u, t| u.reinvite_user("customer:gina", t)),
            ("edit", |u, t| {
                u.edit_user(
                    "customer:gina",
                    t,
                    UserChanges {
                        spending_limit: Some(Some(1)),
                        ..Default::default()
                    },
                )
            }),
        ];
        for (name, op) in ops {
            let answers: Vec<_> = [
                target("bob", 1),
                target("bob", 9),
                target("rita", 1),
                target("ivan", 1),
                target("alice", 1),
                target("nobody", 1),
            ]
            .iter()
            .map(|t| op(users, t))
            .collect();
            let expected = Err(UserError::Denied(Decision {
                effect: Effect::Deny,
                policies: vec![],
                errors: vec![],
            }));
            for answer in &answers {
                assert_eq!(answer, &expected, "{name}");
            }
        }
        let bulk = users
            .bulk_change(
                "customer:gina",
                BulkAction::Revoke,
                &[target("bob", 9), target("nobody", 1)],
            )
            .unwrap();
        assert_eq!(bulk[0], bulk[1]);
        assert!(dir.state.borrow().audit.is_empty(), "nothing changed");
    });
}

#[test]
fn a_permitted_actor_learns_why_a_step_does_not_apply() {
    with_users(|users, _| {
        let stale = users
            .revoke_user("customer:alice", &target("bob", 9))
            .unwrap_err();
        assert!(
            matches!(stale, UserError::Conflict(ref m) if m.contains("version 1 now")),
            "{stale:?}"
        );
        let status = users
            .revoke_user("customer:alice", &target("rita", 1))
            .unwrap_err();
        assert!(
            matches!(status, UserError::Invalid(ref m) if m.contains("revoked")),
            "{status:?}"
        );
        let again = users
            .reinstate_user("customer:alice", &target("bob", 1))
            .unwrap_err();
        assert!(matches!(again, UserError::Invalid(_)), "{again:?}");
    });
}

#[test]
fn the_last_active_admin_is_never_revoked_removed_or_demoted() {
    with_users(|users, _| {
        assert_eq!(
            denied_by(
                users
                    .revoke_user("staff:sam", &target("alice", 1))
                    .unwrap_err()
            ),
            ["keep-last-admin"]
        );
        assert_eq!(
            denied_by(
                users
                    .remove_user("staff:sam", &target("alice", 1))
                    .unwrap_err()
            ),
            ["keep-last-admin"]
        );
        let demote = UserChanges {
            is_admin: Some(false),
            ..Default::default()
        };
        assert_eq!(
            denied_by(
                users
                    .edit_user("staff:sam", &target("alice", 1), demote)
                    .unwrap_err()
            ),
            ["keep-last-admin"]
        );
        // With a second admin, the first may go.
        let promote = UserChanges {
            is_admin: Some(true),
            ..Default::default()
        };
        users
            .edit_user("staff:sam", &target("bob", 1), promote)
            .unwrap();
        users.revoke_user("staff:sam", &target("alice", 1)).unwrap();
    });
}

#[test]
fn nobody_revokes_or_removes_themselves() {
    with_users(|users, _| {
        let policies = denied_by(
            users
                .revoke_user("customer:gina", &target("gina", 1))
                .unwrap_err(),
        );
        assert!(
            policies.contains(&"no-self-removal".to_string()),
            "{policies:?}"
        );
        let policies = denied_by(
            users
                .remove_user("customer:gina", &target("gina", 1))
                .unwrap_err(),
        );
        assert!(
            policies.contains(&"no-self-removal".to_string()),
            "{policies:?}"
        );
    });
}

#[test]
fn only_staff_designate_administrators() {
    with_users(|users, _| {
        let mut admin = new_user("new@acme.test");
        admin.is_admin = true;
        assert!(matches!(
            users.add_user("customer:alice", "acme", admin.clone()),
            Err(UserError::Denied(_))
        ));
        assert!(users.add_user("staff:sam", "acme", admin).unwrap().is_admin);
    });
}

#[test]
fn adding_a_user_invites_once_per_email_and_never_names_another_organization() {
    with_users(|users, dir| {
        let added = users
            .add_user("customer:alice", "acme", new_user("  New@Acme.TEST "))
            .unwrap();
        assert_eq!(added.status, AccountStatus::Invited);
        assert_eq!(dir.state.borrow().outbox.len(), 1);
        assert_eq!(dir.state.borrow().outbox[0].recipient, "new@acme.test");
        let again = users
            .add_user("customer:alice", "acme", new_user("new@acme.test"))
            .unwrap_err();
        assert!(matches!(again, UserError::Conflict(_)), "{again:?}");
        // A person known elsewhere is invited into this organization too:
        // a membership of its own, a mail naming only this one, and their
        // record as it was.
        let elsewhere = users
            .add_user("customer:alice", "acme", new_user("gina@globex.test"))
            .unwrap();
        assert_eq!(
            (
                elsewhere.organization_id.as_str(),
                elsewhere.person_id.as_str(),
                elsewhere.status
            ),
            ("acme", "gina", AccountStatus::Invited)
        );
        {
            let state = dir.state.borrow();
            let mail = state.outbox.last().unwrap();
            assert_eq!(mail.recipient, "gina@globex.test");
            assert!(
                !format!("{:?}", mail.params).contains("globex\"")
                    && !format!("{:?}", mail.params).contains("Globex"),
                "{mail:?}"
            );
            assert_eq!(state.people["gina"].name, "gina");
            let globex = &state.memberships[&("gina".to_string(), "globex".to_string())];
            assert_eq!((globex.status, globex.version), (AccountStatus::Active, 1));
        }
        let foreign = users
            .add_user("customer:alice", "globex", new_user("x@globex.test"))
            .unwrap_err();
        let unknown = users
            .add_user("customer:alice", "no-such-org", new_user("x@globex.test"))
            .unwrap_err();
        assert_eq!(foreign, unknown);
        let limit = NewUser {
            spending_limit: Some(u64::MAX),
            ..new_user("big@acme.test")
        };
        assert!(matches!(
            users.add_user("customer:alice", "acme", limit),
            Err(UserError::Invalid(_))
        ));
    });
}

#[test]
fn email_changes_only_while_invited_and_unlinked() {
    with_users(|users, dir| {
        let change = |email: &str| UserChanges {
            email: Some(email.into()),
            ..Default::default()
        };
        let active = users
            .edit_user("customer:alice", &target("bob", 1), change("b2@acme.test"))
            .unwrap_err();
        assert!(matches!(active, UserError::Invalid(_)), "{active:?}");
        let taken = users
            .edit_user(
                "customer:alice",
                &target("ivan", 1),
                change("bob@acme.test"),
            )
            .unwrap_err();
        assert!(matches!(taken, UserError::Conflict(_)), "{taken:?}");
        users
            .edit_user(
                "customer:alice",
                &target("ivan", 1),
                change("ivan2@acme.test"),
            )
            .unwrap();
        assert_eq!(dir.state.borrow().people["ivan"].email, "ivan2@acme.test");
    });
}

#[test]
fn reinvitations_wait_five_minutes() {
    with_users(|users, dir| {
        let added = users
            .add_user("customer:alice", "acme", new_user("late@acme.test"))
            .unwrap();
        let t = target(&added.person_id, added.version);
        assert_eq!(
            users.reinvite_user("customer:alice", &t),
            Err(UserError::RateLimited(REINVITE_INTERVAL_SECS))
        );
        dir.state.borrow_mut().now += REINVITE_INTERVAL_SECS;
        users.reinvite_user("customer:alice", &t).unwrap();
        assert_eq!(dir.state.borrow().outbox.len(), 2);
    });
}

#[test]
fn bulk_calls_take_one_to_a_thousand_items() {
    with_users(|users, _| {
        assert!(matches!(
            users.bulk_change("customer:alice", BulkAction::Revoke, &[]),
            Err(UserError::Invalid(_))
        ));
        let many: Vec<Target> = (0..=BULK_MAX)
            .map(|i| target(&format!("p{i}"), 1))
            .collect();
        assert!(matches!(
            users.bulk_change("customer:alice", BulkAction::Revoke, &many),
            Err(UserError::Invalid(_))
        ));
        assert!(matches!(
            users.bulk_add("customer:alice", "acme", vec![]),
            Err(UserError::Invalid(_))
        ));
        let results = users
            .bulk_change(
                "customer:alice",
                BulkAction::Revoke,
                &[target("bob", 1), target("rita", 1)],
            )
            .unwrap();
        assert!(results[0].is_ok() && matches!(results[1], Err(UserError::Invalid(_))));
    });
}

#[test]
fn onboarding_is_decided_before_the_request_is_looked_at() {
    with_users(|users, _| {
        let request = users
            .submit_onboarding("Hooli", "Gavin", "gavin@hooli.test")
            .unwrap();
        let unknown = users
            .approve_onboarding("customer:alice", "no-such-request")
            .unwrap_err();
        let known = users
            .approve_onboarding("customer:alice", &request.id)
            .unwrap_err();
        assert!(matches!(unknown, UserError::Denied(_)), "{unknown:?}");
        assert_eq!(unknown, known);
        let approved = users.approve_onboarding("staff:sam", &request.id).unwrap();
        assert_eq!(approved.status, OnboardingStatus::Approved);
        let twice = users
            .approve_onboarding("staff:sam", &request.id)
            .unwrap_err();
        assert!(matches!(twice, UserError::Invalid(_)), "{twice:?}");
    });
}

#[test]
fn emails_are_trimmed_lowercased_and_checked() {
    assert_eq!(
        normalize_email("  Bob@Example.COM ").unwrap(),
        "bob@example.com"
    );
    for bad in [
        "",
        "bob",
        "@x.com",
        "bob@",
        "bob@x",
        "bob@.com",
        "b ob@x.com",
        "a@b@c.com",
    ] {
        assert!(normalize_email(bad).is_err(), "{bad}");
    }
}

/// A directory whose cache (its [`Records`]) still holds an older copy of
/// every record, while its fresh reads see the directory as it is.
struct StaleCache {
    live: MemoryDirectory,
    cached: crate::memory::MemoryRecords,
    /// A change another node commits between this call's reads and its
    /// commit.
    meanwhile: std::cell::RefCell<Option<Box<dyn FnOnce(&MemoryDirectory)>>>,
}

impl StaleCache {
    /// `live` behind a cache holding the records of `old`.
    fn new(live: MemoryDirectory, old: &MemoryDirectory) -> Self {
        let mut cached = crate::memory::MemoryRecords::default();
        let state = old.state.borrow();
        for id in state.people.keys() {
            if let Ok(Some(account)) = old.fresh_account(id) {
                cached.accounts.insert(id.clone(), account);
            }
        }
        for id in state.organizations.keys() {
            if let Ok(Some(org)) = old.fresh_organization(id) {
                cached.organizations.insert(id.clone(), org);
            }
        }
        cached.staff = state.staff.clone();
        drop(state);
        Self {
            live,
            cached,
            meanwhile: Default::default(),
        }
    }
}

impl Records for StaleCache {
    fn account(&self, id: &str) -> Result<Option<crate::model::Account>, Unavailable> {
        self.cached.account(id)
    }
    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        self.cached.organization(id)
    }
    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable> {
        self.cached.staff(id)
    }
}

impl Directory for StaleCache {
    type MemberPage = Vec<Membership>;
    type AuditPage = Vec<AuditEntry>;

    fn new_id(&self, kind: &str) -> Result<String, DirError> {
        self.live.new_id(kind)
    }
    fn fresh_account(&self, id: &str) -> Result<Option<crate::model::Account>, DirError> {
        self.live.fresh_account(id)
    }
    fn fresh_organization(&self, id: &str) -> Result<Option<Organization>, DirError> {
        self.live.fresh_organization(id)
    }
    fn fresh_staff(&self, id: &str) -> Result<Option<Staff>, DirError> {
        self.live.fresh_staff(id)
    }
    fn account_by_email(&self, email: &str) -> Result<Option<crate::model::Account>, DirError> {
        self.live.account_by_email(email)
    }
    fn find_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError> {
        self.live.find_link(issuer, subject)
    }
    fn has_links(&self, id: &str) -> Result<bool, DirError> {
        self.live.has_links(id)
    }
    fn staff_by_email(&self, email: &str) -> Result<Option<Staff>, DirError> {
        self.live.staff_by_email(email)
    }
    fn find_staff_link(&self, issuer: &str, subject: &str) -> Result<Option<String>, DirError> {
        self.live.find_staff_link(issuer, subject)
    }
    fn organization_staff(&self, organization_id: &str) -> Result<Vec<Staff>, DirError> {
        self.live.organization_staff(organization_id)
    }
    fn onboarding(&self, id: &str) -> Result<Option<crate::model::OnboardingRequest>, DirError> {
        self.live.onboarding(id)
    }
    fn pending_onboarding(
        &self,
        email: &str,
    ) -> Result<Option<crate::model::OnboardingRequest>, DirError> {
        self.live.pending_onboarding(email)
    }
    fn list_onboarding(
        &self,
        status: Option<OnboardingStatus>,
    ) -> Result<Vec<crate::model::OnboardingRequest>, DirError> {
        self.live.list_onboarding(status)
    }
    fn list_members(&self, query: crate::model::MemberQuery) -> Result<Vec<Membership>, DirError> {
        self.live.list_members(query)
    }
    fn read_audit(
        &self,
        organization: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, DirError> {
        self.live.read_audit(organization, cursor, limit)
    }
    fn apply(&self, ops: Vec<ChangeOp>, audit: AuditEntry) -> Result<(), DirError> {
        if let Some(change) = self.meanwhile.borrow_mut().take() {
            change(&self.live);
        }
        self.live.apply(ops, audit)
    }
    fn now(&self) -> u64 {
        self.live.now()
    }
}

/// `Fresh` reads what its documentation says: the directory, never the
/// cache. Sam's assignment to acme was withdrawn in the directory but not
/// yet in the cache: a change he asks for is decided on the withdrawal.
#[test]
fn changes_are_decided_on_fresh_records_never_on_a_stale_cache() {
    let loaded = policies();
    let old = directory();
    let live = directory();
    live.state
        .borrow_mut()
        .staff
        .get_mut("sam")
        .unwrap()
        .assigned_organizations
        .clear();
    live.state
        .borrow_mut()
        .organizations
        .get_mut("acme")
        .unwrap()
        .status = OrganizationStatus::Blocked;
    let dir = StaleCache::new(live, &old);

    // What each read gives.
    let fresh = Fresh(&dir);
    assert!(
        fresh
            .staff("sam")
            .unwrap()
            .unwrap()
            .assigned_organizations
            .is_empty(),
        "fresh staff from the directory"
    );
    assert_eq!(
        fresh.organization("acme").unwrap().unwrap().status,
        OrganizationStatus::Blocked,
        "a fresh organization from the directory"
    );
    assert_eq!(
        fresh
            .account("bob")
            .unwrap()
            .unwrap()
            .organization
            .unwrap()
            .status,
        OrganizationStatus::Blocked,
        "a fresh account carries the fresh organization"
    );
    assert_eq!(
        dir.staff("sam").unwrap().unwrap().assigned_organizations,
        vec!["acme".to_string()],
        "while the cache still holds the old assignment"
    );

    // And the change is decided on them.
    let names = Names::new();
    let users = Rules::new(&loaded, &names, &dir);
    let err = users
        .revoke_user("staff:sam", &target("bob", 1))
        .unwrap_err();
    assert!(matches!(err, UserError::Denied(_)), "{err:?}");
    assert_eq!(
        dir.live
            .fresh_account("bob")
            .unwrap()
            .unwrap()
            .membership
            .unwrap()
            .status,
        AccountStatus::Active,
        "nothing changed"
    );
    // With the cache and the directory agreeing, sam may.
    let users_dir = directory();
    let allowed = Rules::new(&loaded, &names, &users_dir)
        .revoke_user("staff:sam", &target("bob", 1))
        .unwrap();
    assert_eq!(allowed.status, AccountStatus::Revoked);
}

/// What a page shows comes from the same rules the steps are decided by:
/// each user's steps follow their status and the policies, and a user the
/// actor may not view is `None`, like one who does not exist.
#[test]
fn a_view_offers_the_steps_the_lifecycle_and_the_policies_both_allow() {
    with_users(|users, _| {
        let ids = ["bob", "ivan", "rita", "gina", "nobody"].map(String::from);
        let views = users.view_users("customer:alice", &ids).unwrap();
        let steps = |i: usize| views[i].as_ref().expect("visible").steps;
        let bob = steps(0);
        assert!(bob.edit && bob.revoke && bob.remove);
        assert!(!bob.reinstate && !bob.reinvite && !bob.edit_email);
        assert!(!bob.change_admin, "only staff designate administrators");
        let ivan = steps(1);
        assert!(ivan.edit_email && ivan.reinvite && ivan.revoke);
        let rita = steps(2);
        assert!(rita.reinstate && !rita.revoke && !rita.reinvite);
        assert_eq!(views[3], None, "another organization's user");
        assert_eq!(views[4], None, "nobody at all: the same answer");
        assert_eq!(views[0].as_ref().unwrap().member.person.id, "bob");

        let sam = users.view_users("staff:sam", &ids[..1]).unwrap();
        assert!(sam[0].as_ref().unwrap().steps.change_admin);

        // Alice may not act on herself (nobody revokes themselves).
        let me = users
            .view_users("customer:alice", &["alice".into()])
            .unwrap();
        let me = me[0].as_ref().unwrap().steps;
        assert!(!me.revoke && !me.remove);

        let none: [String; 0] = [];
        assert!(matches!(
            users.view_users("customer:alice", &none),
            Err(UserError::Invalid(_))
        ));
    });
}

/// Gina administers globex and buys for acme.
fn gina_in_acme_too(dir: &MemoryDirectory) {
    dir.state.borrow_mut().memberships.insert(
        ("gina".into(), "acme".into()),
        Membership {
            organization_id: "acme".into(),
            person_id: "gina".into(),
            status: AccountStatus::Active,
            previous_status: None,
            is_admin: false,
            roles: vec!["buyer".into()],
            spending_limit: Some(5_000),
            invited_at: Some(0),
            version: 1,
        },
    );
}

#[test]
fn an_administrator_of_one_organization_gets_nothing_of_a_membership_in_another() {
    with_users(|users, dir| {
        gina_in_acme_too(dir);
        // Alice (acme's admin) revokes gina's acme membership; globex's
        // stays active.
        let revoked = users
            .revoke_user("customer:alice", &Target::membership("gina", "acme", 1))
            .unwrap();
        assert_eq!(
            (revoked.organization_id.as_str(), revoked.status),
            ("acme", AccountStatus::Revoked)
        );
        let globex =
            dir.state.borrow().memberships[&("gina".to_string(), "globex".to_string())].clone();
        assert_eq!(globex.status, AccountStatus::Active);
        // The confused deputy: alice naming gina's globex membership.
        let err = users
            .revoke_user("customer:alice", &Target::membership("gina", "globex", 1))
            .unwrap_err();
        assert!(matches!(err, UserError::Denied(_)), "{err:?}");
        // Gina, acting for acme (pinned), cannot use her globex rights.
        let pinned = users
            .revoke_user(
                "customer:gina@acme",
                &Target::membership("gail", "globex", 1),
            )
            .unwrap_err();
        assert!(matches!(pinned, UserError::Denied(_)), "{pinned:?}");
        // Acting for globex, she can.
        let ok = users.revoke_user(
            "customer:gina@globex",
            &Target::membership("gail", "globex", 1),
        );
        assert_eq!(ok.unwrap().status, AccountStatus::Revoked);
        // The audit names the principal alone and the organization.
        let last = dir.state.borrow().audit.last().unwrap().clone();
        assert_eq!(
            (last.actor.as_str(), last.organization_id.as_deref()),
            ("customer:gina", Some("globex"))
        );
    });
}

#[test]
fn the_last_admin_guard_holds_per_organization() {
    with_users(|users, dir| {
        // Alice administers acme and is an admin of globex too.
        dir.state.borrow_mut().memberships.insert(
            ("alice".into(), "globex".into()),
            Membership {
                organization_id: "globex".into(),
                person_id: "alice".into(),
                status: AccountStatus::Active,
                previous_status: None,
                is_admin: true,
                roles: vec![],
                spending_limit: None,
                invited_at: Some(0),
                version: 1,
            },
        );
        // Globex has three admins: gina may revoke alice there.
        let there = users.revoke_user("customer:gina", &Target::membership("alice", "globex", 1));
        assert_eq!(there.unwrap().status, AccountStatus::Revoked);
        // Acme's last admin is still guarded.
        let err = users
            .revoke_user("staff:sam", &Target::membership("alice", "acme", 1))
            .unwrap_err();
        assert!(matches!(err, UserError::Denied(_)), "{err:?}");
    });
}

#[test]
fn a_view_of_a_person_in_several_organizations_shows_only_the_organization_acted_in() {
    with_users(|users, dir| {
        gina_in_acme_too(dir);
        let views = users
            .view_users("customer:alice", &["gina".to_string()])
            .unwrap();
        let view = views[0].as_ref().expect("alice sees acme's gina");
        assert_eq!(view.member.memberships.len(), 1);
        assert_eq!(
            view.member.membership.as_ref().unwrap().organization_id,
            "acme"
        );
        assert!(view.steps.revoke);
        // Gina's email is known to globex too: acme may not change it.
        assert!(!view.steps.edit_email);
    });
}

/// Sam (assigned acme) sees and blocks acme only, with a reason; globex
/// and an organization that does not exist get the same denial.
#[test]
fn staff_see_and_block_their_assigned_organizations_only() {
    with_users(|u, dir| {
        let seen: Vec<String> = u
            .list_organizations("staff:sam", None)
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(seen, ["acme"]);
        assert!(
            u.list_organizations("staff:sam", Some("glob"))
                .unwrap()
                .is_empty()
        );
        assert!(
            u.list_organizations("customer:alice", None)
                .unwrap()
                .is_empty()
        );

        assert!(matches!(
            u.set_organization_blocked("staff:sam", "acme", true, "  "),
            Err(UserError::Invalid(_))
        ));
        let globex = u.set_organization_blocked("staff:sam", "globex", true, "why");
        let nowhere = u.set_organization_blocked("staff:sam", "nowhere", true, "why");
        match (globex, nowhere) {
            (Err(UserError::Denied(a)), Err(UserError::Denied(b))) => assert_eq!(a, b),
            other => panic!("expected two equal denials, got {other:?}"),
        }
        // Alice is acme's administrator, not staff.
        assert!(matches!(
            u.set_organization_blocked("customer:alice", "acme", true, "why"),
            Err(UserError::Denied(_)) | Err(UserError::Invalid(_))
        ));

        let blocked = u
            .set_organization_blocked("staff:sam", "acme", true, "unpaid invoices")
            .unwrap();
        assert_eq!(blocked.status, OrganizationStatus::Blocked);
        let audit = dir.state.borrow().audit.last().cloned().unwrap();
        assert_eq!(audit.action, "blockOrganization");
        assert!(audit.after.contains("unpaid invoices"), "{}", audit.after);
        assert!(matches!(
            u.set_organization_blocked("staff:sam", "acme", true, "again"),
            Err(UserError::Invalid(_))
        ));
        let unblocked = u
            .set_organization_blocked("staff:sam", "acme", false, "paid")
            .unwrap();
        assert_eq!(unblocked.status, OrganizationStatus::Approved);
    });
}

/// A block decided on an approved organization does not commit once another
/// staff member changed its status meanwhile (blocked and unblocked it, with
/// reasons of their own): the step goes from the status it read, or not at
/// all.
#[test]
fn a_block_does_not_commit_over_a_status_changed_since_it_was_read() {
    let loaded = policies();
    let dir = StaleCache::new(directory(), &directory());
    *dir.meanwhile.borrow_mut() = Some(Box::new(|live: &MemoryDirectory| {
        live.state
            .borrow_mut()
            .organizations
            .get_mut("acme")
            .unwrap()
            .status = OrganizationStatus::Blocked;
    }));
    let names = Names::new();
    let rules = Rules::new(&loaded, &names, &dir);
    let raced = rules.set_organization_blocked("staff:sam", "acme", true, "unpaid");
    assert!(matches!(raced, Err(UserError::Conflict(_))), "{raced:?}");
    assert!(
        !dir.live
            .state
            .borrow()
            .audit
            .iter()
            .any(|a| a.action == "blockOrganization"),
        "nothing committed"
    );
}

/// Sam creates an organization and is assigned to it; he assigns Sara by
/// her staff email, she then sees it and he withdraws her again. Sara,
/// assigned nowhere, learns nothing about acme: her attempts are denied as
/// for an organization that does not exist.
#[test]
fn staff_assign_colleagues_to_their_organizations_only() {
    with_users(|u, dir| {
        for (id, name, email, status) in [
            ("sara", "Sara", "sara@merchant.test", StaffStatus::Active),
            ("rex", "Rex", "rex@merchant.test", StaffStatus::Removed),
        ] {
            dir.state.borrow_mut().staff.insert(
                id.into(),
                Staff {
                    id: id.into(),
                    name: name.into(),
                    email: Some(email.into()),
                    status,
                    assigned_organizations: Vec::new(),
                },
            );
        }
        let created = u.create_organization("staff:sam", "Initrode").unwrap();
        assert!(
            dir.state.borrow().staff["sam"]
                .assigned_organizations
                .contains(&created.id),
            "the creator is assigned"
        );
        let ids = |actor: &str| -> Vec<String> {
            u.list_organizations(actor, None)
                .unwrap()
                .into_iter()
                .map(|o| o.id)
                .collect()
        };
        assert_eq!(ids("staff:sam"), ["acme".to_string(), created.id.clone()]);
        assert!(ids("staff:sara").is_empty());

        // Sara, assigned nowhere: the same denial for acme and for nothing.
        let acme = u.assign_staff("staff:sara", "acme", "sara@merchant.test");
        let nowhere = u.assign_staff("staff:sara", "nowhere", "sara@merchant.test");
        match (acme, nowhere) {
            (Err(UserError::Denied(a)), Err(UserError::Denied(b))) => assert_eq!(a, b),
            other => panic!("expected two equal denials, got {other:?}"),
        }
        match (
            u.organization_staff("staff:sara", "acme"),
            u.organization_staff("staff:sara", "nowhere"),
        ) {
            (Err(UserError::Denied(a)), Err(UserError::Denied(b))) => assert_eq!(a, b),
            other => panic!("expected two equal denials, got {other:?}"),
        }

        // Sam assigns Sara; twice is refused, so are unknown and removed staff.
        let sara = u
            .assign_staff("staff:sam", &created.id, " Sara@Merchant.test ")
            .unwrap();
        assert!(sara.assigned_organizations.contains(&created.id));
        assert_eq!(ids("staff:sara"), std::slice::from_ref(&created.id));
        let audit = dir.state.borrow().audit.last().cloned().unwrap();
        assert_eq!(
            (audit.action.as_str(), audit.target.as_str()),
            ("assignStaff", "staff:sara")
        );
        assert!(matches!(
            u.assign_staff("staff:sam", &created.id, "sara@merchant.test"),
            Err(UserError::Invalid(_))
        ));
        assert!(matches!(
            u.assign_staff("staff:sam", &created.id, "nobody@merchant.test"),
            Err(UserError::NotFound(_))
        ));
        assert!(matches!(
            u.assign_staff("staff:sam", &created.id, "rex@merchant.test"),
            Err(UserError::Invalid(_))
        ));
        let names: Vec<String> = u
            .organization_staff("staff:sara", &created.id)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["Sam", "Sara"]);

        // Withdrawn, she sees nothing of it; withdrawing again is not found.
        u.unassign_staff("staff:sam", &created.id, "sara").unwrap();
        // Sam is the last one assigned: he stays.
        assert!(matches!(
            u.unassign_staff("staff:sam", &created.id, "sam"),
            Err(UserError::Invalid(_))
        ));
        assert!(ids("staff:sara").is_empty());
        assert!(matches!(
            u.unassign_staff("staff:sam", &created.id, "sara"),
            Err(UserError::NotFound(_))
        ));
        assert!(matches!(
            u.unassign_staff("staff:sara", &created.id, "sam"),
            Err(UserError::Denied(_))
        ));
    });
}

/// Staff who approve an onboarding request are assigned to the
/// organization it creates.
#[test]
fn approving_a_request_assigns_the_approver() {
    with_users(|u, dir| {
        let request = u
            .submit_onboarding("Umbrella", "Uma", "uma@umbrella.test")
            .unwrap();
        let approved = u.approve_onboarding("staff:sam", &request.id).unwrap();
        let org = approved.organization_id.unwrap();
        assert!(
            dir.state.borrow().staff["sam"]
                .assigned_organizations
                .contains(&org)
        );
    });
}

/// The whole audit trail shows a staff member the store's own entries and
/// those of the organizations assigned to them, none of another's.
#[test]
fn the_whole_audit_trail_leaves_out_organizations_not_assigned() {
    with_users(|u, dir| {
        dir.state.borrow_mut().staff.insert(
            "sara".into(),
            Staff {
                id: "sara".into(),
                name: "Sara".into(),
                ..Default::default()
            },
        );
        u.revoke_user("staff:sam", &target("bob", 1)).unwrap();
        let rejected = u
            .submit_onboarding("Umbrella", "Uma", "uma@umbrella.test")
            .unwrap();
        u.reject_onboarding("staff:sam", &rejected.id, "no references")
            .unwrap();
        let actions = |actor: &str| -> Vec<String> {
            u.read_audit(actor, None, None, 50)
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect()
        };
        let sam = actions("staff:sam");
        assert!(sam.contains(&"revokeUser".to_string()), "{sam:?}");
        assert!(sam.contains(&"rejectOnboarding".to_string()), "{sam:?}");
        let sara = actions("staff:sara");
        assert!(!sara.contains(&"revokeUser".to_string()), "{sara:?}");
        assert!(sara.contains(&"rejectOnboarding".to_string()), "{sara:?}");
        assert!(matches!(
            u.read_audit("staff:sara", Some("acme"), None, 50),
            Err(UserError::Denied(_))
        ));
    });
}
