use super::*;
use crate::memory::MemoryRecords;
use crate::model::{AccountStatus, Member, Membership, OrganizationStatus, Person};
use crate::policy_set::{PolicyFile, load};

fn policies() -> LoadedPolicies {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    let read = |name: &str| PolicyFile {
        name: name.into(),
        text: std::fs::read_to_string(format!("{dir}/{name}")).unwrap(),
    };
    let files = [
        read("store.cedar"),
        read("users.cedar"),
        read("staff.cedar"),
    ];
    load(&read("schema.cedarschema"), &files)
        .ok()
        .expect("default policies load")
}

fn org(id: &str, status: OrganizationStatus, admins: u32) -> Organization {
    Organization {
        id: id.into(),
        name: id.to_uppercase(),
        status,
        active_admins: admins,
    }
}

fn member(
    records: &mut MemoryRecords,
    id: &str,
    org_id: &str,
    status: AccountStatus,
    admin: bool,
    limit: Option<u64>,
) {
    // A second call for the same person adds a membership in another
    // organization.
    let organization = records.organizations.get(org_id).cloned();
    let person = Person {
        id: id.into(),
        email: format!("{id}@example.com"),
        name: id.into(),
    };
    let mut members: Vec<Member> = records
        .accounts
        .get(id)
        .map(|a| a.memberships.clone())
        .unwrap_or_default();
    let membership = Membership {
        organization_id: org_id.into(),
        person_id: id.into(),
        status,
        previous_status: None,
        is_admin: admin,
        roles: vec!["buyer".into()],
        spending_limit: limit,
        invited_at: None,
        version: 1,
    };
    let account = match organization {
        Some(organization) => {
            members.push(Member {
                membership,
                organization,
            });
            Account::of_person(person, members)
        }
        // A membership of an organization the directory lost.
        None => Account {
            person,
            membership: Some(membership),
            organization: None,
            memberships: members,
        },
    };
    records.accounts.insert(id.into(), account);
}

fn records() -> MemoryRecords {
    let mut r = MemoryRecords::default();
    r.organizations
        .insert("a".into(), org("a", OrganizationStatus::Approved, 1));
    r.organizations
        .insert("b".into(), org("b", OrganizationStatus::Approved, 1));
    r.organizations
        .insert("x".into(), org("x", OrganizationStatus::Blocked, 0));
    member(&mut r, "alice", "a", AccountStatus::Active, true, None);
    member(
        &mut r,
        "bob",
        "a",
        AccountStatus::Active,
        false,
        Some(10_000),
    );
    member(&mut r, "rita", "a", AccountStatus::Revoked, false, None);
    member(&mut r, "bert", "b", AccountStatus::Active, true, None);
    member(&mut r, "xena", "x", AccountStatus::Active, false, None);
    r
}

fn decide(principal: &str, action: &str, resource: &str, context: &str) -> Decision {
    let loaded = policies();
    let request = Request {
        principal,
        action,
        resource,
        context,
        organization: None,
    };
    authorize(&loaded, &Names::new(), &records(), &request).expect("a decision")
}

#[test]
fn org_admin_adds_users_to_own_organization_only() {
    let own = decide("customer:alice", "addUser", "organization:a", "");
    assert_eq!(own.effect, Effect::Allow, "{own:?}");
    assert_eq!(own.policies, ["org-admin-manages-own-users"]);
    let other = decide("customer:alice", "addUser", "organization:b", "");
    assert_eq!(other.effect, Effect::Deny, "{other:?}");
}

#[test]
fn spending_limit_is_enforced() {
    let over = decide(
        "customer:bob",
        "placeOrder",
        "store:main",
        r#"{"orderTotal": 10001}"#,
    );
    assert_eq!(
        (over.effect, over.policies.as_slice()),
        (
            Effect::Deny,
            &["order-within-spending-limit".to_string()][..]
        )
    );
    let under = decide(
        "customer:bob",
        "placeOrder",
        "store:main",
        r#"{"orderTotal": 9999}"#,
    );
    assert_eq!(under.effect, Effect::Allow, "{under:?}");
}

/// Denied by `inactive-account-does-nothing` alone.
fn assert_denied_as_inactive(d: &Decision) {
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policies, ["inactive-account-does-nothing"], "{d:?}");
}

#[test]
fn revoked_user_is_denied_store_access() {
    let d = decide("customer:rita", "browse", "store:main", "");
    assert_denied_as_inactive(&d);
}

#[test]
fn missing_order_total_is_an_invalid_request() {
    let loaded = policies();
    let request = Request {
        principal: "customer:bob",
        action: "placeOrder",
        resource: "store:main",
        context: "{}",
        organization: None,
    };
    let err = authorize(&loaded, &Names::new(), &records(), &request).unwrap_err();
    assert!(
        matches!(err, AccessError::InvalidRequest(ref m) if m.contains("orderTotal")),
        "{err}"
    );
}

#[test]
fn unknown_principal_is_denied_with_a_reason() {
    let d = decide("customer:nobody", "browse", "store:main", "");
    assert_eq!(d.effect, Effect::Deny);
    assert!(d.errors[0].contains("customer:nobody"), "{d:?}");
}

#[test]
fn a_malformed_request_is_invalid_even_when_its_records_do_not_exist() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let ask = |principal: &str, action: &str, resource: &str, context: &str| {
        authorize(
            &loaded,
            &names,
            &records,
            &Request {
                principal,
                action,
                resource,
                context,
                organization: None,
            },
        )
    };
    for (principal, action, resource, context) in [
        (
            "staff:nobody",
            "listOnboarding",
            "store:main",
            r#"{"extra": 1}"#,
        ),
        ("customer:nobody", "placeOrder", "store:main", ""),
        ("customer:nobody", "noSuchAction", "store:main", ""),
        ("customer:nobody", "browse", "organization:a", ""),
        ("customer:nobody", "browse", "bogus", ""),
        (
            "customer:bob",
            "addUser",
            "organization:nowhere",
            r#"{"extra": 1}"#,
        ),
    ] {
        let answer = ask(principal, action, resource, context);
        assert!(
            matches!(answer, Err(AccessError::InvalidRequest(_))),
            "{principal} {action} {resource}: {answer:?}"
        );
    }
    let unknown = ask("customer:nobody", "browse", "store:main", "").unwrap();
    assert_eq!(unknown.effect, Effect::Deny);
}

#[test]
fn malformed_references_are_invalid_requests() {
    let loaded = policies();
    for (principal, resource) in [
        ("alice", "store:main"),
        ("customer:", "store:main"),
        ("customer:alice", "shop:x"),
    ] {
        let request = Request {
            principal,
            action: "browse",
            resource,
            context: "",
            organization: None,
        };
        assert!(matches!(
            authorize(&loaded, &Names::new(), &records(), &request),
            Err(AccessError::InvalidRequest(_))
        ));
    }
}

#[test]
fn memo_keys_of_different_requests_differ() {
    let r = |principal, action, resource, context| {
        memo_key(&Request {
            principal,
            action,
            resource,
            context,
            organization: None,
        })
    };
    assert_ne!(
        r("customer:ab", "c", "store:x", ""),
        r("customer:a", "bc", "store:x", "")
    );
    assert_ne!(
        r("customer:a", "browse", "store:x", "{}"),
        r("customer:a", "browse", "store:x{}", "")
    );
    // Written out as `format!` would write it, with or without an
    // organization, whatever the lengths.
    let long = "customer:".to_string() + &"p".repeat(123);
    for (p, a, res, o) in [
        ("customer:a", "browse", "store:x", None),
        (long.as_str(), "placeOrder", "store:main", None),
        (long.as_str(), "viewUser", "customer:b", Some("acme")),
        ("staff:s", "x", "organization:o", Some("")),
    ] {
        let key = memo_key(&Request {
            principal: p,
            action: a,
            resource: res,
            context: "",
            organization: o,
        });
        let formatted = match o {
            None => format!("{}:{p}{}:{a}{res}", p.len(), a.len()),
            Some(o) => format!("{}:{p}{}:{a}{}:{res}@{o}", p.len(), a.len(), res.len()),
        };
        assert_eq!(key, formatted);
    }
}

/// Policy ids are named as Cedar displays them, escapes included.
#[test]
fn policy_names_are_cedars_display() {
    for id in [
        "blocked-organization-cannot-order",
        "policy0",
        "with space",
        "quote\"d",
        "it's",
        "back\\slash",
        "tab\there",
        "ünïcode",
        "",
    ] {
        let id = cedar_policy::PolicyId::new(id);
        assert_eq!(policy_name(&id), id.to_string());
    }
}

#[test]
fn memoized_request_follows_changed_records() {
    let loaded = policies();
    let names = Names::new();
    let mut memo = Memo::default();
    let mut records = records();
    let request = Request {
        principal: "customer:bob",
        action: "browse",
        resource: "store:main",
        context: "",
        organization: None,
    };
    for _ in 0..2 {
        let d = authorize_with(&loaded, &names, &records, &request, Some(&mut memo)).unwrap();
        assert_eq!(d.effect, Effect::Allow);
    }
    records
        .accounts
        .get_mut("bob")
        .unwrap()
        .membership
        .as_mut()
        .unwrap()
        .status = AccountStatus::Revoked;
    let d = authorize_with(&loaded, &names, &records, &request, Some(&mut memo)).unwrap();
    assert_denied_as_inactive(&d);
}

#[test]
fn blocked_organization_member_browses_but_cannot_order() {
    assert_eq!(
        decide("customer:xena", "browse", "store:main", "").effect,
        Effect::Allow
    );
    let order = decide(
        "customer:xena",
        "placeOrder",
        "store:main",
        r#"{"orderTotal": 1}"#,
    );
    assert_eq!(order.effect, Effect::Deny);
    assert_eq!(order.policies, ["blocked-organization-cannot-order"]);
}

/// Records that remember what each read answered.
struct Watched<'a> {
    inner: &'a MemoryRecords,
    answers: std::cell::RefCell<Vec<(Found, Option<Found>)>>,
}

impl Records for Watched<'_> {
    fn account(&self, person_id: &str) -> Result<Option<Account>, Unavailable> {
        self.inner.account(person_id)
    }
    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        self.inner.organization(id)
    }
    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable> {
        self.inner.staff(id)
    }
    fn read(
        &self,
        first: Lookup<'_>,
        second: Option<Lookup<'_>>,
    ) -> Result<(Found, Option<Found>), Unavailable> {
        let answer = self.inner.read(first, second)?;
        self.answers.borrow_mut().push(answer.clone());
        Ok(answer)
    }
}

/// A memoized request asks with its records' stamps: unchanged records are
/// not sent again, and one changed record rebuilds the request with the
/// memo's copy of the other.
#[test]
fn memoized_request_reads_stamps_and_rebuilds_on_one_changed_record() {
    let loaded = policies();
    let names = Names::new();
    let mut memo = Memo::default();
    let mut records = records();
    let request = Request {
        principal: "customer:alice",
        action: "revokeUser",
        resource: "customer:bob",
        context: "",
        organization: None,
    };
    let decide = |records: &MemoryRecords, memo: &mut Memo| {
        let watched = Watched {
            inner: records,
            answers: Default::default(),
        };
        let d = authorize_with(&loaded, &names, &watched, &request, Some(memo)).unwrap();
        (d, watched.answers.into_inner())
    };
    // Kept the second time it is built: a request asked once costs no
    // keeping.
    for _ in 0..2 {
        let (d, answers) = decide(&records, &mut memo);
        assert_eq!(d.effect, Effect::Allow, "{d:?}");
        assert!(matches!(
            answers[..],
            [(Found::Account(..), Some(Found::Account(..)))]
        ));
    }
    let (d, answers) = decide(&records, &mut memo);
    assert_eq!(d.effect, Effect::Allow, "{d:?}");
    assert_eq!(answers, [(Found::Unchanged, Some(Found::Unchanged))]);
    // Bob moves to organization b: alice is not its administrator.
    records.accounts.remove("bob");
    member(&mut records, "bob", "b", AccountStatus::Active, false, None);
    let (d, answers) = decide(&records, &mut memo);
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert!(matches!(
        answers[..],
        [(Found::Unchanged, Some(Found::Account(..)))]
    ));
    // And the rebuilt entry is memoized with both stamps.
    let (d, answers) = decide(&records, &mut memo);
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(answers, [(Found::Unchanged, Some(Found::Unchanged))]);
}

/// A staff member's entity is kept across requests by their record's
/// stamp: a request about a new resource reads the record with that stamp,
/// is told `unchanged` (the record is not sent again), and is decided as
/// without the memo; a changed record (reassigned, removed) is sent and
/// decided on anew, and its entity kept in place of the old.
#[test]
fn a_staff_members_entity_is_kept_by_stamp_across_resources() {
    let loaded = policies();
    let names = Names::new();
    let mut memo = Memo::default();
    let mut records = records();
    records.staff.insert(
        "sam".into(),
        Staff {
            id: "sam".into(),
            name: "Sam".into(),
            assigned_organizations: vec!["a".into()],
            ..Default::default()
        },
    );
    let decide = |records: &MemoryRecords, memo: &mut Memo, action, resource| {
        let watched = Watched {
            inner: records,
            answers: Default::default(),
        };
        let request = Request {
            principal: "staff:sam",
            action,
            resource,
            context: "",
            organization: None,
        };
        let with = authorize_with(&loaded, &names, &watched, &request, Some(memo)).unwrap();
        let without = authorize(&loaded, &names, records, &request).unwrap();
        assert_eq!(with, without, "{action} {resource}");
        let principal = watched.answers.into_inner().pop().expect("one read").0;
        (with.effect, principal)
    };
    let sent = |found: &Found| matches!(found, Found::Staff(..));
    let (effect, principal) = decide(&records, &mut memo, "approveOnboarding", "onboarding:r1");
    assert_eq!(effect, Effect::Allow);
    assert!(sent(&principal), "{principal:?}");
    for (action, resource, effect) in [
        ("rejectOnboarding", "onboarding:r2", Effect::Allow),
        ("viewAudit", "organization:a", Effect::Allow),
        ("viewAudit", "organization:b", Effect::Deny),
        ("approveOnboarding", "onboarding:r3", Effect::Allow),
    ] {
        let (decided, principal) = decide(&records, &mut memo, action, resource);
        assert_eq!(decided, effect, "{action} {resource}");
        assert_eq!(principal, Found::Unchanged, "{action} {resource}");
    }
    // Reassigned to b: the record is sent again, and decided on.
    records.staff.get_mut("sam").unwrap().assigned_organizations = vec!["b".into()];
    let (effect, principal) = decide(&records, &mut memo, "viewAudit", "organization:b");
    assert_eq!(effect, Effect::Allow);
    assert!(sent(&principal), "{principal:?}");
    let (effect, principal) = decide(&records, &mut memo, "viewAudit", "organization:a");
    assert_eq!(effect, Effect::Deny);
    assert_eq!(principal, Found::Unchanged);
    // Removed: denied on the next request, whatever was kept.
    records.staff.get_mut("sam").unwrap().status = crate::model::StaffStatus::Removed;
    let (effect, principal) = decide(&records, &mut memo, "approveOnboarding", "onboarding:r4");
    assert_eq!(effect, Effect::Deny);
    assert!(sent(&principal), "{principal:?}");
}

/// The staff members kept weigh at most [`Memo::STAFF_BYTES`] together, the
/// oldest dropped first: many with a few organizations each, few with a
/// thousand.
#[test]
fn kept_staff_stay_within_their_budget() {
    let loaded = policies();
    let names = Names::new();
    for organizations in [3, 1000] {
        let mut memo = Memo::default();
        let mut records = records();
        let staff = |id: &str| Staff {
            id: id.to_string(),
            name: id.to_string(),
            assigned_organizations: (0..organizations).map(|i| format!("org{i:05}")).collect(),
            ..Default::default()
        };
        let weight = KeptStaff {
            stamp: 0,
            record: Arc::new(staff("s0000")),
            entity: Arc::new(entities::staff_entity(&names, &staff("s0000"))),
        }
        .weight();
        let fit = Memo::STAFF_BYTES / weight;
        let ids: Vec<String> = (0..fit * 2).map(|i| format!("s{i:04}")).collect();
        for id in &ids {
            records.staff.insert(id.clone(), staff(id));
        }
        for id in &ids {
            let principal = format!("staff:{id}");
            let request = Request {
                principal: &principal,
                action: "listOnboarding",
                resource: "store:main",
                context: "",
                organization: None,
            };
            let d = authorize_with(&loaded, &names, &records, &request, Some(&mut memo)).unwrap();
            assert_eq!(d.effect, Effect::Allow);
        }
        assert!(memo.staff.held <= Memo::STAFF_BYTES, "{organizations}");
        assert_eq!(memo.staff.len(), fit, "{organizations} organizations");
        let kept = |id: &str| memo.staff.get(memo.staff.hash(id), id).is_some();
        assert!(!kept(&ids[0]) && kept(&ids[fit * 2 - 1]), "{organizations}");
    }
}

/// What a kept staff member is said to weigh is at least what its record
/// and entity take natively (64-bit pointers: more than in the guest), and
/// not far more, with no organization, a few, or a thousand.
#[test]
fn kept_staff_weigh_at_least_what_they_hold() {
    let names = Names::new();
    for organizations in [0, 3, 100, 1000] {
        let staff = Staff {
            id: "st0001".into(),
            name: "Staff Member One".into(),
            email: Some("staff.one@example.com".into()),
            assigned_organizations: (0..organizations).map(|i| format!("org{i:05}")).collect(),
            ..Default::default()
        };
        let before = counting::live();
        let kept = KeptStaff {
            stamp: 1,
            record: Arc::new(staff.clone()),
            entity: Arc::new(entities::staff_entity(&names, &staff)),
        };
        let held = counting::live().wrapping_sub(before);
        let weight = kept.weight();
        assert!(
            weight >= held && weight <= 2 * held,
            "{organizations} organizations: weighs {weight}, holds {held}"
        );
    }
}

/// Counts the bytes each thread holds, for the weights above. A global
/// allocator serves the whole test binary: every plugin unit test runs on
/// it (the system allocator's work plus a thread-local add).
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<usize> = const { Cell::new(0) };
    }

    struct Counting;

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(layout.size())));
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(layout.size())));
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Bytes allocated and not freed by this thread (wrapping: it may free
    /// what another allocated; only differences are meaningful).
    pub(super) fn live() -> usize {
        LIVE.with(Cell::get)
    }
}

/// An answer names the records it rests on with the stamps they were read
/// with, whether it was built or came from the memo; a decision on a missing
/// record rests on nothing that can be watched.
#[test]
fn an_answer_names_the_records_it_rests_on() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let stamp = |key| {
        let (found, _) = records.read(Lookup { key, known: None }, None).unwrap();
        found.stamp().expect("a record")
    };
    let ask = |principal: &'static str, action, resource: &'static str, memo: Option<&mut Memo>| {
        let request = Request {
            principal,
            action,
            resource,
            context: "",
            organization: None,
        };
        answer(&loaded, &names, &records, &request, memo)
            .unwrap()
            .basis
    };
    let alice = (Key::Account("alice"), stamp(Key::Account("alice")));
    let a = (Key::Organization("a"), stamp(Key::Organization("a")));
    let bob = (Key::Account("bob"), stamp(Key::Account("bob")));
    let mut memo = Memo::default();
    for _ in 0..2 {
        let basis = ask(
            "customer:alice",
            "addUser",
            "organization:a",
            Some(&mut memo),
        );
        assert_eq!(basis, Some(vec![alice, a]));
    }
    // A store has no record; a customer acting on themselves is one record.
    assert_eq!(
        ask("customer:bob", "browse", "store:main", None),
        Some(vec![bob])
    );
    assert_eq!(
        ask("customer:bob", "removeUser", "customer:bob", None),
        Some(vec![bob])
    );
    assert_eq!(ask("customer:nobody", "browse", "store:main", None), None);
    assert_eq!(
        ask("customer:alice", "removeUser", "customer:nobody", None),
        None
    );
}

#[test]
fn a_prepared_set_decides_as_the_files_it_was_made_from() {
    let files = policies();
    let prepared = crate::policy_set::load_prepared(&files.prepared().expect("prepared"))
        .expect("a prepared set loads");
    assert_eq!(prepared.summary, files.summary);
    // And again from the prepared set itself.
    let again = crate::policy_set::load_prepared(&prepared.prepared().expect("prepared"))
        .expect("a prepared set loads twice");
    assert_eq!(again.summary, files.summary);
    let requests = [
        ("customer:alice", "addUser", "organization:a", ""),
        ("customer:alice", "addUser", "organization:b", ""),
        (
            "customer:bob",
            "placeOrder",
            "store:main",
            r#"{"orderTotal": 20000}"#,
        ),
        (
            "customer:bob",
            "placeOrder",
            "store:main",
            r#"{"orderTotal": 100}"#,
        ),
        ("customer:bob", "placeOrder", "store:main", ""),
        ("customer:rita", "browse", "store:main", ""),
        ("customer:xena", "browse", "store:main", ""),
        (
            "customer:xena",
            "placeOrder",
            "store:main",
            r#"{"orderTotal": 1}"#,
        ),
        ("customer:nobody", "browse", "store:main", ""),
        ("customer:bert", "revokeUser", "customer:bob", ""),
    ];
    let mut allowed = 0;
    for (principal, action, resource, context) in requests {
        let request = Request {
            principal,
            action,
            resource,
            context,
            organization: None,
        };
        let decide = |set: &LoadedPolicies| {
            authorize(set, &Names::new(), &records(), &request).map_err(|e| format!("{e:?}"))
        };
        let expected = decide(&files);
        assert_eq!(decide(&prepared), expected, "{request:?}");
        assert_eq!(decide(&again), expected, "{request:?}");
        allowed += usize::from(matches!(&expected, Ok(d) if d.effect == Effect::Allow));
    }
    assert!(allowed >= 2, "the requests include allowed ones");
}

#[test]
fn a_text_that_is_not_a_prepared_set_is_refused() {
    for text in [
        "",
        "{}",
        r#"{"schema": {}, "policies": 1, "summary": null}"#,
    ] {
        assert!(crate::policy_set::load_prepared(text).is_err(), "{text}");
    }
}

/// A new order of a buyer whose entities the memo holds is decided on its
/// own total (the entities are kept, the decision is not reused across
/// contexts), and an invalid context is still refused.
#[test]
fn new_orders_on_kept_entities_are_decided_on_their_own_totals() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let mut memo = Memo::default();
    let order = |total: &str, memo: &mut Memo| {
        let context = format!(r#"{{"orderTotal": {total}}}"#);
        let request = Request {
            principal: "customer:bob",
            action: "placeOrder",
            resource: "store:main",
            context: &context,
            organization: None,
        };
        authorize_with(&loaded, &names, &records, &request, Some(memo)).map(|d| d.effect)
    };
    // bob's limit is 10,000; more contexts than an entry keeps.
    for round in 0..2 {
        for total in 0..(Memo::CONTEXTS as u64 * 3) {
            let expected = if total % 2 == 0 {
                Effect::Allow
            } else {
                Effect::Deny
            };
            let total = if total % 2 == 0 {
                100 + total
            } else {
                20_000 + total
            };
            assert_eq!(
                order(&total.to_string(), &mut memo).unwrap(),
                expected,
                "round {round}, total {total}"
            );
        }
    }
    assert_eq!(memo.len(), 1);
    let many = order(r#""many""#, &mut memo);
    assert!(
        matches!(many, Err(AccessError::InvalidRequest(_))),
        "{many:?}"
    );
    let missing = Request {
        principal: "customer:bob",
        action: "placeOrder",
        resource: "store:main",
        context: "",
        organization: None,
    };
    assert!(matches!(
        authorize_with(&loaded, &names, &records, &missing, Some(&mut memo)),
        Err(AccessError::InvalidRequest(m)) if m.contains("orderTotal")
    ));
}

/// The memo keeps a request the second time it is built, holds at most its
/// capacity, dropping the oldest entry one at a time, and what it holds
/// still decides right.
#[test]
fn the_memo_stays_within_its_capacity() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let mut memo = Memo::default();
    for i in 0..(Memo::CAPACITY + 100) {
        let resource = format!("store:s{i}");
        let request = Request {
            principal: "customer:bob",
            action: "browse",
            resource: &resource,
            context: "",
            organization: None,
        };
        for _ in 0..2 {
            let d = authorize_with(&loaded, &names, &records, &request, Some(&mut memo)).unwrap();
            assert_eq!(d.effect, Effect::Allow);
        }
        assert!(memo.len() <= Memo::CAPACITY);
    }
    assert_eq!(memo.len(), Memo::CAPACITY);
}

/// Deciding one principal on many resources at once gives what deciding
/// each alone gives, unknown resources and types that do not apply
/// included.
#[test]
fn deciding_each_resource_agrees_with_deciding_alone() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let resources: Vec<String> = [
        "organization:a",
        "organization:b",
        "organization:x",
        "organization:nowhere",
        "customer:bob",
        "customer:nobody",
    ]
    .map(String::from)
    .to_vec();
    for principal in ["customer:alice", "customer:bob", "customer:nobody"] {
        let each = decide_each(
            &loaded,
            &names,
            &records,
            principal,
            "listUsers",
            &resources,
        )
        .unwrap();
        for (resource, decided) in resources.iter().zip(each) {
            let request = Request {
                principal,
                action: "listUsers",
                resource,
                context: "",
                organization: None,
            };
            let alone = authorize(&loaded, &names, &records, &request);
            match (decided, alone) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{principal} {resource}"),
                (Err(AccessError::InvalidRequest(_)), Err(AccessError::InvalidRequest(_))) => {}
                (a, b) => panic!("{principal} {resource}: {a:?} against {b:?}"),
            }
        }
    }
}

/// Deciding many actions of one principal on many resources at once, on
/// one set of entities, gives what deciding each alone gives, for every
/// action of the schema (those that do not apply to the types, and the one
/// that needs a context, included) and for unknown principals and
/// resources.
#[test]
fn deciding_a_grid_of_actions_and_resources_agrees_with_deciding_alone() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let actions: Vec<String> = loaded
        .actions
        .keys()
        .map(|uid| AsRef::<str>::as_ref(uid.id()).to_string())
        .collect();
    assert!(actions.len() > 10, "{actions:?}");
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    let resources = [
        "customer:bob",
        "customer:alice",
        "customer:bert",
        "customer:xena",
        "customer:nobody",
        "organization:a",
        "organization:nowhere",
        "store:main",
    ];
    let rows: Vec<(&str, &[&str])> = resources.iter().map(|r| (*r, &actions[..])).collect();
    let mut allowed = 0;
    for principal in [
        "customer:alice",
        "customer:bob",
        "customer:rita",
        "customer:nobody",
    ] {
        let grid = decide_grid(&loaded, &names, &records, principal, None, &rows).unwrap();
        for (resource, decided) in resources.iter().zip(grid) {
            let one =
                decide_actions(&loaded, &names, &records, principal, resource, &actions).unwrap();
            for ((action, decided), one) in actions.iter().zip(decided).zip(one) {
                let request = Request {
                    principal,
                    action,
                    resource,
                    context: "",
                    organization: None,
                };
                let alone = authorize(&loaded, &names, &records, &request);
                match (decided, one, alone) {
                    (Ok(a), Ok(b), Ok(c)) => {
                        allowed += usize::from(a.effect == crate::model::Effect::Allow);
                        assert_eq!(a, c, "{principal} {action} {resource}");
                        assert_eq!(b, c, "{principal} {action} {resource}");
                    }
                    (
                        Err(AccessError::InvalidRequest(_)),
                        Err(AccessError::InvalidRequest(_)),
                        Err(AccessError::InvalidRequest(_)),
                    ) => {}
                    (a, b, c) => {
                        panic!("{principal} {action} {resource}: {a:?}, {b:?} against {c:?}")
                    }
                }
            }
        }
    }
    assert!(allowed > 10, "some of them allow: {allowed}");
}

/// An organization's entity kept from one request is not used for another
/// once the organization changed (it is compared whole, having no stamp of
/// its own inside a member's account).
#[test]
fn a_kept_organization_entity_follows_a_change_of_the_organization() {
    let loaded = policies();
    let names = Names::new();
    let mut records = records();
    let mut memo = Memo::default();
    let order = |records: &MemoryRecords, memo: &mut Memo, total: u32| {
        let context = format!(r#"{{"orderTotal": {total}}}"#);
        let request = Request {
            principal: "customer:bob",
            action: "placeOrder",
            resource: "store:main",
            context: &context,
            organization: None,
        };
        authorize_with(&loaded, &names, records, &request, Some(memo)).unwrap()
    };
    let browse = Request {
        principal: "customer:alice",
        action: "browse",
        resource: "store:main",
        context: "",
        organization: None,
    };
    assert_eq!(
        authorize_with(&loaded, &names, &records, &browse, Some(&mut memo))
            .unwrap()
            .effect,
        Effect::Allow
    );
    assert_eq!(order(&records, &mut memo, 1).effect, Effect::Allow);
    // Organization a is blocked: bob's account now carries it so.
    let blocked = org("a", OrganizationStatus::Blocked, 1);
    records.organizations.insert("a".into(), blocked.clone());
    records.accounts.get_mut("bob").unwrap().organization = Some(blocked);
    let d = order(&records, &mut memo, 2);
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policies, ["blocked-organization-cannot-order"]);
}

/// The entities built from values equal the ones Cedar builds by
/// evaluating restricted expressions, for every kind of record.
#[test]
fn entities_built_from_values_equal_the_evaluated_ones() {
    use super::entities::evaluated;
    let names = Names::new();
    let records = records();
    let mut accounts: Vec<&Account> = records.accounts.values().collect();
    let mut bare = records.accounts["bob"].clone();
    bare.membership = None;
    bare.organization = None;
    accounts.push(&bare);
    for account in accounts {
        assert_eq!(
            Entity::from(customer_entity(&names, account)),
            evaluated::customer_entity(&names, account),
            "{account:?}"
        );
    }
    for org in records.organizations.values() {
        assert_eq!(
            Entity::from(organization_entity(&names, org)),
            evaluated::organization_entity(&names, org)
        );
    }
    let staff = Staff {
        id: "sam".into(),
        name: "Sam".into(),
        assigned_organizations: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    assert_eq!(
        Entity::from(staff_entity(&names, &staff)),
        evaluated::staff_entity(&names, &staff)
    );
}

/// A request's store, built without computing the transitive closure,
/// equals the one Cedar computes it for: for every action of the schema
/// (and of one whose groups nest two deep) with each kind of record.
#[test]
fn a_store_built_without_the_closure_equals_the_computed_one() {
    let names = Names::new();
    let records = records();
    let nested = load(
        &PolicyFile {
            name: "schema.cedarschema".into(),
            text: "namespace PartnerGate {\n  entity Customer;\n  entity Store;\n  action all;\n  action buying in [all];\n  action pay in [buying] appliesTo { principal: Customer, resource: Store };\n}\n".into(),
        },
        &[],
    )
    .ok()
    .expect("nested schema loads");
    let pay = &nested.actions[&names.uid(&names.action, "pay")];
    assert_eq!(
        pay.entity.as_ref().ancestors().count(),
        2,
        "the action entity carries both of its groups"
    );
    let loaded = policies();
    let staff = Staff {
        id: "sam".into(),
        name: "Sam".into(),
        assigned_organizations: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    let mut sets = Vec::new();
    for slice in loaded.actions.values().chain([pay]) {
        for account in records.accounts.values() {
            let mut set = vec![
                slice.entity.as_ref().clone(),
                customer_entity(&names, account),
                staff_entity(&names, &staff),
                bare_entity(&names.uid(&names.store, "main")),
            ];
            set.extend(
                account
                    .organization
                    .iter()
                    .map(|o| organization_entity(&names, o)),
            );
            sets.push(set);
        }
    }
    assert!(sets.len() > 20);
    for set in sets {
        let computed =
            cedar_policy::Entities::from_entities(set.iter().cloned().map(Entity::from), None)
                .unwrap();
        assert_eq!(store(set.into_iter().map(Arc::new)).unwrap(), computed);
    }
}

/// A flat context read without the schema decides as the typed parse does,
/// and what it cannot read (a fraction, nesting, a key given twice, a
/// mistyped value) is refused or read the typed way.
#[test]
fn a_plain_context_decides_as_the_typed_parse_does() {
    let loaded = policies();
    let action = Names::new().uid(&Names::new().action, "placeOrder");
    let typed = |text: &str| {
        let context = Context::from_json_str(text, Some((&loaded.schema, &action))).unwrap();
        context.validate(&loaded.schema, &action).unwrap();
        context
    };
    for text in [r#"{"orderTotal": 12000}"#, r#"{"orderTotal": -5}"#] {
        assert_eq!(plain_context(text).unwrap().0, typed(text), "{text}");
    }
    assert!(plain_context(r#"{"orderTotal": 1.5}"#).is_none());
    assert!(plain_context(r#"{"orderTotal": {"n": 1}}"#).is_none());
    assert!(plain_context(r#"{"orderTotal": 1, "orderTotal": 2}"#).is_none());
    assert!(plain_context("[1]").is_none());
    // Read plainly but refused by the schema: the typed way refuses too.
    let request = |context| Request {
        principal: "customer:bob",
        action: "placeOrder",
        resource: "store:main",
        context,
        organization: None,
    };
    // With shapes remembered or not: a shape accepted once (an integer
    // total) lets the next of that shape through unchecked, and only it.
    let mut shapes = Memo::default().shapes;
    let accepted = context_of(
        &loaded,
        &request(r#"{"orderTotal": 7}"#),
        &action,
        Some(&mut shapes),
    );
    assert!(accepted.is_ok());
    let (_, shape) = plain_context(r#"{"orderTotal": 7}"#).unwrap();
    assert!(shapes.accepted(&Shapes::key("placeOrder", &shape)));
    assert!(!shapes.accepted(&Shapes::key("browse", &shape)));
    // Different contexts never share a shape, whatever their names hold.
    let texts = [
        r#"{"a": 1, "b": 1}"#,
        r#"{"a\u0000l\u0000b": 1}"#,
        r#"{"a": 1, "bl": 1}"#,
        r#"{"a1:bl": 1}"#,
        r#"{"a": "1", "b": 1}"#,
        r#"{"b": 1, "a": 1}"#,
        r#"{"a": true}"#,
        "{}",
    ];
    let all: std::collections::HashSet<String> = texts
        .iter()
        .map(|text| plain_context(text).unwrap().1)
        .collect();
    assert_eq!(all.len(), texts.len());
    assert_ne!(Shapes::key("ab", "1:cl"), Shapes::key("a", "b1:cl"));
    for remembered in [false, true] {
        for context in [
            r#"{"orderTotal": "many"}"#,
            r#"{"orderTotal": true}"#,
            r#"{"orderTotal": 1, "extra": true}"#,
            r#"{"extra": true, "orderTotal": 1}"#,
            r#"{"total": 1}"#,
            "{}",
        ] {
            let shapes = remembered.then_some(&mut shapes);
            assert!(
                matches!(
                    context_of(&loaded, &request(context), &action, shapes),
                    Err(AccessError::InvalidRequest(_))
                ),
                "{context}"
            );
        }
        let shapes = remembered.then_some(&mut shapes);
        assert_eq!(
            context_of(&loaded, &request(r#"{"orderTotal": 99}"#), &action, shapes).unwrap(),
            typed(r#"{"orderTotal": 99}"#)
        );
    }
}

/// A new context on kept entities evaluates only the policies that read
/// the context, and decides exactly as the whole set does: effect,
/// deciding policies and errors, for every buyer and total.
#[test]
fn a_new_context_on_kept_entities_decides_as_the_whole_set() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let slice = &loaded.actions[&names.uid(&names.action, "placeOrder")];
    assert!(
        !slice.contextual[1].is_empty(),
        "the limit reads the context"
    );
    assert!(!slice.fixed[0].is_empty() && !slice.fixed[1].is_empty());
    let mut memo = Memo::default();
    for round in 0..3 {
        for principal in [
            "customer:alice",
            "customer:bob",
            "customer:rita",
            "customer:xena",
        ] {
            for total in [1i64, 9_999, 10_000, 10_001, 50_000, -1, 7 + round] {
                let context = format!(r#"{{"orderTotal": {total}}}"#);
                let request = Request {
                    principal,
                    action: "placeOrder",
                    resource: "store:main",
                    context: &context,
                    organization: None,
                };
                let whole = authorize(&loaded, &names, &records, &request).unwrap();
                let kept =
                    authorize_with(&loaded, &names, &records, &request, Some(&mut memo)).unwrap();
                assert_eq!(kept, whole, "{principal} {total} (round {round})");
            }
        }
    }
}

/// A request made for an organization: the customer's own decides as
/// without one; another is denied with a reason whatever the policies say;
/// an unknown customer is still unknown; staff, who have no memberships,
/// are denied for any.
#[test]
fn a_request_for_an_organization_without_a_membership_there_is_denied() {
    let loaded = policies();
    let names = Names::new();
    let records = records();
    let browse = |principal, organization| {
        let request = Request {
            principal,
            action: "browse",
            resource: "store:main",
            context: "",
            organization,
        };
        answer_for(&loaded, &names, &records, &request, None)
    };
    let plain = browse("customer:bob", None).unwrap();
    assert_eq!(plain.decision.effect, crate::model::Effect::Allow);
    assert_eq!(browse("customer:bob", Some("a")).unwrap(), plain);
    let other = browse("customer:bob", Some("b")).unwrap();
    assert_eq!(other.decision.effect, crate::model::Effect::Deny);
    assert!(other.decision.policies.is_empty());
    assert!(
        other.decision.errors[0].contains("no membership in organization `b`"),
        "{other:?}"
    );
    assert_eq!(other.basis, None, "not given again without asking");
    let nobody = browse("customer:nobody", Some("a")).unwrap();
    assert!(
        nobody.decision.errors[0].contains("unknown principal"),
        "{nobody:?}"
    );
    let request = Request {
        principal: "staff:sam",
        action: "listUsers",
        resource: "organization:a",
        context: "",
        organization: Some("a"),
    };
    let staff = answer_for(&loaded, &names, &records, &request, None).unwrap();
    assert_eq!(staff.decision.effect, crate::model::Effect::Deny);
    assert!(
        staff.decision.errors[0].contains("no membership in organization `a`"),
        "{staff:?}"
    );
}

/// Dana buys for a (limit 10,000) and for b (limit 50,000, admin there).
fn two_memberships() -> MemoryRecords {
    let mut r = records();
    member(
        &mut r,
        "dana",
        "a",
        AccountStatus::Active,
        false,
        Some(10_000),
    );
    member(
        &mut r,
        "dana",
        "b",
        AccountStatus::Active,
        true,
        Some(50_000),
    );
    r
}

fn decide_in(
    records: &MemoryRecords,
    principal: &str,
    action: &str,
    resource: &str,
    context: &str,
    organization: Option<&str>,
) -> Result<Decision, AccessError> {
    let request = Request {
        principal,
        action,
        resource,
        context,
        organization,
    };
    answer_for(&policies(), &Names::new(), records, &request, None).map(|a| a.decision)
}

/// A person active in two organizations must name the one acted for, and
/// is decided on that membership: its spending limit, its admin flag.
#[test]
fn a_person_in_two_organizations_is_decided_on_the_membership_named() {
    let records = two_memberships();
    let order = r#"{"orderTotal": 20000}"#;
    let unnamed = decide_in(
        &records,
        "customer:dana",
        "placeOrder",
        "store:main",
        order,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(unnamed, AccessError::InvalidRequest(ref m)
            if m.contains("more than one organization") && !m.contains("`a`") && !m.contains("`b`")),
        "{unnamed:?}"
    );
    let in_a = decide_in(
        &records,
        "customer:dana",
        "placeOrder",
        "store:main",
        order,
        Some("a"),
    );
    assert_eq!(
        in_a.unwrap().effect,
        Effect::Deny,
        "20,000 is over a's limit"
    );
    let in_b = decide_in(
        &records,
        "customer:dana",
        "placeOrder",
        "store:main",
        order,
        Some("b"),
    );
    assert_eq!(in_b.unwrap().effect, Effect::Allow, "and under b's");
    // The admin flag is b's only.
    let add_b = decide_in(
        &records,
        "customer:dana",
        "addUser",
        "organization:b",
        "",
        Some("b"),
    );
    assert_eq!(add_b.unwrap().effect, Effect::Allow);
    let add_a = decide_in(
        &records,
        "customer:dana",
        "addUser",
        "organization:a",
        "",
        Some("a"),
    );
    assert_eq!(add_a.unwrap().effect, Effect::Deny);
    // Acting for b on a's organization: the membership in b decides, and
    // it is not a's.
    let across = decide_in(
        &records,
        "customer:dana",
        "addUser",
        "organization:a",
        "",
        Some("b"),
    );
    assert_eq!(across.unwrap().effect, Effect::Deny);
    // An organization with no membership of hers is denied with a reason.
    let none = decide_in(
        &records,
        "customer:dana",
        "browse",
        "store:main",
        "",
        Some("x"),
    )
    .unwrap();
    assert!(
        none.errors[0].contains("no membership in organization `x`"),
        "{none:?}"
    );
    // With one membership revoked, the other is her only active one.
    let mut records = records;
    member(
        &mut records,
        "dana",
        "a",
        AccountStatus::Revoked,
        false,
        Some(10_000),
    );
    let account = records.accounts.get_mut("dana").unwrap();
    account
        .memberships
        .retain(|m| !(m.organization.id == "a" && m.membership.status == AccountStatus::Active));
    *account = Account::of_person(account.person.clone(), account.memberships.clone());
    let unnamed = decide_in(
        &records,
        "customer:dana",
        "placeOrder",
        "store:main",
        order,
        None,
    );
    assert_eq!(
        unnamed.unwrap().effect,
        Effect::Allow,
        "decided on b, her only active one"
    );
}

/// An administrator of a acting on a person's membership: the person's
/// membership in a decides, never their membership elsewhere.
#[test]
fn a_customer_resource_is_seen_through_its_membership_in_the_organization_acted_in() {
    let mut records = two_memberships();
    // Bert administers b.
    let revoke = |records: &MemoryRecords, principal, organization| {
        decide_in(
            records,
            principal,
            "revokeUser",
            "customer:dana",
            "",
            organization,
        )
        .unwrap()
        .effect
    };
    assert_eq!(revoke(&records, "customer:alice", Some("a")), Effect::Allow);
    assert_eq!(revoke(&records, "customer:alice", None), Effect::Allow);
    assert_eq!(
        revoke(&records, "customer:bert", Some("b")),
        Effect::Deny,
        "dana is b's admin"
    );
    member(&mut records, "erin", "b", AccountStatus::Active, true, None);
    assert_eq!(
        revoke(&records, "customer:bert", None),
        Effect::Deny,
        "{}",
        "still b's admin"
    );
    // Alice has no membership in b: naming it denies.
    assert_eq!(revoke(&records, "customer:alice", Some("b")), Effect::Deny);
}
