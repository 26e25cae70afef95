//! The decision types of the library API: one authorization question and
//! its answer. A leaf: it depends on the model's records only.

use serde::{Deserialize, Serialize};

use crate::model::{self, Effect};

/// One authorization question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// `customer:<id>` or `staff:<id>`.
    pub principal: String,
    /// A Cedar action of the schema, e.g. `placeOrder`.
    pub action: String,
    /// `store:<id>`, `organization:<id>`, `customer:<id>` or `onboarding:<id>`.
    pub resource: String,
    /// The action's context, e.g. `{"orderTotal": 12000}`.
    #[serde(default)]
    pub context: serde_json::Value,
    /// The organization a customer acts for: a principal with no membership
    /// in it (staff have none) is denied, with a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

impl AuthorizeRequest {
    /// A request with an empty context.
    pub fn new(
        principal: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            principal: principal.into(),
            action: action.into(),
            resource: resource.into(),
            context: serde_json::Value::Object(Default::default()),
            organization: None,
        }
    }

    /// A request by an actor as the organization-user calls name one:
    /// `customer:<id>@<organization>` (a session's) is the customer acting
    /// for that organization.
    pub fn by_actor(actor: &str, action: impl Into<String>, resource: impl Into<String>) -> Self {
        match crate::model::split_actor(actor) {
            (principal, Some(organization)) => {
                Self::new(principal, action, resource).for_organization(organization)
            }
            (principal, None) => Self::new(principal, action, resource),
        }
    }

    /// The same request made for `organization`.
    pub fn for_organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// The same request with `context`.
    pub fn with_context(mut self, context: serde_json::Value) -> Self {
        self.context = context;
        self
    }
}

/// A decision and the reasons for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `allow` or `deny`.
    pub decision: DecisionKind,
    /// The `@id`s of the policies that decided: the permits that allowed, or
    /// the forbids that denied. Empty on a denial means no policy permits.
    pub policies: Vec<String>,
    /// Errors that forced a denial (unknown principal, evaluation errors).
    pub errors: Vec<String>,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Permitted.
    Allow,
    /// Refused.
    Deny,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == DecisionKind::Allow
    }
}

impl From<model::Decision> for Decision {
    fn from(d: model::Decision) -> Self {
        let decision = match d.effect {
            Effect::Allow if d.errors.is_empty() => DecisionKind::Allow,
            _ => DecisionKind::Deny,
        };
        Self {
            decision,
            policies: d.policies,
            errors: d.errors,
        }
    }
}
