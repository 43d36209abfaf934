// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"errors"
	"testing"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// A stalled bus never blocks the owner and loses nothing: waiting signals are coalesced.
func TestSignalQueueCoalesces(t *testing.T) {
	q := newSignalQueue()
	a, b := tid.TID{Traddr: "192.0.2.1"}, tid.TID{Traddr: "192.0.2.2"}
	for i := range 5000 { // far more than any buffer would hold
		q.logPagesChanged(a, "nvme0")
		if i%2 == 0 {
			q.logPagesChanged(b, "nvme1")
		}
		q.dcRemoved()
	}
	q.logPagesChanged(a, "nvme5") // the latest device wins
	sig := &signals{}
	var errs []error
	done := make(chan struct{})
	q.close()
	q.run(failing{sig}, func(err error) { errs = append(errs, err) }, done)
	<-done
	if len(sig.changed) != 2 || sig.changed[0] != "192.0.2.1" || sig.changed[1] != "192.0.2.2" || sig.removed != 1 {
		t.Errorf("sent %v and %d dc_removed; want one log_pages_changed per controller, in order, and one dc_removed", sig.changed, sig.removed)
	}
	if len(errs) != 3 {
		t.Errorf("%d send errors reported, want 3", len(errs))
	}
}

// failing records the signals and reports each as failed.
type failing struct{ s *signals }

func (f failing) EmitLogPagesChanged(t tid.TID, device string) error {
	_ = f.s.EmitLogPagesChanged(t, device)
	return errors.New("bus stalled")
}

func (f failing) EmitDCRemoved() error {
	_ = f.s.EmitDCRemoved()
	return errors.New("bus stalled")
}
