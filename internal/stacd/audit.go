// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/match"
	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// scanner reads the kernel's controllers for adoption and the audit. A scan is shared by
// every controller looking for its connection until a kernel event invalidates it, so
// that 200 controllers starting together read sysfs once, not 200 times. A device that
// appears between a scan and its event is at worst connected again, which the kernel
// refuses as a duplicate; the retry then adopts it.
type scanner struct {
	sysfs      fs.FS
	interfaces func() (match.Interfaces, error)

	mu    sync.Mutex
	valid bool
	ctrls []sysfs.Controller
	ifs   match.Interfaces
	// claims are the devices controllers own (adopted or connected), so that two
	// controllers whose identities both match one connection never share it.
	claims map[string]tid.TID
}

func newScanner(fsys fs.FS, interfaces func() (match.Interfaces, error)) *scanner {
	return &scanner{sysfs: fsys, interfaces: interfaces, claims: map[string]tid.TID{}}
}

func (sc *scanner) invalidate() {
	sc.mu.Lock()
	sc.valid = false
	sc.mu.Unlock()
}

// controllers returns the kernel's live fabrics I/O controllers and the interface table.
func (sc *scanner) controllers() ([]sysfs.Controller, match.Interfaces, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.valid {
		return sc.ctrls, sc.ifs, nil
	}
	if sc.sysfs == nil {
		return nil, nil, errors.New("no sysfs")
	}
	all, err := sysfs.ReadControllers(sc.sysfs)
	if err != nil {
		return nil, nil, err
	}
	var ios []sysfs.Controller
	for _, c := range all {
		if c.IsFabrics() && c.IsIO() && !strings.HasPrefix(c.State, "deleting") {
			ios = append(ios, c)
		}
	}
	var ifs match.Interfaces = &netif.Table{}
	if sc.interfaces != nil {
		t, err := sc.interfaces()
		if err != nil {
			// Matching by interface needs the table: without it, say so and try again
			// next time rather than keep a scan that cannot match.
			return nil, nil, fmt.Errorf("read the host's interfaces: %w", err)
		}
		ifs = t
	}
	sc.ctrls, sc.ifs, sc.valid = ios, ifs, true
	return ios, ifs, nil
}

// finder returns the adoption search of an I/O controller: the first kernel I/O
// controller whose connection is t (reference §8.4, addresses compared as addresses).
func (sc *scanner) finder(t tid.TID) func(context.Context) (string, bool) {
	return func(context.Context) (string, bool) {
		ctrls, ifs, err := sc.controllers()
		if err != nil {
			return "", false
		}
		sc.mu.Lock()
		defer sc.mu.Unlock()
		for _, c := range ctrls {
			if owner, ok := sc.claims[c.Name]; ok && owner != t {
				continue
			}
			if match.Matches(t, match.DeviceOf(c), ifs) {
				sc.claims[c.Name] = t
				return c.Name, true
			}
		}
		return "", false
	}
}

// claim records that t owns device (it connected it).
func (sc *scanner) claim(device string, t tid.TID) {
	sc.mu.Lock()
	sc.claims[device] = t
	sc.mu.Unlock()
}

// release gives up t's claim on device.
func (sc *scanner) release(device string, t tid.TID) {
	sc.mu.Lock()
	if sc.claims[device] == t {
		delete(sc.claims, device)
	}
	sc.mu.Unlock()
}

// tidOf is the identity of a kernel connection, for the log and the boot check.
func tidOf(c sysfs.Controller, ifs match.Interfaces) tid.TID {
	d := match.DeviceOf(c)
	t := tid.TID{Transport: d.Transport, Traddr: d.Traddr, Trsvcid: d.Trsvcid, SubsysNQN: d.SubsysNQN,
		HostTraddr: d.HostTraddr, HostIface: d.HostIface, HostNQN: d.HostNQN}
	if t.HostIface == "" && t.Transport == tid.TCP && ifs != nil {
		if a, err := netip.ParseAddr(d.SrcAddr); err == nil {
			t.HostIface = ifs.InterfaceOf(a)
		}
	}
	return t
}

// audit deletes the kernel I/O connections of a transport in disconnect-trtypes that
// nothing wants (reference §7.6). It runs only on a fresh and complete answer from
// stafd: a connection is never judged unwanted on missing knowledge. And unlike
// nvme-stas, it compares each connection with what is wanted through the adoption
// rules, so a connection one wanted controller will adopt is never taken for a foreign
// one (no flapping). Boot connections (NBFT) and connections made with another host NQN
// than the system's are never deleted.
func (s *Service) audit(wanted map[tid.TID]*want) {
	if !s.fresh && s.opts.Stafd != nil {
		s.log.Debug("audit of foreign connections deferred until stafd answers")
		return
	}
	if s.resolving {
		s.log.Debug("audit of foreign connections deferred until configured host names resolve")
		return
	}
	s.auditDue = false
	ctrls, ifs, err := s.scan.controllers()
	if err != nil {
		s.log.Warn("audit of foreign connections skipped", "err", err)
		return
	}
	for _, c := range ctrls {
		if !slices.Contains(s.cfg.DisconnectTrtypes, c.Transport) {
			continue
		}
		if _, ok := s.byDevice[c.Name]; ok {
			continue
		}
		if _, ok := s.removing[c.Name]; ok {
			continue
		}
		dev := match.DeviceOf(c)
		if wantedMatch(wanted, dev, ifs) {
			continue // one of the wanted controllers adopts it (or is connecting it)
		}
		t := tidOf(c, ifs)
		switch {
		case s.isBoot(t):
			s.log.Debug("audit: boot connection left alone", "device", c.Name, "controller", t.String())
			continue
		case s.host.NQN != "" && c.HostNQN != s.host.NQN:
			s.log.Debug("audit: connection made with another host NQN left alone", "device", c.Name, "controller", t.String(), "hostnqn", c.HostNQN)
			continue
		}
		s.log.Info("audit: deleting a connection nothing wants (disconnect-scope all-connections-matching-disconnect-trtypes)",
			"device", c.Name, "controller", t.String())
		s.deleteDevice(c.Name)
	}
}

func wantedMatch(wanted map[tid.TID]*want, dev match.Device, ifs match.Interfaces) bool {
	for t := range wanted {
		if match.Matches(t, dev, ifs) {
			return true
		}
	}
	return false
}

// deleteDevice deletes a kernel controller off the owner goroutine.
func (s *Service) deleteDevice(dev string) {
	s.removing[dev] = nil
	host := s.opts.Host
	go func() {
		defer func() {
			select {
			case s.deleted <- dev:
			case <-s.stopped:
			}
		}()
		if host == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), ctrl.DefaultDisconnectTimeout)
		defer cancel()
		if err := host.Disconnect(ctx, dev); err != nil && !errors.Is(err, fabrics.ErrNoController) {
			s.log.Error("audit: cannot delete the connection", "device", dev, "err", err)
		}
	}()
}

// sysAttrs are the sysfs attributes the details dict shows.
type sysAttrs struct {
	hostID, hostNQN, model, serial, dcType, cntrlType string
}

// readSysAttrs reads them for device; missing ones are "".
func readSysAttrs(fsys fs.FS, device string) sysAttrs {
	if fsys == nil || device == "" {
		return sysAttrs{}
	}
	read := func(attr string) string {
		b, err := fs.ReadFile(fsys, path.Join(sysfs.ClassNVMe, device, attr))
		if err != nil || len(b) > 4096 {
			return ""
		}
		v := strings.TrimSpace(string(b))
		if v == "(efault)" || !printableText(v) {
			return ""
		}
		return v
	}
	return sysAttrs{hostID: read("hostid"), hostNQN: read("hostnqn"), model: read("model"), serial: read("serial"),
		dcType: read("dctype"), cntrlType: read("cntrltype")}
}

func printableText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// ReadInterfaces reads the host's interface table (netif.ReadTable) for Options.Interfaces.
func ReadInterfaces() (match.Interfaces, error) {
	t, err := netif.ReadTable()
	if err != nil {
		return nil, err
	}
	return t, nil
}
