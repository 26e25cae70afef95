//! Authorization: turn a request's principal and resource into Cedar entities
//! from the directory's records, and decide with the loaded policy set.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entity, EntityUid, Request as CedarRequest,
};

use crate::model::{Account, Decision, Effect, Organization, Staff};
use crate::policy_set::{ActionSlice, LoadedPolicies};

mod entities;
mod names;

pub use crate::model::split_actor;
pub use crate::ports::{Found, Key, Lookup, Records, Unavailable};
use entities::uid_of;
pub use entities::{
    bare_entity, customer_entity, customer_uid, identity_entity, organization_entity, staff_entity,
    store,
};
pub use names::Names;
use names::split_ref;

/// Records read at most once each: for one operation that makes many
/// decisions (a staff member's listing over every assigned organization).
pub struct ReadOnce<'a, R> {
    inner: &'a R,
    accounts: std::cell::RefCell<HashMap<String, Option<Account>>>,
    organizations: std::cell::RefCell<HashMap<String, Option<Organization>>>,
    staff: std::cell::RefCell<HashMap<String, Option<Staff>>>,
}

impl<'a, R: Records> ReadOnce<'a, R> {
    /// Wraps `inner` for the duration of one operation.
    pub fn new(inner: &'a R) -> Self {
        Self {
            inner,
            accounts: Default::default(),
            organizations: Default::default(),
            staff: Default::default(),
        }
    }

    /// Every account read so far (that existed): what the decisions made
    /// over these records depended on.
    pub fn accounts_read(&self) -> Vec<Account> {
        self.accounts.borrow().values().flatten().cloned().collect()
    }
}

fn read_once<T: Clone>(
    map: &std::cell::RefCell<HashMap<String, Option<T>>>,
    id: &str,
    read: impl FnOnce() -> Result<Option<T>, Unavailable>,
) -> Result<Option<T>, Unavailable> {
    if let Some(hit) = map.borrow().get(id) {
        return Ok(hit.clone());
    }
    let value = read()?;
    map.borrow_mut().insert(id.to_string(), value.clone());
    Ok(value)
}

impl<R: Records> Records for ReadOnce<'_, R> {
    fn account(&self, person_id: &str) -> Result<Option<Account>, Unavailable> {
        read_once(&self.accounts, person_id, || self.inner.account(person_id))
    }

    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        read_once(&self.organizations, id, || self.inner.organization(id))
    }

    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable> {
        read_once(&self.staff, id, || self.inner.staff(id))
    }
}

/// One authorization question, as the caller wrote it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `customer:<id>` or `staff:<id>`.
    pub principal: &'a str,
    /// A Cedar action name of the schema.
    pub action: &'a str,
    /// `store:<id>`, `organization:<id>`, `customer:<id>` or `onboarding:<id>`.
    pub resource: &'a str,
    /// JSON object; empty means `{}`.
    pub context: &'a str,
    /// The organization the request is made in: a customer principal acts
    /// through their membership there, and a customer resource is seen
    /// through theirs. `None`: the principal's only active membership (a
    /// customer active in several must name one), and for a staff
    /// principal the resource's only one.
    pub organization: Option<&'a str>,
}

/// Why no decision could be made.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AccessError {
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Records could not be read.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// The records a request was decided on. Equal records give equal entities,
/// so a memoized request is reused only while the records it was built from
/// keep their stamps.
// An account is most decisions' principal: boxing it would add an
// allocation to each, to save bytes on the staff and organization variants.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
enum Record {
    Account(Account),
    /// Shared with the memo's [`KeptStaff`].
    Staff(Arc<Staff>),
    Organization(Organization),
    Bare,
}

/// A principal, action and resource built from their records: the Cedar
/// entities (built once per record stamp, then kept), and the decisions
/// made on them for the last few contexts. A new order of the same buyer
/// (a new `orderTotal`) then builds only its context. Cedar decides the
/// same request on the same entities and policies the same way, and a
/// reload starts a new memo, so while the stamps hold these do.
struct Prepared {
    records: [Record; 2],
    stamps: [Option<u64>; 2],
    principal: EntityUid,
    resource: EntityUid,
    entities: cedar_policy::Entities,
    /// Decisions by context text, newest last; at most
    /// [`Memo::CONTEXTS`].
    decided: Vec<(String, Decision)>,
    /// What the policies that never read `context` decided on these
    /// entities, once a second context was asked: a new context then
    /// evaluates only the policies that read it.
    fixed: Option<Outcome>,
}

/// Which policies of a set were satisfied, by effect, and which erred.
#[derive(Clone, Debug, Default)]
struct Outcome {
    permits: Vec<String>,
    forbids: Vec<String>,
    /// (policy id, message) of each policy that could not be evaluated.
    errors: Vec<(String, String)>,
}

impl Outcome {
    /// Evaluates `sets` (permits, forbids) on `request` and `entities`.
    fn of(
        sets: &[cedar_policy::PolicySet; 2],
        request: &CedarRequest,
        entities: &cedar_policy::Entities,
    ) -> Self {
        let mut outcome = Self::default();
        for (i, set) in sets.iter().enumerate() {
            if set.is_empty() {
                continue;
            }
            let response = Authorizer::new().is_authorized(request, set, entities);
            let diagnostics = response.diagnostics();
            for err in diagnostics.errors() {
                let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = err;
                outcome
                    .errors
                    .push((e.policy_id().to_string(), err.to_string()));
            }
            // A permit-only set names the permits satisfied; a forbid-only
            // set, the forbids.
            let satisfied = diagnostics.reason().map(policy_name);
            if i == 0 {
                outcome.permits.extend(satisfied);
            } else {
                outcome.forbids.extend(satisfied);
            }
        }
        outcome
    }

    /// The decision of the whole set whose parts are `self` and `other`:
    /// Cedar's rule (a satisfied forbid denies, else a satisfied permit
    /// allows, else deny) with any error denying, as [`decision_of`] says.
    fn decision_with(&self, other: &Outcome) -> Decision {
        let both = |pick: fn(&Outcome) -> &Vec<String>| {
            let mut ids: Vec<String> = pick(self).iter().chain(pick(other)).cloned().collect();
            ids.sort_unstable();
            ids
        };
        if !self.errors.is_empty() || !other.errors.is_empty() {
            let (policies, errors) = self.errors.iter().chain(&other.errors).cloned().unzip();
            return erred(policies, errors);
        }
        let forbids = both(|o| &o.forbids);
        if !forbids.is_empty() {
            return Decision {
                effect: Effect::Deny,
                policies: forbids,
                errors: Vec::new(),
            };
        }
        let permits = both(|o| &o.permits);
        Decision {
            effect: if permits.is_empty() {
                Effect::Deny
            } else {
                Effect::Allow
            },
            policies: permits,
            errors: Vec::new(),
        }
    }
}

/// The memo key of a request without its context: the three texts,
/// length-prefixed so that no two different requests share a key (written
/// without `format!`, which was a visible part of a new order's time).
fn memo_key(request: &Request<'_>) -> String {
    let (p, a, r) = (request.principal, request.action, request.resource);
    let o = request.organization;
    let mut key = String::with_capacity(p.len() + a.len() + r.len() + o.map_or(0, str::len) + 24);
    push_len(&mut key, p.len());
    key.push(':');
    key.push_str(p);
    push_len(&mut key, a.len());
    key.push(':');
    key.push_str(a);
    if let Some(o) = o {
        push_len(&mut key, r.len());
        key.push(':');
        key.push_str(r);
        key.push('@');
        key.push_str(o);
    } else {
        key.push_str(r);
    }
    key
}

/// Appends `n` in decimal.
fn push_len(key: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    key.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// A policy id as decisions name it: Cedar's `Display`, which escapes it as
/// `str::escape_debug` does, without formatting when nothing needs
/// escaping (ids are plain words and dashes, and formatting each satisfied
/// policy's id was a visible part of a new order's time).
fn policy_name(id: &cedar_policy::PolicyId) -> String {
    let raw: &str = id.as_ref();
    let plain = raw
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && !matches!(b, b'\\' | b'\'' | b'"'));
    if plain {
        raw.to_string()
    } else {
        id.to_string()
    }
}

/// A map whose entries weigh at most `budget` together, that drops its
/// oldest entries when a new one would not fit: a few evictions per
/// insertion, never a sweep of the whole map inside one call. An entry
/// weighs 1 in a map bounded by count ([`Self::insert`]), or about the
/// bytes it holds ([`Self::insert_weighing`]).
struct Bounded<V> {
    budget: usize,
    /// What the entries held now weigh together.
    held: usize,
    hasher: std::hash::RandomState,
    /// Entries by the hash of their key, with their weight; each holds its
    /// key, so two keys never share an entry (a colliding insertion
    /// replaces the older). Keyed by hashes already (of a per-instance
    /// random key), so hashed again only by a multiply (foldhash's fixed
    /// state), not SipHash.
    map: HashMap<u64, (String, V, usize), foldhash::fast::FixedState>,
    /// Hashes in insertion order, oldest first.
    order: std::collections::VecDeque<u64>,
}

impl<V> Bounded<V> {
    /// A map of at most `budget` entries of weight 1, or entries weighing
    /// `budget` together.
    fn new(budget: usize) -> Self {
        Self {
            budget,
            held: 0,
            hasher: std::hash::RandomState::new(),
            map: HashMap::default(),
            order: std::collections::VecDeque::new(),
        }
    }

    fn hash(&self, key: impl std::hash::Hash) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// The entry of `hash` if its key is the one `is_key` accepts.
    fn get_mut(&mut self, hash: u64, is_key: impl FnOnce(&str) -> bool) -> Option<&mut V> {
        match self.map.get_mut(&hash) {
            Some((held, value, _)) if is_key(held) => Some(value),
            _ => None,
        }
    }

    /// The entry of `hash` if its key is `key`.
    fn get(&self, hash: u64, key: &str) -> Option<&V> {
        match self.map.get(&hash) {
            Some((held, value, _)) if held == key => Some(value),
            _ => None,
        }
    }

    fn contains(&self, hash: u64, key: &str) -> bool {
        self.map.get(&hash).is_some_and(|(held, _, _)| held == key)
    }

    /// Keeps `value` as an entry of weight 1.
    fn insert(&mut self, hash: u64, key: String, value: V) {
        self.insert_weighing(hash, key, value, 1);
    }

    /// Keeps `value`, which weighs `weight`, dropping the oldest entries
    /// until it fits; one heavier than the whole budget is not kept.
    fn insert_weighing(&mut self, hash: u64, key: String, value: V, weight: usize) {
        if weight > self.budget {
            return;
        }
        self.held += weight;
        match self.map.insert(hash, (key, value, weight)) {
            // Replaced in place: it keeps its turn.
            Some((_, _, replaced)) => self.held -= replaced,
            None => self.order.push_back(hash),
        }
        while self.held > self.budget {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, _, weight)) = self.map.remove(&oldest) {
                self.held -= weight;
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Requests this instance built, by principal, action and resource: their
/// entities and their last decisions. Holds at most [`Memo::CAPACITY`]
/// entries, dropping the oldest one at a time; and staff members' entities
/// by staff id ([`KeptStaff`], weighing at most [`Memo::STAFF_BYTES`]
/// together). A policy reload starts a new memo.
pub struct Memo {
    prepared: Bounded<Prepared>,
    /// Hashes of requests (without context) seen once, each in the slot
    /// its hash picks (a later one in the same slot replaces it): a
    /// request is kept the second time it is built, so that requests never
    /// repeated (a new buyer's first question) cost no keeping, and
    /// remembering one costs a store, not a map's insertion and eviction.
    seen: Box<[u64]>,
    /// Shapes of plain contexts the schema accepted, by action ([`Shapes`]).
    shapes: Shapes,
    /// Staff members' entities, by staff id ([`KeptStaff`]).
    staff: Bounded<KeptStaff>,
}

/// A staff member's record and `Staff` entity, kept across requests while
/// the record keeps its stamp. Staff are few and ask many questions, most
/// of them about a new resource (each onboarding request its own): a staff
/// member's next request sends the stamp, is told `unchanged` instead of
/// being sent the record again, and builds only the resource's entity.
/// (Customers are many and mostly ask once: a customer's requests are kept
/// whole, in `prepared`, from the second time.)
#[derive(Clone)]
struct KeptStaff {
    stamp: u64,
    record: Arc<Staff>,
    entity: Arc<cedar_policy_core::ast::Entity>,
}

impl KeptStaff {
    /// Bytes held for a staff member apart from their texts: the memo's
    /// entry, the record, the entity with its uid and attributes.
    const FIXED: usize = 2560;
    /// Bytes held for each assigned organization apart from its id: the
    /// record's string, and in the entity a uid and its place in the set's
    /// two indexes.
    const PER_ORGANIZATION: usize = 288;

    /// About how many bytes of the instance's memory this holds, erring
    /// high: natively, on 64 bits, it is more than the guest (32 bits)
    /// takes (`kept_staff_weigh_at_least_what_they_hold`).
    fn weight(&self) -> usize {
        let staff = &self.record;
        let organizations: usize = staff
            .assigned_organizations
            .iter()
            .map(|id| Self::PER_ORGANIZATION + 3 * id.len())
            .sum();
        Self::FIXED
            + 3 * (staff.id.len() + staff.name.len())
            + staff.email.as_ref().map_or(0, String::len)
            + organizations
    }
}

/// The shapes (names and kinds, in order) of plain contexts the schema
/// accepted for an action, at most [`Shapes::CAPACITY`]. Whether the
/// schema accepts a flat context of integers, booleans and strings depends
/// on its names and each value's kind only: any integer is a `Long`, any
/// boolean a `Bool`, and a string is a `String` or (typed as an entity or
/// an extension value) refused whatever it says. So a new order's context,
/// of a shape accepted before, is not checked against the schema again.
/// Kept in the memo, so a policy reload (perhaps a new schema) starts with
/// none.
pub(crate) struct Shapes(Bounded<()>);

impl Shapes {
    /// Shapes kept; beyond it the oldest is dropped.
    const CAPACITY: usize = 64;

    /// The key of `shape` (as [`plain_context`] writes it) for `action`.
    fn key(action: &str, shape: &str) -> String {
        let mut key = String::with_capacity(action.len() + shape.len() + 4);
        push_len(&mut key, action.len());
        key.push(':');
        key.push_str(action);
        key.push_str(shape);
        key
    }

    fn accepted(&self, key: &str) -> bool {
        self.0.contains(self.0.hash(key), key)
    }

    fn accept(&mut self, key: String) {
        let hash = self.0.hash(&key);
        self.0.insert(hash, key, ());
    }
}

impl Memo {
    /// Requests kept (each with its entities and last decisions, a few KB
    /// in the component): beyond it the oldest is dropped.
    pub const CAPACITY: usize = 64;
    /// Slots of requests remembered as seen once (a hash each).
    pub const SEEN: usize = 8192;
    /// Decisions kept per entry, by context: one buyer's last few orders.
    pub const CONTEXTS: usize = 4;
    /// What the staff members' records and entities kept may take of the
    /// instance's memory (as `KeptStaff::weight` estimates it): beyond it
    /// the oldest are dropped. Bounded by bytes, not by count, because a
    /// staff member's entity grows with their assigned organizations:
    /// natively about 3.5 KB with three, 280 KB with a thousand (so 1,024
    /// of those would not fit an instance's 64 MiB). About 2,300 staff
    /// members with three organizations each fit, or about 26 with a
    /// thousand.
    pub const STAFF_BYTES: usize = 8 << 20;

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.prepared.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether the request with `hash` is in `seen`; remembers it.
fn seen_before(seen: &mut [u64], hash: u64) -> bool {
    let slot = &mut seen[(hash % seen.len() as u64) as usize];
    let before = *slot == hash;
    *slot = hash;
    before
}

impl Default for Memo {
    fn default() -> Self {
        Self {
            prepared: Bounded::new(Self::CAPACITY),
            seen: vec![0; Self::SEEN].into_boxed_slice(),
            shapes: Shapes(Bounded::new(Shapes::CAPACITY)),
            staff: Bounded::new(Self::STAFF_BYTES),
        }
    }
}

/// The record behind a reference: a key to read, or none for a resource no
/// record backs (`store:`, `onboarding:`).
fn key_of<'r>(role: &str, reference: &'r str) -> Result<Option<Key<'r>>, AccessError> {
    Ok(Some(match (role, split_ref(reference)) {
        (_, Some(("customer", id))) => Key::Account(id),
        ("principal", Some(("staff", id))) => Key::Staff(id),
        ("resource", Some(("organization", id))) => Key::Organization(id),
        ("resource", Some(("store" | "onboarding", _))) => return Ok(None),
        ("principal", _) => {
            return Err(AccessError::InvalidRequest(format!(
                "principal `{reference}` is not of the form `customer:<id>` or `staff:<id>`"
            )));
        }
        _ => {
            return Err(AccessError::InvalidRequest(format!(
                "resource `{reference}` is not of the form `store:<id>`, `organization:<id>`, `customer:<id>` or `onboarding:<id>`"
            )));
        }
    }))
}

/// A record as read: itself and its stamp, the memo's copy when unchanged,
/// or `None` when missing.
fn record_of(found: Found, held: Option<(&Record, Option<u64>)>) -> Option<(Record, Option<u64>)> {
    Some(match found {
        Found::Missing => return None,
        Found::Unchanged => {
            let (record, stamp) = held.expect("unchanged answers only a known stamp");
            (record.clone(), stamp)
        }
        Found::Account(stamp, a) => (Record::Account(a), Some(stamp)),
        Found::Organization(stamp, o) => (Record::Organization(o), Some(stamp)),
        Found::Staff(stamp, s) => (Record::Staff(Arc::new(s)), Some(stamp)),
    })
}

/// Decides `request` with `loaded`, reading records from `records`.
///
/// An unknown principal or resource is a denial that says so, not an error;
/// so is any evaluation error (fail closed). With a `memo`, a request whose
/// records are unchanged since it was last built is not built again.
pub fn authorize(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    request: &Request<'_>,
) -> Result<Decision, AccessError> {
    authorize_with(loaded, names, records, request, None)
}

/// [`authorize`] with a memo of built requests.
pub fn authorize_with(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    request: &Request<'_>,
    memo: Option<&mut Memo>,
) -> Result<Decision, AccessError> {
    answer(loaded, names, records, request, memo).map(|answer| answer.decision)
}

/// A decision and what it rests on.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<'r> {
    /// The decision.
    pub decision: Decision,
    /// The records it was made on, with their stamps, when nothing else
    /// went into it: the same request on records with these stamps, under
    /// the same policy set, is decided the same way. `None` when a record
    /// was missing (its absence has no stamp to watch).
    pub basis: Option<Vec<(Key<'r>, u64)>>,
}

/// The basis of a decision made on the records behind `keys` with
/// `stamps`; `None` if a record has no stamp.
fn basis_of<'r>(
    keys: [Option<Key<'r>>; 2],
    stamps: [Option<u64>; 2],
) -> Option<Vec<(Key<'r>, u64)>> {
    let mut basis = Vec::with_capacity(2);
    for (key, stamp) in keys.into_iter().zip(stamps) {
        if let Some(key) = key {
            basis.push((key, stamp?));
        }
    }
    Some(basis)
}

/// [`authorize_with`], also saying what the decision rests on, so that a
/// caller may give it again while those records keep their stamps.
pub fn answer<'r>(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    request: &Request<'r>,
    memo: Option<&mut Memo>,
) -> Result<Answer<'r>, AccessError> {
    let principal_key =
        key_of("principal", request.principal)?.expect("a principal is always a record");
    // A customer acting on themselves is read once.
    let same = request.resource == request.principal;
    let resource_key = if same {
        None
    } else {
        key_of("resource", request.resource)?
    };
    let action = names.uid(&names.action, request.action);
    let Some(slice) = loaded.actions.get(&action) else {
        return Err(AccessError::InvalidRequest(format!(
            "action `{}` is not in the schema",
            request.action
        )));
    };
    // The memo's entry, if any: its stamps go with the read, so records
    // that have not changed are not copied again.
    let (mut memo, mut shapes, staff) = match memo {
        Some(Memo {
            prepared,
            seen,
            shapes,
            staff,
        }) => {
            // Hashed from its parts: the key's text is written only to be
            // compared with an entry of the same hash, or kept.
            let hash = prepared.hash((
                request.principal,
                request.action,
                request.resource,
                request.organization,
            ));
            (Some((prepared, seen, hash)), Some(shapes), Some(staff))
        }
        None => (None, None, None),
    };
    let mut held = memo
        .as_mut()
        .and_then(|(prepared, _, hash)| prepared.get_mut(*hash, |held| held == memo_key(request)));
    // A staff principal's entity kept from another request, when this one
    // is not kept whole: its stamp goes with the read.
    let staff_key = match (principal_key, &staff) {
        (Key::Staff(id), Some(staff)) => Some((staff.hash(id), id)),
        _ => None,
    };
    let kept = match (&held, staff_key, &staff) {
        (None, Some((hash, id)), Some(staff)) => staff.get(hash, id).cloned(),
        _ => None,
    };
    let known = |i: usize| match (&held, &kept, i) {
        (Some(p), _, _) => p.stamps[i],
        (None, Some(kept), 0) => Some(kept.stamp),
        _ => None,
    };
    let (first, second) = records.read(
        Lookup {
            key: principal_key,
            known: known(0),
        },
        resource_key.map(|key| Lookup {
            key,
            known: known(1),
        }),
    )?;
    let keys = [Some(principal_key), resource_key];
    if let (Found::Unchanged, None | Some(Found::Unchanged)) = (&first, &second)
        && let Some(prepared) = held.as_mut()
    {
        // The same entities: only the context is new, if it is.
        let decision = match prepared
            .decided
            .iter()
            .find(|(context, _)| context == request.context)
        {
            Some((_, decision)) => decision.clone(),
            None => {
                let context = context_of(loaded, request, &action, shapes.as_deref_mut())?;
                let cedar_request = CedarRequest::new(
                    prepared.principal.clone(),
                    action,
                    prepared.resource.clone(),
                    context,
                    None,
                )
                .map_err(|err| AccessError::InvalidRequest(err.to_string()))?;
                let entities = &prepared.entities;
                let fixed = prepared
                    .fixed
                    .get_or_insert_with(|| Outcome::of(&slice.fixed, &cedar_request, entities));
                let decision =
                    fixed.decision_with(&Outcome::of(&slice.contextual, &cedar_request, entities));
                if prepared.decided.len() >= Memo::CONTEXTS {
                    prepared.decided.remove(0);
                }
                prepared
                    .decided
                    .push((request.context.to_string(), decision.clone()));
                decision
            }
        };
        return Ok(Answer {
            decision,
            basis: basis_of(keys, prepared.stamps),
        });
    }
    let replaced = held.is_some();
    let held_record = |i: usize| held.as_ref().map(|p| (&p.records[i], p.stamps[i]));
    // The kept staff entity serves when the record it was built from is
    // still the one stored.
    let kept = kept.filter(|_| matches!(first, Found::Unchanged));
    let kept_record = kept.as_ref().map(|k| Record::Staff(k.record.clone()));
    let principal_held = held_record(0).or(kept
        .as_ref()
        .zip(kept_record.as_ref())
        .map(|(k, record)| (record, Some(k.stamp))));
    let Some((principal, principal_stamp)) = record_of(first, principal_held) else {
        return check_shape(loaded, names, request).map(|()| Answer {
            decision: unknown("principal", request.principal),
            basis: None,
        });
    };
    let (resource, resource_stamp) = match (same, second) {
        (true, _) => (principal.clone(), principal_stamp),
        (false, None) => (Record::Bare, None),
        (false, Some(found)) => match record_of(found, held_record(1)) {
            Some(found) => found,
            None => {
                return check_shape(loaded, names, request).map(|()| Answer {
                    decision: unknown("resource", request.resource),
                    basis: None,
                });
            }
        },
    };
    let stamps = [principal_stamp, resource_stamp];
    let Some((principal, resource)) = acting(request, principal, resource)? else {
        return check_shape(loaded, names, request).map(|()| Answer {
            decision: not_member(request.principal, request.organization.unwrap_or_default()),
            basis: None,
        });
    };
    let kept_entity = kept.map(|k| k.entity);
    let reused = kept_entity.is_some();
    let (mut built, staff_entity) = prepare(
        loaded,
        names,
        request,
        &action,
        slice,
        [principal, resource],
        stamps,
        kept_entity,
    )?;
    // A staff member's entity built anew is kept for their next request.
    if let (
        false,
        Some(staff),
        Some((hash, id)),
        Some(entity),
        Record::Staff(record),
        Some(stamp),
    ) = (
        reused,
        staff,
        staff_key,
        staff_entity,
        &built.records[0],
        principal_stamp,
    ) {
        let kept = KeptStaff {
            stamp,
            record: record.clone(),
            entity,
        };
        let weight = kept.weight();
        staff.insert_weighing(hash, id.to_string(), kept, weight);
    }
    let context = context_of(loaded, request, &action, shapes)?;
    let decision = evaluate(
        &slice.policies,
        &built.entities,
        built.principal.clone(),
        action,
        built.resource.clone(),
        context,
    )?;
    // Kept the second time it is built (a replaced entry was seen).
    if let Some((prepared, seen, hash)) = memo
        && (replaced || seen_before(seen, hash))
    {
        built
            .decided
            .push((request.context.to_string(), decision.clone()));
        prepared.insert(hash, memo_key(request), built);
    }
    Ok(Answer {
        decision,
        basis: basis_of(keys, stamps),
    })
}

/// Selects the memberships a request is decided on: the principal's in the
/// organization named (or their only active one), the resource's in the
/// organization the principal acts in. A customer active in several
/// organizations who names none is an invalid request: which one is not
/// guessed; `None` when a customer principal has no membership in the
/// organization the request names.
fn acting(
    request: &Request<'_>,
    principal: Record,
    resource: Record,
) -> Result<Option<(Record, Record)>, AccessError> {
    let Some((principal, organization)) =
        principal_acting(request.principal, request.organization, principal)?
    else {
        return Ok(None);
    };
    let resource = resource_acting(resource, organization.as_deref());
    Ok(Some((principal, resource)))
}

/// The principal's record through its membership in `named` (or its only
/// active one), and the organization it acts in; `None` when a customer
/// has no membership in `named`.
fn principal_acting(
    reference: &str,
    named: Option<&str>,
    principal: Record,
) -> Result<Option<(Record, Option<String>)>, AccessError> {
    Ok(Some(match principal {
        Record::Account(account) => {
            if named.is_none() && account.needs_organization() {
                return Err(AccessError::InvalidRequest(format!(
                    "`{reference}` is active in more than one organization: name the organization acted for"
                )));
            }
            let selected = account.into_acting_for(named);
            if named.is_some() && selected.membership.is_none() {
                return Ok(None);
            }
            let organization = selected
                .membership
                .as_ref()
                .map(|m| m.organization_id.clone());
            (Record::Account(selected), organization)
        }
        other => (other, named.map(str::to_string)),
    }))
}

/// A resource's record through its membership in `organization`, the one
/// the principal acts in; as it is when none.
fn resource_acting(resource: Record, organization: Option<&str>) -> Record {
    match resource {
        Record::Account(account) if organization.is_some() => {
            Record::Account(account.into_acting_for(organization))
        }
        other => other,
    }
}

fn not_member(principal: &str, organization: &str) -> Decision {
    Decision::deny_because(format!(
        "`{principal}` acts for no membership in organization `{organization}`"
    ))
}

/// [`answer`] for a request made from outside (`access.authorize`): a
/// principal with no membership in the organization named is denied with a
/// reason (an inactive member is denied by the policies, as always); staff
/// have no memberships, so naming one denies them too.
pub fn answer_for<'r>(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    request: &Request<'r>,
    memo: Option<&mut Memo>,
) -> Result<Answer<'r>, AccessError> {
    if let Some(organization) = request.organization
        && !matches!(
            key_of("principal", request.principal)?,
            Some(Key::Account(_))
        )
    {
        return check_shape(loaded, names, request).map(|()| Answer {
            decision: not_member(request.principal, organization),
            basis: None,
        });
    }
    answer(loaded, names, records, request, memo)
}

/// The request's context, parsed as the schema types the action's context
/// and checked against it (missing, unexpected or mistyped attributes).
/// With `shapes`, a plain context of a shape the schema accepted before for
/// the action is not checked again ([`Shapes`]).
fn context_of(
    loaded: &LoadedPolicies,
    request: &Request<'_>,
    action: &EntityUid,
    shapes: Option<&mut Shapes>,
) -> Result<Context, AccessError> {
    let text = match request.context.trim() {
        "" => "{}",
        text => text,
    };
    // Most contexts are a flat object of integers, booleans and strings
    // (`{"orderTotal": 12000}`): read as they are, they need no schema, and
    // Cedar's JSON reader (which tries each value as an extension value
    // first, formatting an error each time) is the slowest part of a new
    // order. Used only when the schema accepts them as read: a string the
    // schema types as an entity or an extension value goes the typed way.
    if let Some((context, shape)) = plain_context(text) {
        let key = shapes.as_ref().map(|_| Shapes::key(request.action, &shape));
        if let (Some(shapes), Some(key)) = (&shapes, &key)
            && shapes.accepted(key)
        {
            return Ok(context);
        }
        if context.validate(&loaded.schema, action).is_ok() {
            if let (Some(shapes), Some(key)) = (shapes, key) {
                shapes.accept(key);
            }
            return Ok(context);
        }
    }
    // The typed parse reads the text as the schema types it (entity
    // references and extension values need no escapes) but does not check
    // it: `validate` does, once (what `Request::new` would do again).
    let context = Context::from_json_str(text, Some((&loaded.schema, action)))
        .map_err(|err| invalid(request, &err))?;
    context
        .validate(&loaded.schema, action)
        .map_err(|err| invalid(request, &err))?;
    Ok(context)
}

/// `text` as a context when it is an object of integers, booleans and
/// strings only, each read as it is, with its shape (each name and kind,
/// in order: what the schema's acceptance depends on, [`Shapes`]); `None`
/// otherwise (nested values, fractions, a key given twice: the typed parse
/// decides those).
fn plain_context(text: &str) -> Option<(Context, String)> {
    use cedar_policy_core::ast::{self, Value as CoreValue};
    use serde_json::Value;
    let pairs: Vec<(String, Value)> = serde_json::from_str::<PlainObject>(text).ok()?.0;
    let mut values = std::collections::BTreeMap::new();
    let mut shape = String::with_capacity(pairs.iter().map(|(name, _)| name.len() + 4).sum());
    for (name, value) in pairs {
        let (value, kind) = match value {
            Value::Bool(b) => (CoreValue::from(b), 'b'),
            Value::Number(n) => (CoreValue::from(n.as_i64()?), 'l'),
            Value::String(s) => (CoreValue::from(s), 's'),
            _ => return None,
        };
        // Length-prefixed, so that no two different shapes write alike.
        push_len(&mut shape, name.len());
        shape.push(':');
        shape.push_str(&name);
        shape.push(kind);
        if values.insert(name.into(), value).is_some() {
            return None;
        }
    }
    Some((
        Context::from(ast::Context::Value(std::sync::Arc::new(values))),
        shape,
    ))
}

/// A JSON object's members in order, duplicates kept (so that
/// `Context::from_pairs` refuses a key given twice, as the typed parse
/// does).
struct PlainObject(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for PlainObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = PlainObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PlainObject, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(1));
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(PlainObject(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Decides a request on entities [`prepare`] built (which checked the
/// principal's and resource's types), with a context [`context_of`]
/// parsed (which checked it): the schema is not consulted again.
fn evaluate(
    policies: &cedar_policy::PolicySet,
    entities: &cedar_policy::Entities,
    principal: EntityUid,
    action: EntityUid,
    resource: EntityUid,
    context: Context,
) -> Result<Decision, AccessError> {
    let request = CedarRequest::new(principal, action, resource, context, None)
        .map_err(|err| AccessError::InvalidRequest(err.to_string()))?;
    let response = Authorizer::new().is_authorized(&request, policies, entities);
    Ok(decision_of(&response))
}

/// The decision of a Cedar response: any evaluation error denies and names
/// the policies that erred; otherwise the effect and the deciding policies.
fn decision_of(response: &cedar_policy::Response) -> Decision {
    let diagnostics = response.diagnostics();
    let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
    if !errors.is_empty() {
        let policies = diagnostics
            .errors()
            .map(|err| match err {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                    e.policy_id().to_string()
                }
            })
            .collect();
        return erred(policies, errors);
    }
    let effect = match response.decision() {
        CedarDecision::Allow => Effect::Allow,
        CedarDecision::Deny => Effect::Deny,
    };
    let mut policies: Vec<String> = diagnostics.reason().map(policy_name).collect();
    policies.sort_unstable();
    Decision {
        effect,
        policies,
        errors,
    }
}

/// The denial of policies that could not be evaluated: their ids and
/// errors, sorted (so that a decision made in parts, [`Outcome`], reads as
/// one made whole).
fn erred(mut policies: Vec<String>, mut errors: Vec<String>) -> Decision {
    policies.sort_unstable();
    errors.sort_unstable();
    Decision {
        effect: Effect::Deny,
        policies,
        errors,
    }
}

/// Decides `action` for a principal and resource given as ready entities
/// (sign-in's `Identity`, which no directory holds). Any error denies.
pub fn decide_entities(
    loaded: &LoadedPolicies,
    names: &Names,
    action: &str,
    principal: EntityUid,
    resource: EntityUid,
    mut entities: Vec<Entity>,
) -> Result<Decision, AccessError> {
    let action_uid = names.uid(&names.action, action);
    let slice = loaded.actions.get(&action_uid).ok_or_else(|| {
        AccessError::InvalidRequest(format!("action `{action}` is not in the schema"))
    })?;
    entities.push(Entity::from(slice.entity.as_ref().clone()));
    let request = CedarRequest::new(
        principal,
        action_uid,
        resource,
        Context::empty(),
        Some(&loaded.schema),
    )
    .map_err(|e| AccessError::InvalidRequest(e.to_string()))?;
    let entities = cedar_policy::Entities::from_entities(entities, None)
        .map_err(|e| AccessError::InvalidRequest(format!("entities: {e}")))?;
    let response = Authorizer::new().is_authorized(&request, &slice.policies, &entities);
    let (policies, errors) = diagnostics(&response);
    let allowed = errors.is_empty() && response.decision() == CedarDecision::Allow;
    Ok(Decision {
        effect: if allowed { Effect::Allow } else { Effect::Deny },
        policies,
        errors,
    })
}

/// Decides `action` by one principal on each of `resources`, in order, with
/// an empty context, on one set of entities ([`decide_grid`]): the
/// principal's record is read and its entity built once (a staff member's
/// listing decides on every assigned organization, and a staff entity names
/// them all). Each item is what [`authorize`] would decide; an unknown
/// record is a denial that says so.
pub fn decide_each(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    principal: &str,
    action: &str,
    resources: &[String],
) -> Result<Vec<Result<Decision, AccessError>>, AccessError> {
    let actions = [action];
    let rows: Vec<(&str, &[&str])> = resources
        .iter()
        .map(|resource| (resource.as_str(), &actions[..]))
        .collect();
    Ok(decide_grid(loaded, names, records, principal, None, &rows)?
        .into_iter()
        .map(|mut row| row.pop().expect("one decision per row"))
        .collect())
}

/// Decides each of `actions` by one principal on one resource, in order,
/// with an empty context: both records are read and their entities built
/// once. Each item is what [`authorize`] would decide; an unknown record is
/// a denial that says so.
pub fn decide_actions(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    principal: &str,
    resource: &str,
    actions: &[&str],
) -> Result<Vec<Result<Decision, AccessError>>, AccessError> {
    let mut grid = decide_grid(
        loaded,
        names,
        records,
        principal,
        None,
        &[(resource, actions)],
    )?;
    Ok(grid.pop().expect("one row per resource"))
}

/// Decides, for one principal, each row's actions on the row's resource, in
/// order, with an empty context, on one set of entities: every record is
/// read once and every entity built once (a page asks which steps the
/// actor may take on each of its users). Each item is what [`authorize`]
/// would decide; an unknown record is a denial that says so.
pub fn decide_grid(
    loaded: &LoadedPolicies,
    names: &Names,
    records: &impl Records,
    principal: &str,
    organization: Option<&str>,
    rows: &[(&str, &[&str])],
) -> Result<Vec<Vec<Result<Decision, AccessError>>>, AccessError> {
    let principal_key = key_of("principal", principal)?.expect("a principal is always a record");
    let (found, _) = records.read(
        Lookup {
            key: principal_key,
            known: None,
        },
        None,
    )?;
    let principal_record = record_of(found, None).map(|(record, _)| record);
    // The principal through its membership in the organization named; a
    // customer with none there is denied every step.
    let (principal_record, acting_in) = match principal_record {
        None => (None, None),
        Some(record) => match principal_acting(principal, organization, record)? {
            Some((record, acting_in)) => (Some(record), acting_in),
            None => {
                let denied = not_member(principal, organization.unwrap_or_default());
                return Ok(rows
                    .iter()
                    .map(|(_, actions)| actions.iter().map(|_| Ok(denied.clone())).collect())
                    .collect());
            }
        },
    };
    let principal_uid = uid_of(names, principal);
    // Each row's resource record (`None`: unknown), read once each.
    let mut resource_records = Vec::with_capacity(rows.len());
    for (resource, _) in rows {
        let record = match key_of("resource", resource) {
            Err(err) => Err(err),
            Ok(None) => Ok(Some(Record::Bare)),
            Ok(Some(key)) => {
                let (found, _) = records.read(Lookup { key, known: None }, None)?;
                Ok(record_of(found, None)
                    .map(|(record, _)| resource_acting(record, acting_in.as_deref())))
            }
        };
        resource_records.push(record);
    }
    let resource_uids: Vec<EntityUid> = rows
        .iter()
        .map(|(resource, _)| uid_of(names, resource))
        .collect();
    // One set of entities: the principal's, every known resource's, and
    // every action's asked.
    let mut entities = Vec::with_capacity(rows.len() + 8);
    let mut orgs = HashSet::new();
    let mut seen: HashSet<EntityUid> = HashSet::new();
    if let Some(record) = &principal_record {
        push_entities(names, record, &principal_uid, &mut orgs, &mut entities);
        seen.insert(principal_uid.clone());
    }
    for (record, uid) in resource_records.iter().zip(&resource_uids) {
        if let Ok(Some(record)) = record
            && seen.insert(uid.clone())
        {
            push_entities(names, record, uid, &mut orgs, &mut entities);
        }
    }
    let mut slices: HashMap<&str, Option<(EntityUid, &ActionSlice)>> = HashMap::new();
    for (_, actions) in rows {
        for action in *actions {
            slices.entry(action).or_insert_with(|| {
                let uid = names.uid(&names.action, action);
                let slice = loaded.actions.get(&uid)?;
                if seen.insert(uid.clone()) {
                    entities.push(slice.entity.clone());
                }
                Some((uid, slice))
            });
        }
    }
    let entities =
        store(entities).map_err(|err| AccessError::InvalidRequest(format!("entities: {err}")))?;
    let decide = |resource: &str,
                  resource_uid: &EntityUid,
                  record: &Result<Option<Record>, AccessError>,
                  action: &str| {
        let request = Request {
            principal,
            action,
            resource,
            context: "",
            organization,
        };
        if principal_record.is_none() {
            return check_shape(loaded, names, &request).map(|()| unknown("principal", principal));
        }
        match record {
            Err(err) => return Err(err.clone()),
            Ok(None) => {
                return check_shape(loaded, names, &request)
                    .map(|()| unknown("resource", resource));
            }
            Ok(Some(_)) => {}
        }
        let Some((action_uid, slice)) = &slices[action] else {
            return Err(AccessError::InvalidRequest(format!(
                "action `{action}` is not in the schema"
            )));
        };
        check_applies(
            loaded,
            slice,
            &request,
            action_uid,
            &principal_uid,
            resource_uid,
        )?;
        let context = if slice.takes_no_context {
            Context::empty()
        } else {
            context_of(loaded, &request, action_uid, None)?
        };
        evaluate(
            &slice.policies,
            &entities,
            principal_uid.clone(),
            action_uid.clone(),
            resource_uid.clone(),
            context,
        )
    };
    Ok(rows
        .iter()
        .zip(resource_uids.iter().zip(&resource_records))
        .map(|((resource, actions), (uid, record))| {
            actions
                .iter()
                .map(|action| decide(resource, uid, record, action))
                .collect()
        })
        .collect())
}

/// What Cedar says of its answer: the ids of the deciding policies, sorted,
/// and the errors of the policies it could not evaluate.
pub fn diagnostics(response: &cedar_policy::Response) -> (Vec<String>, Vec<String>) {
    let mut policies: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    policies.sort_unstable();
    let errors = response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect();
    (policies, errors)
}

/// Whether `request` is one the schema allows (the action exists, applies
/// to these principal and resource types, and the context fits), without
/// reading any record: an invalid request is refused as such even when the
/// records it names do not exist.
fn check_shape(
    loaded: &LoadedPolicies,
    names: &Names,
    request: &Request<'_>,
) -> Result<(), AccessError> {
    let action = names.uid(&names.action, request.action);
    if !loaded.actions.contains_key(&action) {
        return Err(AccessError::InvalidRequest(format!(
            "action `{}` is not in the schema",
            request.action
        )));
    }
    let context = if request.context.trim().is_empty() {
        "{}"
    } else {
        request.context
    };
    let context = Context::from_json_str(context, Some((&loaded.schema, &action)))
        .map_err(|err| invalid(request, &err))?;
    let valid = |reference: &str, kinds: &[&str], role: &str| match split_ref(reference) {
        Some((kind, _)) if kinds.contains(&kind) => Ok(uid_of(names, reference)),
        _ => Err(AccessError::InvalidRequest(format!(
            "{role} `{reference}` is not of the form {}",
            kinds
                .iter()
                .map(|k| format!("`{k}:<id>`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    };
    CedarRequest::new(
        valid(request.principal, &["customer", "staff"], "principal")?,
        action,
        valid(
            request.resource,
            &["customer", "organization", "store", "onboarding"],
            "resource",
        )?,
        context,
        Some(&loaded.schema),
    )
    .map(|_| ())
    .map_err(|err| invalid(request, &err))
}

/// Checks that the principal's and resource's types apply to the action,
/// in Cedar's own words when they do not.
fn check_applies(
    loaded: &LoadedPolicies,
    slice: &ActionSlice,
    request: &Request<'_>,
    action: &EntityUid,
    principal: &EntityUid,
    resource: &EntityUid,
) -> Result<(), AccessError> {
    let schema = &loaded.schema;
    let applies = |types: &Option<Vec<cedar_policy::EntityTypeName>>, uid: &EntityUid| {
        types
            .as_ref()
            .is_some_and(|types| types.iter().any(|t| t == uid.type_name()))
    };
    let principal_applies = applies(&slice.principals, principal);
    let resource_applies = applies(&slice.resources, resource);
    if principal_applies && resource_applies {
        return Ok(());
    }
    Err(CedarRequest::new(
        principal.clone(),
        action.clone(),
        resource.clone(),
        Context::empty(),
        Some(schema),
    )
    .err()
    .map_or_else(
        || {
            AccessError::InvalidRequest(format!(
                "action `{}` does not apply to `{}` and `{}`",
                request.action, request.principal, request.resource
            ))
        },
        |err| invalid(request, &err),
    ))
}

/// Pushes the entities of `record` (whose uid is `uid`) onto `entities`:
/// a customer and their organization, a staff member, an organization, or
/// a bare entity; an organization already in `orgs` is not pushed again.
fn push_entities<'r>(
    names: &Names,
    record: &'r Record,
    uid: &EntityUid,
    orgs: &mut HashSet<&'r str>,
    entities: &mut Vec<Arc<cedar_policy_core::ast::Entity>>,
) {
    match record {
        Record::Account(account) => {
            entities.push(Arc::new(customer_entity(names, account)));
            if let Some(org) = &account.organization
                && orgs.insert(&org.id)
            {
                entities.push(Arc::new(organization_entity(names, org)));
            }
        }
        Record::Staff(staff) => entities.push(Arc::new(staff_entity(names, staff))),
        Record::Organization(org) => {
            if orgs.insert(&org.id) {
                entities.push(Arc::new(organization_entity(names, org)));
            }
        }
        Record::Bare => entities.push(Arc::new(bare_entity(uid))),
    }
}

/// Builds the entities of a request from its records, after checking that
/// the principal's and resource's types apply to the action; a staff
/// principal's entity is `kept`'s when given (built from the same record).
/// Also gives a staff principal's entity, to keep.
#[allow(clippy::too_many_arguments)]
fn prepare(
    loaded: &LoadedPolicies,
    names: &Names,
    request: &Request<'_>,
    action: &EntityUid,
    slice: &ActionSlice,
    records: [Record; 2],
    stamps: [Option<u64>; 2],
    kept: Option<Arc<cedar_policy_core::ast::Entity>>,
) -> Result<(Prepared, Option<Arc<cedar_policy_core::ast::Entity>>), AccessError> {
    let principal = uid_of(names, request.principal);
    let resource = uid_of(names, request.resource);
    check_applies(loaded, slice, request, action, &principal, &resource)?;
    let mut entities = Vec::with_capacity(5);
    entities.push(slice.entity.clone());
    let mut orgs: HashSet<&str> = HashSet::new();
    let staff = match &records[0] {
        Record::Staff(staff) => {
            let entity = kept.unwrap_or_else(|| Arc::new(staff_entity(names, staff)));
            entities.push(entity.clone());
            Some(entity)
        }
        record => {
            push_entities(names, record, &principal, &mut orgs, &mut entities);
            None
        }
    };
    // A customer acting on themselves is one entity.
    if principal != resource {
        push_entities(names, &records[1], &resource, &mut orgs, &mut entities);
    }
    let entities =
        store(entities).map_err(|err| AccessError::InvalidRequest(format!("entities: {err}")))?;
    Ok((
        Prepared {
            records,
            stamps,
            principal,
            resource,
            entities,
            decided: Vec::with_capacity(1),
            fixed: None,
        },
        staff,
    ))
}

fn invalid(request: &Request<'_>, err: &dyn std::error::Error) -> AccessError {
    let mut message = format!("action `{}`: {err}", request.action);
    let mut source = err.source();
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    AccessError::InvalidRequest(message)
}

fn unknown(role: &str, reference: &str) -> Decision {
    Decision::deny_because(format!(
        "unknown {role} `{reference}`: no such record in the directory"
    ))
}

#[cfg(test)]
mod tests;
