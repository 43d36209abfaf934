// SPDX-License-Identifier: Apache-2.0

package uevent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// Defaults of MonitorOptions.
const (
	// DefaultReceiveBuffer is the socket receive buffer asked for. The kernel charges
	// only what is queued; a large buffer rides out a storm of uevents (a few hundred
	// controllers reconnecting) while the daemon is busy. systemd-udevd uses 128 MiB.
	DefaultReceiveBuffer = 16 << 20
	// DefaultUdevControl exists while systemd-udevd runs.
	DefaultUdevControl = "/run/udev/control"
	// updateQueue is how many updates wait for a slow consumer before the monitor stops
	// reading and lets the socket buffer fill.
	updateQueue = 64
	// Reopen back-off after a failed receive.
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 5 * time.Second
)

// defaultSubsystems is what a Monitor delivers when MonitorOptions.Subsystems is empty.
var defaultSubsystems = []string{"nvme"}

// MonitorOptions configure a Monitor. The zero value listens for nvme events from udev
// when systemd-udevd runs and from the kernel otherwise.
type MonitorOptions struct {
	// Source is the netlink group to listen to. Zero chooses SourceUdev when
	// UdevControl exists (systemd-udevd runs; nvme-stas listens there too, after the udev
	// rules ran) and SourceKernel otherwise (containers, initramfs, a network namespace
	// udevd does not serve).
	Source Source
	// UdevControl is the file whose existence means systemd-udevd runs; "" means
	// DefaultUdevControl.
	UdevControl string
	// Subsystems lists the SUBSYSTEM values delivered; empty means just "nvme".
	Subsystems []string
	// AllSubsystems delivers every event, whatever its subsystem.
	AllSubsystems bool
	// ReceiveBuffer is the socket receive buffer in bytes; 0 means
	// DefaultReceiveBuffer. It is forced past the system limit when the process may
	// (SO_RCVBUFFORCE, CAP_NET_ADMIN), else capped by net.core.rmem_max.
	ReceiveBuffer int
	// Logger receives dropped messages (debug) and socket failures (warnings); nil logs
	// nothing.
	Logger *slog.Logger

	// Test seams.
	open       func(src Source, rcvbuf int, log *slog.Logger) (conn, error)
	retryDelay time.Duration
}

// Update is what a Monitor delivers: an event, or word that events were lost.
type Update struct {
	// Event is the event, unless Resync is set.
	Event Event
	// Resync says that events may have been lost: the socket failed (ENOBUFS when
	// events came faster than they were read) and was reopened. Rescan sysfs to catch
	// up; events after this one are not lost.
	Resync bool
	// Cause is the receive error behind a Resync.
	Cause error
}

// conn is one netlink uevent socket.
type conn interface {
	// receive blocks until a message arrives or the conn is closed.
	receive() ([]byte, sender, error)
	close() error
}

// sender is what the socket says about a message's origin.
type sender struct {
	pid      uint32 // netlink port ID; 0 is the kernel
	groups   uint32 // multicast groups; 0 is a unicast message
	uid      uint32 // SCM_CREDENTIALS uid
	hasCreds bool
}

// errTruncated marks a message larger than the receive buffer; it is dropped, the socket
// stays usable.
var errTruncated = errors.New("uevent message truncated")

// checkSender applies libudev's sender rules (systemd device-monitor.c): no unicast
// messages (anyone may unicast to our port), kernel-group messages only from the kernel
// (port 0), and only root's messages (SCM_CREDENTIALS uid 0). The kernel itself refuses
// unprivileged senders on the multicast groups of this netlink family.
func checkSender(src Source, s sender) error {
	switch {
	case s.groups == 0:
		return fmt.Errorf("unicast message from port %d", s.pid)
	case src == SourceKernel && s.pid != 0:
		return fmt.Errorf("kernel-group message from port %d, not the kernel", s.pid)
	case s.hasCreds && s.uid != 0:
		return fmt.Errorf("message from uid %d", s.uid)
	}
	return nil
}

// Monitor receives uevents from a netlink socket on a goroutine of its own, filters them
// by subsystem, and delivers them on Updates. When the socket fails it reopens it and
// delivers a Resync update. Close stops it.
type Monitor struct {
	source     Source
	subsystems []string
	all        bool
	rcvbuf     int
	log        *slog.Logger
	open       func(Source, int, *slog.Logger) (conn, error)
	retryDelay time.Duration

	updates chan Update
	stop    chan struct{}
	done    chan struct{}

	mu        sync.Mutex
	conn      conn // nil once closed
	closed    bool
	closeOnce sync.Once
}

// NewMonitor opens the socket and starts receiving. Events that happen after it returns
// are delivered; to catch up with the state before, scan sysfs after calling it.
func NewMonitor(opts MonitorOptions) (*Monitor, error) {
	m := &Monitor{
		source:     opts.Source,
		subsystems: slices.Clone(opts.Subsystems),
		all:        opts.AllSubsystems,
		rcvbuf:     opts.ReceiveBuffer,
		log:        opts.Logger,
		open:       opts.open,
		retryDelay: opts.retryDelay,
		updates:    make(chan Update, updateQueue),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if m.source == 0 {
		m.source = ChooseSource(opts.UdevControl)
	}
	if m.source != SourceKernel && m.source != SourceUdev {
		return nil, fmt.Errorf("open uevent monitor: unknown source %v", m.source)
	}
	if len(m.subsystems) == 0 {
		m.subsystems = defaultSubsystems
	}
	if m.rcvbuf <= 0 {
		m.rcvbuf = DefaultReceiveBuffer
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.open == nil {
		m.open = openNetlink
	}
	if m.retryDelay <= 0 {
		m.retryDelay = minRetryDelay
	}
	c, err := m.open(m.source, m.rcvbuf, m.log)
	if err != nil {
		return nil, fmt.Errorf("open uevent monitor on the %s group: %w", m.source, err)
	}
	m.conn = c
	go m.run()
	return m, nil
}

// ChooseSource returns SourceUdev if udevControl (DefaultUdevControl when "") exists,
// that is when systemd-udevd runs, and SourceKernel otherwise.
func ChooseSource(udevControl string) Source {
	if udevControl == "" {
		udevControl = DefaultUdevControl
	}
	if _, err := os.Stat(udevControl); err == nil {
		return SourceUdev
	}
	return SourceKernel
}

// Source returns the netlink group the monitor listens to.
func (m *Monitor) Source() Source { return m.source }

// Updates returns the channel of updates. It is closed when the monitor has stopped.
func (m *Monitor) Updates() <-chan Update { return m.updates }

// Close stops the monitor and closes its socket. It returns once the receiving goroutine
// has ended; Updates is closed by then. Updates not yet taken are dropped.
func (m *Monitor) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.stop)
		m.mu.Lock()
		c := m.conn
		m.conn, m.closed = nil, true
		m.mu.Unlock()
		if c != nil {
			err = c.close() // unblocks receive
		}
	})
	<-m.done
	return err
}

func (m *Monitor) stopping() bool {
	select {
	case <-m.stop:
		return true
	default:
		return false
	}
}

// current returns the open conn, or nil once closed.
func (m *Monitor) current() conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conn
}

// run is the one goroutine that reads the socket.
func (m *Monitor) run() {
	defer close(m.done)
	defer close(m.updates)
	for {
		c := m.current()
		if c == nil {
			return
		}
		msg, from, err := c.receive()
		if m.stopping() {
			return
		}
		switch {
		case errors.Is(err, errTruncated):
			m.log.Warn("uevent message larger than the receive buffer dropped", "error", err)
			continue
		case err != nil:
			m.log.Warn("uevent socket failed, reopening it; events may be lost", "source", m.source, "error", err)
			m.mu.Lock()
			if m.conn == c {
				m.conn = nil
			}
			m.mu.Unlock()
			_ = c.close()
			if !m.reopen() || !m.send(Update{Resync: true, Cause: err}) {
				return
			}
			continue
		}
		if err := checkSender(m.source, from); err != nil {
			m.log.Debug("uevent from an untrusted sender dropped", "reason", err)
			continue
		}
		ev, err := Parse(msg)
		if err != nil {
			m.log.Debug("malformed uevent dropped", "error", err)
			continue
		}
		if ev.Source != m.source {
			m.log.Debug("uevent in the wrong framing dropped", "framing", ev.Source, "group", m.source)
			continue
		}
		if !m.all && !slices.Contains(m.subsystems, ev.Subsystem) {
			continue
		}
		if !m.send(Update{Event: ev}) {
			return
		}
	}
}

// send delivers u unless the monitor is closed first.
func (m *Monitor) send(u Update) bool {
	select {
	case m.updates <- u:
		return true
	case <-m.stop:
		return false
	}
}

// reopen opens a new socket, retrying with back-off, until it succeeds or the monitor
// is closed.
func (m *Monitor) reopen() bool {
	delay := m.retryDelay
	for {
		c, err := m.open(m.source, m.rcvbuf, m.log)
		if err == nil {
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				_ = c.close()
				return false
			}
			m.conn = c
			m.mu.Unlock()
			m.log.Info("uevent socket reopened", "source", m.source)
			return true
		}
		m.log.Warn("reopen uevent socket", "source", m.source, "error", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-m.stop:
			t.Stop()
			return false
		}
		delay = min(2*delay, maxRetryDelay)
	}
}
