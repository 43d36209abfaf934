// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/test/cdcsim"
	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

// writeStafdConf writes a stafd.conf without mDNS whose controllers are the given entries.
func writeStafdConf(t *testing.T, path string, controllers ...string) {
	t.Helper()
	text := "[Service Discovery]\nzeroconf = disabled\n[Controllers]\n"
	for _, c := range controllers {
		text += "controller = " + c + "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withSymname gives the host a symbolic name in /etc/stas/sys.conf for one test.
func withSymname(t *testing.T, name string) {
	t.Helper()
	if err := os.MkdirAll("/etc/stas", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/stas/sys.conf", []byte("[Host]\nsymname = "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove("/etc/stas/sys.conf") })
}

// TestStafdCDCRegistrationAndHostileEntries runs stafd against the CDC simulator: stafd
// registers (TP8010 DIM) with the host's NQN, ID and symbolic name, drops the hostile
// log entries with log lines while publishing the good one, and deregisters when the
// controller leaves the configuration and stafd reloads.
func TestStafdCDCRegistrationAndHostileEntries(t *testing.T) {
	systemBus(t)
	withSymname(t, "e2e-host")
	l := newLab(t)
	good := cdcsim.SubsystemEntry("nqn.2014-08.org.example:cdc-good", l.a.PeerAddr, "4420", 1)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: append([]nvme.Entry{good}, cdcsim.HostileEntries()...)}, false)

	conf := filepath.Join(t.TempDir(), "stafd.conf")
	writeStafdConf(t, conf, "transport=tcp;traddr="+l.a.PeerAddr+";trsvcid="+simPort+";host-iface="+l.a.Host)
	forgetDiscoveryControllers(t, l.a.PeerAddr)
	stafd := startDaemon(t, "stafd", "-f", conf)
	client, ctx := stafdClient(t)

	if !topo.Eventually(60*time.Second, func() bool { return hasSubsystem(logPagesOf(t, client), good.SubNQN) }) {
		t.Fatalf("the good entry never appeared: %+v", logPagesOf(t, client))
	}
	for _, p := range logPagesOf(t, client) {
		for _, e := range p.Logs {
			if strings.Contains(e["subnqn"], "hostile") || strings.Contains(e["traddr"], ",") {
				t.Errorf("hostile entry published: %v", e)
			}
		}
	}
	if !topo.Eventually(30*time.Second, func() bool { _, ok := sim.Registration(hostNQN); return ok }) {
		t.Fatal("stafd did not register with the CDC")
	}
	reg, _ := sim.Registration(hostNQN)
	if reg.HostID != hostID || reg.SymbolicName != "e2e-host" {
		t.Errorf("registration: host ID %q symbolic name %q, want %q and e2e-host", reg.HostID, reg.SymbolicName, hostID)
	}
	if _, err := client.ListControllers(ctx, true); err != nil {
		t.Errorf("stafd stopped answering after the hostile log page: %v", err)
	}

	writeStafdConf(t, conf)
	if err := stafd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !topo.Eventually(30*time.Second, func() bool { _, ok := sim.Registration(hostNQN); return !ok }) {
		t.Error("stafd did not deregister the controller it no longer manages")
	}
	if !topo.Eventually(30*time.Second, func() bool { return len(discoveryControllers(t, l.a.PeerAddr)) == 0 }) {
		t.Errorf("the removed controller's connection is still there: %v", discoveryControllers(t, l.a.PeerAddr))
	}
}

// TestStafdUnresponsiveDC turns one of two connected discovery controllers into one that
// never answers (the simulator's "never answer" mode): the other one's changes are still
// followed, a reload works, and every D-Bus call answers while commands to the stuck one
// hang in the kernel.
//
// The controller goes silent after it is connected: a connect to a controller that never
// answers holds the kernel's /dev/nvme-fabrics lock for its whole admin timeout (60 s),
// so while one is stuck every other connect on the host waits, whatever the daemon does.
func TestStafdUnresponsiveDC(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	stuck := cdcsim.SubsystemEntry("nqn.2014-08.org.example:stuck-1", l.a.PeerAddr, "4420", 1)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: []nvme.Entry{stuck}}, false)
	healthy := l.target.TCPPort(2, l.b.PeerAddr, "8009")
	first := l.target.Subsystem("nqn.2014-08.org.example:healthy-1", "")
	healthy.Link(first)

	conf := filepath.Join(t.TempDir(), "stafd.conf")
	writeStafdConf(t, conf,
		"transport=tcp;traddr="+l.a.PeerAddr+";trsvcid="+simPort+";host-iface="+l.a.Host,
		"transport=tcp;traddr="+l.b.PeerAddr+";trsvcid=8009;host-iface="+l.b.Host)
	forgetDiscoveryControllers(t, l.a.PeerAddr, l.b.PeerAddr)
	t.Cleanup(func() { sim.SetFaults(cdcsim.Faults{}) })
	stafd := startDaemon(t, "stafd", "-f", conf)
	client, ctx := stafdClient(t)
	both := func() bool {
		pages := logPagesOf(t, client)
		return hasSubsystem(pages, first.NQN) && hasSubsystem(pages, stuck.SubNQN)
	}
	if !topo.Eventually(60*time.Second, both) {
		t.Fatalf("log pages never appeared: %+v", logPagesOf(t, client))
	}

	sim.SetFaults(cdcsim.Faults{Unresponsive: true})
	// A reload re-reads every controller: the commands to the stuck one hang.
	if err := stafd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		call, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := client.ListControllers(call, true); err != nil {
			t.Errorf("list_controllers while a controller hangs: %v", err)
		}
		if _, err := client.ProcessInfo(call); err != nil {
			t.Errorf("process_info while a controller hangs: %v", err)
		}
		cancel()
		time.Sleep(200 * time.Millisecond)
	}
	second := l.target.Subsystem("nqn.2014-08.org.example:healthy-2", "")
	healthy.Link(second)
	if !topo.Eventually(30*time.Second, func() bool { return hasSubsystem(logPagesOf(t, client), second.NQN) }) {
		t.Errorf("a change on the healthy controller was not followed while the other hangs")
	}
	// The stuck controller's cached log page is kept: "unknown" is not "gone".
	if !hasSubsystem(logPagesOf(t, client), stuck.SubNQN) {
		t.Errorf("the stuck controller's log page was dropped")
	}
}
