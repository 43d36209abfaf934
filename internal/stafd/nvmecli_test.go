// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/uevent"
)

func TestConnectUnit(t *testing.T) {
	n := uevent.NVMeEvent{Device: "nvme3", HostTrAddr: "192.0.2.1", HostIface: "eth0"}
	if got, want := connectUnit(n), `nvmf-connect@--device\x3dnvme3\x09--host-traddr\x3d192.0.2.1\x09--host-iface\x3deth0.service`; got != want {
		t.Errorf("connectUnit = %s, want %s", got, want)
	}
	n.HostTrAddr, n.HostIface = "", "none"
	if got, want := connectUnit(n), `nvmf-connect@--device\x3dnvme3.service`; got != want {
		t.Errorf("connectUnit = %s, want %s", got, want)
	}
	for _, bad := range []string{"eth0 x", "a/b", "a;b", "a\x00", "a\\x3d"} {
		if validUnitArg(bad) {
			t.Errorf("validUnitArg(%q) = true", bad)
		}
	}
	if !validUnitArg("fe80::1%eth0") {
		t.Error("an IPv6 link-local address refused")
	}
}

func TestRuleOverride(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rules.d")
	path := filepath.Join(dir, RuleFile)
	if err := installRule(dir, "/usr/bin/systemctl"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), `SUBSYSTEM=="fc"`) || strings.Contains(string(data), "NVME_AEN") {
		t.Fatalf("override = %q, %v; want the FC rule only", data, err)
	}
	// A stale override of ours (left by a crash, older systemctl path) is refreshed.
	if err := os.WriteFile(path, []byte(ruleMarker+" old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := installRule(dir, "/bin/systemctl"); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), "/bin/systemctl --no-block") {
		t.Errorf("stale override not refreshed: %q", data)
	}
	if err := removeRule(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("override not removed: %v", err)
	}
	// An administrator's own file is never touched.
	if err := os.WriteFile(path, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := installRule(dir, "/usr/bin/systemctl"); err != nil {
		t.Fatal(err)
	}
	if err := removeRule(dir); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "# mine\n" {
		t.Errorf("administrator's rule changed: %q", data)
	}
	if err := removeRule(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("removeRule without a file: %v", err)
	}
}
