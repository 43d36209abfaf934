// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestGetLogPageCDWs(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		g                    GetLogPage
		cdw10, cdw11, lo, hi uint32
	}{
		// libnvme's first read: the 20-byte header, RAE 0, NUMD 4.
		{"header", GetLogPage{LID: LIDDiscovery, Length: LogHeaderReadLen}, 0x0004_0070, 0, 0, 0},
		{"pleo rae", GetLogPage{LID: LIDDiscovery, LSP: LSPDiscoveryPLEO, RAE: true, Length: 4096, Offset: 1024}, 0x03ff_8270, 0, 1024, 0},
		{"numdu lsi", GetLogPage{LID: 0x71, LSP: 0x7f, Length: 1 << 20, LSI: 0xabcd, Offset: 3<<32 | 8}, 0xffff_7f71, 0xabcd_0003, 8, 3},
		{"supported", GetLogPage{LID: LIDSupportedLogPages, Length: SupportedLogPagesSize}, 0x00ff_0000, 0, 0, 0},
		{"max", GetLogPage{LID: 1, Length: 1 << 34}, 0xffff_0001, 0xffff, 0, 0},
	} {
		c10, c11, c12, c13, err := tc.g.CDWs()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c10 != tc.cdw10 || c11 != tc.cdw11 || c12 != tc.lo || c13 != tc.hi {
			t.Errorf("%s: cdws %#08x %#08x %#x %#x, want %#08x %#08x %#x %#x", tc.name, c10, c11, c12, c13, tc.cdw10, tc.cdw11, tc.lo, tc.hi)
		}
		if back := ParseGetLogPage(c10, c11, c12, c13); back != tc.g {
			t.Errorf("%s: parse = %+v, want %+v", tc.name, back, tc.g)
		}
	}
	for _, g := range []GetLogPage{
		{LID: 0x70, LSP: 0x80, Length: 4},
		{LID: 0x70, Length: 0},
		{LID: 0x70, Length: 6},
		{LID: 0x70, Length: 1<<34 + 4},
		{LID: 0x70, Length: 4, Offset: 2},
	} {
		if _, _, _, _, err := g.CDWs(); !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "get log page 0x70") {
			t.Errorf("%+v: err = %v", g, err)
		}
	}
}

func TestIdentifyCDW10(t *testing.T) {
	if got := IdentifyCDW10(CNSController, 0); got != 1 {
		t.Errorf("identify controller cdw10 = %#x", got)
	}
	if got := IdentifyCDW10(0x13, 0xbeef); got != 0xbeef0013 {
		t.Errorf("cdw10 = %#x", got)
	}
	if cns, cntid := ParseIdentifyCDW10(0xbeef0013); cns != 0x13 || cntid != 0xbeef {
		t.Errorf("parse = %#x %#x", cns, cntid)
	}
}

func TestOpcodes(t *testing.T) {
	for op, want := range map[Opcode]string{
		0x02: "Get Log Page", 0x06: "Identify", 0x09: "Set Features", 0x0a: "Get Features",
		0x0c: "Asynchronous Event Request", 0x18: "Keep Alive", 0x21: "Discovery Information Management",
		0x7f: "opcode 0x7f",
	} {
		if op.String() != want {
			t.Errorf("%#x = %q", uint8(op), op.String())
		}
	}
	if !OpGetLogPage.ReceivesData() || OpGetLogPage.SendsData() || !OpDiscoveryInfoMgmt.SendsData() || OpKeepAlive.SendsData() || OpKeepAlive.ReceivesData() {
		t.Error("data direction bits")
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		s    Status
		want string
	}{
		{0, "Successful Completion (sct=0x0 sc=0x00)"},
		{0x4002, "Invalid Field in Command (sct=0x0 sc=0x02 dnr)"},
		{NewStatus(SCTGeneric, SCInvalidOpcode, true), "Invalid Command Opcode (sct=0x0 sc=0x01 dnr)"},
		{NewStatus(SCTCommandSpecific, SCInvalidLogPage, true), "Command Specific Status (sct=0x1 sc=0x09 dnr)"},
		{0x3822, "Transient Transport Error (sct=0x0 sc=0x22 crd=3 more)"},
		{0x0017, "Generic Command Status (sct=0x0 sc=0x17)"},
		{0x0281, "Media and Data Integrity Error (sct=0x2 sc=0x81)"},
		{0x0301, "Path Related Status (sct=0x3 sc=0x01)"},
		{0x0701, "Vendor Specific Status (sct=0x7 sc=0x01)"},
		{0x0401, "Reserved Status Code Type (sct=0x4 sc=0x01)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%#04x: %q, want %q", uint16(tc.s), got, tc.want)
		}
	}
	s := Status(0x5c06)
	if s.SC() != 6 || s.SCT() != 4 || s.CRD() != 3 || s.More() || !s.DNR() || s.OK() {
		t.Errorf("fields of %#x: sc %d sct %d crd %d more %v dnr %v", uint16(s), s.SC(), s.SCT(), s.CRD(), s.More(), s.DNR())
	}
	if !Status(0).OK() || Status(0x100).OK() {
		t.Error("OK")
	}
	var err error = fmt.Errorf("identify nvme0: %w", NewStatus(SCTGeneric, SCInternalError, false))
	var st Status
	if !errors.As(err, &st) || st.SC() != SCInternalError || !strings.HasSuffix(err.Error(), "nvme status: Internal Error (sct=0x0 sc=0x06)") {
		t.Errorf("as error: %v", err)
	}
}

func TestAEN(t *testing.T) {
	a := AENDiscoveryLogChanged
	// nvme-stas: DLP_CHANGED == 0x70f002 == (0x70 << 16) | (0xF0 << 8) | 0x02.
	for _, want := range []uint32{0x70f002, (0x70 << 16) | (0xF0 << 8) | 0x02} {
		if uint32(a) != want {
			t.Fatalf("AENDiscoveryLogChanged = %#x, want %#x", uint32(a), want)
		}
	}
	if a.Type() != AENTypeNotice || a.Info() != 0xf0 || a.LID() != 0x70 || a.String() != "0x70f002" {
		t.Errorf("fields %d %#x %#x %q", a.Type(), a.Info(), a.LID(), a.String())
	}
	for v, want := range map[AEN]string{1: "0x000001", 0: "00000000", 0x12345678: "0x12345678"} {
		if v.String() != want {
			t.Errorf("AEN(%#x).String() = %q, want %q", uint32(v), v.String(), want)
		}
	}
	for in, want := range map[string]AEN{"0x70f002": 0x70f002, "70F002": 0x70f002, " 0X70f002\n": 0x70f002, "0xffffffff": 0xffffffff, "0": 0} {
		if got, err := ParseAEN(in); err != nil || got != want {
			t.Errorf("ParseAEN(%q) = %#x, %v", in, uint32(got), err)
		}
	}
	for _, in := range []string{"", "0x", "zz", "-1", "+1", "0x1ffffffff", "0x70_f002"} {
		if _, err := ParseAEN(in); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("ParseAEN(%q) = %v", in, err)
		}
	}
}
