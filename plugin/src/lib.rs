//! PartnerGate's plugin: the business rules, as a WebAssembly component.
//!
//! # Layout
//! - [`model`]: the records the rules work on, from the `partnergate-model`
//!   crate the host speaks too; [`ports`]: what the rules need from outside
//!   (records, the directory), as traits.
//! - [`policy_set`]: parsing and validating the Cedar schema and policies.
//! - [`access`]: building entities from records and deciding.
//! - [`rules`]: what every rule decides over (policy set, names, directory);
//!   its methods are in [`users`], the organization-user lifecycle, and
//!   [`signin`], linking identities from OpenID providers to customer
//!   records.
//! - [`memory`]: the ports in memory, for native tests and benchmarks.
//! - `component` (wasm32 only): the `wit-bindgen` glue that converts WIT types
//!   to these modules' types and back, and implements the ports over the
//!   host's imports (status cache first, then the directory).
//!
//! Nothing outside `component` knows about WIT, so `cargo test -p
//! partnergate-plugin` runs the rules natively.
#![deny(missing_docs)]

pub mod access;
pub mod memory;
pub use partnergate_model as model;
pub mod policy_set;
pub mod ports;
pub mod rules;
pub mod signin;
pub mod users;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(any(test, all(target_family = "wasm", not(target_feature = "atomics"))))]
mod classes;

/// The component's allocator: size classes in front of talc (see
/// `classes` and `Cargo.toml`).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: classes::Classes<talc::wasm::WasmDynamicTalc> =
    classes::Classes::new(talc::wasm::new_wasm_dynamic_allocator());
