// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"time"

	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/debounce"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// The service answers D-Bus (dbusapi.Stafd) from the snapshot: these methods run on
// godbus's goroutines and never touch the owner goroutine's state.
var _ dbusapi.Stafd = (*Service)(nil)

// ListControllers answers list_controllers.
func (s *Service) ListControllers(detailed bool) []map[string]string {
	snap := s.snap.Load()
	cs := make([]dbusapi.Controller, len(snap.dcs))
	for i := range snap.dcs {
		cs[i] = snap.dcs[i].ctl
	}
	return dbusapi.ControllerList(cs, detailed)
}

// GetLogPages answers get_log_pages.
func (s *Service) GetLogPages(t tid.TID) []map[string]string {
	for _, v := range s.snap.Load().dcs {
		if v.ctl.TID == t {
			return nonNil(v.dlpes)
		}
	}
	return []map[string]string{}
}

// GetAllLogPages answers get_all_log_pages.
func (s *Service) GetAllLogPages(detailed bool) string {
	snap := s.snap.Load()
	out := make([]dbusapi.DCLogPages, len(snap.dcs))
	for i, v := range snap.dcs {
		out[i] = dbusapi.DCLogPages{Controller: v.ctl, LogPages: nonNil(v.dlpes)}
	}
	return dbusapi.AllLogPagesJSON(out, detailed)
}

// ControllerInfo answers controller_info.
func (s *Service) ControllerInfo(t tid.TID) string {
	for _, v := range s.snap.Load().dcs {
		if v.ctl.TID == t {
			return v.ctl.InfoJSON()
		}
	}
	return "{}"
}

// ProcessInfo answers process_info.
func (s *Service) ProcessInfo() string {
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
		TerminatorAuditTimer: dbusapi.TimerString(30*time.Second, false, 0),
	}
	if s.host.Symname != "" {
		p.Symname = &s.host.Symname
	}
	if s.opts.MDNS != nil {
		p.Extra = dbusapi.NewDict("avahi", avahiInfo(s.opts.MDNS.Info()))
	}
	return p.JSON()
}

func nonNil(m []map[string]string) []map[string]string {
	if m == nil {
		return []map[string]string{}
	}
	return m
}

// operation renders a controller step as nvme-stas's operation string; nil before the
// step ever ran.
func operation(st ctrl.StepState, now time.Time) *dbusapi.Operation {
	if !st.Started {
		return nil
	}
	completed := !st.Running
	op := &dbusapi.Operation{FailCount: st.Failures, Completed: &completed, Alive: true, Error: st.Error}
	if st.RetryInterval > 0 {
		op.RetryTimer = dbusapi.TimerString(st.RetryInterval, !st.RetryAt.IsZero(), st.RetryAt.Sub(now))
	}
	return op
}
