// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/fabrics/fabricstest"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func TestConnectSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := iocParams()
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()

		u := e.latest()
		if u.From != c || u.TID != p.TID || u.Role != IO {
			t.Errorf("update identity = %p %v %v, want %p %v io", u.From, u.TID, u.Role, c, p.TID)
		}
		if u.Device != "nvme0" || !u.Connected || u.Adopted || u.Attempts != 0 || u.Connecting {
			t.Errorf("update = %+v, want connected nvme0 with 0 attempts", u)
		}
		if !u.RetryAt.IsZero() || u.RetryInterval != time.Minute {
			t.Errorf("retry timer = %v at %v, want 60 s, off", u.RetryInterval, u.RetryAt)
		}
		calls := e.host.Connects()
		if len(calls) != 1 || calls[0].Options.HostNQN != testHostNQN || calls[0].Options.TrAddr != "192.0.2.20" {
			t.Fatalf("connects = %+v, want one with the params' options", calls)
		}
		if got := e.logs.lines("INFO", p.TID.String()+" | nvme0 - Connection established!"); len(got) != 1 {
			t.Errorf("connection log lines = %q", got)
		}
		if e.finds != 1 {
			t.Errorf("FindExisting called %d times, want 1", e.finds)
		}

		stop(t, c, true, false)
		if d := e.host.Disconnects(); len(d) != 0 {
			t.Errorf("Stop(keep) disconnected %v", d)
		}
		if _, ok := e.host.Live()["nvme0"]; !ok {
			t.Error("Stop(keep) lost the connection")
		}
		u = e.latest()
		if !u.Stopped || u.Device != "nvme0" {
			t.Errorf("final update = %+v, want Stopped with the kept device", u)
		}
	})
}

func TestAdoptInsteadOfConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := iocParams()
		e.host.AddLive("nvme5", p.Options)
		e.setExisting("nvme5")
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()

		u := e.latest()
		if u.Device != "nvme5" || !u.Adopted || !u.Connected || u.Attempts != 0 {
			t.Errorf("update = %+v, want adopted nvme5", u)
		}
		if n := len(e.host.Connects()); n != 0 {
			t.Errorf("%d kernel connects, want none", n)
		}
		if got := e.logs.lines("INFO", "| nvme5 - Connection established! (adopted"); len(got) != 1 {
			t.Errorf("adoption log lines = %q", got)
		}

		// An adopted connection is deleted like its own when not kept (reference §6.9).
		stop(t, c, false, false)
		if d := e.host.Disconnects(); !slices.Equal(d, []string{"nvme5"}) {
			t.Errorf("disconnects = %v, want [nvme5]", d)
		}
		if u := e.latest(); !u.Stopped || u.Device != "" || u.Connected {
			t.Errorf("final update = %+v, want Stopped without device", u)
		}
	})
}

func TestRetrySchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.FailConnect(errRefused)
		p := dcParams()
		start := time.Now()
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()

		connects := func() int { return len(e.host.Connects()) }
		errorsLogged := func() int { return len(e.logs.lines("ERROR", "Failed to connect to controller")) }

		u := e.latest()
		if connects() != 1 || u.Attempts != 1 || u.RetryInterval != 3*time.Second || !u.RetryAt.Equal(start.Add(3*time.Second)) {
			t.Fatalf("after 1st failure: connects %d, update %+v", connects(), u)
		}
		if !strings.Contains(u.LastError, "refused") {
			t.Errorf("LastError = %q", u.LastError)
		}
		if errorsLogged() != 0 {
			t.Errorf("ERROR logged on the first failure")
		}

		time.Sleep(2900 * time.Millisecond)
		synctest.Wait()
		if connects() != 1 {
			t.Fatalf("retried before 3 s")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		u = e.latest()
		if connects() != 2 || u.Attempts != 2 || u.RetryInterval != time.Minute {
			t.Fatalf("after 2nd failure: connects %d, update %+v", connects(), u)
		}
		if errorsLogged() != 1 {
			t.Errorf("ERROR lines after 2nd failure = %d, want 1", errorsLogged())
		}

		time.Sleep(59 * time.Second)
		synctest.Wait()
		if connects() != 2 {
			t.Fatalf("retried before 60 s")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if connects() != 3 {
			t.Fatalf("connects = %d after 60 s, want 3", connects())
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if connects() != 13 || errorsLogged() != 1 {
			t.Fatalf("after 10 more minutes: connects %d (want 13), ERROR lines %d (want 1)", connects(), errorsLogged())
		}
		// Rate-limited, not silenced: once an hour it is reported again.
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := len(e.logs.lines("ERROR", "Still failing to connect")); got != 1 {
			t.Errorf("hourly reminder lines = %d, want 1", got)
		}

		e.host.FailConnect(nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		u = e.latest()
		if !u.Connected || u.Attempts != 0 || !u.RetryAt.IsZero() || u.LastError != "" {
			t.Errorf("after recovery: %+v", u)
		}
		stop(t, c, true, false)
	})
}

func TestDeviceRemovedReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := iocParams()
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if u := e.latest(); u.Device != "nvme0" {
			t.Fatalf("not connected: %+v", u)
		}

		c.DeviceRemoved("nvme9") // not ours
		synctest.Wait()
		if u := e.all(); len(u) != 0 {
			t.Errorf("removal of another device changed the state: %+v", u)
		}

		// The kernel deletes the device (ctrl-loss-tmo, or nvme disconnect by hand).
		if err := e.host.Disconnect(context.Background(), "nvme0"); err != nil {
			t.Fatal(err)
		}
		c.DeviceRemoved("nvme0")
		synctest.Wait()
		u := e.latest()
		if u.Device != "" || u.Connected || u.Attempts != 0 || u.RetryInterval != 3*time.Second || u.RetryAt.IsZero() {
			t.Fatalf("after removal: %+v", u)
		}
		if got := e.logs.lines("INFO", "| nvme0 - Device removed; reconnecting"); len(got) != 1 {
			t.Errorf("removal log lines = %q", got)
		}
		time.Sleep(2900 * time.Millisecond)
		synctest.Wait()
		if n := len(e.host.Connects()); n != 1 {
			t.Fatalf("reconnected before 3 s")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		u = e.latest()
		if n := len(e.host.Connects()); n != 2 || u.Device != "nvme0" || u.Attempts != 0 {
			t.Fatalf("after 3 s: %d connects, %+v", n, u)
		}
		stop(t, c, true, false)
	})
}

func TestEventsAfterStopAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		release := e.host.Block()
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		<-e.host.Entered()
		done := c.Stop(false, false)
		release()
		// The stop waits for the connect; the device it made is then deleted.
		<-done
		c.DeviceRemoved("nvme0") // the delete's own uevent, after the end: dropped
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		c.Reload()
		c.SetNCC(true)
		c.mu.Lock()
		queued := len(c.inbox)
		c.mu.Unlock()
		if queued != 0 {
			t.Errorf("%d events queued after the end", queued)
		}
		if got := e.logs.lines("INFO", "reconnecting"); len(got) != 0 {
			t.Errorf("reconnect logged after stop: %q", got)
		}
	})
}

func TestStopWhileConnectBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		release := e.host.Block()
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		<-e.host.Entered()
		synctest.Wait()
		if u := e.latest(); !u.Connecting || u.Attempts != 1 || u.Connected {
			t.Errorf("update while connecting = %+v", u)
		}

		done := c.Stop(false, false)
		if again := c.Stop(true, true); again != done {
			t.Error("second Stop returned another channel")
		}
		time.Sleep(time.Minute) // well within the connect deadline
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Stop finished while the connect was in flight")
		default:
		}
		if d := e.host.Disconnects(); len(d) != 0 {
			t.Fatalf("delete %v issued while the connect was in flight", d)
		}

		release()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Stop did not finish after the connect returned")
		}
		if d := e.host.Disconnects(); !slices.Equal(d, []string{"nvme0"}) {
			t.Errorf("disconnects = %v, want [nvme0]", d)
		}
		if live := e.host.Live(); len(live) != 0 {
			t.Errorf("left in the kernel: %v", live)
		}
		if u := e.latest(); !u.Stopped || u.Device != "" {
			t.Errorf("final update = %+v", u)
		}
		if got := e.logs.lines("INFO", "| nvme0 - Disconnect initiated"); len(got) != 1 {
			t.Errorf("disconnect log lines = %q", got)
		}
	})
}

func TestStopWhileWaitingForLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.deps.Limiter = NewLimiter(1)
		hold, err := e.deps.Limiter.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		synctest.Wait()
		stop(t, c, false, false)
		if n := len(e.host.Connects()); n != 0 {
			t.Errorf("%d connects after a stop while waiting for a slot", n)
		}
		hold()
	})
}

func TestStopDisconnectErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		synctest.Wait()
		e.host.FailDisconnect(errors.New("device busy"))
		stop(t, c, false, false)
		u := e.latest()
		if u.Device != "nvme0" || !strings.Contains(u.LastError, "device busy") {
			t.Errorf("final update = %+v, want the device still there and the error", u)
		}
		if got := e.logs.lines("ERROR", "Failed to disconnect"); len(got) != 1 {
			t.Errorf("disconnect error lines = %q", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		synctest.Wait()
		// Already gone, but the remove event has not arrived yet: fine.
		if err := e.host.Disconnect(context.Background(), "nvme0"); err != nil {
			t.Fatal(err)
		}
		stop(t, c, false, false)
		if u := e.latest(); u.Device != "" || u.LastError != "" {
			t.Errorf("final update = %+v, want clean", u)
		}
	})
}

func TestContextEndKeepsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := Start(ctx, iocParams(), e.deps, e.updates)
		synctest.Wait()
		cancel()
		<-c.Done()
		if d := e.host.Disconnects(); len(d) != 0 {
			t.Errorf("disconnects after ctx end = %v", d)
		}
		if u := e.latest(); !u.Stopped || u.Device != "nvme0" {
			t.Errorf("final update = %+v", u)
		}
		// Stop after the end returns the closed channel.
		<-c.Stop(false, true)
	})
}

func TestContextEndCancelsConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.Block()
		ctx, cancel := context.WithCancel(context.Background())
		c := Start(ctx, iocParams(), e.deps, nil)
		<-e.host.Entered()
		cancel()
		<-c.Done()
		calls := e.host.Connects()
		if len(calls) != 1 || !errors.Is(calls[0].Err, context.Canceled) {
			t.Errorf("connects = %+v, want one cancelled", calls)
		}
	})
}

func TestNCCLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.FailConnect(errRefused)
		p := iocParams()
		p.NCC, p.ConnectAttemptsOnNCC = true, 2
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		connects := func() int { return len(e.host.Connects()) }

		time.Sleep(3 * time.Second)
		synctest.Wait()
		u := e.latest()
		if connects() != 2 || !u.GaveUp || !u.RetryAt.IsZero() || !u.NCC {
			t.Fatalf("after the limit: %d connects, %+v", connects(), u)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if connects() != 2 {
			t.Fatalf("kept trying after the NCC limit: %d connects", connects())
		}

		// SIGHUP: one more attempt, counter not reset.
		c.Reload()
		synctest.Wait()
		u = e.latest()
		if connects() != 3 || u.Attempts != 3 || !u.GaveUp {
			t.Fatalf("after Reload: %d connects, %+v", connects(), u)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if connects() != 3 {
			t.Fatalf("Reload made %d attempts, want 1", connects()-2)
		}

		c.SetNCC(true) // unchanged: nothing happens
		synctest.Wait()
		if connects() != 3 {
			t.Fatalf("SetNCC(true) connected")
		}

		e.host.FailConnect(nil)
		c.SetNCC(false)
		synctest.Wait()
		u = e.latest()
		if connects() != 4 || !u.Connected || u.Attempts != 0 || u.GaveUp || u.NCC {
			t.Fatalf("after NCC cleared: %d connects, %+v", connects(), u)
		}
		if got := e.logs.lines("INFO", "NCC cleared; connecting"); len(got) != 1 {
			t.Errorf("NCC log lines = %q", got)
		}
		c.Reload() // connected: nothing
		synctest.Wait()
		if connects() != 4 {
			t.Errorf("Reload of a connected IOC connected again")
		}
		stop(t, c, true, false)
	})
}

func TestNCCClearedResetsAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.FailConnect(errRefused)
		p := iocParams()
		p.NCC, p.ConnectAttemptsOnNCC = true, 2
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		// Cleared while waiting for the 3 s retry: attempts reset, connect now, and no
		// limit any more.
		c.SetNCC(false)
		synctest.Wait()
		if n := len(e.host.Connects()); n != 2 {
			t.Fatalf("connects = %d, want 2", n)
		}
		if u := e.latest(); u.Attempts != 1 || u.GaveUp || u.RetryAt.IsZero() {
			t.Fatalf("update = %+v, want attempt 1 with a retry pending", u)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := len(e.host.Connects()); n < 10 {
			t.Errorf("connects = %d, want unlimited retries", n)
		}
		stop(t, c, true, false)
	})
}

func TestNCCClearedDuringConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.FailConnect(errRefused)
		release := e.host.Block()
		p := iocParams()
		p.NCC, p.ConnectAttemptsOnNCC = true, 1
		c := Start(e.ctx, p, e.deps, e.updates)
		<-e.host.Entered()
		c.SetNCC(false)
		synctest.Wait()
		release()
		synctest.Wait()
		// The attempt in flight fails; the one NCC's clearing asked for follows at once.
		if n := len(e.host.Connects()); n != 2 {
			t.Fatalf("connects = %d, want 2", n)
		}
		if u := e.latest(); u.GaveUp || u.RetryAt.IsZero() {
			t.Errorf("update = %+v, want retrying", u)
		}
		stop(t, c, true, false)
	})
}

func TestReloadRetriesWaitingIOC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.FailConnect(errRefused)
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := len(e.host.Connects()); n != 2 {
			t.Fatalf("connects = %d, want 2", n)
		}
		c.Reload()
		synctest.Wait()
		if n := len(e.host.Connects()); n != 3 {
			t.Fatalf("Reload while waiting 60 s: connects = %d, want 3", n)
		}
		if u := e.latest(); u.Attempts != 3 || u.RetryInterval != time.Minute || u.RetryAt.IsZero() {
			t.Errorf("update = %+v", u)
		}
		stop(t, c, true, false)
	})
}

// countingHost records the most connects in flight at once.
type countingHost struct {
	*fabricstest.Fake
	mu       sync.Mutex
	inFlight int
	most     int
}

func (h *countingHost) Connect(ctx context.Context, o fabrics.Options) (fabrics.Reply, []string, error) {
	h.mu.Lock()
	h.inFlight++
	h.most = max(h.most, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	return h.Fake.Connect(ctx, o)
}

func TestLimiterBoundsConcurrentConnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		host := &countingHost{Fake: e.host}
		e.deps.Host = host
		e.deps.Limiter = NewLimiter(4)
		release := e.host.Block()
		var cs []*Controller
		for i := range 20 {
			p := iocParams()
			p.TID = tid.New(tid.TID{Transport: tid.TCP, Traddr: fmt.Sprintf("192.0.2.%d", i+1), SubsysNQN: testIOCNQN}, tid.IO, false)
			p.Options.TrAddr = p.TID.Traddr
			cs = append(cs, Start(e.ctx, p, e.deps, e.updates))
		}
		synctest.Wait()
		if n := len(e.host.Entered()); n != 4 {
			t.Errorf("connects in the kernel at once = %d, want 4", n)
		}
		release()
		synctest.Wait()
		if n := len(e.host.Live()); n != 20 {
			t.Errorf("connected %d of 20", n)
		}
		if host.most != 4 {
			t.Errorf("most connects in flight = %d, want 4", host.most)
		}
		var dones []<-chan struct{}
		for _, c := range cs {
			dones = append(dones, c.Stop(false, false))
		}
		for _, d := range dones {
			<-d
		}
		if n := len(e.host.Live()); n != 0 {
			t.Errorf("%d left after stopping all", n)
		}
	})
}

func TestLimiter(t *testing.T) {
	var none *Limiter
	release, err := none.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()

	l := NewLimiter(0) // raised to 1
	release, err = l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire on a full limiter with a cancelled ctx = %v", err)
	}
	release()
	release() // a second release must not free another slot
	r2, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx); err == nil {
		t.Error("double release freed a second slot")
	}
	r2()
}

func TestNoHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.deps.Host = nil
		e.deps.FindExisting = nil
		c := Start(e.ctx, iocParams(), e.deps, e.updates)
		synctest.Wait()
		if u := e.latest(); !strings.Contains(u.LastError, errNoHost.Error()) {
			t.Errorf("LastError = %q", u.LastError)
		}
		stop(t, c, false, false)
	})
}

// TestNoGoroutineLeak runs in real time, outside synctest, and counts goroutines.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t)
	e.deps.AdminTimeout = time.Second
	p := dcParams()
	p.Registration = registration(t)
	var cs []*Controller
	for range 5 {
		cs = append(cs, Start(e.ctx, p, e.deps, e.updates))
	}
	ioc := Start(e.ctx, iocParams(), e.deps, nil)
	deadline := time.Now().Add(5 * time.Second)
	for e.adm.count("log") < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for _, c := range cs {
		<-c.Stop(false, true)
	}
	<-ioc.Stop(true, false)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines: %d before, %d after Stop", before, n)
	}
	if n := e.adm.count("dim deregister"); n != 5 {
		t.Errorf("deregistrations = %d, want 5", n)
	}
}

func TestAccessorsAndIgnoredEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		// A kernel that does not know nr_io_queues: the option is left out.
		sup, err := fabrics.ParseSupported([]byte("instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,hostnqn=%s,hostid=%s\n"))
		if err != nil {
			t.Fatal(err)
		}
		e.host.SetSupported(sup, nil)
		p := iocParams()
		p.Options.NrIOQueues = fabrics.IntOf(4)
		c := Start(e.ctx, p, e.deps, e.updates)
		if c.TID() != p.TID || c.Role() != IO {
			t.Errorf("TID, Role = %v, %v", c.TID(), c.Role())
		}
		synctest.Wait()
		if got := e.logs.lines("INFO", "left out: nr_io_queues"); len(got) != 1 {
			t.Errorf("omitted-option lines = %q", got)
		}
		// NVME_EVENT and AEN on an IOC's device change nothing.
		e.all()
		c.Rediscover("nvme0")
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		synctest.Wait()
		if us := e.all(); len(us) != 0 {
			t.Errorf("updates after ignored events: %+v", us)
		}
		stop(t, c, true, false)
	})
}

func TestOpenAdminDeviceFails(t *testing.T) {
	if _, err := OpenAdminDevice("/nonexistent/nvme-ctrl-test"); err == nil {
		t.Error("OpenAdminDevice of a missing device succeeded")
	}
}
