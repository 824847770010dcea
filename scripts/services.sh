#!/usr/bin/env bash
# Make sure what LOKIZ needs is running on this machine: PostgreSQL, Redis
# and ffmpeg/ffprobe. For each: use it if it answers, start it if it is
# installed, install it with apt on Debian/Ubuntu when it is missing, or fall
# back to `docker compose` when a Docker engine runs. Nothing is downloaded
# except through the OS package manager.
#
# Environment: PGHOST/PGPORT (default 127.0.0.1:5432), REDIS_HOST/REDIS_PORT
# (default 127.0.0.1:6379), LOKIZ_DB (default lokiz, created if missing).
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
LOKIZ_DB=${LOKIZ_DB:-lokiz}

say() { printf '==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif have sudo; then sudo "$@"; else return 1; fi; }

apt_updated=0
apt_install() {
	have apt-get || return 1
	if [ "$apt_updated" -eq 0 ]; then
		sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
		apt_updated=1
	fi
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

docker_up() {
	have docker && docker info >/dev/null 2>&1 || return 1
	say "starting $* with docker compose"
	docker compose up -d --wait "$@"
}

wait_for() { # wait_for <what> <command...>
	local what=$1; shift
	for _ in $(seq 1 60); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	echo "error: $what did not become ready" >&2
	return 1
}

pg_ready() { have pg_isready && pg_isready -q -h "$PGHOST" -p "$PGPORT"; }
pg_start() {
	if have pg_ctlcluster && ls /etc/postgresql/*/main >/dev/null 2>&1; then
		local v
		v=$(ls /etc/postgresql | sort -V | tail -n1)
		sudo_ pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || sudo_ pg_ctlcluster "$v" main start
		return 0
	fi
	return 1
}

ensure_postgres() {
	if pg_ready; then return; fi
	if pg_start; then
		say "started the installed PostgreSQL"
	elif apt_install postgresql postgresql-client && pg_start; then
		say "installed PostgreSQL with apt"
		# A fresh cluster authenticates TCP with passwords: give the superuser
		# the password the default DATABASE_URL uses (development only).
		wait_for PostgreSQL pg_ready
		sudo_ su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
	elif docker_up postgres; then
		return
	else
		echo "error: PostgreSQL is not running and could not be started or installed; set DATABASE_URL to a server you have" >&2
		exit 1
	fi
	wait_for PostgreSQL pg_ready
}

ensure_database() {
	have psql || return 0
	local url="postgres://postgres:postgres@$PGHOST:$PGPORT/postgres?sslmode=disable"
	if ! psql "$url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$LOKIZ_DB'" 2>/dev/null | grep -q 1; then
		psql "$url" -qc "CREATE DATABASE $LOKIZ_DB" >/dev/null 2>&1 && say "created database $LOKIZ_DB" || true
	fi
}

redis_ready() { have redis-cli && [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
redis_start() {
	have redis-server || return 1
	mkdir -p /tmp/lokiz-redis
	redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir /tmp/lokiz-redis --logfile /tmp/lokiz-redis/redis.log
}

ensure_redis() {
	if redis_ready; then return; fi
	if redis_start; then
		say "started the installed Redis"
	elif apt_install redis-server && { redis_ready || redis_start; }; then
		say "installed Redis with apt"
	elif docker_up redis; then
		return
	else
		echo "error: Redis is not running and could not be started or installed; set REDIS_URL to a server you have" >&2
		exit 1
	fi
	wait_for Redis redis_ready
}

ensure_ffmpeg() {
	if have ffmpeg && have ffprobe; then return; fi
	if apt_install ffmpeg; then
		say "installed ffmpeg with apt"
	else
		echo "error: ffmpeg/ffprobe are missing and could not be installed with apt; install ffmpeg" >&2
		exit 1
	fi
}

ensure_postgres
ensure_database
ensure_redis
ensure_ffmpeg
say "PostgreSQL, Redis and ffmpeg are ready"
