// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// testBus is a private dbus-daemon (go-ecosystem.md §3).
type testBus struct {
	addr string
	cmd  *exec.Cmd
	once sync.Once
}

// startBus starts a dbus-daemon; serviceDir, if not empty, holds activatable services,
// and env is added to the daemon's environment (which activated services inherit).
func startBus(t *testing.T, serviceDir string, env ...string) *testBus {
	t.Helper()
	dir, err := os.MkdirTemp("", "bus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	extra := ""
	if serviceDir != "" {
		extra = "<servicedir>" + serviceDir + "</servicedir>"
	}
	cfg := filepath.Join(dir, "bus.conf")
	conf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=` + dir + `/bus</listen><auth>EXTERNAL</auth>` + extra + `
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("dbus-daemon: %v", err)
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("read bus address: %v", err)
	}
	b := &testBus{addr: strings.TrimSpace(addr), cmd: cmd}
	t.Cleanup(b.kill)
	return b
}

func (b *testBus) kill() {
	b.once.Do(func() {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	})
}

// connFunc is an Options.Conn for the bus at *addr (read at each call, so that a test can
// move the client to a new bus).
func connFunc(addr *syncString) func() (*dbus.Conn, error) {
	return func() (*dbus.Conn, error) {
		return dbus.Connect(addr.get(), dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	}
}

type syncString struct {
	mu sync.Mutex
	s  string
}

func (s *syncString) get() string        { s.mu.Lock(); defer s.mu.Unlock(); return s.s }
func (s *syncString) set(v string)       { s.mu.Lock(); defer s.mu.Unlock(); s.s = v }
func newSyncString(v string) *syncString { return &syncString{s: v} }

// fakeService is a service the fake avahi-daemon announces.
type fakeService struct {
	Key
	Host    string
	Address string // "" while it does not resolve
	Port    uint16
	TXT     [][]byte
}

type fakeObject struct {
	client string
	path   dbus.ObjectPath
	stype  string // browsers
	key    Key    // resolvers
}

// fakeAvahi exports what the client uses of org.freedesktop.Avahi and, as the real
// avahi-daemon does, sends browser and resolver signals directed to their client.
type fakeAvahi struct {
	t    testing.TB
	conn *dbus.Conn

	mu            sync.Mutex
	services      map[Key]fakeService
	browsers      map[dbus.ObjectPath]fakeObject
	resolvers     map[dbus.ObjectPath]fakeObject
	next          int
	browserNews   int
	resolverNews  int
	frees         int
	failBrowsers  bool
	failResolvers bool
	hangOnce      time.Duration // the next ServiceBrowserNew answers this late
	// onResolverFree, if set, runs inside the resolver's Free before the reply.
	onResolverFree func(f *fakeAvahi, obj fakeObject)
}

func startFakeAvahi(t testing.TB, addr string, services ...fakeService) *fakeAvahi {
	t.Helper()
	return startFakeAvahiFlags(t, addr, dbus.NameFlagDoNotQueue, services...)
}

// startFakeAvahiFlags is startFakeAvahi with the flags of its name request, to test a
// replacement of avahi-daemon.
func startFakeAvahiFlags(t testing.TB, addr string, flags dbus.RequestNameFlags, services ...fakeService) *fakeAvahi {
	t.Helper()
	f := &fakeAvahi{
		t:         t,
		services:  make(map[Key]fakeService),
		browsers:  make(map[dbus.ObjectPath]fakeObject),
		resolvers: make(map[dbus.ObjectPath]fakeObject),
	}
	for _, s := range services {
		f.services[s.Key] = s
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake avahi: connect: %v", err)
	}
	f.conn = conn
	t.Cleanup(func() { conn.Close() })
	server := map[string]any{
		"GetVersionString":   func() (string, *dbus.Error) { return "avahi 0.8 (fake)", nil },
		"ServiceBrowserNew":  f.serviceBrowserNew,
		"ServiceResolverNew": f.serviceResolverNew,
	}
	must(t, conn.ExportMethodTable(server, "/", ifaceServer))
	must(t, conn.ExportSubtreeMethodTable(map[string]any{"Free": f.free}, "/Client1", ifaceBrowser))
	must(t, conn.ExportSubtreeMethodTable(map[string]any{"Free": f.free}, "/Client1", ifaceResolver))
	// avahi-daemon frees a client's objects when the client leaves the bus.
	must(t, conn.AddMatchSignal(dbus.WithMatchSender(busName), dbus.WithMatchMember("NameOwnerChanged")))
	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	go func() {
		for sig := range sigs {
			var name, oldOwner, newOwner string
			if sig.Name != sigNameOwnerChanged || dbus.Store(sig.Body, &name, &oldOwner, &newOwner) != nil || newOwner != "" {
				continue
			}
			f.mu.Lock()
			for _, objs := range []map[dbus.ObjectPath]fakeObject{f.browsers, f.resolvers} {
				for p, o := range objs {
					if o.client == name {
						delete(objs, p)
					}
				}
			}
			f.mu.Unlock()
		}
	}()
	reply, err := conn.RequestName(avahiName, flags)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake avahi: request name: %v %v", reply, err)
	}
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stop is avahi-daemon exiting: its name goes away.
func (f *fakeAvahi) stop() { f.conn.Close() }

func (f *fakeAvahi) serviceBrowserNew(sender dbus.Sender, iface, proto int32, stype, domain string, flags uint32) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	hang := f.hangOnce
	f.hangOnce = 0
	f.mu.Unlock()
	time.Sleep(hang)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.browserNews++
	if f.failBrowsers {
		return "", dbus.NewError("org.freedesktop.Avahi.FailureError", []any{"fake failure"})
	}
	if iface != -1 || proto != -1 || domain != "local" || flags != 2 {
		return "", dbus.NewError("org.freedesktop.Avahi.InvalidArgumentError", []any{"unexpected browser arguments"})
	}
	f.next++
	obj := fakeObject{client: string(sender), path: dbus.ObjectPath(fmt.Sprintf("/Client1/ServiceBrowser%d", f.next)), stype: stype}
	f.browsers[obj.path] = obj
	// Cached entries go out before the reply: the worst order for a client.
	for _, s := range f.services {
		if s.Type == stype {
			f.itemSignal(obj, "ItemNew", s.Key)
		}
	}
	f.send(obj.client, obj.path, ifaceBrowser, "AllForNow")
	return obj.path, nil
}

func (f *fakeAvahi) serviceResolverNew(sender dbus.Sender, iface, proto int32, name, stype, domain string, aproto int32, flags uint32) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolverNews++
	if f.failResolvers {
		return "", dbus.NewError("org.freedesktop.Avahi.TooManyObjectsError", []any{"fake failure"})
	}
	if aproto != -1 || flags != 2 {
		return "", dbus.NewError("org.freedesktop.Avahi.InvalidArgumentError", []any{"unexpected resolver arguments"})
	}
	f.next++
	k := Key{iface, proto, name, stype, domain}
	obj := fakeObject{client: string(sender), path: dbus.ObjectPath(fmt.Sprintf("/Client1/ServiceResolver%d", f.next)), key: k}
	f.resolvers[obj.path] = obj
	if s, ok := f.services[k]; ok && s.Address != "" {
		f.foundSignal(obj, s)
	}
	return obj.path, nil
}

func (f *fakeAvahi) free(msg dbus.Message, sender dbus.Sender) *dbus.Error {
	path, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	f.mu.Lock()
	f.frees++
	obj, isResolver := f.resolvers[path]
	if _, ok := f.browsers[path]; !ok && !isResolver {
		f.mu.Unlock()
		return dbus.NewError("org.freedesktop.Avahi.BadStateError", []any{"no such object"})
	}
	delete(f.browsers, path)
	delete(f.resolvers, path)
	hook := f.onResolverFree
	f.mu.Unlock()
	if isResolver && hook != nil {
		hook(f, obj)
	}
	return nil
}

// announce adds or updates a service: ItemNew to the browsers of its type that do not
// know it, Found to its resolvers.
func (f *fakeAvahi) announce(s fakeService) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, known := f.services[s.Key]
	f.services[s.Key] = s
	if !known {
		for _, b := range f.browsers {
			if b.stype == s.Type {
				f.itemSignal(b, "ItemNew", s.Key)
			}
		}
	}
	if s.Address != "" {
		for _, r := range f.resolvers {
			if r.key == s.Key {
				f.foundSignal(r, s)
			}
		}
	}
}

// withdraw removes a service: ItemRemove to the browsers of its type.
func (f *fakeAvahi) withdraw(k Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.services, k)
	for _, b := range f.browsers {
		if b.stype == k.Type {
			f.itemSignal(b, "ItemRemove", k)
		}
	}
}

// failure sends a Failure signal to every browser or resolver.
func (f *fakeAvahi) failure(iface, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	objs := f.browsers
	if iface == ifaceResolver {
		objs = f.resolvers
	}
	for _, o := range objs {
		f.send(o.client, o.path, iface, "Failure", text)
	}
}

func (f *fakeAvahi) itemSignal(b fakeObject, member string, k Key) {
	f.send(b.client, b.path, ifaceBrowser, member, k.Interface, k.Protocol, k.Name, k.Type, k.Domain, uint32(4))
}

func (f *fakeAvahi) foundSignal(r fakeObject, s fakeService) {
	aproto := int32(0)
	if strings.Contains(s.Address, ":") {
		aproto = 1
	}
	txt := s.TXT
	if txt == nil {
		txt = [][]byte{}
	}
	f.send(r.client, r.path, ifaceResolver, "Found", s.Interface, s.Protocol, s.Name, s.Type, s.Domain,
		s.Host, aproto, s.Address, s.Port, txt, uint32(4))
}

func (f *fakeAvahi) send(dest string, path dbus.ObjectPath, iface, member string, body ...any) {
	if err := sendDirected(f.conn, dest, path, iface, member, body...); err != nil && f.conn.Connected() {
		f.t.Errorf("fake avahi: send %s.%s: %v", iface, member, err)
	}
}

// sendDirected sends a signal to one peer, as avahi-daemon does with its browser and
// resolver signals.
func sendDirected(conn *dbus.Conn, dest string, path dbus.ObjectPath, iface, member string, body ...any) error {
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(path),
		dbus.FieldInterface:   dbus.MakeVariant(iface),
		dbus.FieldMember:      dbus.MakeVariant(member),
		dbus.FieldDestination: dbus.MakeVariant(dest),
	}, Body: body}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	return conn.Send(msg, nil).Err
}

func (f *fakeAvahi) counts() (browserNews, resolverNews, liveBrowsers, liveResolvers int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.browserNews, f.resolverNews, len(f.browsers), len(f.resolvers)
}

// browserClient returns the unique name of the client of a browser of stype.
func (f *fakeAvahi) browserClient(stype string) (string, dbus.ObjectPath) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.browsers {
		if b.stype == stype {
			return b.client, b.path
		}
	}
	return "", ""
}

// resolverPath returns the path of a live resolver of k.
func (f *fakeAvahi) resolverPath(k Key) dbus.ObjectPath {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.resolvers {
		if r.key == k {
			return r.path
		}
	}
	return ""
}

// logRecorder collects log records for assertions.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

type recHandler struct{ r *logRecorder }

func (h recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recHandler) Handle(_ context.Context, r slog.Record) error {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.r.recs = append(h.r.recs, r.Clone())
	return nil
}
func (h recHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recHandler) WithGroup(string) slog.Handler      { return h }

// newLogRecorder returns a logger whose lines are kept, and printed if the test fails.
func newLogRecorder(t *testing.T) (*logRecorder, *slog.Logger) {
	r := &logRecorder{}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range r.lines() {
				t.Log(s)
			}
		}
	})
	return r, slog.New(recHandler{r})
}

func (r *logRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		s := rec.Level.String() + " " + rec.Message
		rec.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		out = append(out, s)
	}
	return out
}

// count returns how many lines at level contain substr.
func (r *logRecorder) count(level slog.Level, substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.Level == level && strings.Contains(rec.Message, substr) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
