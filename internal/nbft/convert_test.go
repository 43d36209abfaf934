// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

const (
	dellHostNQN   = "nqn.1988-11.com.dell:PowerEdge.R760.1234567"
	dellSubsysNQN = "nqn.1988-11.com.dell:powerstore:00:2a64abf1c5b81F6C4549"
)

// lookupOf returns an IfaceLookup that knows the given "mac/vlan" → name pairs.
func lookupOf(known map[string]string) IfaceLookup {
	return func(mac string, vlan uint16) string {
		key := mac
		if vlan != 0 {
			key += "/" + strconv.Itoa(int(vlan))
		}
		return known[key]
	}
}

// The §14.2 vectors: the fixture's controllers on a machine without the HFI's MAC.
func TestFixtureControllers(t *testing.T) {
	tbl, err := Parse(readFixture(t, "NBFT"))
	if err != nil {
		t.Fatal(err)
	}
	noMatch := lookupOf(nil)
	dcs, errs := tbl.DiscoveryControllers(noMatch)
	wantDC := []tid.TID{{Transport: "tcp", Traddr: "100.71.103.50", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostNQN: dellHostNQN}}
	if !slices.Equal(dcs, wantDC) || len(errs) != 0 {
		t.Errorf("DiscoveryControllers = %+v, %v; want %+v", dcs, errs, wantDC)
	}
	ios, errs := tbl.IOControllers(noMatch)
	if len(ios) != 2 || len(errs) != 0 {
		t.Fatalf("IOControllers = %+v, %v", ios, errs)
	}
	for i, addr := range []string{"100.71.103.48", "100.71.103.49"} {
		want := tid.TID{Transport: "tcp", Traddr: addr, Trsvcid: "4420", SubsysNQN: dellSubsysNQN, HostNQN: dellHostNQN}
		if ios[i].TID != want || ios[i].HeaderDigest || ios[i].DataDigest || ios[i].Subsystem != tbl.Subsystems[i] {
			t.Errorf("I/O controller %d = %+v, want %+v without digests", i, ios[i], want)
		}
	}

	// With the HFI's MAC on the machine, host-iface is that interface.
	withMAC := lookupOf(map[string]string{"b0:26:28:e8:7c:0e": "ens1f0"})
	dcs, _ = tbl.DiscoveryControllers(withMAC)
	ios, _ = tbl.IOControllers(withMAC)
	if len(dcs) != 1 || dcs[0].HostIface != "ens1f0" || ios[0].TID.HostIface != "ens1f0" || ios[1].TID.HostIface != "ens1f0" {
		t.Errorf("host-iface not resolved: %+v, %+v", dcs, ios)
	}
	// No lookup at all behaves as no match.
	if dcs, _ := tbl.DiscoveryControllers(nil); dcs[0].HostIface != "" {
		t.Errorf("nil lookup gave host-iface %q", dcs[0].HostIface)
	}
}

func TestSyntheticControllers(t *testing.T) {
	tbl, err := Parse(goodSpec().build())
	if err != nil {
		t.Fatal(err)
	}
	lookup := lookupOf(map[string]string{"02:00:00:00:00:01": "eth0", "02:00:00:00:00:02/10": "eth1.10"})
	dcs, errs := tbl.DiscoveryControllers(lookup)
	host := goodSpec().hostNQN
	want := []tid.TID{
		{Transport: "tcp", Traddr: "192.0.2.20", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth0", HostNQN: host},
		// No port: 8009 (nvme-stas quirk 25 gave "None"); no NQN: the well-known one.
		{Transport: "tcp", Traddr: "2001:db8::20", Trsvcid: "8009", SubsysNQN: nqn.WellKnownDiscovery, HostIface: "eth1.10", HostNQN: host},
	}
	if !slices.Equal(dcs, want) || len(errs) != 0 {
		t.Errorf("DiscoveryControllers =\n%+v, %v\nwant\n%+v", dcs, errs, want)
	}
	ios, errs := tbl.IOControllers(lookup)
	if len(ios) != 2 || len(errs) != 0 {
		t.Fatalf("IOControllers = %+v, %v", ios, errs)
	}
	if got, want := ios[0].TID, (tid.TID{Transport: "tcp", Traddr: "192.0.2.30", Trsvcid: "4420", SubsysNQN: "nqn.2014-08.org.example:boot", HostIface: "eth0", HostNQN: host}); got != want || !ios[0].HeaderDigest || !ios[0].DataDigest {
		t.Errorf("I/O controller 0 = %+v, want %+v with digests", ios[0], want)
	}
	// No trsvcid: an I/O controller defaults to 4420.
	if got := ios[1].TID; got.Trsvcid != "4420" || got.Traddr != "2001:db8::30" || got.HostIface != "eth1.10" {
		t.Errorf("I/O controller 1 = %+v", got)
	}
}

func TestControllersHostNQN(t *testing.T) {
	tests := []struct {
		name      string
		flags     byte
		nqn       string
		wantHost  string
		wantError bool
	}{
		{"configured", flagValid | hostNQNConfigured, "nqn.2014-08.org.example:host", "nqn.2014-08.org.example:host", false},
		{"driver default is not used", flagValid, "nqn.2014-08.org.example:host", "", false},
		{"configured but invalid", flagValid | hostNQNConfigured, "host,bad", "", true},
	}
	for _, tt := range tests {
		spec := goodSpec()
		spec.hostFlags, spec.hostNQN = tt.flags, tt.nqn
		tbl, err := Parse(spec.build())
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		tbl.Name = "NBFT1"
		dcs, ios, errs := Controllers([]*Table{tbl}, nil)
		if len(dcs) != 2 || len(ios) != 2 {
			t.Fatalf("%s: Controllers = %+v, %+v, %v", tt.name, dcs, ios, errs)
		}
		if dcs[0].HostNQN != tt.wantHost || ios[0].TID.HostNQN != tt.wantHost {
			t.Errorf("%s: host-nqn = %q / %q, want %q", tt.name, dcs[0].HostNQN, ios[0].TID.HostNQN, tt.wantHost)
		}
		if tt.wantError != (len(errs) == 1) || tt.wantError && !strings.Contains(errs[0].Error(), "NBFT NBFT1 host descriptor") {
			t.Errorf("%s: errors %v (one wanted: %v)", tt.name, errs, tt.wantError)
		}
	}
}

func TestDiscoveryURIs(t *testing.T) {
	tests := []struct {
		uri     string
		want    tid.TID // zero: refused
		errText string
	}{
		{"nvme+tcp://192.0.2.1:4420/", tid.TID{Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "4420"}, ""},
		{"nvme+tcp://192.0.2.1", tid.TID{Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "8009"}, ""},
		{"nvme+tcp://192.0.2.1:/", tid.TID{Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "8009"}, ""},
		{"NVME+TCP://[2001:DB8:0::1]:8009/", tid.TID{Transport: "tcp", Traddr: "2001:db8::1", Trsvcid: "8009"}, ""},
		{"nvme+tcp://[::ffff:192.0.2.1]:8009/", tid.TID{Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "8009"}, ""},
		{"nvme+tcp://[fe80::1%25eth0]:8009/", tid.TID{Transport: "tcp", Traddr: "fe80::1", Trsvcid: "8009"}, ""},
		{"nvme+rdma://192.0.2.1/", tid.TID{Transport: "rdma", Traddr: "192.0.2.1", Trsvcid: "4420"}, ""},
		{"nvme+fc://192.0.2.1/", tid.TID{}, "transport \"fc\""},
		{"http://192.0.2.1/", tid.TID{}, "scheme"},
		{"nvme+tcp:192.0.2.1", tid.TID{}, "no host"},
		{"nvme+tcp:///path", tid.TID{}, "no host"},
		{"nvme+tcp://user@192.0.2.1/", tid.TID{}, "user information"},
		{"nvme+tcp://array.example:8009/", tid.TID{}, "not an IP address"},
		{"nvme+tcp://192.0.2.1:0/", tid.TID{}, "port \"0\""},
		{"nvme+tcp://192.0.2.1:65536/", tid.TID{}, "port \"65536\""},
		{"nvme+tcp://192.0.2.1:08009/", tid.TID{}, "port \"08009\""},
		{"nvme+tcp://224.0.0.1/", tid.TID{}, "not a unicast"},
		{"nvme+tcp://0.0.0.0/", tid.TID{}, "not a unicast"},
		{"nvme+tcp://255.255.255.255/", tid.TID{}, "not a unicast"},
		{"nvme+tcp://192.0.2.1:80a/", tid.TID{}, "URI"},
		{"nvme+tcp://%zz/", tid.TID{}, "URI"},
	}
	for _, tt := range tests {
		spec := goodSpec()
		spec.hostFlags = flagValid
		spec.discs = []discSpec{{index: 1, hfi: 9, uri: tt.uri, nqn: "nqn.2014-08.org.example:dc"}}
		tbl, err := Parse(spec.build())
		if err != nil {
			t.Fatalf("%s: %v", tt.uri, err)
		}
		dcs, errs := tbl.DiscoveryControllers(nil)
		if tt.want == (tid.TID{}) {
			if len(dcs) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.errText) || !errors.Is(errs[0], errEntry) {
				t.Errorf("%s: got %+v, %v; want refusal mentioning %q", tt.uri, dcs, errs, tt.errText)
			}
			continue
		}
		tt.want.SubsysNQN = "nqn.2014-08.org.example:dc"
		if len(dcs) != 1 || dcs[0] != tt.want || len(errs) != 0 {
			t.Errorf("%s: got %+v, %v; want %+v", tt.uri, dcs, errs, tt.want)
		}
	}
}

func TestControllersRefuseBadEntries(t *testing.T) {
	spec := goodSpec()
	spec.discs[0].nqn = "nqn.bad,nqn"
	spec.ssns[0].trsvcid = "http"
	spec.ssns[1].nqn = "nqn." + strings.Repeat("a", 230)
	tbl, err := Parse(spec.build())
	if err != nil {
		t.Fatal(err)
	}
	dcs, ios, errs := Controllers([]*Table{tbl}, nil)
	if len(dcs) != 1 || len(ios) != 0 || len(errs) != 3 {
		t.Fatalf("Controllers = %+v, %+v, %v", dcs, ios, errs)
	}
	for i, want := range []string{"discovery descriptor 1", "SSNS descriptor 1: entry left out: port \"http\"", "SSNS descriptor 2"} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d = %v, want it to mention %q", i, errs[i], want)
		}
	}
	// A multicast subsystem address can only come from a broken table.
	tbl, err = Parse(goodSpec().build())
	if err != nil {
		t.Fatal(err)
	}
	tbl.Subsystems[0].Traddr = netip.MustParseAddr("239.1.1.1")
	if ios, errs := tbl.IOControllers(nil); len(ios) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "not a unicast") {
		t.Errorf("multicast subsystem address accepted: %+v, %v", ios, errs)
	}
}

func TestControllersAcrossTablesDeduplicate(t *testing.T) {
	a, err := Parse(readFixture(t, "NBFT"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse(readFixture(t, "NBFT"))
	spec := goodSpec()
	spec.discs = append(spec.discs, spec.discs[0]) // the same DC twice in one table
	c, _ := Parse(spec.build())
	dcs, ios, errs := Controllers([]*Table{a, b, c}, nil)
	if len(dcs) != 3 || len(ios) != 4 || len(errs) != 0 {
		t.Errorf("Controllers = %d DCs, %d I/O controllers, %v; want 3, 4, none", len(dcs), len(ios), errs)
	}
	if dcs, _ := c.DiscoveryControllers(nil); len(dcs) != 2 {
		t.Errorf("duplicate DC in one table not merged: %+v", dcs)
	}
}

func TestIsBootConnection(t *testing.T) {
	tbl, err := Parse(readFixture(t, "NBFT"))
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := tbl.IOControllers(nil)
	kernel := tid.TID{Transport: "tcp", Traddr: "100.71.103.49", Trsvcid: "4420", SubsysNQN: dellSubsysNQN,
		HostIface: "ens1f0", HostTraddr: "100.71.245.232", HostNQN: "nqn.other"}
	if !IsBootConnection(kernel, boot) {
		t.Error("the boot connection (with other host fields) is not recognised")
	}
	mapped := kernel
	mapped.Traddr = "::ffff:100.71.103.49"
	if !IsBootConnection(mapped, boot) {
		t.Error("an IPv4-mapped spelling is not recognised")
	}
	for _, edit := range []func(*tid.TID){
		func(k *tid.TID) { k.Traddr = "100.71.103.50" },
		func(k *tid.TID) { k.Trsvcid = "4421" },
		func(k *tid.TID) { k.SubsysNQN = "nqn.other" },
		func(k *tid.TID) { k.Transport = "rdma" },
		func(k *tid.TID) { k.Traddr = "not-an-address" },
	} {
		k := kernel
		edit(&k)
		if IsBootConnection(k, boot) {
			t.Errorf("%+v taken for a boot connection", k)
		}
	}
	if IsBootConnection(kernel, nil) {
		t.Error("boot connection without any table")
	}
	if !sameAddr("host.example", "host.example") || sameAddr("host.example", "100.71.103.49") {
		t.Error("sameAddr on names wrong")
	}
}
