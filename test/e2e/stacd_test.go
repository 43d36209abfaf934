// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/uevent"
	"github.com/nvme-stas-go/stas/test/cdcsim"
	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

// ioConverge bounds how long the daemons may take to connect what they should, under TCG.
const ioConverge = 90 * time.Second

// ioControllers lists the kernel's fabrics I/O controllers by subsystem NQN.
func ioControllers(t *testing.T) map[string][]sysfs.Controller {
	t.Helper()
	ctrls, err := sysfs.ReadControllers(sysfs.FS())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]sysfs.Controller{}
	for _, c := range ctrls {
		if c.IsFabrics() && c.IsIO() && !strings.HasPrefix(c.State, "deleting") {
			out[c.SubsysNQN] = append(out[c.SubsysNQN], c)
		}
	}
	return out
}

// waitIO waits until every subsystem in nqns has exactly one live I/O controller and
// returns them by subsystem.
func waitIO(t *testing.T, timeout time.Duration, nqns ...string) map[string]sysfs.Controller {
	t.Helper()
	var got map[string][]sysfs.Controller
	ok := topo.Eventually(timeout, func() bool {
		got = ioControllers(t)
		for _, n := range nqns {
			if len(got[n]) != 1 || got[n][0].State != "live" {
				return false
			}
		}
		return true
	})
	if !ok {
		for _, n := range nqns {
			t.Logf("%s: %+v", n, got[n])
		}
		t.Fatalf("not every subsystem has exactly one live I/O controller within %v", timeout)
	}
	out := map[string]sysfs.Controller{}
	for _, n := range nqns {
		out[n] = got[n][0]
	}
	return out
}

// waitNoIO waits until nqn has no I/O controller.
func waitNoIO(t *testing.T, timeout time.Duration, nqn string) {
	t.Helper()
	if !topo.Eventually(timeout, func() bool { return len(ioControllers(t)[nqn]) == 0 }) {
		t.Fatalf("%s still connected after %v: %+v", nqn, timeout, ioControllers(t)[nqn])
	}
}

// forgetIOControllers deletes, at cleanup, the I/O connections stacd leaves behind (it
// never disconnects when it stops).
func forgetIOControllers(t *testing.T, nqns ...string) {
	t.Cleanup(func() {
		// Concurrently: one by one, 200 deletes take minutes under TCG.
		var wg sync.WaitGroup
		for _, n := range nqns {
			for _, c := range ioControllers(t)[n] {
				wg.Go(func() {
					_ = os.WriteFile(filepath.Join("/sys/class/nvme", c.Name, "delete_controller"), []byte("1"), 0o200)
				})
			}
		}
		wg.Wait()
	})
}

// kernelEvents records the nvme add and remove events the kernel sends from now on.
type kernelEvents struct {
	mu      sync.Mutex
	added   []string
	removed []string
}

func watchKernelEvents(t *testing.T) *kernelEvents {
	t.Helper()
	k := &kernelEvents{}
	mon := newMonitor(t)
	go func() {
		for u := range mon.Updates() {
			if u.Resync {
				t.Errorf("kernel events lost: %v", u.Cause)
				continue
			}
			n, ok := u.Event.NVMe()
			if !ok {
				continue
			}
			k.mu.Lock()
			switch n.Kind {
			case uevent.NVMeAdd:
				k.added = append(k.added, n.Device)
			case uevent.NVMeRemove:
				k.removed = append(k.removed, n.Device)
			}
			k.mu.Unlock()
		}
	}()
	return k
}

// removedSince returns the devices removed since mark (a count of removals).
func (k *kernelEvents) removedSince(mark int) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.removed[mark:])
}

func (k *kernelEvents) marks() (added, removed int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.added), len(k.removed)
}

func (k *kernelEvents) addedSince(mark int) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.added[mark:])
}

// expectNoRemoval fails if any of devs was removed since mark.
func expectNoRemoval(t *testing.T, k *kernelEvents, mark int, what string, devs ...string) {
	t.Helper()
	for _, d := range k.removedSince(mark) {
		if slices.Contains(devs, d) {
			t.Errorf("%s: %s was disconnected", what, d)
		}
	}
}

func names(m map[string]sysfs.Controller) []string {
	var out []string
	for _, c := range m {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func signal(t *testing.T, p *daemonProc, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// stacctl runs stacctl with args and returns its output.
func stacctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repo(), "build", "bin", "stacctl"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("stacctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// fabricsIO returns the options of a plain I/O connection.
func fabricsIO(traddr, trsvcid, subnqn string) fabrics.Options {
	return fabrics.Options{Transport: fabrics.TransportTCP, TrAddr: traddr, TrSvcID: trsvcid, SubsysNQN: subnqn}
}

// nccFlag is the NCC bit of a log entry's eflags.
const nccFlag = 4

func cdcsimEntry(subnqn, traddr, trsvcid string, eflags nvme.EntryFlags) nvme.Entry {
	e := cdcsim.SubsystemEntry(subnqn, traddr, trsvcid, 1)
	e.EFlags = eflags
	return e
}

func cdcsimEntries(e ...nvme.Entry) []nvme.Entry { return e }

func cdcsimConfig(e ...nvme.Entry) cdcsim.Config {
	return cdcsim.Config{DCType: nvme.DCTypeCDC, Entries: e}
}

// stacctlPoll is stacctl for polling loops: "" while stacd does not answer yet.
func stacctlPoll(args ...string) string {
	out, err := exec.Command(filepath.Join(repo(), "build", "bin", "stacctl"), args...).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// checkAddress checks the interface and source address a controller is bound to.
func checkAddress(t *testing.T, c sysfs.Controller, iface, src string) {
	t.Helper()
	if c.Address.HostIface != iface {
		t.Errorf("%s (%s): host_iface %q, want %s: address %q", c.Name, c.SubsysNQN, c.Address.HostIface, iface, c.AddressText)
	}
	if c.Address.SrcAddr != "" && c.Address.SrcAddr != src {
		t.Errorf("%s (%s): src_addr %s, want %s", c.Name, c.SubsysNQN, c.Address.SrcAddr, src)
	}
}

// TestStacdMDNSReferral: from a cold start with a discovery controller announced by mDNS
// and a referral to a port on another subnet, stacd connects every subsystem of both
// log pages once, each on the interface that reaches it; a subsystem linked on the
// target is connected and unlinked is disconnected; a foreign connection is left alone
// in the default scope and removed by the audit scope; no-disconnect keeps an unlinked
// subsystem's connection.
func TestStacdMDNSReferral(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	p1 := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	p2 := l.target.TCPPort(2, l.b.PeerAddr, "8009")
	sub := func(name string) *topo.Subsystem { return l.target.Subsystem("nqn.2014-08.org.example:"+name, "") }
	s1, s2, s3, s4, foreign := sub("cold-1"), sub("cold-2"), sub("cold-3"), sub("linked-4"), sub("foreign-5")
	p1.Link(s1)
	p1.Link(s2)
	p1.Link(foreign)
	p2.Link(s3)
	p1.Referral("to-port-2", l.b.PeerAddr, "8009", 2)
	forgetIOControllers(t, s1.NQN, s2.NQN, s3.NQN, s4.NQN, foreign.NQN)
	events := watchKernelEvents(t)

	topo.StartAvahi(t)
	responder := topo.StartResponder(t, l.ns, topo.ResponderConfig{HostName: "tgt", Interfaces: []string{l.a.Peer}, IPv4: true})
	announceDC(responder, "nvme-dc-a", 8009)
	startMDNSStafd(t, l.a.PeerAddr, l.b.PeerAddr)

	conf := filepath.Join(t.TempDir(), "stacd.conf")
	exclude := "[Controllers]\nexclude = subsysnqn=" + foreign.NQN + "\n"
	writeFile(t, conf, exclude)
	start := time.Now()
	stacd := startDaemon(t, "stacd", "-f", conf)
	live := waitIO(t, ioConverge, s1.NQN, s2.NQN, s3.NQN)
	t.Logf("cold start: three subsystems connected after %v", time.Since(start).Round(100*time.Millisecond))
	checkAddress(t, live[s1.NQN], l.a.Host, l.a.HostAddr)
	checkAddress(t, live[s2.NQN], l.a.Host, l.a.HostAddr)
	checkAddress(t, live[s3.NQN], l.b.Host, l.b.HostAddr)
	if ls := stacctl(t, "ls", "-d"); !strings.Contains(ls, "'host-iface reason'") || !strings.Contains(ls, s3.NQN) {
		t.Errorf("stacctl ls -d does not show the interface choice:\n%s", ls)
	}
	_, removedMark := events.marks()

	// A subsystem linked on the target is connected; unlinked, disconnected.
	start = time.Now()
	p1.Link(s4)
	waitIO(t, ioConverge, s4.NQN)
	t.Logf("linked subsystem connected after %v", time.Since(start).Round(10*time.Millisecond))
	p1.Unlink(s4)
	waitNoIO(t, ioConverge, s4.NQN)

	// A foreign connection is left alone by the default scope...
	dev := nvmeCLIConnect(t, "-t", "tcp", "-a", l.a.PeerAddr, "-s", "8009", "-n", foreign.NQN)
	time.Sleep(5 * time.Second)
	if got := ioControllers(t)[foreign.NQN]; len(got) != 1 || got[0].Name != dev {
		t.Fatalf("default scope: the foreign connection %s is not left alone: %+v", dev, got)
	}
	// ...and removed by the audit scope, the transport being listed.
	writeFile(t, conf, "[I/O controller connection management]\ndisconnect-scope = all-connections-matching-disconnect-trtypes\ndisconnect-trtypes = tcp\n"+exclude)
	signal(t, stacd, syscall.SIGHUP)
	waitNoIO(t, 30*time.Second, foreign.NQN)

	// no-disconnect: an unlinked subsystem keeps its connection.
	writeFile(t, conf, "[I/O controller connection management]\ndisconnect-scope = no-disconnect\n"+exclude)
	signal(t, stacd, syscall.SIGHUP)
	time.Sleep(3 * time.Second)
	p1.Unlink(s2)
	if !topo.Eventually(30*time.Second, func() bool { out := stacctlPoll("ls"); return out != "" && !strings.Contains(out, s2.NQN) }) {
		t.Fatalf("stacd still manages %s after it was unlinked", s2.NQN)
	}
	if got := ioControllers(t)[s2.NQN]; len(got) != 1 || got[0].Name != live[s2.NQN].Name {
		t.Errorf("no-disconnect: %s's connection %s not kept: %+v", s2.NQN, live[s2.NQN].Name, got)
	}
	expectNoRemoval(t, events, removedMark, "through link, unlink, audit and no-disconnect", names(live)...)

	// An independent client sees the same; stacctl's other commands work.
	checkStacdBusctl(t, []string{"tcp", l.a.PeerAddr, "8009", s1.NQN, "", l.a.Host, hostNQN})
	if st := stacctl(t, "status"); !strings.Contains(st, s1.NQN) || !strings.Contains(st, "'stafd'") {
		t.Errorf("stacctl status:\n%s", st)
	}
	if out := stacctl(t, "troff"); !strings.Contains(out, "tron = False") {
		t.Errorf("stacctl troff: %s", out)
	}

	// A managed controller disconnected by hand is connected again (and logged).
	topo.Run(t, "nvme", "disconnect", "-d", live[s1.NQN].Name)
	waitIO(t, 30*time.Second, s1.NQN)
}

// checkStacdBusctl calls every member of the running stacd with busctl, a client that
// shares no code with ours, and checks each answer's D-Bus type and shape; io is the TID
// of one connected I/O controller.
func checkStacdBusctl(t *testing.T, io []string) {
	t.Helper()
	const (
		name = "org.nvmexpress.stac"
		path = "/org/nvmexpress/stac"
	)
	topo.Run(t, "busctl", "set-property", name, path, name+".debug", "tron", "b", "true")
	for _, c := range []struct {
		args []string
		typ  string
		ok   func(data any) bool
	}{
		{[]string{"call", name, path, name, "list_controllers", "b", "true"}, "aa{ss}", func(d any) bool {
			l, _ := d.([]any)
			for _, e := range l {
				m, _ := e.(map[string]any)
				if m["subsysnqn"] == io[3] {
					dlpe, _ := m["dlpe"].(string)
					return m["connected"] == "True" && strings.Contains(dlpe, "'subtype': 'nvme'") && m["dlpe.eflags.ncc"] == "False" &&
						m["host-iface"] == io[5] && m["cntrltype"] == "io"
				}
			}
			return false
		}},
		{[]string{"call", name, path, name, "list_controllers", "b", "false"}, "aa{ss}", func(d any) bool {
			l, _ := d.([]any)
			return len(l) >= 1
		}},
		{[]string{"call", name, path, name + ".debug", "process_info"}, "s", func(d any) bool {
			s, _ := d.(string)
			return json.Valid([]byte(s)) && strings.Contains(s, `"hostnqn": "`+hostNQN+`"`) && strings.Contains(s, `"stafd": "on the bus`)
		}},
		{append([]string{"call", name, path, name + ".debug", "controller_info", "sssssss"}, io...), "s", func(d any) bool {
			s, _ := d.(string)
			return json.Valid([]byte(s)) && strings.Contains(s, `"subsysnqn": "`+io[3]+`"`) && strings.Contains(s, `"connect attempts": "0"`)
		}},
		{[]string{"get-property", name, path, name + ".debug", "log_level"}, "s", func(d any) bool { return d == "DEBUG" }},
		{[]string{"get-property", name, path, name + ".debug", "tron"}, "b", func(d any) bool { return d == true }},
	} {
		busctlCheck(t, c.args, c.typ, c.ok)
	}
}

// TestStacdStafdOutage: stacd never disconnects because stafd is away. stafd is stopped
// for 30 s while stacd runs; meanwhile stacd is reloaded and a foreign connection to a
// subsystem stafd will list appears (both force a reconciliation): zero disconnects,
// also when stafd is back, and the foreign connection is adopted, not duplicated. Then
// kill -9 and restart stacd: zero disconnects, zero duplicates. Finally stacd is started
// (and reloaded) before stafd, with no last-known config: it connects nothing twice and
// disconnects nothing, and adopts everything once stafd appears.
func TestStacdStafdOutage(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	p1 := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	sub := func(name string) *topo.Subsystem { return l.target.Subsystem("nqn.2014-08.org.example:"+name, "") }
	s1, s2, s3 := sub("outage-1"), sub("outage-2"), sub("outage-3")
	p1.Link(s1)
	p1.Link(s2)
	forgetIOControllers(t, s1.NQN, s2.NQN, s3.NQN)
	forgetDiscoveryControllers(t, l.a.PeerAddr)
	events := watchKernelEvents(t)

	stafdConf := filepath.Join(t.TempDir(), "stafd.conf")
	writeStafdConf(t, stafdConf, "transport=tcp;traddr="+l.a.PeerAddr+";trsvcid=8009;host-iface="+l.a.Host)
	stacdConf := filepath.Join(t.TempDir(), "stacd.conf")
	writeFile(t, stacdConf, "# defaults\n")
	runtime := t.TempDir()
	t.Setenv("RUNTIME_DIRECTORY", runtime)

	stafd := startDaemon(t, "stafd", "-f", stafdConf)
	stacd := startDaemon(t, "stacd", "-f", stacdConf)
	live := waitIO(t, ioConverge, s1.NQN, s2.NQN)
	_, mark := events.marks()

	// stafd away for 30 s; a reload and a foreign connection meanwhile.
	stafd.stop(t)
	time.Sleep(5 * time.Second)
	signal(t, stacd, syscall.SIGHUP)
	time.Sleep(5 * time.Second)
	p1.Link(s3) // stafd is not there to see it
	foreign := connect(t, kernel(t), fabricsIO(l.a.PeerAddr, "8009", s3.NQN))
	time.Sleep(20 * time.Second)
	expectNoRemoval(t, events, mark, "while stafd was away", append(names(live), foreign)...)
	if ls := stacctl(t, "ls"); !strings.Contains(ls, s1.NQN) || !strings.Contains(ls, s2.NQN) {
		t.Errorf("stacd dropped controllers while stafd was away:\n%s", ls)
	}

	stafd = startDaemon(t, "stafd", "-f", stafdConf)
	if !topo.Eventually(ioConverge, func() bool { return strings.Contains(stacctlPoll("ls"), s3.NQN) }) {
		t.Fatalf("stacd does not manage %s after stafd came back", s3.NQN)
	}
	time.Sleep(5 * time.Second)
	live = waitIO(t, 10*time.Second, s1.NQN, s2.NQN, s3.NQN)
	if live[s3.NQN].Name != foreign {
		t.Errorf("%s: the foreign connection %s was not adopted: now %s", s3.NQN, foreign, live[s3.NQN].Name)
	}
	expectNoRemoval(t, events, mark, "after stafd came back", names(live)...)

	// kill -9 and restart: adopted from the last-known config, nothing dropped or added.
	addMark, _ := events.marks()
	if err := stacd.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-stacd.done
	stacd = startDaemon(t, "stacd", "-f", stacdConf)
	time.Sleep(10 * time.Second)
	after := waitIO(t, 10*time.Second, s1.NQN, s2.NQN, s3.NQN)
	if !slices.Equal(names(live), names(after)) {
		t.Errorf("controllers %v before kill -9, %v after", names(live), names(after))
	}
	if added := events.addedSince(addMark); len(added) > 0 {
		t.Errorf("kill -9 and restart connected again: %v", added)
	}
	if ls := stacctl(t, "ls"); strings.Contains(ls, "nvme?") {
		t.Errorf("restarted stacd has controllers without their device:\n%s", ls)
	}
	expectNoRemoval(t, events, mark, "kill -9 and restart", names(live)...)

	// stacd stopped, then started before stafd without any last-known config.
	stacd.stop(t)
	stafd.stop(t)
	expectNoRemoval(t, events, mark, "stopping both daemons", names(live)...)
	t.Setenv("RUNTIME_DIRECTORY", t.TempDir())
	stacd = startDaemon(t, "stacd", "-f", stacdConf)
	time.Sleep(3 * time.Second)
	signal(t, stacd, syscall.SIGHUP)
	time.Sleep(5 * time.Second)
	expectNoRemoval(t, events, mark, "stacd started and reloaded before stafd", names(live)...)
	t.Setenv("RUNTIME_DIRECTORY", runtime)
	startDaemon(t, "stafd", "-f", stafdConf)
	if !topo.Eventually(ioConverge, func() bool {
		ls := stacctlPoll("ls")
		return strings.Contains(ls, s1.NQN) && strings.Contains(ls, s2.NQN) && strings.Contains(ls, s3.NQN) && !strings.Contains(ls, "nvme?")
	}) {
		t.Fatalf("stacd did not take over the connections once stafd appeared:\n%s", stacctl(t, "ls"))
	}
	after = waitIO(t, 10*time.Second, s1.NQN, s2.NQN, s3.NQN)
	if !slices.Equal(names(live), names(after)) {
		t.Errorf("controllers %v before, %v after stacd started before stafd", names(live), names(after))
	}
	if added := events.addedSince(addMark); len(added) > 0 {
		t.Errorf("connections duplicated: %v", added)
	}
	expectNoRemoval(t, events, mark, "stacd started before stafd", names(live)...)
}

// TestStacdNCC: an entry of the CDC simulator with NCC set, connect-attempts-on-ncc=2 and
// a subsystem the target does not serve yet: two attempts, then stacd waits; once the
// target serves it, clearing NCC on the simulator connects it at once.
func TestStacdNCC(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	ioPort := l.target.TCPPort(1, l.a.PeerAddr, "4420")
	s := l.target.Subsystem("nqn.2014-08.org.example:ncc-1", "")
	entry := cdcsimEntry(s.NQN, l.a.PeerAddr, "4420", nccFlag)
	sim := startSimulator(t, l, cdcsimConfig(entry), false)
	forgetIOControllers(t, s.NQN)
	forgetDiscoveryControllers(t, l.a.PeerAddr)

	stafdConf := filepath.Join(t.TempDir(), "stafd.conf")
	writeStafdConf(t, stafdConf, "transport=tcp;traddr="+l.a.PeerAddr+";trsvcid="+simPort+";host-iface="+l.a.Host)
	stacdConf := filepath.Join(t.TempDir(), "stacd.conf")
	writeFile(t, stacdConf, "[I/O controller connection management]\nconnect-attempts-on-ncc = 2\n")
	startDaemon(t, "stafd", "-f", stafdConf)
	startDaemon(t, "stacd", "-f", stacdConf, "--tron")

	gaveUp := func() bool {
		ls := stacctlPoll("ls", "-d")
		return strings.Contains(ls, "'connect attempts': '2'") && strings.Contains(ls, "'connect gave up'")
	}
	if !topo.Eventually(ioConverge, gaveUp) {
		t.Fatalf("stacd did not give up after two attempts:\n%s", stacctl(t, "ls", "-d"))
	}
	time.Sleep(70 * time.Second) // longer than the 60 s retry: no third attempt
	if !gaveUp() {
		t.Fatalf("stacd kept trying under NCC:\n%s", stacctl(t, "ls", "-d"))
	}
	if len(ioControllers(t)[s.NQN]) != 0 {
		t.Fatal("connected before the target served the subsystem")
	}
	ioPort.Link(s)
	start := time.Now()
	if _, err := sim.SetEntries(cdcsimEntries(cdcsimEntry(s.NQN, l.a.PeerAddr, "4420", 0))); err != nil {
		t.Fatal(err)
	}
	waitIO(t, 30*time.Second, s.NQN)
	t.Logf("connected %v after NCC was cleared", time.Since(start).Round(10*time.Millisecond))
}

// TestStacdTwoHundred: 200 subsystems on one port are all connected, once each, with
// every kernel event seen (the monitor reports a lost event as an error).
func TestStacdTwoHundred(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	port := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	var nqns []string
	for i := range 200 {
		s := l.target.Subsystem(fmt.Sprintf("nqn.2014-08.org.example:many-%03d", i), "")
		port.Link(s)
		nqns = append(nqns, s.NQN)
	}
	forgetIOControllers(t, nqns...)
	forgetDiscoveryControllers(t, l.a.PeerAddr)
	events := watchKernelEvents(t)
	stafdConf := filepath.Join(t.TempDir(), "stafd.conf")
	writeStafdConf(t, stafdConf, "transport=tcp;traddr="+l.a.PeerAddr+";trsvcid=8009;host-iface="+l.a.Host)
	stacdConf := filepath.Join(t.TempDir(), "stacd.conf")
	writeFile(t, stacdConf, "# defaults\n")
	startDaemon(t, "stafd", "-f", stafdConf)
	start := time.Now()
	startDaemon(t, "stacd", "-f", stacdConf)
	waitIO(t, 6*time.Minute, nqns...)
	t.Logf("200 I/O controllers connected %v after stacd started", time.Since(start).Round(100*time.Millisecond))
	time.Sleep(5 * time.Second)
	waitIO(t, time.Second, nqns...) // still exactly one each
	if _, removed := events.marks(); removed != 0 {
		t.Errorf("%d controllers removed while connecting 200: %v", removed, events.removedSince(0))
	}
	if ls := stacctl(t, "ls"); strings.Count(ls, "'device': 'nvme") != 200 || strings.Contains(ls, "nvme?") {
		t.Errorf("stacctl ls does not show 200 connected controllers:\n%.2000s", ls)
	}
}
