// SPDX-License-Identifier: Apache-2.0

package stacd

// Regression tests of defects found in review, each once failing: a configured loop
// controller dropped, TLS requirements missed, an interface kept across ignore-iface,
// an empty list taken for a known log page, adopted connections dropped while a host
// name resolved, and stafd showing a DC being identified as one with an empty log page.

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/fabrics/fabricstest"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/stafd"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// A loop controller has no traddr (config.Controller.complete accepts
// "transport=loop;nqn=..." and design.md says configured fc/loop controllers work), but
// wanted() drops every configured controller with an empty traddr.
func TestRegressionConfiguredLoopControllerDropped(t *testing.T) {
	r := newRig(t, "[Controllers]\ncontroller = transport=loop;nqn="+subB+"\n", nil)
	if n := len(r.svc.cfg.Controllers); n != 1 {
		t.Fatalf("the configuration kept %d controller= entries, want the loop one", n)
	}
	w := r.svc.wanted()
	loop := tid.TID{Transport: "loop", SubsysNQN: subB, HostNQN: testHostNQN}
	if w[loop] == nil {
		t.Errorf("configured loop controller not wanted: %v", keys(w))
	}
}

// TREQ bits 1:0 = 01b means "secure channel required" whatever bit 2 (SQ flow control
// disable supported) says. stafd publishes such a port's treq as "5"
// (nvme.TransportRequirements.DLPEString), and libnvme 1.3 (Debian 12) publishes no
// tsas at all, so checkDLPE lets a TLS-only port through and stacd connects without
// TLS, forever failing.
func TestRegressionTLSRequiredWithSQFlowBitNotSkipped(t *testing.T) {
	for _, d := range []map[string]string{
		dlpe("192.0.2.10", subA, "treq", "5", "tsas", ""),
		dlpe("192.0.2.10", subA, "treq", "5", "tsas", "{'sectype': 'none'}"),
		dlpe("192.0.2.10", subA, "trtype", "rdma", "treq", "5"),
		dlpe("192.0.2.10", subA, "treq", "1", "tsas", ""), // a stafd sending the number
	} {
		if p := checkDLPE(d); p == "" {
			t.Errorf("treq %q (tsas %q, %s) accepted; the port requires a secure channel", d["treq"], d["tsas"], d["trtype"])
		}
	}
}

// An entry already held is reused without checkDLPE: when the port starts requiring
// TLS (same trtype, traddr, trsvcid, subnqn), stacd keeps connecting without it.
func TestRegressionEntryTurningTLSRequiredKept(t *testing.T) {
	s := pagesService(t, "", answer(known(dcTID, dlpe("192.0.2.10", subA))), nil)
	pages, err := parseAllLogPages(answer(known(dcTID, dlpe("192.0.2.10", subA, "treq", "required", "tsas", "{'sectype': 'tls13'}"))))
	if err != nil {
		t.Fatal(err)
	}
	s.takePages(pages)
	if w := s.wanted(); len(w) != 0 {
		t.Errorf("wanted %v; the entry now requires TLS", keys(w))
	}
}

// ignore-iface=true after a SIGHUP does not reach discovered controllers: their entries
// keep the TID (with the DC's host-iface) they were given, so they stay bound to the
// interface and reconnect with host_iface. nvme-stas rebuilt every TID at each pass.
func TestRegressionIgnoreIfaceReloadKeepsDiscoveredInterface(t *testing.T) {
	s := pagesService(t, "", answer(known(dcTID, dlpe("192.0.2.10", subA))), nil)
	writeConf(t, s.opts.ConfPath, "[Global]\nignore-iface = true\n")
	s.doReload()
	pages, err := parseAllLogPages(answer(known(dcTID, dlpe("192.0.2.10", subA))))
	if err != nil {
		t.Fatal(err)
	}
	s.takePages(pages)
	for t2 := range s.wanted() {
		if t2.HostIface != "" {
			t.Errorf("with ignore-iface set, %v is still bound to %s", t2, t2.HostIface)
		}
	}
}

// A connected DC that is registering (DIM) or reading its supported log pages has no
// "get log page operation" yet: its empty list is not its log page. stafd shows this
// state after it (re)connects a DC it has no cached entries for, e.g. after a restart
// without a usable last-known config; stacd takes it as "the DC lists nothing" and
// deletes every I/O connection of that DC, to reconnect them a moment later.
func TestRegressionEmptyListWhileRegisteringIsKnown(t *testing.T) {
	for _, dc := range []dcAnswer{
		{tid: dcTID, connected: true, register: opRunning},
		{tid: dcTID, connected: true, register: opDone, supported: opRunning},
		{tid: dcTID, connected: true, register: opFailed},
	} {
		pages, err := parseAllLogPages(answer(dc))
		if err != nil {
			t.Fatal(err)
		}
		if pages[0].Known {
			t.Errorf("register %v, get supported log pages %v, no get log page operation, no entries: taken as the DC's current (empty) log page",
				dc.register, dc.supported)
		}
	}
}

// A controller configured by host name is restored from the last-known config after a
// restart (its connection adopted), but the restored controller has no configuration
// attached (restore gives it conf == nil), so the first pass, which cannot resolve the
// name yet, does not recognise it as configured and deletes the adopted connection. The
// reconcile's "while a configured host name has no answer yet" guard is meant for
// exactly this case.
func TestRegressionRestartDropsControllerConfiguredByHostName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernel()
		cfgd := tid.TID{Transport: "tcp", Traddr: "192.0.2.40", Trsvcid: "4420", SubsysNQN: subC, HostNQN: testHostNQN}
		k.existing("nvme4", optionsOf(cfgd))
		state := filepath.Join(t.TempDir(), "lkc.json")
		if err := os.WriteFile(state, []byte(`{"version": 1, "controllers": [`+mustJSON(t, cfgd)+`], "log_pages": []}`), 0o600); err != nil {
			t.Fatal(err)
		}
		r := newRigOn(t, k, "[Controllers]\ncontroller = transport=tcp;traddr=array.example;nqn="+subC+"\n",
			func(o *Options) { o.StatePath = state; o.Stafd = nil })
		release := make(chan struct{})
		r.svc.resolver.Lookup = func(ctx context.Context, _ string) ([]netip.Addr, error) {
			select {
			case <-release:
				return []netip.Addr{netip.MustParseAddr("192.0.2.40")}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		r.run()
		stepFor(time.Second) // DNS is slow: no answer yet
		r.noDisconnects("restart while the host name is being resolved")
		close(release)
		step()
		r.noDisconnects("after the name resolved")
		if d := r.deviceOf(cfgd); d != "nvme4" || len(k.Connects()) != 0 {
			t.Errorf("configured controller on %q after %d connects; want nvme4 kept", d, len(k.Connects()))
		}
		r.stop()
	})
}

// The audit deletes a connection that a controller configured by host name will adopt
// once the name resolves: a pass with a name still unresolved does not know everything
// that is wanted, yet the audit runs on it.
func TestRegressionAuditWhileHostNameUnresolved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernel()
		k.existing("nvme4", foreign("192.0.2.40", subC))
		r := newRigOn(t, k, auditConf+"[Controllers]\ncontroller = transport=tcp;traddr=array.example;nqn="+subC+"\n", nil)
		release := make(chan struct{})
		r.svc.resolver.Lookup = func(ctx context.Context, _ string) ([]netip.Addr, error) {
			select {
			case <-release:
				return []netip.Addr{netip.MustParseAddr("192.0.2.40")}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		r.start(`[]`) // stafd answers at once: fresh
		r.noDisconnects("audit while array.example is unresolved")
		close(release)
		step()
		r.noDisconnects("after the name resolved")
		if d := r.deviceOf(tid.TID{Transport: "tcp", Traddr: "192.0.2.40", Trsvcid: "4420", SubsysNQN: subC, HostNQN: testHostNQN}); d != "nvme4" {
			t.Errorf("configured controller on %q, want nvme4 adopted", d)
		}
		r.stop()
	})
}

// Our stafd shows no operation at all while a DC it just connected runs Identify (a step
// of ours, before registration): connected, no entries, no "get log page operation".
// That is also what nvme-stas shows after a read that found nothing, so stacd takes it
// as the DC's (empty) log page. A stafd restarted without a usable last-known config
// thus makes stacd delete every I/O connection of its DCs for the time Identify takes.
// The fix belongs in stafd: show the get log page operation, not completed, from the
// connection on (or "connected": "False" until the first read ended).
func TestRegressionStafdIdentifyingDCLooksEmpty(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.2\n")
	release := make(chan struct{})
	defer close(release)
	host := fabricstest.New()
	svc, err := stafd.New(stafd.Options{ConfPath: conf, Host: host,
		OpenAdmin: func(string) (ctrl.Admin, error) { return &slowIdentify{release: release}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the DC connected", func() bool { return len(host.Live()) == 1 })
	var pages []dcPage
	waitFor(t, "stafd to publish the connected DC", func() bool {
		pages, err = parseAllLogPages(svc.GetAllLogPages(true))
		if err != nil {
			t.Fatal(err)
		}
		return len(pages) == 1 && pages[0].DC.Traddr == "192.0.2.2" && stafdShowsConnected(svc)
	})
	if pages[0].Known {
		t.Errorf("a DC still identifying, its log page never read, is taken as listing nothing:\n%s", svc.GetAllLogPages(true))
	}
}

func stafdShowsConnected(svc *stafd.Service) bool {
	for _, c := range svc.ListControllers(true) {
		if c["connected"] == "True" {
			return true
		}
	}
	return false
}

// slowIdentify is a DC whose Identify Controller does not answer until released.
type slowIdentify struct{ release chan struct{} }

func (d *slowIdentify) IdentifyController(ctx context.Context) (*nvme.IdentifyController, error) {
	select {
	case <-d.release:
	case <-ctx.Done():
	}
	return nil, context.Canceled
}
func (d *slowIdentify) DIM(context.Context, nvme.DIMTask, *nvme.DIMData) (uint32, error) {
	return 0, nil
}
func (d *slowIdentify) SupportedLogPages(context.Context) (nvme.SupportedLogPages, error) {
	return nvme.SupportedLogPages{}, nil
}
func (d *slowIdentify) DiscoveryLog(context.Context, uint8) (*nvme.DiscoveryLog, error) {
	return &nvme.DiscoveryLog{}, nil
}
func (d *slowIdentify) Close() error { return nil }

// A reload that changes a connection option reaches the controller's next connect (here
// after the device was removed by hand), without touching the live connection. The same
// path serves a controller restored from the last-known config before its controller=
// entry (and secrets) could be matched.
func TestRegressionOptionsChangeReachNextConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.20;nqn=" + subA + "\n"
		r := newRig(t, conf, nil)
		r.start(`[]`)
		defer r.stop()
		step()
		ctl := tid.TID{Transport: "tcp", Traddr: "192.0.2.20", Trsvcid: "4420", SubsysNQN: subA, HostNQN: testHostNQN}
		dev := r.deviceOf(ctl)
		if dev == "" || dev == "nvme?" || len(r.k.Connects()) != 1 {
			t.Fatalf("not connected: %q, %d connects", dev, len(r.k.Connects()))
		}
		writeConf(t, r.conf, "[Global]\nkato = 7\n"+conf)
		r.svc.Reload()
		step()
		if n := len(r.k.Connects()); n != 1 || len(r.k.Disconnects()) != 0 {
			t.Fatalf("the reload touched the connection: %d connects, disconnects %v", n, r.k.Disconnects())
		}
		if got := r.deviceOf(ctl); got != dev {
			t.Fatalf("after the reload the controller shows %q, want %s", got, dev)
		}
		// Removed by hand: reconnected with the new kato.
		if err := r.k.Disconnect(context.Background(), dev); err != nil {
			t.Fatal(err)
		}
		stepFor(10 * time.Second)
		c := r.k.Connects()
		if len(c) != 2 {
			t.Fatalf("%d connects, want the reconnect", len(c))
		}
		if v, ok := c[1].Options.KeepAliveTmo.Get(); !ok || v != 7 {
			t.Errorf("reconnect with kato %v, want the reloaded 7", c[1].Options.KeepAliveTmo)
		}
	})
}
