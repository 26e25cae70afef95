//! What every rule decides over: the policy set in use, the entity names
//! requests are built with, and the directory. The organization-user
//! lifecycle ([`crate::users`]) and identity linking ([`crate::signin`]) are
//! its methods, each in its own module.

use crate::access::Names;
use crate::policy_set::LoadedPolicies;
use crate::ports::Directory;

/// The rules over a policy set and a directory.
pub struct Rules<'a, D: Directory> {
    /// The policy set in use.
    pub loaded: &'a LoadedPolicies,
    /// Entity names.
    pub names: &'a Names,
    /// The directory.
    pub dir: &'a D,
}

impl<'a, D: Directory> Rules<'a, D> {
    /// The rules over `loaded` and `dir`.
    pub fn new(loaded: &'a LoadedPolicies, names: &'a Names, dir: &'a D) -> Self {
        Self { loaded, names, dir }
    }
}
