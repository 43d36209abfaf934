// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// TXT keys of TP8009 (matched without case).
const (
	txtProtocol = "p"
	txtNQN      = "nqn"
)

// Limits on what a TXT record may make us look at: a DNS TXT item is at most 255 bytes,
// and no real announcement carries hundreds of items.
const (
	maxTXTItemLen = 255
	maxTXTItems   = 256
)

// ParseTXT reads the items of an mDNS TXT record as key=value pairs. An item is used only
// if it is at most 255 bytes of printable ASCII, contains '=' and has a non-empty key. The
// key is lower-cased; the value is everything after the first '=' (nvme-stas drops an
// item whose value contains '=', which loses padded base64 values). A later item wins over
// an earlier one with the same key.
func ParseTXT(items [][]byte) map[string]string {
	m := make(map[string]string)
	for i, item := range items {
		if i == maxTXTItems {
			break
		}
		if len(item) > maxTXTItemLen || !printableASCII(item) {
			continue
		}
		k, v, ok := bytes.Cut(item, []byte("="))
		if !ok || len(k) == 0 {
			continue
		}
		m[strings.ToLower(string(k))] = string(v)
	}
	return m
}

// printableASCII reports whether b is only the characters 0x20 to 0x7e.
func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// transportFor maps TP8009's "p" value to an NVMe transport: tcp, or rdma for roce,
// iwarp and rdma (trimmed, without case), as nvme-stas does.
func transportFor(p string) (string, bool) {
	switch strings.ToLower(strings.Trim(p, " ")) {
	case "tcp":
		return tid.TCP, true
	case "roce", "iwarp", "rdma":
		return tid.RDMA, true
	}
	return "", false
}

// resolved is the content of a ServiceResolver.Found signal.
type resolved struct {
	Interface int32
	Protocol  int32
	Name      string
	Type      string
	Domain    string
	Host      string
	Aprotocol int32
	Address   string
	Port      uint16
	TXT       [][]byte
	Flags     uint32
}

// unusableError says why a resolved service cannot be used; its text is the log line.
type unusableError string

func (e unusableError) Error() string { return string(e) }

// identity is what a resolved service amounts to: the discovery controller to connect to
// and the address the reachability check dials.
type identity struct {
	tid  tid.TID
	addr netip.AddrPort
}

// identify turns a resolved service seen on interface ifname into a discovery
// controller. Every byte of it came from the network, so each field is checked before it
// can reach a kernel option string: the protocol must be known, the NQN valid, the address
// a unicast IP without zone, the port non-zero. The subsystem NQN is the one announced
// only if the kernel has the discovery option (TP8013); otherwise, and when none is
// announced, it is the well-known discovery NQN. host-iface is set for tcp only: it binds
// the connection to the interface the announcement came from, which is also what makes an
// IPv6 link-local address usable. The error text is the log line.
func identify(r resolved, ifname string, tp8013 bool) (identity, error) {
	txt := ParseTXT(r.TXT)
	transport, ok := transportFor(txt[txtProtocol])
	if !ok {
		return identity{}, unusableError(fmt.Sprintf("Received invalid/undefined protocol in mDNS TXT field: address=%s, iface=%s, TXT=%s",
			clean(r.Address), ifname, formatTXT(r.TXT)))
	}
	subsys := nqn.WellKnownDiscovery
	if announced := strings.Trim(txt[txtNQN], " "); announced != "" {
		// Checked even when the kernel will not use it: an announcement with a malformed
		// NQN is malformed, whatever the kernel.
		if err := nqn.ValidateSubsystem(announced); err != nil {
			return identity{}, unusableError(fmt.Sprintf("Received invalid NQN in mDNS TXT field: address=%s, iface=%s: %v",
				clean(r.Address), ifname, err))
		}
		if tp8013 {
			subsys = announced
		}
	}
	addr, err := netip.ParseAddr(r.Address)
	if err != nil || addr.Zone() != "" {
		return identity{}, unusableError(fmt.Sprintf("Received invalid address in mDNS service: address=%s, iface=%s",
			clean(r.Address), ifname))
	}
	addr = addr.Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return identity{}, unusableError(fmt.Sprintf("Received non-unicast address in mDNS service: address=%s, iface=%s",
			addr, ifname))
	}
	if r.Port == 0 {
		return identity{}, unusableError(fmt.Sprintf("Received invalid port 0 in mDNS service: address=%s, iface=%s",
			addr, ifname))
	}
	hostIface := ""
	if transport == tid.TCP {
		hostIface = ifname
	}
	t := tid.New(tid.TID{
		Transport: transport,
		Traddr:    addr.String(),
		Trsvcid:   strconv.Itoa(int(r.Port)),
		SubsysNQN: subsys,
		HostIface: hostIface,
	}, tid.Discovery, false)
	return identity{tid: t, addr: netip.AddrPortFrom(addr, r.Port)}, nil
}

// validIfname reports whether an interface name may go into a kernel option string:
// 1 to 15 bytes (IFNAMSIZ-1) of printable ASCII without space, comma, '=' or '/'.
func validIfname(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ',' || c == '=' || c == '/' {
			return false
		}
	}
	return true
}

// clean returns s for a log line: as it is when it is short printable ASCII, otherwise
// quoted with every other byte escaped and cut to a sane length.
func clean(s string) string {
	const max = 256
	if len(s) <= max && printableASCII([]byte(s)) {
		return s
	}
	if len(s) > max {
		return strconv.QuoteToASCII(s[:max]) + "..."
	}
	return strconv.QuoteToASCII(s)
}

// formatTXT renders TXT items for a log line, each quoted with hostile bytes escaped,
// cut to a few items of a few dozen bytes.
func formatTXT(items [][]byte) string {
	const maxItems, maxLen = 16, 80
	var b strings.Builder
	b.WriteByte('[')
	for i, item := range items {
		if i == maxItems {
			fmt.Fprintf(&b, ", ...%d more", len(items)-maxItems)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(item) > maxLen {
			b.WriteString(strconv.QuoteToASCII(string(item[:maxLen])))
			fmt.Fprintf(&b, "...(%d bytes)", len(item))
			continue
		}
		b.WriteString(strconv.QuoteToASCII(string(item)))
	}
	b.WriteByte(']')
	return b.String()
}
