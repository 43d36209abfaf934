// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DialFunc checks that a TCP listener answers at addr when reached through the network
// interface hostIface: it connects, closes the connection and returns nil, or returns why
// it could not connect. It must return promptly once ctx is done.
type DialFunc func(ctx context.Context, hostIface string, addr netip.AddrPort) error

// probeTimeout bounds one reachability attempt; a discovery controller that has not
// accepted within it is retried later.
const probeTimeout = 10 * time.Second

// DialTCP is the reachability check of nvme-stas (§6.5): a TCP connect to addr from a
// socket bound to hostIface with SO_BINDTODEVICE, so that the check takes the same path the
// kernel's NVMe/TCP connection will. An IPv6 link-local address is given hostIface as its
// zone, which the connect needs to pick the link.
func DialTCP(ctx context.Context, hostIface string, addr netip.AddrPort) error {
	d := net.Dialer{Timeout: probeTimeout}
	a := addr.Addr()
	if hostIface != "" {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var bindErr error
			if err := rc.Control(func(fd uintptr) { bindErr = unix.BindToDevice(int(fd), hostIface) }); err != nil {
				return err
			}
			return bindErr
		}
		if a.Is6() && a.IsLinkLocalUnicast() {
			a = a.WithZone(hostIface)
		}
	}
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, addr.Port()).String())
	if err != nil {
		return err
	}
	return c.Close()
}

// probeDelays are the waits between reachability attempts (nvme-stas's ValueRange, the
// last value repeating). nvme-stas never uses the first value (quirk 16); we do.
var probeDelays = []time.Duration{
	2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	60 * time.Second, 300 * time.Second, 600 * time.Second,
}

// delayAt returns the wait after the attempt-th failure (0-based): the values in turn,
// then the last one for ever; 0 if there are none.
func delayAt(delays []time.Duration, attempt int) time.Duration {
	if len(delays) == 0 {
		return 0
	}
	return delays[min(attempt, len(delays)-1)]
}

// probeEvent reports a reachability check's progress to the owner goroutine: its first
// failure (to be logged) and its success. seq names the check so that the result of one
// cancelled meanwhile is recognised and dropped.
type probeEvent struct {
	key Key
	seq uint64
	err error // nil: reachable
}

// probe runs the reachability check of one service until it succeeds or ctx is done,
// waiting delays between attempts. It reports the first failure and the success on
// report, which gives up when ctx is done.
func probe(ctx context.Context, dial DialFunc, delays []time.Duration, hostIface string, addr netip.AddrPort, report func(error)) {
	for attempt := 0; ; attempt++ {
		err := dial(ctx, hostIface, addr)
		if ctx.Err() != nil {
			return
		}
		if err == nil || attempt == 0 {
			report(err)
		}
		if err == nil {
			return
		}
		t := time.NewTimer(delayAt(delays, attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
