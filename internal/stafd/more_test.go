// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

const (
	testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9"
	testHostID  = "56529e15-0f3e-4ede-87e2-63932a4adb99"
	testSecret  = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:"
)

func sysConf(t *testing.T, extra string) *config.SysConf {
	t.Helper()
	sc, _, err := config.ParseSysConf(fstest.MapFS{}, "sys.conf", []byte("[Host]\nnqn = "+testHostNQN+"\nid = "+testHostID+"\n"+extra))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// run starts a service and returns it with a stop function.
func run(t *testing.T, opts Options) (*Service, func()) {
	t.Helper()
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.Run(ctx) }()
	return svc, func() { cancel(); <-done }
}

func TestExclusionsAndAddressFamilies(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, `[Global]
ip-family = ipv4
[Controllers]
controller = transport=tcp;traddr=192.0.2.2
controller = transport=tcp;traddr=192.0.2.3
controller = transport=tcp;traddr=2001:db8::2
exclude = traddr=192.0.2.3
`)
	f := newFabric()
	svc, stop := run(t, Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open})
	defer stop()
	waitFor(t, "the one allowed controller", func() bool { return len(svc.ListControllers(false)) == 1 })
	if got := svc.ListControllers(false)[0]["traddr"]; got != "192.0.2.2" {
		t.Errorf("managed %s, want only 192.0.2.2 (one excluded, one ruled out by ip-family)", got)
	}
}

func TestConnectOptions(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, `[Global]
kato = 45
hdr-digest = true
[Controllers]
controller = transport=tcp;traddr=192.0.2.2;host-iface=eth1;dhchap-ctrl-secret=`+testSecret+`;reconnect-delay=7;ctrl-loss-tmo=-1
controller = transport=tcp;traddr=192.0.2.4;nqn=nqn.2014-08.org.example:unique-dc;host-nqn=nqn.2014-08.org.example:boot-host
`)
	f := newFabric()
	sup, err := fabrics.ParseSupported([]byte("instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,hostid=%s,hdr_digest,data_digest,dhchap_secret=%s,dhchap_ctrl_secret=%s\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.host.SetSupported(sup, nil) // no host_iface, no discovery option: an older kernel
	svc, stop := run(t, Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open, SysConf: sysConf(t, "key = "+testSecret+"\nsymname = lab\n")})
	defer stop()
	waitFor(t, "two connects", func() bool { return len(f.host.Connects()) == 2 })
	for _, c := range f.host.Connects() {
		o := c.Options
		if o.KeepAliveTmo != fabrics.IntOf(45) || !o.HdrDigest || o.HostIface != "" {
			t.Errorf("%s: kato %v, hdr-digest %v, host-iface %q; want 45, true and no host-iface (kernel lacks it)", o.TrAddr, o.KeepAliveTmo, o.HdrDigest, o.HostIface)
		}
		switch o.TrAddr {
		case "192.0.2.2":
			if o.DHCHAPCtrlSecret != testSecret || o.DHCHAPSecret != testSecret || o.ReconnectDelay != fabrics.IntOf(7) ||
				o.CtrlLossTmo != fabrics.IntOf(-1) || o.HostNQN != testHostNQN || o.HostID != testHostID {
				t.Errorf("configured options not passed: %#v", o)
			}
		case "192.0.2.4":
			if o.SubsysNQN != nqn.WellKnownDiscovery {
				t.Errorf("unique NQN %q used on a kernel without the discovery option", o.SubsysNQN)
			}
			if o.HostNQN != "nqn.2014-08.org.example:boot-host" || o.HostID != "" {
				t.Errorf("own host NQN: hostnqn %q hostid %q; want its own NQN and no system host ID", o.HostNQN, o.HostID)
			}
		}
	}
	info := svc.ProcessInfo()
	for _, want := range []string{`"hostkey": "(set)"`, `"symname": "lab"`, `"kernel support.TP8013": "False"`, `"hostnqn": "` + testHostNQN + `"`} {
		if !strings.Contains(info, want) {
			t.Errorf("process_info lacks %s: %s", want, info)
		}
	}
	if strings.Contains(info, "DHHC-1") {
		t.Errorf("process_info shows a secret: %s", info)
	}
	for _, c := range svc.ListControllers(true) {
		for k, v := range c {
			if strings.Contains(v, "DHHC-1") {
				t.Errorf("list_controllers shows a secret in %s", k)
			}
		}
	}
}

func TestAnswersAndReload(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.2\n")
	f := newFabric()
	f.set("192.0.2.2", subsystem("192.0.2.2", "nqn.2014-08.org.example:one"))
	svc, stop := run(t, Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open, SysConf: sysConf(t, "")})
	defer stop()
	dc := tid.TID{Transport: "tcp", Traddr: "192.0.2.2", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostNQN: testHostNQN}
	waitFor(t, "the log page", func() bool { return len(svc.GetLogPages(dc)) == 1 })
	if got := svc.GetLogPages(dc)[0]; got["subnqn"] != "nqn.2014-08.org.example:one" || got["trtype"] != "tcp" || got["subtype"] != "nvme" {
		t.Errorf("get_log_pages entry = %v", got)
	}
	if n := len(svc.GetLogPages(tid.TID{Transport: "tcp", Traddr: "192.0.2.99"})); n != 0 {
		t.Errorf("unknown controller: %d entries", n)
	}
	var info map[string]string
	if err := json.Unmarshal([]byte(svc.ControllerInfo(dc)), &info); err != nil || info["origin"] != "configured" || info["device"] == "" {
		t.Errorf("controller_info = %v, %v", info, err)
	}
	if got := svc.ControllerInfo(tid.TID{Transport: "tcp"}); got != "{}" {
		t.Errorf("controller_info of an unknown controller = %s", got)
	}
	if svc.Tron() || svc.LogLevel() != "INFO" {
		t.Errorf("tron %v level %s at start", svc.Tron(), svc.LogLevel())
	}
	svc.SetTron(true)
	if !svc.Tron() || svc.LogLevel() != "DEBUG" {
		t.Errorf("tron %v level %s after SetTron", svc.Tron(), svc.LogLevel())
	}

	// A reload with tron off in the file and the controller gone: tron follows the file and
	// the controller is removed and deleted.
	writeConf(t, conf, "[Global]\nignore-iface = true\n")
	svc.Reload()
	waitFor(t, "the removal after the reload", func() bool { return len(svc.ListControllers(false)) == 0 && len(f.host.Disconnects()) == 1 })
	if svc.Tron() || !svc.IgnoreIface() {
		t.Errorf("after reload: tron %v, ignore-iface %v", svc.Tron(), svc.IgnoreIface())
	}
	// An unreadable file keeps the last good configuration.
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	svc.Reload()
	if !svc.Alive(context.Background()) || !svc.IgnoreIface() {
		t.Error("a bad reload lost the last good configuration")
	}
}

func TestRestoreRepublishesAtOnce(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.2\n")
	state := filepath.Join(dir, "run", "last-known-config.json")
	f := newFabric()
	f.set("192.0.2.2", subsystem("192.0.2.2", "nqn.2014-08.org.example:one"))
	svc, stop := run(t, Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open, StatePath: state, SysConf: sysConf(t, "")})
	dc := tid.TID{Transport: "tcp", Traddr: "192.0.2.2", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostNQN: testHostNQN}
	waitFor(t, "the log page", func() bool { return len(svc.GetLogPages(dc)) == 1 })
	stop()

	// The next start publishes the cached page before any connect: the kernel refuses
	// everything now, yet the page is there.
	f2 := newFabric()
	f2.host.FailConnect(os.ErrDeadlineExceeded)
	svc2, err := New(Options{ConfPath: conf, Host: f2.host, OpenAdmin: f2.open, StatePath: state, SysConf: sysConf(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	// New restored it: the page is there before Run, that is before stafd is on the bus.
	if got := svc2.GetLogPages(dc); len(got) != 1 || got[0]["subnqn"] != "nqn.2014-08.org.example:one" {
		t.Errorf("restored log pages = %v", got)
	}
	for _, d := range svc2.dcs {
		if d.c != nil {
			t.Errorf("%s: a controller started before Run", d.tid)
		}
	}
	if n := len(f2.host.Connects()); n != 0 {
		t.Errorf("New connected %d controllers", n)
	}

	// A corrupt or foreign state file is ignored.
	for _, text := range []string{"{torn", `{"version": 99, "controllers": []}`} {
		if err := os.WriteFile(state, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		svc3, err := New(Options{ConfPath: conf, Host: f2.host, OpenAdmin: f2.open, StatePath: state})
		if err != nil {
			t.Fatal(err)
		}
		if len(svc3.dcs) != 0 {
			t.Errorf("state %q restored %d controllers", text, len(svc3.dcs))
		}
	}
}

func TestResyncAndHandOff(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stafd.conf")
	writeConf(t, conf, "[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.2\n")
	f := newFabric()
	f.set("192.0.2.2", subsystem("192.0.2.2", "nqn.2014-08.org.example:one"))
	calls := filepath.Join(dir, "systemctl.log")
	systemctl := filepath.Join(dir, "systemctl")
	if err := os.WriteFile(systemctl, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sysfsFS := &lockedFS{m: fstest.MapFS{
		"class/nvme/nvme7/subsysnqn": {Data: []byte(nqn.WellKnownDiscovery + "\n")},
		"class/nvme/nvme7/cntrltype": {Data: []byte("discovery\n")},
		"class/nvme/nvme7/transport": {Data: []byte("tcp\n")},
		"class/nvme/nvme0/transport": {Data: []byte("tcp\n")}, // ours, once connected
	}}
	uevents := make(chan uevent.Update, 4)
	svc, stop := run(t, Options{ConfPath: conf, Host: f.host, OpenAdmin: f.open, Uevents: uevents, Sysfs: sysfsFS,
		Systemctl: systemctl, RuleDir: filepath.Join(dir, "rules.d")})
	defer stop()
	waitFor(t, "the controller", func() bool {
		l := svc.ListControllers(false)
		return len(l) == 1 && l[0]["device"] != "nvme?"
	})
	if _, err := os.Stat(filepath.Join(dir, "rules.d", RuleFile)); err != nil {
		t.Errorf("the udev rule override was not written: %v", err)
	}
	// A change notice of a discovery controller stafd does not own goes to nvme-cli.
	uevents <- uevent.Update{Event: uevent.Event{Action: uevent.ActionChange, Subsystem: "nvme", DevName: "nvme7",
		Env: map[string]string{"NVME_AEN": "0x70f002", "NVME_HOST_IFACE": "eth1"}}}
	waitFor(t, "the hand-off to nvme-cli", func() bool {
		b, _ := os.ReadFile(calls)
		return strings.Contains(string(b), `--quiet --no-block restart nvmf-connect@--device\x3dnvme7\x09--host-iface\x3deth1.service`)
	})
	// Lost events: our controller's device is gone from sysfs, so it reconnects.
	sysfsFS.remove("class/nvme/nvme0/transport")
	connects := len(f.host.Connects())
	uevents <- uevent.Update{Resync: true, Cause: os.ErrClosed}
	waitFor(t, "a reconnect after the resync", func() bool { return len(f.host.Connects()) > connects })
}

// lockedFS is a MapFS a test may change while the service reads it.
type lockedFS struct {
	mu sync.Mutex
	m  fstest.MapFS
}

func (l *lockedFS) Open(name string) (fs.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Open(name)
}

func (l *lockedFS) remove(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, name)
}
