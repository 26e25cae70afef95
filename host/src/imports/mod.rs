//! The plugin's imports, one module per interface. Each converts the WIT
//! types to the model ([`crate::convert`]), delegates to the backends in
//! [`crate::state::Services`] and decides, in its `convert_error`, which
//! failures the guest sees and which trap.

mod directory;
mod logging;
mod lowered;
mod notifications;
pub(crate) mod records;
