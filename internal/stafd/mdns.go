// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"maps"
	"slices"
	"time"

	"github.com/nvme-stas-go/stas/internal/avahi"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// MDNS is what the service needs of the mDNS client (*avahi.Client).
type MDNS interface {
	Changes() <-chan struct{}
	Services() []avahi.Service
	Reported(tid.TID) bool
	SetServiceTypes([]string)
	Kick()
	Info() map[string]any
}

var _ MDNS = (*avahi.Client)(nil)

// discovered returns the controllers mDNS currently reports (identified and reachable).
func (s *Service) discovered() []tid.TID {
	if s.opts.MDNS == nil {
		return nil
	}
	var out []tid.TID
	for _, svc := range s.opts.MDNS.Services() {
		t := tid.New(svc.TID, tid.Discovery, s.cfg.IgnoreIface)
		t.HostNQN = s.host.NQN
		out = append(out, t)
	}
	return out
}

// keepLost decides about a controller found by mDNS that no source lists any more
// (behaviour reference §6.8, fixed): it stays while it is connected and zeroconf is on
// (an avahi-daemon restart must not drop controllers), and otherwise for
// zeroconf-connections-persistence after it was first seen lost. It returns whether to
// keep it and, when it is kept with a deadline, when to look again.
func (s *Service) keepLost(d *dc, now time.Time) (keep bool, recheck time.Time) {
	if d.last.Connected && s.cfg.Zeroconf {
		d.lostSince = time.Time{}
		return true, time.Time{}
	}
	persistence := s.cfg.ZeroconfConnectionsPersistence
	if persistence.Forever {
		if d.lostSince.IsZero() {
			s.log.Info(d.tid.String() + " | " + device(d) + " - Controller not responding. Retrying...")
		}
		d.lostSince = now
		return true, time.Time{}
	}
	if d.lostSince.IsZero() {
		d.lostSince = now
		s.log.Info(d.tid.String() + " | " + device(d) + " - Controller is not responding. Will be removed by " +
			now.Add(persistence.Duration).Format(time.ANSIC) + " unless restored")
	}
	deadline := d.lostSince.Add(persistence.Duration)
	if !now.Before(deadline) {
		return false, time.Time{}
	}
	return true, deadline
}

func device(d *dc) string {
	if d.last.Device == "" {
		return dbusapi.UnknownDevice
	}
	return d.last.Device
}

// avahiInfo renders the mDNS client's state for process_info, in nvme-stas's key order.
func avahiInfo(info map[string]any) *dbusapi.Dict {
	services := &dbusapi.Dict{}
	if m, ok := info["services"].(map[string]map[string]string); ok {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			services.Set(k, dbusapi.NewDict(
				tid.KeyTransport, v[tid.KeyTransport],
				tid.KeyTraddr, v[tid.KeyTraddr],
				tid.KeyTrsvcid, v[tid.KeyTrsvcid],
				tid.KeyHostIface, v[tid.KeyHostIface],
				tid.KeySubsysNQN, v[tid.KeySubsysNQN],
				"reachable", v["reachable"],
			))
		}
	}
	return dbusapi.NewDict("avahi wake up timer", info["avahi wake up timer"], "service types", info["service types"], "services", services)
}
