// SPDX-License-Identifier: Apache-2.0

// Package stafd owns the discovery service: which discovery controllers the host should
// be connected to (configured, found by mDNS, listed in the NBFT, referred to by other
// discovery controllers), one ctrl.Controller per controller, the cached and validated
// discovery log pages, the D-Bus object org.nvmexpress.staf, and the last-known
// configuration that lets a restarted stafd adopt its connections and republish at once.
//
// One goroutine (Run) owns all of that state; D-Bus handlers answer from an immutable
// snapshot it publishes after every change, so no D-Bus call ever waits for a controller
// or the kernel.
package stafd

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/daemon"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/debounce"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/resolve"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

// Options are what a Service is built from. Zero values of the optional fields mean
// "none" (no mDNS, no NBFT, no D-Bus), which tests use.
type Options struct {
	Prog     string // "stafd"
	ConfPath string
	Tron     bool // --tron: trace on at start, OR-ed with the configuration's tron
	Logger   *slog.Logger
	Level    *slog.LevelVar

	// Kernel access.
	Host      fabrics.Host
	OpenAdmin func(device string) (ctrl.Admin, error)
	Sysfs     fs.FS // rooted at /sys
	// Uevents delivers the kernel's nvme events (uevent.Monitor.Updates()).
	Uevents <-chan uevent.Update

	// Host identity (sys.conf, read once at start as nvme-stas does).
	SysConf *config.SysConf

	// Sources beyond the configuration file.
	NBFT func() []tid.TID
	MDNS MDNS

	// Chooser picks the interface of a referral (design.md's rule); nil inherits the
	// parent's, as nvme-stas does.
	Chooser interfaceChooser

	// RuleDir is where the udev rule overriding nvme-cli's autoconnect rule is written
	// while stafd runs (/run/udev/rules.d); "" writes none. Systemctl is systemctl's path,
	// used for the rule and to hand events to nvme-cli; "" hands nothing over.
	RuleDir   string
	Systemctl string

	// StatePath is the last-known-config file; "" keeps none.
	StatePath string

	// Emit sends D-Bus signals; nil sends none.
	Emit Emitter
	// Ready is called once the service runs (systemd readiness).
	Ready func()

	// Now and timers come from the time package; tests use testing/synctest.
}

// interfaceChooser is netif.Chooser's ChooseIface.
type interfaceChooser interface {
	ChooseIface(configured, parent string, dst netip.Addr) (iface, reason string)
}

// Emitter sends the service's D-Bus signals. The service calls it from a goroutine of
// its own, never from the owner goroutine, so a slow bus cannot stall the service.
type Emitter interface {
	EmitLogPagesChanged(t tid.TID, device string) error
	EmitDCRemoved() error
}

// Service is stafd's discovery service.
type Service struct {
	*daemon.Control
	opts Options
	log  *slog.Logger

	cfg       *config.Config
	supported fabrics.Supported
	host      config.HostIdentity

	dcs      map[tid.TID]*dc
	byDevice map[string]*dc
	// removing holds the devices of controllers being stopped: their events are neither
	// theirs any more nor someone else's to hand to nvme-cli.
	removing map[string]*ctrl.Controller
	// resolving is set by a pass that met a configured host name without an answer yet;
	// such a pass removes no configured controller.
	resolving bool
	updates   chan ctrl.Update
	limiter   *ctrl.Limiter
	debounce  *debounce.Debouncer
	signals   *signalQueue
	resolver  *resolve.Resolver
	chooser   interfaceChooser
	ageTimer  *time.Timer

	snap atomic.Pointer[snapshot]
}

// dc is one discovery controller the service manages.
type dc struct {
	tid    tid.TID
	origin string
	// conf is the controller= entry it came from, nil for other origins.
	conf *config.Controller
	c    *ctrl.Controller
	last ctrl.Update
	// entries are the validated log page entries last published, nil before the first
	// fetch; fetched counts the fetches seen.
	entries []nvme.Entry
	fetched uint64
	// referrals are the referral entries of entries, for the reconciliation.
	referrals []tid.TID
	// lostSince is when a controller found by mDNS was first seen no longer announced.
	lostSince time.Time
}

// New loads the configuration and returns a service ready to Run. A configuration file
// that cannot be used is an error at start (there is no last good one to keep).
func New(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Level == nil {
		opts.Level = new(slog.LevelVar)
	}
	if opts.Prog == "" {
		opts.Prog = "stafd"
	}
	s := &Service{
		Control:  daemon.NewControl(opts.Logger, opts.Level),
		opts:     opts,
		log:      opts.Logger,
		dcs:      map[tid.TID]*dc{},
		byDevice: map[string]*dc{},
		removing: map[string]*ctrl.Controller{},
		updates:  make(chan ctrl.Update, 256),
		limiter:  ctrl.NewLimiter(ctrl.DefaultConcurrentConnects),
		debounce: debounce.New(debounce.Window),
		signals:  newSignalQueue(),
		resolver: resolve.New(),
		chooser:  opts.Chooser,
		ageTimer: time.NewTimer(time.Hour),
	}
	s.ageTimer.Stop()
	cfg, problems, err := config.Load(config.Stafd, opts.ConfPath)
	config.LogProblems(s.log, problems)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", opts.ConfPath, err)
	}
	s.cfg = cfg
	s.SetIgnoreIface(cfg.IgnoreIface)
	s.SetTronLevel(opts.Tron || cfg.Tron)
	if opts.SysConf != nil {
		if s.host, err = opts.SysConf.Identity(s.log); err != nil {
			return nil, err
		}
	}
	if opts.Host != nil {
		if s.supported, err = opts.Host.SupportedOptions(); err != nil {
			s.log.Warn("Cannot determine which NVMe options the kernel supports", "err", err)
			s.supported = fabrics.DefaultSupported()
		}
		if !s.supported.Has(fabrics.OptHostIface) || !s.supported.Has(fabrics.OptDiscovery) {
			s.log.Warn("Kernel does not appear to support all the options needed to run this program. Consider updating to a later kernel version.")
		}
	}
	if opts.MDNS != nil {
		opts.MDNS.SetServiceTypes(cfg.ServiceTypes())
	}
	// The last-known configuration is taken before the service is on the bus, so that
	// its first answers are complete: a stacd asking at once must not see an empty list.
	s.restore()
	s.publish()
	return s, nil
}

// Run runs the service until ctx ends, then stops every controller: with
// persistent-connections (the default) their kernel connections stay for the next start
// to adopt; without, they are deregistered and deleted.
func (s *Service) Run(ctx context.Context) error {
	if s.opts.RuleDir != "" && s.opts.Systemctl != "" {
		if err := installRule(s.opts.RuleDir, s.opts.Systemctl); err != nil {
			s.log.Warn("nvme-cli's autoconnect rule not overridden", "err", err)
		}
		defer func() {
			if err := removeRule(s.opts.RuleDir); err != nil {
				s.log.Warn("udev rule override not removed", "err", err)
			}
		}()
	}
	for _, d := range s.dcs {
		if d.c == nil { // restored by New
			s.start(d, nil)
		}
	}
	emitDone := make(chan struct{})
	go s.signals.run(s.opts.Emit, func(err error) { s.log.Warn("D-Bus signal not sent", "err", err) }, emitDone)
	defer func() { s.signals.close(); <-emitDone }()
	var mdnsChanges <-chan struct{}
	if s.opts.MDNS != nil {
		mdnsChanges = s.opts.MDNS.Changes()
	}
	s.debounce.Trigger()
	if s.opts.Ready != nil {
		s.opts.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case <-s.ReloadRequests():
			s.doReload()
		case reply := <-s.Pings():
			close(reply)
		case <-s.debounce.RunNow():
			s.reconcile()
		case <-s.debounce.WindowEnd():
			if s.debounce.Fired() {
				s.reconcile()
			}
		case u := <-s.updates:
			s.handleUpdate(u)
		case <-mdnsChanges:
			s.debounce.Trigger()
		case <-s.ageTimer.C:
			s.debounce.Trigger()
		case a := <-s.resolver.Results():
			if s.resolver.Take(a) {
				s.debounce.Trigger()
			}
		case u, ok := <-s.opts.Uevents:
			if !ok {
				s.opts.Uevents = nil
				continue
			}
			s.handleUevent(u)
		}
	}
}

func (s *Service) doReload() {
	cfg, problems, err := config.Reload(s.cfg)
	config.LogProblems(s.log, problems)
	if err != nil {
		s.log.Error("configuration not reloaded; keeping the last good one", "err", err)
	}
	s.cfg = cfg
	s.SetIgnoreIface(cfg.IgnoreIface)
	s.SetTronLevel(cfg.Tron)
	if s.opts.MDNS != nil {
		s.opts.MDNS.SetServiceTypes(cfg.ServiceTypes())
		s.opts.MDNS.Kick()
	}
	for _, d := range s.dcs {
		d.c.Reload()
	}
	s.debounce.Trigger()
}

// wanted computes the discovery controllers the host should have, by origin.
func (s *Service) wanted() map[tid.TID]*want {
	ignore := s.cfg.IgnoreIface
	s.resolving = false
	all := map[tid.TID]*want{}
	add := func(t tid.TID, origin string, conf *config.Controller) {
		if w, ok := all[t]; ok {
			if originRank(origin) < originRank(w.origin) {
				w.origin, w.conf = origin, conf
			}
			return
		}
		all[t] = &want{origin: origin, conf: conf}
	}
	for i := range s.cfg.Controllers {
		c := &s.cfg.Controllers[i]
		raw := tid.TID{Transport: c.Transport, Traddr: c.Traddr, Trsvcid: c.Trsvcid, SubsysNQN: c.Subsysnqn,
			HostTraddr: c.HostTraddr, HostIface: c.HostIface, HostNQN: c.HostNQN}
		if config.Excluded(s.cfg.Excludes, tid.New(raw, tid.Discovery, ignore).Dict()) {
			continue // before resolution, so that a host name in exclude= matches one in controller=
		}
		ok, pending := s.resolver.Traddr(&raw, s.cfg.IPFamily, s.log)
		s.resolving = s.resolving || pending
		if !ok {
			continue
		}
		t := tid.New(raw, tid.Discovery, ignore)
		if t.HostNQN == "" {
			t.HostNQN = s.host.NQN
		}
		if t.SubsysNQN == "" {
			t.SubsysNQN = nqn.WellKnownDiscovery
		}
		add(t, dbusapi.OriginConfigured, c)
	}
	if s.opts.NBFT != nil {
		for _, t := range s.opts.NBFT() {
			if t.HostNQN == "" {
				t.HostNQN = s.host.NQN
			}
			add(tid.New(t, tid.Discovery, ignore), dbusapi.OriginConfigured, nil)
		}
	}
	for _, t := range s.discovered() {
		add(t, dbusapi.OriginDiscovered, nil)
	}
	for _, d := range s.dcs {
		for _, r := range d.referrals {
			add(r, dbusapi.OriginReferral, nil)
		}
	}
	for t := range all {
		if reason := s.cfg.Refuse(t); reason != "" {
			s.log.Warn("discovery controller left out", "controller", t.String(), "reason", reason)
			delete(all, t)
		}
	}
	return all
}

// want is one wanted discovery controller.
type want struct {
	origin string
	conf   *config.Controller
}

func originRank(origin string) int {
	switch origin {
	case dbusapi.OriginConfigured:
		return 0
	case dbusapi.OriginReferral:
		return 1
	default:
		return 2
	}
}

// reconcile brings the table in line with what is wanted.
func (s *Service) reconcile() {
	wanted := s.wanted()
	removed := 0
	now := time.Now()
	var next time.Time
	for t, d := range s.dcs {
		if _, ok := wanted[t]; ok {
			d.lostSince = time.Time{}
			continue
		}
		// While a configured host name has no answer yet, its controller may be one of
		// these: removing it would drop a connection the restart just adopted.
		if s.resolving && d.origin == dbusapi.OriginConfigured {
			continue
		}
		// A controller found by mDNS is not dropped just because it is no longer
		// announced (an avahi-daemon restart forgets every service); it ages out unless
		// it is excluded or no longer a valid address.
		if d.origin == dbusapi.OriginDiscovered && s.cfg.Refuse(t) == "" {
			keep, recheck := s.keepLost(d, now)
			if keep {
				if !recheck.IsZero() && (next.IsZero() || recheck.Before(next)) {
					next = recheck
				}
				continue
			}
		}
		s.remove(d, false, true)
		removed++
	}
	s.ageTimer.Stop()
	if !next.IsZero() {
		s.ageTimer.Reset(time.Until(next))
	}
	for t, w := range wanted {
		d, ok := s.dcs[t]
		if !ok {
			d = s.add(t, w)
		}
		d.origin, d.conf = w.origin, w.conf
	}
	if removed > 0 {
		s.signals.dcRemoved()
	}
	s.save()
	s.publish()
}

// add starts managing a discovery controller.
func (s *Service) add(t tid.TID, w *want) *dc {
	d := &dc{tid: t, origin: w.origin, conf: w.conf}
	s.dcs[t] = d
	s.start(d, nil)
	return d
}

// start starts d's controller; cached entries (from the last-known configuration) are
// kept until the first fetch replaces them.
func (s *Service) start(d *dc, cached []nvme.Entry) {
	if cached != nil {
		d.entries = cached
		d.referrals = s.referralsOf(d.tid, cached, d.referrals)
	}
	p := ctrl.Params{TID: d.tid, Role: ctrl.Discovery, Options: s.connectOptions(d), PLEO: s.cfg.PLEO}
	if id, err := nvme.ParseUUID(s.host.ID); err == nil && d.tid.HostNQN != "" {
		p.Registration = &nvme.HostRegistration{HostNQN: d.tid.HostNQN, HostID: id, SymbolicName: s.host.Symname,
			EntityName: hostname(), EntityVersion: entityVersion()}
		if a, err := netip.ParseAddr(d.tid.Traddr); err == nil && a.Unmap().Is6() {
			p.Registration.AdrFam = nvme.AddressFamilyIPv6
		} else {
			p.Registration.AdrFam = nvme.AddressFamilyIPv4
		}
	}
	deps := ctrl.Deps{
		Host:         s.opts.Host,
		OpenAdmin:    s.opts.OpenAdmin,
		FindExisting: s.finder(d.tid),
		Limiter:      s.limiter,
		Logger:       s.log,
	}
	d.c = ctrl.Start(context.Background(), p, deps, s.updates)
}

// connectOptions builds the kernel options of a discovery controller: its identity, the
// host identity (its own host NQN when it has one), the [Global] options, overridden by
// its controller= entry.
func (s *Service) connectOptions(d *dc) fabrics.Options {
	t := d.tid
	o := fabrics.NewDiscoveryController(fabrics.Transport(t.Transport), t.Traddr, t.Trsvcid, t.SubsysNQN)
	if !s.supported.Has(fabrics.OptDiscovery) {
		// Without TP8013 support the kernel only knows the well-known NQN.
		o.SubsysNQN = nqn.WellKnownDiscovery
	}
	return ctrl.ConnectOptions(o, t, s.host, d.conf, s.cfg.Connection, s.supported)
}

// remove stops managing d. keep leaves its kernel connection; deregister sends a DIM
// deregistration first.
func (s *Service) remove(d *dc, keep, deregister bool) <-chan struct{} {
	delete(s.dcs, d.tid)
	if d.last.Device != "" && s.byDevice[d.last.Device] == d {
		delete(s.byDevice, d.last.Device)
		s.removing[d.last.Device] = d.c
	}
	if len(d.referrals) > 0 {
		s.debounce.Trigger() // what it referred to may not be wanted any more
	}
	s.log.Info("discovery controller removed", "controller", d.tid.String(), "keep connection", keep)
	return d.c.Stop(keep, deregister)
}

// handleUpdate takes a controller's new state.
func (s *Service) handleUpdate(u ctrl.Update) {
	d, ok := s.dcs[u.TID]
	if !ok || d.c != u.From {
		if u.Stopped { // a removed controller has finished
			for dev, c := range s.removing {
				if c == u.From {
					delete(s.removing, dev)
				}
			}
		}
		return
	}
	if d.last.Device != u.Device {
		if d.last.Device != "" && s.byDevice[d.last.Device] == d {
			delete(s.byDevice, d.last.Device)
		}
		if u.Device != "" {
			s.byDevice[u.Device] = d
			// A remove event that came before this update found no owner.
			if s.opts.Sysfs != nil {
				if _, err := fs.Stat(s.opts.Sysfs, "class/nvme/"+u.Device); err != nil {
					d.c.DeviceRemoved(u.Device)
				}
			}
		}
	}
	lostConnection := d.last.Connected && !u.Connected
	d.last = u
	if lostConnection && d.origin == dbusapi.OriginDiscovered {
		s.debounce.Trigger() // an unannounced mDNS controller starts ageing now
	}
	if u.LogFetched != d.fetched {
		d.fetched = u.LogFetched
		s.takeLog(d, u)
	}
	s.publish()
}

// takeLog validates a freshly read log page and publishes it; log_pages_changed is sent
// when the content changed (and on the first fetch), not on every fetch.
func (s *Service) takeLog(d *dc, u ctrl.Update) {
	kept, refused := filterEntries(u.LogPages)
	changed := d.entries == nil || !slices.Equal(d.entries, kept)
	d.entries = kept
	if !changed {
		return
	}
	for _, r := range refused { // once per change, not on every fetch
		s.log.Warn("log page entry dropped", "controller", d.tid.String(), "device", u.Device, "problem", r)
	}
	refs := s.referralsOf(d.tid, kept, d.referrals)
	if !slices.Equal(refs, d.referrals) {
		d.referrals = refs
		s.debounce.Trigger()
	}
	t, dev := d.tid, u.Device
	s.signals.logPagesChanged(t, dev)
	s.save()
}

// referralsOf returns the discovery controllers a log page refers to, each inheriting the
// host fields of the controller that listed it; prev are the referrals it had before.
func (s *Service) referralsOf(parent tid.TID, entries []nvme.Entry, prev []tid.TID) []tid.TID {
	var out []tid.TID
	for i := range entries {
		e := &entries[i]
		if e.SubType != nvme.SubsystemReferral {
			continue
		}
		iface, reason := parent.HostIface, ""
		if s.chooser != nil {
			dst, _ := netip.ParseAddr(e.TrAddr)
			iface, reason = s.chooser.ChooseIface("", parent.HostIface, dst)
		}
		t := tid.New(tid.TID{Transport: e.TrType.String(), Traddr: e.TrAddr, Trsvcid: e.TrSvcID,
			SubsysNQN: e.SubNQN, HostTraddr: parent.HostTraddr, HostIface: iface, HostNQN: parent.HostNQN},
			tid.Discovery, s.cfg.IgnoreIface)
		if iface != parent.HostIface && !slices.Contains(prev, t) { // said once, not on every change of the page
			s.log.Info("referral bound to another interface than its parent's", "referral", e.TrAddr, "parent", parent.String(),
				"host-iface", iface, "reason", reason)
		}
		out = append(out, t)
	}
	return out
}

// handleUevent routes a kernel event to the controller that owns the device.
func (s *Service) handleUevent(u uevent.Update) {
	if u.Resync {
		s.log.Warn("kernel events may have been lost; rechecking every discovery controller", "cause", u.Cause)
		for dev, d := range s.byDevice {
			if s.opts.Sysfs == nil {
				d.c.Rediscover(dev)
				continue
			}
			if _, err := fs.Stat(s.opts.Sysfs, "class/nvme/"+dev); err != nil {
				d.c.DeviceRemoved(dev)
			} else {
				d.c.Rediscover(dev)
			}
		}
		return
	}
	n, ok := u.Event.NVMe()
	if !ok {
		return
	}
	d, ok := s.byDevice[n.Device]
	if !ok {
		if s.removing[n.Device] == nil {
			s.handOff(n)
		}
		return
	}
	switch n.Kind {
	case uevent.NVMeRemove:
		s.log.Info(`Received "remove" event`, "controller", d.tid.String(), "device", n.Device)
		d.c.DeviceRemoved(n.Device)
	case uevent.NVMeAEN:
		d.c.AEN(n.Device, n.AEN) // the controller logs it
	case uevent.NVMeConnected, uevent.NVMeRediscover:
		d.c.Rediscover(n.Device)
	}
}

// shutdown stops every controller as persistent-connections says, and waits for them.
func (s *Service) shutdown() {
	s.save()
	keep := s.cfg.PersistentConnections
	var waits []<-chan struct{}
	for _, d := range s.dcs {
		waits = append(waits, s.remove(d, keep, !keep))
	}
	// Long enough for a controller's worst case: a connect in flight, a deregistration and
	// the delete, each bounded by its own timeout.
	deadline := time.After(ctrl.DefaultConnectTimeout + ctrl.DefaultAdminTimeout + ctrl.DefaultDisconnectTimeout + 10*time.Second)
	for _, w := range waits {
	drain:
		for {
			select {
			case <-w:
				break drain
			case <-s.updates: // let finishing controllers report
			case <-deadline:
				s.log.Warn("controllers still stopping at exit")
				return
			}
		}
	}
	s.debounce.Stop()
}
