// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/test/e2e/topo"
)

var systemBusOnce sync.Once

// systemBus starts the VM's system bus once per boot, with the product's policy files
// installed where dbus-daemon reads them, as a package would.
func systemBus(t *testing.T) {
	t.Helper()
	systemBusOnce.Do(func() {
		if err := os.MkdirAll("/etc/dbus-1/system.d", 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"org.nvmexpress.staf.conf", "org.nvmexpress.stac.conf"} {
			data, err := os.ReadFile(filepath.Join(repo(), "dbus", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("/etc/dbus-1/system.d", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll("/run/dbus", 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/etc/machine-id"); err != nil {
			topo.Run(t, "sh", "-c", "dbus-uuidgen > /etc/machine-id")
		}
		// Not topo.Run: the forked daemon would keep its output pipes open and Run would
		// wait for them.
		if err := exec.Command("dbus-daemon", "--system", "--fork").Run(); err != nil {
			t.Fatalf("start the system bus: %v", err)
		}
		if !topo.Eventually(10*time.Second, func() bool { _, err := os.Stat("/run/dbus/system_bus_socket"); return err == nil }) {
			t.Fatal("system bus did not start")
		}
	})
}

func repo() string {
	if r := os.Getenv("VM_REPO"); r != "" {
		return r
	}
	wd, _ := os.Getwd()
	return wd
}

// daemonProc is a running product daemon whose output goes to the test log.
type daemonProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startDaemon runs build/bin/<name> with args; it is stopped with SIGTERM at cleanup.
func startDaemon(t *testing.T, name string, args ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(filepath.Join(repo(), "build", "bin", name), args...)
	// Each scenario has its own runtime directory (last-known configuration), shared by
	// the daemons it starts, so that no scenario inherits controllers from another.
	runtime := os.Getenv("RUNTIME_DIRECTORY")
	if runtime == "" {
		runtime = filepath.Join(os.TempDir(), "e2e-run", strings.ReplaceAll(t.Name(), "/", "_"), name)
		t.Cleanup(func() { _ = os.RemoveAll(runtime) })
	}
	cmd.Env = append(os.Environ(), "RUNTIME_DIRECTORY="+runtime)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &daemonProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Logf("%s: %s", name, sc.Text())
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *daemonProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(100 * time.Second):
		// A connect in flight cannot be interrupted; the kernel gives up on an
		// unresponsive target after its 60 s admin timeout.
		t.Errorf("%s did not stop within 100 s of SIGTERM", p.cmd.Path)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type allLogPages []struct {
	DC   map[string]string   `json:"discovery-controller"`
	Logs []map[string]string `json:"log-pages"`
}

func logPagesOf(t *testing.T, c *dbusapi.Client) allLogPages {
	t.Helper()
	s, err := c.GetAllLogPages(testContext(t, 10*time.Second), false)
	if err != nil {
		return nil // not up yet: callers poll
	}
	var pages allLogPages
	if err := json.Unmarshal([]byte(s), &pages); err != nil {
		t.Fatalf("get_all_log_pages is not JSON: %v\n%s", err, s)
	}
	return pages
}

func hasSubsystem(pages allLogPages, nqn string) bool {
	for _, p := range pages {
		for _, e := range p.Logs {
			if e["subnqn"] == nqn && e["subtype"] == "nvme" {
				return true
			}
		}
	}
	return false
}

// TestStafdConfiguredDC runs stafd with a configured discovery controller on the real
// kernel: the log page appears on D-Bus, a subsystem linked on the target appears after
// one change notice with log_pages_changed, and stopping stafd (persistent connections)
// leaves the discovery connection in place.
func TestStafdConfiguredDC(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	port := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	first := l.target.Subsystem("nqn.2014-08.org.example:stafd-1", "")
	port.Link(first)

	conf := filepath.Join(t.TempDir(), "stafd.conf")
	if err := os.WriteFile(conf, []byte("[Service Discovery]\nzeroconf = disabled\n[Controllers]\ncontroller = transport=tcp;traddr="+
		l.a.PeerAddr+";trsvcid=8009;host-iface="+l.a.Host+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stafd := startDaemon(t, "stafd", "-f", conf, "--tron")
	client, ctx := stafdClient(t)
	if !topo.Eventually(30*time.Second, func() bool { return hasSubsystem(logPagesOf(t, client), first.NQN) }) {
		t.Fatalf("%s never appeared in get_all_log_pages: %+v", first.NQN, logPagesOf(t, client))
	}

	// stafctl, the shipped client, shows the same log page; a second stafd is refused.
	out, err := topo.Output(filepath.Join(repo(), "build", "bin", "stafctl"), "adlp")
	if err != nil || !strings.Contains(out, "'subnqn': '"+first.NQN+"'") {
		t.Errorf("stafctl adlp: %v\n%s", err, out)
	}
	checkBusctl(t, l)
	second := exec.Command(filepath.Join(repo(), "build", "bin", "stafd"), "-f", conf)
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "already owned") {
		t.Errorf("a second stafd: %v, %s; want it refused because the name is owned", err, msg)
	}

	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := dbusapi.AddStafdMatches(ctx, conn); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)

	other := l.target.Subsystem("nqn.2014-08.org.example:stafd-2", "")
	port.Link(other)
	deadline := time.After(30 * time.Second)
	for got := false; !got; {
		select {
		case sig := <-signals:
			if s, ok := dbusapi.ParseStafdSignal(sig); ok && s.Member == dbusapi.SignalLogPagesChanged {
				got = true
			}
		case <-deadline:
			t.Fatal("no log_pages_changed after linking a subsystem")
		}
	}
	if !hasSubsystem(logPagesOf(t, client), other.NQN) {
		t.Errorf("%s not published after log_pages_changed", other.NQN)
	}

	stafd.stop(t)
	ctrls, err := sysfs.ReadControllers(sysfs.FS())
	if err != nil {
		t.Fatal(err)
	}
	kept := ""
	for _, c := range ctrls {
		if c.IsDiscovery() && c.Address.TrAddr == l.a.PeerAddr {
			kept = c.Name
		}
	}
	if kept == "" {
		t.Fatal("stafd with persistent-connections left no discovery connection behind")
	}
	// The next test must start clean: the connection stafd left is deleted here.
	topo.Run(t, "sh", "-c", "echo 1 > /sys/class/nvme/"+kept+"/delete_controller")
	if !topo.Eventually(10*time.Second, func() bool { return !slices.Contains(topo.Controllers(t), kept) }) {
		t.Errorf("%s not deleted", kept)
	}
}

// forgetDiscoveryControllers deletes, at cleanup, the discovery connections to addrs that
// stafd (with persistent connections) leaves behind, so that the next scenario starts clean.
func forgetDiscoveryControllers(t *testing.T, addrs ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, addr := range addrs {
			for _, dev := range discoveryControllers(t, addr) {
				_, _ = topo.Output("sh", "-c", "echo 1 > /sys/class/nvme/"+dev+"/delete_controller")
			}
		}
	})
}

// stafdClient connects a D-Bus client of stafd; it and its context end with the test.
func stafdClient(t *testing.T) (*dbusapi.Client, context.Context) {
	t.Helper()
	ctx := testContext(t, 3*time.Minute)
	client, err := dbusapi.Dial(ctx, dbusapi.StafService)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client, ctx
}

// checkBusctl calls every member of the running stafd with busctl, a client that shares
// no code with ours, and checks each answer's D-Bus type and shape.
func checkBusctl(t *testing.T, l *lab) {
	t.Helper()
	const (
		name = "org.nvmexpress.staf"
		path = "/org/nvmexpress/staf"
	)
	dc := []string{"tcp", l.a.PeerAddr, "8009", "nqn.2014-08.org.nvmexpress.discovery", "", l.a.Host, hostNQN}
	for _, c := range []struct {
		args []string
		typ  string
		ok   func(data any) bool
	}{
		{[]string{"call", name, path, name, "list_controllers", "b", "true"}, "aa{ss}", func(d any) bool {
			l, _ := d.([]any)
			if len(l) != 1 {
				return false
			}
			m, _ := l[0].(map[string]any)
			return m["traddr"] == dc[1] && m["connected"] == "True" && m["origin"] == "configured"
		}},
		{append([]string{"call", name, path, name, "get_log_pages", "sssssss"}, dc...), "aa{ss}", func(d any) bool {
			l, _ := d.([]any)
			return len(l) >= 1
		}},
		{[]string{"call", name, path, name, "get_all_log_pages", "b", "false"}, "s", func(d any) bool {
			s, _ := d.(string)
			return json.Valid([]byte(s)) && strings.Contains(s, `"log-pages"`)
		}},
		{[]string{"call", name, path, name + ".debug", "process_info"}, "s", func(d any) bool {
			s, _ := d.(string)
			return json.Valid([]byte(s)) && strings.Contains(s, `"hostnqn": "`+hostNQN+`"`)
		}},
		{append([]string{"call", name, path, name + ".debug", "controller_info", "sssssss"}, dc...), "s", func(d any) bool {
			s, _ := d.(string)
			return strings.Contains(s, `"origin": "configured"`)
		}},
		{[]string{"get-property", name, path, name + ".debug", "log_level"}, "s", func(d any) bool { return d == "DEBUG" }},
		{[]string{"get-property", name, path, name + ".debug", "tron"}, "b", func(d any) bool { return d == true }},
	} {
		busctlCheck(t, c.args, c.typ, c.ok)
	}
}

// busctlCheck runs busctl --json=short with args and checks the answer's D-Bus type and,
// with ok, its data.
func busctlCheck(t *testing.T, args []string, typ string, ok func(data any) bool) {
	t.Helper()
	out, err := topo.Output("busctl", append([]string{"--json=short"}, args...)...)
	if err != nil {
		t.Errorf("busctl %v: %v", args, err)
		return
	}
	var answer struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &answer); err != nil {
		t.Errorf("busctl %v: %v\n%s", args, err, out)
		return
	}
	data := answer.Data
	if l, isList := data.([]any); isList && args[0] == "call" && len(l) == 1 {
		data = l[0] // a method's out arguments come as a list
	}
	if answer.Type != typ || !ok(data) {
		t.Errorf("busctl %v: type %s, data %v; want type %s and the expected shape", args[3:], answer.Type, data, typ)
	}
}

// discoveryControllers lists the kernel's discovery controllers to addr.
func discoveryControllers(t *testing.T, addr string) []string {
	t.Helper()
	ctrls, err := sysfs.ReadControllers(sysfs.FS())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range ctrls {
		if c.IsDiscovery() && c.Address.TrAddr == addr {
			names = append(names, c.Name)
		}
	}
	return names
}

// TestStafdReferralAndRestart follows a referral to a port on another subnet (bound to the
// interface that reaches it, not the parent's), then kills stafd with SIGKILL and starts
// it again: the log pages are back on D-Bus at once and no connection is dropped or
// duplicated.
func TestStafdReferralAndRestart(t *testing.T) {
	systemBus(t)
	l := newLab(t)
	p1 := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	p2 := l.target.TCPPort(2, l.b.PeerAddr, "8009")
	s1 := l.target.Subsystem("nqn.2014-08.org.example:ref-1", "")
	s2 := l.target.Subsystem("nqn.2014-08.org.example:ref-2", "")
	p1.Link(s1)
	p2.Link(s2)
	p1.Referral("to-port-2", l.b.PeerAddr, "8009", 2)

	conf := filepath.Join(t.TempDir(), "stafd.conf")
	if err := os.WriteFile(conf, []byte("[Service Discovery]\nzeroconf = disabled\n[Controllers]\ncontroller = transport=tcp;traddr="+
		l.a.PeerAddr+";trsvcid=8009;host-iface="+l.a.Host+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forgetDiscoveryControllers(t, l.a.PeerAddr, l.b.PeerAddr)
	stafd := startDaemon(t, "stafd", "-f", conf)
	client, _ := stafdClient(t)
	both := func() bool {
		pages := logPagesOf(t, client)
		return hasSubsystem(pages, s1.NQN) && hasSubsystem(pages, s2.NQN)
	}
	if !topo.Eventually(60*time.Second, both) {
		t.Fatalf("the referred port's subsystem never appeared: %+v", logPagesOf(t, client))
	}
	for _, p := range logPagesOf(t, client) {
		if p.DC["traddr"] == l.b.PeerAddr && p.DC["host-iface"] != l.b.Host {
			t.Errorf("referral on %s bound to %q, want %s (the interface that reaches it)", l.b.PeerAddr, p.DC["host-iface"], l.b.Host)
		}
	}
	before := append(discoveryControllers(t, l.a.PeerAddr), discoveryControllers(t, l.b.PeerAddr)...)
	if len(before) != 2 {
		t.Fatalf("discovery controllers before the restart: %v, want 2", before)
	}

	if err := stafd.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-stafd.done
	restarted := startDaemon(t, "stafd", "-f", conf)
	// Republished from the last-known configuration, before any reconnection could finish.
	if !topo.Eventually(10*time.Second, both) {
		t.Fatalf("log pages not republished after the restart: %+v", logPagesOf(t, client))
	}
	time.Sleep(3 * time.Second) // let the restarted stafd settle: it must adopt, not reconnect
	after := append(discoveryControllers(t, l.a.PeerAddr), discoveryControllers(t, l.b.PeerAddr)...)
	if !slices.Equal(before, after) {
		t.Errorf("discovery controllers %v before the restart, %v after: a connection was dropped or duplicated", before, after)
	}
	restarted.stop(t)
}
