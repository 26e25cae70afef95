//! The host's integration tests, in one binary (linking wasmtime once, not
//! once per file). Every test loads the real plugin component built by
//! `build.rs`; services (Redis, SMTP, the OpenID provider) are started by the
//! tests themselves.

mod common;

mod access;
mod artifact_cache;
mod cache;
mod differential;
mod directory;
mod faults;
mod hostile;
mod http;
mod layout;
mod load;
mod observe;
mod oidc;
mod org_users;
mod page;
mod policy_files;
mod policy_verify;
mod races;
mod sign_in;
mod smtp;
