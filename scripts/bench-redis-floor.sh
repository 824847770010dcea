#!/usr/bin/env bash
# The floor for view ingestion: redis-benchmark running the very Lua script
# views.Counter.Record sends (extracted from views/views.go), with distinct
# viewers and the same concurrency as the Go benchmarks (32 clients).
# Usage: scripts/bench-redis-floor.sh [requests]   (Redis at 127.0.0.1:6379, DB 15)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
script=$(awk '/^var recordScript = redis.NewScript\(`/{f=1;next} f&&/^`\)/{exit} f' views/views.go)
[ -n "$script" ] || { echo "could not extract the record script" >&2; exit 1; }
redis-cli -n 15 FLUSHDB >/dev/null
# KEYS: seen key (random per request), pending hash, in-flight set, rate
# key, anonymous-per-IP key. ARGV: dedupe ms, video, day, source, watch ms,
# rate limit, window ms, anonymous cap per IP, country. As in
# BenchmarkViewCountHTTP (anonymous viewers, limits raised to 2^30 rather
# than off), the rate and cap counters are on: each call increments both.
redis-benchmark -q --dbnum 15 -n "$n" -c 32 -r 100000000 \
	EVAL "$script" 5 "lokiz:{views}:seen:v:__rand_int__" "lokiz:{views}:pending" "lokiz:{views}:inflight" "lokiz:{views}:rl:x" \
	"lokiz:{views}:anonip:0190f0b4-0000-7000-8000-000000000001:x" \
	86400000 0190f0b4-0000-7000-8000-000000000001 2026-11-25 feed 0 1073741824 60000 1073741824 "" |
	tr '\r' '\n' | tail -n 1 | sed 's/.* : /view record script: /'
redis-cli -n 15 FLUSHDB >/dev/null
