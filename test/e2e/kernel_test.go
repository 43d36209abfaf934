// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

// Package e2e holds the end-to-end scenarios: ordinary Go tests that run as root inside
// the test VM (make e2e) against the real kernel, with nvmet as the storage array.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/admin"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/uevent"
	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

// The host identity every scenario connects with (nvme-cli reads the same files).
var hostNQN, hostID string

func TestMain(m *testing.M) {
	if os.Getenv("VM") != "1" {
		fmt.Fprintln(os.Stderr, "e2e: these tests change the kernel's NVMe state; run them in the test VM (make e2e)")
		os.Exit(2)
	}
	if err := setupHost(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setup:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setupHost() error {
	if _, err := topo.Output("modprobe", "-a", "nvme-fabrics", "nvme-tcp", "nvmet", "nvmet-tcp", "null_blk"); err != nil {
		return err
	}
	if _, err := os.Stat(topo.NvmetRoot); err != nil {
		if _, err := topo.Output("mount", "-t", "configfs", "none", "/sys/kernel/config"); err != nil {
			return err
		}
	}
	uuid, err := os.ReadFile("/proc/sys/kernel/random/uuid")
	if err != nil {
		return err
	}
	hostID = strings.TrimSpace(string(uuid))
	hostNQN = "nqn.2014-08.org.nvmexpress:uuid:" + hostID
	if err := os.MkdirAll("/etc/nvme", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile("/etc/nvme/hostnqn", []byte(hostNQN+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile("/etc/nvme/hostid", []byte(hostID+"\n"), 0o644)
}

// lab is the standard topology: namespace "tgt" reached from the host over two veth
// pairs, on two subnets, with nvmet ports listening on the target side of each.
type lab struct {
	ns     *topo.Netns
	a, b   topo.Link
	target *topo.Target
}

func newLab(t *testing.T) *lab {
	t.Helper()
	ns := topo.NewNetns(t, "tgt")
	l := &lab{
		ns: ns,
		a:  topo.NewVeth(t, ns, "veth0", "192.0.2.1/24", "veth1", "192.0.2.2/24"),
		b:  topo.NewVeth(t, ns, "veth2", "198.51.100.1/24", "veth3", "198.51.100.2/24"),
	}
	l.target = topo.NewTarget(t, ns)
	return l
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func kernel(t *testing.T) *fabrics.Kernel {
	k := &fabrics.Kernel{Logger: testLogger(t)}
	t.Cleanup(func() { _ = k.Wait(context.Background()) })
	return k
}

// connect creates a controller and registers its removal.
func connect(t *testing.T, k *fabrics.Kernel, o fabrics.Options) string {
	t.Helper()
	o.HostNQN, o.HostID = hostNQN, hostID
	reply, omitted, err := k.Connect(testContext(t, time.Minute), o)
	if err != nil {
		t.Fatalf("connect %s: %v", fabrics.Describe(o), err)
	}
	if len(omitted) > 0 {
		t.Logf("options the kernel does not support, left out: %v", omitted)
	}
	dev := reply.Device()
	t.Cleanup(func() {
		if err := k.Disconnect(context.Background(), dev); err != nil && !errors.Is(err, fabrics.ErrNoController) {
			t.Errorf("disconnect %s: %v", dev, err)
		}
	})
	return dev
}

func openDevice(t *testing.T, dev string) *admin.Device {
	t.Helper()
	d, err := admin.Open(dev)
	if err != nil {
		t.Fatalf("open %s: %v", dev, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestDiscoveryLogMatchesNvmeCLI connects to nvmet's discovery controller bound to an
// interface, reads the log page through the admin ioctl, and compares it record by
// record with what nvme-cli (an independent client) reports for the same port.
func TestDiscoveryLogMatchesNvmeCLI(t *testing.T) {
	l := newLab(t)
	port := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	for _, name := range []string{"nqn.2014-08.org.example:e2e-one", "nqn.2014-08.org.example:e2e-two"} {
		port.Link(l.target.Subsystem(name, ""))
	}
	port.Referral("ref1", l.b.PeerAddr, "8009", 2)

	k := kernel(t)
	o := fabrics.NewDiscoveryController(fabrics.TransportTCP, l.a.PeerAddr, "8009", "")
	o.HostIface = l.a.Host
	dev := connect(t, k, o)

	log, err := openDevice(t, dev).DiscoveryLog(testContext(t, 30*time.Second), 0)
	if err != nil {
		t.Fatalf("read discovery log from %s: %v", dev, err)
	}
	var ours []nvme.CLIRecord
	for i := range log.Entries {
		ours = append(ours, log.Entries[i].CLIRecord())
	}

	out := topo.Run(t, "nvme", "discover", "-t", "tcp", "-a", l.a.PeerAddr, "-s", "8009",
		"--host-iface", l.a.Host, "-q", hostNQN, "-I", hostID, "-o", "json")
	var cli nvme.CLIDiscoveryLog
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatalf("parse nvme discover output: %v\n%s", err, out)
	}
	key := func(r nvme.CLIRecord) string { return r.SubType + "|" + r.SubNQN + "|" + r.TrAddr }
	sortRecords := func(rs []nvme.CLIRecord) {
		slices.SortFunc(rs, func(a, b nvme.CLIRecord) int { return strings.Compare(key(a), key(b)) })
	}
	sortRecords(ours)
	sortRecords(cli.Records)
	if !slices.Equal(ours, cli.Records) {
		t.Errorf("our log page differs from nvme-cli's:\nours: %+v\nnvme: %+v", ours, cli.Records)
	}
	// Two subsystems, one referral, and (kernel 5.19+) the current discovery subsystem.
	var nvmeRecs, referrals int
	for _, e := range log.Entries {
		switch e.SubType {
		case nvme.SubsystemNVMe:
			nvmeRecs++
		case nvme.SubsystemReferral:
			referrals++
		}
	}
	if nvmeRecs != 2 || referrals != 1 {
		t.Errorf("log has %d nvme and %d referral records, want 2 and 1: %+v", nvmeRecs, referrals, ours)
	}

	c, err := sysfs.ReadController(sysfs.FS(), dev)
	if err != nil {
		t.Fatalf("read sysfs of %s: %v", dev, err)
	}
	if !c.IsDiscovery() || c.Address.HostIface != l.a.Host {
		t.Errorf("%s: discovery=%v host_iface=%q, want a discovery controller on %s", dev, c.IsDiscovery(), c.Address.HostIface, l.a.Host)
	}
	id, err := openDevice(t, dev).IdentifyController(testContext(t, 10*time.Second))
	if err != nil {
		t.Fatalf("identify %s: %v", dev, err)
	}
	if id.SubNQN != nqn.WellKnownDiscovery || !id.SupportsDiscoveryLogChangeNotices() {
		t.Errorf("identify %s: subnqn %q, discovery change notices %v", dev, id.SubNQN, id.SupportsDiscoveryLogChangeNotices())
	}
}

// TestIOControllersOnTwoInterfaces connects the same subsystem through each interface and
// checks the kernel bound each connection where it was told to.
func TestIOControllersOnTwoInterfaces(t *testing.T) {
	l := newLab(t)
	sub := l.target.Subsystem("nqn.2014-08.org.example:e2e-io", "/dev/nullb0")
	pa := l.target.TCPPort(1, l.a.PeerAddr, "4420")
	pb := l.target.TCPPort(2, l.b.PeerAddr, "4420")
	pa.Link(sub)
	pb.Link(sub)

	k := kernel(t)
	for _, link := range []topo.Link{l.a, l.b} {
		o := fabrics.Options{Transport: fabrics.TransportTCP, TrAddr: link.PeerAddr, SubsysNQN: sub.NQN, HostIface: link.Host}
		dev := connect(t, k, o)
		c, err := sysfs.ReadController(sysfs.FS(), dev)
		if err != nil {
			t.Fatalf("read sysfs of %s: %v", dev, err)
		}
		if c.Address.HostIface != link.Host || c.Address.SrcAddr != link.HostAddr || c.Address.TrAddr != link.PeerAddr {
			t.Errorf("%s address %q: want traddr %s host_iface %s src_addr %s", dev, c.AddressText, link.PeerAddr, link.Host, link.HostAddr)
		}
		if !c.IsIO() || c.SubsysNQN != sub.NQN {
			t.Errorf("%s: io=%v subsysnqn %q", dev, c.IsIO(), c.SubsysNQN)
		}
		if err := k.Disconnect(testContext(t, 30*time.Second), dev); err != nil {
			t.Fatalf("disconnect %s: %v", dev, err)
		}
		if slices.Contains(topo.Controllers(t), dev) {
			t.Errorf("%s still in /sys/class/nvme after disconnect", dev)
		}
	}
}

// TestDiscoveryChangeNotices keeps a discovery connection open and changes the port's
// subsystems: each change must arrive as NVME_AEN=0x70f002 and the re-read log must show it.
func TestDiscoveryChangeNotices(t *testing.T) {
	l := newLab(t)
	port := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	port.Link(l.target.Subsystem("nqn.2014-08.org.example:e2e-base", ""))

	mon, err := uevent.NewMonitor(uevent.MonitorOptions{Source: uevent.SourceKernel, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open uevent monitor: %v", err)
	}
	t.Cleanup(func() { _ = mon.Close() })

	dev, read := persistentDC(t, l.a, "8009")
	read() // the read with RAE=0 arms the notice

	for i, name := range []string{"nqn.2014-08.org.example:e2e-new1", "nqn.2014-08.org.example:e2e-new2"} {
		port.Link(l.target.Subsystem(name, ""))
		waitAEN(t, mon, dev, 30*time.Second)
		log := read()
		if !slices.ContainsFunc(log.Entries, func(e nvme.Entry) bool { return e.SubNQN == name }) {
			t.Fatalf("change %d: %s not in the re-read log", i+1, name)
		}
	}
}

// persistentDC connects a discovery controller at link's target side, bound to link's host
// interface and kept alive (kato 30 s), and returns its device and a log page reader.
func persistentDC(t *testing.T, link topo.Link, port string) (dev string, read func() *nvme.DiscoveryLog) {
	t.Helper()
	o := fabrics.NewDiscoveryController(fabrics.TransportTCP, link.PeerAddr, port, "")
	o.HostIface = link.Host
	o.KeepAliveTmo = fabrics.IntOf(30)
	dev = connect(t, kernel(t), o)
	d := openDevice(t, dev)
	return dev, func() *nvme.DiscoveryLog {
		t.Helper()
		log, err := d.DiscoveryLog(testContext(t, 30*time.Second), 0)
		if err != nil {
			t.Fatalf("read discovery log: %v", err)
		}
		return log
	}
}

func waitAEN(t *testing.T, mon *uevent.Monitor, dev string, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case u, ok := <-mon.Updates():
			if !ok {
				t.Fatalf("uevent monitor closed")
			}
			if u.Resync {
				t.Logf("uevent monitor resync: %v", u.Cause)
				continue
			}
			if n, ok := u.Event.NVMe(); ok && n.Device == dev && n.IsDiscoveryLogChange() {
				return
			}
		case <-timer.C:
			t.Fatalf("no NVME_AEN=0x70f002 for %s within %v", dev, timeout)
		}
	}
}

// TestLargeDiscoveryLog reads a log page of 1000 subsystems (about 1 MiB) in one piece.
func TestLargeDiscoveryLog(t *testing.T) {
	l := newLab(t)
	port := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	const n = 1000
	for i := range n {
		port.Link(l.target.Subsystem(fmt.Sprintf("nqn.2014-08.org.example:e2e-many-%04d", i), ""))
	}
	k := kernel(t)
	o := fabrics.NewDiscoveryController(fabrics.TransportTCP, l.a.PeerAddr, "8009", "")
	o.HostIface = l.a.Host
	dev := connect(t, k, o)
	log, err := openDevice(t, dev).DiscoveryLog(testContext(t, time.Minute), 0)
	if err != nil {
		t.Fatalf("read discovery log: %v", err)
	}
	seen := map[string]bool{}
	for _, e := range log.Entries {
		if e.SubType == nvme.SubsystemNVMe {
			seen[e.SubNQN] = true
		}
	}
	if len(seen) != n || len(log.Entries) != n+1 {
		t.Errorf("log has %d records, %d distinct subsystems; want %d records (%d subsystems and the current discovery subsystem)",
			len(log.Entries), len(seen), n+1, n)
	}
}

// TestConnectErrors checks that each kind of failure gives its own error and leaves no
// controller behind.
func TestConnectErrors(t *testing.T) {
	l := newLab(t)
	sub := l.target.Subsystem("nqn.2014-08.org.example:e2e-err", "")
	l.target.TCPPort(1, l.a.PeerAddr, "4420").Link(sub)
	k := kernel(t)
	before := topo.Controllers(t)

	base := fabrics.Options{Transport: fabrics.TransportTCP, TrAddr: l.a.PeerAddr, SubsysNQN: sub.NQN,
		HostIface: l.a.Host, HostNQN: hostNQN, HostID: hostID}
	refused := base
	refused.TrSvcID = "4999" // nothing listens there
	wrongNQN := base
	wrongNQN.SubsysNQN = "nqn.2014-08.org.example:no-such-subsystem"
	noIface := base
	noIface.HostIface = "nosuch0"
	tls := base
	tls.TLS = true // the 6.1 kernel has no NVMe/TCP TLS

	for _, tt := range []struct {
		name string
		o    fabrics.Options
		want error
	}{
		{"connection refused", refused, fabrics.ErrRefused},
		{"unknown subsystem NQN", wrongNQN, fabrics.ErrRejectedByTarget},
		{"no such interface", noIface, fabrics.ErrNoSuchInterface},
		{"option the kernel lacks", tls, fabrics.ErrUnsupported},
	} {
		_, _, err := k.Connect(testContext(t, time.Minute), tt.o)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
	}
	if !topo.Eventually(10*time.Second, func() bool { return slices.Equal(topo.Controllers(t), before) }) {
		t.Errorf("controllers left behind: before %v, after %v", before, topo.Controllers(t))
	}
}
