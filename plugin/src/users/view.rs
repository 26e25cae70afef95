//! What an actor may see of users and do to them: the answer a page shows
//! (which buttons, which editable fields), decided by the same lifecycle
//! functions and policies the steps themselves are.

use super::permit::{Fresh, permit_with};
use super::{
    BULK_MAX, Directory, SEE_USER, UserError, UserSteps, UserView, email_change, reinstated,
    reinvited, removed, revoked,
};
use crate::access::{self, Records};
use crate::model::AccountStatus;
use crate::rules::Rules;

impl<D: Directory> Rules<'_, D> {
    /// What `actor` may see of each of `person_ids` (1 to [`BULK_MAX`]) and
    /// do to them, in order: `None` for a person who does not exist, has no
    /// membership, or whom the policies do not let the actor view; the three
    /// are not told apart. Records are read fresh, each once.
    pub fn view_users(
        &self,
        actor: &str,
        person_ids: &[String],
    ) -> Result<Vec<Option<UserView>>, UserError> {
        if person_ids.is_empty() || person_ids.len() > BULK_MAX {
            return Err(UserError::Invalid(format!(
                "name 1 to {BULK_MAX} users, not {}",
                person_ids.len()
            )));
        }
        let fresh = Fresh(self.dir);
        let records = access::ReadOnce::new(&fresh);
        let now = self.dir.now();
        person_ids
            .iter()
            .map(|id| self.view_user(&records, actor, id, now))
            .collect()
    }

    fn view_user(
        &self,
        records: &impl Records,
        actor: &str,
        person_id: &str,
        now: u64,
    ) -> Result<Option<UserView>, UserError> {
        let resource = format!("customer:{person_id}");
        let allowed = |action: &str| -> Result<bool, UserError> {
            match permit_with(self.loaded, self.names, records, actor, action, &resource) {
                Ok(_) => Ok(true),
                Err(UserError::Denied(_)) => Ok(false),
                Err(other) => Err(other),
            }
        };
        if !allowed(SEE_USER)? {
            return Ok(None);
        }
        let Some(account) = records.account(person_id)? else {
            return Ok(None);
        };
        let Some(m) = account.membership.clone() else {
            return Ok(None);
        };
        let edit = m.status != AccountStatus::Removed && allowed("editUser")?;
        let admin_action = if m.is_admin {
            "demoteAdmin"
        } else {
            "designateAdmin"
        };
        // A step that does not apply is `false`; a directory that cannot be
        // read fails the whole view.
        let applies = |step: Result<(), UserError>| match step {
            Ok(()) => Ok(true),
            Err(UserError::Invalid(_)) => Ok(false),
            Err(other) => Err(other),
        };
        let steps = UserSteps {
            edit,
            edit_email: edit && applies(email_change(&m, || self.dir.has_links(person_id)))?,
            change_admin: edit && allowed(admin_action)?,
            revoke: revoked(&m).is_ok() && allowed("revokeUser")?,
            reinstate: reinstated(&m).is_ok() && allowed("reinstateUser")?,
            remove: removed(&m).is_ok() && allowed("removeUser")?,
            // A re-invitation that must wait is still offered: the step says
            // how long.
            reinvite: !matches!(reinvited(&m, now), Err(UserError::Invalid(_)))
                && allowed("reinviteUser")?,
        };
        Ok(Some(UserView {
            member: account,
            steps,
        }))
    }
}
