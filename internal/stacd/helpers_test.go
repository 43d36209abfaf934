// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/fabrics/fabricstest"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

const (
	testHostNQN  = "nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9"
	testHostID   = "56529e15-0f3e-4ede-87e2-63932a4adb99"
	otherHostNQN = "nqn.2014-08.org.example:boot-host"
	testSecret   = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:"
	subA         = "nqn.2014-08.org.example:subsys-a"
	subB         = "nqn.2014-08.org.example:subsys-b"
	subC         = "nqn.2014-08.org.example:subsys-c"
)

// errRefused is what the kernel answers for a target that refuses the connection.
var errRefused = fabrics.WriteErrno(syscall.ECONNREFUSED)

func sysConf(t *testing.T, extra string) *config.SysConf {
	t.Helper()
	sc, _, err := config.ParseSysConf(fstest.MapFS{}, "sys.conf", []byte("[Host]\nnqn = "+testHostNQN+"\nid = "+testHostID+"\n"+extra))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func writeConf(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kernel is a fake kernel: fabricstest.Fake for /dev/nvme-fabrics, a sysfs view of its
// live controllers (class/nvme/nvmeN/...) as an fs.FS, and the add/remove uevents its
// connects and deletes cause.
type kernel struct {
	*fabricstest.Fake
	uevents chan uevent.Update

	mu sync.Mutex
	// attrs override sysfs attributes of a device; "" removes the attribute.
	attrs map[string]map[string]string
	// hidden devices are live in the fake but not (yet, or no longer) in sysfs.
	hidden map[string]bool
}

func newKernel() *kernel {
	return &kernel{Fake: fabricstest.New(), uevents: make(chan uevent.Update, 1024),
		attrs: map[string]map[string]string{}, hidden: map[string]bool{}}
}

var _ fabrics.Host = (*kernel)(nil)

// Connect implements fabrics.Host and announces the new device as the kernel does.
func (k *kernel) Connect(ctx context.Context, o fabrics.Options) (fabrics.Reply, []string, error) {
	r, omitted, err := k.Fake.Connect(ctx, o)
	if err == nil {
		k.event(uevent.ActionAdd, r.Device())
	}
	return r, omitted, err
}

// Disconnect implements fabrics.Host and announces the removal.
func (k *kernel) Disconnect(ctx context.Context, device string) error {
	err := k.Fake.Disconnect(ctx, device)
	if err == nil {
		k.event(uevent.ActionRemove, device)
	}
	return err
}

func (k *kernel) event(action uevent.Action, device string) {
	select {
	case k.uevents <- uevent.Update{Event: uevent.Event{Action: action, Subsystem: "nvme", DevName: device}}:
	default:
		panic("fake kernel: uevent buffer full")
	}
}

// existing adds a connection made before the test (by a previous stacd, by hand, by
// the firmware), with sysfs attribute overrides as key, value pairs.
func (k *kernel) existing(device string, o fabrics.Options, attrs ...string) {
	k.mu.Lock()
	m := map[string]string{}
	for i := 0; i+1 < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	k.attrs[device] = m
	k.mu.Unlock()
	k.AddLive(device, o)
}

func (k *kernel) hide(device string, hidden bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hidden[device] = hidden
}

// Open implements fs.FS: sysfs as the live controllers make it.
func (k *kernel) Open(name string) (fs.File, error) { return k.sysfs().Open(name) }

func (k *kernel) sysfs() fstest.MapFS {
	live := k.Live()
	k.mu.Lock()
	defer k.mu.Unlock()
	m := fstest.MapFS{}
	for dev, o := range live {
		if k.hidden[dev] {
			continue
		}
		addr := "traddr=" + o.TrAddr
		if o.TrSvcID != "" {
			addr += ",trsvcid=" + o.TrSvcID
		}
		if o.HostTrAddr != "" {
			addr += ",host_traddr=" + o.HostTrAddr
		}
		if o.HostIface != "" {
			addr += ",host_iface=" + o.HostIface
		}
		cntrltype := "io"
		if o.Discovery || o.SubsysNQN == nqn.WellKnownDiscovery {
			cntrltype = "discovery"
		}
		attrs := map[string]string{
			"transport": string(o.Transport), "address": addr, "subsysnqn": o.SubsysNQN, "state": "live",
			"cntrltype": cntrltype, "dctype": "none", "hostnqn": o.HostNQN, "hostid": o.HostID,
			"model": "Linux", "serial": "c0ffee" + dev,
		}
		maps.Copy(attrs, k.attrs[dev])
		for a, v := range attrs {
			if v != "" {
				m["class/nvme/"+dev+"/"+a] = &fstest.MapFile{Data: []byte(v + "\n"), Mode: 0o444}
			}
		}
	}
	return m
}

// fakeStafd is stafd on the bus as stacd sees it: the test sends its events and sets its
// get_all_log_pages(true) answer.
type fakeStafd struct {
	events chan StafdEvent

	mu     sync.Mutex
	answer string
	err    error
	calls  int
	gate   chan struct{}
}

func newFakeStafd() *fakeStafd { return &fakeStafd{events: make(chan StafdEvent, 16), answer: "[]"} }

func (f *fakeStafd) Events() <-chan StafdEvent { return f.events }

func (f *fakeStafd) AllLogPages(ctx context.Context) (string, error) {
	f.mu.Lock()
	f.calls++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.answer, f.err
}

// set changes the answer (and error) of later calls.
func (f *fakeStafd) set(answer string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.err = answer, err
}

func (f *fakeStafd) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// block makes later calls wait until the returned function is called.
func (f *fakeStafd) block() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.gate = nil
		f.mu.Unlock()
		close(gate)
	}
}

// answerAndSignal sets the answer and signals a change, as stafd's log_pages_changed.
func (f *fakeStafd) answerAndSignal(answer string) {
	f.set(answer, nil)
	f.events <- StafdChanged
}

// dcTID is the discovery controller of most tests: configured in stafd with a
// host-iface, on the system host NQN.
var dcTID = tid.New(tid.TID{Transport: tid.TCP, Traddr: "192.0.2.2", SubsysNQN: nqn.WellKnownDiscovery,
	HostIface: "eth1", HostNQN: testHostNQN}, tid.Discovery, false)

var (
	yes = true
	no  = false
	// Operation states of stafd's "get log page operation".
	opDone    = &dbusapi.Operation{Completed: &yes, Alive: true}
	opRunning = &dbusapi.Operation{Completed: &no, Alive: true}
	opFailed  = &dbusapi.Operation{FailCount: 1, Completed: &yes, Alive: true, RetryTimer: "20.0s [19.9s]", Error: "connection reset"}
)

// dcAnswer is one discovery controller of a get_all_log_pages(true) answer.
type dcAnswer struct {
	tid       tid.TID
	connected bool
	logOp     *dbusapi.Operation
	entries   []map[string]string
	// register and supported are the DC's other operations, nil when it has none.
	register, supported *dbusapi.Operation
}

// known is a connected DC whose log page read completed with these entries.
func known(t tid.TID, entries ...map[string]string) dcAnswer {
	return dcAnswer{tid: t, connected: true, logOp: opDone, entries: entries}
}

// answer renders get_all_log_pages(true) as stafd (ours or nvme-stas) does.
func answer(dcs ...dcAnswer) string {
	list := []dbusapi.DCLogPages{}
	for _, d := range dcs {
		c := dbusapi.Controller{TID: d.tid, Connected: d.connected,
			RetryConnectTimer: dbusapi.TimerString(60*time.Second, false, 0),
			DC: &dbusapi.DCState{Origin: dbusapi.OriginConfigured, GetLogPage: d.logOp, Register: d.register,
				GetSupportedLogPage: d.supported}}
		if d.connected {
			c.Device = "nvme9"
			c.Sysfs = dbusapi.SysfsAttributes{HostNQN: d.tid.HostNQN, HostID: testHostID, CntrlType: "discovery", DCType: "ddc"}
		}
		list = append(list, dbusapi.DCLogPages{Controller: c, LogPages: d.entries})
	}
	return dbusapi.AllLogPagesJSON(list, true)
}

// dlpe is an NVMe subsystem log page entry as stafd publishes it (every value a string);
// kv overrides or adds fields, and a "" value removes one.
func dlpe(traddr, subnqn string, kv ...string) map[string]string {
	d := map[string]string{
		"trtype": "tcp", "adrfam": "ipv4", "traddr": traddr, "trsvcid": "4420", "subnqn": subnqn,
		"subtype": "nvme", "treq": "not specified", "tsas": "{'sectype': 'none'}", "portid": "1",
		"cntlid": "65535", "asqsz": "32", "eflags": "0",
	}
	if a, err := netip.ParseAddr(traddr); err == nil && a.Is6() {
		d["adrfam"] = "ipv6"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(d, kv[i])
		} else {
			d[kv[i]] = kv[i+1]
		}
	}
	return d
}

// iocOf is the I/O controller an entry of dcTID stands for.
func iocOf(traddr, subnqn string) tid.TID {
	return tid.New(tid.TID{Transport: tid.TCP, Traddr: traddr, Trsvcid: "4420", SubsysNQN: subnqn,
		HostIface: dcTID.HostIface, HostNQN: testHostNQN}, tid.IO, false)
}

// optionsOf are the kernel options of a connection to t (as stacd would make it).
func optionsOf(t tid.TID) fabrics.Options {
	return fabrics.Options{Transport: fabrics.Transport(t.Transport), TrAddr: t.Traddr, TrSvcID: t.Trsvcid,
		SubsysNQN: t.SubsysNQN, HostTrAddr: t.HostTraddr, HostIface: t.HostIface, HostNQN: t.HostNQN, HostID: testHostID}
}

// fakeChooser picks the interface of every new entry and records the calls.
type fakeChooser struct {
	mu    sync.Mutex
	iface string
	calls []netip.Addr
}

func (c *fakeChooser) ChooseIface(configured, parent string, dst netip.Addr) (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, dst)
	return c.iface, "test route to " + dst.String() + " via " + c.iface + " (parent " + parent + ")"
}

func (c *fakeChooser) set(iface string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.iface = iface
}

func (c *fakeChooser) callCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// rig is a running service with its fakes.
type rig struct {
	t     *testing.T
	dir   string
	conf  string
	k     *kernel
	staf  *fakeStafd
	svc   *Service
	done  chan error
	stopF context.CancelFunc
}

// newRig writes conf and builds (but does not run) a service on a fake kernel and a fake
// stafd; opts adjusts the options. Inside a synctest bubble, everything it makes belongs
// to the bubble.
func newRig(t *testing.T, conf string, opts func(*Options)) *rig {
	t.Helper()
	return newRigOn(t, newKernel(), conf, opts)
}

// newRigOn is newRig on a kernel the test prepared (or shares with an earlier rig).
func newRigOn(t *testing.T, k *kernel, conf string, opts func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), k: k, staf: newFakeStafd()}
	r.conf = filepath.Join(r.dir, "stacd.conf")
	writeConf(t, r.conf, conf)
	o := Options{ConfPath: r.conf, Host: r.k, Sysfs: r.k, Uevents: r.k.uevents, SysConf: sysConf(t, ""), Stafd: r.staf}
	if opts != nil {
		opts(&o)
	}
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	return r
}

// run starts the service.
func (r *rig) run() *rig {
	ctx, cancel := context.WithCancel(context.Background())
	r.done, r.stopF = make(chan error, 1), cancel
	go func() { r.done <- r.svc.Run(ctx) }()
	return r
}

// stop ends the service and waits for it.
func (r *rig) stop() {
	r.stopF()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run: %v", err)
	}
}

// controllers returns list_controllers(false) by TID text.
func (r *rig) controllers() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, c := range r.svc.ListControllers(false) {
		out[tid.FromDict(c, tid.IO, false).String()] = c
	}
	return out
}

// detailsOf returns list_controllers(true)'s dict of t, nil when not listed.
func (r *rig) detailsOf(t tid.TID) map[string]string {
	for _, c := range r.svc.ListControllers(true) {
		if tid.FromDict(c, tid.IO, false) == t {
			return c
		}
	}
	return nil
}

// deviceOf returns t's device as list_controllers shows it, "" when not listed.
func (r *rig) deviceOf(t tid.TID) string {
	if c := r.detailsOf(t); c != nil {
		return c["device"]
	}
	return ""
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// waitFor polls cond (real time) for up to 10 s.
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
