// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// nvmeCLISample is the `nvme discover -o json` example of nvme-protocol.md §10, verbatim.
const nvmeCLISample = `{
  "genctr": 3,
  "records": [
    {
      "trtype": "tcp",
      "adrfam": "ipv4",
      "subtype": "current discovery subsystem",
      "treq": "not specified, sq flow control disable supported",
      "portid": 1,
      "trsvcid": "8009",
      "subnqn": "nqn.2014-08.org.nvmexpress.discovery",
      "traddr": "127.0.0.1",
      "eflags": "none",
      "sectype": "none"
    }
  ]
}`

func TestCLIJSONMatchesNvmeCLI(t *testing.T) {
	l := &DiscoveryLog{GenCtr: 3, Entries: []Entry{{
		TrType: TransportTCP, AdrFam: AddressFamilyIPv4, SubType: SubsystemCurrentDiscovery,
		TReq: TReqSQFlowDisableSupp, PortID: 1, CNTLID: 0xffff, ASQSZ: 32,
		TrSvcID: "8009", SubNQN: nqn.WellKnownDiscovery, TrAddr: "127.0.0.1",
	}}}
	got, err := json.Marshal(l.CLIJSON())
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(nvmeCLISample)); err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("got  %s\nwant %s", got, want.String())
	}
	empty, _ := json.Marshal((&DiscoveryLog{GenCtr: 7}).CLIJSON())
	if string(empty) != `{"genctr":7,"records":[]}` {
		t.Errorf("empty page = %s", empty)
	}
}

func TestCLIRecordRDMAAndOthers(t *testing.T) {
	rdma := Entry{
		TrType: TransportRDMA, AdrFam: AddressFamilyIB, SubType: SubsystemNVMe, TReq: 2,
		PortID: 7, EFlags: EFlagDupRetInfo | EFlagEPCSD, TrSvcID: "4420", SubNQN: "nqn.a\x00junk", TrAddr: "10.0.0.1",
		TSAS: RDMATSAS{QPType: RDMAQPTypeConnected, PrType: RDMAPrTypeRoCEv2, CMS: RDMACMSRDMACM, PKey: 0x1234}.TSAS(),
	}
	got, _ := json.Marshal(rdma.CLIRecord())
	const want = `{"trtype":"rdma","adrfam":"infiniband","subtype":"nvme subsystem","treq":"not required","portid":7,"trsvcid":"4420","subnqn":"nqn.a","traddr":"10.0.0.1","eflags":"explicit discovery connections, duplicate discovery information","rdma_prtype":"roce-v2","rdma_qptype":"connected","rdma_cms":"rdma-cm","rdma_pkey":4660}`
	if string(got) != want {
		t.Errorf("rdma record\n got %s\nwant %s", got, want)
	}
	rdma.TSAS = TSAS{}
	got, _ = json.Marshal(rdma.CLIRecord())
	const wantZero = `{"trtype":"rdma","adrfam":"infiniband","subtype":"nvme subsystem","treq":"not required","portid":7,"trsvcid":"4420","subnqn":"nqn.a","traddr":"10.0.0.1","eflags":"explicit discovery connections, duplicate discovery information","rdma_prtype":"unrecognized","rdma_qptype":"unrecognized","rdma_cms":"unrecognized","rdma_pkey":0}`
	if string(got) != wantZero {
		t.Errorf("rdma record with zero tsas\n got %s\nwant %s", got, wantZero)
	}
	fc := Entry{TrType: TransportFC, AdrFam: AddressFamilyFC, SubType: 9, TReq: 0x8, EFlags: 0x8}
	got, _ = json.Marshal(fc.CLIRecord())
	const wantFC = `{"trtype":"fc","adrfam":"fibre-channel","subtype":"unrecognized","treq":"unrecognized","portid":0,"trsvcid":"","subnqn":"","traddr":"","eflags":"unrecognized"}`
	if string(got) != wantFC {
		t.Errorf("fc record\n got %s\nwant %s", got, wantFC)
	}
}

func TestCLIStrings(t *testing.T) {
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	for v, want := range map[TransportType]string{0: "unrecognized", 1: "rdma", 2: "fc", 3: "tcp", 254: "loop", 9: "unrecognized"} {
		check("trtype "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[AddressFamily]string{0: "pci", 1: "ipv4", 2: "ipv6", 3: "infiniband", 4: "fibre-channel", 254: "unrecognized", 5: "unrecognized"} {
		check("adrfam "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[SubsystemType]string{0: "unrecognized", 1: "discovery subsystem referral", 2: "nvme subsystem", 3: "current discovery subsystem"} {
		check("subtype "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[TransportRequirements]string{
		0: "not specified", 1: "required", 2: "not required", 3: "unrecognized",
		4: "not specified, sq flow control disable supported",
		5: "required, sq flow control disable supported",
		6: "not required, sq flow control disable supported",
		7: "unrecognized", 8: "unrecognized",
	} {
		check("treq "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[EntryFlags]string{
		0: "none", 1: "duplicate discovery information", 2: "explicit discovery connections",
		3: "explicit discovery connections, duplicate discovery information",
		4: "no cdc connectivity",
		5: "duplicate discovery information, no cdc connectivity",
		6: "explicit discovery connections, no cdc connectivity",
		7: "explicit discovery connections, duplicate discovery information, no cdc connectivity",
		8: "unrecognized",
	} {
		check("eflags "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[TCPSecurityType]string{0: "none", 1: "tls", 2: "tls13", 3: "unrecognized"} {
		check("sectype "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[RDMAProviderType]string{0: "unrecognized", 1: "not specified", 2: "infiniband", 3: "roce", 4: "roce-v2", 5: "iwarp", 6: "unrecognized"} {
		check("prtype "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[RDMAQPType]string{0: "unrecognized", 1: "connected", 2: "datagram"} {
		check("qptype "+v.String(), v.CLIString(), want)
	}
	for v, want := range map[RDMACMS]string{0: "unrecognized", 1: "rdma-cm"} {
		check("cms "+v.String(), v.CLIString(), want)
	}
}

func TestDLPEStrings(t *testing.T) {
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	for v, want := range map[TransportType]string{0: "unspecified", 1: "rdma", 2: "fc", 3: "tcp", 254: "loop", 9: "9"} {
		check("trtype", v.DLPEString(), want)
	}
	for v, want := range map[AddressFamily]string{0: "pci", 1: "ipv4", 2: "ipv6", 3: "infiniband", 4: "fc", 254: "254"} {
		check("adrfam", v.DLPEString(), want)
	}
	for v, want := range map[SubsystemType]string{0: "0", 1: "referral", 2: "nvme", 3: "discovery"} {
		check("subtype", v.DLPEString(), want)
	}
	for v, want := range map[TransportRequirements]string{0: "not specified", 1: "required", 2: "not required", 3: "3", 4: "disable sqflow", 5: "5", 6: "6"} {
		check("treq", v.DLPEString(), want)
	}
	check("eflags", EntryFlags(6).DLPEString(), "6")
	for v, want := range map[TCPSecurityType]string{0: "none", 1: "tls", 2: "tls1.3", 3: "reserved"} {
		check("sectype", v.DLPEString(), want)
	}
	for v, want := range map[RDMAProviderType]string{0: "reserved", 1: "not specified", 2: "infiniband", 3: "roce", 4: "rocev2", 5: "iwarp", 6: "reserved"} {
		check("prtype", v.DLPEString(), want)
	}
	for v, want := range map[RDMAQPType]string{0: "reserved", 1: "connected", 2: "datagram"} {
		check("qptype", v.DLPEString(), want)
	}
	for v, want := range map[RDMACMS]string{0: "reserved", 1: "cm"} {
		check("cms", v.DLPEString(), want)
	}
}

// TestDLPEMatchesStafctl uses the `stafctl dlp` example of nvme-stas-behaviour.md §5.2
// (an nvmet port on ::1); that example predates tsas, which current nvme-stas adds.
func TestDLPEMatchesStafctl(t *testing.T) {
	e := Entry{
		TrType: TransportTCP, AdrFam: AddressFamilyIPv6, SubType: SubsystemNVMe, TReq: TReqSQFlowDisableSupp,
		PortID: 1, CNTLID: 65535, ASQSZ: 32, TrSvcID: "8009", SubNQN: "nqn.2024-01.io.example:s1", TrAddr: "::1",
	}
	want := map[string]string{
		"adrfam": "ipv6", "asqsz": "32", "cntlid": "65535", "eflags": "0", "portid": "1",
		"subnqn": "nqn.2024-01.io.example:s1", "subtype": "nvme", "traddr": "::1",
		"treq": "disable sqflow", "trsvcid": "8009", "trtype": "tcp",
		"tsas": "{'sectype': 'none'}",
	}
	got := e.DLPE()
	if len(got) != len(want) {
		t.Errorf("DLPE has %d keys, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("DLPE[%q] = %q, want %q", k, got[k], v)
		}
	}
}

func TestDLPETSASAndStripping(t *testing.T) {
	rdma := Entry{
		TrType: TransportRDMA, TrAddr: " 10.0.0.1\t", SubNQN: "nqn.a\x00b", TrSvcID: "\x1f4420",
		TSAS: RDMATSAS{QPType: RDMAQPTypeDatagram, PrType: RDMAPrTypeNotSpecified, CMS: RDMACMSRDMACM}.TSAS(),
	}
	d := rdma.DLPE()
	if got := d["tsas"]; got != "{'qptype': 'datagram', 'prtype': 'not specified', 'cms': 'cm'}" {
		t.Errorf("rdma tsas = %q", got)
	}
	if d["traddr"] != "10.0.0.1" || d["subnqn"] != "nqn.a" || d["trsvcid"] != "4420" {
		t.Errorf("text values = %q %q %q", d["traddr"], d["subnqn"], d["trsvcid"])
	}
	tls := Entry{TrType: TransportTCP, TSAS: NewTCPTSAS(TCPSecTypeTLS13)}
	if got := tls.DLPE()["tsas"]; got != "{'sectype': 'tls1.3'}" {
		t.Errorf("tcp tsas = %q", got)
	}
	for _, tr := range []TransportType{TransportFC, TransportLoop, 0} {
		e := Entry{TrType: tr}
		if _, ok := e.DLPE()["tsas"]; ok {
			t.Errorf("trtype %v has a tsas key", tr)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{TransportTCP.String(), "tcp"},
		{TransportType(9).String(), "9"},
		{AddressFamilyIB.String(), "ib"},
		{AddressFamily(9).String(), "9"},
		{SubsystemType(0).String(), "0"},
		{TransportRequirements(4).String(), "not specified, sq flow control disable supported"},
		{TransportRequirements(0x13).String(), "reserved, reserved bits 0x10"},
		{EntryFlags(0).String(), "none"},
		{EntryFlags(0xf).String(), "DUPRETINFO|EPCSD|NCC|0x8"},
		{TCPSecTypeTLS12.String(), "tls1.2"},
		{TCPSecurityType(7).String(), "7"},
		{RDMAQPType(9).String(), "9"},
		{RDMAProviderType(9).String(), "9"},
		{RDMACMSRDMACM.String(), "rdma_cm"},
		{RDMACMS(0).String(), "0"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, s := range []string{"unspecified", "rdma", "fc", "tcp", "loop"} {
		if v, err := ParseTransportType(s); err != nil || v.String() != s {
			t.Errorf("ParseTransportType(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseTransportType("9"); err == nil {
		t.Error("ParseTransportType(9) accepted")
	}
	for _, s := range []string{"pci", "ipv4", "ipv6", "ib", "fc", "loop"} {
		if v, err := ParseAddressFamily(s); err != nil || v.String() != s {
			t.Errorf("ParseAddressFamily(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseAddressFamily("infiniband"); err == nil {
		t.Error("ParseAddressFamily(infiniband) accepted")
	}
	rd := RDMATSAS{QPType: 1, PrType: 4, CMS: 1, PKey: 0xbeef}
	ts := rd.TSAS()
	if ts.RDMA() != rd || ts[8] != 0xef || ts[9] != 0xbe {
		t.Errorf("RDMA TSAS round trip: %+v % x", ts.RDMA(), ts[:10])
	}
}
