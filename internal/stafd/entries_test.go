// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"errors"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

func goodEntry() nvme.Entry {
	return nvme.Entry{TrType: nvme.TransportTCP, AdrFam: nvme.AddressFamilyIPv4, SubType: nvme.SubsystemNVMe,
		TrSvcID: "4420", TrAddr: "192.0.2.2", SubNQN: "nqn.2014-08.org.example:s1", TSAS: nvme.NewTCPTSAS(nvme.TCPSecTypeNone)}
}

func TestCheckEntry(t *testing.T) {
	tests := []struct {
		name   string
		change func(*nvme.Entry)
		field  string // "" means accepted
	}{
		{"good", func(*nvme.Entry) {}, ""},
		{"referral", func(e *nvme.Entry) {
			e.SubType = nvme.SubsystemReferral
			e.SubNQN = "nqn.2014-08.org.nvmexpress.discovery"
		}, ""},
		{"ipv6", func(e *nvme.Entry) { e.TrAddr = "2001:db8::2" }, ""},
		{"fc", func(e *nvme.Entry) { e.TrType = nvme.TransportFC; e.TrAddr = "nn-0x1:pn-0x2"; e.TrSvcID = "" }, ""},
		{"option injection in traddr", func(e *nvme.Entry) { e.TrAddr = "192.0.2.9,host_iface=eth9" }, "traddr"},
		{"host name", func(e *nvme.Entry) { e.TrAddr = "array.example" }, "traddr"},
		{"zone", func(e *nvme.Entry) { e.TrAddr = "fe80::1%eth0" }, "traddr"},
		{"unspecified", func(e *nvme.Entry) { e.TrAddr = "0.0.0.0" }, "traddr"},
		{"empty address", func(e *nvme.Entry) { e.TrAddr = "" }, "traddr"},
		{"embedded NUL", func(e *nvme.Entry) { e.SubNQN = "nqn.a\x00b" }, "subnqn"},
		{"non-UTF-8", func(e *nvme.Entry) { e.SubNQN = "nqn.\xff\xfe" }, "subnqn"},
		{"comma in NQN", func(e *nvme.Entry) { e.SubNQN = "nqn.a,hostnqn=x" }, "subnqn"},
		{"port text", func(e *nvme.Entry) { e.TrSvcID = "http" }, "trsvcid"},
		{"port zero", func(e *nvme.Entry) { e.TrSvcID = "0" }, "trsvcid"},
		{"port too big", func(e *nvme.Entry) { e.TrSvcID = "65536" }, "trsvcid"},
		{"unknown trtype", func(e *nvme.Entry) { e.TrType = 77 }, "trtype"},
		{"unknown subtype", func(e *nvme.Entry) { e.SubType = 9 }, "subtype"},
		{"TLS required", func(e *nvme.Entry) { e.TReq = 1 }, "TLS"},
		{"fc without address", func(e *nvme.Entry) { e.TrType = nvme.TransportFC; e.TrAddr = "" }, "traddr"},
	}
	for _, tt := range tests {
		e := goodEntry()
		tt.change(&e)
		err := checkEntry(&e)
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
			t.Errorf("%s: err = %v, want one naming %s", tt.name, err, tt.field)
		}
	}
	e := goodEntry()
	e.TReq = 1
	if err := checkEntry(&e); !errors.Is(err, errTLS) {
		t.Errorf("TLS entry: %v, want errTLS", err)
	}
}

func TestFilterEntries(t *testing.T) {
	bad := goodEntry()
	bad.TrAddr = "192.0.2.9,host_iface=eth9"
	kept, refused := filterEntries([]nvme.Entry{goodEntry(), bad, goodEntry()})
	if len(kept) != 2 || len(refused) != 1 || !strings.HasPrefix(refused[0], "entry 1: ") {
		t.Errorf("kept %d, refused %q", len(kept), refused)
	}
}
