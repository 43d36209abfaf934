// SPDX-License-Identifier: Apache-2.0

// Package debounce owns the leading-edge debounce both daemons use for reconciliation:
// the first trigger of a burst is acted on at once, later triggers inside the window are
// folded into one more run when the window ends. nvme-stas waited 1.5 s before every
// pass; this keeps its bound on work without adding that delay to the first reaction.
package debounce

import "time"

// Window is the debounce window nvme-stas uses for its reconciliation ("soak") timer.
const Window = 1500 * time.Millisecond

// Debouncer is owned by one goroutine, which calls Trigger on events, selects on C, and
// calls Fired when C delivers. It is not safe for concurrent use.
type Debouncer struct {
	window  time.Duration
	timer   *time.Timer
	open    bool // a window is running
	pending bool // a trigger arrived inside the window
	runNow  chan struct{}
}

// New returns a Debouncer with the given window.
func New(window time.Duration) *Debouncer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Debouncer{window: window, timer: t, runNow: make(chan struct{}, 1)}
}

// Trigger asks for a run. Outside a window the run is due at once (C is ready); inside
// one, it is folded into a single run when the window ends.
func (d *Debouncer) Trigger() {
	if d.open {
		d.pending = true
		return
	}
	d.open = true
	d.timer.Reset(d.window)
	select {
	case d.runNow <- struct{}{}:
	default:
	}
}

// SetWindow changes the window for windows opened from now on.
func (d *Debouncer) SetWindow(w time.Duration) { d.window = w }

// RunNow is ready when a leading-edge run is due.
func (d *Debouncer) RunNow() <-chan struct{} { return d.runNow }

// WindowEnd is ready when a window ends; call Fired then.
func (d *Debouncer) WindowEnd() <-chan time.Time { return d.timer.C }

// Fired closes the window that ended and reports whether a run is due for the triggers
// folded into it (which opens a new window).
func (d *Debouncer) Fired() bool {
	d.open = false
	if !d.pending {
		return false
	}
	d.pending = false
	d.open = true
	d.timer.Reset(d.window)
	return true
}

// Stop releases the timer.
func (d *Debouncer) Stop() { d.timer.Stop() }
