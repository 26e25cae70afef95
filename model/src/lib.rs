//! PartnerGate's records: the one model the plugin's rules and the host
//! speak. The plugin's component layer and the host's conversion module
//! convert the WIT types to these and back at the edge; nothing here knows
//! about WIT, so a WIT version bump touches only those two places.
//!
//! # Layout
//! - Records: [`Person`], [`Organization`], [`Membership`], [`Account`],
//!   [`Staff`], [`OnboardingRequest`], their statuses, and what a change
//!   writes ([`ChangeOp`], [`AuditEntry`], [`Notification`]).
//! - Decisions: [`Decision`], and what a decision is asked and answered
//!   with ([`AccessRequest`], [`Answer`], [`RecordKey`]).
//! - The organization-user lifecycle's arguments ([`NewUser`],
//!   [`UserChanges`], [`Target`], [`BulkAction`], [`UserQuery`]) and
//!   listings ([`MemberPage`], [`AuditPage`]).
//! - Sign-in ([`ExternalIdentity`], [`SignedIn`]) and policy sets
//!   ([`PolicyFile`], [`Problem`], [`Summary`]).
//! - `names`: how each status and kind is spelled, once, with `Display`
//!   and `FromStr` ([`UnknownName`] for a name no value has).
#![deny(missing_docs)]

mod names;
pub use names::UnknownName;

/// Where an organization user stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Added, not signed in yet.
    Invited,
    /// May use the store.
    Active,
    /// Access switched off; may be reinstated.
    Revoked,
    /// Membership ended.
    Removed,
}

/// Where an organization stands with the merchant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrganizationStatus {
    /// Onboarding requested.
    Pending,
    /// Trading.
    Approved,
    /// Onboarding refused.
    Rejected,
    /// May browse, not order.
    Blocked,
}

/// A person customer record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Directory id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// An organization customer record with its derived administrator count.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Directory id.
    pub id: String,
    /// Company name.
    pub name: String,
    /// Status with the merchant.
    pub status: OrganizationStatus,
    /// Number of active administrators.
    pub active_admins: u32,
}

/// A person's membership of an organization.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// The organization.
    pub organization_id: String,
    /// The person.
    pub person_id: String,
    /// Account status.
    pub status: AccountStatus,
    /// Status before a revocation.
    pub previous_status: Option<AccountStatus>,
    /// Administers the organization's users.
    pub is_admin: bool,
    /// Storefront roles.
    pub roles: Vec<String>,
    /// Largest order total, in minor units.
    pub spending_limit: Option<u64>,
    /// When the last invitation was queued (Unix seconds).
    pub invited_at: Option<u64>,
    /// Record version.
    pub version: u64,
}

/// One of a person's memberships, with its organization.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// The membership.
    pub membership: Membership,
    /// Its organization.
    pub organization: Organization,
}

/// A person with the membership acted for and its organization, and every
/// membership they hold.
///
/// `membership` is the one a decision is made on: the membership in the
/// organization the caller acts for ([`Account::acting_for`]), or, when no
/// organization is named, the person's only one ([`Account::of_person`]
/// says which).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Account {
    /// The person.
    pub person: Person,
    /// The membership acted for, if any.
    pub membership: Option<Membership>,
    /// The membership's organization.
    pub organization: Option<Organization>,
    /// Every membership of the person with its organization, by
    /// organization id (the one acted for among them).
    pub memberships: Vec<Member>,
}

impl Account {
    /// A person's account from all their memberships, acting for the only
    /// one that stands out when none is named: the only active one; with
    /// none active, the only one invited or revoked; with none of those,
    /// the only removed one. Two or more in that rank (two active
    /// memberships, say) leave it unnamed (`membership` is `None`): the
    /// caller must name the organization.
    pub fn of_person(person: Person, mut memberships: Vec<Member>) -> Self {
        memberships.sort_by(|a, b| a.organization.id.cmp(&b.organization.id));
        let rank = |m: &Member| match m.membership.status {
            AccountStatus::Active => 0,
            AccountStatus::Invited | AccountStatus::Revoked => 1,
            AccountStatus::Removed => 2,
        };
        let best = memberships.iter().map(rank).min();
        let mut candidates = memberships.iter().filter(|m| Some(rank(m)) == best);
        let chosen = match (candidates.next(), candidates.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        };
        Self {
            person,
            membership: chosen.as_ref().map(|m| m.membership.clone()),
            organization: chosen.map(|m| m.organization),
            memberships,
        }
    }

    /// A person as a listing of one organization shows them: the
    /// membership listed, and no other (a listing reveals nothing of the
    /// person's other organizations).
    pub fn listed(person: Person, member: Member) -> Self {
        Self {
            person,
            membership: Some(member.membership.clone()),
            organization: Some(member.organization.clone()),
            memberships: vec![member],
        }
    }

    /// This account as someone acting in `organization` may see it: the
    /// membership there, and no other.
    pub fn seen_from(&self, organization: &str) -> Self {
        let member = self.member_of(organization);
        Self {
            person: self.person.clone(),
            membership: member.map(|m| m.membership.clone()),
            organization: member.map(|m| m.organization.clone()),
            memberships: member.into_iter().cloned().collect(),
        }
    }

    /// The membership in `organization`, with its organization.
    pub fn member_of(&self, organization: &str) -> Option<&Member> {
        self.memberships
            .iter()
            .find(|m| m.organization.id == organization)
    }

    /// This account acting for `organization`: its membership there, or
    /// none (a person acting for an organization they do not belong to).
    /// `None` leaves the account as it is.
    pub fn acting_for(&self, organization: Option<&str>) -> std::borrow::Cow<'_, Account> {
        use std::borrow::Cow;
        let Some(organization) = organization else {
            return Cow::Borrowed(self);
        };
        if self
            .membership
            .as_ref()
            .is_some_and(|m| m.organization_id == organization)
        {
            return Cow::Borrowed(self);
        }
        let member = self.member_of(organization);
        Cow::Owned(Self {
            person: self.person.clone(),
            membership: member.map(|m| m.membership.clone()),
            organization: member.map(|m| m.organization.clone()),
            memberships: self.memberships.clone(),
        })
    }

    /// [`Account::acting_for`], by value: the account itself, moved, when
    /// it already acts for `organization`; a copy only otherwise.
    pub fn into_acting_for(self, organization: Option<&str>) -> Account {
        let changed = match self.acting_for(organization) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(changed) => Some(changed),
        };
        changed.unwrap_or(self)
    }

    /// How many of the person's memberships are active.
    pub fn active_memberships(&self) -> usize {
        self.memberships
            .iter()
            .filter(|m| m.membership.status == AccountStatus::Active)
            .count()
    }

    /// Whether a decision on this account must name the organization acted
    /// for: the person is active in more than one.
    pub fn needs_organization(&self) -> bool {
        self.active_memberships() > 1
    }
}

/// A merchant staff member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Staff {
    /// Directory id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Organizations they manage.
    pub assigned_organizations: Vec<String>,
    /// The email their first sign-in with a staff provider is matched on
    /// (normalized); `None` for a staff member who never signs in.
    pub email: Option<String>,
    /// Where they stand.
    pub status: StaffStatus,
}

/// Where a staff member stands.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum StaffStatus {
    /// Added; has not signed in with a staff provider yet.
    Invited,
    /// May act (and sign in).
    #[default]
    Active,
    /// No longer staff: may do nothing, and their sessions end.
    Removed,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Permitted.
    Allow,
    /// Refused.
    Deny,
}

/// A decision with the ids of the policies that determined it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// `@id`s of the deciding policies.
    pub policies: Vec<String>,
    /// Errors met; any error denies.
    pub errors: Vec<String>,
}

impl Decision {
    /// A denial no policy decided, with the reason.
    pub fn deny_because(reason: String) -> Self {
        Self {
            effect: Effect::Deny,
            policies: Vec::new(),
            errors: vec![reason],
        }
    }
}

/// Where an onboarding request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnboardingStatus {
    /// Waiting for staff.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
}

/// A prospect's request to trade as a business partner.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingRequest {
    /// Id.
    pub id: String,
    /// Organization name.
    pub organization_name: String,
    /// Requester's name.
    pub requester_name: String,
    /// Requester's email.
    pub requester_email: String,
    /// Status.
    pub status: OnboardingStatus,
    /// The organization created on approval.
    pub organization_id: Option<String>,
    /// Unix seconds.
    pub submitted_at: u64,
    /// Record version.
    pub version: u64,
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// An invitation.
    Invitation,
    /// An approved onboarding request.
    Approval,
    /// A rejected onboarding request.
    Rejection,
}

/// A message to one recipient.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// What it is about.
    pub kind: NotificationKind,
    /// Email address.
    pub recipient: String,
    /// Template parameters.
    pub params: Vec<(String, String)>,
}

/// One step of a directory change.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeOp {
    /// Create or replace a person.
    PutPerson(Person),
    /// Create or replace an organization.
    PutOrganization(Organization),
    /// Create or replace a membership, with the version read.
    PutMembership(Membership, Option<u64>),
    /// Link (issuer, subject) to a person.
    PutLink(String, String, String),
    /// Link (issuer, subject) to a staff member.
    PutStaffLink(String, String, String),
    /// Make an invited staff member active; `conflict` unless they are
    /// still invited.
    ActivateStaff(String),
    /// Create or replace an onboarding request, with the version read.
    PutOnboarding(OnboardingRequest, Option<u64>),
    /// Queue a notification.
    Queue(Notification),
    /// Commit only if the membership of the person (first) in the
    /// organization (second) is still at this version.
    ExpectMembership(String, String, u64),
    /// Commit only if the organization still has this many active
    /// administrators.
    ExpectActiveAdmins(String, u32),
    /// Commit only if the organization still has this status (a block or
    /// unblock decided on it).
    ExpectOrganizationStatus(String, OrganizationStatus),
    /// Assign the staff member (first) to the organization (second);
    /// `not-found` when either is unknown, `conflict` when the staff member
    /// was removed. Assigning twice changes nothing.
    AssignStaff(String, String),
    /// Withdraw the staff member's (first) assignment to the organization
    /// (second); `not-found` unless assigned, `conflict` when no staff
    /// member would be left assigned to it.
    UnassignStaff(String, String),
}

/// Who changed what and why.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// The actor reference.
    pub actor: String,
    /// The action name.
    pub action: String,
    /// The target reference.
    pub target: String,
    /// The organization, if any.
    pub organization_id: Option<String>,
    /// JSON before, or empty.
    pub before: String,
    /// JSON after, or empty.
    pub after: String,
    /// The permitting policies.
    pub policies: Vec<String>,
}

/// How to order users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberSort {
    /// By name.
    Name,
    /// By email.
    Email,
    /// By organization name.
    Company,
    /// By creation.
    Added,
}

/// A listing of members. `S` is which organizations: the directory is
/// given the list to read (`Vec<String>`, never empty); a caller of the
/// lifecycle names one or none (`Option<String>`: all the actor manages,
/// [`UserQuery`]).
#[derive(Clone, Debug, PartialEq)]
pub struct MemberQuery<S = Vec<String>> {
    /// Organizations to list.
    pub organizations: S,
    /// Status filter.
    pub status: Option<AccountStatus>,
    /// Search text.
    pub search: Option<String>,
    /// Order.
    pub sort: MemberSort,
    /// Reverse.
    pub descending: bool,
    /// Cursor.
    pub cursor: Option<String>,
    /// Page size.
    pub limit: u32,
}

impl<S> MemberQuery<S> {
    /// The same listing over `organizations`.
    pub fn over<T>(self, organizations: T) -> MemberQuery<T> {
        MemberQuery {
            organizations,
            status: self.status,
            search: self.search,
            sort: self.sort,
            descending: self.descending,
            cursor: self.cursor,
            limit: self.limit,
        }
    }
}

/// A page of organization users.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberPage {
    /// Each user's person, membership and organization.
    pub members: Vec<Account>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An audit entry as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Increasing id.
    pub id: u64,
    /// Unix seconds, stamped by the directory.
    pub at: u64,
    /// The entry.
    pub entry: AuditEntry,
}

/// A page of the audit trail, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditRecord>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A new user.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Administrator.
    pub is_admin: bool,
    /// Spending limit.
    pub spending_limit: Option<u64>,
}

/// What an edit changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserChanges {
    /// Name.
    pub name: Option<String>,
    /// Email (invited, unlinked users only).
    pub email: Option<String>,
    /// Roles.
    pub roles: Option<Vec<String>>,
    /// Administrator flag.
    pub is_admin: Option<bool>,
    /// Spending limit; `Some(None)` removes it.
    pub spending_limit: Option<Option<u64>>,
}

/// A user's membership and the version the caller read.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The person.
    pub person_id: String,
    /// The organization of the membership; `None` for the person's only
    /// membership.
    pub organization_id: Option<String>,
    /// The membership version read.
    pub version: u64,
}

impl Target {
    /// The person's only membership, at `version`.
    pub fn person(person_id: impl Into<String>, version: u64) -> Self {
        Self {
            person_id: person_id.into(),
            organization_id: None,
            version,
        }
    }

    /// The person's membership in `organization_id`, at `version`.
    pub fn membership(
        person_id: impl Into<String>,
        organization_id: impl Into<String>,
        version: u64,
    ) -> Self {
        Self {
            person_id: person_id.into(),
            organization_id: Some(organization_id.into()),
            version,
        }
    }
}

/// A change for many users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkAction {
    /// Revoke.
    Revoke,
    /// Reinstate.
    Reinstate,
    /// Remove.
    Remove,
    /// Re-invite.
    Reinvite,
}

/// Which steps an actor may take on one user now: both the lifecycle (what
/// the user's status allows) and the policies said yes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserSteps {
    /// Edit the user; not a removed one.
    pub edit: bool,
    /// Change the email in an edit: only while invited and unlinked.
    pub edit_email: bool,
    /// Flip the administrator flag in an edit.
    pub change_admin: bool,
    /// Revoke: invited or active users.
    pub revoke: bool,
    /// Reinstate: revoked users.
    pub reinstate: bool,
    /// Remove: users not removed yet.
    pub remove: bool,
    /// Re-invite: invited users (the call may still be rate-limited).
    pub reinvite: bool,
}

/// What an actor may see of one user, and do to them.
#[derive(Clone, Debug, PartialEq)]
pub struct UserView {
    /// The person, their membership and its organization, as decisions
    /// read them.
    pub member: Account,
    /// The steps the actor may take.
    pub steps: UserSteps,
}

/// A listing request: one organization, or (`None`) all the actor manages.
pub type UserQuery = MemberQuery<Option<String>>;

/// An identity asserted by an external OpenID provider, after the host
/// validated its ID token.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalIdentity {
    /// `iss`, exactly as issued.
    pub issuer: String,
    /// `sub` (or B2C's `oid`).
    pub subject: String,
    /// Every asserted email.
    pub emails: Vec<String>,
    /// Whether the provider vouches for the emails.
    pub email_verified: bool,
    /// Whether the operator trusts the provider for automatic linking.
    pub trusted_provider: bool,
    /// Display name, if asserted.
    pub name: Option<String>,
    /// Other claims as (name, JSON value) pairs.
    pub claims: Vec<(String, String)>,
}

/// Who signed in.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedIn {
    /// The person.
    pub person_id: String,
    /// The organization the session acts for: the only one of
    /// `organizations`; `None` when the person picks among several.
    pub organization_id: Option<String>,
    /// The organizations the person may act for now, by id.
    pub organizations: Vec<String>,
    /// Their status now.
    pub status: AccountStatus,
    /// Whether this sign-in created the link.
    pub linked: bool,
}

/// One policy source file: the schema or a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFile {
    /// File name for problem reports.
    pub name: String,
    /// File text.
    pub text: String,
}

/// Something wrong with a policy set, located in its file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// File name.
    pub file: String,
    /// 1-based line; 0 without a location.
    pub line: u32,
    /// 1-based column; 0 without a location.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// What a loaded policy set holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Content hash in hex.
    pub version: String,
    /// Number of policies.
    pub policies: u32,
    /// Permits among them.
    pub permits: u32,
    /// Forbids among them.
    pub forbids: u32,
}

/// Which record a decision read, by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// A person with membership and organization, by person id.
    Account(String),
    /// An organization.
    Organization(String),
    /// A staff member.
    Staff(String),
}

/// A record a decision rests on, with the stamp it had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamped {
    /// The record.
    pub key: RecordKey,
    /// Its stamp when read.
    pub stamp: u64,
}

/// One authorization question as the plugin is asked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRequest {
    /// `customer:<id>` or `staff:<id>`.
    pub principal: String,
    /// A Cedar action name of the schema.
    pub action: String,
    /// `store:<id>`, `organization:<id>`, `customer:<id>` or `onboarding:<id>`.
    pub resource: String,
    /// A JSON object as text; empty means `{}`.
    pub context: String,
    /// The organization a customer acts for, if named.
    pub organization: Option<String>,
}

/// A decision and what it rests on.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The decision.
    pub decision: Decision,
    /// The records it was made on, with their stamps, when nothing else
    /// went into it; `None` when it may not be given again.
    pub basis: Option<Vec<Stamped>>,
}

/// An actor reference and the organization it acts in, if it names one:
/// `customer:bob@acme` is `customer:bob` acting in `acme`. Ids never hold
/// `@` (the directory's ids are hex, and a seed refuses it).
pub fn split_actor(actor: &str) -> (&str, Option<&str>) {
    match actor.rsplit_once('@') {
        Some((principal, organization)) if principal.contains(':') && !organization.is_empty() => {
            (principal, Some(organization))
        }
        _ => (actor, None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_actor;

    #[test]
    fn an_actor_names_its_organization_after_an_at() {
        assert_eq!(
            split_actor("customer:bob@acme"),
            ("customer:bob", Some("acme"))
        );
        assert_eq!(split_actor("staff:sam"), ("staff:sam", None));
        assert_eq!(split_actor("customer:bob@"), ("customer:bob@", None));
        assert_eq!(
            split_actor("bob@acme"),
            ("bob@acme", None),
            "no kind, no split"
        );
    }
}
