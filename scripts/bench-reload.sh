#!/usr/bin/env bash
# Hot reload under load, nothing lost: `POST /v1/authorize` at 64
# connections for 30 s with `wrk` (Debian package) against a release
# `partnergate serve`, once without reloads and once with
# `POST /v1/policies/reload` every 2 s. Prints requests/s, p50/p99 and the
# non-2xx count of each run, and the p99 ratio. Off by default: not part of
# the test command.
#
#   scripts/bench-reload.sh [path/to/partnergate] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${2:-30}
# The server reads its policies from a copy, which the reloader edits.
work=$(mktemp -d)
cp -r policies "$work/policies"
. scripts/serve-release.sh "${1:-}" --policies "$work/policies"
run() {
  wrk -t2 -c64 -d"${seconds}s" --latency -s integration/wrk/authorize.lua "$url/v1/authorize" >"$work/$1.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/$1.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/$1.txt")
  echo "$1: ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${non2xx:-0}"
}
to_ms() { python3 -c "import sys,re; v=sys.argv[1]; n=float(re.match(r'[0-9.]+',v).group()); u=v[len(re.match(r'[0-9.]+',v).group()):]; print(n*{'us':0.001,'ms':1,'s':1000}[u])" "$1"; }
echo "== 64 connections, ${seconds} s, no reloads"
run without-reloads
echo "== 64 connections, ${seconds} s, POST /v1/policies/reload every 2 s"
(
  n=0
  while sleep 2; do
    # Each reload is a new set (a comment changes the version) so it is
    # really switched to.
    n=$((n + 1))
    echo "// reload $n" >>"$work/policies/store.cedar"
    curl -sf -X POST -H "Authorization: Bearer bench-token" "$url/v1/policies/reload" >/dev/null \
      || echo "reload $n failed" >&2
  done
) &
reloader=$!
helpers=$reloader
run with-reloads
kill $reloader 2>/dev/null || true
reloads=$(grep -c "policy set reloaded" "$work/log" || true)
a=$(to_ms "$(awk '$1=="99%" {print $2}' "$work/without-reloads.txt")")
b=$(to_ms "$(awk '$1=="99%" {print $2}' "$work/with-reloads.txt")")
echo "reloads applied: $reloads; p99 with reloads / without: $(python3 -c "print(round($b/$a, 2))")"
