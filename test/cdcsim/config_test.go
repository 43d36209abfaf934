// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

func TestLoadFile(t *testing.T) {
	const text = `{
	  "listen": "192.0.2.2:8009",
	  "nqn": "nqn.2014-08.org.example:cdc",
	  "dctype": "ddc",
	  "genctr": 5,
	  "serial": "SER", "model": "MOD",
	  "discovery_change_notices": false,
	  "log_options": ["pleos", "EXTDLPES", "ALLSUBES"],
	  "discovery_kato": "30s",
	  "entries": [
	    {"subnqn": "nqn.2014-08.org.example:sub1", "traddr": "192.0.2.2"},
	    {"subtype": "referral", "traddr": "2001:db8::2", "portid": 2},
	    {"subtype": "current", "traddr": "192.0.2.2", "trtype": "0x77", "adrfam": "ib", "treq": "required",
	     "cntlid": 4660, "asqsz": 64, "eflags": 6, "sectype": "tls1.3", "trsvcid": "9000", "subnqn": "nqn.2014-08.org.example:cdc"}
	  ],
	  "generate": {"count": 3, "traddr": "192.0.2.3"},
	  "hostile": true
	}`
	f, err := LoadFile(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "192.0.2.2:8009" {
		t.Errorf("listen %q", f.Listen)
	}
	c, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.NQN != "nqn.2014-08.org.example:cdc" || c.DCType != nvme.DCTypeDDC || c.GenCtr != 5 || c.SerialNumber != "SER" || c.ModelNumber != "MOD" ||
		!c.NoDiscoveryChangeNotices || c.DiscoveryLogOptions != 7 || c.DiscoveryKATO != 30*time.Second {
		t.Errorf("config %+v", c)
	}
	if n := len(c.Entries); n != 3+3+len(HostileEntries()) {
		t.Fatalf("%d entries", n)
	}
	want0 := SubsystemEntry("nqn.2014-08.org.example:sub1", "192.0.2.2", "4420", 0)
	if c.Entries[0] != want0 {
		t.Errorf("entry 0 %+v", c.Entries[0])
	}
	ref := c.Entries[1]
	if ref.SubType != nvme.SubsystemReferral || ref.SubNQN != nqn.WellKnownDiscovery || ref.TrSvcID != "8009" || ref.AdrFam != nvme.AddressFamilyIPv6 || ref.PortID != 2 {
		t.Errorf("referral %+v", ref)
	}
	e := c.Entries[2]
	if e.TrType != 0x77 || e.AdrFam != nvme.AddressFamilyIB || e.SubType != nvme.SubsystemCurrentDiscovery || e.TReq != 1 || e.CNTLID != 4660 ||
		e.ASQSZ != 64 || e.EFlags != 6 || e.TSAS.TCPSecType() != nvme.TCPSecTypeTLS13 || e.TrSvcID != "9000" {
		t.Errorf("entry 2 %+v", e)
	}
	if c.Entries[3].SubNQN != GeneratedNQN(0) || c.Entries[5].TrAddr != "192.0.2.3" || c.Entries[5].TrSvcID != "4420" {
		t.Errorf("generated %+v", c.Entries[3:6])
	}
	if _, err := New(c); err != nil {
		t.Errorf("New with the file's config: %v", err)
	}

	// Defaults: a CDC with notices; "0s" turns the discovery KATO off.
	f, err = LoadFile(strings.NewReader(`{"discovery_kato": "0s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := f.Config(); err != nil || c.DCType != nvme.DCTypeCDC || c.NoDiscoveryChangeNotices || c.DiscoveryKATO != -1 {
		t.Errorf("defaults %+v %v", c, err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	for _, text := range []string{
		`{"nosuchkey": 1}`,
		`{"entries": [}`,
		`{} {}`,
		`{"dctype": "huge"}`,
		`{"log_options": ["NOPE"]}`,
		`{"discovery_kato": "soon"}`,
		`{"entries": [{"traddr": "192.0.2.2"}]}`,
		`{"entries": [{"subnqn": "n", "traddr": "192.0.2.2", "trtype": "carrier pigeon"}]}`,
		`{"entries": [{"subnqn": "n", "traddr": "192.0.2.2", "adrfam": "300"}]}`,
		`{"entries": [{"subnqn": "n", "traddr": "192.0.2.2", "subtype": "x"}]}`,
		`{"entries": [{"subnqn": "n", "traddr": "192.0.2.2", "treq": "maybe"}]}`,
		`{"entries": [{"subnqn": "n", "traddr": "192.0.2.2", "sectype": "ssl"}]}`,
		`{"entries": [{"subnqn": "n", "traddr": "` + strings.Repeat("1", 257) + `"}]}`,
		`{"generate": {"count": -1, "traddr": "192.0.2.2"}}`,
	} {
		f, err := LoadFile(strings.NewReader(text))
		if err == nil {
			_, err = f.Config()
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", text, err)
		}
	}
}

func TestParseDCType(t *testing.T) {
	for in, want := range map[string]nvme.DiscoveryControllerType{"cdc": 2, "DDC": 1, "none": 0, "3": 3} {
		if got, err := ParseDCType(in); err != nil || got != want {
			t.Errorf("ParseDCType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDCType("central"); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "cdc, ddc, none") {
		t.Errorf("bad dctype: %v", err)
	}
}
