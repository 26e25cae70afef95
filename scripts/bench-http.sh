#!/usr/bin/env bash
# The HTTP tail (issues #13 item 4, #24 item 3): `POST /v1/authorize` at 64 connections
# with `wrk` (Debian package) against a release `partnergate serve` on a
# SQLite file seeded with the sample directory, beside `GET /v1/health`, which
# does no work and so shows the floor that wrk and the server sharing the
# cores set; then bob's orders (integration/wrk/orders.lua): the same order
# repeated, every order with its own total (what checkouts do: each is a new
# question), and half of each. A 3 s warm-up first (warm instances, the status cache, the
# decisions the host gives again); then rounds of each, alternating. Prints
# requests/s, p50, p99 and non-2xx per run, and the server's resident size
# after each round. Off by default: not part of the
# test command.
#
#   scripts/bench-http.sh [path/to/partnergate] [seconds] [rounds] [wrk threads]
#
# The server's runtime takes `TOKIO_WORKER_THREADS` from the environment
# (default: one worker per core).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${2:-10}
rounds=${3:-3}
threads=${4:-2}
. scripts/serve-release.sh "${1:-}"
run() {
  local what=$1
  shift
  wrk -t"$threads" -c64 -d"${seconds}s" --latency "$@" >"$work/run.txt"
  awk -v what="$what" '
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /Non-2xx/ { non2xx = $5 }
    END { printf "%-28s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n", what, rps, p50, p99, non2xx + 0 }
  ' "$work/run.txt"
}
echo "== wrk -t$threads -c64, ${seconds} s runs, workers: ${TOKIO_WORKER_THREADS:-one per core}"
wrk -t"$threads" -c64 -d3s -s integration/wrk/authorize.lua "$url/v1/authorize" >/dev/null
ORDERS=new wrk -t"$threads" -c64 -d3s -s integration/wrk/orders.lua "$url/v1/authorize" >/dev/null
for round in $(seq "$rounds"); do
  run "GET /v1/health ($round)" "$url/v1/health"
  run "POST /v1/authorize ($round)" -s integration/wrk/authorize.lua "$url/v1/authorize"
  ORDERS=repeated run "orders, repeated ($round)" -s integration/wrk/orders.lua "$url/v1/authorize"
  ORDERS=new run "orders, each new ($round)" -s integration/wrk/orders.lua "$url/v1/authorize"
  ORDERS=mixed run "orders, half new ($round)" -s integration/wrk/orders.lua "$url/v1/authorize"
  echo "server resident size after round $round: $(($(ps -o rss= -p "$server") / 1024)) MiB"
done
