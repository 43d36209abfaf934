// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvme-stas-go/stas/internal/admin"
	"github.com/nvme-stas-go/stas/internal/fabrics/fabricstest"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// errNvmetLID0 is how admin.Device reports nvmet's answer to a Supported Log Pages read:
// Invalid Field in Command, DNR.
var errNvmetLID0 = fmt.Errorf("get log page 0x00 from nvme0: %w: %w", admin.ErrNotSupported,
	nvme.NewStatus(nvme.SCTGeneric, nvme.SCInvalidField, true))

func TestDCNoneNoRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeNone)
		p := dcParams()
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()

		if got, want := e.adm.callList(), []string{"identify", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v (no DIM to a dctype-none DC)", got, want)
		}
		u := e.latest()
		if !u.Identified || u.Identity.DCType != nvme.DCTypeNone || u.Identity.CntrlType != nvme.ControllerTypeDiscovery ||
			u.Identity.SubNQN != nqn.WellKnownDiscovery || u.Identity.Model != "Linux" || u.Registered {
			t.Errorf("identity = %+v registered %v", u.Identity, u.Registered)
		}
		if len(u.LogPages) != 1 || u.LogPages[0].SubNQN != testIOCNQN || u.GenCtr != 7 || u.LogFetched != 1 || u.LSP != 0 {
			t.Errorf("log = %+v genctr %d fetched %d lsp %d", u.LogPages, u.GenCtr, u.LogFetched, u.LSP)
		}
		if got := e.logs.lines("INFO", "| nvme0 - Received discovery log pages (num records=1)."); len(got) != 1 {
			t.Errorf("log page lines = %q", got)
		}
		if e.opened[0] != "nvme0" || len(e.opened) != 1 {
			t.Errorf("admin devices opened = %v, want [nvme0]", e.opened)
		}

		// Stop with deregister: nothing to deregister.
		stop(t, c, false, true)
		if n := len(e.adm.dimCalls()); n != 0 {
			t.Errorf("%d DIM commands to a dctype-none DC", n)
		}
		if e.adm.closes() != 1 {
			t.Errorf("admin device closed %d times, want 1", e.adm.closes())
		}
	})
}

func TestCDCRegistersAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeCDC)
		e.adm.fail("dim", errors.New("dim on nvme0: i/o timeout"), errors.New("dim on nvme0: i/o timeout"))
		p := dcParams()
		p.Registration = registration(t)
		p.PLEO = true // never for a CDC
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()

		registerErrors := func() int { return len(e.logs.lines("ERROR", "Failed to register with Discovery Controller")) }
		if n := len(e.adm.dimCalls()); n != 1 || registerErrors() != 1 {
			t.Fatalf("after first try: %d DIMs, %d ERROR lines", n, registerErrors())
		}
		u := e.latest()
		if u.Registered || u.Register.Failures != 1 || u.Register.RetryInterval != 5*time.Second || u.LogFetched != 0 {
			t.Fatalf("update after a failed registration = %+v", u)
		}
		if r := u.Register; !r.Started || r.Running || !r.RetryAt.Equal(time.Now().Add(5*time.Second)) ||
			r.Error != "dim on nvme0: i/o timeout" {
			t.Errorf("register step = %+v", r)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if n := len(e.adm.dimCalls()); n != 1 {
			t.Fatalf("retried before 5 s")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(e.adm.dimCalls()); n != 2 || registerErrors() != 1 {
			t.Fatalf("after 5 s: %d DIMs, %d ERROR lines (want 2, 1)", n, registerErrors())
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		dims := e.adm.dimCalls()
		if len(dims) != 3 {
			t.Fatalf("after 10 s: %d DIMs, want 3", len(dims))
		}
		d := dims[2]
		if d.task != nvme.DIMRegister || d.data.EntityID != testHostNQN || d.data.Entry.NQN != testHostNQN ||
			d.data.Entry.SymbolicName != testSymName || d.data.Entry.HostID != registration(t).HostID ||
			d.data.EntityType != nvme.DIMEntityHost {
			t.Errorf("DIM = %v %+v", d.task, d.data)
		}
		u = e.latest()
		if !u.Registered || u.Register.Failures != 0 || u.Register.Error != "" || u.LogFetched != 1 {
			t.Errorf("update after registration = %+v", u)
		}
		if got, want := e.adm.callList(), []string{"identify", "dim register", "dim register", "dim register", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v", got, want)
		}
		stop(t, c, true, false)
		if n := len(e.adm.dimCalls()); n != 3 {
			t.Errorf("Stop without deregister sent DIM")
		}
	})
}

func TestRegistrationRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm.fail("dim", fmt.Errorf("dim on nvme0: %w", nvme.NewStatus(nvme.SCTGeneric, nvme.SCInternalError, true)))
		p := dcParams()
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "dim register", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v (an NVMe status is not retried)", got, want)
		}
		if got := e.logs.lines("WARN", "Registration error."); len(got) != 1 {
			t.Errorf("registration error lines = %q", got)
		}
		if u := e.latest(); u.Registered {
			t.Error("registered after a refusal")
		}
		stop(t, c, false, true)
		if n := e.adm.count("dim deregister"); n != 0 {
			t.Errorf("deregistered %d times though not registered", n)
		}
	})
}

func TestNoRegistrationData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeCDC)
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v", got, want)
		}
		stop(t, c, true, false)
	})
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeCDC)
		p := dcParams()
		p.Registration = registration(t)
		p.Registration.HostNQN = "not-an-nqn"
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v", got, want)
		}
		if got := e.logs.lines("ERROR", "Cannot register"); len(got) != 1 {
			t.Errorf("error lines = %q", got)
		}
		stop(t, c, true, false)
	})
}

func TestPLEOWithDDC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm.supported[nvme.LIDDiscovery] = uint32(nvme.DiscoveryOptPLEOS|nvme.DiscoveryOptEXTDLPES)<<16 | 1
		p := dcParams()
		p.PLEO = true
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "dim register", "supported", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v", got, want)
		}
		if !slices.Equal(e.adm.logLSPs, []uint8{nvme.LSPDiscoveryPLEO}) {
			t.Errorf("log read with lsp %v, want [%d]", e.adm.logLSPs, nvme.LSPDiscoveryPLEO)
		}
		u := e.latest()
		if u.LSP != nvme.LSPDiscoveryPLEO || u.DiscoveryOptions != nvme.DiscoveryOptPLEOS|nvme.DiscoveryOptEXTDLPES {
			t.Errorf("lsp %d options %v", u.LSP, u.DiscoveryOptions)
		}
		stop(t, c, true, false)
	})
}

func TestPLEOWithoutPLEOS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm.supported[nvme.LIDDiscovery] = uint32(nvme.DiscoveryOptEXTDLPES)<<16 | 1
		p := dcParams()
		p.PLEO = true
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if !slices.Equal(e.adm.logLSPs, []uint8{0}) {
			t.Errorf("log read with lsp %v, want [0]", e.adm.logLSPs)
		}
		stop(t, c, true, false)
	})
}

func TestNvmetRejectsSupportedLogPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeNone)
		e.adm.fail("supported", errNvmetLID0)
		p := dcParams()
		p.PLEO = true
		c := Start(e.ctx, p, e.deps, e.updates)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "supported", "log"}; !slices.Equal(got, want) {
			t.Errorf("admin calls = %v, want %v (no retry of LID 0x00)", got, want)
		}
		if !slices.Equal(e.adm.logLSPs, []uint8{0}) {
			t.Errorf("log read with lsp %v, want [0]", e.adm.logLSPs)
		}
		if got := e.logs.lines("ERROR", ""); len(got) != 0 {
			t.Errorf("ERROR lines for nvmet's rejection: %q", got)
		}
		u := e.latest()
		if u.LSP != 0 || u.LogFetched != 1 || u.Supported.Failures != 0 {
			t.Errorf("update = %+v", u)
		}
		stop(t, c, true, false)
	})
}

func TestSupportedLogPagesRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm.fail("supported", errors.New("timeout"))
		p := dcParams()
		p.PLEO = true
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if n := e.adm.count("supported"); n != 1 || e.adm.count("log") != 0 {
			t.Fatalf("calls = %v", e.adm.callList())
		}
		if got := e.logs.lines("ERROR", "Failed to Get supported log pages from Discovery Controller"); len(got) != 1 {
			t.Errorf("error lines = %q", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := e.adm.count("supported"); n != 2 || e.adm.count("log") != 1 {
			t.Errorf("after 5 s: calls = %v", e.adm.callList())
		}
		stop(t, c, true, false)
	})
}

func TestIdentifyAndOpenRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		open := e.deps.OpenAdmin
		opens := 0
		e.deps.OpenAdmin = func(device string) (Admin, error) {
			opens++
			if opens == 1 {
				return nil, errors.New("no such device")
			}
			return open(device)
		}
		e.adm.fail("identify", errors.New("identify: timeout"))
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		synctest.Wait()
		if got := e.logs.lines("ERROR", "Failed to identify Discovery Controller. open nvme0 for admin commands"); len(got) != 1 {
			t.Errorf("error lines = %q", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := e.adm.callList(); !slices.Equal(got, []string{"identify"}) {
			t.Fatalf("calls after 5 s = %v", got)
		}
		if u := e.latest(); u.Identify.Failures != 2 || u.Identified {
			t.Errorf("update = %+v", u)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := e.adm.callList(); !slices.Equal(got, []string{"identify", "identify", "log"}) {
			t.Errorf("calls after 10 s = %v", got)
		}
		if n := len(e.logs.lines("ERROR", "")); n != 1 {
			t.Errorf("%d ERROR lines, want 1 (first failure only)", n)
		}
		stop(t, c, true, false)
	})
}

func TestLogPageRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm.fail("log", errors.New("log: timeout"), errors.New("log: timeout"))
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		synctest.Wait()
		u := e.latest()
		if u.LogPage.Failures != 1 || u.LogPage.RetryAt.IsZero() || u.LogFetched != 0 {
			t.Fatalf("update = %+v", u)
		}
		if l := u.LogPage; !l.Started || l.Running || l.RetryInterval != 20*time.Second ||
			!l.RetryAt.Equal(time.Now().Add(20*time.Second)) || l.Error != "log: timeout" {
			t.Errorf("log page step = %+v", l)
		}
		time.Sleep(19 * time.Second)
		synctest.Wait()
		if n := e.adm.count("log"); n != 1 {
			t.Fatalf("retried before 20 s")
		}
		time.Sleep(21 * time.Second)
		synctest.Wait()
		if n := e.adm.count("log"); n != 3 {
			t.Fatalf("log reads after 40 s = %d, want 3", n)
		}
		if n := len(e.logs.lines("ERROR", "Failed to retrieve log pages")); n != 1 {
			t.Errorf("%d ERROR lines, want 1", n)
		}
		if u := e.latest(); u.LogFetched != 1 || u.LogPage.Failures != 0 || !u.LogPage.RetryAt.IsZero() {
			t.Errorf("update = %+v", u)
		}
		stop(t, c, true, false)
	})
}

func TestAENRereadsLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := dcParams()
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if n := e.adm.count("log"); n != 1 {
			t.Fatalf("initial reads = %d", n)
		}
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "dim register", "log", "log"}; !slices.Equal(got, want) {
			t.Errorf("calls = %v, want %v (re-read, no re-registration)", got, want)
		}
		if got := e.logs.lines("INFO", "| nvme0 - Received AEN: 0x70f002"); len(got) != 1 {
			t.Errorf("AEN lines = %q", got)
		}
		if u := e.latest(); u.LogFetched != 2 {
			t.Errorf("LogFetched = %d, want 2", u.LogFetched)
		}
		c.AEN("nvme0", nvme.AEN(0x10002)) // another notice
		c.AEN("nvme7", nvme.AENDiscoveryLogChanged)
		synctest.Wait()
		if n := e.adm.count("log"); n != 2 {
			t.Errorf("reads after foreign AENs = %d, want 2", n)
		}
		stop(t, c, true, false)
	})
}

func TestAENBurstCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		gate, entered := e.adm.gateLog()
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		<-entered
		for range 10 {
			c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		}
		synctest.Wait()
		gate <- struct{}{}
		<-entered // exactly one more read
		synctest.Wait()
		gate <- struct{}{}
		synctest.Wait()
		if n := e.adm.count("log"); n != 2 {
			t.Errorf("log reads = %d, want 2", n)
		}
		if u := e.latest(); u.LogFetched != 2 || u.LogPage.Running {
			t.Errorf("update = %+v", u)
		}
		// An AEN while a read waits for its retry runs it at once.
		e.adm.fail("log", errors.New("log: timeout"))
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		<-entered
		gate <- struct{}{}
		synctest.Wait()
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		<-entered
		gate <- struct{}{}
		synctest.Wait()
		if u := e.latest(); u.LogFetched != 3 || !u.LogPage.RetryAt.IsZero() {
			t.Errorf("update = %+v", u)
		}
		stop(t, c, true, false)
	})
}

func TestAENDuringFailedReadReadsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		gate, entered := e.adm.gateLog()
		e.adm.fail("log", errors.New("log: timeout"))
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		<-entered
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		synctest.Wait()
		gate <- struct{}{} // fails
		<-entered          // read again at once, not in 20 s
		gate <- struct{}{}
		synctest.Wait()
		if u := e.latest(); u.LogFetched != 1 {
			t.Errorf("update = %+v", u)
		}
		stop(t, c, true, false)
	})
}

func TestRediscoverAndReloadResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := dcParams()
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		c.Rediscover("nvme0")
		synctest.Wait()
		want := []string{"identify", "dim register", "log", "identify", "dim register", "log"}
		if got := e.adm.callList(); !slices.Equal(got, want) {
			t.Errorf("after Rediscover: %v, want %v", got, want)
		}
		c.Rediscover("nvme3") // not ours
		synctest.Wait()
		if n := len(e.adm.callList()); n != 6 {
			t.Errorf("foreign event caused calls")
		}
		c.Reload()
		synctest.Wait()
		if n := e.adm.count("log"); n != 3 {
			t.Errorf("after Reload: %d log reads, want 3", n)
		}
		stop(t, c, true, false)
	})
}

func TestResyncDuringStepCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		gate, entered := e.adm.gateLog()
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		<-entered
		c.Rediscover("nvme0")
		c.Reload()
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		synctest.Wait()
		gate <- struct{}{}
		<-entered
		gate <- struct{}{}
		synctest.Wait()
		if got, want := e.adm.callList(), []string{"identify", "log", "identify", "log"}; !slices.Equal(got, want) {
			t.Errorf("calls = %v, want %v (one resync)", got, want)
		}
		stop(t, c, true, false)
	})
}

func TestReloadDisconnectedDC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.host.FailConnect(errRefused)
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		synctest.Wait()
		c.Reload() // nvme-stas: nothing to resync
		synctest.Wait()
		if n := len(e.host.Connects()); n != 1 {
			t.Errorf("connects = %d, want 1", n)
		}
		stop(t, c, true, false)
	})
}

// recordingHost notes the state of the admin device when the kernel delete comes.
type recordingHost struct {
	*fabricstest.Fake
	adm    *fakeAdmin
	record func(string)
}

func (h *recordingHost) Disconnect(ctx context.Context, device string) error {
	h.record(fmt.Sprintf("deregistered %d closed %d", h.adm.count("dim deregister"), h.adm.closes()))
	h.record("disconnect " + device)
	return h.Fake.Disconnect(ctx, device)
}

func TestStopDeregistersBeforeDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeCDC)
		p := dcParams()
		p.Registration = registration(t)
		var seq []string
		e.deps.Host = &recordingHost{Fake: e.host, adm: e.adm, record: func(s string) { seq = append(seq, s) }}
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		if !e.latest().Registered {
			t.Fatal("not registered")
		}
		stop(t, c, false, true)
		calls := e.adm.callList()
		if calls[len(calls)-1] != "dim deregister" {
			t.Fatalf("admin calls = %v, want a deregistration last", calls)
		}
		if e.adm.closes() != 1 {
			t.Errorf("admin closed %d times", e.adm.closes())
		}
		if !slices.Equal(seq, []string{"deregistered 1 closed 1", "disconnect nvme0"}) {
			t.Errorf("sequence = %v", seq)
		}
		dims := e.adm.dimCalls()
		if d := dims[len(dims)-1]; d.data.EntityID != testHostNQN || d.data.Entry.SymbolicName != testSymName {
			t.Errorf("deregistration data = %+v", d.data)
		}
		if got := e.logs.lines("INFO", "| nvme0 - Deregistered from Discovery Controller"); len(got) != 1 {
			t.Errorf("log lines = %q", got)
		}
		if u := e.latest(); u.Registered || u.Device != "" || !u.Stopped {
			t.Errorf("final update = %+v", u)
		}
	})
}

func TestDeregisterFailureStillDeletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := dcParams()
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		synctest.Wait()
		e.adm.fail("dim", errors.New("dim: timeout"))
		stop(t, c, false, true)
		if got := e.logs.lines("WARN", "Failed to deregister"); len(got) != 1 {
			t.Errorf("log lines = %q", got)
		}
		if d := e.host.Disconnects(); !slices.Equal(d, []string{"nvme0"}) {
			t.Errorf("disconnects = %v", d)
		}
	})
}

func TestDeviceRemovedDuringLogRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		synctest.Wait()
		_, entered := e.adm.gateLog()
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		<-entered
		if err := e.host.Disconnect(t.Context(), "nvme0"); err != nil {
			t.Fatal(err)
		}
		c.DeviceRemoved("nvme0")
		synctest.Wait() // the read is cancelled
		u := e.latest()
		if u.Device != "" || u.Identified || len(u.LogPages) != 1 || u.LogFetched != 1 || u.LogPage.Started {
			t.Errorf("after removal: %+v (log pages must survive)", u)
		}
		if e.adm.closes() != 1 {
			t.Errorf("admin closed %d times, want 1", e.adm.closes())
		}
		e.adm.mu.Lock()
		e.adm.logGate = nil
		e.adm.mu.Unlock()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		u = e.latest()
		if u.Device != "nvme0" || u.LogFetched != 2 || !u.Identified {
			t.Errorf("after reconnect: %+v", u)
		}
		if !slices.Equal(e.opened, []string{"nvme0", "nvme0"}) {
			t.Errorf("opened = %v", e.opened)
		}
		stop(t, c, true, false)
	})
}

func TestDeviceRemovedWhileStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := Start(e.ctx, dcParams(), e.deps, e.updates)
		synctest.Wait()
		gate, entered := e.adm.gateLog()
		e.adm.ignoreCtx = true
		c.AEN("nvme0", nvme.AENDiscoveryLogChanged)
		<-entered
		done := c.Stop(false, true)
		synctest.Wait() // stopping, waiting for the read
		if err := e.host.Disconnect(t.Context(), "nvme0"); err != nil {
			t.Fatal(err)
		}
		c.DeviceRemoved("nvme0")
		synctest.Wait()
		gate <- struct{}{}
		<-done
		if got := e.logs.lines("INFO", "| nvme0 - Device removed"); len(got) != 1 || strings.Contains(got[0], "reconnecting") {
			t.Errorf("log lines = %q", got)
		}
		if d := e.host.Disconnects(); len(d) != 1 {
			t.Errorf("disconnects = %v, want only the test's own", d)
		}
		if u := e.latest(); u.Device != "" || !u.Stopped {
			t.Errorf("final update = %+v", u)
		}
	})
}

func TestStopCancelsStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.adm = newFakeAdmin(nvme.DCTypeCDC)
		_, entered := e.adm.gateLog()
		p := dcParams()
		p.Registration = registration(t)
		c := Start(e.ctx, p, e.deps, e.updates)
		<-entered
		stop(t, c, false, true)
		if got := e.logs.lines("ERROR", ""); len(got) != 0 {
			t.Errorf("error lines on stop: %q", got)
		}
		if n := e.adm.count("dim deregister"); n != 1 {
			t.Errorf("deregistrations = %d", n)
		}
		if d := e.host.Disconnects(); !slices.Equal(d, []string{"nvme0"}) {
			t.Errorf("disconnects = %v", d)
		}
	})
}
