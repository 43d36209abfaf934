// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"errors"
	"maps"
	"net/netip"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func items(ss ...string) [][]byte {
	out := [][]byte{}
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

// TestParseTXTVectors uses the Avahi TXT vectors of nvme-stas-behaviour.md §14.2.
func TestParseTXTVectors(t *testing.T) {
	tests := []struct {
		name string
		in   [][]byte
		want map[string]string
	}{
		// §14.2, verbatim.
		{"keys lower-cased", items("NqN=Starfleet", "p=tcp"), map[string]string{"nqn": "Starfleet", "p": "tcp"}},
		{"empty value kept, no '=' and empty key dropped", items("Nqn=Starfleet", "p=", "blah", "="), map[string]string{"nqn": "Starfleet", "p": ""}},
		// §14.2 passes [1000, ord('='), 123456]: code points beyond a byte, which a D-Bus
		// "ay" cannot carry. The byte equivalent is non-printable: dropped likewise.
		{"non-printable dropped", [][]byte{{0xe8, '=', 0x40}}, map[string]string{}},
		// Differences from nvme-stas, on purpose.
		{"split on the first '=' (nvme-stas drops the item)", items("nqn=a=b", "k==="), map[string]string{"nqn": "a=b", "k": "=="}},
		{"non-ASCII dropped (nvme-stas keeps Latin-1 letters)", [][]byte{[]byte("p=t\xe9cp")}, map[string]string{}},
		{"control character dropped", items("p=tcp\n"), map[string]string{}},
		{"DEL dropped", items("p=tcp\x7f"), map[string]string{}},
		{"over 255 bytes dropped", items("nqn=" + strings.Repeat("x", 252)), map[string]string{}},
		{"255 bytes kept", items("nqn=" + strings.Repeat("x", 251)), map[string]string{"nqn": strings.Repeat("x", 251)}},
		{"later item wins", items("p=tcp", "P=rdma"), map[string]string{"p": "rdma"}},
		{"spaces are printable and kept", items(" p = tcp "), map[string]string{" p ": " tcp "}},
		{"nil", nil, map[string]string{}},
	}
	for _, tt := range tests {
		if got := ParseTXT(tt.in); !maps.Equal(got, tt.want) {
			t.Errorf("%s: ParseTXT = %q, want %q", tt.name, got, tt.want)
		}
	}
	many := make([][]byte, 300)
	for i := range many {
		many[i] = []byte("k=v")
	}
	many[299] = []byte("p=tcp")
	if got := ParseTXT(many); got["p"] != "" {
		t.Errorf("item 300 read: the item limit is not applied")
	}
}

func TestTransportFor(t *testing.T) {
	for in, want := range map[string]string{"tcp": "tcp", " TCP ": "tcp", "roce": "rdma", "iWARP": "rdma", "RDMA": "rdma", "udp": "", "": "", "walmart": "", "tcp\t": ""} {
		got, ok := transportFor(in)
		if got != want || ok != (want != "") {
			t.Errorf("transportFor(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestIdentify(t *testing.T) {
	base := resolved{Interface: 2, Name: "CDC", Type: ServiceTypeTCP, Domain: "local", Address: "192.0.2.10", Port: 8009}
	with := func(addr string, port uint16, txt ...string) resolved {
		r := base
		r.Address, r.Port, r.TXT = addr, port, items(txt...)
		return r
	}
	ok := []struct {
		name   string
		in     resolved
		tp8013 bool
		want   tid.TID
	}{
		{"tcp with nqn", with("192.0.2.10", 8009, "p=tcp", "nqn="+testNQN), true,
			tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "8009", SubsysNQN: testNQN, HostIface: "eth0"}},
		{"nqn ignored without TP8013", with("192.0.2.10", 8009, "p=tcp", "nqn="+testNQN), false,
			tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0"}},
		{"no nqn: well-known", with("192.0.2.10", 4420, "p=tcp"), true,
			tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "4420", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0"}},
		{"empty nqn: well-known", with("192.0.2.10", 4420, "p=tcp", "nqn= "), true,
			tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "4420", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0"}},
		{"nqn trimmed", with("192.0.2.10", 4420, "p=tcp", "nqn= "+testNQN+" "), true,
			tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "4420", SubsysNQN: testNQN, HostIface: "eth0"}},
		{"roce is rdma, no host-iface", with("192.0.2.10", 4420, "p=roce"), true,
			tid.TID{Transport: "rdma", Traddr: "192.0.2.10", Trsvcid: "4420", SubsysNQN: nqn.WellKnownDiscovery}},
		{"IPv4-mapped is IPv4", with("::ffff:192.0.2.10", 8009, "P=TCP"), true,
			tid.TID{Transport: "tcp", Traddr: "192.0.2.10", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0"}},
		{"IPv6 link-local, bound by host-iface", with("FE80::1", 8009, "p=tcp"), true,
			tid.TID{Transport: "tcp", Traddr: "fe80::1", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0"}},
		{"highest port", with("2001:db8::1", 65535, "p=tcp"), true,
			tid.TID{Transport: "tcp", Traddr: "2001:db8::1", Trsvcid: "65535", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0"}},
	}
	for _, tt := range ok {
		id, err := identify(tt.in, "eth0", tt.tp8013)
		if err != nil || id.tid != tt.want {
			t.Errorf("%s: identify = %+v, %v; want %+v", tt.name, id.tid, err, tt.want)
			continue
		}
		if want := netip.MustParseAddr(tt.want.Traddr); id.addr.Addr() != want || id.addr.Port() != tt.in.Port {
			t.Errorf("%s: probe address %v", tt.name, id.addr)
		}
	}

	bad := []struct {
		name string
		in   resolved
		want string
	}{
		{"missing p", with("192.0.2.10", 8009, "nqn="+testNQN),
			`Received invalid/undefined protocol in mDNS TXT field: address=192.0.2.10, iface=eth0, TXT=["nqn=` + testNQN + `"]`},
		{"p=walmart", with("192.0.2.10", 8009, "p=walmart"),
			`Received invalid/undefined protocol in mDNS TXT field: address=192.0.2.10, iface=eth0, TXT=["p=walmart"]`},
		{"hostile bytes escaped", with("192.0.2.10\n", 8009, "p=\x1b[2Jtcp", "\xff\xfe"),
			`Received invalid/undefined protocol in mDNS TXT field: address="192.0.2.10\n", iface=eth0, TXT=["p=\x1b[2Jtcp", "\xff\xfe"]`},
		{"nqn smuggling an option", with("192.0.2.10", 8009, "p=tcp", "nqn=a,host_iface=x"),
			`Received invalid NQN in mDNS TXT field: address=192.0.2.10, iface=eth0: invalid NQN: subsystem NQN "a,host_iface=x" contains a comma`},
		{"nqn too long", with("192.0.2.10", 8009, "p=tcp", "nqn="+strings.Repeat("n", 223)),
			`Received invalid NQN in mDNS TXT field: address=192.0.2.10, iface=eth0: invalid NQN: subsystem NQN is too long (223 bytes, the kernel takes at most 222)`},
		{"host name", with("cdc.local", 8009, "p=tcp"), `Received invalid address in mDNS service: address=cdc.local, iface=eth0`},
		{"zone", with("fe80::1%eth1", 8009, "p=tcp"), `Received invalid address in mDNS service: address=fe80::1%eth1, iface=eth0`},
		{"option in address", with("1.2.3.4,nqn=x", 8009, "p=tcp"), `Received invalid address in mDNS service: address=1.2.3.4,nqn=x, iface=eth0`},
		{"empty address", with("", 8009, "p=tcp"), `Received invalid address in mDNS service: address=, iface=eth0`},
		{"unspecified", with("0.0.0.0", 8009, "p=tcp"), `Received non-unicast address in mDNS service: address=0.0.0.0, iface=eth0`},
		{"multicast", with("ff02::1", 8009, "p=tcp"), `Received non-unicast address in mDNS service: address=ff02::1, iface=eth0`},
		{"broadcast", with("255.255.255.255", 8009, "p=tcp"), `Received non-unicast address in mDNS service: address=255.255.255.255, iface=eth0`},
		{"port 0", with("192.0.2.10", 0, "p=tcp"), `Received invalid port 0 in mDNS service: address=192.0.2.10, iface=eth0`},
	}
	for _, tt := range bad {
		_, err := identify(tt.in, "eth0", true)
		var ue unusableError
		if !errors.As(err, &ue) || err.Error() != tt.want {
			t.Errorf("%s: identify error\n got %v\nwant %s", tt.name, err, tt.want)
		}
	}
}

func TestValidIfname(t *testing.T) {
	for name, want := range map[string]bool{"eth0": true, "lo": true, "enp0s31f6.100": true, "a-b_c@d": true,
		"": false, "sixteen-chars-xx": false, "a,b": false, "a b": false, "a=b": false, "a/b": false, "a\x00": false, "é": false} {
		if got := validIfname(name); got != want {
			t.Errorf("validIfname(%q) = %v", name, got)
		}
	}
}

func TestFormatTXTLimits(t *testing.T) {
	var many [][]byte
	for range 20 {
		many = append(many, []byte("k=v"))
	}
	if got := formatTXT(many); !strings.HasSuffix(got, `"k=v", ...4 more]`) {
		t.Errorf("formatTXT(20 items) = %s", got)
	}
	if got := formatTXT(items(strings.Repeat("x", 100))); got != `["`+strings.Repeat("x", 80)+`"...(100 bytes)]` {
		t.Errorf("formatTXT(long item) = %s", got)
	}
	if got := clean(strings.Repeat("y", 300)); got != `"`+strings.Repeat("y", 256)+`"...` {
		t.Errorf("clean(long) = %s", got)
	}
}

func TestCleanTypes(t *testing.T) {
	got := cleanTypes(nil, []string{ServiceTypeTCP, "", "_x._udp", ServiceTypeTCP, "nounderscore._tcp", "_a b._tcp", "_x._sctp", "_" + strings.Repeat("a", 63) + "._tcp"})
	want := []string{ServiceTypeTCP, "_x._udp"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("cleanTypes = %q, want %q", got, want)
	}
	if ServiceTypes(false) == nil || len(ServiceTypes(false)) != 0 || len(ServiceTypes(true)) != 2 {
		t.Error("ServiceTypes")
	}
}

func TestInfoKeyAndProtocolNames(t *testing.T) {
	k := Key{Interface: 3, Protocol: 1, Name: "CDC", Type: ServiceTypeTCP, Domain: "local"}
	if got := infoKey("eth0", k); got != "(eth0, IPv6, CDC.local, _nvme-disc._tcp)" {
		t.Errorf("infoKey = %s", got)
	}
	for p, want := range map[int32]string{0: "IPv4", 1: "IPv6", -1: "unspecified", 7: "unknown"} {
		if got := protocolName(p); got != want {
			t.Errorf("protocolName(%d) = %s", p, got)
		}
	}
	if got := serviceSubject(Key{1, 0, "a\nb", "t", "d"}); got != `(1, IPv4, "a\nb".d, t)` {
		t.Errorf("serviceSubject = %s", got)
	}
}
