// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/nvme-stas-go/stas/internal/ctl/ctltest"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/version"
)

// stacctl is built once for all tests.
var stacctl = &ctltest.Command{Name: "stacctl"}

func TestMain(m *testing.M) { stacctl.Main(m) }

var root = dbusapi.Options{CallerUID: func(string) (uint32, error) { return 0, nil }}

func TestOutputs(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStacd()
	dbustest.ServeStacd(t, bus, f, root)
	stacctl.CheckOutputs(t, bus.Addr, []ctltest.OutputCase{
		{Golden: "stacctl-ls", Args: []string{"ls"}},
		{Golden: "stacctl-ls-d", Args: []string{"ls", "-d"}},
		{Golden: "stacctl-ls-d", Args: []string{"ls", "--detailed"}},
		{Golden: "stacctl-status", Args: []string{"status"}},
	})
	if got := stacctl.Run(t, bus.Addr, "tron"); got.Code != 0 || got.Stdout != "tron = True\n" || !f.Tron() {
		t.Errorf("tron: %+v", got)
	}
	if got := stacctl.Run(t, bus.Addr, "troff"); got.Code != 0 || got.Stdout != "tron = False\n" || f.Tron() {
		t.Errorf("troff: %+v", got)
	}
}

func TestErrors(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	stacctl.CheckErrors(t, bus.Addr, []ctltest.ErrorCase{
		{Args: []string{"ls"}, Code: 1, Stderr: "stacd is not running\n"},
		{Args: []string{"status"}, Code: 1, Stderr: "stacd is not running\n"},
		{Args: []string{"tron"}, Code: 1, Stderr: "stacd is not running\n"},
		{Args: nil, Code: 1, Stderr: "usage: stacctl [-h] [-v] [--json | --table] {tron,troff,status,ls} ...\nstacctl: error: a command is required\n"},
		{Args: []string{"-v"}, Code: 0, Stdout: version.String() + "\n"},
		{Args: []string{"dlp", "-a", "::1"}, Code: 2, Stderr: "stacctl: error: argument command: invalid choice: 'dlp' (choose from 'tron', 'troff', 'status', 'ls')\n"},
		{Args: []string{"ls", "--bogus"}, Code: 2, Stderr: "stacctl ls: error: unrecognized arguments: --bogus\n"},
		{Args: []string{"frob"}, Code: 2, Stderr: "stacctl: error: argument command: invalid choice: 'frob'"},
	})
	stacctl.CheckNoBus(t)
}

// Run as nobody, stacctl tron is refused by stacd's own uid check (the private bus has no
// policy), and says so.
func TestTronAsNobody(t *testing.T) {
	nobody := stacctl.Nobody(t)
	bus := dbustest.StartBus(t, dbustest.BusOptions{OtherUsers: true})
	f := dbustest.SampleStacd()
	dbustest.ServeStacd(t, bus, f, dbusapi.Options{})
	got := stacctl.RunAs(t, bus.Addr, nobody, "tron")
	if got.Code != 1 || got.Stderr != "permission denied: tron needs root\n" || f.Tron() {
		t.Errorf("tron as nobody: %+v", got)
	}
	if got := stacctl.RunAs(t, bus.Addr, nobody, "ls"); got.Code != 0 || got.Stdout != ctltest.Golden(t, "stacctl-ls") {
		t.Errorf("ls as nobody: %+v", got)
	}
	if got := stacctl.Run(t, bus.Addr, "tron"); got.Code != 0 || !f.Tron() {
		t.Errorf("tron as root: %+v", got)
	}
}
