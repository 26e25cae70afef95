#!/usr/bin/env bash
# Decisions while the directory is busy: `POST /v1/authorize` alone, then
# while 32 connections search users as staff at the same time, with `wrk`
# (Debian package) against a release `partnergate serve` on a SQLite file
# seeded with the sample directory. Prints wrk's latency distributions.
#
#   scripts/bench-directory.sh [path/to/partnergate]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --release -p partnergate
  bin=target/release/partnergate
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PARTNERGATE_SERVICE_TOKEN=bench-token
"$bin" serve --listen "127.0.0.1:$port" --database "$work/d.db" \
  --directory-seed policies/directory.json --outbox-file "$work/outbox.jsonl" \
  --cache-dir "$work/cache" >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -sf "127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
url="http://127.0.0.1:$port"
echo "== POST /v1/authorize alone (wrk -t1 -c32 -d10s)"
wrk -t1 -c32 -d10s --latency -s integration/wrk/authorize.lua "$url/v1/authorize" | grep -E "Requests/sec|50%|90%|99%"
echo "== POST /v1/authorize while 32 connections run GET /v1/users?search=a as staff"
wrk -t1 -c32 -d12s -s integration/wrk/search.lua "$url/v1/users?search=a" >"$work/search.txt" &
searches=$!
sleep 1
wrk -t1 -c32 -d10s --latency -s integration/wrk/authorize.lua "$url/v1/authorize" | grep -E "Requests/sec|50%|90%|99%"
wait $searches
echo "-- the searches meanwhile:"
grep -E "Requests/sec|Non-2xx" "$work/search.txt" || true
