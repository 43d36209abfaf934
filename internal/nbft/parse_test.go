// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectedNBFT mirrors NBFT.expected.json (libnvme's Python nbft_get() of the fixture);
// decoding with DisallowUnknownFields makes sure every field of the file is compared.
type expectedNBFT struct {
	Discovery []struct {
		HFIIndex int    `json:"hfi_index"`
		NQN      string `json:"nqn"`
		URI      string `json:"uri"`
	} `json:"discovery"`
	HFI []struct {
		DHCPOverride          bool   `json:"dhcp_override"`
		DHCPServerIPAddr      string `json:"dhcp_server_ipaddr"`
		GatewayIPAddr         string `json:"gateway_ipaddr"`
		IPOrigin              int    `json:"ip_origin"`
		IPAddr                string `json:"ipaddr"`
		MACAddr               string `json:"mac_addr"`
		PCIDev                string `json:"pcidev"`
		PrimaryDNSIPAddr      string `json:"primary_dns_ipaddr"`
		RouteMetric           int    `json:"route_metric"`
		SecondaryDNSIPAddr    string `json:"secondary_dns_ipaddr"`
		SubnetMaskPrefix      int    `json:"subnet_mask_prefix"`
		ThisHFIIsDefaultRoute bool   `json:"this_hfi_is_default_route"`
		TrType                string `json:"trtype"`
		VLAN                  int    `json:"vlan"`
	} `json:"hfi"`
	Host struct {
		HostIDConfigured     bool   `json:"host_id_configured"`
		HostNQNConfigured    bool   `json:"host_nqn_configured"`
		ID                   string `json:"id"`
		NQN                  string `json:"nqn"`
		PrimaryAdminHostFlag string `json:"primary_admin_host_flag"`
	} `json:"host"`
	Subsystem []struct {
		ASQSZ                   int    `json:"asqsz"`
		ControllerID            int    `json:"controller_id"`
		DataDigestRequired      bool   `json:"data_digest_required"`
		HFIIndexes              []int  `json:"hfi_indexes"`
		NID                     string `json:"nid"`
		NIDType                 string `json:"nid_type"`
		NSID                    int    `json:"nsid"`
		PDUHeaderDigestRequired bool   `json:"pdu_header_digest_required"`
		SubsysNQN               string `json:"subsys_nqn"`
		SubsysPortID            int    `json:"subsys_port_id"`
		TrAddr                  string `json:"traddr"`
		TrSvcID                 string `json:"trsvcid"`
		TrType                  string `json:"trtype"`
	} `json:"subsystem"`
}

// addrText prints an address as libnvme does, for comparison with the JSON.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// hfiPosition is the position libnvme's Python binding gives an HFI in its "hfi" list
// (index - 1), which is what "hfi_index" and "hfi_indexes" refer to.
func hfiPosition(t *testing.T, tbl *Table, h *HFI) int {
	t.Helper()
	i := slices.Index(tbl.HFIs, h)
	if i < 0 {
		t.Fatalf("HFI %p is not in the table's list", h)
	}
	if i != h.Index-1 {
		t.Errorf("HFI at list position %d has index %d; the JSON positions assume index-1", i, h.Index)
	}
	return i
}

func TestParseFixtureMatchesExpectedJSON(t *testing.T) {
	tbl, err := Parse(readFixture(t, "NBFT"))
	if err != nil {
		t.Fatalf("Parse(NBFT): %v", err)
	}
	var want expectedNBFT
	dec := json.NewDecoder(bytes.NewReader(readFixture(t, "NBFT.expected.json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("decode NBFT.expected.json: %v", err)
	}
	if len(tbl.Warnings) != 0 {
		t.Errorf("warnings on the fixture: %v", tbl.Warnings)
	}
	if tbl.OEMID != "DELL" || tbl.OEMTableID != "PE_SC3" {
		t.Errorf("OEM IDs = %q, %q", tbl.OEMID, tbl.OEMTableID)
	}

	type cmp struct {
		field     string
		got, want any
	}
	var checks []cmp
	h := tbl.Host
	checks = append(checks,
		cmp{"host.host_id_configured", h.IDConfigured, want.Host.HostIDConfigured},
		cmp{"host.host_nqn_configured", h.NQNConfigured, want.Host.HostNQNConfigured},
		cmp{"host.id", h.IDString(), want.Host.ID},
		cmp{"host.nqn", h.NQN, want.Host.NQN},
		cmp{"host.primary_admin_host_flag", h.PrimaryAdmin.String(), want.Host.PrimaryAdminHostFlag},
		cmp{"len(hfi)", len(tbl.HFIs), len(want.HFI)},
		cmp{"len(discovery)", len(tbl.Discovery), len(want.Discovery)},
		cmp{"len(subsystem)", len(tbl.Subsystems), len(want.Subsystem)},
	)
	for i := range min(len(tbl.HFIs), len(want.HFI)) {
		g, w := tbl.HFIs[i], want.HFI[i]
		checks = append(checks,
			cmp{"hfi.dhcp_override", g.DHCPOverride, w.DHCPOverride},
			cmp{"hfi.dhcp_server_ipaddr", addrText(g.DHCPServer), w.DHCPServerIPAddr},
			cmp{"hfi.gateway_ipaddr", addrText(g.Gateway), w.GatewayIPAddr},
			cmp{"hfi.ip_origin", int(g.IPOrigin), w.IPOrigin},
			cmp{"hfi.ipaddr", addrText(g.Addr), w.IPAddr},
			cmp{"hfi.mac_addr", g.MAC.String(), w.MACAddr},
			cmp{"hfi.pcidev", g.PCIDev(), w.PCIDev},
			cmp{"hfi.primary_dns_ipaddr", addrText(g.PrimaryDNS), w.PrimaryDNSIPAddr},
			cmp{"hfi.route_metric", int(g.RouteMetric), w.RouteMetric},
			cmp{"hfi.secondary_dns_ipaddr", addrText(g.SecondaryDNS), w.SecondaryDNSIPAddr},
			cmp{"hfi.subnet_mask_prefix", int(g.PrefixLen), w.SubnetMaskPrefix},
			cmp{"hfi.this_hfi_is_default_route", g.DefaultRoute, w.ThisHFIIsDefaultRoute},
			cmp{"hfi.trtype", g.Transport, w.TrType},
			cmp{"hfi.vlan", int(g.VLAN), w.VLAN},
			cmp{"hfi.host_name (absent from the JSON)", g.HostName, ""},
		)
	}
	for i := range min(len(tbl.Discovery), len(want.Discovery)) {
		g, w := tbl.Discovery[i], want.Discovery[i]
		checks = append(checks,
			cmp{"discovery.hfi_index", hfiPosition(t, tbl, g.HFI), w.HFIIndex},
			cmp{"discovery.nqn", g.NQN, w.NQN},
			cmp{"discovery.uri", g.URI, w.URI},
		)
	}
	for i := range min(len(tbl.Subsystems), len(want.Subsystem)) {
		g, w := tbl.Subsystems[i], want.Subsystem[i]
		var idx []int
		for _, h := range g.HFIs {
			idx = append(idx, hfiPosition(t, tbl, h))
		}
		checks = append(checks,
			cmp{"subsystem.asqsz", int(g.ASQSZ), w.ASQSZ},
			cmp{"subsystem.controller_id", int(g.ControllerID), w.ControllerID},
			cmp{"subsystem.data_digest_required", g.DataDigest, w.DataDigestRequired},
			cmp{"subsystem.hfi_indexes", slices.Equal(idx, w.HFIIndexes), true},
			cmp{"subsystem.nid", g.NIDString(), w.NID},
			cmp{"subsystem.nid_type", g.NIDType.String(), w.NIDType},
			cmp{"subsystem.nsid", int(g.NSID), w.NSID},
			cmp{"subsystem.pdu_header_digest_required", g.HeaderDigest, w.PDUHeaderDigestRequired},
			cmp{"subsystem.subsys_nqn", g.NQN, w.SubsysNQN},
			cmp{"subsystem.subsys_port_id", int(g.SubsysPort), w.SubsysPortID},
			cmp{"subsystem.traddr", addrText(g.Traddr), w.TrAddr},
			cmp{"subsystem.trsvcid", g.Trsvcid, w.TrSvcID},
			cmp{"subsystem.trtype", g.Transport, w.TrType},
		)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	// Facts of the fixture the JSON does not show.
	s := tbl.Subsystems[0]
	if s.Discovery != tbl.Discovery[0] || !s.Discovered || s.Unavailable || s.NonBootable || s.Security != nil {
		t.Errorf("subsystem 0 links/flags: discovery %p (want %p), discovered %v, unavailable %v, non-bootable %v, security %v",
			s.Discovery, tbl.Discovery[0], s.Discovered, s.Unavailable, s.NonBootable, s.Security)
	}
	if p := tbl.HFIs[0].Prefix(); p.String() != "100.71.245.232/24" {
		t.Errorf("HFI prefix = %v", p)
	}
}

func TestParseEmptyAndGarbage(t *testing.T) {
	if tbl, err := Parse(readFixture(t, "NBFT-Empty")); !errors.Is(err, ErrEmpty) || tbl != nil {
		t.Errorf("Parse(NBFT-Empty) = %v, %v; want nil, ErrEmpty", tbl, err)
	}
	// §14.2: 256 bytes of ca fe ba be decode to nothing. (They even pass the checksum.)
	cafe := bytes.Repeat([]byte{0xca, 0xfe, 0xba, 0xbe}, 64)
	if tbl, err := Parse(cafe); !errors.Is(err, ErrMalformed) || tbl != nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("Parse(cafebabe) = %v, %v; want a signature error", tbl, err)
	}
}

func TestParseTruncatedFixture(t *testing.T) {
	full := readFixture(t, "NBFT")
	for n := 1; n < len(full); n++ {
		if tbl, err := Parse(full[:n]); err == nil {
			t.Fatalf("Parse of the first %d bytes succeeded: %+v", n, tbl)
		}
	}
	// Trailing bytes beyond the header's length are not part of the table.
	long := append(slices.Clone(full), 1, 2, 3)
	if _, err := Parse(long); err != nil {
		t.Errorf("Parse with trailing bytes: %v", err)
	}
}

func TestParseTableErrors(t *testing.T) {
	put32 := func(at int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[at:], v) }
	}
	tests := []struct {
		name string
		spec tableSpec
		want error
		text string
	}{
		{"checksum", tableSpec{badChecksum: true}, ErrMalformed, "checksum"},
		{"major revision", tableSpec{raw: func(b []byte) { b[8] = 2 }}, ErrUnsupported, "major revision 2"},
		{"length below minimum", tableSpec{raw: put32(4, 100)}, ErrMalformed, "shorter than a header"},
		{"length beyond data", tableSpec{raw: put32(4, 1<<20)}, ErrMalformed, "exceeds"},
		{"heap beyond table", tableSpec{raw: put32(40, 1<<20)}, ErrMalformed, "heap"},
		{"control structure ID", tableSpec{raw: func(b []byte) { b[headerLen] = 9 }}, ErrMalformed, "control descriptor"},
		{"host outside table", tableSpec{raw: put32(headerLen+8, 1<<20)}, ErrMalformed, "host descriptor at"},
		{"host inside header", tableSpec{raw: put32(headerLen+8, 8)}, ErrMalformed, "host descriptor at"},
		{"host length short", tableSpec{raw: func(b []byte) { b[headerLen+12] = 4 }}, ErrMalformed, "host descriptor at"},
		{"host not valid", tableSpec{hostFlags: hostNQNConfigured}, ErrMalformed, "not valid"},
		{"host structure ID", tableSpec{raw: func(b []byte) { b[synthHost] = 7 }}, ErrMalformed, "structure ID 7"},
		{"host NQN outside heap", tableSpec{hostNQN: "nqn.x", raw: put32(synthHost+18, 0)}, ErrMalformed, "outside the heap"},
		{"host NQN control bytes", tableSpec{hostNQN: "nqn.\x01"}, ErrMalformed, "printable"},
		{"HFI list outside table", tableSpec{hfis: goodSpec().hfis, raw: put32(headerLen+16, 1<<30)}, ErrMalformed, "HFI descriptor list"},
		{"HFI list in header", tableSpec{hfis: goodSpec().hfis, raw: put32(headerLen+16, 0)}, ErrMalformed, "HFI descriptor list"},
		{"HFI length short", tableSpec{hfis: goodSpec().hfis, raw: func(b []byte) { b[headerLen+20] = 16 }}, ErrMalformed, "shorter than the 32-byte"},
		{"SSNS length short", tableSpec{ssns: goodSpec().ssns, raw: func(b []byte) { b[headerLen+28] = 100 }}, ErrMalformed, "SSNS descriptor length"},
	}
	for _, tt := range tests {
		tbl, err := Parse(tt.spec.build())
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) || tbl != nil {
			t.Errorf("%s: Parse = %v, %v; want %v containing %q", tt.name, tbl, err, tt.want, tt.text)
		}
	}
}

func TestParseControlNotValid(t *testing.T) {
	b := goodSpec().build()
	b[headerLen+6] = 0
	fixChecksum(b)
	tbl, err := Parse(b)
	if err != nil || tbl == nil || len(tbl.HFIs)+len(tbl.Discovery)+len(tbl.Subsystems) != 0 || tbl.Host.NQN != "" {
		t.Errorf("Parse with an invalid control descriptor = %+v, %v; want an empty table", tbl, err)
	}
}

func TestParseSynthetic(t *testing.T) {
	spec := goodSpec()
	tbl, err := Parse(spec.build())
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Warnings) != 0 {
		t.Errorf("warnings: %v", tbl.Warnings)
	}
	h := tbl.Host
	if h.IDString() != "00010203-0405-0607-0809-0a0b0c0d0e0f" || !h.IDConfigured || !h.NQNConfigured || h.NQN != spec.hostNQN {
		t.Errorf("host = %+v", h)
	}
	if len(tbl.HFIs) != 2 {
		t.Fatalf("HFIs = %+v", tbl.HFIs)
	}
	h1, h2 := tbl.HFIs[0], tbl.HFIs[1]
	if h1.Index != 1 || h1.MAC.String() != "02:00:00:00:00:01" || h1.Addr != netip.MustParseAddr("192.0.2.10") ||
		h1.Prefix() != netip.MustParsePrefix("192.0.2.10/24") || h1.Gateway != netip.MustParseAddr("192.0.2.1") ||
		h1.HostName != "boothost" || !h1.DHCPOverride || !h1.DefaultRoute || h1.PrimaryDNS.IsValid() || h1.DHCPServer.IsValid() {
		t.Errorf("HFI 1 = %+v", h1)
	}
	if h2.VLAN != 10 || h2.Addr != netip.MustParseAddr("2001:db8::10") || h2.Gateway.IsValid() {
		t.Errorf("HFI 2 = %+v", h2)
	}
	if len(tbl.Security) != 1 || !bytes.Equal(tbl.Security[0].SecureChannelAlgs, []byte{1, 2}) ||
		tbl.Security[0].SecretKeypath != "redfish://bmc/keys/1" || tbl.Security[0].SecretType != 2 {
		t.Errorf("security = %+v", tbl.Security)
	}
	if len(tbl.Discovery) != 2 {
		t.Fatalf("discovery = %+v", tbl.Discovery)
	}
	if d := tbl.Discovery[1]; d.HFI != h2 || d.Security != tbl.Security[0] || d.NQN != "" || d.URI != "nvme+tcp://[2001:db8::20]/" {
		t.Errorf("discovery 2 = %+v", d)
	}
	if len(tbl.Subsystems) != 2 {
		t.Fatalf("subsystems = %+v", tbl.Subsystems)
	}
	s1, s2 := tbl.Subsystems[0], tbl.Subsystems[1]
	if !slices.Equal(s1.HFIs, []*HFI{h1, h2}) || s1.Discovery != tbl.Discovery[0] || !s1.HeaderDigest || !s1.DataDigest ||
		s1.ControllerID != 7 || s1.ASQSZ != 32 || s1.NIDString() != "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf" || s1.NIDType.String() != "uuid" {
		t.Errorf("subsystem 1 = %+v", s1)
	}
	if s2.Trsvcid != "" || s2.Traddr != netip.MustParseAddr("2001:db8::30") || !s2.Discovered || !s2.Unavailable ||
		s2.HeaderDigest || s2.NIDString() != "a0a1a2a3a4a5a6a7" || s2.ControllerID != 0 {
		t.Errorf("subsystem 2 = %+v", s2)
	}
}

// Each case breaks one descriptor; the table still parses, the descriptor (or field) is
// dropped and a warning names it.
func TestParseDescriptorWarnings(t *testing.T) {
	base := goodSpec
	tests := []struct {
		name  string
		edit  func(*tableSpec)
		check func(*Table) bool
		warn  string // "" means: no warning expected
	}{
		{"HFI not valid is skipped, only its users warn", func(s *tableSpec) { s.hfis[1].invalid = true },
			func(t *Table) bool { return len(t.HFIs) == 1 && t.Discovery[1].HFI == nil }, "HFI 2 not found"},
		{"HFI structure ID", func(s *tableSpec) { s.hfis[1].raw = func(d, _ []byte) { d[0] = 8 } },
			func(t *Table) bool { return len(t.HFIs) == 1 }, "HFI descriptor 1: structure ID 8"},
		{"HFI transport", func(s *tableSpec) { s.hfis[1].trtype = 2 },
			func(t *Table) bool { return len(t.HFIs) == 1 }, "not NVMe/TCP"},
		{"HFI without transport info", func(s *tableSpec) { s.hfis[1].noInfo = true },
			func(t *Table) bool { return len(t.HFIs) == 1 }, "transport info is 0 bytes"},
		{"HFI transport info outside heap", func(s *tableSpec) {
			s.raw = func(b []byte) { binary.LittleEndian.PutUint32(b[synthHFI+hfiLen+16:], 10) }
		}, func(t *Table) bool { return len(t.HFIs) == 1 }, "outside the heap"},
		{"HFI transport info not valid", func(s *tableSpec) { s.hfis[1].tcpFlags = 2 },
			func(t *Table) bool { return len(t.HFIs) == 1 }, "HFI 2 not found"},
		{"HFI transport info version", func(s *tableSpec) { s.hfis[1].raw = func(_, i []byte) { i[1] = 2 } },
			func(t *Table) bool { return len(t.HFIs) == 1 }, "version 2"},
		{"HFI index mismatch kept", func(s *tableSpec) { s.hfis[1].raw = func(_, i []byte) { i[4] = 9 } },
			func(t *Table) bool { return len(t.HFIs) == 2 }, "names HFI index 9"},
		{"HFI host name garbage", func(s *tableSpec) { s.hfis[0].hostName = "bad\nname" },
			func(t *Table) bool { return len(t.HFIs) == 2 && t.HFIs[0].HostName == "" }, "host name dropped"},
		{"security not valid", func(s *tableSpec) { s.secs[0].invalid = true },
			func(t *Table) bool { return len(t.Security) == 0 && t.Discovery[1].Security == nil }, "security profile 1 not found"},
		{"security structure ID", func(s *tableSpec) { s.secs[0].raw = func(d []byte) { d[0] = 1 } },
			func(t *Table) bool { return len(t.Security) == 0 }, "security descriptor 0: structure ID 1"},
		{"security list outside heap", func(s *tableSpec) {
			s.secs[0].raw = func(d []byte) { binary.LittleEndian.PutUint32(d[6:], 0) }
		}, func(t *Table) bool { return len(t.Security) == 0 }, "secure channel algorithms"},
		{"security keypath garbage", func(s *tableSpec) { s.secs[0].keypath = "\xff" },
			func(t *Table) bool { return len(t.Security) == 0 }, "secret keypath"},
		{"discovery not valid", func(s *tableSpec) { s.discs[0].invalid = true },
			func(t *Table) bool { return len(t.Discovery) == 1 && t.Subsystems[0].Discovery == nil }, "discovery descriptor 1 not found"},
		{"discovery structure ID", func(s *tableSpec) { s.discs[0].raw = func(d []byte) { d[0] = 3 } },
			func(t *Table) bool { return len(t.Discovery) == 1 }, "discovery descriptor 0: structure ID 3"},
		{"discovery without URI", func(s *tableSpec) { s.discs[0].uri = "" },
			func(t *Table) bool { return len(t.Discovery) == 1 }, "no URI"},
		{"discovery NQN garbage", func(s *tableSpec) { s.discs[0].nqn = "nqn.\x7f" },
			func(t *Table) bool { return len(t.Discovery) == 1 }, "NQN has byte 0x7f"},
		{"discovery HFI unknown", func(s *tableSpec) { s.discs[0].hfi = 7 },
			func(t *Table) bool { return len(t.Discovery) == 2 && t.Discovery[0].HFI == nil }, "HFI 7 not found"},
		{"discovery security unknown", func(s *tableSpec) { s.discs[0].sec = 5 },
			func(t *Table) bool { return len(t.Discovery) == 2 }, "security profile 5 not found"},
		{"SSNS not valid", func(s *tableSpec) { s.ssns[1].flags = ssnsDiscovered },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, ""},
		{"SSNS structure ID", func(s *tableSpec) { s.ssns[1].raw = func(d []byte) { d[0] = 6 } },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "SSNS descriptor 1: structure ID 6"},
		{"SSNS transport", func(s *tableSpec) { s.ssns[1].raw = func(d []byte) { d[5] = 1 } },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "transport type 1"},
		{"SSNS address missing", func(s *tableSpec) { s.ssns[1].traddr = netip.Addr{} },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "is 0 bytes"},
		{"SSNS address zero", func(s *tableSpec) { s.ssns[1].traddr = netip.IPv6Unspecified() },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "all zeros"},
		{"SSNS address outside heap", func(s *tableSpec) {
			s.ssns[1].raw = func(d []byte) { binary.LittleEndian.PutUint32(d[10:], 1<<31) }
		}, func(t *Table) bool { return len(t.Subsystems) == 1 }, "transport address"},
		{"SSNS port garbage", func(s *tableSpec) { s.ssns[1].trsvcid = "44\t20" },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "transport service ID"},
		{"SSNS without NQN", func(s *tableSpec) { s.ssns[1].nqn = "" },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "no subsystem NQN"},
		{"SSNS NQN garbage", func(s *tableSpec) { s.ssns[1].nqn = "nqn.\x80" },
			func(t *Table) bool { return len(t.Subsystems) == 1 }, "subsystem NQN"},
		{"SSNS discovery unknown", func(s *tableSpec) { s.ssns[0].disc = 9 },
			func(t *Table) bool { return len(t.Subsystems) == 2 && t.Subsystems[0].Discovery == nil }, "discovery descriptor 9 not found"},
		{"SSNS security unknown", func(s *tableSpec) { s.ssns[0].sec = 9 },
			func(t *Table) bool { return len(t.Subsystems) == 2 }, "security profile 9 not found"},
		{"SSNS security known", func(s *tableSpec) { s.ssns[0].sec = 1 },
			func(t *Table) bool { return t.Subsystems[0].Security == t.Security[0] }, ""},
		{"SSNS primary HFI unknown is kept", func(s *tableSpec) { s.ssns[1].hfi = 4 },
			func(t *Table) bool { return len(t.Subsystems) == 2 && len(t.Subsystems[1].HFIs) == 0 }, "HFI 4 not found"},
		{"SSNS secondary HFIs outside heap", func(s *tableSpec) {
			s.ssns[0].raw = func(d []byte) { binary.LittleEndian.PutUint32(d[48:], 3) }
		}, func(t *Table) bool { return len(t.Subsystems[0].HFIs) == 1 }, "secondary HFI associations"},
		{"SSNS extended info wrong index", func(s *tableSpec) { s.ssns[0].ext = extInfo(2, flagValid, 7, 0) },
			func(t *Table) bool { return t.Subsystems[0].ControllerID == 0 }, "extended information is for SSNS 2"},
		{"SSNS extended info short", func(s *tableSpec) { s.ssns[0].ext = extInfo(1, flagValid, 7, 0)[:10] },
			func(t *Table) bool { return t.Subsystems[0].ControllerID == 0 }, "extended information is 10 bytes"},
		{"SSNS extended info ID", func(s *tableSpec) { e := extInfo(1, flagValid, 7, 0); e[0] = 4; s.ssns[0].ext = e },
			func(t *Table) bool { return t.Subsystems[0].ControllerID == 0 }, "extended information has structure ID 4"},
		{"SSNS extended info not valid", func(s *tableSpec) { s.ssns[0].ext = extInfo(1, 0, 7, 0) },
			func(t *Table) bool { return t.Subsystems[0].ControllerID == 0 }, ""},
		{"SSNS extended info ASQSZ not administrative", func(s *tableSpec) { s.ssns[0].ext = extInfo(1, flagValid, 7, 32) },
			func(t *Table) bool { return t.Subsystems[0].ControllerID == 7 && t.Subsystems[0].ASQSZ == 0 }, ""},
		{"SSNS extended info outside heap", func(s *tableSpec) {
			s.ssns[0].raw = func(d []byte) { binary.LittleEndian.PutUint32(d[60:], 3) }
		}, func(t *Table) bool { return len(t.Subsystems) == 2 && t.Subsystems[0].ControllerID == 0 }, "extended information ["},
		{"SSNS extended info flag without object", func(s *tableSpec) {
			s.ssns[0].raw = func(d []byte) { clear(d[60:66]) }
		}, func(t *Table) bool { return len(t.Subsystems) == 2 && t.Subsystems[0].ControllerID == 0 }, ""},
		{"SSNS flags", func(s *tableSpec) { s.ssns[1].flags = flagValid | ssnsNonBootable | ssnsUnavailMask },
			func(t *Table) bool { return t.Subsystems[1].NonBootable && !t.Subsystems[1].Unavailable }, ""},
	}
	for _, tt := range tests {
		spec := base()
		tt.edit(&spec)
		tbl, err := Parse(spec.build())
		if err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
			continue
		}
		if !tt.check(tbl) {
			t.Errorf("%s: unexpected result %+v", tt.name, tbl)
		}
		found := false
		for _, w := range tbl.Warnings {
			found = found || tt.warn != "" && strings.Contains(w.Error(), tt.warn)
		}
		switch {
		case tt.warn == "" && len(tbl.Warnings) != 0:
			t.Errorf("%s: unexpected warnings %v", tt.name, tbl.Warnings)
		case tt.warn != "" && !found:
			t.Errorf("%s: warnings %v lack %q", tt.name, tbl.Warnings, tt.warn)
		}
	}
}

func TestParseDHCPRootPath(t *testing.T) {
	spec := goodSpec()
	spec.ssns[0].ext = extInfo(1, flagValid, 7, 0)
	// Point the root path at the subsystem NQN text already in the heap: any valid heap
	// string does.
	spec.raw = func(b []byte) {
		ssns := b[synthHFI+2*hfiLen+securityLen+2*discoveryLen:]
		ext := binary.LittleEndian.Uint32(ssns[60:])
		copy(b[ext+12:ext+18], ssns[54:60])
	}
	tbl, err := Parse(spec.build())
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.Subsystems[0].DHCPRootPath; got != spec.ssns[0].nqn {
		t.Errorf("DHCP root path = %q, want %q (warnings %v)", got, spec.ssns[0].nqn, tbl.Warnings)
	}

	spec.raw = func(b []byte) {
		ssns := b[synthHFI+2*hfiLen+securityLen+2*discoveryLen:]
		ext := binary.LittleEndian.Uint32(ssns[60:])
		binary.LittleEndian.PutUint32(b[ext+12:], 1)
		binary.LittleEndian.PutUint16(b[ext+16:], 5)
	}
	tbl, err = Parse(spec.build())
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Subsystems[0].DHCPRootPath != "" || tbl.Subsystems[0].ControllerID != 7 || len(tbl.Warnings) != 1 {
		t.Errorf("bad DHCP root path: %+v, warnings %v", tbl.Subsystems[0], tbl.Warnings)
	}
}

func TestStringers(t *testing.T) {
	for v, want := range map[PrimaryAdmin]string{0: "not indicated", 1: "unselected", 2: "selected", 3: "reserved"} {
		if v.String() != want {
			t.Errorf("PrimaryAdmin(%d) = %q, want %q", v, v.String(), want)
		}
	}
	if NIDTypeNone.String() != "" || NIDType(9).String() != "" || NIDTypeEUI64.String() != "eui64" || NIDTypeNGUID.String() != "nguid" {
		t.Error("NIDType names wrong")
	}
	if (&Subsystem{}).NIDString() != "" {
		t.Error("NIDString of no NID is not empty")
	}
	if (&HFI{Addr: netip.MustParseAddr("192.0.2.1"), PrefixLen: 40}).Prefix().IsValid() {
		t.Error("Prefix with an impossible length is valid")
	}
	if got := printable([]byte("A\x01B\x00C")); got != "A?B" {
		t.Errorf("printable = %q", got)
	}
}
