// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/fabrics/fabricstest"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

// fabric is a fake storage network: the log page each discovery controller address
// serves, reached through the fake kernel's live controllers.
type fabric struct {
	mu   sync.Mutex
	host *fabricstest.Fake
	logs map[string][]nvme.Entry // by traddr
	gen  uint64
}

func newFabric() *fabric { return &fabric{host: fabricstest.New(), logs: map[string][]nvme.Entry{}} }

func (f *fabric) set(traddr string, entries ...nvme.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[traddr] = entries
	f.gen++
}

func (f *fabric) open(device string) (ctrl.Admin, error) {
	o, ok := f.host.Live()[device]
	if !ok {
		return nil, os.ErrNotExist
	}
	return &fakeDC{f: f, traddr: o.TrAddr}, nil
}

type fakeDC struct {
	f      *fabric
	traddr string
}

func (d *fakeDC) IdentifyController(context.Context) (*nvme.IdentifyController, error) {
	return &nvme.IdentifyController{CntrlType: 2, SubNQN: nqn.WellKnownDiscovery, OAES: nvme.OAESDiscoveryLogChange}, nil
}
func (d *fakeDC) DIM(context.Context, nvme.DIMTask, *nvme.DIMData) (uint32, error) { return 0, nil }
func (d *fakeDC) SupportedLogPages(context.Context) (nvme.SupportedLogPages, error) {
	return nvme.SupportedLogPages{}, nvme.NewStatus(0, 2, true)
}
func (d *fakeDC) DiscoveryLog(context.Context, uint8) (*nvme.DiscoveryLog, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	return &nvme.DiscoveryLog{GenCtr: d.f.gen, Entries: slices.Clone(d.f.logs[d.traddr])}, nil
}
func (d *fakeDC) Close() error { return nil }

func subsystem(traddr, nqn string) nvme.Entry {
	return nvme.Entry{TrType: nvme.TransportTCP, AdrFam: nvme.AddressFamilyIPv4, SubType: nvme.SubsystemNVMe,
		PortID: 1, CNTLID: 0xffff, ASQSZ: 32, TrSvcID: "4420", TrAddr: traddr, SubNQN: nqn, TSAS: nvme.NewTCPTSAS(nvme.TCPSecTypeNone)}
}

func referral(traddr string) nvme.Entry {
	e := subsystem(traddr, nqn.WellKnownDiscovery)
	e.SubType, e.TrSvcID = nvme.SubsystemReferral, "8009"
	return e
}

type signals struct {
	mu      sync.Mutex
	changed []string
	removed int
}

func (s *signals) EmitLogPagesChanged(t tid.TID, device string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changed = append(s.changed, t.Traddr)
	return nil
}

func (s *signals) EmitDCRemoved() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed++
	return nil
}

func (s *signals) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.changed), s.removed
}

func writeConf(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

type allLogPages []struct {
	DC   map[string]string   `json:"discovery-controller"`
	Logs []map[string]string `json:"log-pages"`
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfiguredDCReferralAndRemoval(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.2;host-iface=veth0\n")
	f := newFabric()
	f.set("192.0.2.2", subsystem("192.0.2.2", "nqn.2014-08.org.example:one"), referral("198.51.100.2"))
	f.set("198.51.100.2", subsystem("198.51.100.2", "nqn.2014-08.org.example:two"))
	sig := &signals{}
	uevents := make(chan uevent.Update, 1)
	svc, err := New(Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open, Emit: sig, Uevents: uevents,
		StatePath: filepath.Join(dir, "run", "last-known-config.json")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.Run(ctx) }()

	alive, stop := context.WithTimeout(ctx, 10*time.Second)
	if !svc.Alive(alive) {
		t.Error("the running service does not answer Alive")
	}
	stop()
	var pages allLogPages
	waitFor(t, "both discovery controllers with their log pages", func() bool {
		pages = nil
		if err := json.Unmarshal([]byte(svc.GetAllLogPages(false)), &pages); err != nil {
			t.Fatalf("get_all_log_pages is not JSON: %v", err)
		}
		n := 0
		for _, p := range pages {
			n += len(p.Logs)
		}
		return len(pages) == 2 && n == 3
	})
	for _, p := range pages {
		if p.DC["traddr"] == "198.51.100.2" && p.DC["host-iface"] != "veth0" {
			t.Errorf("the referral did not inherit host-iface: %v", p.DC)
		}
	}
	waitFor(t, "log_pages_changed for both", func() bool { c, _ := sig.counts(); return c >= 2 })

	// Dropping the referral from the first log and announcing the change (AEN) removes
	// the second controller and deletes its connection.
	f.set("192.0.2.2", subsystem("192.0.2.2", "nqn.2014-08.org.example:one"))
	var dev1 string
	for _, c := range svc.ListControllers(false) {
		if c["traddr"] == "192.0.2.2" {
			dev1 = c["device"]
		}
	}
	uevents <- uevent.Update{Event: uevent.Event{Action: uevent.ActionChange, Subsystem: "nvme", DevName: dev1,
		Env: map[string]string{"NVME_AEN": "0x70f002"}}}
	waitFor(t, "the referred controller's removal", func() bool {
		_, removed := sig.counts()
		return removed == 1 && len(svc.ListControllers(false)) == 1 && len(f.host.Disconnects()) == 1
	})
	cancel()
	<-done
	dead, stop2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if svc.Alive(dead) {
		t.Error("a stopped service answers Alive")
	}
	stop2()
	if len(f.host.Disconnects()) != 1 {
		t.Errorf("stafd with persistent-connections deleted %v at exit", f.host.Disconnects())
	}
	state, err := os.ReadFile(filepath.Join(dir, "run", "last-known-config.json"))
	if err != nil || !strings.Contains(string(state), "192.0.2.2") || strings.Contains(string(state), "198.51.100.2") {
		t.Errorf("last-known config not saved: %v\n%s", err, state)
	}
}

// A refers to B and B refers back to A: each is managed once and the loop ends.
func TestReferralLoopTerminates(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.2\n")
	f := newFabric()
	f.set("192.0.2.2", referral("198.51.100.2"), subsystem("192.0.2.2", "nqn.2014-08.org.example:a"))
	f.set("198.51.100.2", referral("192.0.2.2"), subsystem("198.51.100.2", "nqn.2014-08.org.example:b"))
	svc, err := New(Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "both controllers with their log pages", func() bool {
		var pages allLogPages
		if err := json.Unmarshal([]byte(svc.GetAllLogPages(false)), &pages); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range pages {
			n += len(p.Logs)
		}
		return len(pages) == 2 && n == 4
	})
	time.Sleep(200 * time.Millisecond) // a runaway loop would keep adding controllers
	if n := len(svc.ListControllers(false)); n != 2 {
		t.Errorf("%d controllers for a two-controller referral loop", n)
	}
	if n := len(f.host.Connects()); n != 2 {
		t.Errorf("%d connects for two controllers", n)
	}
}
