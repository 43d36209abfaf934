#!/bin/bash
# make demo: boots the end-to-end VM (test/vm/run.sh) and runs test/demo/guest.sh in it,
# which builds the target, starts stafd and stacd, waits until they converge and prints
# what they found. The build (build/bin) must be current: make demo runs make build first.
# Exit status: the guest script's (0 converged, 1 not), 124 if the VM ran out of time
# (DEMO_TIMEOUT seconds, default 300), 125 if the VM itself failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 2

# DEMO_CONVERGE (seconds) bounds each of the guest's waits.
env=()
[[ -n ${DEMO_CONVERGE:-} ]] && env=(--env "DEMO_CONVERGE=$DEMO_CONVERGE")

# The guest copies the daemons' logs to build/demo ($VM_OUT).
mkdir -p build/demo && rm -f build/demo/*.log

# The console carries the guest script's output; the launcher's markers are left out.
test/vm/run.sh --timeout "${DEMO_TIMEOUT:-300}" --share build/demo "${env[@]}" -- bash test/demo/guest.sh |
	sed -u "/^@@VM-/d; /reboot: Power down/d"
