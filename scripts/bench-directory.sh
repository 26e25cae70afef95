#!/usr/bin/env bash
# Decisions while the directory is busy: `POST /v1/authorize` alone, then
# while 32 connections search users as staff at the same time, with `wrk`
# (Debian package) against a release `partnergate serve` on a SQLite file
# seeded with the sample directory. Prints wrk's latency distributions.
#
#   scripts/bench-directory.sh [path/to/partnergate]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/serve-release.sh "${1:-}"
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
