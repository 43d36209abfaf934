// SPDX-License-Identifier: Apache-2.0

package resolve

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func TestTraddr(t *testing.T) {
	r := New()
	r.Lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "array.test":
			return []netip.Addr{netip.MustParseAddr("192.0.2.50")}, nil
		case "v6.test":
			return []netip.Addr{netip.MustParseAddr("2001:db8::6")}, nil
		}
		if host == "slow.test" {
			return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	log := slog.New(slog.DiscardHandler)
	v4 := config.IPFamilies{config.IPv4}
	resolve := func(host string) (tid.TID, bool, bool) {
		tt := tid.TID{Transport: "tcp", Traddr: host}
		ok, pending := r.Traddr(&tt, v4, log)
		return tt, ok, pending
	}
	if tt, ok, pending := resolve("192.0.2.1"); !ok || pending || tt.Traddr != "192.0.2.1" {
		t.Errorf("an address: %v %v %v", tt, ok, pending)
	}
	fc := tid.TID{Transport: "fc", Traddr: "nn-0x1:pn-0x2"}
	if ok, pending := r.Traddr(&fc, v4, log); !ok || pending {
		t.Errorf("fc: %v %v", ok, pending)
	}
	for _, host := range []string{"array.test", "v6.test", "missing.test", "slow.test"} {
		if _, ok, pending := resolve(host); ok || !pending {
			t.Errorf("%s before the answer: ok %v pending %v", host, ok, pending)
		}
		r.Take(<-r.Results())
	}
	if tt, ok, pending := resolve("array.test"); !ok || pending || tt.Traddr != "192.0.2.50" {
		t.Errorf("resolved: %v %v %v", tt, ok, pending)
	}
	if _, ok, pending := resolve("v6.test"); ok || pending {
		t.Errorf("only IPv6 with ip-family ipv4: %v %v", ok, pending)
	}
	if _, ok, pending := resolve("missing.test"); ok || pending {
		t.Errorf("no such host: %v %v", ok, pending)
	}
	if _, ok, pending := resolve("slow.test"); ok || !pending {
		t.Errorf("a DNS timeout: ok %v pending %v, want unknown (pending)", ok, pending)
	}
}
