// SPDX-License-Identifier: Apache-2.0

// Package match owns the decision whether an existing kernel connection is the controller
// a daemon wants (nvme-stas's cid_matches_tid, behaviour reference §8.4), so that a
// daemon adopts it instead of connecting a second time. For TCP the connection's source
// address (sysfs src_addr, kernel 6.1 and later) is mapped to the interface that owns it;
// older kernels are handled with nvme-stas's inference rules.
package match

import (
	"net/netip"
	"strings"

	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Device is what the kernel tells about an existing controller: the udev properties
// NVME_TRTYPE, NVME_TRADDR, NVME_TRSVCID, NVME_HOST_TRADDR, NVME_HOST_IFACE (or the sysfs
// address attribute), and the sysfs attributes subsysnqn, hostnqn and the src_addr= part
// of address. The kernel's "none" is read as empty.
type Device struct {
	Transport  string
	Traddr     string
	Trsvcid    string
	SubsysNQN  string
	HostTraddr string
	HostIface  string
	SrcAddr    string
	HostNQN    string
}

// DeviceOf returns what matching needs to know about a kernel controller read from sysfs:
// its address attribute, or the udev properties when the attribute is missing.
func DeviceOf(c sysfs.Controller) Device {
	ua := c.UeventAddress()
	d := Device{
		Transport:  c.Transport,
		Traddr:     c.Address.TrAddr,
		Trsvcid:    c.Address.TrSvcID,
		SubsysNQN:  c.SubsysNQN,
		HostTraddr: c.Address.HostTrAddr,
		HostIface:  c.Address.HostIface,
		SrcAddr:    c.Address.SrcAddr,
		HostNQN:    c.HostNQN,
	}
	if d.Traddr == "" {
		d.Traddr, d.Trsvcid, d.HostTraddr, d.HostIface = ua.TrAddr, ua.TrSvcID, ua.HostTrAddr, ua.HostIface
	}
	return d
}

// Interfaces answers what matching asks about the host's interfaces; *netif.Table
// implements it.
type Interfaces interface {
	// InterfaceOf returns the interface that owns an address, "" if none.
	InterfaceOf(a netip.Addr) string
	// PrimaryAddr returns an interface's first address in a family, or the zero Addr.
	PrimaryAddr(iface string, family netif.Family) netip.Addr
}

// Matches reports whether the kernel connection dev is the controller cand (see Match).
func Matches(cand tid.TID, dev Device, ifs Interfaces) bool {
	ok, _ := Match(cand, dev, ifs)
	return ok
}

// Match decides whether the kernel connection dev is the controller cand, as nvme-stas's
// cid_matches_tid does, and says why not (or, for a match on a legacy kernel without
// enough information, why it was assumed):
//
//  1. transport, trsvcid and host-nqn are equal;
//  2. subsysnqn is equal, or cand's is the well-known discovery NQN (a TP8013
//     discovery controller may report a unique NQN);
//  3. traddr: tcp and rdma compare IP addresses (IPv4-mapped IPv6 equals IPv4), fc and
//     loop compare text without case;
//  4. tcp, when cand has host-traddr or host-iface: with the device's src_addr, cand's
//     host-traddr must be it and cand's host-iface the interface that owns it; without
//     (kernels before 6.1) the device's host-traddr and host-iface are used as §8.4
//     says, and a match is assumed when the device has neither;
//  5. fc: host-traddr equal without case (both may be empty);
//  6. rdma: cand's host-traddr, if any, equals the device's.
//
// Where nvme-stas compared two unparsable addresses as equal (None == None), they are
// compared as text here, so two different host names never match.
func Match(cand tid.TID, dev Device, ifs Interfaces) (bool, string) {
	dev = clean(dev)
	switch {
	case cand.Transport != dev.Transport:
		return false, "transport differs"
	case cand.Trsvcid != dev.Trsvcid:
		return false, "trsvcid differs"
	case cand.HostNQN != dev.HostNQN:
		return false, "host-nqn differs"
	case cand.SubsysNQN != dev.SubsysNQN && cand.SubsysNQN != nqn.WellKnownDiscovery:
		return false, "subsysnqn differs"
	}
	switch cand.Transport {
	case tid.TCP, tid.RDMA:
		if !sameAddr(cand.Traddr, dev.Traddr) {
			return false, "traddr differs"
		}
	default:
		if !strings.EqualFold(cand.Traddr, dev.Traddr) {
			return false, "traddr differs"
		}
	}
	switch cand.Transport {
	case tid.TCP:
		if cand.HostTraddr == "" && cand.HostIface == "" {
			return true, ""
		}
		if src, ok := addrOf(dev.SrcAddr); ok {
			if cand.HostTraddr != "" && !sameAddr(cand.HostTraddr, src.String()) {
				return false, "host-traddr is not the connection's source address"
			}
			if cand.HostIface != "" && cand.HostIface != ifs.InterfaceOf(src) {
				return false, "host-iface does not own the connection's source address"
			}
			return true, ""
		}
		return matchLegacyTCP(cand, dev, ifs)
	case tid.FC:
		if !strings.EqualFold(cand.HostTraddr, dev.HostTraddr) {
			return false, "host-traddr differs"
		}
	case tid.RDMA:
		if cand.HostTraddr != "" && !sameAddr(cand.HostTraddr, dev.HostTraddr) {
			return false, "host-traddr differs"
		}
	}
	return true, ""
}

// matchLegacyTCP infers a TCP match without the connection's source address (nvme-stas's
// _cid_matches_tcp_tid_legacy).
func matchLegacyTCP(cand tid.TID, dev Device, ifs Interfaces) (bool, string) {
	devTraddr, hasTraddr := addrOf(dev.HostTraddr)
	switch {
	case dev.HostIface == "" && !hasTraddr:
		return true, "not enough information (no src_addr, host-traddr or host-iface): match assumed"
	case dev.HostIface == "":
		if cand.HostTraddr != "" && !sameAddr(cand.HostTraddr, devTraddr.String()) {
			return false, "host-traddr differs"
		}
		if cand.HostIface != "" && cand.HostIface != ifs.InterfaceOf(devTraddr) {
			return false, "host-iface does not own the connection's host-traddr"
		}
		return true, ""
	case !hasTraddr:
		if cand.HostIface != "" && cand.HostIface != dev.HostIface {
			return false, "host-iface differs"
		}
		if cand.HostTraddr != "" {
			// The source address is unknown; assume the interface's primary one.
			want, ok := addrOf(cand.HostTraddr)
			if !ok || ifs.PrimaryAddr(dev.HostIface, netif.FamilyOf(want)) != want {
				return false, "host-traddr is not the primary address of the connection's host-iface"
			}
		}
		return true, ""
	}
	if cand.HostIface != "" && cand.HostIface != dev.HostIface {
		return false, "host-iface differs"
	}
	if cand.HostTraddr != "" && !sameAddr(cand.HostTraddr, devTraddr.String()) {
		return false, "host-traddr differs"
	}
	return true, ""
}

// clean trims the device's fields and reads the kernel's "none" as empty.
func clean(d Device) Device {
	for _, f := range []*string{&d.Transport, &d.Traddr, &d.Trsvcid, &d.SubsysNQN, &d.HostTraddr, &d.HostIface, &d.SrcAddr, &d.HostNQN} {
		if *f = strings.TrimSpace(*f); *f == "none" {
			*f = ""
		}
	}
	return d
}

// addrOf parses an IP address without zone, IPv4-mapped IPv6 as IPv4.
func addrOf(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// sameAddr compares two addresses as IP addresses when both parse, as text when neither
// does; an address never equals a non-address.
func sameAddr(a, b string) bool {
	x, okX := addrOf(a)
	y, okY := addrOf(b)
	if okX || okY {
		return okX && okY && x == y
	}
	return a == b
}
