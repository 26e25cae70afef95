# Sourced by the wrk benches: installs wrk when missing, builds a release
# `partnergate` unless a binary is given, and starts `serve` on a free port
# with a SQLite file seeded with the sample directory, in a temp dir that is
# removed (and the server stopped) on exit. The caller's extra `serve`
# arguments come after the binary.
#
#   . scripts/serve-release.sh "$bin" [serve arguments ...]
#
# Sets: work (the temp dir, or the caller's when it set one), url (http://127.0.0.1:port), server (its pid),
# and `helpers` (pids the caller starts, stopped on exit as well).
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bin=${1:-}
shift || true
if [ -z "$bin" ]; then
  cargo build --release -p partnergate
  bin=target/release/partnergate
fi
work=${work:-$(mktemp -d)}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PARTNERGATE_SERVICE_TOKEN=bench-token
"$bin" serve --listen "127.0.0.1:$port" --database "$work/d.db" \
  --directory-seed policies/directory.json --outbox-file "$work/outbox.jsonl" \
  --cache-dir "$work/cache" "$@" >"$work/log" 2>&1 &
server=$!
helpers=
trap 'kill $server $helpers 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
# Until healthy: the first start compiles the component (tens of seconds).
for _ in $(seq 1200); do
  curl -sf "127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "127.0.0.1:$port/v1/health" >/dev/null || { echo "serve did not become healthy in 120 s" >&2; exit 1; }
url="http://127.0.0.1:$port"
