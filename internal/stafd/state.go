// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nvme-stas-go/stas/internal/daemon"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/match"
	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// finder returns the adoption search of a discovery controller: the first kernel
// discovery controller whose connection is t (behaviour reference §8.4).
func (s *Service) finder(t tid.TID) func(context.Context) (string, bool) {
	return func(context.Context) (string, bool) {
		if s.opts.Sysfs == nil {
			return "", false
		}
		ctrls, err := sysfs.ReadControllers(s.opts.Sysfs)
		if err != nil {
			return "", false
		}
		ifs, err := netif.ReadTable()
		if err != nil {
			ifs = &netif.Table{}
		}
		for _, c := range ctrls {
			if !c.IsFabrics() || !c.IsDiscovery() || c.State == "deleting" || c.State == "deleting (no IO)" {
				continue
			}
			if match.Matches(t, match.DeviceOf(c), ifs) {
				return c.Name, true
			}
		}
		return "", false
	}
}

// stateFile is the last-known configuration: every discovery controller with its origin
// and its validated log page, so that a restarted stafd republishes at once (stacd keeps
// its I/O controllers) and adopts the connections instead of duplicating them.
type stateFile struct {
	Version     int          `json:"version"`
	Controllers []stateEntry `json:"controllers"`
}

type stateEntry struct {
	TID      tid.TID       `json:"tid"`
	Origin   string        `json:"origin"`
	LogPages []stateRecord `json:"log_pages"`
}

// stateRecord is a log page entry in its wire form, so that nothing is lost or
// reinterpreted across a restart.
type stateRecord []byte

const stateVersion = 1

func (s *Service) save() {
	if s.opts.StatePath == "" {
		return
	}
	f := stateFile{Version: stateVersion, Controllers: []stateEntry{}}
	for _, d := range s.dcs {
		e := stateEntry{TID: d.tid, Origin: d.origin, LogPages: []stateRecord{}}
		for i := range d.entries {
			if b, err := d.entries[i].MarshalBinary(); err == nil {
				e.LogPages = append(e.LogPages, b)
			}
		}
		f.Controllers = append(f.Controllers, e)
	}
	if err := daemon.WriteJSON(s.opts.StatePath, f); err != nil {
		s.log.Error("Unable to save last known config", "err", err)
	}
}

// restore takes the controllers of the last-known configuration, with their log pages
// published at once; Run starts them, and each adopts its kernel connection if it is
// still there. What the configuration no longer wants is removed by the first
// reconciliation.
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
	wanted := s.wanted()
	for _, e := range f.Controllers {
		t := tid.New(e.TID, tid.Discovery, false)
		if t.IsZero() || s.dcs[t] != nil {
			continue
		}
		entries := make([]nvme.Entry, 0, len(e.LogPages))
		for _, b := range e.LogPages {
			if ent, err := nvme.DecodeEntry(b); err == nil && checkEntry(&ent) == nil {
				entries = append(entries, ent)
			}
		}
		d := &dc{tid: t, origin: e.Origin}
		if w := wanted[t]; w != nil {
			// Still configured: connect with its controller= options (secrets included).
			d.origin, d.conf = w.origin, w.conf
		}
		d.entries, d.referrals = entries, s.referralsOf(t, entries, nil)
		s.dcs[t] = d // its controller starts with Run
		s.log.Info("restored from the last known config", "controller", t.String(), "log entries", len(entries))
	}
	s.publish()
}

var hostnameOnce = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

func hostname() string { return hostnameOnce() }

var entityVersionOnce = sync.OnceValue(func() string {
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return strings.TrimSpace(string(b))
	}
	osRelease, _ := os.ReadFile("/etc/os-release")
	return nvme.EntityVersion(read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease"), osRelease)
})

func entityVersion() string { return entityVersionOnce() }

// snapshot is what D-Bus answers from: the controllers as they were after the service's
// last change.
type snapshot struct {
	taken time.Time
	dcs   []dcView
}

type dcView struct {
	ctl   dbusapi.Controller
	dlpes []map[string]string
}

// publish replaces the snapshot.
func (s *Service) publish() {
	now := time.Now()
	snap := &snapshot{taken: now}
	for _, d := range s.dcs {
		snap.dcs = append(snap.dcs, s.view(d, now))
	}
	// In a stable order, so that stafctl's output does not shuffle between calls.
	slices.SortFunc(snap.dcs, func(a, b dcView) int { return strings.Compare(a.ctl.TID.String(), b.ctl.TID.String()) })
	s.snap.Store(snap)
}

func (s *Service) view(d *dc, now time.Time) dcView {
	u := d.last
	c := dbusapi.Controller{
		TID:               d.tid,
		Device:            u.Device,
		ConnectAttempts:   u.Attempts,
		RetryConnectTimer: dbusapi.TimerString(retryInterval(u.RetryInterval), !u.RetryAt.IsZero(), u.RetryAt.Sub(now)),
		Connected:         u.Connected,
		DC:                &dbusapi.DCState{Origin: d.origin},
	}
	if u.Identified {
		c.Sysfs = dbusapi.SysfsAttributes{DCType: u.Identity.DCType.String(), CntrlType: u.Identity.CntrlType.String(),
			Model: printable(u.Identity.Model), Serial: printable(u.Identity.Serial)}
	}
	if u.Connected {
		c.Sysfs.HostNQN, c.Sysfs.HostID = d.tid.HostNQN, s.host.ID
	}
	if d.conf != nil {
		for k, v := range d.conf.DisplayFields() {
			switch k {
			case tid.KeyTransport, tid.KeyTraddr, tid.KeyTrsvcid, tid.KeySubsysNQN, tid.KeyHostTraddr, tid.KeyHostIface, tid.KeyHostNQN:
			default:
				c.Config = append(c.Config, dbusapi.Option{Key: k, Value: v})
			}
		}
	}
	c.DC.GetLogPage = operation(u.LogPage, now)
	if c.DC.GetLogPage == nil && u.Connected {
		// Connected, log page not read yet (Identify and registration come first): say
		// so, or a client could take the empty list for an empty log page.
		pending := false
		c.DC.GetLogPage = &dbusapi.Operation{Completed: &pending, Alive: true}
	}
	c.DC.Register = operation(u.Register, now)
	c.DC.GetSupportedLogPage = operation(u.Supported, now)
	if u.Connecting {
		// nvme-stas's shape: failures so far (not the attempt under way), not completed.
		running := false
		c.Connect = &dbusapi.Operation{FailCount: max(u.Attempts-1, 0), Completed: &running, Alive: true, Error: u.LastError}
	}
	v := dcView{ctl: c}
	for i := range d.entries {
		v.dlpes = append(v.dlpes, d.entries[i].DLPE())
	}
	return v
}

// printable returns s when it is printable text, else "": Identify fields are raw bytes
// from the controller and are not passed on unchecked.
func printable(s string) string {
	if nvme.CheckText(s) != nil {
		return ""
	}
	return s
}

// retryInterval is the retry timer's interval as nvme-stas shows it before the first
// failure: its initial 60 s.
func retryInterval(d time.Duration) time.Duration {
	if d == 0 {
		return 60 * time.Second
	}
	return d
}
