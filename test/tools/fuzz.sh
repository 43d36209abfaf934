#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME each (go test allows one target per run).
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
cd "$(dirname "$0")/../.."
count=0
for pkg in $($GO list ./...); do
	targets=$($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for t in $targets; do
		echo "== fuzz $pkg $t ($FUZZTIME)"
		$GO test -run='^$' -fuzz="^${t}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=1s "$pkg"
		count=$((count + 1))
	done
done
echo "fuzz: $count targets passed"
