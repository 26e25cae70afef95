//! The back office (`--back-office-path`, default `/back-office`): the
//! merchant's staff, signed in through a provider marked `"staff": true`,
//! work the onboarding queue (approve; reject with a reason the prospect
//! receives by mail), the organizations assigned to them (create, block,
//! unblock, assign colleagues), the users of those organizations and the
//! audit trail. Server-rendered, every
//! change a plain form with the session's CSRF token; the policies decide
//! every button (asked in one batch) and every step (the plugin decides
//! again when it is taken).

mod organizations;
mod queue;
mod staff;
mod users;

pub(super) use organizations::{
    add_user, assign, block, create, organization, organizations, unassign,
};
pub(super) use queue::{decide, queue};
pub(super) use staff::{audit, sign_out};
pub(super) use users::{confirm_remove, user_step, user_step_remove, users};
