//! The Cedar entity each kind of record becomes, and the uids of
//! references.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{Entity, EntityUid, RestrictedExpression};
use cedar_policy_core::ast::{self, PartialValue, Value};

use super::names::{Names, split_ref};
use crate::model::{Account, Organization, Staff};

/// The `Identity` entity sign-in decides on.
pub fn identity_entity(
    names: &Names,
    id: &str,
    issuer: &str,
    trusted_provider: bool,
    email_verified: bool,
) -> (EntityUid, Entity) {
    let uid = names.uid(&names.identity, id);
    let attrs = HashMap::from([
        (
            "issuer".to_string(),
            RestrictedExpression::new_string(issuer.to_string()),
        ),
        (
            "trustedProvider".to_string(),
            RestrictedExpression::new_bool(trusted_provider),
        ),
        (
            "emailVerified".to_string(),
            RestrictedExpression::new_bool(email_verified),
        ),
    ]);
    let entity = Entity::new(uid.clone(), attrs, HashSet::new())
        .expect("literal attribute values always evaluate");
    (uid, entity)
}

/// The `Customer` entity's uid.
pub fn customer_uid(names: &Names, id: &str) -> EntityUid {
    names.uid(&names.customer, id)
}

/// The entity uid of a reference `fetch` (or `check_shape`) accepted.
pub(super) fn uid_of(names: &Names, reference: &str) -> EntityUid {
    let (kind, id) = split_ref(reference).expect("checked by fetch");
    match kind {
        "customer" => names.uid(&names.customer, id),
        "staff" => names.uid(&names.staff, id),
        "organization" => names.uid(&names.organization, id),
        "store" => names.uid(&names.store, id),
        _ => names.uid(&names.onboarding, id),
    }
}

/// An entity whose attributes are values already (what `Entity::new` makes
/// of literal restricted expressions, without evaluating one per
/// attribute: building entities is most of a new decision's work).
fn entity_of(
    uid: EntityUid,
    attrs: impl IntoIterator<Item = (&'static str, Value)>,
    parents: HashSet<EntityUid>,
) -> ast::Entity {
    ast::Entity::new_with_attr_partial_value(
        uid.into(),
        attrs
            .into_iter()
            .map(|(name, value)| (name.into(), PartialValue::Value(value))),
        HashSet::new(),
        parents.into_iter().map(Into::into).collect(),
        [],
    )
}

/// An entity with no attributes and no parents (`store:`, `onboarding:`).
pub fn bare_entity(uid: &EntityUid) -> ast::Entity {
    entity_of(uid.clone(), [], HashSet::new())
}

/// Cedar's store of one request's entities, as the builders here make
/// them, without computing their transitive closure (most of building a
/// store): it holds as built. A customer's one parent is its organization,
/// and organizations, staff members and bare entities have none; an
/// action's entity comes from the schema's, which carries all its groups.
/// A test holds such a store equal to the one Cedar computes the closure
/// of. A uid given twice with different entities is an error.
pub fn store(
    entities: impl IntoIterator<Item = Arc<ast::Entity>>,
) -> Result<cedar_policy::Entities, String> {
    cedar_policy_core::entities::Entities::new()
        .add_entities(
            entities,
            None::<&cedar_policy_core::entities::NoEntitiesSchema>,
            cedar_policy_core::entities::TCComputation::AssumeAlreadyComputed,
            cedar_policy_core::extensions::Extensions::all_available(),
        )
        .map(cedar_policy::Entities::from)
        .map_err(|err| err.to_string())
}

fn string(text: &str) -> Value {
    Value::from(text)
}

/// The `Customer` entity of an account.
pub fn customer_entity(names: &Names, account: &Account) -> ast::Entity {
    let membership = account.membership.as_ref();
    let mut attrs = Vec::with_capacity(7);
    attrs.push(("email", string(&account.person.email)));
    attrs.push(("name", string(&account.person.name)));
    attrs.push((
        "status",
        string(membership.map_or("none", |m| m.status.name())),
    ));
    attrs.push((
        "isAdmin",
        Value::from(membership.is_some_and(|m| m.is_admin)),
    ));
    attrs.push((
        "roles",
        Value::set(
            membership
                .into_iter()
                .flat_map(|m| m.roles.iter())
                .map(|role| string(role)),
            None,
        ),
    ));
    let mut parents = HashSet::new();
    if let Some(m) = membership {
        if let Some(limit) = m.spending_limit {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            attrs.push(("spendingLimit", Value::from(limit)));
        }
        let org = names.uid(&names.organization, &m.organization_id);
        attrs.push((
            "organization",
            Value::from(ast::EntityUID::from(org.clone())),
        ));
        parents.insert(org);
    }
    entity_of(
        names.uid(&names.customer, &account.person.id),
        attrs,
        parents,
    )
}

/// The `Organization` entity of an organization record.
pub fn organization_entity(names: &Names, org: &Organization) -> ast::Entity {
    entity_of(
        names.uid(&names.organization, &org.id),
        [
            ("name", string(&org.name)),
            ("status", string(org.status.name())),
            ("activeAdmins", Value::from(i64::from(org.active_admins))),
        ],
        HashSet::new(),
    )
}

/// The `Staff` entity of a staff record.
pub fn staff_entity(names: &Names, staff: &Staff) -> ast::Entity {
    let orgs = staff
        .assigned_organizations
        .iter()
        .map(|id| Value::from(ast::EntityUID::from(names.uid(&names.organization, id))));
    entity_of(
        names.uid(&names.staff, &staff.id),
        [
            ("name", string(&staff.name)),
            ("status", string(staff.status.name())),
            ("assignedOrganizations", Value::set(orgs, None)),
        ],
        HashSet::new(),
    )
}

/// The same entities built the public way, from restricted expressions
/// Cedar evaluates: what the builders above must equal.
#[cfg(test)]
pub(super) mod evaluated {
    use super::*;

    /// The `Customer` entity of an account.
    pub fn customer_entity(names: &Names, account: &Account) -> Entity {
        let membership = account.membership.as_ref();
        let mut attrs: HashMap<String, RestrictedExpression> = HashMap::with_capacity(7);
        attrs.insert(
            "email".into(),
            RestrictedExpression::new_string(account.person.email.clone()),
        );
        attrs.insert(
            "name".into(),
            RestrictedExpression::new_string(account.person.name.clone()),
        );
        attrs.insert(
            "status".into(),
            RestrictedExpression::new_string(membership.map_or("none", |m| m.status.name()).into()),
        );
        attrs.insert(
            "isAdmin".into(),
            RestrictedExpression::new_bool(membership.is_some_and(|m| m.is_admin)),
        );
        attrs.insert(
            "roles".into(),
            RestrictedExpression::new_set(
                membership
                    .into_iter()
                    .flat_map(|m| m.roles.iter())
                    .map(|role| RestrictedExpression::new_string(role.clone())),
            ),
        );
        let mut parents = HashSet::new();
        if let Some(m) = membership {
            if let Some(limit) = m.spending_limit {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                attrs.insert(
                    "spendingLimit".into(),
                    RestrictedExpression::new_long(limit),
                );
            }
            let org = names.uid(&names.organization, &m.organization_id);
            attrs.insert(
                "organization".into(),
                RestrictedExpression::new_entity_uid(org.clone()),
            );
            parents.insert(org);
        }
        Entity::new(
            names.uid(&names.customer, &account.person.id),
            attrs,
            parents,
        )
        .expect("literal attribute values always evaluate")
    }

    /// The `Organization` entity of an organization record.
    pub fn organization_entity(names: &Names, org: &Organization) -> Entity {
        let attrs = HashMap::from([
            (
                "name".to_string(),
                RestrictedExpression::new_string(org.name.clone()),
            ),
            (
                "status".to_string(),
                RestrictedExpression::new_string(org.status.name().into()),
            ),
            (
                "activeAdmins".to_string(),
                RestrictedExpression::new_long(i64::from(org.active_admins)),
            ),
        ]);
        Entity::new(
            names.uid(&names.organization, &org.id),
            attrs,
            HashSet::new(),
        )
        .expect("literal attribute values always evaluate")
    }

    /// The `Staff` entity of a staff record.
    pub fn staff_entity(names: &Names, staff: &Staff) -> Entity {
        let orgs = staff
            .assigned_organizations
            .iter()
            .map(|id| RestrictedExpression::new_entity_uid(names.uid(&names.organization, id)));
        let attrs = HashMap::from([
            (
                "name".to_string(),
                RestrictedExpression::new_string(staff.name.clone()),
            ),
            (
                "status".to_string(),
                RestrictedExpression::new_string(staff.status.name().to_string()),
            ),
            (
                "assignedOrganizations".to_string(),
                RestrictedExpression::new_set(orgs),
            ),
        ]);
        Entity::new(names.uid(&names.staff, &staff.id), attrs, HashSet::new())
            .expect("literal attribute values always evaluate")
    }
}
