// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"net/netip"
	"slices"
)

// Route is the kernel's answer to "how would you send to this destination", as `ip route
// get` prints it.
type Route struct {
	// Iface and Index are the output interface; empty for a multipath entry.
	Iface string
	Index int
	// Multipath names the output interfaces of a multipath routing table entry.
	Multipath []string
	// Src is the source address the kernel would use (RTA_PREFSRC); may be zero.
	Src netip.Addr
	// Gateway is the next hop, zero when the destination is on-link.
	Gateway netip.Addr
	// Prefix is the destination of the routing table entry that matched (MatchRoute;
	// 0.0.0.0/0 for a default route); LookupRoute reports the destination itself.
	Prefix netip.Prefix
	// Table is the routing table the route came from (254 main).
	Table uint32
	// Type is the route type (RTNUnicast, RTNLocal, …).
	Type uint8
}

// Local reports whether the destination is one of the host's own addresses.
func (r Route) Local() bool { return r.Type == RTNLocal }

// Uses reports whether the route goes out through iface (its output interface or one of
// its multipath next hops).
func (r Route) Uses(iface string) bool {
	return iface != "" && (r.Iface == iface || slices.Contains(r.Multipath, iface))
}

// RouteTo asks the kernel which interface and source address it would use to reach dst,
// optionally constrained to the output interface oif, like `ip route get <dst> [oif
// <oif>]`. A destination with a zone and no oif is looked up through the zone's
// interface. Errors wrap ErrNoRoute (with the kernel's errno, such as ENETUNREACH) when
// there is no route, ErrNoSuchInterface when oif does not exist.
func RouteTo(dst netip.Addr, oif string) (iface string, src netip.Addr, err error) {
	r, err := LookupRoute(dst, oif)
	if err != nil {
		return "", netip.Addr{}, err
	}
	return r.Iface, r.Src, nil
}

// InterfaceOf returns the name of the first interface that owns a, "" if none does or
// the interfaces cannot be read (see Table.InterfaceOf).
func InterfaceOf(a netip.Addr) string {
	t, err := ReadTable()
	if err != nil {
		return ""
	}
	return t.InterfaceOf(a)
}

// PrimaryAddr returns the interface's first address in the family (see
// Table.PrimaryAddr), the zero Addr if there is none or the interfaces cannot be read.
func PrimaryAddr(iface string, family Family) netip.Addr {
	t, err := ReadTable()
	if err != nil {
		return netip.Addr{}
	}
	return t.PrimaryAddr(iface, family)
}

// InterfaceByMAC returns the interface with MAC address mac, "" if none (see
// Table.InterfaceByMAC).
func InterfaceByMAC(mac string) string {
	return InterfaceByMACVLAN(mac, 0)
}

// InterfaceByMACVLAN returns the interface with MAC address mac on VLAN vlan, "" if none
// (see Table.InterfaceByMACVLAN). It is the nbft.IfaceLookup of production.
func InterfaceByMACVLAN(mac string, vlan uint16) string {
	t, err := ReadTable()
	if err != nil {
		return ""
	}
	return t.InterfaceByMACVLAN(mac, vlan)
}
