// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

// The NBFT the VM is booted with (make e2e builds it with test/cmd/mknbft from the real
// fixture): its discovery controller is at nbftDC:8009, reached through the interface
// whose MAC is nbftMAC, and the boot host NQN is nbftHostNQN.
const (
	nbftDC      = "198.51.100.22"
	nbftMAC     = "b0:26:28:e8:7c:0e"
	nbftHostNQN = "nqn.1988-11.com.dell:PowerEdge.R760.1234567"
)

// TestNBFTDiscoveryController boots with an NBFT (qemu -acpitable, a second VM run of make
// e2e, E2E_NBFT=1): stafd takes the table's discovery controller as configured, binds it
// to the interface with the table's MAC, connects with the table's boot host NQN, and
// publishes its log page.
func TestNBFTDiscoveryController(t *testing.T) {
	if os.Getenv("E2E_NBFT") != "1" {
		t.Fatal("this scenario needs a VM booted with the NBFT: run it through make e2e")
	}
	if _, err := os.Stat("/sys/firmware/acpi/tables/NBFT"); err != nil {
		t.Fatalf("the VM has no NBFT: %v", err)
	}
	systemBus(t)
	l := newLab(t)
	topo.Run(t, "ip", "link", "set", l.b.Host, "down")
	topo.Run(t, "ip", "link", "set", l.b.Host, "address", nbftMAC)
	topo.Run(t, "ip", "link", "set", l.b.Host, "up")
	topo.Run(t, "ip", "-n", l.ns.Name, "addr", "add", nbftDC+"/24", "dev", l.b.Peer)
	sub := l.target.Subsystem("nqn.2014-08.org.example:nbft-1", "")
	l.target.TCPPort(1, nbftDC, "8009").Link(sub)

	conf := filepath.Join(t.TempDir(), "stafd.conf")
	writeStafdConf(t, conf)
	forgetDiscoveryControllers(t, nbftDC)
	startDaemon(t, "stafd", "-f", conf)
	client, _ := stafdClient(t)
	if !topo.Eventually(60*time.Second, func() bool { return hasSubsystem(logPagesOf(t, client), sub.NQN) }) {
		t.Fatalf("the NBFT discovery controller's log page never appeared: %+v", logPagesOf(t, client))
	}
	for _, p := range logPagesOf(t, client) {
		if p.DC["traddr"] == nbftDC && (p.DC["host-iface"] != l.b.Host || p.DC["host-nqn"] != nbftHostNQN) {
			t.Errorf("NBFT controller %v: want host-iface %s (the table's MAC) and host-nqn %s", p.DC, l.b.Host, nbftHostNQN)
		}
	}
	devs := discoveryControllers(t, nbftDC)
	if len(devs) != 1 {
		t.Fatalf("discovery controllers to %s: %v", nbftDC, devs)
	}
	if c := readController(t, devs[0]); c.HostNQN != nbftHostNQN || c.Address.HostIface != l.b.Host {
		t.Errorf("%s: hostnqn %q host_iface %q, want the boot identity %s on %s", devs[0], c.HostNQN, c.Address.HostIface, nbftHostNQN, l.b.Host)
	}
}
