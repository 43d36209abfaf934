#!/usr/bin/env bash
# Prints statement coverage per package and for the whole module.
set -euo pipefail
GO=${GO:-go}
cd "$(dirname "$0")/../.."
mkdir -p build
profile=build/cover.out
$GO test -count=1 -covermode=atomic -coverprofile="$profile" ./... >/dev/null
# Per package: statements covered / statements, from the merged profile.
awk -F'[ :]' 'NR > 1 {
	file = $1; n = $(NF-1); hit = $NF
	pkg = file; sub(/\/[^\/]*$/, "", pkg)
	key = pkg SUBSEP $2
	if (!(key in seen)) { seen[key] = 1; stmts[pkg] += n; total += n }
	if (hit > 0 && !(key in covered)) { covered[key] = 1; cov[pkg] += n; totalcov += n }
} END {
	for (p in stmts) printf "%-60s %6.1f%%\n", p, 100 * cov[p] / stmts[p] | "sort"
	close("sort")
	printf "%-60s %6.1f%%\n", "total", 100 * totalcov / total
}' "$profile"
