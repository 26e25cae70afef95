//! Plain Rust records the rules work on. The component layer converts the WIT
//! types to these and back; nothing here knows about WIT.

/// Where an organization user stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// Directory id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// An organization customer record with its derived administrator count.
#[derive(Clone, Debug, PartialEq)]
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
#[derive(Clone, Debug, PartialEq)]
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
    /// Record version.
    pub version: u64,
}

/// A person with their membership and organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    /// The person.
    pub person: Person,
    /// Their membership, if any.
    pub membership: Option<Membership>,
    /// The membership's organization.
    pub organization: Option<Organization>,
}

/// A merchant staff member.
#[derive(Clone, Debug, PartialEq)]
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
        Self { effect: Effect::Deny, policies: Vec::new(), errors: vec![reason] }
    }
}
