#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, builds
# the plugin component (through the host's build script) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain and the wasm32-wasip2 target named in rust-toolchain.toml.
rustup toolchain install >/dev/null
rustup target add wasm32-wasip2 >/dev/null

cargo test --workspace --locked "$@"
