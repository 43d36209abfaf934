// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

// Coexistence with nvme-cli (behaviour reference §6.10): nvme-cli's udev rule reacts to
// discovery-controller events by running `nvme connect-all`, which races stafd (duplicate
// connects, wrong interface). While stafd runs, a rule of the same name in /run/udev
// shadows nvme-cli's and keeps only its Fibre Channel part; stafd itself hands the events
// of discovery controllers it does not own to nvme-cli's nvmf-connect@ unit.

// RuleFile is the name of nvme-cli's rule, and of the override stafd writes.
const RuleFile = "70-nvmf-autoconnect.rules"

// ruleMarker identifies an override this program wrote, so that one left behind by a
// crash is refreshed and removed rather than mistaken for an administrator's file.
const ruleMarker = "# Written by nvme-stas-go's stafd"

func overrideRule(systemctl string) string {
	return ruleMarker + " while it runs: it shadows nvme-cli's rule of the same name\n" +
		"# and keeps only its Fibre Channel part; stafd handles the other discovery events.\n" +
		`ACTION=="change", SUBSYSTEM=="fc", ENV{FC_EVENT}=="nvmediscovery", ` +
		`ENV{NVMEFC_HOST_TRADDR}=="*", ENV{NVMEFC_TRADDR}=="*", ` +
		`RUN+="` + systemctl + ` --no-block restart nvmf-connect@--device\x3dnone\x09--transport\x3dfc\x09--traddr\x3d$env{NVMEFC_TRADDR}\x09--trsvcid\x3dnone\x09--host-traddr\x3d$env{NVMEFC_HOST_TRADDR}.service"` + "\n"
}

// installRule writes the override into dir unless a file there is someone else's.
func installRule(dir, systemctl string) error {
	path := filepath.Join(dir, RuleFile)
	want := []byte(overrideRule(systemctl))
	old, err := os.ReadFile(path)
	switch {
	case err == nil && !bytes.HasPrefix(old, []byte(ruleMarker)):
		return nil // an administrator's own override: leave it
	case err == nil && bytes.Equal(old, want):
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, want, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removeRule deletes the override if it is ours, restoring nvme-cli's rule.
func removeRule(dir string) error {
	path := filepath.Join(dir, RuleFile)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !bytes.HasPrefix(old, []byte(ruleMarker))) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// connectUnit returns the nvmf-connect@ unit nvme-cli's rule would start for an event of
// a discovery controller: systemd-escaped arguments, "=" as \x3d, separated by \x09, the
// empty and "none" ones left out.
func connectUnit(n uevent.NVMeEvent) string {
	var args []string
	for _, a := range [][2]string{{"--device", n.Device}, {"--host-traddr", n.HostTrAddr}, {"--host-iface", n.HostIface}} {
		if a[1] == "" || a[1] == "none" || a[1] == "None" {
			continue
		}
		args = append(args, a[0]+`\x3d`+a[1])
	}
	return "nvmf-connect@" + strings.Join(args, `\x09`) + ".service"
}

// handOff starts nvme-cli's connect unit for an event of a discovery controller stafd
// does not own (a discovery-log change or a reconnect), as nvme-cli's rule would have.
func (s *Service) handOff(n uevent.NVMeEvent) {
	if s.opts.Systemctl == "" || s.opts.Sysfs == nil {
		return
	}
	if n.Kind != uevent.NVMeRediscover && !n.IsDiscoveryLogChange() {
		return
	}
	c, err := sysfs.ReadController(s.opts.Sysfs, n.Device)
	if err != nil || !c.IsDiscovery() {
		return
	}
	if !validUnitArg(n.Device) || !validUnitArg(n.HostTrAddr) || !validUnitArg(n.HostIface) {
		s.log.Warn("kernel event with unexpected text not handed to nvme-cli", "device", n.Device)
		return
	}
	unit := connectUnit(n)
	s.log.Info("event of a discovery controller stafd does not own; handing it to nvme-cli", "device", n.Device, "unit", unit)
	systemctl := s.opts.Systemctl
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, systemctl, "--quiet", "--no-block", "restart", unit).CombinedOutput(); err != nil {
			s.log.Warn("nvme-cli's connect unit not started", "unit", unit, "err", err, "output", strings.TrimSpace(string(out)))
		}
	}()
}

// validUnitArg accepts what a device name, an address or an interface name can hold, so
// that an event's text cannot shape the unit name into something else.
func validUnitArg(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".:-_%", r)
		if !ok {
			return false
		}
	}
	return true
}
