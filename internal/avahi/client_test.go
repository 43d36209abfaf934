// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

const testNQN = "nqn.1988-11.com.dell:SFSS:2:20220208134025e8"

func loIndex(t *testing.T) int32 {
	t.Helper()
	ifi, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	return int32(ifi.Index)
}

// listen returns the port of a TCP listener on 127.0.0.1 that accepts and closes.
func listen(t *testing.T) (uint16, net.Listener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return uint16(l.Addr().(*net.TCPAddr).Port), l
}

// closedPort returns a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

func svc(iface int32, name, stype, addr string, port uint16, txt ...string) fakeService {
	s := fakeService{Key: Key{Interface: iface, Protocol: 0, Name: name, Type: stype, Domain: "local"},
		Host: name + ".local", Address: addr, Port: port}
	for _, item := range txt {
		s.TXT = append(s.TXT, []byte(item))
	}
	return s
}

// startClient runs a client against the bus at addr until the test ends.
func startClient(t *testing.T, addr *syncString, opts Options, tweak func(*Client)) (*Client, *logRecorder) {
	t.Helper()
	logs, log := newLogRecorder(t)
	opts.Conn = connFunc(addr)
	opts.Logger = log
	c := New(opts)
	c.reconnectDelays = []time.Duration{20 * time.Millisecond}
	if tweak != nil {
		tweak(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return c, logs
}

func waitServices(t *testing.T, c *Client, n int) []Service {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d services", n), func() bool { return len(c.Services()) == n })
	return c.Services()
}

func infoServices(c *Client) map[string]map[string]string {
	return c.Info()["services"].(map[string]map[string]string)
}

func TestDiscoverAndRemove(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	bus := startBus(t, "")
	cdc := svc(lo, "CDC", ServiceTypeTCP, "127.0.0.1", port, "NQN="+testNQN, "p=tcp")
	fake := startFakeAvahi(t, bus.addr, cdc)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: ServiceTypes(true), TP8013: true}, nil)

	select {
	case <-c.Changes():
	case <-time.After(20 * time.Second):
		t.Fatal("no change notification")
	}
	got := waitServices(t, c, 1)
	want := tid.TID{Transport: "tcp", Traddr: "127.0.0.1", Trsvcid: fmt.Sprint(port), SubsysNQN: testNQN, HostIface: "lo"}
	if got[0].TID != want || got[0].Key != cdc.Key || got[0].Iface != "lo" {
		t.Errorf("Services = %+v, want TID %+v key %+v", got, want, cdc.Key)
	}
	if !c.Reported(want) {
		t.Error("Reported(found TID) = false")
	}
	ignoreIface := want
	ignoreIface.HostIface = ""
	ignoreIface.HostNQN = "nqn.host"
	if !c.Reported(ignoreIface) {
		t.Error("Reported(TID without host-iface, with host-nqn) = false")
	}
	other := want
	other.SubsysNQN = nqn.WellKnownDiscovery
	if c.Reported(other) {
		t.Error("Reported(other NQN) = true")
	}
	if logs.count(slog.LevelInfo, "avahi-daemon service available, zeroconf supported.") != 1 {
		t.Errorf("missing availability line")
	}

	info := c.Info()
	if got := info["service types"]; !reflect.DeepEqual(got, []string{ServiceTypeTCP, ServiceTypeUDP}) {
		t.Errorf("service types = %v", got)
	}
	if got := info["avahi wake up timer"]; got != "60.0s [off]" {
		t.Errorf("wake up timer = %v", got)
	}
	key := "(lo, IPv4, CDC.local, _nvme-disc._tcp)"
	wantEntry := map[string]string{"transport": "tcp", "traddr": "127.0.0.1", "trsvcid": fmt.Sprint(port),
		"host-iface": "lo", "subsysnqn": testNQN, "reachable": "True"}
	if got := infoServices(c)[key]; !reflect.DeepEqual(got, wantEntry) {
		t.Errorf("Info services[%s] = %v, want %v", key, got, wantEntry)
	}
	if _, _, browsers, resolvers := fake.counts(); browsers != 2 || resolvers != 1 {
		t.Errorf("fake has %d browsers and %d resolvers, want 2 and 1", browsers, resolvers)
	}

	fake.withdraw(cdc.Key)
	select {
	case <-c.Changes():
	case <-time.After(20 * time.Second):
		t.Fatal("no change notification on ItemRemove")
	}
	waitServices(t, c, 0)
	if len(infoServices(c)) != 0 {
		t.Errorf("Info still has services: %v", infoServices(c))
	}
	waitFor(t, 5*time.Second, "resolver freed", func() bool { _, _, _, r := fake.counts(); return r == 0 })
	if c.Reported(want) {
		t.Error("Reported after withdrawal")
	}
}

func TestWellKnownNQNWithoutTP8013(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	startFakeAvahi(t, bus.addr,
		svc(lo, "A", ServiceTypeTCP, "192.0.2.7", 8009, "nqn="+testNQN, "p=roce"),
		svc(lo, "B", ServiceTypeTCP, "192.0.2.8", 4420, "p=RDMA"))
	c, _ := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	got := waitServices(t, c, 2)
	for i, addr := range []string{"192.0.2.7", "192.0.2.8"} {
		port := []string{"8009", "4420"}[i]
		want := tid.TID{Transport: "rdma", Traddr: addr, Trsvcid: port, SubsysNQN: nqn.WellKnownDiscovery}
		if got[i].TID != want {
			t.Errorf("service %d: TID %+v, want %+v (rdma: reachable at once, no host-iface)", i, got[i].TID, want)
		}
	}
}

func TestHostileTXTIgnored(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	bus := startBus(t, "")
	long := strings.Repeat("a", 300)
	hostile := []fakeService{
		svc(lo, "nonprintable", ServiceTypeTCP, "127.0.0.1", port, "p=tcp\x00", "nqn="+testNQN),
		svc(lo, "comma", ServiceTypeTCP, "127.0.0.1", port, "p=tcp", "nqn=a,host_iface=x"),
		svc(lo, "overlong", ServiceTypeTCP, "127.0.0.1", port, "p=tcp", "nqn=nqn."+long[:240]),
		svc(lo, "overlong-p", ServiceTypeTCP, "127.0.0.1", port, "p=tcp"+strings.Repeat(" ", 300)),
		svc(lo, "walmart", ServiceTypeTCP, "127.0.0.1", port, "p=walmart"),
		svc(lo, "nop", ServiceTypeTCP, "127.0.0.1", port, "nqn="+testNQN),
		svc(lo, "badaddr", ServiceTypeTCP, "127.0.0.1,host_iface=x", port, "p=tcp"),
		svc(lo, "zone", ServiceTypeTCP, "fe80::1%eth0", port, "p=tcp"),
		svc(lo, "port0", ServiceTypeTCP, "127.0.0.1", 0, "p=tcp"),
	}
	good := svc(lo, "good", ServiceTypeTCP, "127.0.0.1", port, "p=tcp", "nqn="+testNQN)
	fake := startFakeAvahi(t, bus.addr, append(hostile, good)...)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}, TP8013: true}, nil)
	got := waitServices(t, c, 1)
	if got[0].Key.Name != "good" {
		t.Fatalf("Services = %+v", got)
	}
	waitFor(t, 5*time.Second, "all hostile services resolved", func() bool { _, n, _, _ := fake.counts(); return n == len(hostile)+1 })
	waitFor(t, 5*time.Second, "log lines", func() bool { return logs.count(slog.LevelError, "Received ") == len(hostile) })
	for _, want := range []string{
		`Received invalid/undefined protocol in mDNS TXT field: address=127.0.0.1, iface=lo, TXT=["p=tcp\x00", "nqn=` + testNQN + `"]`,
		`Received invalid NQN in mDNS TXT field: address=127.0.0.1, iface=lo: invalid NQN: subsystem NQN "a,host_iface=x" contains a comma`,
		`Received invalid NQN in mDNS TXT field: address=127.0.0.1, iface=lo: invalid NQN: subsystem NQN is too long`,
		`Received invalid/undefined protocol in mDNS TXT field: address=127.0.0.1, iface=lo, TXT=["p=tcp     `,
		`Received invalid/undefined protocol in mDNS TXT field: address=127.0.0.1, iface=lo, TXT=["p=walmart"]`,
		`Received invalid/undefined protocol in mDNS TXT field: address=127.0.0.1, iface=lo, TXT=["nqn=` + testNQN + `"]`,
		`Received invalid address in mDNS service: address=127.0.0.1,host_iface=x, iface=lo`,
		`Received invalid address in mDNS service: address=fe80::1%eth0, iface=lo`,
		`Received invalid port 0 in mDNS service: address=127.0.0.1, iface=lo`,
	} {
		if logs.count(slog.LevelError, want) != 1 {
			t.Errorf("missing ERROR line %q", want)
		}
	}
	for _, s := range hostile {
		key := infoKey("lo", s.Key)
		if got := infoServices(c)[key]; !reflect.DeepEqual(got, map[string]string{"reachable": "False"}) {
			t.Errorf("Info[%s] = %v, want only reachable False", key, got)
		}
	}
	// The same hostile announcement again is not logged again.
	fake.announce(hostile[4])
	fake.announce(good)
	time.Sleep(100 * time.Millisecond)
	if n := logs.count(slog.LevelError, "p=walmart"); n != 1 {
		t.Errorf("p=walmart logged %d times, want 1 (rate-limited)", n)
	}
}

func TestFoundUpdatesIdentity(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	bus := startBus(t, "")
	s := svc(lo, "CDC", ServiceTypeTCP, "127.0.0.1", port, "p=tcp")
	fake := startFakeAvahi(t, bus.addr, s)
	c, _ := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}, TP8013: true}, nil)
	got := waitServices(t, c, 1)
	if got[0].TID.SubsysNQN != nqn.WellKnownDiscovery {
		t.Errorf("no nqn in TXT: subsysnqn %q, want the well-known NQN", got[0].TID.SubsysNQN)
	}
	<-c.Changes()

	// A refresh with the same data changes nothing.
	fake.announce(s)
	time.Sleep(50 * time.Millisecond)
	select {
	case <-c.Changes():
		t.Error("change notified for an identical Found")
	default:
	}

	s.TXT = [][]byte{[]byte("p=tcp"), []byte("nqn=" + testNQN)}
	fake.announce(s)
	waitFor(t, 10*time.Second, "new NQN", func() bool {
		ss := c.Services()
		return len(ss) == 1 && ss[0].TID.SubsysNQN == testNQN
	})
	<-c.Changes()

	s.TXT = [][]byte{[]byte("p=udp")}
	fake.announce(s)
	waitServices(t, c, 0)
	select {
	case <-c.Changes():
	case <-time.After(5 * time.Second):
		t.Error("no change notification when the service became unusable")
	}
}

// TestManyItemNew is the deadlock scenario of go-avahi (go-ecosystem.md §1.2): hundreds
// of ItemNew at once while resolvers are being created. Run it under -race.
func TestManyItemNew(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	bus := startBus(t, "")
	var initial []fakeService
	for i := range 150 {
		initial = append(initial, svc(lo, fmt.Sprintf("cdc%03d", i), ServiceTypeTCP, "127.0.0.1", port, "p=tcp"))
	}
	fake := startFakeAvahi(t, bus.addr, initial...)
	c, _ := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: ServiceTypes(true)}, nil)
	waitServices(t, c, 150)
	for i := range 150 {
		fake.announce(svc(lo, fmt.Sprintf("later%03d", i), ServiceTypeUDP, "127.0.0.2", 4420, "p=rdma"))
	}
	waitServices(t, c, 300)
	for i := range 150 {
		fake.withdraw(Key{lo, 0, fmt.Sprintf("cdc%03d", i), ServiceTypeTCP, "local"})
	}
	waitServices(t, c, 150)
}

func TestAvahiRestart(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	bus := startBus(t, "")
	cdc := svc(lo, "CDC", ServiceTypeTCP, "127.0.0.1", port, "p=tcp")
	fake := startFakeAvahi(t, bus.addr, cdc)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: ServiceTypes(true)}, nil)
	waitServices(t, c, 1)
	<-c.Changes()

	fake.stop()
	waitServices(t, c, 0)
	waitFor(t, 5*time.Second, "unavailable warning", func() bool {
		return logs.count(slog.LevelWarn, "avahi-daemon not available, zeroconf not supported.") == 1
	})
	waitFor(t, 5*time.Second, "wake-up timer running", func() bool {
		return strings.HasPrefix(c.Info()["avahi wake up timer"].(string), "60.0s [5")
	})
	select {
	case <-c.Changes():
		t.Error("losing avahi-daemon notified a change (nvme-stas does not)")
	default:
	}

	fake2 := startFakeAvahi(t, bus.addr, cdc)
	got := waitServices(t, c, 1)
	if got[0].Key != cdc.Key {
		t.Errorf("re-found %+v", got)
	}
	if n, _, live, _ := fake2.counts(); n != 2 || live != 2 {
		t.Errorf("restarted avahi got %d ServiceBrowserNew (%d live), want 2", n, live)
	}
	if logs.count(slog.LevelInfo, "avahi-daemon service available, zeroconf supported.") != 2 {
		t.Errorf("want the availability line twice")
	}
	if logs.count(slog.LevelWarn, "avahi-daemon not available, zeroconf not supported.") != 1 {
		t.Errorf("the unavailable warning is repeated")
	}
	if got := c.Info()["avahi wake up timer"]; got != "60.0s [off]" {
		t.Errorf("wake up timer = %v after avahi came back", got)
	}
}

// TestKickActivatesAvahi: avahi-daemon is absent but activatable; the wake-up call
// (forced by Kick, as on SIGHUP) starts it through D-Bus activation.
func TestKickActivatesAvahi(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	service := "[D-BUS Service]\nName=org.freedesktop.Avahi\nExec=" + exe + " -test.run=^TestHelperFakeAvahiProcess$\n"
	if err := os.WriteFile(filepath.Join(dir, "org.freedesktop.Avahi.service"), []byte(service), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := startBus(t, dir, "FAKE_AVAHI_HELPER=1", fmt.Sprintf("FAKE_AVAHI_PORT=%d", port), fmt.Sprintf("FAKE_AVAHI_IFACE=%d", lo))
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	waitFor(t, 5*time.Second, "unavailable warning", func() bool {
		return logs.count(slog.LevelWarn, "avahi-daemon not available, zeroconf not supported.") == 1
	})
	timer := c.Info()["avahi wake up timer"].(string)
	if !strings.HasPrefix(timer, "60.0s [") || strings.HasSuffix(timer, "[off]") {
		t.Errorf("wake up timer = %q, want running", timer)
	}
	time.Sleep(100 * time.Millisecond)
	if len(c.Services()) != 0 {
		t.Fatal("services before activation")
	}
	c.Kick()
	got := waitServices(t, c, 1)
	if got[0].Key.Name != "activated" {
		t.Errorf("Services = %+v", got)
	}
	waitFor(t, 5*time.Second, "timer off", func() bool { return c.Info()["avahi wake up timer"] == "60.0s [off]" })
}

// TestHelperFakeAvahiProcess is the activatable avahi-daemon of TestKickActivatesAvahi.
func TestHelperFakeAvahiProcess(t *testing.T) {
	if os.Getenv("FAKE_AVAHI_HELPER") != "1" {
		t.Skip("run by dbus-daemon activation only")
	}
	var port uint16
	var iface int32
	fmt.Sscan(os.Getenv("FAKE_AVAHI_PORT"), &port)
	fmt.Sscan(os.Getenv("FAKE_AVAHI_IFACE"), &iface)
	f := startFakeAvahi(t, os.Getenv("DBUS_STARTER_ADDRESS"), svc(iface, "activated", ServiceTypeTCP, "127.0.0.1", port, "p=tcp"))
	select {
	case <-f.conn.Context().Done():
	case <-time.After(60 * time.Second):
	}
}

func TestKickTimerRepeatsUntilAvahiAnswers(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	c, _ := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.kickInterval = 30 * time.Millisecond
	})
	waitFor(t, 5*time.Second, "timer running", func() bool {
		timer := c.Info()["avahi wake up timer"].(string)
		return strings.HasPrefix(timer, "0.03s [") && !strings.HasSuffix(timer, "[off]")
	})
	time.Sleep(200 * time.Millisecond) // several failed wake-up calls
	if got := c.Info()["avahi wake up timer"].(string); !strings.HasPrefix(got, "0.03s [") || strings.HasSuffix(got, "[off]") {
		t.Errorf("timer = %q, want still running", got)
	}
	startFakeAvahi(t, bus.addr, svc(lo, "late", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	waitServices(t, c, 1)
	waitFor(t, 5*time.Second, "timer off", func() bool { return c.Info()["avahi wake up timer"] == "0.03s [off]" })
}

func TestBrowserCreationFails(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	fake := startFakeAvahi(t, bus.addr, svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	fake.mu.Lock()
	fake.failBrowsers = true
	fake.mu.Unlock()
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	waitFor(t, 5*time.Second, "warning", func() bool {
		return logs.count(slog.LevelWarn, "avahi-daemon not available, operating w/o mDNS discovery.") == 1
	})
	if got := c.Info()["avahi wake up timer"].(string); strings.HasSuffix(got, "[off]") {
		t.Errorf("timer %q, want running", got)
	}
	fake.mu.Lock()
	fake.failBrowsers = false
	fake.mu.Unlock()
	c.Kick()
	waitServices(t, c, 1)
	if got := c.Info()["avahi wake up timer"]; got != "60.0s [off]" {
		t.Errorf("timer %v after the wake-up call succeeded", got)
	}
}

func TestResolverCreationFails(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	s := svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma")
	fake := startFakeAvahi(t, bus.addr)
	fake.mu.Lock()
	fake.failResolvers = true
	fake.mu.Unlock()
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	waitFor(t, 5*time.Second, "browser", func() bool { n, _, _, _ := fake.counts(); return n == 1 })
	fake.announce(s)
	waitFor(t, 5*time.Second, "warning", func() bool {
		return logs.count(slog.LevelWarn, "Failed to create resolver - (lo, IPv4, CDC.local, _nvme-disc._tcp)") == 1
	})
	if got := infoServices(c)["(lo, IPv4, CDC.local, _nvme-disc._tcp)"]; got["reachable"] != "False" {
		t.Errorf("record without resolver: %v", got)
	}
	fake.withdraw(s.Key)
	select {
	case <-c.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	if len(infoServices(c)) != 0 {
		t.Error("record kept after ItemRemove")
	}
}

func TestUnknownInterfaceIgnored(t *testing.T) {
	bus := startBus(t, "")
	fake := startFakeAvahi(t, bus.addr, svc(99999, "far", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	waitFor(t, 5*time.Second, "warning", func() bool { return logs.count(slog.LevelWarn, "mDNS service on unknown interface 99999 ignored") == 1 })
	if _, n, _, _ := fake.counts(); n != 0 || len(infoServices(c)) != 0 {
		t.Errorf("a resolver or record for an unknown interface")
	}
}

func TestUnusableInterfaceNameIgnored(t *testing.T) {
	bus := startBus(t, "")
	startFakeAvahi(t, bus.addr, svc(7, "x", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.ifaceName = func(int) (string, error) { return "eth0,x", nil }
	})
	waitFor(t, 5*time.Second, "warning", func() bool { return logs.count(slog.LevelWarn, "unusable interface name eth0,x") == 1 })
	if len(infoServices(c)) != 0 {
		t.Error("record for an unusable interface name")
	}
}

func TestDuplicateIP(t *testing.T) {
	bus := startBus(t, "")
	names := map[int]string{1: "lo", 2: "eth9"}
	a := svc(1, "a", ServiceTypeTCP, "192.0.2.9", 8009, "p=rdma")
	a6 := a
	a6.Protocol = 1 // the same service seen over IPv6 on the same interface: no error
	fake := startFakeAvahi(t, bus.addr, a, a6)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.ifaceName = func(i int) (string, error) {
			if n, ok := names[i]; ok {
				return n, nil
			}
			return "", errors.New("no such interface")
		}
	})
	waitServices(t, c, 2)
	if n := logs.count(slog.LevelError, "was found on multiple interfaces"); n != 0 {
		t.Errorf("duplicate-IP error for one interface seen over two protocols")
	}
	fake.announce(svc(2, "b", ServiceTypeTCP, "::ffff:192.0.2.9", 8009, "p=rdma"))
	waitServices(t, c, 3)
	waitFor(t, 5*time.Second, "duplicate-IP error", func() bool {
		return logs.count(slog.LevelError, "IP address 192.0.2.9 was found on multiple interfaces: eth9,lo") == 1
	})
}

func TestReachabilityRetried(t *testing.T) {
	lo := loIndex(t)
	port := closedPort(t)
	bus := startBus(t, "")
	startFakeAvahi(t, bus.addr, svc(lo, "early", ServiceTypeTCP, "127.0.0.1", port, "p=tcp"))
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.probeDelays = []time.Duration{30 * time.Millisecond}
	})
	line := fmt.Sprintf("Unable to verify TCP connectivity - (lo, 127.0.0.1, %d): ", port)
	waitFor(t, 5*time.Second, "connectivity line", func() bool { return logs.count(slog.LevelInfo, line) == 1 })
	time.Sleep(200 * time.Millisecond) // several more failed attempts
	if n := logs.count(slog.LevelInfo, "Unable to verify TCP connectivity"); n != 1 {
		t.Errorf("%d connectivity lines, want only the first failure logged", n)
	}
	entry := infoServices(c)["(lo, IPv4, early.local, _nvme-disc._tcp)"]
	if entry["reachable"] != "False" || entry["traddr"] != "127.0.0.1" {
		t.Errorf("Info entry %v, want identified but not reachable", entry)
	}
	if len(c.Services()) != 0 {
		t.Fatal("an unreachable tcp service is listed")
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", port, err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	waitServices(t, c, 1)
	select {
	case <-c.Changes():
	case <-time.After(5 * time.Second):
		t.Error("no notification when the service became reachable")
	}
}

// dispatchers counts go-avahi's dispatcher goroutines (the one that spins after bus loss).
func dispatchers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "holoplot/go-avahi.ServerNew.func1")
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestBusDiesAndComesBack(t *testing.T) {
	lo := loIndex(t)
	port, _ := listen(t)
	cdc := svc(lo, "CDC", ServiceTypeTCP, "127.0.0.1", port, "p=tcp")
	bus := startBus(t, "")
	startFakeAvahi(t, bus.addr, cdc)
	addr := newSyncString(bus.addr)
	before := dispatchers()
	c, logs := startClient(t, addr, Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.reconnectDelays = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	})
	waitServices(t, c, 1)
	if n := dispatchers(); n != before+1 {
		t.Fatalf("%d go-avahi dispatchers, want %d", n, before+1)
	}

	bus.kill()
	waitServices(t, c, 0)
	waitFor(t, 5*time.Second, "go-avahi's dispatcher to stop", func() bool { return dispatchers() == before })
	waitFor(t, 5*time.Second, "reconnect warning", func() bool { return logs.count(slog.LevelWarn, "cannot reach avahi-daemon's bus") == 1 })
	start, cpu0 := time.Now(), cpuTime(t)
	time.Sleep(500 * time.Millisecond)
	if used, wall := cpuTime(t)-cpu0, time.Since(start); used > wall/4 {
		t.Errorf("%v of CPU in %v with the bus gone: spinning", used, wall)
	}
	if logs.count(slog.LevelWarn, "cannot reach avahi-daemon's bus") != 1 {
		t.Error("every reconnection attempt is logged as a warning")
	}

	bus2 := startBus(t, "")
	startFakeAvahi(t, bus2.addr, cdc)
	addr.set(bus2.addr)
	c.Kick()
	waitServices(t, c, 1)
	if logs.count(slog.LevelInfo, "reconnected to the system bus") != 1 {
		t.Error("no reconnection line")
	}
}

func TestForgedSignalsIgnored(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	cdc := svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma")
	fake := startFakeAvahi(t, bus.addr, cdc)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	want := waitServices(t, c, 1)
	client, browser := fake.browserClient(ServiceTypeTCP)
	resolver := fake.resolverPath(cdc.Key)
	if client == "" || resolver == "" {
		t.Fatal("no browser or resolver at the fake")
	}
	forger, err := dbus.Connect(bus.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	k := cdc.Key
	must(t, sendDirected(forger, client, resolver, ifaceResolver, "Found", k.Interface, k.Protocol, k.Name, k.Type, k.Domain,
		"evil.local", int32(0), "198.51.100.66", uint16(8009), [][]byte{[]byte("p=rdma")}, uint32(0)))
	must(t, sendDirected(forger, client, browser, ifaceBrowser, "ItemRemove", k.Interface, k.Protocol, k.Name, k.Type, k.Domain, uint32(0)))
	must(t, sendDirected(forger, client, browser, ifaceBrowser, "ItemNew", k.Interface, k.Protocol, "evil", k.Type, k.Domain, uint32(0)))
	waitFor(t, 5*time.Second, "forgeries logged", func() bool { return logs.count(slog.LevelWarn, "not sent by avahi-daemon") == 3 })
	if got := c.Services(); !reflect.DeepEqual(got, want) {
		t.Errorf("Services = %+v after forged signals, want %+v", got, want)
	}
	if _, n, _, _ := fake.counts(); n != 1 {
		t.Errorf("%d resolvers created, want 1 (none for the forged ItemNew)", n)
	}
}

func TestFailureSignals(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	fake := startFakeAvahi(t, bus.addr, svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: ServiceTypes(true)}, nil)
	waitServices(t, c, 1)
	fake.failure(ifaceResolver, "org.freedesktop.Avahi.TimeoutError")
	fake.failure(ifaceBrowser, "org.freedesktop.Avahi.FailureError")
	fake.failure(ifaceResolver, "org.freedesktop.Avahi.NotFoundError")
	waitFor(t, 5*time.Second, "resolver failure", func() bool {
		return logs.count(slog.LevelError, "Avahi failure - name=org.freedesktop.Avahi.ServiceResolver, path=/Client1/ServiceResolver") == 1
	})
	if n := logs.count(slog.LevelError, "Avahi failure - name=org.freedesktop.Avahi.ServiceBrowser, path=/Client1/ServiceBrowser"); n != 2 {
		t.Errorf("%d browser failure lines, want 2", n)
	}
	if n := logs.count(slog.LevelError, "TimeoutError"); n != 0 {
		t.Errorf("resolver timeout logged")
	}
}

func TestSetServiceTypes(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	a := svc(lo, "tcp-one", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma")
	b := svc(lo, "udp-one", ServiceTypeUDP, "192.0.2.2", 8009, "p=rdma")
	fake := startFakeAvahi(t, bus.addr, a, b)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: ServiceTypes(true)}, nil)
	waitServices(t, c, 2)

	c.SetServiceTypes([]string{ServiceTypeTCP})
	waitFor(t, 5*time.Second, "udp browser freed", func() bool {
		_, _, browsers, _ := fake.counts()
		ss := c.Services()
		return browsers == 1 && len(ss) == 1 && ss[0].Key == a.Key
	})
	if got := c.Info()["service types"]; !reflect.DeepEqual(got, []string{ServiceTypeTCP}) {
		t.Errorf("service types %v", got)
	}

	c.SetServiceTypes(ServiceTypes(false))
	waitFor(t, 5*time.Second, "all browsers freed", func() bool {
		_, _, browsers, resolvers := fake.counts()
		return browsers == 0 && resolvers == 0 && len(c.Services()) == 0
	})
	if got := c.Info()["service types"]; !reflect.DeepEqual(got, []string{}) {
		t.Errorf("service types %v", got)
	}

	c.SetServiceTypes([]string{ServiceTypeUDP, "bogus", ServiceTypeTCP, ServiceTypeUDP, ""})
	waitServices(t, c, 2)
	if got := c.Info()["service types"]; !reflect.DeepEqual(got, []string{ServiceTypeUDP, ServiceTypeTCP}) {
		t.Errorf("service types %v", got)
	}
	if logs.count(slog.LevelWarn, "invalid mDNS service type ignored") != 2 {
		t.Errorf("invalid types not logged")
	}
}

func TestRunOnceAndWithoutBus(t *testing.T) {
	logs, log := newLogRecorder(t)
	c := New(Options{Logger: log, ServiceTypes: []string{ServiceTypeTCP},
		Conn: func() (*dbus.Conn, error) { return nil, errors.New("no bus here") }})
	c.reconnectDelays = []time.Duration{10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, 5*time.Second, "warning", func() bool { return logs.count(slog.LevelWarn, "cannot reach avahi-daemon's bus") == 1 })
	if err := c.Run(ctx); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	c.SetServiceTypes([]string{ServiceTypeUDP})
	waitFor(t, 5*time.Second, "types applied while offline", func() bool {
		return reflect.DeepEqual(c.Info()["service types"], []string{ServiceTypeUDP})
	})
	c.Kick()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestFreshInfo(t *testing.T) {
	got := New(Options{}).Info()
	want := map[string]any{"avahi wake up timer": "60.0s [off]", "service types": []string{}, "services": map[string]map[string]string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Info() = %#v, want %#v", got, want)
	}
	if s := New(Options{}).Services(); len(s) != 0 {
		t.Errorf("Services() = %v", s)
	}
}

func TestDialTCP(t *testing.T) {
	port, _ := listen(t)
	ctx := context.Background()
	if err := DialTCP(ctx, "lo", netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))); err != nil {
		t.Errorf("dial a listener through lo: %v", err)
	}
	if err := DialTCP(ctx, "", netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))); err != nil {
		t.Errorf("dial a listener without interface: %v", err)
	}
	if err := DialTCP(ctx, "lo", netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", closedPort(t)))); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed port = %v, want connection refused", err)
	}
	if err := DialTCP(ctx, "nosuchif0", netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("dial through a missing interface = %v, want ENODEV", err)
	}
	// A link-local address is dialled with the interface as its zone (lo has no such
	// address, so the connect fails, but not for want of a zone).
	err := DialTCP(ctx, "lo", netip.MustParseAddrPort("[fe80::1]:8009"))
	if err == nil || strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("dial link-local through lo = %v", err)
	}
}

func TestAvahiReplaced(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	startFakeAvahiFlags(t, bus.addr, dbus.NameFlagAllowReplacement, svc(lo, "old", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	if got := waitServices(t, c, 1); got[0].Key.Name != "old" {
		t.Fatalf("Services = %+v", got)
	}
	fake2 := startFakeAvahiFlags(t, bus.addr, dbus.NameFlagReplaceExisting, svc(lo, "new", ServiceTypeTCP, "192.0.2.2", 8009, "p=rdma"))
	waitFor(t, 10*time.Second, "the new avahi-daemon's service", func() bool {
		ss := c.Services()
		return len(ss) == 1 && ss[0].Key.Name == "new"
	})
	if logs.count(slog.LevelInfo, "avahi-daemon restarted") != 1 {
		t.Error("no restart line")
	}
	if n, _, _, _ := fake2.counts(); n != 1 {
		t.Errorf("new avahi-daemon got %d ServiceBrowserNew, want 1", n)
	}
}

func TestHungAvahiDoesNotHangTheClient(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	fake := startFakeAvahi(t, bus.addr, svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma"))
	fake.mu.Lock()
	fake.hangOnce = 2 * time.Second
	fake.mu.Unlock()
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.callTimeout = 200 * time.Millisecond
	})
	waitFor(t, 5*time.Second, "timeout warning", func() bool { return logs.count(slog.LevelWarn, "did not answer in time") == 1 })
	// The API answers meanwhile, and the client recovers on a new connection.
	_ = c.Info()
	waitServices(t, c, 1)
}

func TestMalformedSignalsIgnored(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	cdc := svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=rdma")
	fake := startFakeAvahi(t, bus.addr, cdc)
	c, logs := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, nil)
	want := waitServices(t, c, 1)
	client, browser := fake.browserClient(ServiceTypeTCP)
	resolver := fake.resolverPath(cdc.Key)
	fake.send(client, browser, ifaceBrowser, "ItemNew", "garbage")
	fake.send(client, browser, ifaceBrowser, "ItemRemove", int32(1))
	fake.send(client, resolver, ifaceResolver, "Found", "garbage", uint32(7))
	fake.send(client, resolver, ifaceResolver, "Failure")
	k := cdc.Key
	// A Found from another path than the service's resolver, and an ItemNew of a type
	// not browsed, are ignored too.
	fake.send(client, "/Client1/ServiceResolver999", ifaceResolver, "Found", k.Interface, k.Protocol, k.Name, k.Type, k.Domain,
		"x.local", int32(0), "198.51.100.1", uint16(8009), [][]byte{[]byte("p=rdma")}, uint32(0))
	fake.send(client, browser, ifaceBrowser, "ItemNew", k.Interface, k.Protocol, "other", "_other._tcp", k.Domain, uint32(0))
	waitFor(t, 5*time.Second, "malformed signals dropped", func() bool {
		return logs.count(slog.LevelDebug, "malformed") == 4
	})
	if got := c.Services(); !reflect.DeepEqual(got, want) {
		t.Errorf("Services = %+v, want %+v", got, want)
	}
	if _, n, _, _ := fake.counts(); n != 1 {
		t.Errorf("%d resolvers created", n)
	}
}

func TestSetServiceTypesBeforeRun(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	startFakeAvahi(t, bus.addr, svc(lo, "u", ServiceTypeUDP, "192.0.2.1", 8009, "p=rdma"))
	c, _ := startClient(t, newSyncString(bus.addr), Options{ServiceTypes: []string{ServiceTypeTCP}}, func(c *Client) {
		c.SetServiceTypes([]string{ServiceTypeTCP})
		c.SetServiceTypes([]string{ServiceTypeUDP}) // the latest wins
	})
	waitServices(t, c, 1)
}
