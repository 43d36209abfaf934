// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/fabrics/fabricstest"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Test identities.
const (
	testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:2cd2c43b-a90a-45c1-a8cd-86b33ab273b5"
	testHostID  = "2cd2c43b-a90a-45c1-a8cd-86b33ab273b5"
	testSymName = "test-host"
	testIOCNQN  = "nqn.2014-08.org.example:subsys1"
)

// dimCall is one DIM command the fake admin device received.
type dimCall struct {
	task nvme.DIMTask
	data *nvme.DIMData
}

// fakeAdmin is a scripted discovery controller's admin device. Errors queued with fail
// are returned by the next calls of that command, oldest first; after that the command
// succeeds.
type fakeAdmin struct {
	mu        sync.Mutex
	ident     nvme.IdentifyController
	supported nvme.SupportedLogPages
	log       nvme.DiscoveryLog
	errs      map[string][]error
	calls     []string
	dims      []dimCall
	logLSPs   []uint8
	closed    int

	// When logGate is non-nil, DiscoveryLog announces itself on logEntered and waits for
	// a value on logGate (or for its context to end).
	logGate    chan struct{}
	logEntered chan struct{}
	// ignoreCtx makes a gated DiscoveryLog wait for the gate even when its context ends,
	// like a command the kernel has not finished.
	ignoreCtx bool
}

func newFakeAdmin(dctype nvme.DiscoveryControllerType) *fakeAdmin {
	return &fakeAdmin{
		ident: nvme.IdentifyController{
			SerialNumber: "sn-1", ModelNumber: "Linux", FirmwareRevision: "6.1.0",
			CntrlType: nvme.ControllerTypeDiscovery, SubNQN: nqn.WellKnownDiscovery, DCType: dctype,
		},
		log: nvme.DiscoveryLog{GenCtr: 7, Entries: []nvme.Entry{{
			TrType: 3, AdrFam: nvme.AddressFamilyIPv4, SubType: 2, TrSvcID: "4420",
			SubNQN: testIOCNQN, TrAddr: "192.0.2.1",
		}}},
		errs: map[string][]error{},
	}
}

// fail queues errors for the next calls of cmd ("identify", "dim", "supported", "log").
func (f *fakeAdmin) fail(cmd string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[cmd] = append(f.errs[cmd], errs...)
}

// gateLog makes DiscoveryLog block until released by a send on the returned channel.
func (f *fakeAdmin) gateLog() (gate chan struct{}, entered chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logGate, f.logEntered = make(chan struct{}), make(chan struct{}, 100)
	return f.logGate, f.logEntered
}

func (f *fakeAdmin) next(cmd, call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if q := f.errs[cmd]; len(q) > 0 {
		f.errs[cmd] = q[1:]
		return q[0]
	}
	return nil
}

func (f *fakeAdmin) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeAdmin) count(call string) int {
	n := 0
	for _, c := range f.callList() {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeAdmin) dimCalls() []dimCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dimCall(nil), f.dims...)
}

func (f *fakeAdmin) closes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeAdmin) IdentifyController(ctx context.Context) (*nvme.IdentifyController, error) {
	if err := f.next("identify", "identify"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.ident
	return &id, nil
}

func (f *fakeAdmin) DIM(ctx context.Context, task nvme.DIMTask, data *nvme.DIMData) (uint32, error) {
	f.mu.Lock()
	f.dims = append(f.dims, dimCall{task, data})
	f.mu.Unlock()
	return 0, f.next("dim", "dim "+task.String())
}

func (f *fakeAdmin) SupportedLogPages(ctx context.Context) (nvme.SupportedLogPages, error) {
	if err := f.next("supported", "supported"); err != nil {
		return nvme.SupportedLogPages{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.supported, nil
}

func (f *fakeAdmin) DiscoveryLog(ctx context.Context, lsp uint8) (*nvme.DiscoveryLog, error) {
	f.mu.Lock()
	gate, entered := f.logGate, f.logEntered
	f.logLSPs = append(f.logLSPs, lsp)
	f.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		if f.ignoreCtx {
			<-gate
		} else {
			select {
			case <-gate:
			case <-ctx.Done():
				f.next("log", "log")
				return nil, fmt.Errorf("get log page: %w", ctx.Err())
			}
		}
	}
	if err := f.next("log", "log"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.log
	l.Entries = append([]nvme.Entry(nil), f.log.Entries...)
	return &l, nil
}

func (f *fakeAdmin) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

// logBuf collects log lines.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log lines of level (e.g. "ERROR") that contain substr.
func (l *logBuf) lines(level, substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, "level="+level) && strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is one test's world: the fake kernel, the fake admin devices, the log, the
// update channel. Make it inside the synctest bubble.
type env struct {
	t       *testing.T
	ctx     context.Context
	host    *fabricstest.Fake
	adm     *fakeAdmin
	logs    *logBuf
	updates chan Update
	deps    Deps

	mu       sync.Mutex
	opened   []string
	existing string // FindExisting's answer when not ""
	finds    int
}

func newEnv(t *testing.T) *env {
	e := &env{
		t:       t,
		ctx:     context.Background(),
		host:    fabricstest.New(),
		adm:     newFakeAdmin(nvme.DCTypeDDC),
		logs:    &logBuf{},
		updates: make(chan Update, 10000),
	}
	e.deps = Deps{
		Host: e.host,
		OpenAdmin: func(device string) (Admin, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.opened = append(e.opened, device)
			return e.adm, nil
		},
		FindExisting: func(ctx context.Context) (string, bool) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.finds++
			return e.existing, e.existing != ""
		},
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", e.logs)
		}
	})
	return e
}

func (e *env) setExisting(dev string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.existing = dev
}

// latest drains the updates sent so far and returns the last one.
func (e *env) latest() Update {
	e.t.Helper()
	var u Update
	got := false
	for {
		select {
		case u = <-e.updates:
			got = true
		default:
			if !got {
				e.t.Fatal("no update")
			}
			return u
		}
	}
}

// all drains the updates sent so far.
func (e *env) all() []Update {
	var us []Update
	for {
		select {
		case u := <-e.updates:
			us = append(us, u)
		default:
			return us
		}
	}
}

func dcParams() Params {
	t := tid.New(tid.TID{Transport: tid.TCP, Traddr: "192.0.2.10", SubsysNQN: nqn.WellKnownDiscovery}, tid.Discovery, false)
	o := fabrics.NewDiscoveryController(fabrics.TransportTCP, t.Traddr, t.Trsvcid, t.SubsysNQN)
	o.HostNQN, o.HostID = testHostNQN, testHostID
	o.KeepAliveTmo = fabrics.IntOf(30)
	return Params{TID: t, Role: Discovery, Options: o}
}

func registration(t *testing.T) *nvme.HostRegistration {
	id, err := nvme.ParseUUID(testHostID)
	if err != nil {
		t.Fatal(err)
	}
	return &nvme.HostRegistration{
		HostNQN: testHostNQN, HostID: id, SymbolicName: testSymName,
		EntityName: "host1", EntityVersion: "Linux 6.1.0", AdrFam: nvme.AddressFamilyIPv4,
	}
}

func iocParams() Params {
	t := tid.New(tid.TID{Transport: tid.TCP, Traddr: "192.0.2.20", SubsysNQN: testIOCNQN}, tid.IO, false)
	return Params{TID: t, Role: IO, Options: fabrics.Options{
		Transport: fabrics.TransportTCP, TrAddr: t.Traddr, TrSvcID: t.Trsvcid, SubsysNQN: t.SubsysNQN,
		HostNQN: testHostNQN, HostID: testHostID,
	}}
}

// stop stops c and waits (in fake time) until it is over.
func stop(t *testing.T, c *Controller, keep, deregister bool) {
	t.Helper()
	select {
	case <-c.Stop(keep, deregister):
	case <-time.After(10 * time.Minute):
		t.Fatal("Stop did not finish")
	}
}

// errRefused is what the kernel path returns when nothing listens.
var errRefused = fabrics.WriteErrno(syscall.ECONNREFUSED)
