#!/usr/bin/env bash
# The load harness (`make load`, docs/benchmarks.md "Load harness"):
#
#  1. a private PostgreSQL (pg_stat_statements preloaded) and Redis on their
#     own ports, in a temporary directory, removed at the end;
#  2. `lokiz migrate up`, then `lokiz seed -bulk` of the issue's size (timed);
#  3. `lokiz api` (pprof on a loopback port) and `lokiz worker`, with the
#     per-IP rate limits of login, views and search raised so that the run
#     measures the server, not the limiter;
#  4. an access token per seeded user through POST /v1/auth/login;
#  5. wrk against each request at each connection count (scripts/load/load.lua),
#     /health first as the floor of the HTTP stack, a CPU profile of the api
#     during the for-you row and pg_stat_statements' top queries of every row;
#  6. one table: request, connections, req/s, p50, p99, errors, ratio to
#     /health and to the original backend.
#
# Settings (environment): LOAD_DURATION (10s), LOAD_CONNECTIONS ("20 500"),
# LOAD_THREADS (2), LOAD_ROWS (every row), LOAD_USERS (200), LOAD_VIDEOS
# (2000), LOAD_LIKES (16700), LOAD_FOLLOWS (2000), LOAD_OUT (load-out: logs,
# profiles, the table), LOAD_PORT_BASE (55400: PostgreSQL +0, Redis +1, api
# +2, pprof +3), LOAD_BIN (a lokiz binary to measure instead of building
# bin/lokiz from the tree: before/after runs of two builds).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${LOAD_DURATION:-10s}
CONNECTIONS=${LOAD_CONNECTIONS:-20 500}
THREADS=${LOAD_THREADS:-2}
ROWS=${LOAD_ROWS:-health foryou like likecheck checkbatch batchinfo videos view search latest}
USERS=${LOAD_USERS:-200}
VIDEOS=${LOAD_VIDEOS:-2000}
LIKES=${LOAD_LIKES:-16700}
FOLLOWS=${LOAD_FOLLOWS:-2000}
OUT=$(realpath -m "${LOAD_OUT:-load-out}")
BASE=${LOAD_PORT_BASE:-55400}
PG_PORT=$BASE REDIS_PORT=$((BASE + 1)) API_PORT=$((BASE + 2)) PPROF_PORT=$((BASE + 3))
PASSWORD=load-run-password-1

# The original backend's figures at 20 connections (the issue "Scale and
# speed"): req/s and p99 in ms.
declare -A ORIG_RPS=([foryou]=71 [like]=93 [likecheck]=352 [checkbatch]=330 [batchinfo]=25)
declare -A ORIG_P99=([foryou]=466 [like]=313 [likecheck]=100 [checkbatch]=140 [batchinfo]=1736)
declare -A LABEL=([health]="GET /health" [foryou]="GET /v1/feed/for-you (signed in)"
	[like]="POST /v1/likes/videos/{id}" [likecheck]="GET /v1/likes/videos/{id}/check"
	[checkbatch]="POST /v1/likes/check-batch (20 ids)" [batchinfo]="POST /v1/users/batch-info (20 ids)"
	[videos]="GET /v1/videos (anonymous)" [view]="POST /v1/videos/{id}/view (signed in)"
	[search]="GET /v1/search?q= (anonymous)" [latest]="GET /v1/videos/feed?algorithm=latest (anonymous)")

log() { printf '[load %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if ! command -v wrk >/dev/null; then
	log "installing wrk"
	if command -v apt-get >/dev/null; then
		SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
		$SUDO apt-get install -y -qq wrk >/dev/null
	else
		echo "wrk is needed (https://github.com/wg/wrk)" >&2; exit 1
	fi
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries (initdb, pg_ctl) are needed" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is needed" >&2; exit 1; }
for p in $PG_PORT $REDIS_PORT $API_PORT $PPROF_PORT; do
	if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "port $p is taken: set LOAD_PORT_BASE" >&2; exit 1
	fi
done

mkdir -p "$OUT" bin
rm -f "$OUT"/*.log "$OUT"/*.txt "$OUT"/*.pprof
if [ -n "${LOAD_BIN:-}" ]; then
	LOKIZ=$(realpath "$LOAD_BIN")
	log "using $LOKIZ (LOAD_BIN)"
else
	log "building bin/lokiz"
	go build -o bin/lokiz ./cmd/lokiz
	LOKIZ=$(realpath bin/lokiz)
fi

TMP=$(mktemp -d /tmp/lokiz-load.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	as_postgres "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -ne 0 ] || chown postgres "$TMP"

log "private PostgreSQL on $PG_PORT, Redis on $REDIS_PORT"
as_postgres "$PGBIN/initdb" -D "$TMP/pg" -A trust -U postgres -E UTF8 --no-sync >"$OUT/initdb.log"
as_postgres "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w -t 60 start \
	-o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_preload_libraries=pg_stat_statements" >/dev/null
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --protected-mode no >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
PSQL=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d lokiz_load -v ON_ERROR_STOP=1 -qAt)
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE lokiz_load"
"${PSQL[@]}" -c "CREATE EXTENSION pg_stat_statements"

export LOKIZ_ENV=development
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/lokiz_load?sslmode=disable"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export SECRET_KEY=load-harness-secret-key-0123456789abcdef
export HTTP_ADDR=127.0.0.1:$API_PORT PUBLIC_BASE_URL=http://127.0.0.1:$API_PORT PPROF_ADDR=127.0.0.1:$PPROF_PORT
export STORAGE_DIR=$TMP/storage
# bcrypt at its minimum: logins of the token minting are cheap (no row
# measures login). The per-IP limits are raised because every wrk
# connection comes from 127.0.0.1; likes, like checks, batch routes and the
# feeds have no rate limit.
export BCRYPT_COST=4 AUTH_RATE_LIMIT=100000 VIEW_RATE_LIMIT=1000000 SEARCH_RATE_LIMIT=1000000

"$LOKIZ" migrate up >"$OUT/migrate.log"
log "seeding $USERS users, $VIDEOS videos, $LIKES likes, $FOLLOWS follows"
"$LOKIZ" seed -bulk -users "$USERS" -videos "$VIDEOS" -likes "$LIKES" -follows "$FOLLOWS" -password "$PASSWORD" | tee "$OUT/seed.txt" >&2
SEED_SECONDS=$(sed -n 's/.* in \([0-9.]*\) s;.*/\1/p' "$OUT/seed.txt")

"$LOKIZ" api >"$OUT/api.log" 2>&1 &
PIDS+=($!)
"$LOKIZ" worker >"$OUT/worker.log" 2>&1 &
PIDS+=($!)
API=http://127.0.0.1:$API_PORT
for _ in $(seq 100); do curl -fs "$API/health" >/dev/null && break; sleep 0.2; done
curl -fs "$API/health" >/dev/null || { echo "the api did not start: $OUT/api.log" >&2; exit 1; }

log "minting $USERS tokens"
DATA=$OUT/data
mkdir -p "$DATA"
: >"$DATA/tokens.txt"
for n in $(seq -f "%06g" 1 "$USERS"); do
	curl -s -X POST "$API/v1/auth/login" -H 'Content-Type: application/json' \
		-d "{\"username\":\"bulk_$n\",\"password\":\"$PASSWORD\"}" >"$DATA/login.json"
	token=$(grep -o '"access_token":"[^"]*"' "$DATA/login.json" | cut -d'"' -f4 || true)
	[ -n "$token" ] || { echo "login of bulk_$n failed: $(cat "$DATA/login.json")" >&2; exit 1; }
	echo "$token" >>"$DATA/tokens.txt"
done
"${PSQL[@]}" -c "SELECT id FROM videos ORDER BY md5(id::text)" >"$DATA/videos.txt"
"${PSQL[@]}" -c "SELECT id FROM users ORDER BY md5(id::text)" >"$DATA/users.txt"
printf '%s\n' morning river neon quiet storm garden street velvet orbit paper dance cats food travel music bulk_0001 load >"$DATA/words.txt"
TOKEN=$(head -1 "$DATA/tokens.txt") VIDEO=$(head -1 "$DATA/videos.txt")

# Warm-up: each user's first "for you" page once, which computes their
# ranking in the request (the candidates query); the rows then measure the
# steady state, where a first page is served from the stored ranking.
log "warm-up: one for-you first page per user"
warm_start=$(date +%s.%N)
while read -r t; do
	curl -s -o /dev/null -H "Authorization: Bearer $t" "$API/v1/feed/for-you"
done <"$DATA/tokens.txt"
WARM_SECONDS=$(echo "$(date +%s.%N) - $warm_start" | bc)

# preflight answers the row's request once with curl: it must be 2xx.
preflight() {
	local code
	case $1 in
	health) code=$(curl -s -o /dev/null -w '%{http_code}' "$API/health") ;;
	foryou) code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$API/v1/feed/for-you") ;;
	like) code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$API/v1/likes/videos/$VIDEO") ;;
	likecheck) code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$API/v1/likes/videos/$VIDEO/check") ;;
	checkbatch) code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		-d "{\"video_ids\":[\"$VIDEO\"]}" "$API/v1/likes/check-batch") ;;
	batchinfo) code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		-d "{\"user_ids\":[\"$(head -1 "$DATA/users.txt")\"]}" "$API/v1/users/batch-info") ;;
	videos) code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/videos") ;;
	view) code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$API/v1/videos/$VIDEO/view") ;;
	search) code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/search?q=river") ;;
	latest) code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/videos/feed?algorithm=latest") ;;
	esac
	[[ $code == 2?? ]] || { echo "row $1: the request answers $code, not 2xx" >&2; exit 1; }
}

# drain waits (at most 3 minutes) until the worker has no task pending or
# running in any queue, so that a row does not share the cores with the
# backlog the previous one left (the like row leaves one notification
# delivery per like). It prints the seconds it waited.
drain() {
	local start queued q
	start=$(date +%s.%N)
	for _ in $(seq 1800); do
		queued=0
		for q in $(redis-cli -p "$REDIS_PORT" SMEMBERS asynq:queues); do
			queued=$((queued + $(redis-cli -p "$REDIS_PORT" LLEN "asynq:{$q}:pending") + $(redis-cli -p "$REDIS_PORT" LLEN "asynq:{$q}:active")))
		done
		[ "$queued" -eq 0 ] && break
		sleep 0.1
	done
	echo "$(date +%s.%N) - $start" | bc
}

secs=${DURATION%s}
RESULTS=$OUT/results.txt
: >"$RESULTS"
log "load average before the rows: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/loadavg.txt"
for c in $CONNECTIONS; do
	for row in $ROWS; do
		preflight "$row"
		"${PSQL[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null
		prof=
		if [ "$row" = foryou ] && [ "$c" = "$(echo "$CONNECTIONS" | cut -d' ' -f1)" ] && [ "$secs" -ge 4 ]; then
			curl -s -o "$OUT/foryou-c$c.cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$((secs - 2))" &
			prof=$!
		fi
		log "$row at $c connections for $DURATION"
		LOAD_ROW=$row LOAD_DATA=$DATA wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency --timeout 10s \
			-s scripts/load/load.lua "$API" >"$OUT/wrk-$row-c$c.txt" 2>&1 || true
		line=$(grep '^LOADRESULT' "$OUT/wrk-$row-c$c.txt" || true)
		[ -n "$line" ] || { echo "wrk failed: $OUT/wrk-$row-c$c.txt" >&2; cat "$OUT/wrk-$row-c$c.txt" >&2; exit 1; }
		echo "$line $c $(cut -d' ' -f1 /proc/loadavg)" >>"$RESULTS"
		"${PSQL[@]}" -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
			round(mean_exec_time::numeric, 3) AS mean_ms, regexp_replace(left(query, 160), '\s+', ' ', 'g')
			FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
			ORDER BY total_exec_time DESC LIMIT 8" >"$OUT/pgss-$row-c$c.txt"
		if [ -n "$prof" ]; then
			wait "$prof" || true
			go tool pprof -top -nodecount=30 "$LOKIZ" "$OUT/foryou-c$c.cpu.pprof" >"$OUT/foryou-c$c.cpu.top.txt" 2>/dev/null || true
		fi
		log "$row: the worker's queues drained in $(drain) s"
		sleep 1
	done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/loadavg.txt"

# The table.
{
	echo "seed: $USERS users, $VIDEOS videos, $LIKES likes, $FOLLOWS follows in $SEED_SECONDS s; for-you warm-up of $USERS first pages in $WARM_SECONDS s; wrk -t$THREADS -d$DURATION; $(nproc) cores; $(tr '\n' ';' <"$OUT/loadavg.txt")"
	echo
	echo "| request | connections | req/s | p50 ms | p99 ms | errors | × /health | × original req/s | × original, /health-normalized | original p99 ÷ p99 | load avg |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -v orps="$(for k in "${!ORIG_RPS[@]}"; do printf '%s=%s,' "$k" "${ORIG_RPS[$k]}"; done)" \
		-v op99="$(for k in "${!ORIG_P99[@]}"; do printf '%s=%s,' "$k" "${ORIG_P99[$k]}"; done)" \
		-v labels="$(for k in "${!LABEL[@]}"; do printf '%s=%s\t' "$k" "${LABEL[$k]}"; done)" '
	BEGIN {
		n = split(orps, a, ","); for (i = 1; i <= n; i++) if (split(a[i], kv, "=") == 2) rps0[kv[1]] = kv[2]
		n = split(op99, a, ","); for (i = 1; i <= n; i++) if (split(a[i], kv, "=") == 2) p990[kv[1]] = kv[2]
		n = split(labels, a, "\t"); for (i = 1; i <= n; i++) { j = index(a[i], "="); if (j) label[substr(a[i], 1, j - 1)] = substr(a[i], j + 1) }
	}
	# LOADRESULT row requests seconds p50us p99us status socket conns loadavg
	{
		row = $2; c = $9; rps = $3 / $4
		if (row == "health") health[c] = rps
		line[NR] = row; conns[NR] = c; r[NR] = rps; p50[NR] = $5 / 1000; p99[NR] = $6 / 1000; err[NR] = $7 + $8; la[NR] = $10
	}
	END {
		for (i = 1; i <= NR; i++) {
			row = line[i]; c = conns[i]
			xh = (c in health && health[c] > 0) ? sprintf("%.3f", r[i] / health[c]) : "—"
			xo = (row in rps0) ? sprintf("%.1f×", r[i] / rps0[row]) : "—"
			xp = (row in p990 && p99[i] > 0) ? sprintf("%.1f×", p990[row] / p99[i]) : "—"
			# The original ran with /health at 52,246 req/s on a quiet machine:
			# its share of /health against ours.
			xn = (row in rps0 && c in health && health[c] > 0) ? sprintf("%.1f×", (r[i] / health[c]) / (rps0[row] / 52246)) : "—"
			printf "| %s | %d | %.0f | %.2f | %.2f | %d | %s | %s | %s | %s | %s |\n", label[row], c, r[i], p50[i], p99[i], err[i], xh, xo, xn, xp, la[i]
		}
	}' "$RESULTS"
} | tee "$OUT/table.md"
errors=$(grep -c ' level=ERROR' "$OUT/api.log" || true)
echo "api log: $errors ERROR lines ($OUT/api.log)" | tee -a "$OUT/table.md"
