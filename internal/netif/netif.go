// SPDX-License-Identifier: Apache-2.0

// Package netif owns what the daemons need to know about the host's network: the
// interfaces with their MAC and IP addresses (IPv4 and IPv6, so that IPv6-only interfaces
// are usable, unlike nvme-stas's net_if_addrs), which interface owns an address, which
// interface has a MAC address, the kernel's route to a destination (RTM_GETROUTE, as
// `ip route get` asks it), and the rule that picks the host interface of an I/O
// controller or a referral.
//
// The queries are pure functions of a Table, so tests inject fixed tables; ReadTable and
// LookupRoute talk to the kernel over rtnetlink (Linux only, no cgo). The netlink message
// encoding and decoding is portable code, tested with byte fixtures.
package netif

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Sentinel errors, for errors.Is.
var (
	// ErrNoRoute is wrapped when the kernel has no route to a destination (through the
	// requested interface); the kernel's errno (ENETUNREACH, EHOSTUNREACH…) is wrapped
	// as well.
	ErrNoRoute = errors.New("no route")
	// ErrNoSuchInterface is wrapped when an interface named in a request does not exist.
	ErrNoSuchInterface = errors.New("no such network interface")
	// ErrUnsupported is returned on systems without rtnetlink.
	ErrUnsupported = errors.New("network interface queries need Linux rtnetlink")
	// ErrMalformed is wrapped when a netlink message from the kernel cannot be decoded.
	ErrMalformed = errors.New("malformed netlink message")
)

// Link types (ARPHRD_*) nvme-stas accepts when it maps a MAC address to an interface.
const (
	ARPHRDEther    = 1
	ARPHRDLoopback = 772
)

// Family is an IP address family.
type Family int

// The two families, numbered as nvme-stas numbers them.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// FamilyOf returns the family of a (IPv4-mapped IPv6 counts as IPv4), 0 if a is not valid.
func FamilyOf(a netip.Addr) Family {
	switch {
	case !a.IsValid():
		return 0
	case a.Unmap().Is4():
		return IPv4
	}
	return IPv6
}

// Interface is one network interface.
type Interface struct {
	Index int
	Name  string
	// Type is the link type (ARPHRD_*): 1 for Ethernet, 772 for loopback.
	Type uint16
	// MAC is the link-layer address (nil when the link has none).
	MAC net.HardwareAddr
	// Flags are the IFF_* flags.
	Flags uint32
	// Kind is the link kind of a virtual interface ("vlan", "bond", "bridge", …), "" for
	// a physical one.
	Kind string
	// ParentIndex is the interface a VLAN (or macvlan…) sits on, 0 if none.
	ParentIndex int
	// MasterIndex is the bond or bridge the interface is enslaved to, 0 if none.
	MasterIndex int
	// VLANID is the VLAN of a "vlan" interface.
	VLANID uint16
	// Prefixes are the interface's addresses with their prefix lengths, in the kernel's
	// order (IPv4 primary addresses before secondary ones). IPv4 addresses are 4-byte.
	Prefixes []netip.Prefix
}

// Up reports whether the interface is administratively up (IFF_UP).
func (i *Interface) Up() bool { return i.Flags&0x1 != 0 }

// Table is a snapshot of the host's interfaces, in index order.
type Table struct {
	Interfaces []Interface
}

// ByName returns the interface with the given name.
func (t *Table) ByName(name string) (*Interface, bool) {
	for i := range t.Interfaces {
		if t.Interfaces[i].Name == name {
			return &t.Interfaces[i], true
		}
	}
	return nil, false
}

// ByIndex returns the interface with the given index.
func (t *Table) ByIndex(index int) (*Interface, bool) {
	for i := range t.Interfaces {
		if t.Interfaces[i].Index == index {
			return &t.Interfaces[i], true
		}
	}
	return nil, false
}

// InterfaceOf returns the name of the first interface (in index order) that owns address
// a, "" if none does. An IPv4-mapped IPv6 address is treated as the IPv4 address. A zone
// ("fe80::1%eth1", or a numeric index) restricts the search to that interface.
//
// A link-local address can be on several interfaces (VLANs sharing their parent's MAC
// derive the same fe80:: address from it); without a zone the first one wins, as in
// nvme-stas. InterfacesOf returns them all.
func (t *Table) InterfaceOf(a netip.Addr) string {
	if names := t.InterfacesOf(a); len(names) > 0 {
		return names[0]
	}
	return ""
}

// InterfacesOf returns the names of all interfaces that own address a, in index order
// (see InterfaceOf).
func (t *Table) InterfacesOf(a netip.Addr) []string {
	if !a.IsValid() {
		return nil
	}
	zone := a.Zone()
	a = a.WithZone("").Unmap()
	var names []string
	for i := range t.Interfaces {
		ifc := &t.Interfaces[i]
		if zone != "" && zone != ifc.Name && zone != strconv.Itoa(ifc.Index) {
			continue
		}
		for _, p := range ifc.Prefixes {
			if p.Addr().Unmap() == a {
				names = append(names, ifc.Name)
				break
			}
		}
	}
	return names
}

// PrimaryAddr returns the first address of the interface in the family (the one the
// kernel lists first, which nvme-stas takes for the interface's default source address),
// or the zero Addr when the interface is unknown or has no address in that family.
func (t *Table) PrimaryAddr(iface string, family Family) netip.Addr {
	ifc, ok := t.ByName(iface)
	if !ok {
		return netip.Addr{}
	}
	for _, p := range ifc.Prefixes {
		if FamilyOf(p.Addr()) == family {
			return p.Addr().Unmap()
		}
	}
	return netip.Addr{}
}

// OnLink returns the interface's prefix that contains dst, and whether there is one:
// dst is then reachable on that interface's link without a router.
func (t *Table) OnLink(iface string, dst netip.Addr) (netip.Prefix, bool) {
	ifc, ok := t.ByName(iface)
	if !ok || !dst.IsValid() {
		return netip.Prefix{}, false
	}
	dst = dst.WithZone("").Unmap()
	for _, p := range ifc.Prefixes {
		if p.Masked().Contains(dst) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// InterfaceByMAC returns the interface whose MAC address is mac, "" if none. As in
// nvme-stas only Ethernet and loopback links are considered, and the MAC text is
// compared without regard to case or separator style. Several interfaces can share a MAC
// (VLANs take their parent's, bond members their bond's): then the one that is neither a
// VLAN nor enslaved to a bond or bridge is chosen — the physical interface, or the bond
// whose members share its MAC — and among equals the lowest index (nvme-stas took
// whichever came first; its PR #411 is about VLANs confusing that choice).
func (t *Table) InterfaceByMAC(mac string) string {
	return t.InterfaceByMACVLAN(mac, 0)
}

// InterfaceByMACVLAN is InterfaceByMAC for a host fabric interface that the firmware used
// with an 802.1Q VLAN: for vlan 0 it is InterfaceByMAC; otherwise it returns the "vlan"
// interface with that VLAN ID whose parent has the MAC (or that has the MAC itself), ""
// if there is none — the untagged parent would not reach the same network.
func (t *Table) InterfaceByMACVLAN(mac string, vlan uint16) string {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || [6]byte(hw) == [6]byte{} {
		// All zeros is no MAC (the HFI's is required to be non-zero); nvme-stas would
		// have answered "lo".
		return ""
	}
	var best *Interface
	for i := range t.Interfaces {
		ifc := &t.Interfaces[i]
		if !t.macMatches(ifc, hw, vlan) {
			continue
		}
		if best == nil || rank(ifc) < rank(best) {
			best = ifc
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

func (t *Table) macMatches(ifc *Interface, hw net.HardwareAddr, vlan uint16) bool {
	if ifc.Type != ARPHRDEther && ifc.Type != ARPHRDLoopback {
		return false
	}
	if vlan == 0 {
		return sameMAC(ifc.MAC, hw)
	}
	if ifc.Kind != "vlan" || ifc.VLANID != vlan {
		return false
	}
	if sameMAC(ifc.MAC, hw) {
		return true
	}
	parent, ok := t.ByIndex(ifc.ParentIndex)
	return ok && sameMAC(parent.MAC, hw)
}

// rank orders interfaces sharing a MAC: plain interfaces first, then enslaved ones,
// then VLANs.
func rank(ifc *Interface) int {
	switch {
	case ifc.Kind == "vlan":
		return 2
	case ifc.MasterIndex != 0:
		return 1
	}
	return 0
}

// sameMAC compares the first six bytes, as nvme-stas does (IFLA_ADDRESS of an Ethernet
// link is six bytes).
func sameMAC(a, b net.HardwareAddr) bool {
	if len(a) < 6 || len(b) < 6 {
		return false
	}
	return strings.EqualFold(a[:6].String(), b[:6].String())
}
