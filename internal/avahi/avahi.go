// SPDX-License-Identifier: Apache-2.0

// Package avahi owns stafd's mDNS discovery (TP8009): it asks avahi-daemon over the system
// bus for the NVMe discovery services announced on the local links, resolves them, checks
// every announced byte, verifies that TCP ones accept connections, and hands stafd the
// discovery controllers found, with a change notification. It rides out avahi-daemon
// being absent (waking it by D-Bus activation every 60 s), restarting, and the loss of the
// bus itself.
//
// The design mandates github.com/holoplot/go-avahi v1.0.1. It is used for what it does
// safely — the avahi Server object, service browsers, GetVersionString and the final
// Close — behind these guards:
//   - Each connection generation gets a private bus connection of its own, because
//     Server.Close closes the connection it was given.
//   - Every browser's channels are drained by a goroutine that does nothing else; go-avahi's
//     dispatcher holds its lock while it sends on those unbuffered channels, so a consumer
//     that called back into the Server (to create a resolver) would deadlock it.
//   - The connection's context and avahi-daemon's NameOwnerChanged are watched; on loss or
//     restart the whole generation is closed (which also stops go-avahi's dispatcher from
//     spinning on a closed signal channel) and rebuilt. Calls into go-avahi, which take no
//     context, are bounded by closing the connection when they overrun.
//   - A browser is freed only by closing its Server (removing a service type rebuilds the
//     generation): Server.Close stops the dispatcher first, ServiceBrowserFree does not.
//
// Two pieces are done with godbus instead, for defects no wrapper can cover
// (TestGoAvahiResolverFreeRace and TestGoAvahiAcceptsForgedSignals in
// goavahi_defects_test.go show them): go-avahi's ServiceResolverFree can panic with "send
// on closed channel" or "close of closed channel" when Found signals arrive while it
// frees, and go-avahi never checks who sent a signal, while on the system bus any local
// process may send a directed signal to any peer. So the events themselves (ItemNew,
// ItemRemove, Found, Failure) are read from this package's own subscription on the same
// connection and accepted only from avahi-daemon's unique name, and resolvers are created
// and freed with plain method calls. Using the same connection for the watch keeps one
// lifetime for everything: when it dies, all of it is rebuilt at once, and the
// NameOwnerChanged, reply and event order is the order the bus delivered them in.
package avahi

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// The service types of TP8009 discovery controllers.
const (
	ServiceTypeTCP = "_nvme-disc._tcp"
	ServiceTypeUDP = "_nvme-disc._udp"
)

// ServiceTypes returns the service types stafd browses: both TP8009 types when zeroconf
// is enabled, none when it is disabled (as nvme-stas).
func ServiceTypes(zeroconf bool) []string {
	if !zeroconf {
		return []string{}
	}
	return []string{ServiceTypeTCP, ServiceTypeUDP}
}

// ErrAlreadyRunning is returned by Run when the Client is already running.
var ErrAlreadyRunning = errors.New("avahi client already running")

// Timing defaults.
const (
	// kickInterval is nvme-stas's avahi wake-up timer.
	kickInterval = 60 * time.Second
	// callTimeout bounds a D-Bus call; it is longer than dbus-daemon's 25 s activation
	// timeout so that a wake-up call that starts avahi-daemon is not cut short.
	callTimeout = 30 * time.Second
	// maxServices bounds the services tracked at once; a flood of announcements past it
	// is ignored (avahi-daemon itself refuses more than about a thousand objects per client).
	maxServices = 1024
)

// reconnectDelays are the waits between attempts to reach the system bus.
var reconnectDelays = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second,
}

// Options configure a Client.
type Options struct {
	// Conn opens a private connection to the system bus; it is called again for each
	// rebuild, and the Client closes what it returns. It should use
	// dbus.NewSequentialSignalHandler so that signals keep their order. Default: the
	// system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured) with that handler.
	Conn func() (*dbus.Conn, error)
	// ServiceTypes to browse at start; see ServiceTypes and SetServiceTypes.
	ServiceTypes []string
	// TP8013 says the kernel has the fabrics "discovery" option; only then is an
	// announced NQN used, otherwise every service gets the well-known discovery NQN.
	TP8013 bool
	// Logger receives the log lines; nil discards them.
	Logger *slog.Logger
	// Dial is the TCP reachability check; default DialTCP.
	Dial DialFunc
}

// Key identifies a service instance as avahi-daemon reports it.
type Key struct {
	Interface int32 // index of the network interface it was seen on
	Protocol  int32 // protocol it was seen over: 0 IPv4, 1 IPv6
	Name      string
	Type      string
	Domain    string
}

// Service is a discovery controller found by mDNS, identified and reachable.
type Service struct {
	Key   Key
	Iface string // name of Key.Interface
	// TID is the controller to connect to (kind Discovery). mDNS says nothing of the
	// host: HostTraddr and HostNQN are empty, and stafd applies its own host NQN and
	// ignore-iface setting.
	TID tid.TID
}

// Client discovers TP8009 discovery controllers through avahi-daemon. One goroutine,
// Run's, owns all of its state; the other methods may be called from any goroutine, and
// none of them blocks.
type Client struct {
	log       *slog.Logger
	connect   func() (*dbus.Conn, error)
	dial      DialFunc
	tp8013    bool
	ifaceName func(index int) (string, error)

	// Timings, shortened by tests.
	kickInterval    time.Duration
	callTimeout     time.Duration
	reconnectDelays []time.Duration
	probeDelays     []time.Duration
	logEvery        time.Duration

	initialTypes []string
	stypes       chan []string // latest SetServiceTypes not yet taken by Run
	kick         chan struct{}
	changes      chan struct{}
	snap         atomic.Pointer[snapshot]
	running      atomic.Bool
}

// snapshot is what Run last published for the other methods to read.
type snapshot struct {
	stypes       []string
	services     []Service
	info         map[string]map[string]string
	kickInterval time.Duration
	kickRunning  bool
	kickDeadline time.Time
}

// New returns a Client; nothing happens until Run.
func New(opts Options) *Client {
	c := &Client{
		log:             opts.Logger,
		connect:         opts.Conn,
		dial:            opts.Dial,
		tp8013:          opts.TP8013,
		ifaceName:       interfaceName,
		kickInterval:    kickInterval,
		callTimeout:     callTimeout,
		reconnectDelays: reconnectDelays,
		probeDelays:     probeDelays,
		logEvery:        logRepeatInterval,
		initialTypes:    cleanTypes(nil, opts.ServiceTypes),
		stypes:          make(chan []string, 1),
		kick:            make(chan struct{}, 1),
		changes:         make(chan struct{}, 1),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.connect == nil {
		c.connect = func() (*dbus.Conn, error) {
			return dbus.ConnectSystemBus(dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
		}
	}
	if c.dial == nil {
		c.dial = DialTCP
	}
	c.snap.Store(&snapshot{stypes: c.initialTypes, kickInterval: c.kickInterval})
	return c
}

func interfaceName(index int) (string, error) {
	ifi, err := net.InterfaceByIndex(index)
	if err != nil {
		return "", err
	}
	return ifi.Name, nil
}

// Changes returns a channel that receives a value when the set of Services may have
// changed: a service became reachable, changed identity or was withdrawn. Notifications
// coalesce (the channel holds one). As in nvme-stas, losing avahi-daemon, a restart of it
// or removing a service type drops services without a notification, so that a passing
// outage does not make stafd age out its discovery controllers.
func (c *Client) Changes() <-chan struct{} { return c.changes }

// Services returns the services identified and reachable now, sorted by key.
func (c *Client) Services() []Service { return slices.Clone(c.snap.Load().services) }

// Reported reports whether mDNS currently reports the discovery controller t (nvme-stas's
// is_avahi_reported): a reachable service has t's transport, address, port and subsystem
// NQN, and no host address. host-nqn is not compared, since mDNS says nothing of it, and
// neither is host-iface when t has none (stafd's ignore-iface).
func (c *Client) Reported(t tid.TID) bool {
	for _, s := range c.snap.Load().services {
		u := s.TID
		if u.Transport == t.Transport && u.Traddr == t.Traddr && u.Trsvcid == t.Trsvcid &&
			u.SubsysNQN == t.SubsysNQN && t.HostTraddr == "" && (t.HostIface == "" || t.HostIface == u.HostIface) {
			return true
		}
	}
	return false
}

// SetServiceTypes replaces the service types to browse (stafd calls it on reload).
// Removing a type frees its browser and forgets its services. The latest call wins.
func (c *Client) SetServiceTypes(types []string) {
	v := slices.Clone(types)
	for {
		select {
		case c.stypes <- v:
			return
		default:
		}
		select {
		case <-c.stypes:
		default:
		}
	}
}

// Kick makes a running avahi wake-up timer expire now (stafd calls it on SIGHUP), and a
// pending reconnection to the bus happen now.
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Info returns the "avahi" object of stafd's process_info, shaped as nvme-stas's:
// {"avahi wake up timer": "60.0s [off]", "service types": [...], "services":
// {"(<iface>, IPv4|IPv6, <name>.<domain>, <stype>)": {"transport": ..., "traddr": ...,
// "trsvcid": ..., "host-iface": ..., "subsysnqn": ..., "reachable": "True"|"False"}}}.
// A service not (yet) identified has only "reachable".
func (c *Client) Info() map[string]any {
	s := c.snap.Load()
	services := make(map[string]map[string]string, len(s.info))
	for k, v := range s.info {
		services[k] = maps.Clone(v)
	}
	stypes := slices.Clone(s.stypes)
	if stypes == nil {
		stypes = []string{}
	}
	return map[string]any{
		"avahi wake up timer": dbusapi.TimerString(s.kickInterval, s.kickRunning, time.Until(s.kickDeadline)),
		"service types":       stypes,
		"services":            services,
	}
}

// Run discovers services until ctx is done, then frees everything and returns nil. It
// returns ErrAlreadyRunning if another Run of c is in progress.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	o := newOwner(ctx, c)
	defer o.shutdown()
	o.run()
	return nil
}
