// SPDX-License-Identifier: Apache-2.0

package dbusapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// rootCaller makes the server believe every caller is root.
var rootCaller = dbusapi.Options{CallerUID: func(string) (uint32, error) { return 0, nil }}

func TestStafdMembersThroughClient(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, rootCaller)
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StafService)
	defer c.Close()

	ids, err := c.ListControllers(ctx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	wantDC1 := map[string]string{
		"transport": "tcp", "traddr": "::1", "trsvcid": "8009", "subsysnqn": "nqn.2014-08.org.nvmexpress.discovery",
		"host-traddr": "", "host-iface": "", "host-nqn": dbustest.SampleHostNQN, "device": "nvme0",
	}
	if len(ids) != 2 || !maps.Equal(ids[0], wantDC1) {
		t.Fatalf("list_controllers(false) = %v", ids)
	}
	if ids[1]["dhchap-secret"] != "(set)" || ids[1]["kato"] != "30" || ids[1]["device"] != "nvme?" {
		t.Errorf("configured DC = %v", ids[1])
	}
	details, err := c.ListControllers(ctx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	if details[0]["connected"] != "True" || details[0]["origin"] != "discovered" || details[0]["model"] != "Linux" {
		t.Errorf("list_controllers(true)[0] = %v", details[0])
	}

	// An empty trsvcid is defaulted to stafd's 8009 before the lookup.
	query := dbustest.SampleDC1
	query.Trsvcid = ""
	pages, err := c.GetLogPages(ctx(t), query)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || !maps.Equal(pages[0], dbustest.SampleLogPageEntry()) {
		t.Errorf("get_log_pages = %v", pages)
	}
	if got := f.LastTID(); got != dbustest.SampleDC1 {
		t.Errorf("server built TID %+v, want %+v", got, dbustest.SampleDC1)
	}
	pages, err = c.GetLogPages(ctx(t), tid.TID{Transport: "tcp", Traddr: "192.0.2.99"})
	if err != nil || pages == nil || len(pages) != 0 {
		t.Errorf("unknown DC: %v, %v", pages, err)
	}

	for _, detailed := range []bool{false, true} {
		all, err := c.GetAllLogPages(ctx(t), detailed)
		if err != nil {
			t.Fatal(err)
		}
		if all != f.GetAllLogPages(detailed) {
			t.Errorf("get_all_log_pages(%v) changed on the way: %s", detailed, all)
		}
		var doc []map[string]any
		if err := json.Unmarshal([]byte(all), &doc); err != nil || len(doc) != 2 {
			t.Errorf("get_all_log_pages(%v) = %s (%v)", detailed, all, err)
		}
	}

	info, err := c.ProcessInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var pi map[string]any
	if err := json.Unmarshal([]byte(info), &pi); err != nil || pi["tron"] != false || pi["log-level"] != "INFO" || pi["hostkey"] != "(set)" {
		t.Errorf("process_info = %s (%v)", info, err)
	}

	ci, err := c.ControllerInfo(ctx(t), dbustest.SampleDC2)
	if err != nil {
		t.Fatal(err)
	}
	var cim map[string]string
	if err := json.Unmarshal([]byte(ci), &cim); err != nil || cim["origin"] != "configured" || cim["dhchap-secret"] != "(set)" {
		t.Errorf("controller_info = %s (%v)", ci, err)
	}
	if ci, err := c.ControllerInfo(ctx(t), tid.TID{Transport: "tcp"}); err != nil || ci != "{}" {
		t.Errorf("controller_info(unknown) = %q, %v", ci, err)
	}

	if on, err := c.Tron(ctx(t)); err != nil || on {
		t.Errorf("tron = %v, %v", on, err)
	}
	if err := c.SetTron(ctx(t), true); err != nil {
		t.Fatal(err)
	}
	if on, err := c.Tron(ctx(t)); err != nil || !on || !f.Tron() {
		t.Errorf("after SetTron(true): tron = %v, %v", on, err)
	}
	if lvl, err := c.LogLevel(ctx(t)); err != nil || lvl != "DEBUG" {
		t.Errorf("log_level = %q, %v", lvl, err)
	}
	if c.Service().Daemon != "stafd" {
		t.Errorf("Service = %+v", c.Service())
	}
}

func TestStacdMembersThroughClient(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStacd()
	ignoreIface := false
	var mu sync.Mutex
	opts := rootCaller
	opts.IgnoreIface = func() bool { mu.Lock(); defer mu.Unlock(); return ignoreIface }
	dbustest.ServeStacd(t, bus, f, opts)
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StacService)

	list, err := c.ListControllers(ctx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["dlpe.eflags.ncc"] != "False" || list[1]["dhchap-ctrl-secret"] != "(set)" {
		t.Errorf("list_controllers(true) = %v", list)
	}
	if !strings.HasPrefix(list[0]["dlpe"], "{'adrfam': 'ipv6', ") || list[1]["dlpe"] != "None" {
		t.Errorf("dlpe = %q / %q", list[0]["dlpe"], list[1]["dlpe"])
	}

	// An I/O controller's empty tcp trsvcid defaults to 4420; ignore-iface drops host_iface.
	query := dbustest.SampleIOC2
	query.Trsvcid = ""
	query.HostIface = "eth9"
	if _, err := c.ControllerInfo(ctx(t), query); err != nil {
		t.Fatal(err)
	}
	if got := f.LastTID(); got.Trsvcid != "4420" || got.HostIface != "eth9" {
		t.Errorf("stacd TID = %+v", got)
	}
	mu.Lock()
	ignoreIface = true
	mu.Unlock()
	ci, err := c.ControllerInfo(ctx(t), query)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.LastTID(); got != dbustest.SampleIOC2 {
		t.Errorf("with ignore-iface: TID %+v, want %+v", got, dbustest.SampleIOC2)
	}
	if !strings.Contains(ci, `"connect operation": "{'fail count': 2, 'completed': False, 'alive': True, 'error': 'Connection refused'}"`) {
		t.Errorf("controller_info = %s", ci)
	}

	// stacd has no get_log_pages: the client says so without asking.
	if _, err := c.GetLogPages(ctx(t), query); !errors.Is(err, dbusapi.ErrFailed) {
		t.Errorf("stacd get_log_pages: %v", err)
	}
	if _, err := c.GetAllLogPages(ctx(t), false); err == nil || !strings.Contains(err.Error(), "stacd has no method get_all_log_pages") {
		t.Errorf("stacd get_all_log_pages: %v", err)
	}
	if info, err := c.ProcessInfo(ctx(t)); err != nil || strings.Contains(info, "avahi") || !strings.Contains(info, `"symname": null`) {
		t.Errorf("process_info = %s, %v", info, err)
	}
}

// lockedBuffer is a bytes.Buffer for concurrent writers (the race detector cannot see
// that the reply on the socket orders the handler's write before the test's read).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTronNeedsRoot(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStafd()
	var logs lockedBuffer // written by the server's call goroutines
	uid, uidErr := uint32(1000), error(nil)
	var mu sync.Mutex
	dbustest.ServeStafd(t, bus, f, dbusapi.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		CallerUID: func(sender string) (uint32, error) {
			mu.Lock()
			defer mu.Unlock()
			if !strings.HasPrefix(sender, ":") {
				t.Errorf("CallerUID got sender %q, want a unique name", sender)
			}
			return uid, uidErr
		},
	})
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StafService)

	err := c.SetTron(ctx(t), true)
	if !errors.Is(err, dbusapi.ErrAccessDenied) || err.Error() != "permission denied: tron needs root" {
		t.Errorf("non-root SetTron: %v", err)
	}
	var de dbus.Error
	if !errors.As(err, &de) || de.Name != dbusapi.ErrorAccessDenied {
		t.Errorf("D-Bus error = %#v", err)
	}
	if f.Tron() {
		t.Error("tron was set by a non-root caller")
	}
	mu.Lock()
	uid, uidErr = 0, errors.New("bus says no")
	mu.Unlock()
	if err := c.SetTron(ctx(t), true); !errors.Is(err, dbusapi.ErrAccessDenied) || f.Tron() {
		t.Errorf("unidentified caller: %v, tron %v", err, f.Tron())
	}
	mu.Lock()
	uidErr = nil
	mu.Unlock()
	if err := c.SetTron(ctx(t), true); err != nil || !f.Tron() {
		t.Errorf("root: %v, tron %v", err, f.Tron())
	}
	for _, want := range []string{"refused to set tron: caller is not root", "uid=1000", "cannot tell who is asking", "tron set over D-Bus"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// Without a CallerUID fake the server asks the bus for the caller's uid.
func TestTronUIDFromBus(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, dbusapi.Options{})
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StafService)
	err := c.SetTron(ctx(t), true)
	if os.Getuid() == 0 {
		if err != nil || !f.Tron() {
			t.Errorf("root caller refused: %v", err)
		}
	} else if !errors.Is(err, dbusapi.ErrAccessDenied) || f.Tron() {
		t.Errorf("non-root caller (uid %d) allowed: %v", os.Getuid(), err)
	}
}

func TestProperties(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, rootCaller)
	conn := bus.Connect(t)
	obj := conn.Object(dbusapi.StafdBusName, dbusapi.StafdPath)
	call := func(method string, args ...any) *dbus.Call {
		return obj.CallWithContext(ctx(t), dbusapi.PropertiesInterface+"."+method, 0, args...)
	}
	errName := func(c *dbus.Call) string {
		var de dbus.Error
		if errors.As(c.Err, &de) {
			return de.Name
		}
		return ""
	}

	// No PropertiesChanged for tron, as nvme-stas.
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(dbusapi.PropertiesInterface)); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 10)
	conn.Signal(signals)

	var all map[string]dbus.Variant
	for _, iface := range []string{dbusapi.StafdDebug, ""} {
		if err := call("GetAll", iface).Store(&all); err != nil || len(all) != 2 || all["log_level"].Value() != "INFO" || all["tron"].Value() != false {
			t.Errorf("GetAll(%q) = %v, %v", iface, all, err)
		}
	}
	var none map[string]dbus.Variant
	if err := call("GetAll", dbusapi.StafdInterface).Store(&none); err != nil || len(none) != 0 {
		t.Errorf("GetAll(main) = %v, %v", none, err)
	}
	for _, tc := range []struct {
		c    *dbus.Call
		want string
	}{
		{call("Set", dbusapi.StafdDebug, "log_level", dbus.MakeVariant("DEBUG")), dbusapi.ErrorPropertyReadOnly},
		{call("Set", dbusapi.StafdDebug, "nope", dbus.MakeVariant(true)), dbusapi.ErrorUnknownProperty},
		{call("Set", dbusapi.StafdInterface, "tron", dbus.MakeVariant(true)), dbusapi.ErrorUnknownProperty},
		{call("Set", dbusapi.StafdDebug, "tron", dbus.MakeVariant("yes")), dbusapi.ErrorInvalidArgs},
		{call("Set", "org.example", "tron", dbus.MakeVariant(true)), dbusapi.ErrorUnknownInterface},
		{call("Get", dbusapi.StafdDebug, "nope"), dbusapi.ErrorUnknownProperty},
		{call("Get", dbusapi.StafdInterface, "tron"), dbusapi.ErrorUnknownProperty},
		{call("Get", "org.example", "tron"), dbusapi.ErrorUnknownInterface},
		{call("GetAll", "org.example"), dbusapi.ErrorUnknownInterface},
	} {
		if got := errName(tc.c); got != tc.want {
			t.Errorf("error %q (%v), want %s", got, tc.c.Err, tc.want)
		}
	}
	if err := call("Set", dbusapi.StafdDebug, "tron", dbus.MakeVariant(true)).Err; err != nil || !f.Tron() {
		t.Fatalf("Set tron: %v", err)
	}
	select {
	case sig := <-signals:
		t.Errorf("unexpected signal %v", sig)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSecondInstanceRefused(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	s, err := dbusapi.ExportStafd(bus.Connect(t), dbustest.SampleStafd(), dbusapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.RequestName()
	if !errors.Is(err, dbusapi.ErrNameTaken) || err.Error() != "org.nvmexpress.staf is already owned: is another stafd running?" {
		t.Errorf("second stafd: %v", err)
	}
	if s.Service().BusName != dbusapi.StafdBusName {
		t.Errorf("Service = %+v", s.Service())
	}

	// stacd's name is independent; taking it twice on the same connection is fine.
	st, _ := dbustest.ServeStacd(t, bus, dbustest.SampleStacd(), dbusapi.Options{})
	if err := st.RequestName(); err != nil {
		t.Errorf("re-requesting an owned name: %v", err)
	}
	if err := st.ReleaseName(); err != nil {
		t.Errorf("ReleaseName: %v", err)
	}
	st2, err := dbusapi.ExportStacd(bus.Connect(t), dbustest.SampleStacd(), dbusapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.RequestName(); err != nil {
		t.Errorf("stacd after release: %v", err)
	}
	bus.Stop()
	if err := st2.RequestName(); err == nil || errors.Is(err, dbusapi.ErrNameTaken) {
		t.Errorf("RequestName without a bus: %v", err)
	}
	if err := st2.ReleaseName(); err == nil {
		t.Error("ReleaseName without a bus succeeded")
	}
}

func TestSignals(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	listener := bus.Connect(t)
	if err := dbusapi.AddStafdMatches(ctx(t), listener); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 20)
	listener.Signal(signals)

	srv, srvConn := dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	next := func() *dbus.Signal {
		t.Helper()
		select {
		case s := <-signals:
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("no signal")
		}
		return nil
	}
	// stafd appearing is seen as NameOwnerChanged.
	for {
		s := next()
		if present, ok := dbusapi.ParseNameOwnerChanged(s, dbusapi.StafdBusName); ok {
			if !present {
				t.Error("stafd's name appeared as gone")
			}
			break
		}
	}
	if err := srv.EmitLogPagesChanged(dbustest.SampleDC1, "nvme0"); err != nil {
		t.Fatal(err)
	}
	if err := srv.EmitDCRemoved(); err != nil {
		t.Fatal(err)
	}
	got, ok := dbusapi.ParseStafdSignal(next())
	if !ok || got.Member != dbusapi.SignalLogPagesChanged || got.TID != dbustest.SampleDC1 || got.Device != "nvme0" {
		t.Errorf("first signal = %+v, %v", got, ok)
	}
	got, ok = dbusapi.ParseStafdSignal(next())
	if !ok || got.Member != dbusapi.SignalDCRemoved {
		t.Errorf("second signal = %+v, %v", got, ok)
	}
	srvConn.Close()
	for {
		s := next()
		if present, ok := dbusapi.ParseNameOwnerChanged(s, dbusapi.StafdBusName); ok {
			if present {
				t.Error("stafd's name still present after its connection closed")
			}
			break
		}
	}

	st, _ := dbustest.ServeStacd(t, bus, dbustest.SampleStacd(), dbusapi.Options{})
	if err := st.EmitDCRemoved(); !errors.Is(err, dbusapi.ErrNoSuchSignal) {
		t.Errorf("stacd dc_removed: %v", err)
	}
	if err := st.EmitLogPagesChanged(dbustest.SampleDC1, "nvme0"); !errors.Is(err, dbusapi.ErrNoSuchSignal) {
		t.Errorf("stacd log_pages_changed: %v", err)
	}
	bus.Stop()
	if err := srv.EmitDCRemoved(); err == nil {
		t.Error("emit on a closed connection succeeded")
	}
}

func TestParseSignalRejects(t *testing.T) {
	for _, s := range []*dbus.Signal{
		nil,
		{Path: "/other", Name: dbusapi.StafdInterface + ".dc_removed"},
		{Path: dbusapi.StafdPath, Name: dbusapi.StafdInterface + ".dc_removed", Body: []any{"x"}},
		{Path: dbusapi.StafdPath, Name: dbusapi.StafdInterface + ".log_pages_changed", Body: []any{"too", "few"}},
		{Path: dbusapi.StafdPath, Name: dbusapi.StafdInterface + ".other"},
	} {
		if got, ok := dbusapi.ParseStafdSignal(s); ok {
			t.Errorf("ParseStafdSignal(%v) = %+v", s, got)
		}
	}
	for _, s := range []*dbus.Signal{
		nil,
		{Name: "org.freedesktop.DBus.NameLost", Body: []any{"org.nvmexpress.staf"}},
		{Name: "org.freedesktop.DBus.NameOwnerChanged", Body: []any{"org.other", "", ":1.2"}},
		{Name: "org.freedesktop.DBus.NameOwnerChanged", Body: []any{"org.nvmexpress.staf"}},
		// Well-formed, but sent by a client rather than the bus: a forgery.
		{Sender: ":1.66", Name: "org.freedesktop.DBus.NameOwnerChanged", Body: []any{"org.nvmexpress.staf", ":1.2", ""}},
	} {
		if _, ok := dbusapi.ParseNameOwnerChanged(s, dbusapi.StafdBusName); ok {
			t.Errorf("ParseNameOwnerChanged(%v) accepted", s)
		}
	}
}

// dirtyStafd answers with text that is not valid D-Bus string content.
type dirtyStafd struct{ *dbustest.FakeStafd }

func (dirtyStafd) ListControllers(bool) []map[string]string {
	return []map[string]string{{"k\xff": "v\x00w"}}
}
func (dirtyStafd) GetAllLogPages(bool) string { return "bad \xff\x00" }
func (dirtyStafd) LogLevel() string           { return "INFO\xfe" }

func TestRepliesAreValidUTF8(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	srv, _ := dbustest.ServeStafd(t, bus, dirtyStafd{dbustest.SampleStafd()}, dbusapi.Options{})
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StafService)
	list, err := c.ListControllers(ctx(t), false)
	if err != nil || len(list) != 1 || list[0]["k\uFFFD"] != "v\uFFFDw" {
		t.Errorf("list_controllers = %q, %v", list, err)
	}
	if s, err := c.GetAllLogPages(ctx(t), false); err != nil || s != "bad \uFFFD\uFFFD" {
		t.Errorf("get_all_log_pages = %q, %v", s, err)
	}
	if s, err := c.LogLevel(ctx(t)); err != nil || s != "INFO\uFFFD" {
		t.Errorf("log_level = %q, %v", s, err)
	}
	if err := srv.EmitLogPagesChanged(tid.TID{Traddr: "\xff"}, "nvme\x00"); err != nil {
		t.Errorf("emit with bad text: %v", err)
	}
	// The connection survived all of it.
	if _, err := c.ProcessInfo(ctx(t)); err != nil {
		t.Errorf("after bad text: %v", err)
	}
}

// blockingStafd never answers list_controllers until released.
type blockingStafd struct {
	*dbustest.FakeStafd
	release chan struct{}
}

func (b blockingStafd) ListControllers(bool) []map[string]string {
	<-b.release
	return nil
}

func TestClientErrors(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StafService)

	_, err := c.ListControllers(ctx(t), false)
	if !errors.Is(err, dbusapi.ErrNotRunning) || err.Error() != "stafd is not running" {
		t.Errorf("nobody on the bus: %v", err)
	}
	if _, err := dbusapi.NewClient(bus.Connect(t), dbusapi.StacService).Tron(ctx(t)); err == nil || err.Error() != "stacd is not running" {
		t.Errorf("stacd absent: %v", err)
	}

	release := make(chan struct{})
	defer close(release)
	dbustest.ServeStafd(t, bus, blockingStafd{dbustest.SampleStafd(), release}, dbusapi.Options{})
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.ListControllers(short, false)
	if !errors.Is(err, dbusapi.ErrTimeout) || err.Error() != "stafd did not answer list_controllers in time" {
		t.Errorf("blocked daemon: %v", err)
	}
	// Other calls are answered meanwhile.
	if _, err := c.ProcessInfo(ctx(t)); err != nil {
		t.Errorf("process_info while list_controllers blocks: %v", err)
	}

	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	_, err = dbusapi.Dial(ctx(t), dbusapi.StafService)
	if !errors.Is(err, dbusapi.ErrNoBus) || !strings.HasPrefix(err.Error(), "cannot reach the system bus: ") {
		t.Errorf("Dial to no bus: %v", err)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.Addr)
	dc, err := dbusapi.Dial(ctx(t), dbusapi.StafService)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.ProcessInfo(ctx(t)); err != nil {
		t.Errorf("dialled client: %v", err)
	}
	if err := dc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close of a borrowed connection: %v", err)
	}

	bus.Stop()
	time.Sleep(100 * time.Millisecond)
	_, err = c.ProcessInfo(ctx(t))
	if !errors.Is(err, dbusapi.ErrNoBus) {
		t.Errorf("after the bus died: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	cause := dbus.Error{Name: "org.example.Error.Broken", Body: []any{"it broke"}}
	for _, tc := range []struct {
		err  dbusapi.Error
		want string
	}{
		{dbusapi.Error{Daemon: "stafd", Member: "list_controllers", Kind: dbusapi.ErrFailed, Err: cause},
			"stafd list_controllers failed: org.example.Error.Broken: it broke"},
		{dbusapi.Error{Daemon: "stacd", Member: "process_info", Kind: dbusapi.ErrFailed, Err: errors.New("plain")},
			"stacd process_info failed: plain"},
		{dbusapi.Error{Daemon: "stafd", Member: "process_info", Kind: dbusapi.ErrAccessDenied, Err: errors.New("policy")},
			"permission denied: stafd refused process_info: policy"},
		{dbusapi.Error{Daemon: "stafd", Kind: dbusapi.ErrNoBus, Err: errors.New("dial unix /x: connect: no such file or directory")},
			"cannot reach the system bus: dial unix /x: connect: no such file or directory"},
		{dbusapi.Error{Daemon: "stafd", Member: "ls", Kind: dbusapi.ErrFailed}, "stafd ls failed: call failed"},
		{dbusapi.Error{Daemon: "stafd", Member: "ls"}, "stafd ls failed: call failed"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		var de dbus.Error
		if tc.err.Kind != nil && !errors.Is(&tc.err, tc.err.Kind) || (errors.As(tc.err.Err, &de) != errors.As(&tc.err, &de)) {
			t.Errorf("%q does not wrap its kind and cause", tc.want)
		}
	}
}

// panickyStafd has a bug in every member.
type panickyStafd struct{ *dbustest.FakeStafd }

func (panickyStafd) ListControllers(bool) []map[string]string { panic("snapshot bug") }
func (panickyStafd) GetLogPages(tid.TID) []map[string]string  { panic("snapshot bug") }
func (panickyStafd) GetAllLogPages(bool) string               { panic("snapshot bug") }
func (panickyStafd) ProcessInfo() string                      { panic("snapshot bug") }
func (panickyStafd) ControllerInfo(tid.TID) string            { panic("snapshot bug") }
func (panickyStafd) Tron() bool                               { panic("snapshot bug") }
func (panickyStafd) LogLevel() string                         { panic("snapshot bug") }
func (panickyStafd) SetTron(bool)                             { panic("snapshot bug") }

// A bug in the daemon's answer fails that call, not the daemon.
func TestPanicsAreContained(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	var logs lockedBuffer
	opts := rootCaller
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	dbustest.ServeStafd(t, bus, panickyStafd{dbustest.SampleStafd()}, opts)
	c := dbusapi.NewClient(bus.Connect(t), dbusapi.StafService)
	calls := map[string]func() error{
		"list_controllers":  func() error { _, err := c.ListControllers(ctx(t), true); return err },
		"get_log_pages":     func() error { _, err := c.GetLogPages(ctx(t), dbustest.SampleDC1); return err },
		"get_all_log_pages": func() error { _, err := c.GetAllLogPages(ctx(t), true); return err },
		"process_info":      func() error { _, err := c.ProcessInfo(ctx(t)); return err },
		"controller_info":   func() error { _, err := c.ControllerInfo(ctx(t), dbustest.SampleDC1); return err },
		"tron":              func() error { _, err := c.Tron(ctx(t)); return err },
		"set tron":          func() error { return c.SetTron(ctx(t), true) },
		"log_level":         func() error { _, err := c.LogLevel(ctx(t)); return err },
	}
	for name, call := range calls {
		err := call()
		var de dbus.Error
		if !errors.Is(err, dbusapi.ErrFailed) || !errors.As(err, &de) || de.Name != dbusapi.ErrorFailed ||
			!strings.Contains(err.Error(), "internal error in stafd") {
			t.Errorf("%s: %v", name, err)
		}
	}
	var all map[string]dbus.Variant
	err := bus.Connect(t).Object(dbusapi.StafdBusName, dbusapi.StafdPath).CallWithContext(ctx(t),
		dbusapi.PropertiesInterface+".GetAll", 0, dbusapi.StafdDebug).Store(&all)
	if err == nil {
		t.Error("GetAll with a broken daemon succeeded")
	}
	if !strings.Contains(logs.String(), "snapshot bug") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}
