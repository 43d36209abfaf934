// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/version"
)

// binary is stacctl, built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stacctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// World-readable, so that the binary can also run as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "stacctl")
	build := exec.Command("go", "build", "-o", binary, ".") // go test runs with go on $PATH
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stacctl:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func runAs(t *testing.T, addr string, prefix []string, args ...string) result {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), binary), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+addr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func run(t *testing.T, addr string, args ...string) result { return runAs(t, addr, nil, args...) }

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "ctl", "testdata", "golden", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var root = dbusapi.Options{CallerUID: func(string) (uint32, error) { return 0, nil }}

func TestOutputs(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStacd()
	dbustest.ServeStacd(t, bus, f, root)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"stacctl-ls", []string{"ls"}},
		{"stacctl-ls-d", []string{"ls", "-d"}},
		{"stacctl-ls-d", []string{"ls", "--detailed"}},
		{"stacctl-status", []string{"status"}},
	} {
		got := run(t, bus.Addr, tc.args...)
		if want := golden(t, tc.golden); got.code != 0 || got.stdout != want || got.stderr != "" {
			t.Errorf("stacctl %v: exit %d, stderr %q\n%s\nwant:\n%s", tc.args, got.code, got.stderr, got.stdout, want)
		}
		js := run(t, bus.Addr, append([]string{"--json"}, tc.args...)...)
		if js.code != 0 || !json.Valid([]byte(js.stdout)) {
			t.Errorf("stacctl --json %v: exit %d: %s%s", tc.args, js.code, js.stdout, js.stderr)
		}
		table := run(t, bus.Addr, append(tc.args, "--table")...)
		if first, _, _ := strings.Cut(table.stdout, "\n"); table.code != 0 || !strings.Contains(first, "TRADDR") && !strings.HasPrefix(first, "KEY") {
			t.Errorf("stacctl %v --table: exit %d: %s%s", tc.args, table.code, table.stdout, table.stderr)
		}
	}
	if got := run(t, bus.Addr, "tron"); got.code != 0 || got.stdout != "tron = True\n" || !f.Tron() {
		t.Errorf("tron: %+v", got)
	}
	if got := run(t, bus.Addr, "troff"); got.code != 0 || got.stdout != "tron = False\n" || f.Tron() {
		t.Errorf("troff: %+v", got)
	}
}

func TestErrors(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"ls"}, 1, "", "stacd is not running\n"},
		{[]string{"status"}, 1, "", "stacd is not running\n"},
		{[]string{"tron"}, 1, "", "stacd is not running\n"},
		{nil, 1, "", "usage: stacctl [-h] [-v] [--json | --table] {tron,troff,status,ls} ...\nstacctl: error: a command is required\n"},
		{[]string{"-v"}, 0, version.String() + "\n", ""},
		{[]string{"dlp", "-a", "::1"}, 2, "", "stacctl: error: argument command: invalid choice: 'dlp' (choose from 'tron', 'troff', 'status', 'ls')\n"},
		{[]string{"ls", "--bogus"}, 2, "", "stacctl ls: error: unrecognized arguments: --bogus\n"},
		{[]string{"frob"}, 2, "", "stacctl: error: argument command: invalid choice: 'frob'"},
	} {
		got := run(t, bus.Addr, tc.args...)
		if got.code != tc.code || got.stdout != tc.stdout || !strings.Contains(got.stderr, tc.stderr) {
			t.Errorf("stacctl %v: %+v", tc.args, got)
		}
	}
	if got := run(t, "unix:path="+t.TempDir()+"/none", "ls"); got.code != 1 || !strings.HasPrefix(got.stderr, "cannot reach the system bus: ") {
		t.Errorf("no bus: %+v", got)
	}
}

// Run as nobody, stacctl tron is refused by stacd's own uid check (the private bus has no
// policy), and says so.
func TestTronAsNobody(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run stacctl as nobody")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed")
	}
	bus := dbustest.StartBus(t, dbustest.BusOptions{OtherUsers: true})
	f := dbustest.SampleStacd()
	dbustest.ServeStacd(t, bus, f, dbusapi.Options{})
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	got := runAs(t, bus.Addr, nobody, "tron")
	if got.code != 1 || got.stderr != "permission denied: tron needs root\n" || f.Tron() {
		t.Errorf("tron as nobody: %+v", got)
	}
	if got := runAs(t, bus.Addr, nobody, "ls"); got.code != 0 || got.stdout != golden(t, "stacctl-ls") {
		t.Errorf("ls as nobody: %+v", got)
	}
	if got := run(t, bus.Addr, "tron"); got.code != 0 || !f.Tron() {
		t.Errorf("tron as root: %+v", got)
	}
}
