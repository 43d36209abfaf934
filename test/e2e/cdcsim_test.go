// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/uevent"
	"github.com/nvme-stas-go/stas/test/cdcsim"
	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

// The CDC simulator listens where nvmet's discovery port would: on the target side of
// veth pair a, port 8009. No scenario here configures nvmet, so nothing collides.
const simPort = "8009"

// startSimulator serves a CDC simulator inside the lab's target namespace; it is closed
// at cleanup, after the controllers connected later are gone. verbose sends its
// per-command events to the test log too.
func startSimulator(t *testing.T, l *lab, cfg cdcsim.Config, verbose bool) *cdcsim.Simulator {
	t.Helper()
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
	sim, err := cdcsim.New(cfg)
	if err != nil {
		t.Fatalf("new simulator: %v", err)
	}
	ln, err := l.ns.Listen("tcp", net.JoinHostPort(l.a.PeerAddr, simPort))
	if err != nil {
		t.Fatalf("%v", err)
	}
	served := make(chan error, 1)
	go func() { served <- sim.Serve(ln) }()
	t.Cleanup(func() {
		_ = sim.Close()
		if err := <-served; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return sim
}

// nvmeCLIConnect connects with nvme-cli and returns the device; cleanup disconnects it.
func nvmeCLIConnect(t *testing.T, args ...string) string {
	t.Helper()
	out := topo.Run(t, "nvme", append([]string{"connect", "-o", "json"}, args...)...)
	var reply struct {
		Device string `json:"device"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil || reply.Device == "" {
		t.Fatalf("nvme connect output %q: %v", out, err)
	}
	t.Cleanup(func() { _, _ = topo.Output("nvme", "disconnect", "-d", reply.Device) })
	return reply.Device
}

// nvmeCLIDiscover runs nvme discover against the simulator and returns its JSON.
func nvmeCLIDiscover(t *testing.T, l *lab) nvme.CLIDiscoveryLog {
	t.Helper()
	out := topo.Run(t, "nvme", "discover", "-t", "tcp", "-a", l.a.PeerAddr, "-s", simPort, "-o", "json")
	var cli nvme.CLIDiscoveryLog
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatalf("parse nvme discover output: %v\n%.2000s", err, out)
	}
	return cli
}

// expectCLILog compares nvme-cli's view with what the simulator serves, record by
// record and in order.
func expectCLILog(t *testing.T, sim *cdcsim.Simulator, cli nvme.CLIDiscoveryLog) {
	t.Helper()
	want := (&nvme.DiscoveryLog{GenCtr: sim.GenCtr(), Entries: sim.Entries()}).CLIJSON()
	if cli.GenCtr != want.GenCtr || len(cli.Records) != len(want.Records) {
		t.Fatalf("nvme discover: genctr %d, %d records; the simulator serves genctr %d, %d records", cli.GenCtr, len(cli.Records), want.GenCtr, len(want.Records))
	}
	for i := range want.Records {
		if !reflect.DeepEqual(cli.Records[i], want.Records[i]) {
			t.Fatalf("record %d differs:\nnvme-cli:  %+v\nsimulator: %+v", i, cli.Records[i], want.Records[i])
		}
	}
}

func readController(t *testing.T, dev string) sysfs.Controller {
	t.Helper()
	c, err := sysfs.ReadController(sysfs.FS(), dev)
	if err != nil {
		t.Fatalf("read sysfs of %s: %v", dev, err)
	}
	return c
}

func newMonitor(t *testing.T) *uevent.Monitor {
	t.Helper()
	mon, err := uevent.NewMonitor(uevent.MonitorOptions{Source: uevent.SourceKernel, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open uevent monitor: %v", err)
	}
	t.Cleanup(func() { _ = mon.Close() })
	return mon
}

// TestCDCNvmeCLIDiscover: nvme-cli, an independent client, lists exactly the entries
// the simulator serves: the current discovery subsystem, IPv4 and IPv6 subsystems and a
// referral, with the configured generation counter.
func TestCDCNvmeCLIDiscover(t *testing.T) {
	l := newLab(t)
	entries := []nvme.Entry{
		cdcsim.CurrentDiscoveryEntry(nqn.WellKnownDiscovery, l.a.PeerAddr, simPort, 1),
		cdcsim.SubsystemEntry("nqn.2014-08.org.example:cdc-one", l.a.PeerAddr, "4420", 1),
		cdcsim.SubsystemEntry("nqn.2014-08.org.example:cdc-two", "2001:db8::2", "4420", 3),
		cdcsim.ReferralEntry(l.b.PeerAddr, "8009", 2),
	}
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: entries, GenCtr: 42}, true)
	expectCLILog(t, sim, nvmeCLIDiscover(t, l))
	if _, err := sim.WaitEvent(testContext(t, 10*time.Second), 0, func(e cdcsim.Event) bool {
		return e.Kind == cdcsim.EventDisconnected && e.HostNQN == hostNQN
	}); err != nil {
		t.Errorf("nvme discover did not disconnect: %v", err)
	}
}

// TestCDCNvmeCLIDiscoverTenThousand: a 10,000-entry log (about 10 MiB, read in 4 KiB
// pieces) reaches nvme-cli intact.
func TestCDCNvmeCLIDiscoverTenThousand(t *testing.T) {
	l := newLab(t)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: cdcsim.GenerateEntries(10000, l.a.PeerAddr, "4420")}, false)
	start := time.Now()
	cli := nvmeCLIDiscover(t, l)
	t.Logf("nvme discover of 10,000 entries took %v", time.Since(start))
	expectCLILog(t, sim, cli)
}

// TestCDCPersistentKeepAlive: a discovery controller connected by nvme-cli with a 5 s
// keep-alive stays live across more than three keep-alive periods, the simulator
// answering the host's keep-alives and never dropping it.
func TestCDCPersistentKeepAlive(t *testing.T) {
	l := newLab(t)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: cdcsim.GenerateEntries(2, l.a.PeerAddr, "4420")}, true)
	mark := sim.LastEventSeq()
	dev := nvmeCLIConnect(t, "-t", "tcp", "-a", l.a.PeerAddr, "-s", simPort, "-n", nqn.WellKnownDiscovery, "-k", "5")
	c := readController(t, dev)
	if c.Kato != "5" || !c.IsDiscovery() || c.DCType != "cdc" || !c.IsLive() {
		t.Fatalf("%s: kato %q discovery %v dctype %q state %q", dev, c.Kato, c.IsDiscovery(), c.DCType, c.State)
	}
	hosts := sim.Hosts()
	// The Connect command carries keep_alive_tmo (6.1 adds no grace period to it).
	if len(hosts) != 1 || hosts[0].HostNQN != hostNQN || hosts[0].HostID != hostID || hosts[0].KATO != 5*time.Second {
		t.Fatalf("simulator hosts %+v: want this host with KATO 5s", hosts)
	}
	const periods = 3
	deadline := time.Now().Add(periods*5*time.Second + time.Second)
	for time.Now().Before(deadline) {
		if s := readController(t, dev).State; s != "live" {
			t.Fatalf("%s went %q", dev, s)
		}
		time.Sleep(500 * time.Millisecond)
	}
	keepAlives := 0
	for _, e := range sim.Events() {
		if e.Seq <= mark || e.HostNQN != hostNQN {
			continue
		}
		switch e.Kind {
		case cdcsim.EventKeepAlive:
			keepAlives++
		case cdcsim.EventKeepAliveExpired, cdcsim.EventDisconnected:
			t.Fatalf("simulator dropped the host: %v", e)
		}
	}
	if keepAlives < periods {
		t.Errorf("%d keep-alives in %d periods", keepAlives, periods)
	}
	if got := sim.Hosts(); len(got) != 1 || got[0].CNTLID != hosts[0].CNTLID {
		t.Errorf("hosts now %+v, before %+v", got, hosts)
	}
	t.Logf("%s live for %d keep-alive periods, %d keep-alives answered", dev, periods, keepAlives)
}

// TestCDCDiscoveryChangeAEN: with a persistent kernel discovery connection open, adding
// an entry in the simulator produces NVME_AEN=0x70f002, the re-read log shows it, and
// after that read (RAE clear) removing it produces a second notice.
func TestCDCDiscoveryChangeAEN(t *testing.T) {
	l := newLab(t)
	initial := []nvme.Entry{cdcsim.SubsystemEntry("nqn.2014-08.org.example:cdc-base", l.a.PeerAddr, "4420", 1)}
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: initial}, true)
	mon := newMonitor(t)

	dev, read := persistentDC(t, l.a, simPort)
	if log := read(); !slices.Equal(log.Entries, initial) || log.GenCtr != sim.GenCtr() {
		t.Fatalf("first read: genctr %d, %+v", log.GenCtr, log.Entries)
	}

	added := cdcsim.SubsystemEntry("nqn.2014-08.org.example:cdc-added", l.a.PeerAddr, "4420", 1)
	gen, err := sim.AddEntries(added)
	if err != nil {
		t.Fatal(err)
	}
	waitAEN(t, mon, dev, 30*time.Second)
	log := read()
	if log.GenCtr != gen || !slices.Contains(log.Entries, added) {
		t.Fatalf("after the add: genctr %d (want %d), entries %+v", log.GenCtr, gen, log.Entries)
	}

	if _, gen, err = sim.RemoveEntries(func(e nvme.Entry) bool { return e.SubNQN == added.SubNQN }); err != nil {
		t.Fatal(err)
	}
	waitAEN(t, mon, dev, 30*time.Second)
	if log := read(); log.GenCtr != gen || slices.Contains(log.Entries, added) {
		t.Fatalf("after the removal: genctr %d (want %d), entries %+v", log.GenCtr, gen, log.Entries)
	}
	sent := 0
	for _, e := range sim.Events() {
		if e.Kind == cdcsim.EventAENSent && e.HostNQN == hostNQN && e.AEN == nvme.AENDiscoveryLogChanged {
			sent++
		}
	}
	if sent != 2 {
		t.Errorf("simulator sent %d AENs, want 2", sent)
	}
}

// TestCDCIdentifyAndHostileLog: a DDC with a unique NQN (TP8013) connected with the
// "discovery" option; Identify and sysfs report what it was configured with, and hostile
// entries (an option smuggled in traddr, an embedded NUL, non-UTF-8, unterminated
// 256-byte fields, unknown enumerations) cross the kernel byte for byte.
func TestCDCIdentifyAndHostileLog(t *testing.T) {
	l := newLab(t)
	const unique = "nqn.2014-08.org.example:cdcsim-ddc"
	hostile := cdcsim.HostileEntries()
	sim := startSimulator(t, l, cdcsim.Config{NQN: unique, DCType: nvme.DCTypeDDC, Entries: hostile}, true)

	k := kernel(t)
	o := fabrics.NewDiscoveryController(fabrics.TransportTCP, l.a.PeerAddr, simPort, unique)
	dev := connect(t, k, o)
	c := readController(t, dev)
	if c.SubsysNQN != unique || c.CntrlType != "discovery" || c.DCType != "ddc" || !c.IsLive() {
		t.Errorf("sysfs %s: subsysnqn %q cntrltype %q dctype %q state %q", dev, c.SubsysNQN, c.CntrlType, c.DCType, c.State)
	}
	d := openDevice(t, dev)
	id, err := d.IdentifyController(testContext(t, 10*time.Second))
	if err != nil {
		t.Fatalf("identify: %v", err)
	}
	if id.SubNQN != unique || id.DCType != nvme.DCTypeDDC || id.CntrlType != nvme.ControllerTypeDiscovery || !id.SupportsDiscoveryLogChangeNotices() {
		t.Errorf("identify %+v", id)
	}
	if hosts := sim.Hosts(); len(hosts) != 1 || hosts[0].SubNQN != unique || c.CntlID != strconv.Itoa(int(hosts[0].CNTLID)) {
		t.Errorf("simulator hosts %+v, sysfs cntlid %q", hosts, c.CntlID)
	}
	log, err := d.DiscoveryLog(testContext(t, 30*time.Second), 0)
	if err != nil {
		t.Fatalf("read discovery log: %v", err)
	}
	if !slices.Equal(log.Entries, hostile) {
		t.Fatalf("hostile entries changed on the way:\n got %+v\nwant %+v", log.Entries, hostile)
	}
	for i, e := range log.Entries {
		t.Logf("entry %d: trtype %d adrfam %d subtype %d traddr %q subnqn %.60q… (CheckText: %v)", i, e.TrType, e.AdrFam, e.SubType, e.TrAddr, e.SubNQN, e.CheckText())
	}
}

// TestCDCNvmeCLIDIM: nvme-cli's DIM command (an independent client) registers the host
// with its NQN, ID and socket address, and deregisters it.
func TestCDCNvmeCLIDIM(t *testing.T) {
	l := newLab(t)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC}, true)
	dev := nvmeCLIConnect(t, "-t", "tcp", "-a", l.a.PeerAddr, "-s", simPort, "-n", nqn.WellKnownDiscovery)

	topo.Run(t, "nvme", "dim", "--task=register", "--device="+dev)
	r, ok := sim.Registration(hostNQN)
	if !ok {
		t.Fatalf("no registration after nvme dim register; registrations %+v, events %v", sim.Registrations(), sim.Events())
	}
	if r.HostID != hostID || r.TrAddr != l.a.HostAddr || r.Source.Addr().String() != l.a.HostAddr || r.TrType != nvme.TransportTCP || r.AdrFam != nvme.AddressFamilyIPv4 {
		t.Errorf("registration %+v: want host ID %s from %s", r, hostID, l.a.HostAddr)
	}
	host, _ := os.Hostname()
	t.Logf("nvme-cli registered: entity name %q (hostname %q), version %q, symbolic name %q", r.EntityName, host, r.EntityVersion, r.SymbolicName)

	topo.Run(t, "nvme", "dim", "--task=deregister", "--device="+dev)
	if _, ok := sim.Registration(hostNQN); ok {
		t.Errorf("still registered after nvme dim deregister")
	}
}

// TestCDCAdminDIM: our own admin layer registers the host, updates it with a symbolic
// name and deregisters it, on a controller connected by our fabrics layer.
func TestCDCAdminDIM(t *testing.T) {
	l := newLab(t)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC}, true)
	k := kernel(t)
	dev := connect(t, k, fabrics.NewDiscoveryController(fabrics.TransportTCP, l.a.PeerAddr, simPort, ""))
	d := openDevice(t, dev)
	id, err := d.IdentifyController(testContext(t, 10*time.Second))
	if err != nil || !id.SupportsRegistration() {
		t.Fatalf("identify: %v, dctype %v", err, id.DCType)
	}
	hid, err := nvme.ParseUUID(hostID)
	if err != nil {
		t.Fatal(err)
	}
	dim := func(task nvme.DIMTask, symname string) {
		t.Helper()
		data, err := nvme.NewHostRegistration(nvme.HostRegistration{
			HostNQN: hostNQN, HostID: hid, SymbolicName: symname,
			EntityName: "e2e-vm", EntityVersion: "Linux e2e", AdrFam: nvme.AddressFamilyIPv4,
		})
		if err != nil {
			t.Fatal(err)
		}
		if result, err := d.DIM(testContext(t, 10*time.Second), task, data); err != nil || result != 0 {
			t.Fatalf("DIM %v: result %#x, %v", task, result, err)
		}
	}

	dim(nvme.DIMRegister, "")
	r, ok := sim.Registration(hostNQN)
	if !ok || r.HostID != hostID || r.SymbolicName != "" || r.EntityName != "e2e-vm" || r.TrAddr != l.a.HostAddr {
		t.Fatalf("after register: %+v (%v)", r, ok)
	}
	dim(nvme.DIMUpdate, "e2e symbolic name")
	r2, _ := sim.Registration(hostNQN)
	if r2.SymbolicName != "e2e symbolic name" || !r2.Registered.Equal(r.Registered) {
		t.Errorf("after update: %+v", r2)
	}
	dim(nvme.DIMDeregister, "e2e symbolic name")
	if _, ok := sim.Registration(hostNQN); ok {
		t.Errorf("still registered after deregister")
	}
}

// TestCDCKeepAliveTimeoutReconnect: the host goes silent (the target's link is down);
// the simulator drops it once its keep-alive timeout passes, and when the link returns
// the kernel reconnects by itself: sysfs goes connecting → live and NVME_EVENT=connected
// arrives.
func TestCDCKeepAliveTimeoutReconnect(t *testing.T) {
	l := newLab(t)
	sim := startSimulator(t, l, cdcsim.Config{DCType: nvme.DCTypeCDC}, true)
	mon := newMonitor(t)
	k := kernel(t)
	o := fabrics.NewDiscoveryController(fabrics.TransportTCP, l.a.PeerAddr, simPort, "")
	o.KeepAliveTmo = fabrics.IntOf(3)
	o.ReconnectDelay = fabrics.IntOf(1)
	o.CtrlLossTmo = fabrics.IntOf(120)
	dev := connect(t, k, o)
	first := sim.Hosts()
	if len(first) != 1 || first[0].KATO != 3*time.Second {
		t.Fatalf("simulator hosts %+v: want this host with KATO 3s", first)
	}

	mark := sim.LastEventSeq()
	down := time.Now()
	topo.Run(t, "ip", "-n", l.ns.Name, "link", "set", l.a.Peer, "down")
	t.Cleanup(func() { _, _ = topo.Output("ip", "-n", l.ns.Name, "link", "set", l.a.Peer, "up") })

	// While the host is cut off, record the states it goes through.
	states := map[string]bool{}
	ctx := testContext(t, 60*time.Second)
	expiredc := make(chan cdcsim.Event, 1)
	go func() {
		e, _ := sim.WaitEvent(ctx, mark, func(e cdcsim.Event) bool {
			return e.Kind == cdcsim.EventKeepAliveExpired && e.HostNQN == hostNQN
		})
		expiredc <- e
	}()
	var expired cdcsim.Event
	for expired.Seq == 0 {
		select {
		case expired = <-expiredc:
			if expired.Seq == 0 {
				t.Fatalf("the simulator did not drop the silent host; events %v", sim.Events())
			}
		case <-time.After(200 * time.Millisecond):
			if c, err := sysfs.ReadController(sysfs.FS(), dev); err == nil {
				states[c.State] = true
			}
		}
	}
	// The last command before the link went down restarted the timer, so the drop
	// comes at most one KATO after the silence began, and not before the host's last
	// keep-alive period could have ended.
	if d := expired.Time.Sub(down); d > first[0].KATO+2*time.Second || d < first[0].KATO/2 {
		t.Errorf("dropped %v after the host went silent, its KATO is %v", d, first[0].KATO)
	}
	t.Logf("simulator dropped the silent host after %v; host states meanwhile: %v", expired.Time.Sub(down).Round(100*time.Millisecond), states)

	// The host finds out by itself (its keep-alive times out) and keeps trying to
	// reconnect while the link is down.
	if !topo.Eventually(30*time.Second, func() bool {
		c, err := sysfs.ReadController(sysfs.FS(), dev)
		if err == nil {
			states[c.State] = true
		}
		return c.State == "connecting"
	}) {
		t.Fatalf("%s never went connecting while cut off: states %v", dev, states)
	}
	t.Logf("host states during the outage: %v", states)

	topo.Run(t, "ip", "-n", l.ns.Name, "link", "set", l.a.Peer, "up")
	waitConnected(t, mon, dev, 60*time.Second)
	if !topo.Eventually(10*time.Second, func() bool { return readController(t, dev).IsLive() }) {
		t.Fatalf("%s not live after reconnecting: %q", dev, readController(t, dev).State)
	}
	e, err := sim.WaitEvent(testContext(t, 10*time.Second), expired.Seq, func(e cdcsim.Event) bool {
		return e.Kind == cdcsim.EventConnected && e.HostNQN == hostNQN
	})
	if err != nil {
		t.Fatalf("no reconnection seen by the simulator: %v", err)
	}
	if e.CNTLID == first[0].CNTLID {
		t.Errorf("reconnected with the old controller ID %d", e.CNTLID)
	}
}

// waitConnected waits for NVME_EVENT=connected on dev.
func waitConnected(t *testing.T, mon *uevent.Monitor, dev string, timeout time.Duration) {
	t.Helper()
	ctx := testContext(t, timeout)
	for {
		select {
		case u, ok := <-mon.Updates():
			if !ok {
				t.Fatalf("uevent monitor closed")
			}
			if n, ok := u.Event.NVMe(); !u.Resync && ok && n.Device == dev && n.Kind == uevent.NVMeConnected {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no NVME_EVENT=connected for %s within %v (state %q)", dev, timeout, readController(t, dev).State)
		}
	}
}
