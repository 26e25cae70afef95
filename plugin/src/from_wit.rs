//! The one conversion of WIT records into the rules' model, for any
//! bindings of `partnergate:b2b/types`: the component's own (`wit-bindgen`)
//! and a host's (`wasmtime::component::bindgen!`), whose native benchmarks
//! decide over the same records.

/// Defines, for the WIT `types` interface named `$types` (a module in
/// scope), `account_status`, `organization_from_wit` and `account_from_wit`
/// with visibility `$vis`.
#[macro_export]
macro_rules! model_from_wit {
    ($vis:vis $types:ident) => {
        /// An account status in the model.
        $vis fn account_status(s: $types::AccountStatus) -> $crate::model::AccountStatus {
            match s {
                $types::AccountStatus::Invited => $crate::model::AccountStatus::Invited,
                $types::AccountStatus::Active => $crate::model::AccountStatus::Active,
                $types::AccountStatus::Revoked => $crate::model::AccountStatus::Revoked,
                $types::AccountStatus::Removed => $crate::model::AccountStatus::Removed,
            }
        }

        /// An organization in the model.
        $vis fn organization_from_wit(o: $types::Organization) -> $crate::model::Organization {
            $crate::model::Organization {
                id: o.id,
                name: o.name,
                status: match o.status {
                    $types::OrganizationStatus::Pending => $crate::model::OrganizationStatus::Pending,
                    $types::OrganizationStatus::Approved => $crate::model::OrganizationStatus::Approved,
                    $types::OrganizationStatus::Rejected => $crate::model::OrganizationStatus::Rejected,
                    $types::OrganizationStatus::Blocked => $crate::model::OrganizationStatus::Blocked,
                },
                active_admins: o.active_admins,
            }
        }

        /// An account (person, membership, organization) in the model.
        $vis fn account_from_wit(a: $types::Account) -> $crate::model::Account {
            $crate::model::Account {
                person: $crate::model::Person {
                    id: a.person.id,
                    email: a.person.email,
                    name: a.person.name,
                },
                membership: a.membership.map(|m| $crate::model::Membership {
                    organization_id: m.organization_id,
                    person_id: m.person_id,
                    status: account_status(m.status),
                    previous_status: m.previous_status.map(account_status),
                    is_admin: m.is_admin,
                    roles: m.roles,
                    spending_limit: m.spending_limit,
                    invited_at: m.invited_at,
                    version: m.version,
                }),
                organization: a.organization.map(organization_from_wit),
            }
        }
    };
}
