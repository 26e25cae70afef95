//! Records held in memory, for native tests and the native benchmark baseline.

use std::collections::HashMap;

use crate::access::{Records, Unavailable};
use crate::model::{Account, Organization, Staff};

/// Accounts, organizations and staff keyed by id.
#[derive(Clone, Debug, Default)]
pub struct MemoryRecords {
    /// Accounts by person id.
    pub accounts: HashMap<String, Account>,
    /// Organizations by id.
    pub organizations: HashMap<String, Organization>,
    /// Staff by id.
    pub staff: HashMap<String, Staff>,
}

impl Records for MemoryRecords {
    fn account(&self, person_id: &str) -> Result<Option<Account>, Unavailable> {
        Ok(self.accounts.get(person_id).cloned())
    }

    fn organization(&self, id: &str) -> Result<Option<Organization>, Unavailable> {
        Ok(self.organizations.get(id).cloned())
    }

    fn staff(&self, id: &str) -> Result<Option<Staff>, Unavailable> {
        Ok(self.staff.get(id).cloned())
    }
}
