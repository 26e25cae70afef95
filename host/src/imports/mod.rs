//! The plugin's imports, one module per interface. Each delegates to the
//! backends in [`crate::state::Services`] and decides, in its
//! `convert_error`, which failures the guest sees and which trap.

mod directory;
mod logging;
mod notifications;
mod records;

pub(crate) use records::read_one;

impl crate::bindings::types::Host for crate::state::HostState {}
