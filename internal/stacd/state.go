// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/nvme-stas-go/stas/internal/daemon"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// stateFile is the last-known configuration: the I/O controllers stacd manages and the
// log page entries it holds from stafd, so that a restarted stacd adopts its connections
// (none dropped, none duplicated) and keeps them even if stafd is not there to answer.
type stateFile struct {
	Version     int         `json:"version"`
	Controllers []tid.TID   `json:"controllers"`
	Pages       []statePage `json:"log_pages"`
}

type statePage struct {
	DC      tid.TID `json:"discovery_controller"`
	Entries []entry `json:"entries"`
}

const stateVersion = 1

func (s *Service) save() {
	if s.opts.StatePath == "" {
		return
	}
	f := stateFile{Version: stateVersion, Controllers: []tid.TID{}, Pages: []statePage{}}
	for t := range s.iocs {
		f.Controllers = append(f.Controllers, t)
	}
	for _, p := range s.pages {
		f.Pages = append(f.Pages, statePage{DC: p.dc, Entries: p.entries})
	}
	if err := daemon.WriteJSON(s.opts.StatePath, f); err != nil {
		s.log.Error("Unable to save last known config", "err", err)
	}
}

// restore takes the last-known configuration: the log page entries become what stacd
// holds from stafd until stafd answers (not known, so the audit waits), and every saved
// I/O controller whose kernel connection still exists is revived to adopt it.
func (s *Service) restore() {
	if s.opts.StatePath == "" {
		return
	}
	var f stateFile
	if err := daemon.ReadJSON(s.opts.StatePath, &f); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("last known config not used", "err", err)
		}
		return
	}
	if f.Version != stateVersion {
		s.log.Warn("last known config has an unknown version; not used", "version", f.Version)
		return
	}
	for _, p := range f.Pages {
		pg := &page{dc: p.DC}
		for _, e := range p.Entries {
			if e.TID.IsZero() || checkDLPE(e.DLPE) != "" {
				continue
			}
			pg.entries = append(pg.entries, e)
		}
		s.pages[p.DC] = pg
	}
	wanted := s.wanted()
	for _, t := range f.Controllers {
		if s.iocs[t] != nil {
			continue
		}
		dev, ok := s.scan.finder(t)(context.Background())
		if !ok {
			continue
		}
		w := wanted[t]
		if w == nil {
			w = &want{reason: "restored from the last known config"}
		}
		s.add(t, w)
		s.log.Info("restored from the last known config", "controller", t.String(), "device", dev)
	}
	s.publish()
}

// snapshot is what D-Bus answers from: the controllers as they were after the service's
// last change.
type snapshot struct {
	iocs  []dbusapi.Controller
	stafd string
}

// publish replaces the snapshot.
func (s *Service) publish() {
	now := time.Now()
	snap := &snapshot{iocs: make([]dbusapi.Controller, 0, len(s.iocs)), stafd: s.stafdState()}
	for _, io := range s.iocs {
		snap.iocs = append(snap.iocs, s.view(io, now))
	}
	s.snap.Store(snap)
}

// stafdState says where stacd's knowledge of the log pages comes from, for process_info.
func (s *Service) stafdState() string {
	switch {
	case s.opts.Stafd == nil:
		return "not followed"
	case !s.stafdPresent:
		return "not on the bus: keeping what is known"
	case s.fresh:
		return "on the bus: log pages current"
	default:
		return "on the bus: some log pages not known now, kept from before"
	}
}

func (s *Service) view(io *ioc, now time.Time) dbusapi.Controller {
	u := io.last
	c := dbusapi.Controller{
		TID:               io.tid,
		Device:            u.Device,
		ConnectAttempts:   u.Attempts,
		RetryConnectTimer: dbusapi.TimerString(retryInterval(u.RetryInterval), !u.RetryAt.IsZero(), u.RetryAt.Sub(now)),
		Connected:         u.Connected,
		IOC:               &dbusapi.IOCState{DLPE: io.dlpe, NCC: u.NCC},
		Sysfs: dbusapi.SysfsAttributes{HostID: io.attrs.hostID, HostNQN: io.attrs.hostNQN, Model: io.attrs.model,
			Serial: io.attrs.serial, DCType: io.attrs.dcType, CntrlType: io.attrs.cntrlType},
	}
	if io.conf != nil {
		for k, v := range io.conf.DisplayFields() {
			switch k {
			case tid.KeyTransport, tid.KeyTraddr, tid.KeyTrsvcid, tid.KeySubsysNQN, tid.KeyHostTraddr, tid.KeyHostIface, tid.KeyHostNQN:
			default:
				c.Config = append(c.Config, dbusapi.Option{Key: k, Value: v})
			}
		}
	}
	if u.Connecting {
		// nvme-stas's shape: failures so far (not the attempt under way), not completed.
		running := false
		c.Connect = &dbusapi.Operation{FailCount: max(u.Attempts-1, 0), Completed: &running, Alive: true, Error: u.LastError}
	}
	if io.ifaceReason != "" {
		c.Extra = append(c.Extra, dbusapi.Option{Key: "host-iface reason", Value: io.ifaceReason})
	}
	if !io.dc.IsZero() {
		c.Extra = append(c.Extra, dbusapi.Option{Key: "discovery controller", Value: io.dc.String()})
	}
	if u.GaveUp {
		c.Extra = append(c.Extra, dbusapi.Option{Key: "connect gave up", Value: "NCC is set: waiting for it to clear or a reload"})
	}
	return c
}

// retryInterval is the retry timer's interval as nvme-stas shows it before the first
// failure: its initial 60 s.
func retryInterval(d time.Duration) time.Duration {
	if d == 0 {
		return 60 * time.Second
	}
	return d
}
