// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestDelayAt uses the ValueRange vectors of nvme-stas-behaviour.md §14.2.
func TestDelayAt(t *testing.T) {
	r := []time.Duration{2, 5, 10, 30}
	var got []time.Duration
	for i := range 6 {
		got = append(got, delayAt(r, i))
	}
	if want := []time.Duration{2, 5, 10, 30, 30, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("ValueRange([2,5,10,30]) = %v, want %v", got, want)
	}
	if delayAt(r, 0) != 2 { // after reset
		t.Error("reset")
	}
	if delayAt(nil, 3) != 0 {
		t.Error("ValueRange([]) != 0")
	}
}

// TestProbeBackoff checks the reachability retry sequence, with the 2 s first value
// nvme-stas skips (quirk 16, fixed), under a fake clock.
func TestProbeBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		succeedAfter := 10
		dial := func(ctx context.Context, iface string, addr netip.AddrPort) error {
			mu.Lock()
			defer mu.Unlock()
			if iface != "eth0" || addr.String() != "[fe80::1]:8009" {
				t.Errorf("dial(%q, %v)", iface, addr)
			}
			times = append(times, time.Now())
			if len(times) > succeedAfter {
				return nil
			}
			return errors.New("connection refused")
		}
		var reports []error
		start := time.Now()
		probe(t.Context(), dial, probeDelays, "eth0", netip.MustParseAddrPort("[fe80::1]:8009"), func(err error) { reports = append(reports, err) })
		var gaps []time.Duration
		prev := start
		for _, at := range times {
			gaps = append(gaps, at.Sub(prev))
			prev = at
		}
		want := []time.Duration{0, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second,
			300 * time.Second, 600 * time.Second, 600 * time.Second, 600 * time.Second, 600 * time.Second}
		if !reflect.DeepEqual(gaps, want) {
			t.Errorf("attempts at %v, want %v", gaps, want)
		}
		if len(reports) != 2 || reports[0] == nil || reports[1] != nil {
			t.Errorf("reports %v, want the first failure then success", reports)
		}
	})
}

func TestProbeCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		dials := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			probe(ctx, func(context.Context, string, netip.AddrPort) error { dials++; return errors.New("refused") },
				probeDelays, "", netip.MustParseAddrPort("192.0.2.1:8009"), func(error) {})
		}()
		time.Sleep(3 * time.Second) // two attempts: at 0 and 2 s
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("probe still running after cancel")
		}
		if dials != 2 {
			t.Errorf("%d attempts in 3 s, want 2", dials)
		}
		// A dial that ends because of the cancellation is not reported.
		ctx2, cancel2 := context.WithCancel(t.Context())
		reported := false
		probe(ctx2, func(ctx context.Context, _ string, _ netip.AddrPort) error { cancel2(); return ctx.Err() },
			probeDelays, "", netip.MustParseAddrPort("192.0.2.1:8009"), func(error) { reported = true })
		if reported {
			t.Error("cancelled attempt reported")
		}
	})
}

func TestLogLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLogLimiter(10 * time.Minute)
		if !l.allow("svc", "line") {
			t.Fatal("first line refused")
		}
		if l.allow("svc", "line") {
			t.Error("repeat within the interval allowed")
		}
		if !l.allow("svc", "other line") || !l.allow("other svc", "line") {
			t.Error("a different line or subject refused")
		}
		time.Sleep(9 * time.Minute)
		if l.allow("svc", "line") {
			t.Error("repeat after 9 min allowed")
		}
		time.Sleep(time.Minute)
		if !l.allow("svc", "line") {
			t.Error("repeat after 10 min refused")
		}
		// A flood of distinct lines stays bounded.
		for i := range 3 * limiterHard {
			l.allow("flood", string(rune(i)))
		}
		if len(l.last) > limiterHard {
			t.Errorf("%d lines remembered, bound %d", len(l.last), limiterHard)
		}
		time.Sleep(11 * time.Minute)
		l.allow("x", "y")
		if len(l.last) > limiterSoft+1 {
			t.Errorf("%d lines remembered after they went stale", len(l.last))
		}
	})
}
