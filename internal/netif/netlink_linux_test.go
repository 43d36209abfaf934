// SPDX-License-Identifier: Apache-2.0

//go:build linux

package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests ask the kernel of the machine they run on. They do not assume a default
// route: what needs one, or its absence, is run in a network namespace of its own.

func TestReadTableMatchesStdlib(t *testing.T) {
	tbl, err := ReadTable()
	if err != nil {
		t.Fatal(err)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Interfaces) != len(ifaces) {
		t.Errorf("ReadTable has %d interfaces, net.Interfaces %d", len(tbl.Interfaces), len(ifaces))
	}
	for _, want := range ifaces {
		got, ok := tbl.ByName(want.Name)
		if !ok {
			t.Errorf("interface %s missing", want.Name)
			continue
		}
		// The standard library leaves out an all-zero MAC (loopback's).
		if got.Index != want.Index || len(want.HardwareAddr) > 0 && got.MAC.String() != want.HardwareAddr.String() {
			t.Errorf("%s: index %d MAC %v, want %d %v", want.Name, got.Index, got.MAC, want.Index, want.HardwareAddr)
		}
		addrs, err := want.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		var wantP []string
		for _, a := range addrs {
			ipn := a.(*net.IPNet)
			ip, _ := netip.AddrFromSlice(ipn.IP)
			bits, _ := ipn.Mask.Size()
			wantP = append(wantP, netip.PrefixFrom(ip.Unmap(), bits).String())
		}
		var gotP []string
		for _, p := range got.Prefixes {
			gotP = append(gotP, p.String())
		}
		slices.Sort(wantP)
		slices.Sort(gotP)
		if !slices.Equal(gotP, wantP) {
			t.Errorf("%s: prefixes %v, want %v", want.Name, gotP, wantP)
		}
	}
	lo, ok := tbl.ByName("lo")
	if !ok || lo.Type != ARPHRDLoopback || tbl.InterfaceOf(netip.MustParseAddr("127.0.0.1")) != "lo" {
		t.Errorf("lo = %+v", lo)
	}
	if InterfaceOf(netip.MustParseAddr("127.0.0.1")) != "lo" || PrimaryAddr("lo", IPv4) != netip.MustParseAddr("127.0.0.1") {
		t.Error("package-level InterfaceOf/PrimaryAddr wrong for lo")
	}
	for _, ifc := range tbl.Interfaces {
		if ifc.Type == ARPHRDEther && len(ifc.MAC) == 6 && ifc.Kind != "vlan" && ifc.MasterIndex == 0 {
			if got := InterfaceByMAC(strings.ToUpper(ifc.MAC.String())); got != tbl.InterfaceByMAC(ifc.MAC.String()) || got == "" {
				t.Errorf("InterfaceByMAC(%v) = %q", ifc.MAC, got)
			}
		}
	}
}

func TestRouteToLoopback(t *testing.T) {
	iface, src, err := RouteTo(netip.MustParseAddr("127.0.0.1"), "")
	if err != nil || iface != "lo" || src != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("RouteTo(127.0.0.1) = %q, %v, %v; want lo, 127.0.0.1", iface, src, err)
	}
	r, err := LookupRoute(netip.MustParseAddr("::ffff:127.0.0.1"), "")
	if err != nil || !r.Local() || r.Iface != "lo" {
		t.Errorf("LookupRoute(::ffff:127.0.0.1) = %+v, %v", r, err)
	}
}

// A neighbour on the subnet of one of the machine's interfaces is reached through that
// interface, from its address.
func TestRouteToLocalSubnet(t *testing.T) {
	tbl, err := ReadTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range tbl.Interfaces {
		if ifc.Type != ARPHRDEther || !ifc.Up() {
			continue
		}
		for _, p := range ifc.Prefixes {
			if !p.Addr().Is4() || p.Bits() > 30 || p.Addr().IsLinkLocalUnicast() {
				continue
			}
			dst := p.Masked().Addr().Next()
			if dst == p.Addr() {
				dst = dst.Next()
			}
			if tbl.InterfaceOf(dst) != "" {
				continue
			}
			iface, src, err := RouteTo(dst, "")
			if err != nil || iface != ifc.Name || src != p.Addr() {
				t.Errorf("RouteTo(%v) = %q, %v, %v; want %s, %v", dst, iface, src, err, ifc.Name, p.Addr())
			}
			iface, _, err = RouteTo(dst, ifc.Name)
			if err != nil || iface != ifc.Name {
				t.Errorf("RouteTo(%v, %s) = %q, %v", dst, ifc.Name, iface, err)
			}
			// The interface's own address is local: the kernel reaches it through lo.
			if r, err := LookupRoute(p.Addr(), ""); err != nil || !r.Local() || r.Iface != "lo" || r.Src != p.Addr() {
				t.Errorf("LookupRoute(%v) = %+v, %v; want local through lo", p.Addr(), r, err)
			}
			return
		}
	}
	t.Skip("no Ethernet interface with an IPv4 subnet here")
}

func TestRouteErrors(t *testing.T) {
	_, _, err := RouteTo(netip.MustParseAddr("192.0.2.1"), "nosuch0")
	if !errors.Is(err, ErrNoSuchInterface) {
		t.Errorf("unknown oif: %v", err)
	}
	_, _, err = RouteTo(netip.MustParseAddr("192.0.2.1"), "a-name-longer-than-ifnamsiz")
	if !errors.Is(err, ErrNoSuchInterface) {
		t.Errorf("long oif: %v", err)
	}
	if _, _, err := RouteTo(netip.Addr{}, ""); err == nil {
		t.Error("invalid destination accepted")
	}
	// Only when this machine has no default route is an outside address unreachable.
	if _, err := MatchRoute(netip.MustParseAddr("203.0.113.1"), ""); err != nil {
		if !errors.Is(err, ErrNoRoute) || !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("no default route, but: %v", err)
		}
	} else {
		t.Log("this machine has a default route; unreachability is tested in a namespace")
	}
}

// inNetns runs fn on a thread inside a fresh network namespace configured by the given
// `ip` commands. It needs root and iproute2; veth pairs need the veth module.
func inNetns(t *testing.T, setup [][]string, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	ns := fmt.Sprintf("stas-netif-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, c := range setup {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, c...)...).CombinedOutput(); err != nil {
			if strings.Contains(string(out), "Unknown device type") {
				t.Skipf("ip %v: %s", c, out)
			}
			t.Fatalf("ip %v: %v: %s", c, err, out)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread is left locked: when the goroutine ends it dies with the namespace.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// vethSetup: d0 10.1.0.1/24 and fd01::1/64 (default route via 10.1.0.254), d1
// 10.2.0.1/24 with 10.50.0.0/16 via 10.2.0.254, p1 with only fd02::1/64; lo up.
var vethSetup = [][]string{
	{"link", "set", "lo", "up"},
	{"link", "add", "d0", "type", "veth", "peer", "name", "p0"},
	{"link", "add", "d1", "type", "veth", "peer", "name", "p1"},
	{"link", "set", "d0", "up"}, {"link", "set", "p0", "up"}, {"link", "set", "d1", "up"}, {"link", "set", "p1", "up"},
	{"addr", "add", "10.1.0.1/24", "dev", "d0"},
	{"-6", "addr", "add", "fd01::1/64", "dev", "d0", "nodad"},
	{"addr", "add", "10.2.0.1/24", "dev", "d1"},
	{"-6", "addr", "add", "fd02::1/64", "dev", "p1", "nodad"},
	{"route", "add", "default", "via", "10.1.0.254", "dev", "d0"},
	{"route", "add", "10.50.0.0/16", "via", "10.2.0.254", "dev", "d1"},
}

func TestNetnsNoRoute(t *testing.T) {
	inNetns(t, [][]string{{"link", "set", "lo", "up"}}, func() {
		_, _, err := RouteTo(netip.MustParseAddr("192.0.2.99"), "")
		if !errors.Is(err, ErrNoRoute) || !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("RouteTo without any route: %v; want ENETUNREACH", err)
		}
		if _, _, err := RouteTo(netip.MustParseAddr("2001:db8::99"), ""); !errors.Is(err, ErrNoRoute) {
			t.Errorf("RouteTo(IPv6) without any route: %v", err)
		}
		if iface, _, err := RouteTo(netip.MustParseAddr("127.0.0.1"), ""); err != nil || iface != "lo" {
			t.Errorf("RouteTo(127.0.0.1) = %q, %v", iface, err)
		}
		tbl, err := ReadTable()
		if err != nil || len(tbl.Interfaces) != 1 || tbl.Interfaces[0].Name != "lo" {
			t.Errorf("ReadTable in an empty namespace = %+v, %v", tbl, err)
		}
	})
}

func TestNetnsRoutes(t *testing.T) {
	inNetns(t, vethSetup, func() {
		tbl, err := ReadTable()
		if err != nil {
			t.Fatal(err)
		}
		// p1 has only an IPv6 address and is still there (nvme-stas quirk 9).
		if got := tbl.InterfaceOf(netip.MustParseAddr("fd02::1")); got != "p1" {
			t.Errorf("InterfaceOf(fd02::1) = %q, want p1", got)
		}
		tests := []struct {
			dst, oif  string
			wantIface string
			wantSrc   string
			wantErr   error
		}{
			{"10.1.0.77", "", "d0", "10.1.0.1", nil},
			{"10.9.9.9", "", "d0", "10.1.0.1", nil},
			{"10.50.1.1", "", "d1", "10.2.0.1", nil},
			{"10.50.1.1", "d0", "d0", "10.1.0.1", nil},
			{"fd01::7", "", "d0", "fd01::1", nil},
			{"fd03::7", "", "", "", ErrNoRoute}, // no IPv6 default route
			{"fd01::7", "d1", "", "", ErrNoRoute},
			{"fe80::1", "d1", "d1", "", nil},
		}
		for _, tt := range tests {
			iface, src, err := RouteTo(netip.MustParseAddr(tt.dst), tt.oif)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("RouteTo(%s, %q) = %q, %v, %v; want %v", tt.dst, tt.oif, iface, src, err, tt.wantErr)
				}
				continue
			}
			if err != nil || iface != tt.wantIface || tt.wantSrc != "" && src.String() != tt.wantSrc {
				t.Errorf("RouteTo(%s, %q) = %q, %v, %v; want %s, %s", tt.dst, tt.oif, iface, src, err, tt.wantIface, tt.wantSrc)
			}
		}
		// A zone picks the output interface, by name or by index.
		d1, _ := tbl.ByName("d1")
		for _, zone := range []string{"d1", fmt.Sprint(d1.Index)} {
			if iface, _, err := RouteTo(netip.MustParseAddr("fe80::1%"+zone), ""); err != nil || iface != "d1" {
				t.Errorf("RouteTo(fe80::1%%%s) = %q, %v", zone, iface, err)
			}
		}
		if _, _, err := RouteTo(netip.MustParseAddr("fe80::1%999"), ""); !errors.Is(err, ErrNoSuchInterface) {
			t.Errorf("unknown zone index: %v", err)
		}

		// IPv4 assumes on-link through any interface asked for; fibmatch does not.
		r, err := LookupRoute(netip.MustParseAddr("10.9.9.9"), "d1")
		if err != nil || r.Iface != "d1" || r.Gateway.IsValid() {
			t.Errorf("LookupRoute(10.9.9.9, d1) = %+v, %v; want the kernel's on-link assumption", r, err)
		}
		if r, err := MatchRoute(netip.MustParseAddr("10.9.9.9"), "d1"); !errors.Is(err, ErrNoRoute) {
			t.Errorf("MatchRoute(10.9.9.9, d1) = %+v, %v; want ErrNoRoute", r, err)
		}
		r, err = MatchRoute(netip.MustParseAddr("10.9.9.9"), "")
		if err != nil || r.Iface != "d0" || r.Prefix != netip.MustParsePrefix("0.0.0.0/0") || r.Gateway != netip.MustParseAddr("10.1.0.254") {
			t.Errorf("MatchRoute(10.9.9.9) = %+v, %v; want the default route", r, err)
		}
		r, err = MatchRoute(netip.MustParseAddr("10.50.1.1"), "")
		if err != nil || r.Iface != "d1" || r.Prefix != netip.MustParsePrefix("10.50.0.0/16") {
			t.Errorf("MatchRoute(10.50.1.1) = %+v, %v", r, err)
		}

		// The interface rule with the kernel's answers.
		c := NewChooser(false)
		rule := []struct {
			parent, dst, want, reason string
		}{
			{"d0", "10.1.0.9", "d0", "on-link"},
			{"d1", "10.50.1.1", "d1", "routed through the parent's d1 (10.50.0.0/16 via 10.2.0.254)"},
			{"d0", "10.9.9.9", "d0", "routed through the parent's d0 (0.0.0.0/0 via 10.1.0.254)"},
			{"d0", "10.50.1.1", "d1", "is more specific than the parent's d0"},
			{"d1", "10.1.0.9", "d0", "not reachable through the parent's d1"},
			{"d1", "10.9.9.9", "d0", "not reachable through the parent's d1"},
			{"d0", "fd03::1", "", "unreachable"},
			{"d0", "10.2.0.1", "", "local address"},
		}
		for _, tt := range rule {
			got, reason := c.ChooseIface("", tt.parent, netip.MustParseAddr(tt.dst))
			if got != tt.want || !strings.Contains(reason, tt.reason) {
				t.Errorf("ChooseIface(parent %s, %s) = %q, %q; want %q, %q", tt.parent, tt.dst, got, reason, tt.want, tt.reason)
			}
		}
	})
}
