// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/avahi"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

type fakeMDNS struct {
	mu       sync.Mutex
	services []avahi.Service
	changes  chan struct{}
	types    []string
}

func (m *fakeMDNS) Changes() <-chan struct{} { return m.changes }
func (m *fakeMDNS) Services() []avahi.Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]avahi.Service(nil), m.services...)
}
func (m *fakeMDNS) Reported(t tid.TID) bool { return false }
func (m *fakeMDNS) SetServiceTypes(types []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.types = types
}
func (m *fakeMDNS) Kick() {}
func (m *fakeMDNS) Info() map[string]any {
	return map[string]any{"avahi wake up timer": "60.0s [off]", "service types": []string{avahi.ServiceTypeTCP},
		"services": map[string]map[string]string{"(veth0, IPv4, dc._nvme-disc._tcp.local, _nvme-disc._tcp)": {"traddr": "192.0.2.7", "reachable": "True"}}}
}
func (m *fakeMDNS) set(services ...avahi.Service) {
	m.mu.Lock()
	m.services = services
	m.mu.Unlock()
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

func TestMDNSDiscoveredControllerAgesOut(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Discovery controller connection management]\nzeroconf-connections-persistence = 1\n")
	f := newFabric()
	f.set("192.0.2.7", subsystem("192.0.2.7", "nqn.2014-08.org.example:m"))
	sig := &signals{}
	mdns := &fakeMDNS{changes: make(chan struct{}, 1)}
	svc := tid.TID{Transport: "tcp", Traddr: "192.0.2.7", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "veth0"}
	mdns.set(avahi.Service{Iface: "veth0", TID: svc})
	uevents := make(chan uevent.Update, 1)
	s, err := New(Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open, Emit: sig, MDNS: mdns, Uevents: uevents})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	device := func() string {
		for _, c := range s.ListControllers(false) {
			return c["device"]
		}
		return ""
	}
	waitFor(t, "the mDNS controller connected", func() bool { return strings.HasPrefix(device(), "nvme") && device() != "nvme?" })
	if !strings.Contains(s.ProcessInfo(), `"avahi": {"avahi wake up timer": "60.0s [off]"`) {
		t.Errorf("process_info lacks the avahi state: %s", s.ProcessInfo())
	}

	// No longer announced, but connected: kept (an avahi-daemon restart must not drop it).
	mdns.set()
	dev := device()
	time.Sleep(300 * time.Millisecond) // the pass runs at once (leading edge); give it time to act wrongly
	if _, removed := sig.counts(); removed != 0 || len(s.ListControllers(false)) != 1 {
		t.Fatalf("%d controllers and %d removals after the announcement went away, want the connected one kept", len(s.ListControllers(false)), removed)
	}
	// The connection goes away and cannot come back: aged out after the persistence.
	f.host.FailConnect(errors.New("unreachable"))
	if err := f.host.Disconnect(context.Background(), dev); err != nil {
		t.Fatal(err)
	}
	uevents <- uevent.Update{Event: uevent.Event{Action: uevent.ActionRemove, Subsystem: "nvme", DevName: dev}}
	waitFor(t, "the lost controller aged out", func() bool {
		_, removed := sig.counts()
		return len(s.ListControllers(false)) == 0 && removed == 1
	})
}
