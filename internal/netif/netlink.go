// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
)

// This file encodes rtnetlink requests and decodes the kernel's answers. It is portable
// (tested with byte fixtures on any system); the socket that carries the messages is in
// netlink_linux.go. Netlink uses the host's byte order; the values below are those of
// Linux's uapi headers (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
// linux/if_addr.h).

var native = binary.NativeEndian

// Netlink message types and flags.
const (
	nlmsgError = 2
	nlmsgDone  = 3

	rtmNewLink  = 16
	rtmGetLink  = 18
	rtmNewAddr  = 20
	rtmGetAddr  = 22
	rtmNewRoute = 24
	rtmGetRoute = 26

	nlmFRequest = 0x1
	nlmFMulti   = 0x2
	nlmFDump    = 0x300

	nlmsgHdrLen  = 16
	ifInfoMsgLen = 16
	ifAddrMsgLen = 8
	rtMsgLen     = 12

	afUnspec = 0
	afInet   = 2
	afInet6  = 10
)

// Attribute types.
const (
	rtaDst       = 1
	rtaOIF       = 4
	rtaGateway   = 5
	rtaPrefSrc   = 7
	rtaMultipath = 9
	rtaTable     = 15

	rtNexthopLen = 8

	iflaAddress  = 1
	iflaIfname   = 3
	iflaLink     = 5
	iflaMaster   = 10
	iflaLinkInfo = 18
	iflaInfoKind = 1
	iflaInfoData = 2
	iflaVLANID   = 1

	ifaAddress = 1
	ifaLocal   = 2

	nlaTypeMask = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// Route types (rtm_type) a route lookup can answer with.
const (
	RTNUnicast     = 1
	RTNLocal       = 2
	RTNBroadcast   = 3
	RTNMulticast   = 5
	RTNBlackhole   = 6
	RTNUnreachable = 7
	RTNProhibit    = 8
)

// nlMsg is one netlink message.
type nlMsg struct {
	Type, Flags uint16
	Seq, Pid    uint32
	Data        []byte // the payload after the header
}

func align4(n int) int { return (n + 3) &^ 3 }

// parseMessages splits a datagram into netlink messages.
func parseMessages(b []byte) ([]nlMsg, error) {
	var msgs []nlMsg
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return nil, fmt.Errorf("%w: %d bytes left, less than a message header", ErrMalformed, len(b))
		}
		n := int(native.Uint32(b[0:4]))
		if n < nlmsgHdrLen || n > len(b) {
			return nil, fmt.Errorf("%w: message length %d with %d bytes left", ErrMalformed, n, len(b))
		}
		msgs = append(msgs, nlMsg{
			Type:  native.Uint16(b[4:6]),
			Flags: native.Uint16(b[6:8]),
			Seq:   native.Uint32(b[8:12]),
			Pid:   native.Uint32(b[12:16]),
			Data:  b[nlmsgHdrLen:n],
		})
		b = b[min(align4(n), len(b)):]
	}
	return msgs, nil
}

// errnoOf decodes the error code of an NLMSG_ERROR or NLMSG_DONE payload: 0 for an
// acknowledgement or a successful end of dump.
func errnoOf(data []byte) (syscall.Errno, error) {
	if len(data) < 4 {
		return 0, fmt.Errorf("%w: error message of %d bytes", ErrMalformed, len(data))
	}
	code := int32(native.Uint32(data[0:4]))
	if code > 0 {
		return 0, fmt.Errorf("%w: positive error code %d", ErrMalformed, code)
	}
	return syscall.Errno(-code), nil
}

// attr is one routing attribute.
type attr struct {
	Type uint16
	Data []byte
}

// parseAttrs decodes a run of attributes.
func parseAttrs(b []byte) ([]attr, error) {
	var attrs []attr
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: %d bytes left, less than an attribute header", ErrMalformed, len(b))
		}
		n := int(native.Uint16(b[0:2]))
		if n < 4 || n > len(b) {
			return nil, fmt.Errorf("%w: attribute length %d with %d bytes left", ErrMalformed, n, len(b))
		}
		attrs = append(attrs, attr{Type: native.Uint16(b[2:4]) & nlaTypeMask, Data: b[4:n]})
		b = b[min(align4(n), len(b)):]
	}
	return attrs, nil
}

// appendAttr appends an attribute, padded to four bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = native.AppendUint16(b, uint16(4+len(data)))
	b = native.AppendUint16(b, typ)
	b = append(b, data...)
	return append(b, make([]byte, align4(len(data))-len(data))...)
}

// message returns a complete netlink message: header and payload.
func message(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, 0, nlmsgHdrLen+len(payload))
	b = native.AppendUint32(b, uint32(nlmsgHdrLen+len(payload)))
	b = native.AppendUint16(b, typ)
	b = native.AppendUint16(b, flags)
	b = native.AppendUint32(b, seq)
	b = native.AppendUint32(b, 0) // the kernel is port 0; it fills in ours
	return append(b, payload...)
}

// rtmFFIBMatch asks for the routing table entry that matched rather than the resulting
// route (`ip route get fibmatch`).
const rtmFFIBMatch = 0x2000

// routeRequest builds the RTM_GETROUTE request of `ip route get [fibmatch] <dst> [oif
// <oif>]`: an rtmsg with the destination's family and full prefix length, RTA_DST and,
// when oif is not 0, RTA_OIF.
func routeRequest(seq uint32, dst netip.Addr, oif int, fibMatch bool) []byte {
	dst = dst.WithZone("").Unmap()
	family, bits := byte(afInet), byte(32)
	if dst.Is6() {
		family, bits = afInet6, 128
	}
	p := make([]byte, rtMsgLen)
	p[0], p[1] = family, bits
	if fibMatch {
		native.PutUint32(p[8:12], rtmFFIBMatch)
	}
	p = appendAttr(p, rtaDst, dst.AsSlice())
	if oif != 0 {
		p = appendAttr(p, rtaOIF, native.AppendUint32(nil, uint32(oif)))
	}
	return message(rtmGetRoute, nlmFRequest, seq, p)
}

// routeReply is the kernel's answer to a route lookup.
type routeReply struct {
	Type  uint8
	Table uint32
	OIF   int
	// Nexthops are the output interfaces of a multipath route (RTA_MULTIPATH).
	Nexthops []int
	Prefix   netip.Prefix
	Src      netip.Addr
	Gateway  netip.Addr
}

// parseRoute decodes an RTM_NEWROUTE payload.
func parseRoute(data []byte) (routeReply, error) {
	var r routeReply
	if len(data) < rtMsgLen {
		return r, fmt.Errorf("%w: route message of %d bytes", ErrMalformed, len(data))
	}
	r.Type, r.Table = data[7], uint32(data[4])
	var dst netip.Addr
	switch data[0] {
	case afInet:
		dst = netip.IPv4Unspecified()
	case afInet6:
		dst = netip.IPv6Unspecified()
	default:
		return r, fmt.Errorf("%w: route of family %d", ErrMalformed, data[0])
	}
	attrs, err := parseAttrs(data[rtMsgLen:])
	if err != nil {
		return r, err
	}
	for _, a := range attrs {
		switch a.Type {
		case rtaDst:
			ip, ok := netip.AddrFromSlice(a.Data)
			if !ok || ip.BitLen() != dst.BitLen() {
				return r, fmt.Errorf("%w: RTA_DST of %d bytes", ErrMalformed, len(a.Data))
			}
			dst = ip
		case rtaOIF:
			if len(a.Data) != 4 {
				return r, fmt.Errorf("%w: RTA_OIF of %d bytes", ErrMalformed, len(a.Data))
			}
			r.OIF = int(native.Uint32(a.Data))
		case rtaMultipath:
			if r.Nexthops, err = parseNexthops(a.Data); err != nil {
				return r, err
			}
		case rtaTable:
			if len(a.Data) != 4 {
				return r, fmt.Errorf("%w: RTA_TABLE of %d bytes", ErrMalformed, len(a.Data))
			}
			r.Table = native.Uint32(a.Data)
		case rtaPrefSrc, rtaGateway:
			ip, ok := netip.AddrFromSlice(a.Data)
			if !ok {
				return r, fmt.Errorf("%w: address attribute %d of %d bytes", ErrMalformed, a.Type, len(a.Data))
			}
			if a.Type == rtaPrefSrc {
				r.Src = ip.Unmap()
			} else {
				r.Gateway = ip.Unmap()
			}
		}
	}
	if r.Prefix = netip.PrefixFrom(dst, int(data[1])); !r.Prefix.IsValid() {
		return r, fmt.Errorf("%w: destination length %d for %v", ErrMalformed, data[1], dst)
	}
	r.Prefix = r.Prefix.Masked()
	return r, nil
}

// parseNexthops returns the interface indexes of RTA_MULTIPATH's rtnexthop entries.
func parseNexthops(b []byte) ([]int, error) {
	var idx []int
	for len(b) > 0 {
		if len(b) < rtNexthopLen {
			return nil, fmt.Errorf("%w: %d bytes left in RTA_MULTIPATH", ErrMalformed, len(b))
		}
		n := int(native.Uint16(b[0:2]))
		if n < rtNexthopLen || n > len(b) {
			return nil, fmt.Errorf("%w: next hop length %d with %d bytes left", ErrMalformed, n, len(b))
		}
		idx = append(idx, int(int32(native.Uint32(b[4:8]))))
		b = b[min(align4(n), len(b)):]
	}
	return idx, nil
}

// linkRequest builds an RTM_GETLINK request: a dump of every link when index and name
// are empty, else a query for the one link with that index or name.
func linkRequest(seq uint32, index int, name string) []byte {
	p := make([]byte, ifInfoMsgLen)
	native.PutUint32(p[4:8], uint32(index))
	flags := uint16(nlmFRequest)
	switch {
	case name != "":
		p = appendAttr(p, iflaIfname, append([]byte(name), 0))
	case index == 0:
		flags |= nlmFDump
	}
	return message(rtmGetLink, flags, seq, p)
}

// addrDumpRequest builds an RTM_GETADDR dump request for both families.
func addrDumpRequest(seq uint32) []byte {
	return message(rtmGetAddr, nlmFRequest|nlmFDump, seq, make([]byte, ifAddrMsgLen))
}

// parseLink decodes an RTM_NEWLINK payload into an Interface without addresses.
func parseLink(data []byte) (Interface, error) {
	var ifc Interface
	if len(data) < ifInfoMsgLen {
		return ifc, fmt.Errorf("%w: link message of %d bytes", ErrMalformed, len(data))
	}
	ifc.Type = native.Uint16(data[2:4])
	ifc.Index = int(int32(native.Uint32(data[4:8])))
	ifc.Flags = native.Uint32(data[8:12])
	attrs, err := parseAttrs(data[ifInfoMsgLen:])
	if err != nil {
		return ifc, err
	}
	for _, a := range attrs {
		switch a.Type {
		case iflaIfname:
			ifc.Name = cString(a.Data)
		case iflaAddress:
			if len(a.Data) > 0 {
				ifc.MAC = net.HardwareAddr(slices.Clone(a.Data))
			}
		case iflaLink, iflaMaster:
			if len(a.Data) != 4 {
				return ifc, fmt.Errorf("%w: link attribute %d of %d bytes", ErrMalformed, a.Type, len(a.Data))
			}
			v := int(int32(native.Uint32(a.Data)))
			if a.Type == iflaMaster {
				ifc.MasterIndex = v
			} else if v != ifc.Index {
				ifc.ParentIndex = v
			}
		case iflaLinkInfo:
			if err := parseLinkInfo(a.Data, &ifc); err != nil {
				return ifc, err
			}
		}
	}
	if ifc.Name == "" {
		return ifc, fmt.Errorf("%w: link %d has no name", ErrMalformed, ifc.Index)
	}
	return ifc, nil
}

// parseLinkInfo reads the kind of a virtual link and, for a VLAN, its ID.
func parseLinkInfo(b []byte, ifc *Interface) error {
	info, err := parseAttrs(b)
	if err != nil {
		return err
	}
	var data []byte
	for _, a := range info {
		switch a.Type {
		case iflaInfoKind:
			ifc.Kind = cString(a.Data)
		case iflaInfoData:
			data = a.Data
		}
	}
	if ifc.Kind != "vlan" || data == nil {
		return nil
	}
	vlan, err := parseAttrs(data)
	if err != nil {
		return err
	}
	for _, a := range vlan {
		if a.Type == iflaVLANID && len(a.Data) >= 2 {
			ifc.VLANID = native.Uint16(a.Data)
		}
	}
	return nil
}

// errOtherFamily is returned by parseAddr for an address that is neither IPv4 nor IPv6.
var errOtherFamily = errors.New("address family other than IPv4 and IPv6")

// addrMsg is one address of an RTM_NEWADDR message.
type addrMsg struct {
	Index  int
	Prefix netip.Prefix
}

// parseAddr decodes an RTM_NEWADDR payload. IFA_LOCAL is the interface's own address
// where it differs from IFA_ADDRESS (the peer of a point-to-point link); IFA_ADDRESS
// serves otherwise and for IPv6.
func parseAddr(data []byte) (addrMsg, error) {
	if len(data) < ifAddrMsgLen {
		return addrMsg{}, fmt.Errorf("%w: address message of %d bytes", ErrMalformed, len(data))
	}
	family, bits := data[0], int(data[1])
	index := int(native.Uint32(data[4:8]))
	want := map[byte]int{afInet: 4, afInet6: 16}[family]
	if want == 0 {
		return addrMsg{}, errOtherFamily
	}
	attrs, err := parseAttrs(data[ifAddrMsgLen:])
	if err != nil {
		return addrMsg{}, err
	}
	var addr, local []byte
	for _, a := range attrs {
		switch a.Type {
		case ifaAddress:
			addr = a.Data
		case ifaLocal:
			local = a.Data
		}
	}
	if local != nil {
		addr = local
	}
	ip, ok := netip.AddrFromSlice(addr)
	if !ok || len(addr) != want {
		return addrMsg{}, fmt.Errorf("%w: address of family %d on link %d is %d bytes", ErrMalformed, family, index, len(addr))
	}
	p := netip.PrefixFrom(ip, bits)
	if !p.IsValid() {
		return addrMsg{}, fmt.Errorf("%w: prefix length %d for %v", ErrMalformed, bits, ip)
	}
	return addrMsg{Index: index, Prefix: p}, nil
}

// buildTable joins the links and addresses of two dumps, in index order. Addresses of
// links that are not in the link dump (a race with a link's removal) are left out.
func buildTable(links []Interface, addrs []addrMsg) *Table {
	t := &Table{Interfaces: slices.Clone(links)}
	slices.SortStableFunc(t.Interfaces, func(a, b Interface) int { return a.Index - b.Index })
	for _, a := range addrs {
		if ifc, ok := t.ByIndex(a.Index); ok {
			ifc.Prefixes = append(ifc.Prefixes, a.Prefix)
		}
	}
	return t
}

// cString returns the text before the first NUL.
func cString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
