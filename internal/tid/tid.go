// SPDX-License-Identifier: Apache-2.0

// Package tid owns the identity of a controller, the transport ID: the seven fields
// (transport, traddr, trsvcid, subsysnqn, host-traddr, host-iface, host-nqn) by which
// stafd and stacd know a discovery or I/O controller, match it to a kernel connection,
// publish it on D-Bus and remember it across restarts.
//
// Unlike nvme-stas, which compares the fields as text, addresses are normalised when a TID
// is made (2001:DB8::1 and 2001:db8:0::1 are the same controller; so are ::ffff:192.0.2.1
// and 192.0.2.1), so TIDs compare with == and serve as map keys.
package tid

import (
	"net/netip"
	"strings"
)

// Transports and the ports a TID gets when none is given.
const (
	TCP  = "tcp"
	RDMA = "rdma"
	FC   = "fc"
	Loop = "loop"

	// DiscoveryPort is the NVMe/TCP discovery port (and the default of a discovery
	// controller without trsvcid).
	DiscoveryPort = "8009"
	// IOPort is the NVMe/TCP and NVMe/RDMA I/O port (the default of an I/O controller
	// without trsvcid, and of every RDMA controller).
	IOPort = "4420"
)

// Kind says which defaults apply: a discovery controller's tcp port is 8009, an I/O
// controller's 4420.
type Kind int

// The two kinds of controller.
const (
	Discovery Kind = iota
	IO
)

// TID is a controller's transport ID. Make one with New so that addresses are normalised
// and the port defaulted; the zero value is no controller.
type TID struct {
	Transport  string
	Traddr     string
	Trsvcid    string
	SubsysNQN  string
	HostTraddr string
	HostIface  string
	HostNQN    string
}

// New returns t with its addresses normalised and its port defaulted for kind: tcp 8009
// (discovery) or 4420 (I/O), rdma 4420; fc and loop have no port. ignoreIface drops
// host-iface, as the daemons' ignore-iface option asks.
func New(t TID, kind Kind, ignoreIface bool) TID {
	t.Traddr = normaliseAddr(t.Transport, t.Traddr)
	t.HostTraddr = normaliseAddr(t.Transport, t.HostTraddr)
	switch t.Transport {
	case TCP:
		if t.Trsvcid == "" {
			t.Trsvcid = IOPort
			if kind == Discovery {
				t.Trsvcid = DiscoveryPort
			}
		}
	case RDMA:
		if t.Trsvcid == "" {
			t.Trsvcid = IOPort
		}
	case FC, Loop:
		t.Trsvcid = ""
		if t.Transport == FC {
			// FC addresses are hex names; the kernel and nvme-stas compare them without case.
			t.Traddr = strings.ToLower(t.Traddr)
			t.HostTraddr = strings.ToLower(t.HostTraddr)
		}
	}
	if ignoreIface {
		t.HostIface = ""
	}
	return t
}

// normaliseAddr returns an IP address of tcp or rdma in its canonical text form, an
// IPv4-mapped IPv6 address as IPv4; anything else (a host name, an FC name) is returned
// as it is.
func normaliseAddr(transport, s string) string {
	if transport != TCP && transport != RDMA || s == "" {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.Unmap().String()
}

// IsZero reports whether t is the zero TID.
func (t TID) IsZero() bool { return t == TID{} }

// String returns nvme-stas's text form, used in logs and as the controller id on D-Bus:
// "(<transport>, <traddr>, <trsvcid>[, <subsysnqn>][, <host-iface>][, <host-traddr>])",
// the optional parts only when not empty.
func (t TID) String() string {
	var b strings.Builder
	b.WriteString("(" + t.Transport + ", " + t.Traddr + ", " + t.Trsvcid)
	for _, s := range []string{t.SubsysNQN, t.HostIface, t.HostTraddr} {
		if s != "" {
			b.WriteString(", " + s)
		}
	}
	b.WriteString(")")
	return b.String()
}

// Keys of the dictionary form, as nvme-stas names them on D-Bus and in exclude= entries.
const (
	KeyTransport  = "transport"
	KeyTraddr     = "traddr"
	KeyTrsvcid    = "trsvcid"
	KeySubsysNQN  = "subsysnqn"
	KeyHostTraddr = "host-traddr"
	KeyHostIface  = "host-iface"
	KeyHostNQN    = "host-nqn"
)

// Dict returns the seven fields keyed as nvme-stas's controller id dictionary.
func (t TID) Dict() map[string]string {
	return map[string]string{
		KeyTransport:  t.Transport,
		KeyTraddr:     t.Traddr,
		KeyTrsvcid:    t.Trsvcid,
		KeySubsysNQN:  t.SubsysNQN,
		KeyHostTraddr: t.HostTraddr,
		KeyHostIface:  t.HostIface,
		KeyHostNQN:    t.HostNQN,
	}
}

// FromDict builds a TID from the dictionary form (for example, the arguments of a D-Bus
// call or a last-known-config entry), normalised as New does.
func FromDict(d map[string]string, kind Kind, ignoreIface bool) TID {
	return New(TID{
		Transport:  d[KeyTransport],
		Traddr:     d[KeyTraddr],
		Trsvcid:    d[KeyTrsvcid],
		SubsysNQN:  d[KeySubsysNQN],
		HostTraddr: d[KeyHostTraddr],
		HostIface:  d[KeyHostIface],
		HostNQN:    d[KeyHostNQN],
	}, kind, ignoreIface)
}
