// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// EventKind says what happened.
type EventKind int

// Event kinds, in the order a connection usually sees them.
const (
	// EventAccepted: a TCP connection was accepted.
	EventAccepted EventKind = iota + 1
	// EventRefused: a TCP connection was reset at once (Faults.RefuseConnections).
	EventRefused
	// EventConnected: a Fabrics Connect succeeded; HostNQN, HostID and CNTLID are set.
	EventConnected
	// EventConnectRejected: a Fabrics Connect was refused; Status and Detail say why.
	EventConnectRejected
	// EventKeepAlive: a Keep Alive command arrived (answered or not, see Detail).
	EventKeepAlive
	// EventKeepAliveExpired: the host sent nothing for its keep-alive timeout and was
	// dropped.
	EventKeepAliveExpired
	// EventLogPageRead: a Get Log Page was served; Log holds its parameters.
	EventLogPageRead
	// EventAENSent: an Asynchronous Event Request completed with AEN.
	EventAENSent
	// EventDIM: a Discovery Information Management command completed with Status.
	EventDIM
	// EventProtocolError: the host broke the NVMe/TCP protocol; Detail says how (a
	// C2HTermReq was sent when the error is one the transport defines).
	EventProtocolError
	// EventDisconnected: the connection ended; Detail says why.
	EventDisconnected
)

// String returns a short name of the kind.
func (k EventKind) String() string {
	switch k {
	case EventAccepted:
		return "accepted"
	case EventRefused:
		return "refused"
	case EventConnected:
		return "connected"
	case EventConnectRejected:
		return "connect-rejected"
	case EventKeepAlive:
		return "keep-alive"
	case EventKeepAliveExpired:
		return "keep-alive-expired"
	case EventLogPageRead:
		return "log-page-read"
	case EventAENSent:
		return "aen-sent"
	case EventDIM:
		return "dim"
	case EventProtocolError:
		return "protocol-error"
	case EventDisconnected:
		return "disconnected"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one entry of the simulator's history, for tests to assert on.
type Event struct {
	// Seq numbers events from 1, in the order they happened.
	Seq  uint64
	Time time.Time
	Kind EventKind
	// Remote is the host's address as seen on the socket.
	Remote netip.AddrPort
	// CNTLID, HostNQN and HostID identify the controller once the host has connected.
	CNTLID  uint16
	HostNQN string
	HostID  string
	// Status is the completion status of the command the event is about.
	Status nvme.Status
	// Log is the Get Log Page of an EventLogPageRead.
	Log nvme.GetLogPage
	// GenCtr is the generation counter the log page was served with.
	GenCtr uint64
	// AEN is the result of an EventAENSent.
	AEN nvme.AEN
	// DIMTask is the task of an EventDIM.
	DIMTask nvme.DIMTask
	// Detail is a human-readable explanation.
	Detail string
}

// String describes the event on one line.
func (e Event) String() string {
	s := fmt.Sprintf("#%d %s %s", e.Seq, e.Kind, e.Remote)
	if e.HostNQN != "" {
		s += fmt.Sprintf(" host=%s cntlid=%d", e.HostNQN, e.CNTLID)
	}
	switch e.Kind {
	case EventLogPageRead:
		s += fmt.Sprintf(" lid=%#02x offset=%d length=%d rae=%v genctr=%d", e.Log.LID, e.Log.Offset, e.Log.Length, e.Log.RAE, e.GenCtr)
	case EventAENSent:
		s += " aen=" + e.AEN.String()
	case EventDIM:
		s += " task=" + e.DIMTask.String()
	}
	if e.Status != 0 {
		s += " status=" + e.Status.String()
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// maxEvents bounds the history; older events are forgotten. A 10,000-entry log read in
// 4 KiB pieces is about 2,500 events.
const maxEvents = 1 << 14

// Events returns the history, oldest first (at most the last 16384 events).
func (s *Simulator) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.events))
	out = append(out, s.events[s.evStart:]...)
	return append(out, s.events[:s.evStart]...)
}

// LastEventSeq returns the Seq of the newest event (0 before the first): pass it to
// WaitEvent to wait only for what happens from now on.
func (s *Simulator) LastEventSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evSeq
}

// WaitEvent returns the first event after Seq after that match accepts, waiting for it
// until ctx ends.
func (s *Simulator) WaitEvent(ctx context.Context, after uint64, match func(Event) bool) (Event, error) {
	for {
		s.mu.Lock()
		for _, e := range s.eventsAfterLocked(after) {
			if match(e) {
				s.mu.Unlock()
				return e, nil
			}
			after = e.Seq
		}
		wake := s.evWake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("wait for simulator event: %w", ctx.Err())
		}
	}
}

// eventsAfterLocked returns the retained events with Seq > after, oldest first.
func (s *Simulator) eventsAfterLocked(after uint64) []Event {
	var out []Event
	for _, part := range [][]Event{s.events[s.evStart:], s.events[:s.evStart]} {
		for _, e := range part {
			if e.Seq > after {
				out = append(out, e)
			}
		}
	}
	return out
}

// record appends e to the history and wakes the waiters.
func (s *Simulator) record(e Event) {
	e.Time = time.Now()
	s.mu.Lock()
	s.evSeq++
	e.Seq = s.evSeq
	if len(s.events) < maxEvents {
		s.events = append(s.events, e)
	} else {
		s.events[s.evStart] = e
		s.evStart = (s.evStart + 1) % maxEvents
	}
	close(s.evWake)
	s.evWake = make(chan struct{})
	s.mu.Unlock()
	s.log.Debug("event", "event", e.String())
}
