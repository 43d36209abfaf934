// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// page is what stacd holds of one discovery controller's log page.
type page struct {
	dc tid.TID
	// known: the entries are from stafd's current knowledge (else kept from before).
	known   bool
	entries []entry
}

// entry is one NVMe subsystem entry of a log page and the I/O controller it stands for.
type entry struct {
	TID    tid.TID           `json:"tid"`
	DLPE   map[string]string `json:"dlpe"`
	Reason string            `json:"iface_reason,omitempty"`
	// IgnoreIface is the ignore-iface setting the interface was chosen under: a reload
	// that changes it chooses again.
	IgnoreIface bool `json:"ignore_iface,omitempty"`
}

// nccFlag is the NCC bit of a log entry's eflags (reference §7.5).
const nccFlag = 4

func (e *entry) ncc() bool {
	f, err := strconv.ParseUint(e.DLPE[nvme.DLPEKeyEFlags], 0, 16)
	return err == nil && f&nccFlag != 0
}

// takePages replaces what stacd holds with stafd's answer. A DC stafd no longer lists is
// gone, with its entries; a DC it lists but does not know now keeps the entries stacd
// had from it. An entry keeps the I/O controller (and so the interface) it was given
// while it stays listed, so a routing change never moves a live connection.
func (s *Service) takePages(pages []dcPage) {
	skipped := map[string]string{}
	defer func() { s.skipped = skipped }()
	next := make(map[tid.TID]*page, len(pages))
	fresh := true
	for i := range pages {
		p := &pages[i]
		old := s.pages[p.DC]
		if !p.Known {
			fresh = false
			if old != nil {
				s.log.Debug("discovery controller's log page not known now; keeping its entries",
					"controller", p.DC.String(), "entries", len(old.entries))
				next[p.DC] = &page{dc: p.DC, entries: old.entries}
				continue
			}
			if len(p.Entries) == 0 {
				next[p.DC] = &page{dc: p.DC}
				continue
			}
		}
		next[p.DC] = &page{dc: p.DC, known: p.Known, entries: s.entriesOf(p, old, skipped)}
	}
	settling := time.Until(s.stafdSince.Add(SettleDelay))
	for t, old := range s.pages {
		if next[t] != nil {
			continue
		}
		if settling > 0 {
			// stafd only just appeared: it may not have found this one yet.
			next[t] = &page{dc: t, entries: old.entries}
			fresh = false
			continue
		}
		s.log.Info("stafd no longer lists the discovery controller", "controller", t.String())
	}
	s.pages = next
	s.fresh = fresh
}

// entriesOf turns a DC's log page into the I/O controllers it lists: its NVMe
// subsystem entries, valid and not requiring TLS, each inheriting the DC's host fields
// (reference §7.2), on the interface design.md's rule picks.
func (s *Service) entriesOf(p *dcPage, old *page, skipped map[string]string) []entry {
	prev := map[string]entry{}
	if old != nil {
		for _, e := range old.entries {
			prev[entryKey(e.DLPE)] = e
		}
	}
	hostNQN := p.DC.HostNQN
	if hostNQN == "" {
		hostNQN = s.host.NQN
	}
	var out []entry
	for _, d := range p.Entries {
		if d[nvme.DLPEKeySubType] != "nvme" {
			continue
		}
		if problem := checkDLPE(d); problem != "" {
			key := p.DC.String() + "\x00" + entryKey(d)
			if s.skipped[key] != problem { // once, not on every read
				s.log.Warn("log page entry skipped", "controller", p.DC.String(), "subnqn", d[nvme.DLPEKeySubNQN],
					"traddr", d[nvme.DLPEKeyTrAddr], "problem", problem)
			}
			skipped[key] = problem
			continue
		}
		if e, ok := prev[entryKey(d)]; ok && e.IgnoreIface == s.cfg.IgnoreIface {
			e.DLPE = d // eflags (NCC) may have changed
			out = append(out, e)
			continue
		}
		iface, reason := p.DC.HostIface, "inherited from the discovery controller"
		switch {
		case s.cfg.IgnoreIface:
			iface, reason = "", "ignore-iface is set: the kernel chooses"
		case s.opts.Chooser != nil:
			dst, _ := netip.ParseAddr(d[nvme.DLPEKeyTrAddr])
			iface, reason = s.opts.Chooser.ChooseIface("", p.DC.HostIface, dst)
		}
		t := tid.New(tid.TID{Transport: d[nvme.DLPEKeyTrType], Traddr: d[nvme.DLPEKeyTrAddr], Trsvcid: d[nvme.DLPEKeyTrSvcID],
			SubsysNQN: d[nvme.DLPEKeySubNQN], HostTraddr: p.DC.HostTraddr, HostIface: iface, HostNQN: hostNQN},
			tid.IO, s.cfg.IgnoreIface)
		if t.HostIface != p.DC.HostIface {
			s.log.Info("I/O controller bound to another interface than its discovery controller's", "controller", t.String(),
				"discovery controller", p.DC.String(), "host-iface", t.HostIface, "reason", reason)
		} else {
			s.log.Debug("I/O controller interface chosen", "controller", t.String(), "host-iface", t.HostIface, "reason", reason)
		}
		out = append(out, entry{TID: t, DLPE: d, Reason: reason, IgnoreIface: s.cfg.IgnoreIface})
	}
	return out
}

// entryKey identifies a log entry across reads.
func entryKey(d map[string]string) string {
	return d[nvme.DLPEKeyTrType] + "\x00" + d[nvme.DLPEKeyTrAddr] + "\x00" + d[nvme.DLPEKeyTrSvcID] + "\x00" + d[nvme.DLPEKeySubNQN]
}

// checkDLPE says what makes an entry unusable: fields that cannot name a controller
// (stafd other than ours does not validate them), or a TLS requirement the product does
// not meet yet.
func checkDLPE(d map[string]string) string {
	tr := d[nvme.DLPEKeyTrType]
	switch tr {
	case tid.TCP, tid.RDMA:
		if _, err := netip.ParseAddr(d[nvme.DLPEKeyTrAddr]); err != nil {
			return "traddr is not an IP address"
		}
		if p, err := strconv.ParseUint(d[nvme.DLPEKeyTrSvcID], 10, 16); err != nil || p == 0 {
			return "trsvcid is not a port number"
		}
	case tid.FC, tid.Loop:
	default:
		return "unsupported transport " + strconv.Quote(tr)
	}
	if err := nqn.ValidateSubsystem(d[nvme.DLPEKeySubNQN]); err != nil {
		return err.Error()
	}
	if n, err := strconv.ParseUint(d[nvme.DLPEKeyTReq], 0, 8); d[nvme.DLPEKeyTReq] == "required" || (err == nil && n&3 == 1) {
		return "requires a secure channel (TLS), which is not supported"
	}
	if tsas := d[nvme.DLPEKeyTSAS]; tr == tid.TCP && tsas != "" && tsas != "{'sectype': 'none'}" {
		return "requires TLS, which is not supported"
	}
	return ""
}

// want is one wanted I/O controller.
type want struct {
	conf   *config.Controller
	entry  *entry
	dc     tid.TID
	ncc    bool
	reason string
}

// wanted computes the I/O controllers the host should have.
func (s *Service) wanted() map[tid.TID]*want {
	ignore := s.cfg.IgnoreIface
	s.resolving = false
	all := map[tid.TID]*want{}
	for i := range s.cfg.Controllers {
		c := &s.cfg.Controllers[i]
		raw := tid.TID{Transport: c.Transport, Traddr: c.Traddr, Trsvcid: c.Trsvcid, SubsysNQN: c.Subsysnqn,
			HostTraddr: c.HostTraddr, HostIface: c.HostIface, HostNQN: c.HostNQN}
		if config.Excluded(s.cfg.Excludes, tid.New(raw, tid.IO, ignore).Dict()) {
			continue // before resolution, so that a host name in exclude= matches one in controller=
		}
		ok, pending := s.resolver.Traddr(&raw, s.cfg.IPFamily, s.log)
		s.resolving = s.resolving || pending
		if !ok {
			continue
		}
		t := tid.New(raw, tid.IO, ignore)
		if t.HostNQN == "" {
			t.HostNQN = s.host.NQN
		}
		if t.Transport == "" || (t.Traddr == "" && t.Transport != tid.Loop) || t.SubsysNQN == "" || (t.Trsvcid == "" && (t.Transport == tid.TCP || t.Transport == tid.RDMA)) {
			s.log.Warn("configured I/O controller left out: transport, traddr, trsvcid and subsysnqn are needed", "controller", t.String())
			continue
		}
		all[t] = &want{conf: c, reason: "configured"}
		if c.HostIface != "" {
			all[t].reason = "configured host-iface"
		}
	}
	// In a stable order: a controller several DCs list shows the same one each pass, and
	// its NCC is set only when every DC listing it sets it (a DDC never does).
	dcs := slices.Collect(maps.Keys(s.pages))
	slices.SortFunc(dcs, func(a, b tid.TID) int { return strings.Compare(a.String(), b.String()) })
	for _, dc := range dcs {
		p := s.pages[dc]
		for i := range p.entries {
			e := &p.entries[i]
			w, ok := all[e.TID]
			switch {
			case !ok:
				all[e.TID] = &want{entry: e, dc: p.dc, ncc: e.ncc(), reason: e.Reason}
			case w.entry == nil:
				// Configured and listed by a DC: keep its configuration, show the entry.
				w.entry, w.dc, w.ncc = e, p.dc, e.ncc()
			default:
				w.ncc = w.ncc && e.ncc()
			}
		}
	}
	refused := map[tid.TID]string{}
	for t := range all {
		if reason := s.cfg.Refuse(t); reason != "" {
			refused[t] = reason
			delete(all, t)
			if s.refused[t] == reason {
				continue // said on an earlier pass
			}
			if reason == "excluded" {
				s.log.Info("I/O controller left out", "controller", t.String(), "reason", reason)
			} else {
				s.log.Warn("I/O controller left out", "controller", t.String(), "reason", reason)
			}
		}
	}
	s.refused = refused
	return all
}

// reconcile brings the table in line with what is wanted. Only a positive "no longer
// wanted" removes a controller: stafd's answer without it, or the configuration.
func (s *Service) reconcile() {
	wanted := s.wanted()
	for t, io := range s.iocs {
		if _, ok := wanted[t]; ok {
			continue
		}
		// While a configured host name has no answer yet, its controller may be one of
		// these: removing it would drop a connection the restart just adopted.
		if s.resolving && (io.conf != nil || io.dlpe == nil) {
			continue
		}
		keep, why := s.keepOnRemoval(io)
		s.remove(io, keep, why)
	}
	for t, w := range wanted {
		io, ok := s.iocs[t]
		if !ok {
			s.add(t, w)
			continue
		}
		io.conf = w.conf
		if s.connectOptions(io) != io.opts || s.cfg.ConnectAttemptsOnNCC != io.nccLimit {
			// Its options changed (a reload, or a controller restored before its
			// configuration was known): a new controller takes over the connection and
			// uses them from its next connect.
			io.c.Stop(true, false)
			s.start(io, w.ncc)
			io.ncc = w.ncc
		}
		if w.entry != nil {
			io.dlpe, io.dc = w.entry.DLPE, w.dc
			if w.ncc != io.ncc {
				io.ncc = w.ncc
				io.c.SetNCC(w.ncc)
			}
		} else {
			io.dlpe, io.dc = nil, tid.TID{}
		}
	}
	if s.auditDue && s.auditing() {
		s.audit(wanted)
	}
	s.save()
	s.publish()
}

// add starts managing an I/O controller.
func (s *Service) add(t tid.TID, w *want) *ioc {
	io := &ioc{tid: t, conf: w.conf, dc: w.dc, ifaceReason: w.reason, ncc: w.ncc}
	if w.entry != nil {
		io.dlpe = w.entry.DLPE
	}
	s.iocs[t] = io
	s.start(io, w.ncc)
	return io
}

func (s *Service) start(io *ioc, ncc bool) {
	io.opts, io.nccLimit = s.connectOptions(io), s.cfg.ConnectAttemptsOnNCC
	p := ctrl.Params{TID: io.tid, Role: ctrl.IO, Options: io.opts, ConnectAttemptsOnNCC: io.nccLimit, NCC: ncc}
	deps := ctrl.Deps{
		Host:         s.opts.Host,
		FindExisting: s.scan.finder(io.tid),
		Limiter:      s.limiter,
		Logger:       s.log,
	}
	io.c = ctrl.Start(context.Background(), p, deps, s.updates)
}

// connectOptions builds the kernel options of an I/O controller: its identity, the host
// identity (its own host NQN when it has one), the [Global] options, overridden by its
// controller= entry.
func (s *Service) connectOptions(io *ioc) fabrics.Options {
	t := io.tid
	o := fabrics.Options{Transport: fabrics.Transport(t.Transport), TrAddr: t.Traddr, TrSvcID: t.Trsvcid, SubsysNQN: t.SubsysNQN}
	return ctrl.ConnectOptions(o, t, s.host, io.conf, s.cfg.Connection, s.supported)
}

// remove stops managing io; keep leaves its kernel connection.
func (s *Service) remove(io *ioc, keep bool, why string) {
	delete(s.iocs, io.tid)
	if dev := io.last.Device; dev != "" && s.byDevice[dev] == io {
		delete(s.byDevice, dev)
		if keep {
			s.scan.release(dev, io.tid) // no longer anyone's
		} else {
			s.removing[dev] = io.c // released when the delete is done
		}
	}
	if keep {
		s.log.Info("I/O controller no longer wanted; connection kept", "controller", io.tid.String(), "device", io.last.Device, "why", why)
	} else {
		s.log.Info("I/O controller no longer wanted; disconnecting", "controller", io.tid.String(), "device", io.last.Device)
	}
	io.c.Stop(keep, false)
}
