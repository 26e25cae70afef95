//! The entity type names of the schema and how a reference splits: what
//! entities and requests are named with.

use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};

/// The entity type names of the schema, parsed once per policy load.
pub struct Names {
    pub(super) customer: EntityTypeName,
    pub(super) organization: EntityTypeName,
    pub(super) staff: EntityTypeName,
    pub(super) store: EntityTypeName,
    pub(super) onboarding: EntityTypeName,
    pub(super) identity: EntityTypeName,
    pub(super) action: EntityTypeName,
}

impl Names {
    /// The names in the `PartnerGate` namespace.
    pub fn new() -> Self {
        let name = |n: &str| EntityTypeName::from_str(n).expect("static entity type name");
        Self {
            customer: name("PartnerGate::Customer"),
            organization: name("PartnerGate::Organization"),
            staff: name("PartnerGate::Staff"),
            store: name("PartnerGate::Store"),
            onboarding: name("PartnerGate::OnboardingRequest"),
            identity: name("PartnerGate::Identity"),
            action: name("PartnerGate::Action"),
        }
    }

    pub(super) fn uid(&self, kind: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
    }
}

impl Default for Names {
    fn default() -> Self {
        Self::new()
    }
}

/// A principal or resource reference split into kind and id.
pub(super) fn split_ref(reference: &str) -> Option<(&str, &str)> {
    let (kind, id) = reference.split_once(':')?;
    (!id.is_empty()).then_some((kind, id))
}
