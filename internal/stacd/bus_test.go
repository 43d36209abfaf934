// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func expectEvent(t *testing.T, b *BusStafd, want StafdEvent) {
	t.Helper()
	select {
	case e := <-b.Events():
		if e != want {
			t.Fatalf("event %v, want %v", e, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event in 10 s, want %v", want)
	}
}

func noEvent(t *testing.T, b *BusStafd) {
	t.Helper()
	select {
	case e := <-b.Events():
		t.Fatalf("unexpected event %v", e)
	case <-time.After(100 * time.Millisecond):
	}
}

// BusStafd follows stafd's name and signals on a private bus.
func TestBusStafdFollowsStafd(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	conn := bus.Connect(t)
	b, err := NewBusStafd(t.Context(), conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	expectEvent(t, b, StafdVanished) // not there at first

	fake := dbustest.SampleStafd()
	srv, sconn := dbustest.ServeStafd(t, bus, fake, dbusapi.Options{})
	expectEvent(t, b, StafdAppeared)
	got, err := b.AllLogPages(t.Context())
	if err != nil || got != fake.GetAllLogPages(true) {
		t.Errorf("get_all_log_pages(true) = %s, %v\nwant %s", got, err, fake.GetAllLogPages(true))
	}
	if err := srv.EmitLogPagesChanged(dbustest.SampleDC1, dbustest.SampleDCDevice); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, b, StafdChanged)
	if err := srv.EmitDCRemoved(); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, b, StafdChanged)
	// A signal of another object or interface is no change of stafd's.
	if err := sconn.Emit("/org/nvmexpress/other", dbusapi.StafdInterface+"."+dbusapi.SignalDCRemoved); err != nil {
		t.Fatal(err)
	}
	noEvent(t, b)

	// stafd exits; it comes back.
	sconn.Close()
	expectEvent(t, b, StafdVanished)
	if _, err := b.AllLogPages(t.Context()); err == nil {
		t.Error("get_all_log_pages answered without stafd")
	}
	dbustest.ServeStafd(t, bus, fake, dbusapi.Options{})
	expectEvent(t, b, StafdAppeared)
	b.Close()
	b.Close() // idempotent
}

// NewBusStafd reports stafd present when it already is, and fails on a closed
// connection.
func TestNewBusStafd(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	dbustest.ServeStafd(t, bus, dbustest.SampleStafd(), dbusapi.Options{})
	b, err := NewBusStafd(t.Context(), bus.Connect(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	expectEvent(t, b, StafdAppeared)
	b.Close()

	closed := bus.Connect(t)
	closed.Close()
	if _, err := NewBusStafd(t.Context(), closed, nil); err == nil {
		t.Error("NewBusStafd on a closed connection succeeded")
	}
}

// stacd with stafd on a real bus: the log page reaches the kernel, stafd's exit changes
// nothing, and its positive answer removes the controller.
func TestServiceWithStafdOnTheBus(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	conn := bus.Connect(t)
	b, err := NewBusStafd(t.Context(), conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dcCtl := dbusapi.Controller{TID: dcTID, Device: "nvme9", Connected: true,
		RetryConnectTimer: dbusapi.TimerString(60*time.Second, false, 0),
		DC:                &dbusapi.DCState{Origin: dbusapi.OriginConfigured, GetLogPage: &dbusapi.Operation{Completed: &yes, Alive: true}}}
	fake := dbustest.NewFakeStafd([]dbusapi.DCLogPages{{Controller: dcCtl, LogPages: []map[string]string{dlpe("192.0.2.10", subA)}}},
		dbusapi.ProcessInfo{})
	_, sconn := dbustest.ServeStafd(t, bus, fake, dbusapi.Options{})

	r := newRig(t, "", func(o *Options) { o.Stafd = b })
	r.run()
	defer r.stop()
	a := iocOf("192.0.2.10", subA)
	waitFor(t, "the controller from stafd's log page", func() bool {
		d := r.deviceOf(a)
		return d != "" && d != "nvme?"
	})
	// Export stacd on the bus too: stacctl's view of it.
	srv, err := dbusapi.ExportStacd(conn, r.svc, dbusapi.Options{IgnoreIface: r.svc.IgnoreIface})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RequestName(); err != nil {
		t.Fatal(err)
	}
	client := dbusapi.NewClient(bus.Connect(t), dbusapi.StacService)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	list, err := client.ListControllers(ctx, true)
	if err != nil || len(list) != 1 || tid.FromDict(list[0], tid.IO, false) != a || list[0]["dlpe.eflags.ncc"] != "False" {
		t.Errorf("list_controllers(true) over D-Bus = %v, %v", list, err)
	}

	sconn.Close()
	waitFor(t, "stacd to see stafd leave", func() bool {
		return strings.Contains(r.svc.ProcessInfo(), `"stafd": "not on the bus: keeping what is known"`)
	})
	r.noDisconnects("stafd gone from the bus")

	empty := dbustest.NewFakeStafd([]dbusapi.DCLogPages{{Controller: dcCtl}}, dbusapi.ProcessInfo{})
	srv2, _ := dbustest.ServeStafd(t, bus, empty, dbusapi.Options{})
	if err := srv2.EmitLogPagesChanged(dcTID, "nvme9"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the controller's removal", func() bool { return len(r.k.Disconnects()) == 1 && len(r.controllers()) == 0 })
}
