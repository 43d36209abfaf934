// SPDX-License-Identifier: Apache-2.0

package dbusapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
)

// These tests talk to the exported services with independent clients (systemd's busctl,
// GLib's gdbus, dbus-monitor), the way a client written for nvme-stas would.

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// argsFor returns busctl arguments for a method's input: true for a boolean, the TID of
// the sample's first controller (trsvcid left empty, for the daemon to default) for the
// seven strings.
func argsFor(m dbusapi.Method, svc dbusapi.Service) []string {
	if m.InSignature() == "" {
		return nil
	}
	out := []string{m.InSignature()}
	switch m.InSignature() {
	case "b":
		out = append(out, "true")
	case "sssssss":
		if svc.Daemon == "stafd" {
			t := dbustest.SampleDC1
			out = append(out, t.Transport, t.Traddr, "", t.SubsysNQN, t.HostTraddr, t.HostIface, t.HostNQN)
		} else {
			t := dbustest.SampleIOC2
			out = append(out, t.Transport, t.Traddr, "", t.SubsysNQN, t.HostTraddr, t.HostIface, t.HostNQN)
		}
	}
	return out
}

func TestEveryMemberWithBusctl(t *testing.T) {
	need(t, "busctl")
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	dbustest.ServeStacd(t, bus, dbustest.SampleStacd(), dbusapi.Options{})

	for _, svc := range []dbusapi.Service{dbusapi.StafService, dbusapi.StacService} {
		for _, iface := range svc.Interfaces {
			for _, m := range iface.Methods {
				args := append([]string{"--address=" + bus.Addr, "--json=short", "call", svc.BusName, string(svc.Path), iface.Name, m.Name},
					argsFor(m, svc)...)
				stdout, stderr, err := run(t, "busctl", args...)
				if err != nil {
					t.Errorf("%s %s: %v: %s", svc.Daemon, m.Name, err, stderr)
					continue
				}
				var reply struct {
					Type string            `json:"type"`
					Data []json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal([]byte(stdout), &reply); err != nil || reply.Type != m.OutSignature() || len(reply.Data) != 1 {
					t.Errorf("%s %s: reply %s (%v), want type %s", svc.Daemon, m.Name, stdout, err, m.OutSignature())
					continue
				}
				checkShape(t, svc, m, reply.Data[0])
			}
		}
	}
}

// checkShape checks the answer of one member beyond its signature.
func checkShape(t *testing.T, svc dbusapi.Service, m dbusapi.Method, data json.RawMessage) {
	t.Helper()
	what := svc.Daemon + " " + m.Name
	switch m.OutSignature() {
	case "aa{ss}":
		var dicts []map[string]string
		if err := json.Unmarshal(data, &dicts); err != nil || len(dicts) == 0 {
			t.Errorf("%s: %s (%v)", what, data, err)
			return
		}
		key := "transport" // a controller dict (detailed: with "connected")
		if m.Name == dbusapi.MethodGetLogPages {
			key = "subnqn"
		} else if dicts[0]["connected"] == "" {
			t.Errorf("%s(true) has no details: %v", what, dicts[0])
		}
		if dicts[0][key] == "" {
			t.Errorf("%s: no %s in %v", what, key, dicts[0])
		}
	case "s":
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			t.Errorf("%s: %s (%v)", what, data, err)
			return
		}
		var doc any
		if err := json.Unmarshal([]byte(text), &doc); err != nil {
			t.Errorf("%s: not JSON: %s", what, text)
			return
		}
		switch m.Name {
		case dbusapi.MethodGetAllLogPages:
			list, ok := doc.([]any)
			if !ok || len(list) == 0 {
				t.Errorf("%s: %s", what, text)
				return
			}
			first, _ := list[0].(map[string]any)
			if _, ok := first["discovery-controller"].(map[string]any); !ok {
				t.Errorf("%s: no discovery-controller: %s", what, text)
			}
			if _, ok := first["log-pages"].([]any); !ok {
				t.Errorf("%s: no log-pages: %s", what, text)
			}
		case dbusapi.MethodProcessInfo:
			obj, _ := doc.(map[string]any)
			if _, ok := obj["tron"].(bool); !ok || obj["log-level"] != "INFO" {
				t.Errorf("%s: %s", what, text)
			}
		case dbusapi.MethodControllerInfo:
			obj, _ := doc.(map[string]any)
			if obj["connect attempts"] == nil || obj["trsvcid"] == "" {
				t.Errorf("%s (found by its defaulted TID): %s", what, text)
			}
		}
	}
}

func TestIntrospectWithBusctl(t *testing.T) {
	need(t, "busctl")
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	dbustest.ServeStacd(t, bus, dbustest.SampleStacd(), dbusapi.Options{})
	for _, svc := range []dbusapi.Service{dbusapi.StafService, dbusapi.StacService} {
		stdout, stderr, err := run(t, "busctl", "--address="+bus.Addr, "introspect", svc.BusName, string(svc.Path))
		if err != nil {
			t.Fatalf("busctl introspect: %v: %s", err, stderr)
		}
		// busctl lists "NAME TYPE SIGNATURE RESULT/VALUE FLAGS" per member, under each interface.
		rows := map[string][]string{}
		iface := ""
		for _, line := range strings.Split(stdout, "\n") {
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			if f[1] == "interface" {
				iface = f[0]
				continue
			}
			rows[iface+f[0]] = f[1:]
		}
		for _, i := range svc.Interfaces {
			for _, m := range i.Methods {
				want := []string{"method", dash(m.InSignature()), dash(m.OutSignature()), "-"}
				if got := rows[i.Name+"."+m.Name]; strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%s.%s: busctl shows %v, want %v", i.Name, m.Name, got, want)
				}
			}
			for _, s := range i.Signals {
				if got := rows[i.Name+"."+s.Name]; len(got) < 2 || got[0] != "signal" || got[1] != dash(s.Signature()) {
					t.Errorf("%s.%s: busctl shows %v", i.Name, s.Name, got)
				}
			}
		}
		// tron is writable and emits no change signal; log_level is read-only.
		if got := rows[svc.DebugInterface+".tron"]; strings.Join(got, " ") != "property b false writable" {
			t.Errorf("tron: %v", got)
		}
		if got := rows[svc.DebugInterface+".log_level"]; strings.Join(got, " ") != `property s "INFO" -` {
			t.Errorf("log_level: %v", got)
		}
	}
	stdout, _, err := run(t, "busctl", "--address="+bus.Addr, "tree", dbusapi.StafdBusName)
	if err != nil || !strings.Contains(stdout, "/org/nvmexpress/staf") {
		t.Errorf("busctl tree: %s %v", stdout, err)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func TestPropertiesWithBusctl(t *testing.T) {
	need(t, "busctl")
	if os.Getuid() != 0 {
		t.Skip("setting tron needs root")
	}
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, dbusapi.Options{})
	base := []string{"--address=" + bus.Addr}
	obj := []string{dbusapi.StafdBusName, string(dbusapi.StafdPath), dbusapi.StafdDebug}

	stdout, _, err := run(t, "busctl", append(append(base, "get-property"), append(obj, "tron", "log_level")...)...)
	if err != nil || stdout != "b false\ns \"INFO\"\n" {
		t.Errorf("get-property: %q %v", stdout, err)
	}
	if _, stderr, err := run(t, "busctl", append(append(base, "set-property"), append(obj, "tron", "b", "true")...)...); err != nil {
		t.Fatalf("set-property tron: %v %s", err, stderr)
	}
	stdout, _, err = run(t, "busctl", append(append(base, "get-property"), append(obj, "tron", "log_level")...)...)
	if err != nil || stdout != "b true\ns \"DEBUG\"\n" || !f.Tron() {
		t.Errorf("after set: %q %v", stdout, err)
	}
	_, stderr, err := run(t, "busctl", append(append(base, "set-property"), append(obj, "log_level", "s", "INFO")...)...)
	if err == nil || !strings.Contains(stderr, "log_level is read-only") {
		t.Errorf("set-property log_level: %v %s", err, stderr)
	}
}

// An unprivileged process cannot switch tron: the server asks the bus for the caller's
// uid (no fake here) and refuses.
func TestTronRefusedToNobody(t *testing.T) {
	need(t, "busctl", "setpriv")
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as nobody")
	}
	bus := dbustest.StartBus(t, dbustest.BusOptions{OtherUsers: true})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, dbusapi.Options{})
	_, stderr, err := run(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "busctl", "--address="+bus.Addr,
		"set-property", dbusapi.StafdBusName, string(dbusapi.StafdPath), dbusapi.StafdDebug, "tron", "b", "true")
	if err == nil || !strings.Contains(stderr, "Access denied") || f.Tron() { // busctl's words for AccessDenied
		t.Errorf("nobody set tron: err %v, stderr %q, tron %v", err, stderr, f.Tron())
	}
	if _, err := exec.LookPath("gdbus"); err == nil {
		_, stderr, err = run(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "gdbus", "call", "--address", bus.Addr,
			"--dest", dbusapi.StafdBusName, "--object-path", string(dbusapi.StafdPath),
			"--method", "org.freedesktop.DBus.Properties.Set", dbusapi.StafdDebug, "tron", "<true>")
		if err == nil || !strings.Contains(stderr, "org.freedesktop.DBus.Error.AccessDenied: setting tron needs root") || f.Tron() {
			t.Errorf("nobody set tron with gdbus: err %v, stderr %q, tron %v", err, stderr, f.Tron())
		}
	}
	// Reading is open to everyone, as in nvme-stas's policy.
	stdout, stderr, err := run(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "busctl", "--address="+bus.Addr,
		"get-property", dbusapi.StafdBusName, string(dbusapi.StafdPath), dbusapi.StafdDebug, "tron")
	if err != nil || stdout != "b false\n" {
		t.Errorf("nobody get-property: %q %v %s", stdout, err, stderr)
	}
}

func TestGdbus(t *testing.T) {
	need(t, "gdbus")
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	dest := []string{"--address", bus.Addr, "--dest", dbusapi.StafdBusName, "--object-path", string(dbusapi.StafdPath)}

	stdout, stderr, err := run(t, "gdbus", append(append([]string{"call"}, dest...), "--method", "org.nvmexpress.staf.list_controllers", "false")...)
	if err != nil || !strings.HasPrefix(stdout, "([{") || !strings.Contains(stdout, "'device': 'nvme0'") ||
		!strings.Contains(stdout, "'dhchap-secret': '(set)'") {
		t.Errorf("gdbus call list_controllers: %s %v %s", stdout, err, stderr)
	}
	d := dbustest.SampleDC1
	stdout, stderr, err = run(t, "gdbus", append(append([]string{"call"}, dest...), "--method", "org.nvmexpress.staf.get_log_pages",
		d.Transport, d.Traddr, d.Trsvcid, d.SubsysNQN, "", "", d.HostNQN)...)
	if err != nil || !strings.Contains(stdout, "'subnqn': 'klingons'") || !strings.Contains(stdout, "'subtype': 'referral'") {
		t.Errorf("gdbus call get_log_pages: %s %v %s", stdout, err, stderr)
	}
	stdout, stderr, err = run(t, "gdbus", append(append([]string{"call"}, dest...), "--method", "org.freedesktop.DBus.Properties.GetAll", dbusapi.StafdDebug)...)
	if err != nil || !strings.Contains(stdout, "'tron': <false>") || !strings.Contains(stdout, "'log_level': <'INFO'>") {
		t.Errorf("gdbus GetAll: %s %v %s", stdout, err, stderr)
	}
	stdout, stderr, err = run(t, "gdbus", append([]string{"introspect"}, dest...)...)
	for _, want := range []string{"out aa{ss} controller_list", "in  s host_nqn", "readwrite b tron = false;", "readonly s log_level = 'INFO';", "dc_removed();"} {
		if err != nil || !strings.Contains(stdout, want) {
			t.Errorf("gdbus introspect lacks %q: %v %s\n%s", want, err, stderr, stdout)
		}
	}
}

// dbus-monitor, an independent client, sees both signals with their arguments.
func TestSignalsWithDbusMonitor(t *testing.T) {
	need(t, "dbus-monitor")
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	srv, _ := dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	mon := exec.Command("dbus-monitor", "--address", bus.Addr, "type='signal',interface='org.nvmexpress.staf'")
	out, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { mon.Process.Kill(); mon.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// dbus-monitor prints a NameAcquired signal once it is listening.
	deadline := time.After(10 * time.Second)
	var text strings.Builder
	emitted := false
	member := regexp.MustCompile(`member=(log_pages_changed|dc_removed)`)
	found := 0
	for found < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dbus-monitor ended:\n%s", text.String())
			}
			text.WriteString(l + "\n")
			if !emitted && strings.Contains(l, "NameAcquired") {
				emitted = true
				go func() {
					time.Sleep(200 * time.Millisecond) // let the second NameLost/Acquired pass
					srv.EmitLogPagesChanged(dbustest.SampleDC1, "nvme0")
					srv.EmitDCRemoved()
				}()
			}
			if member.MatchString(l) {
				found++
			}
		case <-deadline:
			t.Fatalf("signals not seen by dbus-monitor:\n%s", text.String())
		}
	}
	// Give the arguments of log_pages_changed time to arrive, then check them.
	time.Sleep(200 * time.Millisecond)
	for more := true; more; {
		select {
		case l := <-lines:
			text.WriteString(l + "\n")
		default:
			more = false
		}
	}
	for _, want := range []string{`string "tcp"`, `string "::1"`, `string "8009"`, `string "nvme0"`, `string "` + dbustest.SampleHostNQN + `"`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("dbus-monitor output lacks %s:\n%s", want, text.String())
		}
	}
}
