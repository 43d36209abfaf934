// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The fixtures are little-endian, as netlink speaks the host's byte order.
func skipIfBigEndian(t *testing.T) {
	t.Helper()
	if native.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the netlink fixtures are little-endian")
	}
}

// capture returns the datagrams of one request in testdata/netlink.txt.
func capture(t *testing.T, name string) [][]byte { return captureF(t, name) }

func captureF(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/netlink.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		key, h, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(key, "#") || !strings.HasPrefix(key, name+"[") {
			continue
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		t.Fatalf("no capture %q", name)
	}
	return out
}

// messagesOf parses every datagram of a capture.
func messagesOf(t *testing.T, name string) []nlMsg {
	t.Helper()
	var all []nlMsg
	for _, d := range capture(t, name) {
		msgs, err := parseMessages(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all = append(all, msgs...)
	}
	return all
}

func onlyRoute(t *testing.T, name string) routeReply {
	t.Helper()
	msgs := messagesOf(t, name)
	if len(msgs) != 1 || msgs[0].Type != rtmNewRoute {
		t.Fatalf("%s: %+v", name, msgs)
	}
	r, err := parseRoute(msgs[0].Data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func TestParseCapturedRoutes(t *testing.T) {
	skipIfBigEndian(t)
	// The indexes: lo 1, p0 2, d0 3 (see the link dump test).
	tests := []struct {
		name string
		want routeReply
	}{
		{"routePlain", routeReply{Type: RTNUnicast, Table: 254, OIF: 3, Prefix: netip.MustParsePrefix("10.1.0.77/32"), Src: netip.MustParseAddr("10.1.0.1")}},
		{"routeFib", routeReply{Type: RTNUnicast, Table: 254, OIF: 3, Prefix: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.1.0.254")}},
		{"routeLocal", routeReply{Type: RTNLocal, Table: 254, OIF: 1, Prefix: netip.MustParsePrefix("127.0.0.1/32"), Src: netip.MustParseAddr("127.0.0.1")}},
		{"route6", routeReply{Type: RTNUnicast, Table: 254, OIF: 2, Prefix: netip.MustParsePrefix("fd00::5/128"), Src: netip.MustParseAddr("fd00::1")}},
	}
	for _, tt := range tests {
		got := onlyRoute(t, tt.name)
		if got.Type != tt.want.Type || got.Table != tt.want.Table || got.OIF != tt.want.OIF || got.Prefix != tt.want.Prefix ||
			got.Src != tt.want.Src || got.Gateway != tt.want.Gateway || got.Nexthops != nil {
			t.Errorf("%s: parseRoute = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseCapturedErrors(t *testing.T) {
	skipIfBigEndian(t)
	for name, want := range map[string]syscall.Errno{"routeUnreach": syscall.ENETUNREACH, "linkByName": syscall.ENODEV} {
		msgs := messagesOf(t, name)
		if len(msgs) != 1 || msgs[0].Type != nlmsgError {
			t.Fatalf("%s: %+v", name, msgs)
		}
		if errno, err := errnoOf(msgs[0].Data); errno != want || err != nil {
			t.Errorf("%s: errnoOf = %v, %v; want %v", name, errno, err, want)
		}
	}
}

func TestParseCapturedDumps(t *testing.T) {
	skipIfBigEndian(t)
	var links []Interface
	msgs := messagesOf(t, "links")
	if last := msgs[len(msgs)-1]; last.Type != nlmsgDone {
		t.Errorf("link dump does not end with NLMSG_DONE: %+v", last)
	}
	for _, m := range msgs {
		if m.Type != rtmNewLink {
			continue
		}
		if m.Flags&nlmFMulti == 0 {
			t.Errorf("dump part without NLM_F_MULTI")
		}
		l, err := parseLink(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	var addrs []addrMsg
	for _, m := range messagesOf(t, "addrs") {
		if m.Type != rtmNewAddr {
			continue
		}
		a, err := parseAddr(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	tbl := buildTable(links, addrs)
	if len(tbl.Interfaces) != 3 {
		t.Fatalf("interfaces = %+v", tbl.Interfaces)
	}
	lo, p0, d0 := tbl.Interfaces[0], tbl.Interfaces[1], tbl.Interfaces[2]
	if lo.Name != "lo" || lo.Index != 1 || lo.Type != ARPHRDLoopback || !lo.Up() || lo.Kind != "" ||
		!slices.Contains(lo.Prefixes, netip.MustParsePrefix("127.0.0.1/8")) || !slices.Contains(lo.Prefixes, netip.MustParsePrefix("::1/128")) {
		t.Errorf("lo = %+v", lo)
	}
	if d0.Name != "d0" || d0.Index != 3 || d0.Type != ARPHRDEther || d0.MAC.String() != "02:00:00:00:00:d0" || d0.Kind != "veth" ||
		d0.ParentIndex != 2 || d0.Prefixes[0] != netip.MustParsePrefix("10.1.0.1/24") {
		t.Errorf("d0 = %+v", d0)
	}
	// p0 carries only IPv6 addresses: it is in the table (nvme-stas quirk 9 lost it).
	if p0.Name != "p0" || p0.MAC.String() != "02:00:00:00:00:f0" || p0.Prefixes[0] != netip.MustParsePrefix("fd00::1/64") {
		t.Errorf("p0 = %+v", p0)
	}
	if got := tbl.InterfaceOf(netip.MustParseAddr("fd00::1")); got != "p0" {
		t.Errorf("InterfaceOf(fd00::1) = %q, want p0", got)
	}
	if got := tbl.InterfaceByMAC("02:00:00:00:00:D0"); got != "d0" {
		t.Errorf("InterfaceByMAC = %q, want d0", got)
	}
}

func TestRequests(t *testing.T) {
	skipIfBigEndian(t)
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		// nlmsghdr(len 36, RTM_GETROUTE, NLM_F_REQUEST, seq 7, pid 0) rtmsg(AF_INET, /32) RTA_DST
		{"ip route get 192.0.2.1", routeRequest(7, netip.MustParseAddr("::ffff:192.0.2.1"), 0, false),
			"24000000 1a00 0100 07000000 00000000  02 20 00 00 00 00 00 00 00000000  0800 0100 c0000201"},
		// ... with RTM_F_FIB_MATCH and RTA_OIF 4
		{"ip route get fibmatch 2001:db8::1 oif #4", routeRequest(8, netip.MustParseAddr("2001:db8::1%eth0"), 4, true),
			"38000000 1a00 0100 08000000 00000000  0a 80 00 00 00 00 00 00 00200000  1400 0100 20010db8000000000000000000000001  0800 0400 04000000"},
		// RTM_GETLINK dump: ifinfomsg of zeros, NLM_F_REQUEST|NLM_F_DUMP
		{"link dump", linkRequest(9, 0, ""), "20000000 1200 0103 09000000 00000000  00000000 00000000 00000000 00000000"},
		{"link 5", linkRequest(10, 5, ""), "20000000 1200 0100 0a000000 00000000  00000000 05000000 00000000 00000000"},
		// IFLA_IFNAME "eth0\0", padded
		{"link eth0", linkRequest(11, 0, "eth0"), "2c000000 1200 0100 0b000000 00000000  00000000 00000000 00000000 00000000  0900 0300 65746830 00 000000"},
		{"address dump", addrDumpRequest(12), "18000000 1600 0103 0c000000 00000000  00000000 00000000"},
	}
	for _, tt := range tests {
		if want := unhex(tt.want); !bytes.Equal(tt.got, want) {
			t.Errorf("%s:\n got %x\nwant %x", tt.name, tt.got, want)
		}
	}
}

// attrBytes builds one attribute for the malformed-input tests.
func attrBytes(typ uint16, data []byte) []byte { return appendAttr(nil, typ, data) }

func TestParseMalformed(t *testing.T) {
	skipIfBigEndian(t)
	hdr := func(n uint32) []byte { return message(rtmNewRoute, 0, 1, make([]byte, n))[:16] }
	bad := []struct {
		name string
		err  error
	}{
		{"short header", func() error { _, err := parseMessages(make([]byte, 10)); return err }()},
		{"length below header", func() error { h := hdr(0); h[0] = 8; _, err := parseMessages(h); return err }()},
		{"length beyond data", func() error { _, err := parseMessages(hdr(100)); return err }()},
		{"short attribute", func() error { _, err := parseAttrs([]byte{1, 2}); return err }()},
		{"attribute length 2", func() error { _, err := parseAttrs([]byte{2, 0, 1, 0}); return err }()},
		{"attribute beyond data", func() error { _, err := parseAttrs([]byte{9, 0, 1, 0, 1}); return err }()},
		{"short error", func() error { _, err := errnoOf([]byte{1}); return err }()},
		{"positive error", func() error { _, err := errnoOf([]byte{1, 0, 0, 0}); return err }()},
		{"short route", func() error { _, err := parseRoute(make([]byte, 4)); return err }()},
		{"route family", func() error { _, err := parseRoute(make([]byte, rtMsgLen)); return err }()},
		{"route attrs", func() error { _, err := parseRoute(append(rtm(afInet, 0), 1)); return err }()},
		{"route RTA_DST length", func() error {
			_, err := parseRoute(append(rtm(afInet, 32), attrBytes(rtaDst, make([]byte, 16))...))
			return err
		}()},
		{"route dst_len", func() error { _, err := parseRoute(rtm(afInet, 40)); return err }()},
		{"route RTA_OIF length", func() error {
			_, err := parseRoute(append(rtm(afInet, 0), attrBytes(rtaOIF, []byte{1})...))
			return err
		}()},
		{"route RTA_TABLE length", func() error {
			_, err := parseRoute(append(rtm(afInet, 0), attrBytes(rtaTable, []byte{1})...))
			return err
		}()},
		{"route RTA_GATEWAY length", func() error {
			_, err := parseRoute(append(rtm(afInet, 0), attrBytes(rtaGateway, []byte{1, 2, 3})...))
			return err
		}()},
		{"route multipath", func() error {
			_, err := parseRoute(append(rtm(afInet, 0), attrBytes(rtaMultipath, []byte{1, 2})...))
			return err
		}()},
		{"next hop length", func() error { _, err := parseNexthops([]byte{4, 0, 0, 0, 1, 0, 0, 0}); return err }()},
		{"short link", func() error { _, err := parseLink(make([]byte, 8)); return err }()},
		{"link without name", func() error { _, err := parseLink(make([]byte, ifInfoMsgLen)); return err }()},
		{"link attrs", func() error { _, err := parseLink(append(make([]byte, ifInfoMsgLen), 1)); return err }()},
		{"link IFLA_LINK length", func() error {
			_, err := parseLink(append(make([]byte, ifInfoMsgLen), attrBytes(iflaLink, []byte{1})...))
			return err
		}()},
		{"link info attrs", func() error {
			_, err := parseLink(append(make([]byte, ifInfoMsgLen), attrBytes(iflaLinkInfo, []byte{1})...))
			return err
		}()},
		{"vlan data attrs", func() error {
			info := append(attrBytes(iflaInfoKind, []byte("vlan\x00")), attrBytes(iflaInfoData, []byte{1})...)
			_, err := parseLink(append(make([]byte, ifInfoMsgLen), attrBytes(iflaLinkInfo, info)...))
			return err
		}()},
		{"short address", func() error { _, err := parseAddr(make([]byte, 4)); return err }()},
		{"address attrs", func() error { _, err := parseAddr(append(ifam(afInet, 24), 1)); return err }()},
		{"address length", func() error {
			_, err := parseAddr(append(ifam(afInet, 24), attrBytes(ifaAddress, make([]byte, 16))...))
			return err
		}()},
		{"address missing", func() error { _, err := parseAddr(ifam(afInet6, 64)); return err }()},
		{"address prefix", func() error {
			_, err := parseAddr(append(ifam(afInet, 33), attrBytes(ifaAddress, make([]byte, 4))...))
			return err
		}()},
	}
	for _, tt := range bad {
		if !errors.Is(tt.err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", tt.name, tt.err)
		}
	}
	if _, err := parseAddr(ifam(17, 0)); !errors.Is(err, errOtherFamily) {
		t.Errorf("other family: %v", err)
	}
}

// rtm returns an rtmsg of a family and destination length.
func rtm(family, dstLen byte) []byte {
	b := make([]byte, rtMsgLen)
	b[0], b[1] = family, dstLen
	return b
}

// ifam returns an ifaddrmsg of a family and prefix length on link 2.
func ifam(family, bits byte) []byte {
	b := make([]byte, ifAddrMsgLen)
	b[0], b[1] = family, bits
	native.PutUint32(b[4:], 2)
	return b
}

func TestParseSyntheticLinksAndRoutes(t *testing.T) {
	skipIfBigEndian(t)
	// A VLAN on link 2 and a bond member, as the kernel describes them.
	vlanData := attrBytes(iflaVLANID, []byte{10, 0})
	info := append(attrBytes(iflaInfoKind, []byte("vlan\x00")), attrBytes(iflaInfoData|0x8000, vlanData)...)
	msg := make([]byte, ifInfoMsgLen)
	native.PutUint16(msg[2:], ARPHRDEther)
	native.PutUint32(msg[4:], 7)
	msg = append(msg, attrBytes(iflaIfname, []byte("eth0.10\x00"))...)
	msg = append(msg, attrBytes(iflaAddress, []byte{2, 0, 0, 0, 0, 1})...)
	msg = append(msg, attrBytes(iflaLink, []byte{2, 0, 0, 0})...)
	msg = append(msg, attrBytes(iflaMaster, []byte{9, 0, 0, 0})...)
	msg = append(msg, attrBytes(iflaLinkInfo|0x8000, info)...) // NLA_F_NESTED is ignored
	l, err := parseLink(msg)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "eth0.10" || l.Kind != "vlan" || l.VLANID != 10 || l.ParentIndex != 2 || l.MasterIndex != 9 || l.MAC.String() != "02:00:00:00:00:01" {
		t.Errorf("parseLink = %+v", l)
	}
	// IFLA_LINK naming the link itself is no parent.
	self := append(make([]byte, ifInfoMsgLen), attrBytes(iflaIfname, []byte("x\x00"))...)
	native.PutUint32(self[4:], 3)
	self = append(self, attrBytes(iflaLink, []byte{3, 0, 0, 0})...)
	self = append(self, attrBytes(iflaLinkInfo, attrBytes(iflaInfoKind, []byte("vlan")))...)
	if l, err := parseLink(self); err != nil || l.ParentIndex != 0 || l.Kind != "vlan" || l.VLANID != 0 {
		t.Errorf("self link = %+v, %v", l, err)
	}

	// A point-to-point IPv4 address: IFA_LOCAL is ours, IFA_ADDRESS the peer's.
	a := append(ifam(afInet, 32), attrBytes(ifaAddress, []byte{10, 0, 0, 2})...)
	a = append(a, attrBytes(ifaLocal, []byte{10, 0, 0, 1})...)
	if got, err := parseAddr(a); err != nil || got.Prefix != netip.MustParsePrefix("10.0.0.1/32") || got.Index != 2 {
		t.Errorf("parseAddr = %+v, %v", got, err)
	}

	// A multipath default route through links 3 and 5.
	hop := func(idx byte) []byte {
		h := []byte{16, 0, 0, 0, idx, 0, 0, 0}
		return append(h, attrBytes(rtaGateway, []byte{10, 0, idx, 1})...)
	}
	r := append(rtm(afInet, 0), attrBytes(rtaMultipath, append(hop(3), hop(5)...))...)
	r = append(r, attrBytes(rtaTable, []byte{254, 0, 0, 0})...)
	got, err := parseRoute(r)
	if err != nil || !slices.Equal(got.Nexthops, []int{3, 5}) || got.OIF != 0 || got.Prefix != netip.MustParsePrefix("0.0.0.0/0") || got.Table != 254 {
		t.Errorf("multipath route = %+v, %v", got, err)
	}

	// Two messages in one datagram, the first padded.
	two := append(message(nlmsgDone, nlmFMulti, 1, []byte{0, 0, 0, 0, 1}), make([]byte, 3)...)
	two = append(two, message(nlmsgDone, 0, 2, nil)...)
	if msgs, err := parseMessages(two); err != nil || len(msgs) != 2 || msgs[1].Seq != 2 || len(msgs[0].Data) != 5 {
		t.Errorf("parseMessages = %+v, %v", msgs, err)
	}
}
