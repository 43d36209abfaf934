// SPDX-License-Identifier: Apache-2.0

package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeMsg is one outcome of receive.
type fakeMsg struct {
	b    []byte
	from sender
	err  error
}

// fakeConn hands out queued messages and blocks when there are none, like a socket.
type fakeConn struct {
	msgs      chan fakeMsg
	closed    chan struct{}
	closeOnce sync.Once
}

func newFakeConn() *fakeConn {
	return &fakeConn{msgs: make(chan fakeMsg, 100), closed: make(chan struct{})}
}

func (c *fakeConn) receive() ([]byte, sender, error) {
	select {
	case m := <-c.msgs:
		return m.b, m.from, m.err
	case <-c.closed:
		return nil, sender{}, os.ErrClosed
	}
}

func (c *fakeConn) close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// fakeOpener hands out conns in order; an error in fails is returned instead of a conn.
type fakeOpener struct {
	mu      sync.Mutex
	conns   []*fakeConn
	fails   []error
	opened  []*fakeConn
	sources []Source
	rcvbufs []int
}

func (o *fakeOpener) open(src Source, rcvbuf int, _ *slog.Logger) (conn, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sources = append(o.sources, src)
	o.rcvbufs = append(o.rcvbufs, rcvbuf)
	if len(o.fails) > 0 {
		err := o.fails[0]
		o.fails = o.fails[1:]
		if err != nil {
			return nil, err
		}
	}
	if len(o.conns) == 0 {
		return nil, errors.New("no more fake conns")
	}
	c := o.conns[0]
	o.conns = o.conns[1:]
	o.opened = append(o.opened, c)
	return c, nil
}

var (
	fromKernel = sender{pid: 0, groups: 1, uid: 0, hasCreds: true}
	fromUdevd  = sender{pid: 812, groups: 2, uid: 0, hasCreds: true}
)

// next waits for one update.
func next(t *testing.T, m *Monitor) Update {
	t.Helper()
	select {
	case u, ok := <-m.Updates():
		if !ok {
			t.Fatal("Updates closed")
		}
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5 s")
	}
	return Update{}
}

// expectNone checks that nothing is delivered for a moment.
func expectNone(t *testing.T, m *Monitor) {
	t.Helper()
	select {
	case u := <-m.Updates():
		t.Fatalf("unexpected update %+v", u)
	case <-time.After(20 * time.Millisecond):
	}
}

func newTestMonitor(t *testing.T, opts MonitorOptions, conns ...*fakeConn) (*Monitor, *fakeOpener) {
	t.Helper()
	o := &fakeOpener{conns: conns}
	opts.open = o.open
	opts.retryDelay = time.Millisecond
	m, err := NewMonitor(opts)
	if err != nil {
		t.Fatalf("NewMonitor: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, o
}

func TestMonitorDeliversNVMeEvents(t *testing.T) {
	c := newFakeConn()
	m, o := newTestMonitor(t, MonitorOptions{Source: SourceKernel}, c)
	if m.Source() != SourceKernel || o.sources[0] != SourceKernel || o.rcvbufs[0] != DefaultReceiveBuffer {
		t.Errorf("opened %v with %v bytes", o.sources, o.rcvbufs)
	}
	aen := kernelMsg("change", "/devices/virtual/nvme-fabrics/ctl/nvme0", aenVars...)
	c.msgs <- fakeMsg{b: kernelMsg("add", "/devices/virtual/net/veth0", "ACTION=add", "DEVPATH=/devices/virtual/net/veth0", "SUBSYSTEM=net"), from: fromKernel}
	c.msgs <- fakeMsg{b: []byte("garbage without a header"), from: fromKernel}
	c.msgs <- fakeMsg{b: aen, from: sender{pid: 4242, groups: 0, hasCreds: true}}         // unicast: spoofable
	c.msgs <- fakeMsg{b: aen, from: sender{pid: 4242, groups: 1, hasCreds: true}}         // not the kernel
	c.msgs <- fakeMsg{b: aen, from: sender{pid: 0, groups: 1, uid: 1000, hasCreds: true}} // not root
	c.msgs <- fakeMsg{b: udevMsg(aenVars...), from: fromKernel}                           // udev framing on the kernel group
	c.msgs <- fakeMsg{err: fmt.Errorf("%w: more than 131072 bytes", errTruncated)}        // dropped, socket kept
	c.msgs <- fakeMsg{b: aen, from: sender{pid: 0, groups: 1}}                            // no credentials: trusted
	u := next(t, m)
	n, ok := u.Event.NVMe()
	if u.Resync || !ok || !n.IsDiscoveryLogChange() || n.Device != "nvme0" || u.Event.Seqnum != 4711 {
		t.Fatalf("update = %+v", u)
	}
	expectNone(t, m)
	if len(o.opened) != 1 || c.isClosed() {
		t.Error("a dropped message reopened the socket")
	}
}

func TestMonitorUdevSource(t *testing.T) {
	c := newFakeConn()
	m, _ := newTestMonitor(t, MonitorOptions{Source: SourceUdev}, c)
	c.msgs <- fakeMsg{b: kernelMsg("change", "/devices/virtual/nvme-fabrics/ctl/nvme0", aenVars...), from: fromUdevd}
	c.msgs <- fakeMsg{b: udevMsg(aenVars...), from: fromUdevd}
	u := next(t, m)
	if u.Event.Source != SourceUdev || u.Event.Subsystem != "nvme" {
		t.Errorf("update = %+v", u)
	}
	expectNone(t, m)
}

func TestMonitorSubsystemFilter(t *testing.T) {
	netEvent := kernelMsg("add", "/devices/virtual/net/veth0", "SUBSYSTEM=net")
	memEvent := kernelMsg("change", "/devices/virtual/mem/null", "SUBSYSTEM=mem")
	nvmeEvent := kernelMsg("remove", "/devices/virtual/nvme-fabrics/ctl/nvme3", "SUBSYSTEM=nvme", "DEVNAME=nvme3")

	c := newFakeConn()
	m, _ := newTestMonitor(t, MonitorOptions{Source: SourceKernel, AllSubsystems: true}, c)
	for _, b := range [][]byte{netEvent, memEvent, nvmeEvent} {
		c.msgs <- fakeMsg{b: b, from: fromKernel}
	}
	for _, want := range []string{"net", "mem", "nvme"} {
		if u := next(t, m); u.Event.Subsystem != want {
			t.Errorf("AllSubsystems: got %q, want %q", u.Event.Subsystem, want)
		}
	}

	c2 := newFakeConn()
	m2, _ := newTestMonitor(t, MonitorOptions{Source: SourceKernel, Subsystems: []string{"mem", "block"}}, c2)
	for _, b := range [][]byte{netEvent, memEvent, nvmeEvent} {
		c2.msgs <- fakeMsg{b: b, from: fromKernel}
	}
	if u := next(t, m2); u.Event.DevPath != "/devices/virtual/mem/null" {
		t.Errorf("Subsystems mem,block: got %+v", u)
	}
	expectNone(t, m2)
}

// TestMonitorResync: a receive error (ENOBUFS after a storm) closes the socket, opens a
// new one, and tells the consumer to rescan; events on the new socket keep coming.
func TestMonitorResync(t *testing.T) {
	c1, c2 := newFakeConn(), newFakeConn()
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logBuf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, o := newTestMonitor(t, MonitorOptions{Source: SourceKernel, Logger: log, ReceiveBuffer: 1 << 20}, c1, c2)
	// The first reopen attempt fails; the monitor retries.
	o.mu.Lock()
	o.fails = []error{syscall.EMFILE}
	o.mu.Unlock()
	nvme := kernelMsg("add", "/devices/virtual/nvme-fabrics/ctl/nvme1", "SUBSYSTEM=nvme", "DEVNAME=nvme1")
	c1.msgs <- fakeMsg{b: nvme, from: fromKernel}
	c1.msgs <- fakeMsg{err: fmt.Errorf("receive uevent: %w", syscall.ENOBUFS)}
	if u := next(t, m); u.Resync || u.Event.Action != ActionAdd {
		t.Fatalf("first update = %+v", u)
	}
	u := next(t, m)
	if !u.Resync || !errors.Is(u.Cause, syscall.ENOBUFS) {
		t.Fatalf("second update = %+v, want a Resync caused by ENOBUFS", u)
	}
	if !c1.isClosed() {
		t.Error("the failed socket was not closed")
	}
	c2.msgs <- fakeMsg{b: nvme, from: fromKernel}
	if u := next(t, m); u.Resync || u.Event.DevName != "nvme1" {
		t.Fatalf("update after the resync = %+v", u)
	}
	o.mu.Lock()
	if len(o.sources) != 3 || o.sources[2] != SourceKernel || o.rcvbufs[2] != 1<<20 {
		t.Errorf("opens: %v %v; want three, same source and buffer", o.sources, o.rcvbufs)
	}
	o.mu.Unlock()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !c2.isClosed() {
		t.Error("Close did not close the socket")
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logBuf.String(), "ENOBUFS") && !strings.Contains(logBuf.String(), "no buffer space") {
		t.Errorf("the failure is not logged:\n%s", logBuf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestMonitorCloseWhileBlocked: Close returns promptly whether the goroutine waits in
// receive, on a consumer that does not read, or between reopen attempts, and Updates is
// closed afterwards.
func TestMonitorCloseWhileBlocked(t *testing.T) {
	t.Run("in receive", func(t *testing.T) {
		c := newFakeConn()
		m, _ := newTestMonitor(t, MonitorOptions{Source: SourceKernel}, c)
		closeWithin(t, m, time.Second)
		if !c.isClosed() {
			t.Error("socket not closed")
		}
	})
	t.Run("on a full queue", func(t *testing.T) {
		c := newFakeConn()
		m, _ := newTestMonitor(t, MonitorOptions{Source: SourceKernel}, c)
		msg := kernelMsg("change", "/devices/virtual/nvme-fabrics/ctl/nvme0", aenVars...)
		for range updateQueue + 5 {
			c.msgs <- fakeMsg{b: msg, from: fromKernel}
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(m.updates) < updateQueue && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		closeWithin(t, m, time.Second)
	})
	t.Run("between reopen attempts", func(t *testing.T) {
		c := newFakeConn()
		o := &fakeOpener{conns: []*fakeConn{c}, fails: []error{nil, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE}}
		m, err := NewMonitor(MonitorOptions{Source: SourceKernel, open: o.open, retryDelay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c.msgs <- fakeMsg{err: syscall.ENOBUFS}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			o.mu.Lock()
			n := len(o.sources)
			o.mu.Unlock()
			if n == 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		closeWithin(t, m, time.Second)
	})
	t.Run("while reopening", func(t *testing.T) {
		// Close lands between a successful reopen and its installation: the new socket
		// must be closed too.
		c1, c2 := newFakeConn(), newFakeConn()
		var m *Monitor
		reopened := make(chan struct{})
		o := &fakeOpener{conns: []*fakeConn{c1, c2}}
		open := func(src Source, rcvbuf int, log *slog.Logger) (conn, error) {
			cn, err := o.open(src, rcvbuf, log)
			if cn == c2 {
				close(reopened)
				go m.Close()
				<-m.stop
			}
			return cn, err
		}
		var err error
		m, err = NewMonitor(MonitorOptions{Source: SourceKernel, open: open})
		if err != nil {
			t.Fatal(err)
		}
		c1.msgs <- fakeMsg{err: syscall.ENOBUFS}
		<-reopened
		closeWithin(t, m, time.Second)
		if !c2.isClosed() {
			t.Error("the socket opened during Close leaked")
		}
	})
}

func closeWithin(t *testing.T, m *Monitor, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Close did not return within %v", d)
	}
	for range m.Updates() { // drains what was queued, then ends: the channel is closed
	}
	select {
	case <-m.done:
	default:
		t.Error("the receiving goroutine is still running")
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewMonitorErrors(t *testing.T) {
	o := &fakeOpener{fails: []error{syscall.EPROTONOSUPPORT}}
	if _, err := NewMonitor(MonitorOptions{Source: SourceKernel, open: o.open}); !errors.Is(err, syscall.EPROTONOSUPPORT) ||
		!strings.Contains(err.Error(), "kernel group") {
		t.Errorf("NewMonitor = %v", err)
	}
	if _, err := NewMonitor(MonitorOptions{Source: 7, open: o.open}); err == nil {
		t.Error("NewMonitor with source 7 succeeded")
	}
}

func TestChooseSource(t *testing.T) {
	dir := t.TempDir()
	control := filepath.Join(dir, "control")
	if got := ChooseSource(control); got != SourceKernel {
		t.Errorf("without udevd: %v", got)
	}
	if err := os.WriteFile(control, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ChooseSource(control); got != SourceUdev {
		t.Errorf("with udevd: %v", got)
	}
	c := newFakeConn()
	m, o := newTestMonitor(t, MonitorOptions{UdevControl: control}, c)
	if m.Source() != SourceUdev || o.sources[0] != SourceUdev {
		t.Errorf("auto source = %v", m.Source())
	}
	want := SourceKernel
	if _, err := os.Stat(DefaultUdevControl); err == nil {
		want = SourceUdev
	}
	if got := ChooseSource(""); got != want {
		t.Errorf("ChooseSource(\"\") = %v, want %v", got, want)
	}
}

func TestCheckSender(t *testing.T) {
	for _, tc := range []struct {
		src  Source
		s    sender
		want bool
	}{
		{SourceKernel, fromKernel, true},
		{SourceKernel, sender{groups: 1}, true},
		{SourceKernel, sender{pid: 1, groups: 1, hasCreds: true}, false},
		{SourceKernel, sender{groups: 0, hasCreds: true}, false},
		{SourceUdev, fromUdevd, true},
		{SourceUdev, sender{pid: 812, groups: 2, uid: 1000, hasCreds: true}, false},
		{SourceUdev, sender{pid: 812, groups: 0, hasCreds: true}, false},
	} {
		if got := checkSender(tc.src, tc.s) == nil; got != tc.want {
			t.Errorf("checkSender(%v, %+v) trusted = %v, want %v", tc.src, tc.s, got, tc.want)
		}
	}
}
