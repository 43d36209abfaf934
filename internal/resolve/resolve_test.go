// SPDX-License-Identifier: Apache-2.0

package resolve

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/nvme-stas-go/stas/internal/config"
)

func TestResolverHonoursFamilyOrder(t *testing.T) {
	r := New()
	r.Lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "array.test":
			return []netip.Addr{netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("2001:db8::50")}, nil
		case "v6only.test":
			return []netip.Addr{netip.MustParseAddr("2001:db8::60")}, nil
		}
		return nil, errors.New("no such host")
	}
	ask := func(host string, fams config.IPFamilies) (netip.Addr, bool, error) {
		if _, known, _ := r.Address(host, fams); !known {
			for {
				a := <-r.Results() // earlier lookups may answer first
				if changed := r.Take(a); a.Name == host {
					if !changed {
						t.Fatalf("first answer for %s reported as unchanged", host)
					}
					break
				}
			}
		}
		return r.Address(host, fams)
	}
	if a, ok, err := ask("array.test", config.IPFamilies{config.IPv6, config.IPv4}); !ok || err != nil || a.String() != "2001:db8::50" {
		t.Errorf("ipv6+ipv4: %v %v %v, want the IPv6 address first (nvme-stas quirk 10)", a, ok, err)
	}
	if a, _, _ := r.Address("array.test", config.IPFamilies{config.IPv4, config.IPv6}); a.String() != "192.0.2.50" {
		t.Errorf("ipv4+ipv6: %v", a)
	}
	if a, ok, err := ask("v6only.test", config.IPFamilies{config.IPv4}); !ok || err != nil || a.IsValid() {
		t.Errorf("ipv4 only for an IPv6-only name: %v %v %v, want no address", a, ok, err)
	}
	if _, ok, err := ask("missing.test", config.IPFamilies{config.IPv4}); !ok || err == nil {
		t.Errorf("unknown name: %v %v, want the lookup error", ok, err)
	}
	if r.Take(Answer{Name: "array.test", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("2001:db8::50")}}) {
		t.Error("an identical answer reported as a change")
	}
	if !r.Take(Answer{Name: "array.test", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.51"), netip.MustParseAddr("2001:db8::50")}}) {
		t.Error("a new address not reported as a change")
	}
	if r.Take(Answer{Name: "array.test", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::50"), netip.MustParseAddr("192.0.2.51")}}) {
		t.Error("the same addresses in another order (DNS rotation) reported as a change")
	}
	if r.Take(Answer{Name: "array.test", Err: errors.New("timeout")}) {
		t.Error("a failed lookup replaced a good answer")
	}
	if a, ok, err := r.Address("array.test", config.IPFamilies{config.IPv4}); !ok || err != nil || a.String() != "192.0.2.51" {
		t.Errorf("after a failed lookup: %v %v %v, want the last good address", a, ok, err)
	}
}
