// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/test/cdcsim"
	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

// mdnsFound bounds how long stafd may take from start (or from avahi-daemon's return) to
// a published log page of an announced controller: mDNS probing and announcing, the
// resolve, the reachability check, the reconciliation soak, the connect and the fetch,
// all under TCG on a loaded machine.
const mdnsFound = 60 * time.Second

// startMDNSStafd starts stafd with a stafd.conf that lists no controller, so that mDNS
// (zeroconf, enabled by default) is its only source, and dials its D-Bus API. The
// discovery connections it leaves behind (persistent by default) are deleted at cleanup.
func startMDNSStafd(t *testing.T, addrs ...string) (*daemonProc, *dbusapi.Client) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "stafd.conf")
	if err := os.WriteFile(conf, []byte("# No controllers: mDNS is the only source.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forgetDiscoveryControllers(t, addrs...)
	stafd := startDaemon(t, "stafd", "-f", conf, "--tron")
	client, _ := stafdClient(t)
	return stafd, client
}

// announceDC announces a discovery controller listening on port from the responder, with
// the TXT items of TP8009.
func announceDC(r *topo.MDNSResponder, name string, port int) *topo.Publication {
	return r.Publish(name, cdcsim.MDNSServiceType, port, "p=tcp", "nqn="+nqn.WellKnownDiscovery)
}

// mdnsPage returns the controller and the log page stafd publishes for the discovery
// controller at traddr:trsvcid; ok is false if there is none.
func mdnsPage(pages allLogPages, traddr, trsvcid string) (dc map[string]string, logs []map[string]string, ok bool) {
	for _, p := range pages {
		if p.DC["traddr"] == traddr && p.DC["trsvcid"] == trsvcid {
			return p.DC, p.Logs, true
		}
	}
	return nil, nil, false
}

// waitMDNSPage waits until stafd publishes the controller at traddr:trsvcid bound to
// iface, with subsystem sub in its log page when sub is not empty, and returns how long
// it took.
func waitMDNSPage(t *testing.T, client *dbusapi.Client, traddr, trsvcid, iface, sub string) time.Duration {
	t.Helper()
	start := time.Now()
	ok := topo.Eventually(mdnsFound, func() bool {
		dc, logs, ok := mdnsPage(logPagesOf(t, client), traddr, trsvcid)
		if !ok || dc["host-iface"] != iface {
			return false
		}
		for _, e := range logs {
			if e["subnqn"] == sub && e["subtype"] == "nvme" {
				return true
			}
		}
		return sub == ""
	})
	if !ok {
		t.Fatalf("controller %s:%s on %s (log page with %q) not published within %v: %+v", traddr, trsvcid, iface, sub, mdnsFound, logPagesOf(t, client))
	}
	took := time.Since(start)
	t.Logf("controller %s:%s on %s published after %v", traddr, trsvcid, iface, took.Round(100*time.Millisecond))
	return took
}

// mdnsControllers lists the kernel's discovery controllers to traddr:trsvcid.
func mdnsControllers(t *testing.T, traddr, trsvcid string) []sysfs.Controller {
	t.Helper()
	ctrls, err := sysfs.ReadControllers(sysfs.FS())
	if err != nil {
		t.Fatal(err)
	}
	var out []sysfs.Controller
	for _, c := range ctrls {
		if c.IsDiscovery() && c.Address.TrAddr == traddr && c.Address.TrSvcID == trsvcid {
			out = append(out, c)
		}
	}
	return out
}

// waitLive waits until the kernel has a live discovery controller to traddr:trsvcid.
func waitLive(t *testing.T, traddr, trsvcid string) {
	t.Helper()
	if !topo.Eventually(time.Minute, func() bool {
		ctrls := mdnsControllers(t, traddr, trsvcid)
		return len(ctrls) > 0 && ctrls[0].State == "live"
	}) {
		t.Fatalf("no live discovery controller to %s:%s within a minute: %+v", traddr, trsvcid, mdnsControllers(t, traddr, trsvcid))
	}
}

// expectOneDC checks that the kernel has exactly one discovery controller to
// traddr:trsvcid, bound to iface, and returns its name.
func expectOneDC(t *testing.T, traddr, trsvcid, iface string) string {
	t.Helper()
	ctrls := mdnsControllers(t, traddr, trsvcid)
	if len(ctrls) != 1 {
		t.Fatalf("%d discovery controllers to %s:%s, want 1: %+v", len(ctrls), traddr, trsvcid, ctrls)
	}
	c := ctrls[0]
	if c.Address.HostIface != iface {
		t.Errorf("%s: address %q, want host_iface=%s", c.Name, c.AddressText, iface)
	}
	t.Logf("%s: %s (state %s)", c.Name, c.AddressText, c.State)
	return c.Name
}

// TestStafdMDNSDiscovered: a discovery controller announced with mDNS from the target
// namespace (its own avahi-daemon, TXT p=tcp and the well-known NQN) is found by stafd
// through the host's avahi-daemon, checked, connected on the interface it was seen on,
// and its log page reaches D-Bus and stafctl.
func TestStafdMDNSDiscovered(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	port := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	sub := l.target.Subsystem("nqn.2014-08.org.example:mdns-1", "")
	port.Link(sub)

	topo.StartAvahi(t)
	responder := topo.StartResponder(t, l.ns, topo.ResponderConfig{HostName: "tgt", Interfaces: []string{l.a.Peer}, IPv4: true})
	announceDC(responder, "nvme-dc-a", 8009)

	_, client := startMDNSStafd(t, l.a.PeerAddr)
	waitMDNSPage(t, client, l.a.PeerAddr, "8009", l.a.Host, sub.NQN)
	if dc, _, _ := mdnsPage(logPagesOf(t, client), l.a.PeerAddr, "8009"); dc["transport"] != "tcp" || dc["subsysnqn"] != nqn.WellKnownDiscovery {
		t.Errorf("published controller %v: want transport tcp and subsysnqn %s", dc, nqn.WellKnownDiscovery)
	}
	dev := expectOneDC(t, l.a.PeerAddr, "8009", l.a.Host)
	if c := readController(t, dev); c.Address.SrcAddr != "" && c.Address.SrcAddr != l.a.HostAddr {
		t.Errorf("%s: src_addr %s, want %s", dev, c.Address.SrcAddr, l.a.HostAddr)
	}

	// stafctl, an independent client of the D-Bus API, shows the same.
	out, err := exec.Command(filepath.Join(repo(), "build", "bin", "stafctl"), "adlp").CombinedOutput()
	if err != nil {
		t.Fatalf("stafctl adlp: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), sub.NQN) || !strings.Contains(string(out), l.a.Host) {
		t.Errorf("stafctl adlp does not show %s through %s:\n%s", sub.NQN, l.a.Host, out)
	}
}

// TestStafdMDNSAvahiRestart stops the host's avahi-daemon under a running stafd: the
// controller found by mDNS stays connected and published (also through a reload, which
// reconciles with no mDNS service at all), and stafd keeps answering. A second controller
// is announced while avahi-daemon is down, so only a fresh browse on the restarted daemon
// can find it: stafd must find it by itself once avahi-daemon is back, without dropping
// or duplicating the first one.
func TestStafdMDNSAvahiRestart(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	first := l.target.Subsystem("nqn.2014-08.org.example:mdns-first", "")
	second := l.target.Subsystem("nqn.2014-08.org.example:mdns-second", "")
	l.target.TCPPort(1, l.a.PeerAddr, "8009").Link(first)
	l.target.TCPPort(2, l.a.PeerAddr, "8010").Link(second)

	avahi := topo.StartAvahi(t)
	responder := topo.StartResponder(t, l.ns, topo.ResponderConfig{HostName: "tgt", Interfaces: []string{l.a.Peer}, IPv4: true})
	announceDC(responder, "nvme-dc-first", 8009)

	stafd, client := startMDNSStafd(t, l.a.PeerAddr)
	waitMDNSPage(t, client, l.a.PeerAddr, "8009", l.a.Host, first.NQN)
	dev := expectOneDC(t, l.a.PeerAddr, "8009", l.a.Host)

	avahi.Stop()
	stopped := time.Now()
	if err := stafd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Longer than the reconciliation soak (1.5 s) after the reload, with D-Bus calls all along.
	for time.Since(stopped) < 8*time.Second {
		ctx := testContext(t, 10*time.Second)
		if _, err := client.ListControllers(ctx, true); err != nil {
			t.Errorf("list_controllers without avahi-daemon: %v", err)
		}
		if _, err := client.ProcessInfo(ctx); err != nil {
			t.Errorf("process_info without avahi-daemon: %v", err)
		}
		if !hasSubsystem(logPagesOf(t, client), first.NQN) {
			t.Fatalf("the mDNS controller's log page was dropped after avahi-daemon stopped (%v ago)", time.Since(stopped).Round(time.Millisecond))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := expectOneDC(t, l.a.PeerAddr, "8009", l.a.Host); got != dev {
		t.Fatalf("the mDNS controller's connection changed from %s to %s while avahi-daemon was down", dev, got)
	}
	if c := readController(t, dev); c.State != "live" {
		t.Errorf("%s is %q while avahi-daemon is down, want live", dev, c.State)
	}

	announceDC(responder, "nvme-dc-second", 8010)
	avahi.Start()
	took := waitMDNSPage(t, client, l.a.PeerAddr, "8010", l.a.Host, second.NQN)
	t.Logf("second controller found %v after avahi-daemon came back", took.Round(100*time.Millisecond))
	expectOneDC(t, l.a.PeerAddr, "8010", l.a.Host)
	if got := expectOneDC(t, l.a.PeerAddr, "8009", l.a.Host); got != dev {
		t.Errorf("the first controller's connection changed from %s to %s across the avahi-daemon restart", dev, got)
	}
	if !hasSubsystem(logPagesOf(t, client), first.NQN) {
		t.Errorf("the first controller's log page is gone after the restart")
	}
}

// TestStafdMDNSLinkLocal: discovery controllers that listen and are announced only on an
// IPv6 link-local address (the target's avahi-daemon speaks IPv6 only) are found, checked
// and connected bound to the interface they were seen on, with the address as avahi
// reports it, without a zone. Two of them: nvmet, the kernel's target, and the CDC
// simulator, whose log page names its subsystem by a link-local address without a zone,
// which stafd publishes.
//
// nvmet's own log page cannot be published: nvmet needs the zone in the port's address
// and copies the address verbatim into its log page entries ("fe80::2%2", the index of
// veth1 in the target's namespace, meaningless to the host), and stafd drops entries
// whose traddr has a zone.
func TestStafdMDNSLinkLocal(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	const hostLL, peerLL = "fe80::1", "fe80::2"
	topo.LinkLocal(t, l.ns, l.a, hostLL+"/64", peerLL+"/64")
	index, err := l.ns.InterfaceIndex(l.a.Peer)
	if err != nil {
		t.Fatal(err)
	}
	zoned := peerLL + "%" + strconv.Itoa(index)
	// nvmet parses the port's address in the root namespace (inet_pton_with_scope with
	// init_net), where veth1 does not exist, so the zone is a number: the index of veth1
	// in tgt, where the listener is bound. Without a zone the bind fails (EINVAL).
	port := l.target.TCPPort(1, zoned, "8009")
	port.Link(l.target.Subsystem("nqn.2014-08.org.example:mdns-ll", ""))

	simSub := cdcsim.SubsystemEntry("nqn.2014-08.org.example:mdns-ll-sim", peerLL, "4420", 1)
	sim, err := cdcsim.New(cdcsim.Config{Entries: []nvme.Entry{simSub}, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := l.ns.Listen("tcp", net.JoinHostPort(zoned, "8010"))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- sim.Serve(ln) }()
	t.Cleanup(func() {
		_ = sim.Close()
		if err := <-served; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})

	topo.StartAvahi(t)
	responder := topo.StartResponder(t, l.ns, topo.ResponderConfig{HostName: "tgt", Interfaces: []string{l.a.Peer}, IPv6: true})
	announceDC(responder, "nvme-dc-ll", 8009)
	announceDC(responder, "nvme-dc-ll-sim", 8010)

	_, client := startMDNSStafd(t, peerLL)
	waitMDNSPage(t, client, peerLL, "8010", l.a.Host, simSub.SubNQN)
	waitMDNSPage(t, client, peerLL, "8009", l.a.Host, "")
	for _, svc := range []string{"8009", "8010"} {
		waitLive(t, peerLL, svc)
		c := readController(t, expectOneDC(t, peerLL, svc, l.a.Host))
		if c.Address.SrcAddr != "" && c.Address.SrcAddr != hostLL {
			t.Errorf("%s: src_addr %s, want %s", c.Name, c.Address.SrcAddr, hostLL)
		}
	}
	for _, e := range logPagesOf(t, client) {
		for _, entry := range e.Logs {
			if strings.Contains(entry["traddr"], "%") {
				t.Errorf("a log page entry with a zone was published: %v", entry)
			}
		}
	}
}

// TestStafdMDNSHostileTXT announces services whose TXT records are hostile or unusable —
// an NQN carrying a second kernel option, an unknown protocol, no protocol — beside a good
// one: stafd connects only to the good one, logs the others, and keeps serving.
func TestStafdMDNSHostileTXT(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	sub := l.target.Subsystem("nqn.2014-08.org.example:mdns-good", "")
	l.target.TCPPort(1, l.a.PeerAddr, "8009").Link(sub)
	l.target.TCPPort(2, l.a.PeerAddr, "8011").Link(l.target.Subsystem("nqn.2014-08.org.example:mdns-decoy", ""))

	topo.StartAvahi(t)
	responder := topo.StartResponder(t, l.ns, topo.ResponderConfig{HostName: "tgt", Interfaces: []string{l.a.Peer}, IPv4: true})
	responder.Publish("nvme-dc-injection", cdcsim.MDNSServiceType, 8011, "p=tcp", "nqn=nqn.2014-08.org.example:x,hostnqn=nqn.evil")
	responder.Publish("nvme-dc-walmart", cdcsim.MDNSServiceType, 8011, "p=walmart", "nqn="+nqn.WellKnownDiscovery)
	responder.Publish("nvme-dc-noproto", cdcsim.MDNSServiceType, 8011, "nqn="+nqn.WellKnownDiscovery)
	announceDC(responder, "nvme-dc-good", 8009)

	_, client := startMDNSStafd(t, l.a.PeerAddr)
	waitMDNSPage(t, client, l.a.PeerAddr, "8009", l.a.Host, sub.NQN)
	time.Sleep(3 * time.Second) // past another reconciliation: the hostile ones must not follow
	if _, _, ok := mdnsPage(logPagesOf(t, client), l.a.PeerAddr, "8011"); ok {
		t.Errorf("a service with a hostile or unusable TXT record was used: %+v", logPagesOf(t, client))
	}
	if n := len(mdnsControllers(t, l.a.PeerAddr, "8011")); n != 0 {
		t.Errorf("%d kernel connections to the hostile services", n)
	}
	if _, err := client.ListControllers(testContext(t, 10*time.Second), true); err != nil {
		t.Errorf("stafd stopped answering: %v", err)
	}
}
