// SPDX-License-Identifier: Apache-2.0

// Package stacd owns the connector service: which I/O controllers the host should be
// connected to (stacd.conf's controller= entries, and every NVMe subsystem entry of the
// discovery log pages stafd publishes), one ctrl.Controller per I/O controller, the
// disconnect-scope rules and the audit of connections stacd did not make, the D-Bus
// object org.nvmexpress.stac, and the last-known configuration that lets a restarted
// stacd adopt its connections.
//
// Its first rule is that "unknown" is not "gone": nothing is disconnected because stafd
// is absent, restarting, slow or answering with an error, or because a discovery
// controller stafd lists is unreachable for now. Only stafd's positive answer that an
// entry is no longer there, or a configuration change, removes an I/O controller.
//
// One goroutine (Run) owns all of that state; D-Bus handlers answer from an immutable
// snapshot it publishes after every change.
package stacd

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
	"github.com/nvme-stas-go/stas/internal/debounce"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/match"
	"github.com/nvme-stas-go/stas/internal/nbft"
	"github.com/nvme-stas-go/stas/internal/resolve"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

// Timers of nvme-stas (reference §13).
const (
	// SettleDelay is how long after stafd appeared on the bus a discovery controller
	// missing from its answers is taken for "not found yet" rather than "gone": a stafd
	// that just started may not have found every controller yet (nvme-stas waited as
	// long before its first pass). Additions are taken at once; stacd reads the log
	// pages again when the delay ends.
	SettleDelay = 10 * time.Second
	// AuditDelay is the pause after a kernel "add" event before the audit runs (sysfs
	// attributes are not stable yet when "add" arrives).
	AuditDelay = time.Second
	// FetchTimeout bounds one get_all_log_pages call.
	FetchTimeout = 25 * time.Second
)

// Options are what a Service is built from. Zero values of the optional fields mean
// "none", which tests use.
type Options struct {
	Prog     string // "stacd"
	ConfPath string
	Tron     bool // --tron
	Logger   *slog.Logger
	Level    *slog.LevelVar

	// Kernel access.
	Host  fabrics.Host
	Sysfs fs.FS // rooted at /sys
	// Uevents delivers the kernel's nvme events (uevent.Monitor.Updates()).
	Uevents <-chan uevent.Update
	// Interfaces reads the host's interfaces and addresses (netif.ReadTable), for
	// adoption matching; nil matches without them.
	Interfaces func() (match.Interfaces, error)

	// SysConf is the host identity (sys.conf), read once at start.
	SysConf *config.SysConf

	// Stafd follows stafd on the bus; nil means stacd works from its configuration only.
	Stafd Stafd

	// Chooser picks the interface of a discovered I/O controller (design.md's rule); nil
	// inherits the discovery controller's, as nvme-stas does.
	Chooser interfaceChooser

	// Boot are the I/O controllers the firmware connected (NBFT): never disconnected.
	Boot []nbft.IOController

	// StatePath is the last-known-config file; "" keeps none.
	StatePath string

	// Ready is called once the service runs (systemd readiness).
	Ready func()
}

// interfaceChooser is netif.Chooser's ChooseIface.
type interfaceChooser interface {
	ChooseIface(configured, parent string, dst netip.Addr) (iface, reason string)
}

// Service is stacd's connector service.
type Service struct {
	*daemon.Control
	opts Options
	log  *slog.Logger

	cfg       *config.Config
	supported fabrics.Supported
	host      config.HostIdentity

	iocs     map[tid.TID]*ioc
	byDevice map[string]*ioc
	// removing holds the devices of controllers being stopped or deleted by the audit:
	// their events are neither theirs any more nor foreign.
	removing map[string]*ctrl.Controller
	// resolving is set by a pass that met a configured host name without an answer yet;
	// such a pass removes no configured controller.
	resolving bool
	// refused are the controllers the last pass left out, with the reason, so that each
	// is logged once, not on every pass.
	refused map[tid.TID]string
	// skipped are the log entries the last read skipped, with the problem (logged once).
	skipped map[string]string

	// What stafd said: the pages of every DC it lists, by DC, with the I/O controller each
	// entry stands for. Kept when stafd is away or fails; replaced by its answers.
	pages map[tid.TID]*page
	// stafdPresent: stafd owns its bus name, since stafdSince.
	stafdPresent bool
	stafdSince   time.Time
	// fresh: the last answer from stafd succeeded and every DC in it was known, so the
	// audit may delete what nobody wants.
	fresh bool
	// fetching: a get_all_log_pages call is in flight; refetch: another is wanted after.
	fetching, refetch bool
	// stafdGen counts stafd's comings and goings; an answer requested under another
	// generation is not taken (it may come from a stafd that was shutting down).
	stafdGen, fetchGen int
	fetchFailed        bool
	fetchReq           chan struct{}
	fetchRes           chan fetchResult
	settle             *time.Timer

	// auditDue: an audit of foreign connections is wanted (start, SIGHUP, kernel "add").
	auditDue   bool
	auditTimer *time.Timer
	deleted    chan string
	// stopped is closed when Run ends, so that audit deletes still in flight do not
	// wait for a reader.
	stopped chan struct{}

	updates  chan ctrl.Update
	limiter  *ctrl.Limiter
	debounce *debounce.Debouncer
	resolver *resolve.Resolver
	scan     *scanner

	snap atomic.Pointer[snapshot]
}

// ioc is one I/O controller the service manages.
type ioc struct {
	tid tid.TID
	// conf is the controller= entry it came from, nil when it only comes from a log page.
	conf *config.Controller
	// dlpe is the log page entry it came from (the last one seen), nil for a configured
	// one; dc is the discovery controller that listed it.
	dlpe map[string]string
	dc   tid.TID
	// ifaceReason says why its host-iface was chosen.
	ifaceReason string
	c           *ctrl.Controller
	opts        fabrics.Options // what c connects with
	nccLimit    int             // c's connect-attempts-on-ncc
	ncc         bool            // the NCC flag last given to c
	last        ctrl.Update
	attrs       sysAttrs
}

type fetchResult struct {
	pages []dcPage
	err   error
}

// New loads the configuration and returns a service ready to Run.
func New(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Level == nil {
		opts.Level = new(slog.LevelVar)
	}
	if opts.Prog == "" {
		opts.Prog = "stacd"
	}
	s := &Service{
		Control:    daemon.NewControl(opts.Logger, opts.Level),
		opts:       opts,
		log:        opts.Logger,
		iocs:       map[tid.TID]*ioc{},
		byDevice:   map[string]*ioc{},
		removing:   map[string]*ctrl.Controller{},
		pages:      map[tid.TID]*page{},
		fetchReq:   make(chan struct{}, 1),
		fetchRes:   make(chan fetchResult),
		settle:     time.NewTimer(time.Hour),
		auditTimer: time.NewTimer(time.Hour),
		deleted:    make(chan string, 16),
		stopped:    make(chan struct{}),
		updates:    make(chan ctrl.Update, 256),
		limiter:    ctrl.NewLimiter(ctrl.DefaultConcurrentConnects),
		debounce:   debounce.New(debounce.Window),
		resolver:   resolve.New(),
	}
	s.settle.Stop()
	s.auditTimer.Stop()
	s.scan = newScanner(opts.Sysfs, opts.Interfaces)
	cfg, problems, err := config.Load(config.Stacd, opts.ConfPath)
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
		if !s.supported.Has(fabrics.OptHostIface) {
			s.log.Warn("Kernel does not appear to support all the options needed to run this program. Consider updating to a later kernel version.")
		}
	}
	s.publish()
	return s, nil
}

// Run runs the service until ctx ends, then stops every controller and leaves every
// kernel connection in place.
func (s *Service) Run(ctx context.Context) error {
	fetchCtx, stopFetch := context.WithCancel(context.Background())
	fetchDone := make(chan struct{})
	go s.fetcher(fetchCtx, fetchDone)
	defer func() { stopFetch(); <-fetchDone }()
	defer close(s.stopped)

	s.restore()
	s.auditDue = s.auditing()
	var stafdEvents <-chan StafdEvent
	if s.opts.Stafd != nil {
		stafdEvents = s.opts.Stafd.Events()
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
			s.pass()
		case <-s.debounce.WindowEnd():
			if s.debounce.Fired() {
				s.pass()
			}
		case r := <-s.fetchRes:
			s.takeFetch(r)
		case e := <-stafdEvents:
			s.stafdEvent(e)
		case <-s.settle.C:
			s.debounce.Trigger()
		case <-s.auditTimer.C:
			// A new kernel connection: reconcile (and audit, in the audit scope).
			s.auditDue = s.auditDue || s.auditing()
			s.debounce.Trigger()
		case dev := <-s.deleted:
			delete(s.removing, dev)
		case u := <-s.updates:
			s.handleUpdate(u)
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
	for _, io := range s.iocs {
		io.c.Reload()
	}
	s.auditDue = s.auditing()
	s.debounce.Trigger()
}

// auditing reports whether the scope asks for the audit of foreign connections.
func (s *Service) auditing() bool {
	return s.cfg.DisconnectScope == config.ScopeAllMatchingTrtypes
}

// pass is one reconciliation: with what is known now, at once; and, when stafd is on the
// bus, again with its fresh answer.
func (s *Service) pass() {
	s.reconcile()
	if s.stafdPresent {
		s.requestFetch()
	}
}

func (s *Service) requestFetch() {
	if s.fetching {
		s.refetch = true
		return
	}
	s.fetching = true
	s.fetchGen = s.stafdGen
	s.fetchReq <- struct{}{} // capacity 1 and only sent while no fetch is in flight
}

// fetcher calls get_all_log_pages off the owner goroutine, so a slow stafd never
// delays the service.
func (s *Service) fetcher(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.fetchReq:
		}
		var r fetchResult
		if s.opts.Stafd == nil {
			r.err = errNoStafd
		} else {
			cctx, cancel := context.WithTimeout(ctx, FetchTimeout)
			answer, err := s.opts.Stafd.AllLogPages(cctx)
			cancel()
			if err != nil {
				r.err = err
			} else {
				r.pages, r.err = parseAllLogPages(answer)
			}
		}
		select {
		case s.fetchRes <- r:
		case <-ctx.Done():
			return
		}
	}
}

// takeFetch takes stafd's answer, then reconciles with it.
func (s *Service) takeFetch(r fetchResult) {
	s.fetching = false
	switch {
	case s.fetchGen != s.stafdGen || !s.stafdPresent:
		// stafd went away (or came back) while it answered: not taken.
	case r.err != nil:
		if s.fresh || !s.fetchFailed {
			s.log.Warn("cannot read the log pages from stafd; keeping what is known", "err", r.err)
		}
		s.fresh, s.fetchFailed = false, true
	default:
		s.fetchFailed = false
		s.takePages(r.pages)
		s.reconcile()
	}
	if s.refetch {
		s.refetch = false
		if s.stafdPresent {
			s.requestFetch()
		}
	}
}

// stafdEvent follows stafd on the bus (reference §4.7, without its hazard).
func (s *Service) stafdEvent(e StafdEvent) {
	switch e {
	case StafdAppeared:
		s.stafdGen++
		s.log.Info("stafd is on the bus")
		s.stafdPresent, s.stafdSince = true, time.Now()
		s.settle.Reset(SettleDelay)
		s.debounce.Trigger()
	case StafdVanished:
		s.stafdGen++
		s.log.Info("stafd is not on the bus; keeping every I/O controller until it answers again")
		s.stafdPresent, s.fresh = false, false
		s.settle.Stop()
		s.publish()
	case StafdChanged:
		s.debounce.Trigger()
	}
}

// handleUpdate takes a controller's new state.
func (s *Service) handleUpdate(u ctrl.Update) {
	io, ok := s.iocs[u.TID]
	if !ok || io.c != u.From {
		if u.Stopped { // a removed controller has finished
			for dev, c := range s.removing {
				if c == u.From {
					delete(s.removing, dev)
					s.scan.release(dev, u.TID)
				}
			}
		}
		return
	}
	if io.last.Device != u.Device {
		if io.last.Device != "" && s.byDevice[io.last.Device] == io {
			delete(s.byDevice, io.last.Device)
			s.scan.release(io.last.Device, io.tid)
		}
		io.attrs = sysAttrs{}
		if u.Device != "" {
			if other, ok := s.byDevice[u.Device]; ok && other != io {
				s.log.Warn("two I/O controllers on one kernel device", "device", u.Device, "controller", io.tid.String(), "other", other.tid.String())
			}
			s.byDevice[u.Device] = io
			s.scan.claim(u.Device, io.tid)
			io.attrs = readSysAttrs(s.opts.Sysfs, u.Device)
			if s.opts.Sysfs != nil {
				// A remove event that came before this update found no owner.
				if _, err := fs.Stat(s.opts.Sysfs, "class/nvme/"+u.Device); err != nil {
					io.c.DeviceRemoved(u.Device)
				}
			}
		}
	}
	io.last = u
	s.publish()
}

// handleUevent routes a kernel event: a "remove" to the controller that owns the device
// (it reconnects, logged), an "add" to the audit.
func (s *Service) handleUevent(u uevent.Update) {
	s.scan.invalidate()
	if u.Resync {
		s.log.Warn("kernel events may have been lost; rechecking every I/O controller", "cause", u.Cause)
		for dev, io := range s.byDevice {
			if s.opts.Sysfs == nil {
				continue
			}
			if _, err := fs.Stat(s.opts.Sysfs, "class/nvme/"+dev); err != nil {
				io.c.DeviceRemoved(dev)
			}
		}
		s.auditTimer.Reset(AuditDelay)
		return
	}
	n, ok := u.Event.NVMe()
	if !ok {
		return
	}
	switch n.Kind {
	case uevent.NVMeRemove:
		if io, ok := s.byDevice[n.Device]; ok {
			s.log.Info(`Received "remove" event; reconnecting`, "controller", io.tid.String(), "device", n.Device)
			io.c.DeviceRemoved(n.Device)
		}
	case uevent.NVMeAdd, uevent.NVMeConnected:
		// A connection appeared (or went live): maybe one of ours, maybe someone else's
		// for the audit.
		s.auditTimer.Reset(AuditDelay)
	}
}

// shutdown stops every controller, leaving its kernel connection, and waits for them.
func (s *Service) shutdown() {
	s.save()
	var waits []<-chan struct{}
	for _, io := range s.iocs {
		waits = append(waits, io.c.Stop(true, false))
	}
	// Controllers being removed finish their delete (after a connect in flight), so
	// that no unwanted connection outlives stacd unmanaged.
	for _, c := range s.removing {
		if c != nil {
			waits = append(waits, c.Done())
		}
	}
	// A connect in flight is never cancelled (a delete must not overtake it), so wait
	// for it within its own bound.
	deadline := time.After(ctrl.DefaultConnectTimeout + 10*time.Second)
	for _, w := range waits {
	drain:
		for {
			select {
			case <-w:
				break drain
			case <-s.updates:
			case <-deadline:
				s.log.Warn("controllers still stopping at exit")
				return
			}
		}
	}
	s.debounce.Stop()
}

// keepOnRemoval says whether the kernel connection of an I/O controller that is no
// longer wanted stays (reference §7.4), and why.
func (s *Service) keepOnRemoval(io *ioc) (bool, string) {
	switch {
	case s.isBoot(io.tid):
		return true, "boot connection (NBFT)"
	case s.cfg.DisconnectScope == config.ScopeNoDisconnect:
		return true, "disconnect-scope is no-disconnect"
	case s.cfg.DisconnectScope == config.ScopeAllMatchingTrtypes && !slices.Contains(s.cfg.DisconnectTrtypes, io.tid.Transport):
		return true, "transport " + io.tid.Transport + " is not in disconnect-trtypes"
	}
	return false, ""
}

func (s *Service) isBoot(t tid.TID) bool {
	return len(s.opts.Boot) > 0 && nbft.IsBootConnection(t, s.opts.Boot)
}
