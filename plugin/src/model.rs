//! Plain Rust records the rules work on. The component layer converts the WIT
//! types to these and back; nothing here knows about WIT.

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

impl AccountStatus {
    /// The name the policies compare against.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Removed => "removed",
        }
    }
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

impl OrganizationStatus {
    /// The name the policies compare against.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Blocked => "blocked",
        }
    }
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

/// A person with their membership and organization.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Account {
    /// The person.
    pub person: Person,
    /// Their membership, if any.
    pub membership: Option<Membership>,
    /// The membership's organization.
    pub organization: Option<Organization>,
}

/// A merchant staff member.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Staff {
    /// Directory id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Organizations they manage.
    pub assigned_organizations: Vec<String>,
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
    /// Create or replace an onboarding request, with the version read.
    PutOnboarding(OnboardingRequest, Option<u64>),
    /// Queue a notification.
    Queue(Notification),
    /// Commit only if the person's membership is still at this version.
    ExpectMembership(String, u64),
    /// Commit only if the organization still has this many active
    /// administrators.
    ExpectActiveAdmins(String, u32),
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
/// [`crate::users::UserQuery`]).
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
