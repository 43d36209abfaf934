// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/ctl/ctltest"
)

// daemonCmd is the stacd binary under test, built once; the daemon itself runs in the e2e suite.
var daemonCmd = &ctltest.Command{Name: "stacd"}

func TestMain(m *testing.M) { daemonCmd.Main(m) }

func TestCommandLine(t *testing.T) {
	if r := daemonCmd.Run(t, "", "-v"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "nvme-stas-go ") {
		t.Errorf("-v: %+v", r)
	}
	if r := daemonCmd.Run(t, "", "--help"); r.Code != 0 || !strings.Contains(r.Stderr, "usage: stacd") || !strings.Contains(r.Stderr, "--conf-file") {
		t.Errorf("--help: %+v", r)
	}
	if r := daemonCmd.Run(t, "", "--bogus"); r.Code != 2 || !strings.Contains(r.Stderr, "usage: stacd") {
		t.Errorf("--bogus: %+v, want usage and exit 2", r)
	}
	if r := daemonCmd.Run(t, "", "extra"); r.Code != 2 {
		t.Errorf("a positional argument: %+v, want exit 2", r)
	}
}

func TestNotRoot(t *testing.T) {
	r := daemonCmd.RunAs(t, "", daemonCmd.Nobody(t), "-f", "/nonexistent.conf")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Permission denied. You need root privileges to run stacd.") {
		t.Errorf("as nobody: %+v", r)
	}
}
