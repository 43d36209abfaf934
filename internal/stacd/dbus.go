// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"slices"
	"strings"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/debounce"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// The service answers D-Bus (dbusapi.Stacd) from the snapshot: these methods run on
// godbus's goroutines and never touch the owner goroutine's state.
var _ dbusapi.Stacd = (*Service)(nil)

// ListControllers answers list_controllers, sorted by controller for a stable output.
func (s *Service) ListControllers(detailed bool) []map[string]string {
	cs := slices.Clone(s.snap.Load().iocs)
	slices.SortFunc(cs, func(a, b dbusapi.Controller) int { return strings.Compare(a.TID.String(), b.TID.String()) })
	return dbusapi.ControllerList(cs, detailed)
}

// ControllerInfo answers controller_info.
func (s *Service) ControllerInfo(t tid.TID) string {
	for _, c := range s.snap.Load().iocs {
		if c.TID == t {
			return c.InfoJSON()
		}
	}
	return "{}"
}

// ProcessInfo answers process_info.
func (s *Service) ProcessInfo() string {
	snap := s.snap.Load()
	p := dbusapi.ProcessInfo{
		Tron:                 s.Tron(),
		LogLevel:             s.LogLevel(),
		HostNQN:              s.host.NQN,
		HostID:               s.host.ID,
		HostKeySet:           s.host.Key.IsSet(),
		LastKnownConfigFile:  s.opts.StatePath,
		ConfigSoakTimer:      dbusapi.TimerString(debounce.Window, false, 0),
		KernelTP8013:         s.supported.Has(fabrics.OptDiscovery),
		KernelHostIface:      s.supported.Has(fabrics.OptHostIface),
		TerminatorAuditTimer: dbusapi.TimerString(30e9, false, 0),
		Extra:                dbusapi.NewDict("stafd", snap.stafd),
	}
	if s.host.Symname != "" {
		p.Symname = &s.host.Symname
	}
	return p.JSON()
}
