// SPDX-License-Identifier: Apache-2.0

package dbustest

import (
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// fakeDebug is the .debug half both fakes share.
type fakeDebug struct {
	mu      sync.Mutex
	info    dbusapi.ProcessInfo
	tron    bool
	lastTID tid.TID
	ctrls   []dbusapi.Controller
}

// ProcessInfo implements dbusapi.Debug: the sample document with the fake's tron and level.
func (f *fakeDebug) ProcessInfo() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.info
	info.Tron, info.LogLevel = f.tron, f.levelLocked()
	return info.JSON()
}

// ControllerInfo implements dbusapi.Debug and records t.
func (f *fakeDebug) ControllerInfo(t tid.TID) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTID = t
	for i := range f.ctrls {
		if f.ctrls[i].TID == t {
			return f.ctrls[i].InfoJSON()
		}
	}
	return "{}"
}

// Tron implements dbusapi.Debug.
func (f *fakeDebug) Tron() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tron
}

// SetTron implements dbusapi.Debug.
func (f *fakeDebug) SetTron(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tron = on
}

// LogLevel implements dbusapi.Debug: DEBUG when tron is on, else INFO.
func (f *fakeDebug) LogLevel() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.levelLocked()
}

func (f *fakeDebug) levelLocked() string {
	if f.tron {
		return "DEBUG"
	}
	return "INFO"
}

// LastTID returns the TID the last get_log_pages or controller_info call was given, after
// the server's defaulting.
func (f *fakeDebug) LastTID() tid.TID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastTID
}

// FakeStafd serves fixed discovery controllers and log pages through the Stafd interface.
type FakeStafd struct {
	fakeDebug
	dcs []dbusapi.DCLogPages
}

// NewFakeStafd returns a fake stafd with the given DCs (their TIDs as tid.New makes them)
// and process information (its tron and log level are the fake's own).
func NewFakeStafd(dcs []dbusapi.DCLogPages, info dbusapi.ProcessInfo) *FakeStafd {
	f := &FakeStafd{dcs: dcs}
	f.info = info
	for _, dc := range dcs {
		f.ctrls = append(f.ctrls, dc.Controller)
	}
	return f
}

// ListControllers implements dbusapi.Stafd.
func (f *FakeStafd) ListControllers(detailed bool) []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return dbusapi.ControllerList(f.ctrls, detailed)
}

// GetLogPages implements dbusapi.Stafd.
func (f *FakeStafd) GetLogPages(t tid.TID) []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTID = t
	for _, dc := range f.dcs {
		if dc.Controller.TID == t {
			return dc.LogPages
		}
	}
	return nil
}

// GetAllLogPages implements dbusapi.Stafd.
func (f *FakeStafd) GetAllLogPages(detailed bool) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return dbusapi.AllLogPagesJSON(f.dcs, detailed)
}

// FakeStacd serves fixed I/O controllers through the Stacd interface.
type FakeStacd struct {
	fakeDebug
}

// NewFakeStacd returns a fake stacd with the given controllers and process information.
func NewFakeStacd(ctrls []dbusapi.Controller, info dbusapi.ProcessInfo) *FakeStacd {
	f := &FakeStacd{}
	f.ctrls, f.info = ctrls, info
	return f
}

// ListControllers implements dbusapi.Stacd.
func (f *FakeStacd) ListControllers(detailed bool) []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return dbusapi.ControllerList(f.ctrls, detailed)
}

// ServeStafd exports d on a new connection to b and takes stafd's name.
func ServeStafd(t testing.TB, b *Bus, d dbusapi.Stafd, opts dbusapi.Options) (*dbusapi.Server, *dbus.Conn) {
	t.Helper()
	conn := b.Connect(t)
	s, err := dbusapi.ExportStafd(conn, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestName(); err != nil {
		t.Fatal(err)
	}
	return s, conn
}

// ServeStacd exports d on a new connection to b and takes stacd's name.
func ServeStacd(t testing.TB, b *Bus, d dbusapi.Stacd, opts dbusapi.Options) (*dbusapi.Server, *dbus.Conn) {
	t.Helper()
	conn := b.Connect(t)
	s, err := dbusapi.ExportStacd(conn, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestName(); err != nil {
		t.Fatal(err)
	}
	return s, conn
}
