//! PartnerGate's host: loads the plugin component with wasmtime, backs its
//! imports with real services, and answers over a library API, a CLI and
//! HTTP.
//!
//! # Layout
//! Imports point down: [`server`] uses [`gate`], which uses the backends;
//! backends never use the HTTP layer, and no two files import each other,
//! directly or round a circle (`tests/integration/layout.rs`). Everything
//! speaks one model, [`model`] (the `partnergate-model` crate the plugin's
//! rules use too); the generated WIT types stay at the edge.
//! - [`app`]: `run(listener, config, shutdown)`, the wiring of
//!   `partnergate serve`; [`config`]: its flags and what they build.
//! - [`gate`]: the library API, [`PartnerGate`] and its [`Builder`];
//!   [`decision`]: the decision types; [`error`]: the library's error.
//! - `bindings`: `bindgen!` output only; `convert`: the one conversion
//!   between its types and the model; `exports`: the plugin's exports called
//!   in the model's types; `imports` implements each imported interface by
//!   delegating to the backends and the records service.
//! - [`directory`], [`cache`], [`notify`]: backends behind traits, one module
//!   per implementation, each with its error in its own file (the
//!   directory's outbox a trait of its own); [`clock`]: the clock host and
//!   plugin share;
//!   [`touched`]: what a change touched, for the directory's change log and
//!   the caches.
//! - [`records`]: the records service: what decisions read (the cache while
//!   it is trusted, with fill tickets) and the one path every change commits
//!   by;
//!   [`change_log`]: following the directory's change log, which says when
//!   this node's cache may be trusted.
//! - [`oidc`]: the OpenID Connect relying party.
//! - [`runtime`]: engine, compiled-artifact cache, epoch ticker; `pool`: warm
//!   instances and the limits calls run under; `reuse`: decisions the host
//!   gives again while the records they rest on keep their stamps.
//! - [`policies`]: reading a policy set; [`policy_cases`]: running its case
//!   files (`partnergate policy test`); [`verify`]: proving what a set allows (`policy diff`,
//!   `policy check`) with Cedar's symbolic compiler.
//! - [`telemetry`]: metrics and the decision log.
//! - [`server`]: the HTTP API of `partnergate serve`, one concern a file,
//!   and the Organization users page (`server::page`).
#![deny(missing_docs)]

pub mod app;
#[allow(missing_docs)]
mod bindings;
pub mod cache;
pub mod change_log;
pub mod clock;
pub mod config;
mod convert;
pub mod decision;
pub mod directory;
pub mod error;
mod exports;
pub mod gate;
mod imports;
pub mod notify;
pub mod oidc;
pub mod policies;
pub mod policy_cases;
mod pool;
pub mod records;
mod reuse;
pub mod runtime;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod touched;
pub mod verify;

pub use error::{Error, Fault, Problem};
pub use gate::{
    AuthorizeRequest, Builder, Check, Decision, DecisionKind, Health, HealthChecks, OutboxHandle,
    PartnerGate, PluginSource, PolicySummary,
};
/// The records the library API, the backends and the plugin speak.
pub use partnergate_model as model;
pub use pool::Limits;
