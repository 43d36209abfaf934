// SPDX-License-Identifier: Apache-2.0

// Package ctrl owns one controller's life, for stafd's discovery controllers (DCs) and
// stacd's I/O controllers (IOCs): adopt a matching kernel connection or connect, retry
// (3 s, then every 60 s; the NCC limit for IOCs), follow the kernel device (removal,
// AEN, reconnect events), run a DC's steps (Identify, DIM registration, Supported Log
// Pages for PLEO, the discovery log page, each with its own retry), and dispose of the
// controller in order (deregister, then delete, never before a kernel operation in
// flight has returned).
//
// Each Controller is one goroutine that owns its state. Its methods only enqueue and
// never block; it reports every change as an Update on a channel the service owns.
package ctrl

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nvme-stas-go/stas/internal/admin"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Role says whether a controller is a discovery controller or an I/O controller.
type Role int

// The two roles.
const (
	// Discovery is a discovery controller (stafd): it runs the DC steps after connecting.
	Discovery Role = iota
	// IO is an I/O controller (stacd): connect and stay connected, with the NCC rule.
	IO
)

// String returns "discovery" or "io".
func (r Role) String() string {
	if r == Discovery {
		return "discovery"
	}
	return "io"
}

// Timers of nvme-stas (reference §13) and this package's own.
const (
	// FastRetryInterval is the connect retry after the first failure and after the
	// kernel removed the device.
	FastRetryInterval = 3 * time.Second
	// ConnectRetryInterval is the connect retry after the second and later failures,
	// and the retry timer's initial interval.
	ConnectRetryInterval = 60 * time.Second
	// IdentifyRetryInterval is the retry of a failed Identify Controller (a step of ours:
	// nvme-stas reads dctype from sysfs).
	IdentifyRetryInterval = 5 * time.Second
	// RegisterRetryInterval is the retry of a failed DIM registration.
	RegisterRetryInterval = 5 * time.Second
	// SupportedRetryInterval is the retry of a failed Supported Log Pages read.
	SupportedRetryInterval = 5 * time.Second
	// LogPageRetryInterval is the retry of a failed discovery log page read.
	LogPageRetryInterval = 20 * time.Second
	// ErrorRepeatInterval bounds how often a connect failure that keeps happening is
	// logged at ERROR again after the first report (on the second failure).
	ErrorRepeatInterval = time.Hour
)

// Default per-call deadlines of Deps.
const (
	// DefaultConnectTimeout bounds one kernel connect. The kernel's write blocks until
	// the controller is live or the attempt failed; an unreachable target takes seconds,
	// a target that accepts TCP but never answers can take much longer.
	DefaultConnectTimeout = 2 * time.Minute
	// DefaultAdminTimeout bounds one DC step (all the admin commands it sends).
	DefaultAdminTimeout = admin.DefaultTimeout
	// DefaultDisconnectTimeout bounds one kernel delete.
	DefaultDisconnectTimeout = time.Minute
	// DefaultConcurrentConnects is a sensible bound for NewLimiter: kernel connects in
	// flight at once across all controllers of a daemon.
	DefaultConcurrentConnects = 16
)

// Params says what to connect to and how. The service builds it; the controller keeps
// its own copy.
type Params struct {
	// TID is the controller's identity, used in logs and Updates.
	TID tid.TID
	// Role is Discovery or IO.
	Role Role
	// Options are the complete options to connect with: host NQN and ID (the TID's own
	// host-nqn when it has one), secrets, kato, digests, queues, Discovery for a DC…
	Options fabrics.Options

	// PLEO (DC): read Supported Log Pages and ask for Port-Local Entries Only when the
	// DC supports it (stafd's pleo=enabled). Never for a CDC.
	PLEO bool
	// Registration (DC) is the host to register with DIM (TP8010) when the DC's Identify
	// says it supports it; nil: never register.
	Registration *nvme.HostRegistration

	// ConnectAttemptsOnNCC (IOC) is stacd's connect-attempts-on-ncc: while NCC is set,
	// stop retrying after this many failed attempts; 0 means never give up.
	ConnectAttemptsOnNCC int
	// NCC (IOC) is the "not connected to CDC" flag of the controller's current log
	// entry; change it later with SetNCC.
	NCC bool
}

// Admin is what a DC's steps need of an admin device; *admin.Device implements it.
type Admin interface {
	IdentifyController(ctx context.Context) (*nvme.IdentifyController, error)
	DIM(ctx context.Context, task nvme.DIMTask, data *nvme.DIMData) (uint32, error)
	SupportedLogPages(ctx context.Context) (nvme.SupportedLogPages, error)
	DiscoveryLog(ctx context.Context, lsp uint8) (*nvme.DiscoveryLog, error)
	Close() error
}

var _ Admin = (*admin.Device)(nil)

// OpenAdminDevice opens /dev/<device> for admin commands (admin.Open). It is the default
// of Deps.OpenAdmin.
func OpenAdminDevice(device string) (Admin, error) {
	d, err := admin.Open(device)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Deps are the controller's seams to the system, injected by the service (and by tests).
type Deps struct {
	// Host creates and deletes kernel controllers. Required.
	Host fabrics.Host
	// OpenAdmin opens a connected DC's device for admin commands; nil means
	// OpenAdminDevice.
	OpenAdmin func(device string) (Admin, error)
	// FindExisting looks for a kernel connection this controller should adopt (sysfs and
	// the matching rules of reference §8.4). It is called before every connect attempt;
	// nil means never adopt.
	FindExisting func(ctx context.Context) (device string, ok bool)
	// Limiter bounds the kernel connects in flight across all controllers sharing it;
	// nil means no bound.
	Limiter *Limiter
	// Logger receives the controller's log lines; nil logs nothing.
	Logger *slog.Logger

	// ConnectTimeout bounds one kernel connect (DefaultConnectTimeout when zero).
	ConnectTimeout time.Duration
	// AdminTimeout bounds one DC step (DefaultAdminTimeout when zero).
	AdminTimeout time.Duration
	// DisconnectTimeout bounds the kernel delete and the DIM deregistration at Stop
	// (DefaultDisconnectTimeout when zero).
	DisconnectTimeout time.Duration
}

// Controller is the handle of one controller's goroutine. Its methods never block.
type Controller struct {
	params Params

	mu      sync.Mutex
	inbox   []event
	stopReq *stopRequest
	wake    chan struct{} // capacity 1: "the inbox has something"
	done    chan struct{}
}

type eventKind int

const (
	evRemoved eventKind = iota
	evAEN
	evRediscover
	evReload
	evNCC
)

type event struct {
	kind   eventKind
	device string
	aen    nvme.AEN
	ncc    bool
}

type stopRequest struct {
	keepConnection bool
	deregister     bool
}

// errNoHost is the connect error of a controller started without Deps.Host.
var errNoHost = errors.New("no fabrics host configured")

// Start starts the controller's goroutine: it makes its first connect attempt (or
// adoption) at once. Every state change is sent to updates as a full Update; updates
// may be buffered or not, and nil means no updates. Updates are coalesced: when the
// service is slow, it receives the latest state, never a stale one.
//
// Ending ctx ends the controller without any kernel change (like Stop(true, false))
// and cancels the kernel operation in flight; use Stop for an orderly end.
func Start(ctx context.Context, p Params, d Deps, updates chan<- Update) *Controller {
	c := &Controller{
		params: p,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	m := newMachine(ctx, c, d, updates)
	go m.run()
	return c
}

// TID returns the controller's identity.
func (c *Controller) TID() tid.TID { return c.params.TID }

// Role returns the controller's role.
func (c *Controller) Role() Role { return c.params.Role }

// DeviceRemoved reports a udev "remove" of device. If it is the controller's device,
// the controller forgets it and reconnects after FastRetryInterval with its attempts
// reset (unless it is stopping). Events for another device are ignored, so a late event
// for a device it has already replaced does no harm.
func (c *Controller) DeviceRemoved(device string) {
	c.enqueue(event{kind: evRemoved, device: device})
}

// AEN reports an NVME_AEN uevent on device. A DC re-reads its discovery log page on
// nvme.AENDiscoveryLogChanged (coalesced: a burst during a read causes one more read);
// other AENs, and AENs on IOCs, are only logged.
func (c *Controller) AEN(device string, aen nvme.AEN) {
	c.enqueue(event{kind: evAEN, device: device, aen: aen})
}

// Rediscover reports an NVME_EVENT=connected or NVME_EVENT=rediscover uevent on device
// (the kernel reconnected it); the service also calls it after the uevent monitor lost
// events. A DC re-runs its steps from Identify (registration when its dctype supports
// it, Supported Log Pages when PLEO applies, the log page); a request arriving while a
// step runs is coalesced into one resync after it. An IOC ignores it.
func (c *Controller) Rediscover(device string) {
	c.enqueue(event{kind: evRediscover, device: device})
}

// Reload reports a SIGHUP. A connected DC resyncs as for Rediscover. An IOC that is
// not connected and not connecting makes one attempt now (it gave up under the NCC
// rule, or was waiting for its retry timer); its attempt counter is not reset.
func (c *Controller) Reload() {
	c.enqueue(event{kind: evReload})
}

// SetNCC sets the IOC's NCC flag from its latest log entry. When NCC was set and is now
// clear and the controller is not connected, its attempts are reset and it connects now
// (reference §7.5).
func (c *Controller) SetNCC(ncc bool) {
	c.enqueue(event{kind: evNCC, ncc: ncc})
}

// Stop starts the controller's orderly end and returns a channel closed when it is
// over. It waits for a kernel operation in flight (a connect is never cancelled, so a
// delete never overtakes it; an admin command is cancelled), then, when deregister is
// set and the DC is registered, sends a DIM deregistration, then deletes the kernel
// device unless keepConnection (a device that is already gone is fine), then sends a
// final Update with Stopped set, then closes the channel. Stop is idempotent: later
// calls return the same channel and their arguments are ignored.
//
// The service must keep receiving updates until the channel is closed.
func (c *Controller) Stop(keepConnection, deregister bool) <-chan struct{} {
	c.mu.Lock()
	if c.stopReq == nil {
		c.stopReq = &stopRequest{keepConnection: keepConnection, deregister: deregister}
	}
	c.mu.Unlock()
	c.signal()
	return c.done
}

// Done returns the channel Stop returns: closed when the controller's goroutine is over
// (after Stop, or after its ctx ended).
func (c *Controller) Done() <-chan struct{} { return c.done }

func (c *Controller) enqueue(e event) {
	select {
	case <-c.done:
		return // nobody will read it
	default:
	}
	c.mu.Lock()
	c.inbox = append(c.inbox, e)
	c.mu.Unlock()
	c.signal()
}

func (c *Controller) signal() {
	select {
	case c.wake <- struct{}{}:
	default: // already signalled; the loop takes the whole inbox
	}
}

// take returns and clears the queued events and the stop request.
func (c *Controller) take() ([]event, *stopRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	events := c.inbox
	c.inbox = nil
	return events, c.stopReq
}
