// SPDX-License-Identifier: Apache-2.0

package avahi

// Evidence for the go-avahi v1.0.1 defects this package works around, run against the
// fake avahi-daemon. Each test passes while the defect is there and fails if go-avahi
// changes, so that the workaround is looked at again.

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	goavahi "github.com/holoplot/go-avahi"
)

// TestGoAvahiResolverFreeRace: ServiceResolverFree closes the resolver's channel, then
// calls Free, and only then unregisters the resolver. Found signals that arrive in
// between are dispatched to it: the first may close its channel, the next one panics
// with "send on closed channel" or "close of closed channel", killing the process. This
// is why resolvers are created and freed with godbus here. The go-avahi side runs in a
// child process, since it crashes.
func TestGoAvahiResolverFreeRace(t *testing.T) {
	if addr := os.Getenv("GOAVAHI_FREE_RACE_BUS"); addr != "" {
		goAvahiFreeResolver(t, addr)
		return
	}
	lo := loIndex(t)
	bus := startBus(t, "")
	s := svc(lo, "CDC", ServiceTypeTCP, "192.0.2.1", 8009, "p=tcp")
	fake := startFakeAvahi(t, bus.addr, s)
	fake.mu.Lock()
	fake.onResolverFree = func(f *fakeAvahi, obj fakeObject) {
		for range 20 {
			f.foundSignal(obj, s) // avahi-daemon had these queued before it saw Free
		}
		time.Sleep(300 * time.Millisecond)
	}
	fake.mu.Unlock()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoAvahiResolverFreeRace$", "-test.v")
	cmd.Env = append(os.Environ(), "GOAVAHI_FREE_RACE_BUS="+bus.addr)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("go-avahi freed a resolver with Found signals in flight and survived; has the defect been fixed? Output:\n%s", out)
	}
	if !strings.Contains(string(out), "send on closed channel") && !strings.Contains(string(out), "close of closed channel") {
		t.Fatalf("child failed otherwise: %v\n%s", err, out)
	}
	t.Logf("go-avahi v1.0.1 ServiceResolverFree crashed the process as expected: %s", firstLine(string(out), "panic:"))
}

func firstLine(s, prefix string) string {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// goAvahiFreeResolver is the child of TestGoAvahiResolverFreeRace: the careful use of
// go-avahi, with the Found channel drained, and a resolver freed.
func goAvahiFreeResolver(t *testing.T, addr string) {
	conn, err := dbus.Connect(addr, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		t.Fatal(err)
	}
	server, err := goavahi.ServerNew(conn)
	if err != nil {
		t.Fatal(err)
	}
	lo := loIndex(t)
	r, err := server.ServiceResolverNew(lo, 0, "CDC", ServiceTypeTCP, "local", goavahi.ProtoUnspec, goavahi.LookupUseMulticast)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range r.FoundChannel {
		}
	}()
	time.Sleep(100 * time.Millisecond)
	server.ServiceResolverFree(r)
	time.Sleep(500 * time.Millisecond)
	server.Close()
}

// TestGoAvahiAcceptsForgedSignals: go-avahi hands out every signal addressed to a
// browser's path, whoever sent it; on the system bus any local process may send one.
func TestGoAvahiAcceptsForgedSignals(t *testing.T) {
	bus := startBus(t, "")
	fake := startFakeAvahi(t, bus.addr)
	conn, err := dbus.Connect(bus.addr, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		t.Fatal(err)
	}
	server, _ := goavahi.ServerNew(conn)
	defer server.Close()
	b, err := server.ServiceBrowserNew(goavahi.InterfaceUnspec, goavahi.ProtoUnspec, ServiceTypeTCP, "local", goavahi.LookupUseMulticast)
	if err != nil {
		t.Fatal(err)
	}
	client, path := fake.browserClient(ServiceTypeTCP)
	forger, err := dbus.Connect(bus.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	must(t, sendDirected(forger, client, path, ifaceBrowser, "ItemNew", int32(1), int32(0), "forged", ServiceTypeTCP, "local", uint32(0)))
	select {
	case s := <-b.AddChannel:
		if s.Name != "forged" {
			t.Fatalf("got %+v", s)
		}
		t.Logf("go-avahi v1.0.1 delivered an ItemNew forged by %s, not avahi-daemon", forger.Names()[0])
	case <-time.After(5 * time.Second):
		t.Fatal("go-avahi did not deliver the forged ItemNew; has it learnt to check the sender?")
	}
}

// TestGoAvahiNaturalLoopDeadlocks: the obvious consumer, which creates a resolver for
// each ItemNew it reads, deadlocks as soon as a second ItemNew is pending: go-avahi's
// dispatcher holds the Server's lock while it waits to send that ItemNew, and
// ServiceResolverNew needs the lock. This is why the drainers here never call back into
// the Server.
func TestGoAvahiNaturalLoopDeadlocks(t *testing.T) {
	lo := loIndex(t)
	bus := startBus(t, "")
	var services []fakeService
	for i := range 20 {
		services = append(services, svc(lo, "cdc"+string(rune('a'+i)), ServiceTypeTCP, "192.0.2.1", 8009, "p=tcp"))
	}
	startFakeAvahi(t, bus.addr, services...)
	conn, err := dbus.Connect(bus.addr, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		t.Fatal(err)
	}
	server, _ := goavahi.ServerNew(conn)
	b, err := server.ServiceBrowserNew(goavahi.InterfaceUnspec, goavahi.ProtoUnspec, ServiceTypeTCP, "local", goavahi.LookupUseMulticast)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	// closed ends the drainers, and only after server.Close: until then go-avahi's
	// dispatcher may still be sending on a browser's or a resolver's channel while it holds
	// the lock Close needs.
	closed := make(chan struct{})
	created := make(chan struct{}, len(services))
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for {
			select {
			case s := <-b.AddChannel:
				r, err := server.ServiceResolverNew(s.Interface, s.Protocol, s.Name, s.Type, s.Domain, goavahi.ProtoUnspec, goavahi.LookupUseMulticast)
				if err == nil {
					go func() {
						for {
							select {
							case <-r.FoundChannel:
							case <-closed:
								return
							}
						}
					}()
				}
				created <- struct{}{}
			case <-stop:
				return
			}
		}
	}()
	deadline := time.After(2 * time.Second)
	n := 0
wait:
	for n < len(services) {
		select {
		case <-created:
			n++
		case <-deadline:
			break wait
		}
	}
	if n == len(services) {
		t.Fatal("the natural go-avahi consumer loop created every resolver; has the deadlock been fixed?")
	}
	t.Logf("go-avahi v1.0.1: the natural consumer loop deadlocked after %d of %d resolvers", n, len(services))
	// Unblock: drain what the dispatcher is stuck sending, then close.
	close(stop)
	go func() {
		for {
			select {
			case <-b.AddChannel:
			case <-closed:
				return
			}
		}
	}()
	<-loopDone
	server.Close()
	close(closed)
}

// TestGoAvahiDispatcherOutlivesBus: after the bus dies, go-avahi's dispatcher keeps
// running (it spins on the closed signal channel, go-avahi issue #21) until Close; the
// Client closes the Server as soon as the connection's context ends.
func TestGoAvahiDispatcherOutlivesBus(t *testing.T) {
	bus := startBus(t, "")
	conn, err := dbus.Connect(bus.addr, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		t.Fatal(err)
	}
	before := dispatchers()
	server, _ := goavahi.ServerNew(conn)
	bus.kill()
	<-conn.Context().Done()
	start, cpu0 := time.Now(), cpuTime(t)
	time.Sleep(200 * time.Millisecond)
	if dispatchers() != before+1 {
		t.Fatal("go-avahi's dispatcher stopped with the bus; has issue #21 been fixed?")
	}
	t.Logf("go-avahi v1.0.1 dispatcher alive after bus loss, %v of CPU in %v", cpuTime(t)-cpu0, time.Since(start))
	server.Close()
	waitFor(t, 5*time.Second, "dispatcher to stop on Close", func() bool { return dispatchers() == before })
}
