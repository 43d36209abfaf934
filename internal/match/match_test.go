// SPDX-License-Identifier: Apache-2.0

package match

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/tid"
)

const (
	ifaceI = "enp0s3"
	s4     = "192.0.2.2"
	s6     = "2001:db8::2"
)

// ifaces is the fixed host of the matrix: I (enp0s3) has exactly one IPv4 address and
// one global IPv6 address; another interface has an IPv4 subnet; a third is IPv6-only.
func ifaces() *netif.Table {
	return &netif.Table{Interfaces: []netif.Interface{
		{Index: 1, Name: "lo", Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Index: 2, Name: ifaceI, Prefixes: []netip.Prefix{
			netip.MustParsePrefix(s4 + "/24"), netip.MustParsePrefix(s6 + "/64"), netip.MustParsePrefix("fe80::2/64")}},
		{Index: 3, Name: "enp0s8", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24"), netip.MustParsePrefix("198.51.100.3/24")}},
		{Index: 4, Name: "v6only", Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00::2/64")}},
	}}
}

// The §14.2 cid_matches_tid matrix: a device (tcp, T, 8009, hello, host-traddr S,
// host-iface I, src-addr S (modern kernel) or "" (legacy), host-nqn "") against
// candidates that differ in one field, for both traddr families and both source address
// families.
func TestMatrix(t *testing.T) {
	type row struct {
		name  string
		edit  func(c *tid.TID, t string)
		match bool
	}
	rows := []row{
		{"1 identical", func(*tid.TID, string) {}, true},
		{"2 transport blah", func(c *tid.TID, _ string) { c.Transport = "blah" }, false},
		{"3 traddr reversed", func(c *tid.TID, tr string) {
			if tr == "1.2.3.4" {
				c.Traddr = "4.3.2.1"
			} else {
				c.Traddr = "fe80::DDDD:cccc:bbbb:AAAA"
			}
		}, false},
		{"4 trsvcid 8010", func(c *tid.TID, _ string) { c.Trsvcid = "8010" }, false},
		{"5 host-traddr 255.255.255.255", func(c *tid.TID, _ string) { c.HostTraddr = "255.255.255.255" }, false},
		{"6 host-iface blah", func(c *tid.TID, _ string) { c.HostIface = "blah" }, false},
		{"7 subsysnqn bob", func(c *tid.TID, _ string) { c.SubsysNQN = "bob" }, false},
		{"8 no host-traddr", func(c *tid.TID, _ string) { c.HostTraddr = "" }, true},
		{"9 no host-iface", func(c *tid.TID, _ string) { c.HostIface = "" }, true},
		{"10 neither", func(c *tid.TID, _ string) { c.HostTraddr, c.HostIface = "", "" }, true},
		{"11 repeat of 1", func(*tid.TID, string) {}, true},
		{"12 repeat of 8", func(c *tid.TID, _ string) { c.HostTraddr = "" }, true},
	}
	tbl := ifaces()
	for _, traddr := range []string{"1.2.3.4", "FE80::aaaa:BBBB:cccc:dddd"} {
		for _, src := range []string{s4, s6} {
			for _, legacy := range []bool{false, true} {
				dev := Device{Transport: "tcp", Traddr: traddr, Trsvcid: "8009", SubsysNQN: "hello",
					HostTraddr: src, HostIface: ifaceI, SrcAddr: src}
				if legacy {
					dev.SrcAddr = ""
				}
				for _, r := range rows {
					cand := tid.TID{Transport: "tcp", Traddr: traddr, Trsvcid: "8009", SubsysNQN: "hello", HostTraddr: src, HostIface: ifaceI}
					r.edit(&cand, traddr)
					got, why := Match(cand, dev, tbl)
					if got != r.match {
						t.Errorf("row %s (traddr %s, S %s, legacy %v): Match = %v (%s), want %v", r.name, traddr, src, legacy, got, why, r.match)
					}
					if got != Matches(cand, dev, tbl) {
						t.Errorf("row %s: Matches disagrees with Match", r.name)
					}
				}
			}
		}
	}
}

func TestLegacyOnlyCases(t *testing.T) {
	tbl := ifaces()
	base := Device{Transport: "tcp", Traddr: "1.2.3.4", Trsvcid: "8009", SubsysNQN: "hello"}
	cand := func(hostTraddr, hostIface string) tid.TID {
		return tid.TID{Transport: "tcp", Traddr: "1.2.3.4", Trsvcid: "8009", SubsysNQN: "hello", HostTraddr: hostTraddr, HostIface: hostIface}
	}
	with := func(hostTraddr, hostIface string) Device {
		d := base
		d.HostTraddr, d.HostIface = hostTraddr, hostIface
		return d
	}
	tests := []struct {
		name   string
		dev    Device
		cand   tid.TID
		want   bool
		reason string
	}{
		{"device has nothing, candidate host-traddr", with("", ""), cand("1.1.1.1", ""), true, "not enough information"},
		{"device has nothing, candidate IPv6 host-traddr", with("", ""), cand("AAAA::FFFF", ""), true, "not enough information"},
		{"device host-iface only, candidate nothing", with("", ifaceI), cand("", ""), true, ""},
		{"device host-traddr only vs other host-traddr", with(s4, ""), cand("1.1.1.1", ""), false, "host-traddr differs"},
		{"device host-traddr only vs same host-traddr (mapped)", with(s4, ""), cand("::ffff:"+s4, ""), true, ""},
		{"device host-traddr only vs host-iface blah", with(s4, ""), cand("", "blah"), false, "does not own"},
		{"device host-traddr only vs host-iface I", with(s4, ""), cand("", ifaceI), true, ""},
		{"device host-iface only vs host-traddr 1.1.1.1 and host-iface blah", with("", ifaceI), cand("1.1.1.1", "blah"), false, "host-iface differs"},
		{"device host-iface only vs host-traddr 1.1.1.1", with("", ifaceI), cand("1.1.1.1", ""), false, "primary address"},
		{"device host-iface only vs I's IPv4 address", with("", ifaceI), cand(s4, ""), true, ""},
		{"device host-iface only vs I's IPv6 address", with("", ifaceI), cand(s6, ifaceI), true, ""},
		{"device host-iface only vs a second address", with("", "enp0s8"), cand("198.51.100.3", ""), false, "primary address"},
		{"device host-iface only vs the first address", with("", "enp0s8"), cand("198.51.100.2", ""), true, ""},
		{"device host-iface only vs unparsable host-traddr", with("", ifaceI), cand("host.example", ""), false, "primary address"},
		{"device both vs other iface", with(s4, ifaceI), cand("", "enp0s8"), false, "host-iface differs"},
		{"device both vs other host-traddr", with(s4, ifaceI), cand("192.0.2.9", ifaceI), false, "host-traddr differs"},
		{"device unparsable host-traddr counts as none", with("garbage", ""), cand("1.1.1.1", ""), true, "not enough information"},
	}
	for _, tt := range tests {
		got, why := Match(tt.cand, tt.dev, tbl)
		if got != tt.want || !strings.Contains(why, tt.reason) {
			t.Errorf("%s: Match = %v, %q; want %v, %q", tt.name, got, why, tt.want, tt.reason)
		}
	}
}

func TestFCAndRDMA(t *testing.T) {
	tbl := ifaces()
	fc := Device{Transport: "fc", Traddr: "ABC", Trsvcid: "", SubsysNQN: "hello", HostTraddr: "AAA::BBBB"}
	fcCand := tid.TID{Transport: "fc", Traddr: "abc", SubsysNQN: "hello", HostTraddr: "AAA::BBBB"}
	if !Matches(fcCand, fc, tbl) {
		t.Error("fc: same host-traddr does not match")
	}
	fcCand.HostTraddr = "aaa::bbbb"
	if !Matches(fcCand, fc, tbl) {
		t.Error("fc: host-traddr compared with case")
	}
	fcCand.HostTraddr = "BBBB::AAA"
	if Matches(fcCand, fc, tbl) {
		t.Error("fc: other host-traddr matches")
	}
	// The kernel's "none" for an absent trsvcid (nvme-stas quirk 4 never matched FC).
	fcNone := fc
	fcNone.Trsvcid = "none"
	fcCand.HostTraddr = "AAA::BBBB"
	if !Matches(fcCand, fcNone, tbl) {
		t.Error("fc: trsvcid none does not match an empty one")
	}
	fcOther := fcCand
	fcOther.Traddr = "abd"
	if Matches(fcOther, fc, tbl) {
		t.Error("fc: other traddr matches")
	}

	rdma := Device{Transport: "rdma", Traddr: "2.3.4.5", Trsvcid: "4444", SubsysNQN: "hello", HostTraddr: "5.4.3.2"}
	for host, want := range map[string]bool{"5.4.3.2": true, "5.5.6.6": false, "": true, "::ffff:5.4.3.2": true} {
		c := tid.TID{Transport: "rdma", Traddr: "2.3.4.5", Trsvcid: "4444", SubsysNQN: "hello", HostTraddr: host}
		if got := Matches(c, rdma, tbl); got != want {
			t.Errorf("rdma host-traddr %q: Matches = %v, want %v", host, got, want)
		}
	}
}

func TestOtherRules(t *testing.T) {
	tbl := ifaces()
	dev := Device{Transport: "tcp", Traddr: "192.0.2.50", Trsvcid: "8009", SubsysNQN: "nqn.2014-08.org.example:unique-dc",
		SrcAddr: "::ffff:" + s4, HostNQN: "nqn.host"}
	cand := tid.TID{Transport: "tcp", Traddr: "192.0.2.50", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: ifaceI, HostNQN: "nqn.host"}
	if ok, why := Match(cand, dev, tbl); !ok {
		t.Errorf("well-known NQN against a unique DC NQN: %s", why)
	}
	other := cand
	other.HostNQN = "nqn.other"
	if ok, why := Match(other, dev, tbl); ok || why != "host-nqn differs" {
		t.Errorf("other host NQN: %v %q", ok, why)
	}
	other = cand
	other.HostTraddr = s4
	if !Matches(other, dev, tbl) {
		t.Error("IPv4-mapped src_addr does not equal IPv4 host-traddr")
	}
	// The source address on an IPv6-only interface maps to it (nvme-stas quirk 9).
	v6 := Device{Transport: "tcp", Traddr: "fd00::50", Trsvcid: "4420", SubsysNQN: "x", SrcAddr: "fd00::2"}
	if !Matches(tid.TID{Transport: "tcp", Traddr: "fd00::50", Trsvcid: "4420", SubsysNQN: "x", HostIface: "v6only"}, v6, tbl) {
		t.Error("IPv6-only interface not found from src_addr")
	}
	// Whitespace and "none" from sysfs are cleaned.
	messy := Device{Transport: "tcp\n", Traddr: " 192.0.2.50", Trsvcid: "8009", SubsysNQN: "hello", HostTraddr: "none", HostIface: "none", SrcAddr: "none"}
	if ok, why := Match(tid.TID{Transport: "tcp", Traddr: "192.0.2.50", Trsvcid: "8009", SubsysNQN: "hello", HostIface: ifaceI}, messy, tbl); !ok || !strings.Contains(why, "not enough information") {
		t.Errorf("messy device: %v %q", ok, why)
	}
	// Host names are compared as text, not as "two unparsable addresses are equal".
	named := Device{Transport: "tcp", Traddr: "array-a.example", Trsvcid: "8009", SubsysNQN: "hello"}
	if Matches(tid.TID{Transport: "tcp", Traddr: "array-b.example", Trsvcid: "8009", SubsysNQN: "hello"}, named, tbl) {
		t.Error("two different host names match")
	}
	if !Matches(tid.TID{Transport: "tcp", Traddr: "array-a.example", Trsvcid: "8009", SubsysNQN: "hello"}, named, tbl) {
		t.Error("the same host name does not match")
	}
	if Matches(tid.TID{Transport: "tcp", Traddr: "192.0.2.50", Trsvcid: "8009", SubsysNQN: "hello"}, named, tbl) {
		t.Error("an address matches a host name")
	}
	// loop compares traddr without case and has no host fields.
	loop := Device{Transport: "loop", Traddr: "", SubsysNQN: "testnqn"}
	if !Matches(tid.TID{Transport: "loop", SubsysNQN: "testnqn"}, loop, tbl) {
		t.Error("loop controller does not match")
	}
}

// §14.2 ip_equal vectors.
func TestSameAddr(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "1.1.1.1", false}, // ip_equal(None, 1.1.1.1)
		{"1.2.3.4", "::ffff:102:304", true},
		{"1.2.3.4", "::ffff:1.2.3.4", true},
		{"2001:DB8::1", "2001:db8:0::1", true},
		{"fe80::1%eth0", "fe80::1", true},
		{"not-an-ip", "not-an-ip", true},
		{"not-an-ip", "other", false},
	}
	for _, tt := range tests {
		if got := sameAddr(tt.a, tt.b); got != tt.want {
			t.Errorf("sameAddr(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if a, ok := addrOf("::ffff:1.2.3.4"); !ok || a != netip.MustParseAddr("1.2.3.4") {
		t.Errorf("addrOf(::ffff:1.2.3.4) = %v, %v", a, ok)
	}
	for _, s := range []string{"", "not-an-ip"} {
		if _, ok := addrOf(s); ok {
			t.Errorf("addrOf(%q) parsed", s)
		}
	}
}

func TestDeviceOf(t *testing.T) {
	c := sysfs.Controller{Transport: "tcp", SubsysNQN: "nqn.2014-08.org.example:a", HostNQN: "nqn.host",
		Address: fabrics.Address{TrAddr: "192.0.2.2", TrSvcID: "4420", HostIface: "eth0", SrcAddr: "192.0.2.1"}}
	if d := DeviceOf(c); d.Traddr != "192.0.2.2" || d.Trsvcid != "4420" || d.HostIface != "eth0" || d.SrcAddr != "192.0.2.1" ||
		d.HostNQN != "nqn.host" || d.SubsysNQN != c.SubsysNQN {
		t.Errorf("from the address attribute: %+v", d)
	}
	// Without the address attribute, the udev properties ("none" is empty).
	c.Address = fabrics.Address{}
	c.Uevent = map[string]string{"NVME_TRTYPE": "tcp", "NVME_TRADDR": "192.0.2.3", "NVME_TRSVCID": "4420",
		"NVME_HOST_TRADDR": "none", "NVME_HOST_IFACE": "eth1"}
	if d := DeviceOf(c); d.Traddr != "192.0.2.3" || d.HostIface != "eth1" || d.HostTraddr != "" {
		t.Errorf("from the uevent properties: %+v", d)
	}
}
