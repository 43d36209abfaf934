// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// fakeRoutes is a routing table answering as MatchRoute does: the longest prefix that
// contains the destination, among the entries through oif when one is given.
type fakeRoutes []Route

func (f fakeRoutes) match(dst netip.Addr, oif string) (Route, error) {
	best := -1
	for i, r := range f {
		if !r.Prefix.Contains(dst) || oif != "" && !r.Uses(oif) {
			continue
		}
		if best < 0 || r.Prefix.Bits() > f[best].Prefix.Bits() {
			best = i
		}
	}
	if best < 0 {
		return Route{}, fmt.Errorf("route to %v: %w: %w", dst, ErrNoRoute, syscall.ENETUNREACH)
	}
	return f[best], nil
}

func entry(prefix, iface, gw string) Route {
	r := Route{Iface: iface, Prefix: netip.MustParsePrefix(prefix), Type: RTNUnicast, Table: 254}
	if gw != "" {
		r.Gateway = netip.MustParseAddr(gw)
	}
	return r
}

// The host of hostTable with routes: eth0's and eth0.10's connected prefixes, a default
// route through eth0, 10.50.0.0/16 through eth0.10, 10.60.0.0/16 through eth0 and a
// multipath 10.70.0.0/16 over eth0 and eth1, IPv6 connected fd00::/64 on eth1 and
// 2001:db8:1::/64 on eth0, 2001:db8:9::/48 through eth1; no IPv6 default route.
func hostRoutes() fakeRoutes {
	mp := entry("10.70.0.0/16", "", "")
	mp.Multipath = []string{"eth1", "eth0"}
	local := entry("192.0.2.2/32", "lo", "")
	local.Type = RTNLocal
	local3 := entry("203.0.113.2/32", "lo", "")
	local3.Type = RTNLocal
	return fakeRoutes{
		entry("192.0.2.0/24", "eth0", ""),
		entry("198.51.100.0/24", "eth0.10", ""),
		entry("203.0.113.0/24", "bond0", ""),
		entry("0.0.0.0/0", "eth0", "192.0.2.1"),
		entry("10.50.0.0/16", "eth0.10", "198.51.100.1"),
		entry("10.60.0.0/16", "eth0", "192.0.2.1"),
		mp,
		local,
		local3,
		entry("fd00::/64", "eth1", ""),
		entry("2001:db8:1::/64", "eth0", ""),
		entry("2001:db8:9::/48", "eth1", "fd00::1"),
	}
}

func TestChooseIface(t *testing.T) {
	c := &Chooser{
		Interfaces: func() (*Table, error) { return hostTable(), nil },
		Match:      hostRoutes().match,
	}
	tests := []struct {
		name               string
		configured, parent string
		dst                string
		want               string
		reason             string
	}{
		{"configured wins", "eth9", "eth0", "192.0.2.7", "eth9", "configured host-iface"},
		{"no parent interface", "", "", "10.50.1.1", "", "parent has no host-iface"},
		{"not an IP address", "", "eth0", "", "eth0", "inherited from the parent"},
		{"on-link", "", "eth0", "192.0.2.7", "eth0", "on-link on the parent's eth0 (192.0.2.2/24)"},
		{"on-link IPv4-mapped", "", "eth0", "::ffff:192.0.2.7", "eth0", "on-link"},
		{"on-link IPv6", "", "eth1", "fd00::99", "eth1", "on-link on the parent's eth1 (fd00::2/64)"},
		{"link-local stays", "", "eth0.10", "fe80::1234", "eth0.10", "link-local fe80::1234 stays on the parent's link eth0.10"},
		{"link-local IPv4 stays", "", "eth1", "169.254.3.4", "eth1", "link-local"},
		{"routed via parent", "", "eth0", "10.60.1.1", "eth0", "routed through the parent's eth0 (10.60.0.0/16 via 192.0.2.1)"},
		{"default route via parent", "", "eth0", "203.0.114.9", "eth0", "routed through the parent's eth0 (0.0.0.0/0 via 192.0.2.1)"},
		{"multipath via parent", "", "eth0", "10.70.0.1", "eth0", "routed through the parent's eth0"},
		{"more specific route elsewhere", "", "eth0", "10.50.1.1", "eth0.10",
			"routing table: eth0.10 (10.50.0.0/16 via 198.51.100.1) is more specific than the parent's eth0 (0.0.0.0/0 via 192.0.2.1)"},
		{"different subnet: routing table", "", "eth0.10", "192.0.2.7", "eth0",
			"routing table: eth0 (192.0.2.0/24); not reachable through the parent's eth0.10"},
		{"different subnet via default: routing table", "", "eth1", "10.60.1.1", "eth0", "not reachable through the parent's eth1"},
		{"multipath from elsewhere", "", "eth0.10", "10.70.0.1", "eth1", "routing table: eth1"},
		{"IPv6 routed via parent", "", "eth1", "2001:db8:9::5", "eth1", "routed through the parent's eth1 (2001:db8:9::/48 via fd00::1)"},
		{"IPv6 other subnet", "", "eth1", "2001:db8:1::7", "eth0", "routing table: eth0"},
		{"unreachable", "", "eth0", "2001:db8:77::1", "", "unreachable: route to 2001:db8:77::1: no route: network is unreachable"},
		{"local address elsewhere", "", "eth1", "203.0.113.2", "", "203.0.113.2 is a local address: the kernel chooses"},
		{"parent gone", "", "eth7", "192.0.2.7", "eth0", "not reachable through the parent's eth7"},
	}
	for _, tt := range tests {
		var dst netip.Addr
		if tt.dst != "" {
			dst = netip.MustParseAddr(tt.dst)
		}
		got, reason := c.ChooseIface(tt.configured, tt.parent, dst)
		if got != tt.want || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: ChooseIface(%q, %q, %s) = %q, %q; want %q, %q", tt.name, tt.configured, tt.parent, tt.dst, got, reason, tt.want, tt.reason)
		}
	}
}

func TestChooseIfaceIgnoreAndMissingLookups(t *testing.T) {
	c := &Chooser{IgnoreIface: true, Interfaces: func() (*Table, error) { return hostTable(), nil }, Match: hostRoutes().match}
	if got, reason := c.ChooseIface("eth9", "eth0", netip.MustParseAddr("192.0.2.7")); got != "" || !strings.Contains(reason, "ignore-iface") {
		t.Errorf("ignore-iface: %q, %q", got, reason)
	}
	// Without a way to ask the kernel the parent is inherited, as nvme-stas does.
	bare := &Chooser{}
	if got, reason := bare.ChooseIface("", "eth0", netip.MustParseAddr("10.1.1.1")); got != "eth0" || !strings.Contains(reason, "no route lookup") {
		t.Errorf("no lookups: %q, %q", got, reason)
	}
	// The interface table failing only skips the on-link test: the routes still answer.
	failing := &Chooser{Interfaces: func() (*Table, error) { return nil, errors.New("EPERM") }, Match: hostRoutes().match}
	if got, reason := failing.ChooseIface("", "eth0", netip.MustParseAddr("192.0.2.7")); got != "eth0" || !strings.Contains(reason, "routed through the parent's eth0 (192.0.2.0/24)") {
		t.Errorf("table error: %q, %q", got, reason)
	}
	if c := NewChooser(true); !c.IgnoreIface || c.Interfaces == nil || c.Match == nil {
		t.Errorf("NewChooser = %+v", c)
	}
}
