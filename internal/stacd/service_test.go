// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nbft"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

// Inside a synctest bubble, step lets time pass (timers fire at once when everything
// waits) and returns when every goroutine of the service is idle again. Two seconds
// cover the 1.5 s debounce window.
func step() { stepFor(2 * time.Second) }

func stepFor(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// start runs the service with stafd on the bus answering ans.
func (r *rig) start(ans string) *rig {
	r.staf.set(ans, nil)
	r.run()
	r.staf.events <- StafdAppeared
	step()
	return r
}

func (r *rig) noDisconnects(when string) {
	r.t.Helper()
	if d := r.k.Disconnects(); len(d) != 0 {
		r.t.Errorf("%s: disconnected %v", when, d)
	}
}

func (r *rig) connectedTo(when string, ts ...tid.TID) {
	r.t.Helper()
	for _, t := range ts {
		if dev := r.deviceOf(t); dev == "" || dev == "nvme?" {
			r.t.Errorf("%s: %v has device %q; want a connection", when, t, dev)
		}
	}
}

func TestDiscoveredAndConfiguredControllers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := `[Global]
kato = 33
[Controllers]
controller = transport=tcp;traddr=198.51.100.20;nqn=` + subC + `;kato=17;dhchap-secret=` + testSecret + `;dhchap-ctrl-secret=` + testSecret + `
`
		r := newRig(t, conf, nil)
		defer r.stop()
		a, b := iocOf("192.0.2.10", subA), iocOf("192.0.2.11", subB)
		cfgd := tid.TID{Transport: "tcp", Traddr: "198.51.100.20", Trsvcid: "4420", SubsysNQN: subC, HostNQN: testHostNQN}
		r.start(answer(known(dcTID,
			dlpe("192.0.2.10", subA),
			dlpe("192.0.2.11", subB, "eflags", "4"),
			dlpe("192.0.2.12", subA, "treq", "required"),
			dlpe("192.0.2.13,host_iface=lo", subA),
			dlpe("192.0.2.14", "nqn.2014-08.org.example:bad nqn"),
			dlpe("192.0.2.15", subA, "subtype", "referral"),
		)))
		if n := len(r.controllers()); n != 3 {
			t.Fatalf("%d controllers: %v; want the two valid entries and the configured one", n, r.controllers())
		}
		r.connectedTo("after the first answer", a, b, cfgd)
		if n := len(r.k.Connects()); n != 3 {
			t.Errorf("%d connects, want 3", n)
		}
		for _, c := range r.k.Connects() {
			o := c.Options
			if o.HostNQN != testHostNQN || o.HostID != testHostID || c.Err != nil {
				t.Errorf("%s: host %q/%q, err %v", o.TrAddr, o.HostNQN, o.HostID, c.Err)
			}
			switch o.TrAddr {
			case "192.0.2.10", "192.0.2.11":
				if o.HostIface != "eth1" || o.KeepAliveTmo != fabrics.IntOf(33) || o.DHCHAPSecret != "" {
					t.Errorf("%s: host-iface %q, kato %v, secret set %v; want the DC's eth1 and the [Global] kato", o.TrAddr, o.HostIface, o.KeepAliveTmo, o.DHCHAPSecret != "")
				}
			case "198.51.100.20":
				if o.HostIface != "" || o.KeepAliveTmo != fabrics.IntOf(17) || o.DHCHAPSecret != testSecret || o.DHCHAPCtrlSecret != testSecret {
					t.Errorf("configured: %#v", o)
				}
			default:
				t.Errorf("connected to %s", o.TrAddr)
			}
		}

		// list_controllers(false): id dicts, the configured entry's options with its
		// secrets shown as (set).
		ids := r.controllers()
		c := ids[cfgd.String()]
		if c["kato"] != "17" || c["dhchap-secret"] != "(set)" || c["dhchap-ctrl-secret"] != "(set)" || c["host-nqn"] != testHostNQN {
			t.Errorf("configured controller's id dict = %v", c)
		}
		for _, detailed := range []bool{false, true} {
			for _, d := range r.svc.ListControllers(detailed) {
				for k, v := range d {
					if strings.Contains(v, "DHHC-1") {
						t.Errorf("list_controllers(%v) shows a secret in %q", detailed, k)
					}
				}
			}
		}
		// list_controllers(true): the entry, its NCC flag, why the interface, which DC.
		da := r.detailsOf(a)
		if !strings.Contains(da["dlpe"], "'subnqn': '"+subA+"'") || !strings.Contains(da["dlpe"], "'traddr': '192.0.2.10'") ||
			da["dlpe.eflags.ncc"] != "False" || da["host-iface reason"] != "inherited from the discovery controller" ||
			da["discovery controller"] != dcTID.String() || da["connected"] != "True" || da["cntrltype"] != "io" ||
			da["hostnqn"] != testHostNQN || da["hostid"] != testHostID || da["model"] != "Linux" || da["connect attempts"] != "0" {
			t.Errorf("details of a discovered controller = %v", da)
		}
		if db := r.detailsOf(b); db["dlpe.eflags.ncc"] != "True" || !strings.Contains(db["dlpe"], "'eflags': '4'") {
			t.Errorf("details of the NCC entry = %v", db)
		}
		if dc := r.detailsOf(cfgd); dc["dlpe"] != "None" || dc["dlpe.eflags.ncc"] != "False" || dc["host-iface reason"] != "configured" ||
			dc["discovery controller"] != "" || dc["dhchap-secret"] != "(set)" {
			t.Errorf("details of the configured controller = %v", dc)
		}

		var info map[string]string
		if err := json.Unmarshal([]byte(r.svc.ControllerInfo(a)), &info); err != nil || info["device"] != r.deviceOf(a) ||
			info["subsysnqn"] != subA || info["retry connect timer"] != "60.0s [off]" {
			t.Errorf("controller_info = %v, %v", info, err)
		}
		if got := r.svc.ControllerInfo(iocOf("192.0.2.99", subA)); got != "{}" {
			t.Errorf("controller_info of an unknown controller = %s", got)
		}
		var pi map[string]any
		if err := json.Unmarshal([]byte(r.svc.ProcessInfo()), &pi); err != nil {
			t.Fatal(err)
		}
		if pi["stafd"] != "on the bus: log pages current" || pi["hostnqn"] != testHostNQN || pi["hostid"] != testHostID ||
			pi["hostkey"] != nil || pi["kernel support.host_iface"] != "True" || pi["last known config file"] != "" {
			t.Errorf("process_info = %v", pi)
		}
	})
}

// Nothing is disconnected because stafd is absent, failing, slow, or because a DC is
// unreachable or still reading its log page; only stafd's positive answer that the
// entries are gone removes them.
func TestUnknownIsNotGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "", nil)
		defer r.stop()
		a, b := iocOf("192.0.2.10", subA), iocOf("192.0.2.11", subB)
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA), dlpe("192.0.2.11", subB))))
		r.connectedTo("first answer", a, b)

		stafdState := func() string {
			var pi map[string]any
			if err := json.Unmarshal([]byte(r.svc.ProcessInfo()), &pi); err != nil {
				t.Fatal(err)
			}
			s, _ := pi["stafd"].(string)
			return s
		}
		check := func(when string) {
			t.Helper()
			r.noDisconnects(when)
			if n := len(r.controllers()); n != 2 {
				t.Errorf("%s: %d controllers", when, n)
			}
			r.connectedTo(when, a, b)
		}

		// stafd leaves the bus; a SIGHUP and a kernel event make passes meanwhile.
		r.staf.events <- StafdVanished
		step()
		r.svc.Reload()
		r.k.event(uevent.ActionAdd, "nvme7")
		stepFor(10 * time.Minute)
		check("stafd gone")
		if s := stafdState(); s != "not on the bus: keeping what is known" {
			t.Errorf("process_info stafd = %q", s)
		}

		// stafd is back but its answers fail.
		calls := r.staf.callCount()
		r.staf.set("", errors.New("org.freedesktop.DBus.Error.NoReply: stafd did not answer"))
		r.staf.events <- StafdAppeared
		stepFor(SettleDelay + 2*time.Second)
		if r.staf.callCount() == calls {
			t.Error("stafd back on the bus was not asked again after the settle delay")
		}
		check("stafd failing")

		for _, c := range []struct {
			what   string
			answer string
		}{
			{"DC not connected", answer(dcAnswer{tid: dcTID, connected: false})},
			{"log page read running", answer(dcAnswer{tid: dcTID, connected: true, logOp: opRunning})},
			{"log page read failed", answer(dcAnswer{tid: dcTID, connected: true, logOp: opFailed})},
			{"malformed answer", `[{"discovery-controller": {"transport": "tcp"}}]`},
			{"not JSON", `{torn`},
		} {
			calls := r.staf.callCount()
			r.staf.answerAndSignal(c.answer)
			step()
			if r.staf.callCount() == calls {
				t.Errorf("%s: stafd's signal did not make stacd ask", c.what)
			}
			check(c.what)
		}
		if s := stafdState(); s != "on the bus: some log pages not known now, kept from before" {
			t.Errorf("process_info stafd = %q", s)
		}

		// A stafd so slow that the call times out.
		release := r.staf.block()
		r.staf.answerAndSignal(answer(known(dcTID)))
		stepFor(FetchTimeout + 5*time.Second)
		check("stafd too slow")
		release()

		// The positive answer: the DC is connected, read its page, and lists nothing.
		r.staf.events <- StafdChanged
		step()
		if d := r.k.Disconnects(); len(d) != 2 || len(r.controllers()) != 0 || len(r.k.Live()) != 0 {
			t.Errorf("after the DC's empty page: disconnected %v, %d controllers, live %v", d, len(r.controllers()), r.k.Live())
		}
	})
}

func TestDisconnectScopes(t *testing.T) {
	cases := []struct {
		scope string
		keep  bool
	}{
		{"", false},
		{"disconnect-scope = only-stas-connections", false},
		{"disconnect-scope = no-disconnect", true},
		{"disconnect-scope = all-connections-matching-disconnect-trtypes\ndisconnect-trtypes = tcp", false},
		{"disconnect-scope = all-connections-matching-disconnect-trtypes\ndisconnect-trtypes = rdma+fc", true},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.scope, "\n", ";"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				conf := "[I/O controller connection management]\n" + c.scope + "\n[Controllers]\ncontroller = transport=tcp;traddr=198.51.100.20;nqn=" + subC + "\n"
				r := newRig(t, conf, nil)
				defer r.stop()
				r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
				if n := len(r.k.Live()); n != 2 {
					t.Fatalf("%d live connections, want 2", n)
				}
				// Once stafd has had time to find every DC, it no longer lists this one:
				// its entries are gone.
				stepFor(SettleDelay)
				r.staf.answerAndSignal(`[]`)
				step()
				// The controller= entry leaves the configuration.
				writeConf(t, r.conf, "[I/O controller connection management]\n"+c.scope+"\n")
				r.svc.Reload()
				step()
				if n := len(r.controllers()); n != 0 {
					t.Errorf("%d controllers still managed", n)
				}
				live, disc := len(r.k.Live()), len(r.k.Disconnects())
				if c.keep && (live != 2 || disc != 0) {
					t.Errorf("connections kept by the scope: %d live, disconnected %v", live, r.k.Disconnects())
				}
				if !c.keep && (live != 0 || disc != 2) {
					t.Errorf("connections deleted by the scope: %d live, disconnected %v", live, r.k.Disconnects())
				}
			})
		})
	}
}

// A stafd that just appeared may not have found every discovery controller yet: one
// missing from its answers is gone only once the settle delay is over, when stacd reads
// the log pages again by itself.
func TestDCMissingRightAfterStafdAppeared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "", nil)
		defer r.stop()
		a := iocOf("192.0.2.10", subA)
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		r.connectedTo("first answer", a)
		// stafd restarts and answers before it found the DC again.
		r.staf.events <- StafdVanished
		r.staf.set(`[]`, nil)
		r.staf.events <- StafdAppeared
		step()
		r.noDisconnects("DC missing right after stafd appeared")
		r.connectedTo("DC missing right after stafd appeared", a)
		if !strings.Contains(r.svc.ProcessInfo(), `"stafd": "on the bus: some log pages not known now, kept from before"`) {
			t.Errorf("process_info: %s", r.svc.ProcessInfo())
		}
		// A new DC is taken at once meanwhile.
		other := tid.New(tid.TID{Transport: "tcp", Traddr: "198.51.100.2", SubsysNQN: dcTID.SubsysNQN, HostNQN: testHostNQN}, tid.Discovery, false)
		r.staf.answerAndSignal(answer(known(other, dlpe("198.51.100.10", subB))))
		step()
		b := tid.TID{Transport: "tcp", Traddr: "198.51.100.10", Trsvcid: "4420", SubsysNQN: subB, HostNQN: testHostNQN}
		r.connectedTo("new DC during the settle delay", a, b)
		r.noDisconnects("new DC during the settle delay")
		// The delay ends without any signal: stacd asks again and takes the answer.
		stepFor(SettleDelay)
		if d := r.k.Disconnects(); len(d) != 1 || r.detailsOf(a) != nil || r.detailsOf(b) == nil {
			t.Errorf("after the settle delay: disconnected %v, controllers %v", d, r.controllers())
		}
	})
}

// A slow stafd never holds the service up, and signals that arrive while a call is in
// flight are folded into one more call after it, whose answer is the one taken.
func TestSlowStafdAndRefetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "", nil)
		defer r.stop()
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		calls := r.staf.callCount()
		release := r.staf.block()
		r.staf.events <- StafdChanged
		step() // a pass: its call hangs
		r.staf.events <- StafdChanged
		r.staf.events <- StafdChanged
		step() // another pass wants a call while one is in flight
		if !r.svc.Alive(context.Background()) {
			t.Error("the service does not answer while stafd is slow")
		}
		if n := r.staf.callCount() - calls; n != 1 {
			t.Errorf("%d calls in flight at once, want 1", n)
		}
		r.staf.set(answer(known(dcTID, dlpe("192.0.2.10", subA), dlpe("192.0.2.11", subB))), nil)
		release()
		synctest.Wait()
		if n := r.staf.callCount() - calls; n != 2 {
			t.Errorf("%d calls after the slow one returned, want one more", n)
		}
		r.connectedTo("after the folded call", iocOf("192.0.2.11", subB))
	})
}

// A boot connection (NBFT) stays when its log page entry goes.
func TestBootConnectionKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := iocOf("192.0.2.10", subA)
		boot := []nbft.IOController{{TID: tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "4420", SubsysNQN: subA}}}
		r := newRig(t, "", func(o *Options) { o.Boot = boot })
		defer r.stop()
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		r.connectedTo("listed", a)
		stepFor(SettleDelay)
		r.staf.answerAndSignal(answer(known(dcTID)))
		step()
		if r.detailsOf(a) != nil {
			t.Error("the controller is still managed")
		}
		r.noDisconnects("boot connection no longer listed")
	})
}

func TestNCCConnectAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "[I/O controller connection management]\nconnect-attempts-on-ncc = 2\n", nil)
		defer r.stop()
		r.k.FailConnect(errRefused)
		a := iocOf("192.0.2.10", subA)
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA, "eflags", "4"))))
		if n := len(r.k.Connects()); n != 1 {
			t.Errorf("%d connects at once, want 1", n)
		}
		if d := r.detailsOf(a); d["retry connect timer"] == "" || !strings.HasPrefix(d["retry connect timer"], "3.0s [") || d["dlpe.eflags.ncc"] != "True" {
			t.Errorf("after the first failure: %v", d)
		}
		stepFor(ctrl.FastRetryInterval + time.Second)
		if n := len(r.k.Connects()); n != 2 {
			t.Errorf("%d connects after the 3 s retry, want 2", n)
		}
		stepFor(time.Hour)
		if n := len(r.k.Connects()); n != 2 {
			t.Errorf("%d connects an hour later; want 2: NCC set, connect-attempts-on-ncc = 2", n)
		}
		if d := r.detailsOf(a); d["connect gave up"] == "" || d["device"] != "nvme?" || d["connected"] != "False" {
			t.Errorf("gave up: %v", d)
		}
		// The same entry again with NCC still set changes nothing.
		r.staf.answerAndSignal(answer(known(dcTID, dlpe("192.0.2.10", subA, "eflags", "4"))))
		step()
		if n := len(r.k.Connects()); n != 2 {
			t.Errorf("%d connects after an unchanged answer", n)
		}
		// NCC clears: connect at once.
		r.k.FailConnect(nil)
		r.staf.answerAndSignal(answer(known(dcTID, dlpe("192.0.2.10", subA, "eflags", "0"))))
		synctest.Wait() // no time passes: the answer is taken and the connect made at once
		if n := len(r.k.Connects()); n != 3 {
			t.Errorf("%d connects after NCC cleared, want 3", n)
		}
		r.connectedTo("NCC cleared", a)
		if d := r.detailsOf(a); d["dlpe.eflags.ncc"] != "False" || d["connect gave up"] != "" {
			t.Errorf("after NCC cleared: %v", d)
		}
	})
}

// Without NCC, a failing controller retries forever (3 s, then every 60 s).
func TestRetryWithoutNCC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "[I/O controller connection management]\nconnect-attempts-on-ncc = 2\n", nil)
		defer r.stop()
		r.k.FailConnect(errRefused)
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		stepFor(10 * time.Minute)
		if n := len(r.k.Connects()); n < 10 {
			t.Errorf("%d connects in 10 minutes, want one every 60 s", n)
		}
		d := r.detailsOf(iocOf("192.0.2.10", subA))
		if !strings.HasPrefix(d["retry connect timer"], "60.0s [") || d["connect attempts"] == "1" || d["connect gave up"] != "" {
			t.Errorf("still retrying every 60 s: %v", d)
		}
	})
}

func TestAdoptionAndRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := iocOf("192.0.2.10", subA), iocOf("192.0.2.11", subB)
		state := filepath.Join(t.TempDir(), "run", "last-known-config.json")
		withState := func(o *Options) { o.StatePath = state }
		r := newRig(t, "", withState)
		// A connection to a is there already (made by hand, or by nvme-stas).
		r.k.existing("nvme4", optionsOf(a))
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA), dlpe("192.0.2.11", subB))))
		if dev := r.deviceOf(a); dev != "nvme4" {
			t.Errorf("a is on %q, want the existing nvme4 adopted", dev)
		}
		if c := r.k.Connects(); len(c) != 1 || c[0].Options.TrAddr != "192.0.2.11" {
			t.Errorf("connects %v; want only b's", c)
		}
		devB := r.deviceOf(b)
		r.stop()
		r.noDisconnects("at exit")
		saved, err := os.ReadFile(state)
		if err != nil || !strings.Contains(string(saved), "192.0.2.10") || !strings.Contains(string(saved), "192.0.2.11") {
			t.Fatalf("last known config: %v\n%s", err, saved)
		}

		// A restart with stafd absent: both are adopted from the last known config and
		// kept.
		r2 := newRigOn(t, r.k, "", withState)
		r2.run()
		r2.staf.events <- StafdVanished
		stepFor(10 * time.Minute)
		if d := r2.deviceOf(a); d != "nvme4" {
			t.Errorf("after the restart a is on %q, want nvme4", d)
		}
		if d := r2.deviceOf(b); d != devB {
			t.Errorf("after the restart b is on %q, want %s", d, devB)
		}
		if n := len(r.k.Connects()); n != 1 {
			t.Errorf("%d connects in all; the restart connected again", n)
		}
		r2.noDisconnects("restart without stafd")
		if d := r2.detailsOf(a); !strings.Contains(d["dlpe"], subA) || d["discovery controller"] != dcTID.String() {
			t.Errorf("restored controller's details: %v", d)
		}

		// stafd comes back and lists only a: b goes.
		r2.staf.set(answer(known(dcTID, dlpe("192.0.2.10", subA))), nil)
		r2.staf.events <- StafdAppeared
		stepFor(SettleDelay + 2*time.Second)
		if d := r.k.Disconnects(); len(d) != 1 || d[0] != devB {
			t.Errorf("disconnected %v, want only %s", d, devB)
		}
		r2.stop()
	})
}

func TestRestoreIgnoresBadState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "lkc.json")
	a := iocOf("192.0.2.10", subA)
	for _, text := range []string{
		"{torn",
		`{"version": 99, "controllers": [` + mustJSON(t, a) + `]}`,
		// An entry that stafd would never have given (a host name as traddr) is dropped.
		`{"version": 1, "controllers": [], "log_pages": [{"discovery_controller": ` + mustJSON(t, dcTID) +
			`, "entries": [{"tid": ` + mustJSON(t, a) + `, "dlpe": {"trtype": "tcp", "traddr": "array.example", "trsvcid": "4420", "subnqn": "` + subA + `"}}]}]}`,
	} {
		if err := os.WriteFile(state, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		r := newRig(t, "", func(o *Options) { o.StatePath = state })
		r.k.existing("nvme4", optionsOf(a))
		r.svc.restore()
		if len(r.svc.iocs) != 0 {
			t.Errorf("state %q restored %d controllers", text, len(r.svc.iocs))
		}
		for _, p := range r.svc.pages {
			if len(p.entries) != 0 {
				t.Errorf("state %q restored entries %v", text, p.entries)
			}
		}
	}
	// An unwritable state path is logged, not fatal.
	r := newRig(t, "", func(o *Options) { o.StatePath = filepath.Join(dir, "lkc.json", "not-a-dir", "x.json") })
	r.svc.save()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInterfaceChoiceIsSticky(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &fakeChooser{iface: "eth5"}
		r := newRig(t, "", func(o *Options) { o.Chooser = ch })
		defer r.stop()
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		a := iocOf("192.0.2.10", subA)
		a.HostIface = "eth5"
		if d := r.detailsOf(a); d == nil || d["host-iface reason"] != "test route to 192.0.2.10 via eth5 (parent eth1)" {
			t.Fatalf("controller on the chosen interface: %v (all: %v)", d, r.controllers())
		}
		if c := r.k.Connects(); len(c) != 1 || c[0].Options.HostIface != "eth5" {
			t.Errorf("connects %v", c)
		}
		// The routes change; the live controller stays where it is, a new entry goes
		// where the routes say now.
		ch.set("eth6")
		r.staf.answerAndSignal(answer(known(dcTID, dlpe("192.0.2.10", subA, "eflags", "4"), dlpe("192.0.2.11", subB))))
		step()
		c := iocOf("192.0.2.11", subB)
		c.HostIface = "eth6"
		if r.detailsOf(a) == nil || r.detailsOf(c) == nil || len(r.controllers()) != 2 {
			t.Errorf("controllers %v; want a on eth5 and the new one on eth6", r.controllers())
		}
		if n := ch.callCount(); n != 2 {
			t.Errorf("chooser asked %d times, want once per new entry", n)
		}
		r.noDisconnects("route change")
		if n := len(r.k.Connects()); n != 2 {
			t.Errorf("%d connects, want 2", n)
		}
	})
}

func TestKernelEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "", nil)
		defer r.stop()
		a := iocOf("192.0.2.10", subA)
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		dev := r.deviceOf(a)
		// Someone deletes stacd's connection: stacd reconnects after 3 s.
		if err := r.k.Fake.Disconnect(context.Background(), dev); err != nil {
			t.Fatal(err)
		}
		r.k.event(uevent.ActionRemove, dev)
		synctest.Wait()
		if d := r.deviceOf(a); d != "nvme?" {
			t.Errorf("after the remove event the controller shows %q", d)
		}
		stepFor(ctrl.FastRetryInterval + time.Second)
		if n := len(r.k.Connects()); n != 2 {
			t.Errorf("%d connects; want a reconnect after the remove event", n)
		}
		r.connectedTo("after the reconnect", a)

		// Events were lost and the device is gone meanwhile: the resync finds out.
		dev = r.deviceOf(a)
		r.k.hide(dev, true)
		r.k.uevents <- uevent.Update{Resync: true, Cause: errors.New("ENOBUFS")}
		synctest.Wait()
		r.k.hide(dev, false)
		if err := r.k.Fake.Disconnect(context.Background(), dev); err != nil {
			t.Fatal(err)
		}
		stepFor(ctrl.FastRetryInterval + time.Second)
		if n := len(r.k.Connects()); n != 3 {
			t.Errorf("%d connects; want a reconnect after the resync", n)
		}
		// Events of other subsystems and devices change nothing.
		r.k.uevents <- uevent.Update{Event: uevent.Event{Action: uevent.ActionRemove, Subsystem: "block", DevName: "sda"}}
		r.k.uevents <- uevent.Update{Event: uevent.Event{Action: uevent.ActionRemove, Subsystem: "nvme", DevName: "nvme99"}}
		stepFor(time.Minute)
		if n := len(r.k.Connects()); n != 3 {
			t.Errorf("%d connects after foreign events", n)
		}
		if d := r.k.Disconnects(); len(d) != 2 {
			t.Errorf("disconnects %v; want only the test's own two", d)
		}
	})
}

// A connection whose device is not in sysfs when its update arrives (its remove event
// came first) reconnects.
func TestDeviceGoneBeforeItsUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "", nil)
		defer r.stop()
		a := iocOf("192.0.2.10", subA)
		r.k.hide("nvme0", true)
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		if d := r.deviceOf(a); d != "nvme?" {
			t.Errorf("a device missing from sysfs is taken: %q", d)
		}
		// It shows up: the retry adopts it.
		r.k.hide("nvme0", false)
		stepFor(ctrl.FastRetryInterval + time.Second)
		if d := r.deviceOf(a); d != "nvme0" || len(r.k.Connects()) != 1 {
			t.Errorf("device %q after %d connects; want nvme0 adopted", d, len(r.k.Connects()))
		}
	})
}

func TestConnectOptionsAndHostIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := `[Global]
hdr-digest = true
[Controllers]
controller = transport=tcp;traddr=198.51.100.20;nqn=` + subC + `;host-nqn=` + otherHostNQN + `;host-iface=eth3
`
		k := newKernel()
		sup, err := fabrics.ParseSupported([]byte("instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,hostid=%s,hdr_digest,data_digest,dhchap_secret=%s,dhchap_ctrl_secret=%s\n"))
		if err != nil {
			t.Fatal(err)
		}
		k.SetSupported(sup, nil) // no host_iface: an old kernel
		r := newRigOn(t, k, conf, func(o *Options) { o.SysConf = sysConf(t, "key = "+testSecret+"\nsymname = lab\n") })
		defer r.stop()
		r.start(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		if n := len(r.k.Connects()); n != 2 {
			t.Fatalf("%d connects", n)
		}
		for _, c := range r.k.Connects() {
			o := c.Options
			if o.HostIface != "" || !o.HdrDigest {
				t.Errorf("%s: host-iface %q, hdr-digest %v", o.TrAddr, o.HostIface, o.HdrDigest)
			}
			switch o.TrAddr {
			case "198.51.100.20":
				if o.HostNQN != otherHostNQN || o.HostID != "" || o.DHCHAPSecret != "" {
					t.Errorf("own host NQN: %q, host ID %q, host key used %v; want its NQN without the system's host ID and key",
						o.HostNQN, o.HostID, o.DHCHAPSecret != "")
				}
			case "192.0.2.10":
				if o.HostNQN != testHostNQN || o.HostID != testHostID || o.DHCHAPSecret != testSecret {
					t.Errorf("system host: %q %q, host key used %v", o.HostNQN, o.HostID, o.DHCHAPSecret == testSecret)
				}
			}
		}
		info := r.svc.ProcessInfo()
		for _, want := range []string{`"hostkey": "(set)"`, `"symname": "lab"`, `"kernel support.host_iface": "False"`} {
			if !strings.Contains(info, want) {
				t.Errorf("process_info lacks %s: %s", want, info)
			}
		}
		if strings.Contains(info, "DHHC-1") {
			t.Errorf("process_info shows the host key: %s", info)
		}
	})
}

func TestReloadTronAndAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "[Global]\ntron = true\n", nil)
		if !r.svc.Tron() || r.svc.LogLevel() != "DEBUG" {
			t.Errorf("tron from the file: %v %s", r.svc.Tron(), r.svc.LogLevel())
		}
		r.start(`[]`)
		if !r.svc.Alive(context.Background()) {
			t.Error("the running service does not answer Alive")
		}
		r.svc.SetTron(false)
		if r.svc.Tron() || r.svc.LogLevel() != "INFO" {
			t.Errorf("after SetTron(false): %v %s", r.svc.Tron(), r.svc.LogLevel())
		}
		writeConf(t, r.conf, "[Global]\nignore-iface = true\ntron = true\n")
		r.svc.Reload()
		r.svc.Reload() // a second SIGHUP before the first is taken is folded into it
		step()
		if !r.svc.IgnoreIface() || !r.svc.Tron() {
			t.Errorf("after the reload: ignore-iface %v, tron %v", r.svc.IgnoreIface(), r.svc.Tron())
		}
		// An unreadable file keeps the last good configuration.
		if err := os.Remove(r.conf); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(r.conf, 0o755); err != nil {
			t.Fatal(err)
		}
		r.svc.Reload()
		step()
		if !r.svc.IgnoreIface() || !r.svc.Tron() {
			t.Error("a bad reload lost the last good configuration")
		}
		r.stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if r.svc.Alive(ctx) {
			t.Error("a stopped service answers Alive")
		}
		cancel()
	})
}

// Ready is called once the service runs; without stafd, stacd works from its
// configuration and says so.
func TestWithoutStafd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ready := 0
		r := newRig(t, "[Controllers]\ncontroller = transport=tcp;traddr=198.51.100.20;nqn="+subC+"\n",
			func(o *Options) { o.Stafd = nil; o.Ready = func() { ready++ } })
		r.run()
		step()
		if ready != 1 || len(r.k.Connects()) != 1 {
			t.Errorf("ready called %d times, %d connects", ready, len(r.k.Connects()))
		}
		if !strings.Contains(r.svc.ProcessInfo(), `"stafd": "not followed"`) {
			t.Errorf("process_info: %s", r.svc.ProcessInfo())
		}
		r.stop()
		r.noDisconnects("exit")
	})
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Options{ConfPath: dir}); err == nil {
		t.Error("a directory as the configuration file was accepted")
	}
	// A kernel that cannot say what it supports: the defaults apply.
	k := newKernel()
	k.SetSupported(fabrics.Supported{}, errors.New("no /dev/nvme-fabrics"))
	svc, err := New(Options{ConfPath: filepath.Join(dir, "absent.conf"), Host: k})
	if err != nil {
		t.Fatal(err)
	}
	if !svc.supported.Has(fabrics.OptHostIface) {
		t.Error("the default option set lacks host_iface")
	}
	if got := svc.ListControllers(true); got == nil || len(got) != 0 {
		t.Errorf("list_controllers before Run = %v", got)
	}
}

// ReadInterfaces reads the host's interfaces: the loopback interface is always there.
func TestReadInterfaces(t *testing.T) {
	ifs, err := ReadInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	if got := ifs.InterfaceOf(mustAddr("127.0.0.1")); got != "lo" {
		t.Errorf("127.0.0.1 is on %q", got)
	}
}
