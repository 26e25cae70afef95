//! What the `records` import gives the plugin, lowered into its memory
//! straight from the host's records ([`Shared`]): no WIT-typed copy of a
//! record is made first. The types here mirror `records.account-record`,
//! `types.wit`'s `organization`, `staff` (and what they hold) with borrowed
//! fields, and `records.found`; wasmtime checks them against the WIT when the
//! component is instantiated, so a mismatch refuses to start, never
//! lowers wrongly.

use std::mem::MaybeUninit;
use std::sync::Arc;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower};

use crate::bindings::types::{AccountStatus, OrganizationStatus, StaffStatus};
use crate::cache::Stamped;
use crate::convert::Conv;
use crate::model;

/// `records.found`, holding the host's records.
#[derive(ComponentType, Lower)]
#[component(variant)]
pub(crate) enum Found {
    #[component(name = "unchanged")]
    Unchanged,
    #[component(name = "missing")]
    Missing,
    #[component(name = "account")]
    Account((u64, Shared<model::Account>)),
    #[component(name = "organization")]
    Organization((u64, Shared<model::Organization>)),
    #[component(name = "staff")]
    Staff((u64, Shared<model::Staff>)),
}

/// A host record, shared with the cache it came from, lowered as its WIT
/// counterpart.
pub(crate) struct Shared<T>(pub Arc<Stamped<T>>);

#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct Person<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
}

#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct Organization<'a> {
    id: &'a str,
    name: &'a str,
    status: OrganizationStatus,
    #[component(name = "active-admins")]
    active_admins: u32,
}

#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct Membership<'a> {
    #[component(name = "organization-id")]
    organization_id: &'a str,
    #[component(name = "person-id")]
    person_id: &'a str,
    status: AccountStatus,
    #[component(name = "previous-status")]
    previous_status: Option<AccountStatus>,
    #[component(name = "is-admin")]
    is_admin: bool,
    roles: &'a [String],
    #[component(name = "spending-limit")]
    spending_limit: Option<u64>,
    #[component(name = "invited-at")]
    invited_at: Option<u64>,
    version: u64,
}

#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct Member<'a> {
    membership: Membership<'a>,
    organization: Organization<'a>,
}

/// `records.account-record`: the person and every membership; the one
/// acted for is derived by the plugin, not sent twice.
#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct Account<'a> {
    person: Person<'a>,
    memberships: Vec<Member<'a>>,
}

#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct Staff<'a> {
    id: &'a str,
    name: &'a str,
    #[component(name = "assigned-organizations")]
    assigned_organizations: &'a [String],
    email: Option<&'a str>,
    status: StaffStatus,
}

fn person(p: &model::Person) -> Person<'_> {
    Person {
        id: &p.id,
        email: &p.email,
        name: &p.name,
    }
}

fn organization(o: &model::Organization) -> Organization<'_> {
    Organization {
        id: &o.id,
        name: &o.name,
        status: o.status.conv(),
        active_admins: o.active_admins,
    }
}

fn membership(m: &model::Membership) -> Membership<'_> {
    Membership {
        organization_id: &m.organization_id,
        person_id: &m.person_id,
        status: m.status.conv(),
        previous_status: m.previous_status.map(Conv::conv),
        is_admin: m.is_admin,
        roles: &m.roles,
        spending_limit: m.spending_limit,
        invited_at: m.invited_at,
        version: m.version,
    }
}

fn account(a: &model::Account) -> Account<'_> {
    let p = &a.person;
    touch(
        [p.id.as_str(), &p.email, &p.name]
            .into_iter()
            .chain(a.memberships.iter().flat_map(|m| {
                let (membership, organization) = (&m.membership, &m.organization);
                [
                    membership.organization_id.as_str(),
                    &membership.person_id,
                    &organization.id,
                    &organization.name,
                ]
                .into_iter()
                .chain(membership.roles.iter().map(String::as_str))
            })),
    );
    // The plugin derives the membership acted for from the memberships
    // (`Account::of_person`): every account the directory gives is built
    // that way, so nothing is lost by not sending it.
    debug_assert_eq!(
        &model::Account::of_person(a.person.clone(), a.memberships.clone()),
        a,
        "an account not built by `Account::of_person` cannot be sent as an account-record"
    );
    Account {
        person: person(&a.person),
        memberships: a
            .memberships
            .iter()
            .map(|m| Member {
                membership: membership(&m.membership),
                organization: organization(&m.organization),
            })
            .collect(),
    }
}

/// Reads the first byte of each of a record's texts, one after another
/// without waiting: a record read from the cache is mostly not in the
/// CPU's caches, and lowering copies its texts one at a time, each copy
/// waiting for its own miss, with a call into the plugin (its allocator)
/// between them. Loaded together, the misses overlap.
fn touch<'a>(texts: impl IntoIterator<Item = &'a str>) {
    let mut first = 0u8;
    for text in texts {
        first ^= text.as_bytes().first().copied().unwrap_or_default();
    }
    std::hint::black_box(first);
}

/// An organization record lowered on its own (an account's organizations
/// are touched with the account).
fn organization_record(o: &model::Organization) -> Organization<'_> {
    touch([o.id.as_str(), &o.name]);
    organization(o)
}

fn staff(s: &model::Staff) -> Staff<'_> {
    touch(
        [
            s.id.as_str(),
            &s.name,
            s.email.as_deref().unwrap_or_default(),
        ]
        .into_iter()
        .chain(s.assigned_organizations.iter().map(String::as_str)),
    );
    Staff {
        id: &s.id,
        name: &s.name,
        assigned_organizations: &s.assigned_organizations,
        email: s.email.as_deref(),
        status: s.status.conv(),
    }
}

/// `ComponentType` and `Lower` for `Shared<$model>` through the borrowed
/// mirror `$mirror`, built by `$view` at each lowering.
macro_rules! shared {
    ($model:ty, $mirror:ident, $view:ident) => {
        // SAFETY: every item delegates to the mirror's derived
        // implementation; the value lowered is the mirror of the record.
        unsafe impl ComponentType for Shared<$model> {
            type Lower = <$mirror<'static> as ComponentType>::Lower;
            const ABI: CanonicalAbiInfo = <$mirror<'static> as ComponentType>::ABI;
            const MAY_REQUIRE_REALLOC: bool =
                <$mirror<'static> as ComponentType>::MAY_REQUIRE_REALLOC;

            fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
                <$mirror<'static> as ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: as above.
        unsafe impl Lower for Shared<$model> {
            fn linear_lower_to_flat<U>(
                &self,
                cx: &mut LowerContext<'_, U>,
                ty: InterfaceType,
                dst: &mut MaybeUninit<Self::Lower>,
            ) -> wasmtime::Result<()> {
                $view(&self.0).linear_lower_to_flat(cx, ty, dst)
            }

            fn linear_lower_to_memory<U>(
                &self,
                cx: &mut LowerContext<'_, U>,
                ty: InterfaceType,
                offset: usize,
            ) -> wasmtime::Result<()> {
                $view(&self.0).linear_lower_to_memory(cx, ty, offset)
            }
        }
    };
}

shared!(model::Account, Account, account);
shared!(model::Organization, Organization, organization_record);
shared!(model::Staff, Staff, staff);
