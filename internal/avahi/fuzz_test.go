// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// splitItems makes TXT items of fuzz input: NUL separates them.
func splitItems(b []byte) [][]byte { return bytes.Split(b, []byte{0}) }

func FuzzParseTXT(f *testing.F) {
	f.Add([]byte("NqN=Starfleet\x00p=tcp"))
	f.Add([]byte("Nqn=Starfleet\x00p=\x00blah\x00="))
	f.Add([]byte("\xe8=\x40"))
	f.Add([]byte("k=a=b\x00P=RDMA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k, v := range ParseTXT(splitItems(data)) {
			if k == "" || k != strings.ToLower(k) || !printableASCII([]byte(k+v)) || strings.Contains(k, "=") || len(k)+len(v) >= maxTXTItemLen {
				t.Fatalf("ParseTXT gave %q=%q", k, v)
			}
		}
	})
}

// FuzzIdentify checks that nothing from an mDNS announcement reaches a TID unvalidated,
// and that log lines carry no raw control bytes.
func FuzzIdentify(f *testing.F) {
	f.Add("192.0.2.1", uint16(8009), []byte("p=tcp\x00nqn="+testNQN), true)
	f.Add("::ffff:192.0.2.1", uint16(4420), []byte("P=roce"), false)
	f.Add("fe80::1", uint16(8009), []byte("p=tcp\x00nqn=a,host_iface=x"), true)
	f.Add("fe80::1%eth0", uint16(1), []byte("p=walmart"), true)
	f.Add("1.2.3.4\n", uint16(0), []byte("nqn=\xff"), true)
	f.Fuzz(func(t *testing.T, address string, port uint16, txt []byte, tp8013 bool) {
		id, err := identify(resolved{Interface: 2, Address: address, Port: port, TXT: splitItems(txt)}, "eth0", tp8013)
		if err != nil {
			if msg := err.Error(); !printableASCII([]byte(msg)) {
				t.Fatalf("log line with raw bytes: %q", msg)
			}
			return
		}
		u := id.tid
		if u.Transport != tid.TCP && u.Transport != tid.RDMA {
			t.Fatalf("transport %q", u.Transport)
		}
		if err := nqn.ValidateSubsystem(u.SubsysNQN); err != nil {
			t.Fatalf("subsysnqn %q: %v", u.SubsysNQN, err)
		}
		if !tp8013 && u.SubsysNQN != nqn.WellKnownDiscovery {
			t.Fatalf("announced NQN %q used without TP8013", u.SubsysNQN)
		}
		a, perr := netip.ParseAddr(u.Traddr)
		if perr != nil || a.Zone() != "" || a.Is4In6() || a != id.addr.Addr() || a.IsUnspecified() || a.IsMulticast() {
			t.Fatalf("traddr %q (probe %v)", u.Traddr, id.addr)
		}
		if p, _ := strconv.Atoi(u.Trsvcid); p < 1 || p > 65535 || uint16(p) != id.addr.Port() {
			t.Fatalf("trsvcid %q", u.Trsvcid)
		}
		if (u.Transport == tid.TCP) != (u.HostIface == "eth0") || u.HostTraddr != "" || u.HostNQN != "" {
			t.Fatalf("host fields %+v", u)
		}
		for _, s := range []string{u.Traddr, u.Trsvcid, u.SubsysNQN} {
			if strings.ContainsAny(s, ", \n") {
				t.Fatalf("field %q could split a kernel option string", s)
			}
		}
	})
}
