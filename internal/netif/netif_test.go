// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"net"
	"net/netip"
	"slices"
	"testing"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// hostTable is a fixed host: loopback, an Ethernet interface with a VLAN on it, an
// IPv6-only interface, a bond with two members sharing its MAC, and a tunnel.
func hostTable() *Table {
	return &Table{Interfaces: []Interface{
		{Index: 1, Name: "lo", Type: ARPHRDLoopback, MAC: mac("00:00:00:00:00:00"), Flags: 0x9,
			Prefixes: prefixes("127.0.0.1/8", "::1/128")},
		{Index: 2, Name: "eth0", Type: ARPHRDEther, MAC: mac("52:54:00:aa:bb:01"), Flags: 0x1003,
			Prefixes: prefixes("192.0.2.2/24", "192.0.2.3/24", "2001:db8:1::2/64", "fe80::5054:ff:feaa:bb01/64")},
		{Index: 3, Name: "eth0.10", Type: ARPHRDEther, MAC: mac("52:54:00:aa:bb:01"), Kind: "vlan", VLANID: 10, ParentIndex: 2,
			Prefixes: prefixes("198.51.100.2/24", "fe80::5054:ff:feaa:bb01/64")},
		{Index: 4, Name: "eth1", Type: ARPHRDEther, MAC: mac("52:54:00:aa:bb:02"),
			Prefixes: prefixes("fd00::2/64", "fe80::5054:ff:feaa:bb02/64")},
		{Index: 5, Name: "ens1", Type: ARPHRDEther, MAC: mac("52:54:00:aa:bb:03"), MasterIndex: 7},
		{Index: 6, Name: "ens2", Type: ARPHRDEther, MAC: mac("52:54:00:aa:bb:03"), MasterIndex: 7},
		{Index: 7, Name: "bond0", Type: ARPHRDEther, MAC: mac("52:54:00:aa:bb:03"), Kind: "bond", Prefixes: prefixes("203.0.113.2/24")},
		{Index: 8, Name: "gre1", Type: 778, MAC: mac("52:54:00:aa:bb:04")},
		{Index: 9, Name: "vlan20", Type: ARPHRDEther, MAC: mac("02:00:00:00:00:99"), Kind: "vlan", VLANID: 20, ParentIndex: 4},
	}}
}

func TestInterfaceOf(t *testing.T) {
	tbl := hostTable()
	tests := []struct {
		addr string
		want string
	}{
		{"192.0.2.2", "eth0"},
		{"192.0.2.3", "eth0"},
		{"::ffff:192.0.2.3", "eth0"}, // IPv4-mapped is IPv4
		{"::ffff:c000:202", "eth0"},
		{"2001:db8:1:0::2", "eth0"},
		{"fd00::2", "eth1"}, // IPv6-only interface (nvme-stas quirk 9)
		{"198.51.100.2", "eth0.10"},
		{"127.0.0.1", "lo"},
		{"255.255.255.255", ""}, // §14.2
		{"192.0.2.99", ""},
		{"fe80::5054:ff:feaa:bb01", "eth0"}, // on eth0 and eth0.10: the first wins
		{"fe80::5054:ff:feaa:bb01%eth0.10", "eth0.10"},
		{"fe80::5054:ff:feaa:bb01%3", "eth0.10"},
		{"fe80::5054:ff:feaa:bb01%eth1", ""},
	}
	for _, tt := range tests {
		if got := tbl.InterfaceOf(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("InterfaceOf(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := tbl.InterfaceOf(netip.Addr{}); got != "" { // §14.2: '' or None ⇒ ''
		t.Errorf("InterfaceOf(invalid) = %q", got)
	}
	if got := tbl.InterfacesOf(netip.MustParseAddr("fe80::5054:ff:feaa:bb01")); !slices.Equal(got, []string{"eth0", "eth0.10"}) {
		t.Errorf("InterfacesOf(link-local) = %v", got)
	}
}

func TestPrimaryAddrAndOnLink(t *testing.T) {
	tbl := hostTable()
	tests := []struct {
		iface  string
		family Family
		want   netip.Addr
	}{
		{"eth0", IPv4, netip.MustParseAddr("192.0.2.2")},
		{"eth0", IPv6, netip.MustParseAddr("2001:db8:1::2")},
		{"eth1", IPv4, netip.Addr{}},
		{"eth1", IPv6, netip.MustParseAddr("fd00::2")},
		{"nosuch", IPv4, netip.Addr{}},
	}
	for _, tt := range tests {
		if got := tbl.PrimaryAddr(tt.iface, tt.family); got != tt.want {
			t.Errorf("PrimaryAddr(%s, %d) = %v, want %v", tt.iface, tt.family, got, tt.want)
		}
	}
	onLink := []struct {
		iface, dst string
		want       string // "" = not on-link
	}{
		{"eth0", "192.0.2.200", "192.0.2.2/24"},
		{"eth0", "::ffff:192.0.2.200", "192.0.2.2/24"},
		{"eth0", "198.51.100.7", ""},
		{"eth0.10", "198.51.100.7", "198.51.100.2/24"},
		{"eth1", "fd00::77", "fd00::2/64"},
		{"eth1", "192.0.2.200", ""},
		{"nosuch", "192.0.2.200", ""},
	}
	for _, tt := range onLink {
		p, ok := tbl.OnLink(tt.iface, netip.MustParseAddr(tt.dst))
		if ok != (tt.want != "") || ok && p.String() != tt.want {
			t.Errorf("OnLink(%s, %s) = %v, %v; want %q", tt.iface, tt.dst, p, ok, tt.want)
		}
	}
	if _, ok := tbl.OnLink("eth0", netip.Addr{}); ok {
		t.Error("OnLink(invalid) is true")
	}
	if !tbl.Interfaces[1].Up() || tbl.Interfaces[3].Up() {
		t.Error("Up wrong")
	}
	if _, ok := tbl.ByIndex(42); ok {
		t.Error("ByIndex(42) found something")
	}
}

func TestFamilyOf(t *testing.T) {
	for addr, want := range map[string]Family{"1.2.3.4": IPv4, "::ffff:1.2.3.4": IPv4, "::1": IPv6, "fe80::1%eth0": IPv6} {
		if got := FamilyOf(netip.MustParseAddr(addr)); got != want {
			t.Errorf("FamilyOf(%s) = %d, want %d", addr, got, want)
		}
	}
	if FamilyOf(netip.Addr{}) != 0 {
		t.Error("FamilyOf(invalid) != 0")
	}
}

func TestInterfaceByMAC(t *testing.T) {
	tbl := hostTable()
	tests := []struct {
		mac  string
		vlan uint16
		want string
	}{
		{"52:54:00:aa:bb:01", 0, "eth0"}, // shared with eth0.10: the non-VLAN parent
		{"52:54:00:AA:BB:01", 0, "eth0"}, // case-insensitive
		{"52-54-00-aa-bb-01", 0, "eth0"},
		{"52:54:00:aa:bb:01", 10, "eth0.10"},
		{"52:54:00:aa:bb:01", 11, ""}, // the firmware's VLAN is not configured here
		{"52:54:00:aa:bb:02", 20, "vlan20"},
		{"02:00:00:00:00:99", 20, "vlan20"},
		{"52:54:00:aa:bb:02", 0, "eth1"},
		{"52:54:00:aa:bb:03", 0, "bond0"}, // bond members share the bond's MAC
		{"52:54:00:aa:bb:04", 0, ""},      // not Ethernet (gre)
		{"00:00:00:00:00:00", 0, ""},      // no MAC (nvme-stas said "lo")
		{"52:54:00:aa:bb:09", 0, ""},
		{"not-a-mac", 0, ""},
		{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", 0, ""}, // 20-byte InfiniBand
	}
	for _, tt := range tests {
		if got := tbl.InterfaceByMACVLAN(tt.mac, tt.vlan); got != tt.want {
			t.Errorf("InterfaceByMACVLAN(%s, %d) = %q, want %q", tt.mac, tt.vlan, got, tt.want)
		}
	}
	if got := tbl.InterfaceByMAC("52:54:00:aa:bb:01"); got != "eth0" {
		t.Errorf("InterfaceByMAC = %q", got)
	}
	// A link with a short hardware address never matches.
	short := &Table{Interfaces: []Interface{{Index: 1, Name: "x", Type: ARPHRDEther, MAC: net.HardwareAddr{1, 2}}}}
	if got := short.InterfaceByMAC("01:02:00:00:00:00"); got != "" {
		t.Errorf("short MAC matched %q", got)
	}
	// Loopback is considered, as in nvme-stas.
	lo := &Table{Interfaces: []Interface{{Index: 1, Name: "lo", Type: ARPHRDLoopback, MAC: mac("02:00:00:00:00:01")}}}
	if got := lo.InterfaceByMAC("02:00:00:00:00:01"); got != "lo" {
		t.Errorf("loopback not considered: %q", got)
	}
}

func TestRouteHelpers(t *testing.T) {
	r := Route{Iface: "eth0", Multipath: []string{"eth1"}, Type: RTNLocal}
	if !r.Uses("eth0") || !r.Uses("eth1") || r.Uses("eth2") || r.Uses("") || !r.Local() {
		t.Errorf("Route helpers wrong for %+v", r)
	}
}
