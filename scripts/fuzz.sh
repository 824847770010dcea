#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target of the module, one after another, each
# for FUZZTIME (default 5m). Targets are found, not listed: every
# `func FuzzX(f *testing.F)` in a _test.go file, so a new one is never
# forgotten. The seed corpora (testdata/fuzz/FuzzX/) are replayed by plain
# `go test`; this explores beyond them. A crasher is written by Go under the
# package's testdata/fuzz/FuzzX/ and makes the script fail at the end.
#
#   scripts/fuzz.sh              every target, FUZZTIME each
#   scripts/fuzz.sh --list       print "package target" lines and stop
#   FUZZTIME=30s FUZZPARALLEL=1 FUZZ_ONLY='Cursor|Webhook' scripts/fuzz.sh
#
# FUZZPARALLEL sets -parallel (default: GOMAXPROCS workers); FUZZ_ONLY is an
# extended regexp matched against "package target"; FUZZLOG, when set, is a
# file that gets one summary line per target (the last progress line Go
# printed: elapsed, execs, new interesting inputs).
set -euo pipefail
cd "$(dirname "$0")/.."

targets() {
	grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
		sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#; s#^\./[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#. \1#' |
		sort -u | { if [[ -n "${FUZZ_ONLY:-}" ]]; then grep -E -- "$FUZZ_ONLY" || true; else cat; fi; }
}

if [[ "${1:-}" == "--list" ]]; then
	targets
	exit 0
fi

fuzztime=${FUZZTIME:-5m}
args=(-run '^$' -fuzztime "$fuzztime")
if [[ -n "${FUZZPARALLEL:-}" ]]; then
	args+=(-parallel "$FUZZPARALLEL")
fi

failed=()
while read -r pkg target; do
	[[ -n "$target" ]] || continue
	echo "== ./$pkg $target ($fuzztime)"
	out=$(mktemp)
	status=0
	go test "${args[@]}" -fuzz "^${target}\$" "./$pkg" 2>&1 | tee "$out" || status=$?
	last=$(grep -E 'fuzz: elapsed: .*execs:' "$out" | tail -n 1 || true)
	if [[ $status -ne 0 ]]; then
		failed+=("./$pkg $target")
		last="FAILED ${last}"
	fi
	if [[ -n "${FUZZLOG:-}" ]]; then
		echo "./$pkg $target: ${last:-no progress line}" >>"$FUZZLOG"
	fi
	rm -f "$out"
done < <(targets)

if ((${#failed[@]} > 0)); then
	printf 'fuzz: failing target: %s\n' "${failed[@]}" >&2
	exit 1
fi
