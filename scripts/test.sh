#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, builds
# the plugin component (through the host's build script) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain and the wasm32-wasip2 target named in rust-toolchain.toml.
rustup toolchain install >/dev/null
rustup target add wasm32-wasip2 >/dev/null

# The tests start their own redis-server on a free port.
if ! command -v redis-server >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi

# The directory conformance tests start their own PostgreSQL (initdb into a
# temporary directory, a free port); they need Debian's server programs,
# never a server already running.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
fi

# The page's tests drive Debian's headless Chromium through ChromeDriver.
if ! command -v chromedriver >/dev/null || ! [ -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

# openssl makes the test CA and certificate of the SMTP-over-TLS tests.
if ! command -v openssl >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl
fi

# The test OpenID provider (npm oidc-provider, pinned by its lockfile).
if ! command -v node >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
(cd integration/oidc && npm ci --no-audit --no-fund --loglevel=error)

# Test-only Python packages: the SMTP server the delivery tests start, and
# schemathesis, which checks the served OpenAPI document against the server.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  -r integration/requirements.txt

cargo test --workspace --locked "$@"
