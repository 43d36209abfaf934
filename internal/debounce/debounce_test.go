// SPDX-License-Identifier: Apache-2.0

package debounce

import (
	"testing"
	"testing/synctest"
	"time"
)

// run drives a Debouncer as its owner would and records when runs happen.
func run(t *testing.T, d *Debouncer, triggers []time.Duration, until time.Duration) []time.Duration {
	start := time.Now()
	var runs []time.Duration
	next := 0
	var after <-chan time.Time
	if len(triggers) > 0 {
		after = time.After(triggers[0])
	}
	end := time.After(until)
	for {
		select {
		case <-after:
			d.Trigger()
			next++
			after = nil
			if next < len(triggers) {
				after = time.After(triggers[next] - time.Since(start))
			}
		case <-d.RunNow():
			runs = append(runs, time.Since(start))
		case <-d.WindowEnd():
			if d.Fired() {
				runs = append(runs, time.Since(start))
			}
		case <-end:
			d.Stop()
			return runs
		}
	}
}

func TestLeadingEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Window)
		runs := run(t, d, []time.Duration{0}, 10*time.Second)
		if len(runs) != 1 || runs[0] != 0 {
			t.Errorf("one trigger: runs at %v, want one at once", runs)
		}
	})
}

func TestBurstFoldsIntoOneMoreRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Window)
		burst := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, time.Second, 1400 * time.Millisecond}
		runs := run(t, d, burst, 10*time.Second)
		if len(runs) != 2 || runs[0] != 0 || runs[1] != Window {
			t.Errorf("burst: runs at %v, want [0 %v]", runs, Window)
		}
	})
}

func TestTriggerAfterQuietWindowRunsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Window)
		runs := run(t, d, []time.Duration{0, 5 * time.Second}, 10*time.Second)
		if len(runs) != 2 || runs[0] != 0 || runs[1] != 5*time.Second {
			t.Errorf("runs at %v, want [0 5s]", runs)
		}
	})
}

func TestSteadyStreamRunsOncePerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(time.Second)
		var triggers []time.Duration
		for i := range 50 {
			triggers = append(triggers, time.Duration(i)*100*time.Millisecond)
		}
		runs := run(t, d, triggers, 20*time.Second)
		// Triggers for 4.9 s: a run at once, then one per window while they keep coming.
		want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}
		if len(runs) != len(want) {
			t.Fatalf("runs at %v, want %v", runs, want)
		}
		for i := range want {
			if runs[i] != want[i] {
				t.Errorf("runs at %v, want %v", runs, want)
				break
			}
		}
		d.SetWindow(2 * time.Second)
	})
}
