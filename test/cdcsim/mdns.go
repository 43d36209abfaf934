// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"context"
	"os/exec"
	"strconv"
)

// MDNSServiceType is the DNS-SD service type of NVMe-oF discovery controllers (TP8009).
const MDNSServiceType = "_nvme-disc._tcp"

// AnnounceCommand returns the avahi-publish command that announces a discovery
// controller listening on port under the service name name, with the TXT records
// nvme-stas reads (nqn=<dcNQN>, p=tcp). It runs until ctx ends; it needs avahi-daemon.
func AnnounceCommand(ctx context.Context, name string, port int, dcNQN string) *exec.Cmd {
	return exec.CommandContext(ctx, "avahi-publish", "-s", name, MDNSServiceType, strconv.Itoa(port), "nqn="+dcNQN, "p=tcp")
}
