#!/usr/bin/env bash
# Back up LOKIZ: the PostgreSQL database (pg_dump custom format) and, with
# the local storage backend, the media directory (a tarball). See
# docs/operations.md for S3, restores and what Redis holds.
#
#   DATABASE_URL=postgres://... STORAGE_DIR=./data scripts/backup.sh [OUT_DIR]
#
# OUT_DIR (default ./backups/<UTC timestamp>) receives:
#   lokiz.dump      pg_dump -Fc of DATABASE_URL (restore with scripts/restore.sh)
#   media.tar.gz    STORAGE_DIR's contents, when STORAGE_DIR is set
#   SHA256SUMS      checksums of both
# Needs pg_dump of the server's major version or newer (Debian: postgresql-client).
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL is required}"
out="${1:-./backups/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

# The database first: media objects a row points at are written before the
# row (uploads land before /complete), so a media copy taken after the dump
# holds every object the dump references.
pg_dump --format=custom --compress=6 --no-owner --no-privileges \
	--file="$out/lokiz.dump.partial" "$DATABASE_URL"
mv "$out/lokiz.dump.partial" "$out/lokiz.dump"

if [[ -n "${STORAGE_DIR:-}" ]]; then
	if [[ ! -d "$STORAGE_DIR" ]]; then
		echo "backup: STORAGE_DIR $STORAGE_DIR is not a directory" >&2
		exit 1
	fi
	tar -C "$STORAGE_DIR" -czf "$out/media.tar.gz.partial" .
	mv "$out/media.tar.gz.partial" "$out/media.tar.gz"
fi

(cd "$out" && sha256sum lokiz.dump $([[ -f media.tar.gz ]] && echo media.tar.gz) > SHA256SUMS)
echo "backup: wrote $out"
