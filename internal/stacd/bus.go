// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

// BusStafd follows stafd on a D-Bus connection: its name's owner and its two signals.
type BusStafd struct {
	conn   *dbus.Conn
	client *dbusapi.Client
	log    *slog.Logger
	events chan StafdEvent
	sigs   chan *dbus.Signal
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
}

var _ Stafd = (*BusStafd)(nil)

// NewBusStafd subscribes conn to stafd's signals and owner changes, then reports whether
// stafd is there now. Close it before closing conn.
func NewBusStafd(ctx context.Context, conn *dbus.Conn, log *slog.Logger) (*BusStafd, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &BusStafd{
		conn:   conn,
		client: dbusapi.NewClient(conn, dbusapi.StafService),
		log:    log,
		events: make(chan StafdEvent, 16),
		sigs:   make(chan *dbus.Signal, 256),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	// Subscribe before asking who owns the name, so that no change falls in between.
	conn.Signal(b.sigs)
	if err := dbusapi.AddStafdMatches(ctx, conn); err != nil {
		conn.RemoveSignal(b.sigs)
		return nil, err
	}
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, dbusapi.StafdBusName).Store(&has); err != nil {
		conn.RemoveSignal(b.sigs)
		return nil, fmt.Errorf("ask whether %s is on the bus: %w", dbusapi.StafdBusName, err)
	}
	go b.run(has)
	return b, nil
}

// Events implements Stafd.
func (b *BusStafd) Events() <-chan StafdEvent { return b.events }

// AllLogPages implements Stafd.
func (b *BusStafd) AllLogPages(ctx context.Context) (string, error) {
	return b.client.GetAllLogPages(ctx, true)
}

// Close stops following stafd.
func (b *BusStafd) Close() {
	b.once.Do(func() {
		b.conn.RemoveSignal(b.sigs)
		close(b.stop)
	})
	<-b.done
}

// run turns bus signals into events. Events are never dropped: the service reads them
// all, and only stafd's own signals, which are few, arrive here besides owner changes.
func (b *BusStafd) run(present bool) {
	defer close(b.done)
	send := func(e StafdEvent) bool {
		select {
		case b.events <- e:
			return true
		case <-b.stop:
			return false
		}
	}
	first := StafdVanished
	if present {
		first = StafdAppeared
	}
	if !send(first) {
		return
	}
	for {
		select {
		case <-b.stop:
			return
		case sig, ok := <-b.sigs:
			if !ok {
				return
			}
			if there, ok := dbusapi.ParseNameOwnerChanged(sig, dbusapi.StafdBusName); ok {
				if there == present {
					continue
				}
				present = there
				e := StafdVanished
				if there {
					e = StafdAppeared
				}
				if !send(e) {
					return
				}
				continue
			}
			s, ok := dbusapi.ParseStafdSignal(sig)
			if !ok {
				continue
			}
			if s.Member == dbusapi.SignalLogPagesChanged {
				b.log.Debug("stafd: log pages changed", "controller", s.TID.String(), "device", s.Device)
			} else {
				b.log.Debug("stafd: discovery controller removed")
			}
			if !send(StafdChanged) {
				return
			}
		}
	}
}
