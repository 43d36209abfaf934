// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"sync"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// signalQueue hands D-Bus signals from the owner goroutine to the sender goroutine without
// ever blocking the owner and without losing one: signals still waiting are coalesced (one
// log_pages_changed per controller, with its latest device; one dc_removed), which is all a
// client needs, since each only tells it to read again.
type signalQueue struct {
	mu      sync.Mutex
	changed map[tid.TID]string // device per controller
	order   []tid.TID
	removed bool
	closed  bool
	wake    chan struct{}
}

func newSignalQueue() *signalQueue {
	return &signalQueue{changed: map[tid.TID]string{}, wake: make(chan struct{}, 1)}
}

func (q *signalQueue) logPagesChanged(t tid.TID, device string) {
	q.mu.Lock()
	if _, ok := q.changed[t]; !ok {
		q.order = append(q.order, t)
	}
	q.changed[t] = device
	q.mu.Unlock()
	q.notify()
}

func (q *signalQueue) dcRemoved() {
	q.mu.Lock()
	q.removed = true
	q.mu.Unlock()
	q.notify()
}

func (q *signalQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.notify()
}

func (q *signalQueue) notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns what is waiting and whether the queue is closed.
func (q *signalQueue) take() (changed []tid.TID, devices []string, removed, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range q.order {
		changed = append(changed, t)
		devices = append(devices, q.changed[t])
	}
	removed, closed = q.removed, q.closed
	clear(q.changed)
	q.order, q.removed = q.order[:0], false
	return changed, devices, removed, closed
}

// run sends what the queue holds until it is closed and empty.
func (q *signalQueue) run(emit Emitter, onErr func(error), done chan<- struct{}) {
	defer close(done)
	for range q.wake {
		changed, devices, removed, closed := q.take()
		if emit != nil {
			for i, t := range changed {
				if err := emit.EmitLogPagesChanged(t, devices[i]); err != nil {
					onErr(err)
				}
			}
			if removed {
				if err := emit.EmitDCRemoved(); err != nil {
					onErr(err)
				}
			}
		}
		if closed {
			return
		}
	}
}
