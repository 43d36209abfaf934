// SPDX-License-Identifier: Apache-2.0

//go:build linux

package uevent

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// nullUevent makes the kernel send a "change" uevent for /dev/null.
const nullUevent = "/sys/devices/virtual/mem/null/uevent"

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: triggers uevents through sysfs")
	}
	if _, err := os.Stat(nullUevent); err != nil {
		t.Skipf("no %s: %v", nullUevent, err)
	}
}

func triggerNull(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(nullUevent, []byte("change"), 0); err != nil {
		t.Fatalf("trigger uevent: %v", err)
	}
}

// TestKernelSocket opens the real kernel-group socket through go-udev, receives the
// event of a write to /dev/null's uevent file, and closes promptly.
func TestKernelSocket(t *testing.T) {
	needRoot(t)
	m, err := NewMonitor(MonitorOptions{Source: SourceKernel, AllSubsystems: true})
	if err != nil {
		t.Fatalf("NewMonitor: %v", err)
	}
	defer m.Close()
	triggerNull(t)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case u := <-m.Updates():
			if u.Resync {
				t.Fatalf("unexpected resync: %v", u.Cause)
			}
			if u.Event.DevPath != "/devices/virtual/mem/null" {
				continue // someone else's event
			}
			if u.Event.Action != ActionChange || u.Event.Subsystem != "mem" || u.Event.Source != SourceKernel || u.Event.Seqnum == 0 {
				t.Errorf("event = %+v", u.Event)
			}
			closeWithin(t, m, time.Second)
			return
		case <-deadline:
			t.Fatal("no uevent for /dev/null within 5 s")
		}
	}
}

// TestKernelSocketClose opens the real socket (no privilege needed to listen) and checks
// that Close wakes the reader parked in the netpoller at once.
func TestKernelSocketClose(t *testing.T) {
	for _, src := range []Source{SourceKernel, SourceUdev} {
		m, err := NewMonitor(MonitorOptions{Source: src})
		if err != nil {
			t.Fatalf("NewMonitor(%v): %v", src, err)
		}
		time.Sleep(10 * time.Millisecond) // let the reader block in receive
		start := time.Now()
		closeWithin(t, m, time.Second)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Close took %v", d)
		}
	}
}

// TestKernelSocketFilter: the default filter lets nvme events through only.
func TestKernelSocketFilter(t *testing.T) {
	needRoot(t)
	m, err := NewMonitor(MonitorOptions{Source: SourceKernel})
	if err != nil {
		t.Fatalf("NewMonitor: %v", err)
	}
	defer m.Close()
	triggerNull(t)
	select {
	case u := <-m.Updates():
		if u.Event.Subsystem != "nvme" && !u.Resync {
			t.Errorf("filter let through %+v", u.Event)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestKernelSocketOverflow: a storm of events against a small receive buffer and a
// consumer that does not read makes the socket overflow (ENOBUFS); the monitor reopens it
// and says so with a Resync, then delivers events again.
func TestKernelSocketOverflow(t *testing.T) {
	needRoot(t)
	m, err := NewMonitor(MonitorOptions{Source: SourceKernel, AllSubsystems: true, ReceiveBuffer: 1})
	if err != nil {
		t.Fatalf("NewMonitor: %v", err)
	}
	defer m.Close()
	for range 4 * updateQueue {
		triggerNull(t)
	}
	deadline := time.After(10 * time.Second)
	for resynced := false; ; {
		select {
		case u := <-m.Updates():
			if u.Resync {
				if !errors.Is(u.Cause, syscall.ENOBUFS) {
					t.Errorf("resync cause = %v, want ENOBUFS", u.Cause)
				}
				resynced = true
				triggerNull(t)
				continue
			}
			if resynced && u.Event.DevPath == "/devices/virtual/mem/null" {
				return // events flow again on the new socket
			}
		case <-deadline:
			t.Fatalf("no resync and event after it within 10 s (resynced %v)", resynced)
		}
	}
}
