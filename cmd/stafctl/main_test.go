// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/nvme-stas-go/stas/internal/ctl/ctltest"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/version"
)

// stafctl is built once for all tests.
var stafctl = &ctltest.Command{Name: "stafctl"}

func TestMain(m *testing.M) { stafctl.Main(m) }

var root = dbusapi.Options{CallerUID: func(string) (uint32, error) { return 0, nil }}

func TestOutputs(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, root)
	stafctl.CheckOutputs(t, bus.Addr, []ctltest.OutputCase{
		{Golden: "stafctl-ls", Args: []string{"ls"}},
		{Golden: "stafctl-ls-d", Args: []string{"ls", "-d"}},
		{Golden: "stafctl-ls-d", Args: []string{"ls", "--detailed"}},
		{Golden: "stafctl-dlp", Args: []string{"dlp", "-t", "tcp", "-a", "::1", "-s", "8009", "-q", dbustest.SampleHostNQN}},
		{Golden: "stafctl-adlp", Args: []string{"adlp"}},
		{Golden: "stafctl-adlp-d", Args: []string{"adlp", "-d"}},
		{Golden: "stafctl-status", Args: []string{"status"}},
	})
	if got := stafctl.Run(t, bus.Addr, "tron"); got.Code != 0 || got.Stdout != "tron = True\n" || !f.Tron() {
		t.Errorf("tron: %+v", got)
	}
	if got := stafctl.Run(t, bus.Addr, "troff"); got.Code != 0 || got.Stdout != "tron = False\n" || f.Tron() {
		t.Errorf("troff: %+v", got)
	}
}

func TestErrors(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	stafctl.CheckErrors(t, bus.Addr, []ctltest.ErrorCase{
		{Args: []string{"ls"}, Code: 1, Stderr: "stafd is not running\n"},
		{Args: []string{"status"}, Code: 1, Stderr: "stafd is not running\n"},
		{Args: []string{"tron"}, Code: 1, Stderr: "stafd is not running\n"},
		{Args: nil, Code: 1, Stderr: "usage: stafctl [-h] [-v] [--json | --table] {tron,troff,status,ls,dlp,adlp} ...\nstafctl: error: a command is required\n"},
		{Args: []string{"-v"}, Code: 0, Stdout: version.String() + "\n"},
		{Args: []string{"dlp", "-a", "::1"}, Code: 2, Stderr: "stafctl dlp: error: the following arguments are required: -s/--trsvcid\n"},
		{Args: []string{"ls", "--bogus"}, Code: 2, Stderr: "stafctl ls: error: unrecognized arguments: --bogus\n"},
		{Args: []string{"frob"}, Code: 2, Stderr: "stafctl: error: argument command: invalid choice: 'frob'"},
	})
	stafctl.CheckNoBus(t)
}

// Run as nobody, stafctl tron is refused by stafd's own uid check (the private bus has no
// policy), and says so.
func TestTronAsNobody(t *testing.T) {
	nobody := stafctl.Nobody(t)
	bus := dbustest.StartBus(t, dbustest.BusOptions{OtherUsers: true})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, dbusapi.Options{})
	got := stafctl.RunAs(t, bus.Addr, nobody, "tron")
	if got.Code != 1 || got.Stderr != "permission denied: tron needs root\n" || f.Tron() {
		t.Errorf("tron as nobody: %+v", got)
	}
	if got := stafctl.RunAs(t, bus.Addr, nobody, "ls"); got.Code != 0 || got.Stdout != ctltest.Golden(t, "stafctl-ls") {
		t.Errorf("ls as nobody: %+v", got)
	}
	if got := stafctl.Run(t, bus.Addr, "tron"); got.Code != 0 || !f.Tron() {
		t.Errorf("tron as root: %+v", got)
	}
}
