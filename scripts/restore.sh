#!/usr/bin/env bash
# Restore a LOKIZ backup made by scripts/backup.sh into an EMPTY database
# and, when the backup has one, an empty local media directory.
#
#   DATABASE_URL=postgres://.../lokiz_restored STORAGE_DIR=./data scripts/restore.sh BACKUP_DIR
#
# Create the database first (createdb, or CREATE DATABASE); the restore
# refuses a database that already has LOKIZ tables, and a non-empty
# STORAGE_DIR, rather than mixing two states. Then start the processes on
# them: Redis starts empty (docs/operations.md says why that is safe).
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL is required}"
in="${1:?usage: restore.sh BACKUP_DIR}"
[[ -f "$in/lokiz.dump" ]] || { echo "restore: $in/lokiz.dump not found" >&2; exit 1; }
(cd "$in" && sha256sum --check --quiet SHA256SUMS)

tables=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [[ "$tables" != "0" ]]; then
	echo "restore: the database already has $tables tables; restore into an empty one" >&2
	exit 1
fi
if [[ -f "$in/media.tar.gz" ]]; then
	: "${STORAGE_DIR:?the backup has media: set STORAGE_DIR to an empty directory}"
	mkdir -p "$STORAGE_DIR"
	if [[ -n "$(ls -A "$STORAGE_DIR")" ]]; then
		echo "restore: STORAGE_DIR $STORAGE_DIR is not empty" >&2
		exit 1
	fi
fi

# One transaction: a failed restore leaves the database empty, not half full.
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
	--dbname="$DATABASE_URL" "$in/lokiz.dump"

if [[ -f "$in/media.tar.gz" ]]; then
	tar -C "$STORAGE_DIR" -xzf "$in/media.tar.gz"
fi
echo "restore: done from $in"
