//! The `wit-bindgen` output for the `partnergate:b2b/plugin` world, alone:
//! the exports are implemented in `component/mod.rs`, the imports used by
//! `host.rs`, and converted in `convert.rs`.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    generate_all,
});
