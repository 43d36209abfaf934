// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// nvmetIdentify is what the Linux target's discovery controller reports.
func nvmetIdentify() *IdentifyController {
	return &IdentifyController{
		SerialNumber: "7d6e5c4b3a291807", ModelNumber: "Linux", FirmwareRevision: "6.1.0-18",
		MDTS: 0, CNTLID: 1, Version: 0x00010300, OAES: OAESDiscoveryLogChange,
		CntrlType: ControllerTypeDiscovery, LPA: LPAExtendedData, KAS: 5, MaxCmd: 128,
		SGLS: 0x00100005, SubNQN: nqn.WellKnownDiscovery, IOCCSZ: 4, IORCSZ: 1,
		MSDBD: 1, DCType: DCTypeNone,
	}
}

func TestIdentifyLayoutAndRoundTrip(t *testing.T) {
	id := nvmetIdentify()
	id.ICDOFF, id.FCATT, id.OFCS = 0x1234, 1, 0x0102
	b := mustMarshal(t, id)
	if len(b) != IdentifySize {
		t.Fatalf("len = %d", len(b))
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"cntlid@78", uint64(le.Uint16(b[78:])), 1},
		{"ver@80", uint64(le.Uint32(b[80:])), 0x10300},
		{"oaes@92", uint64(le.Uint32(b[92:])), 1 << 31},
		{"cntrltype@111", uint64(b[111]), 2},
		{"lpa@261", uint64(b[261]), 4},
		{"kas@320", uint64(le.Uint16(b[320:])), 5},
		{"maxcmd@514", uint64(le.Uint16(b[514:])), 128},
		{"sgls@536", uint64(le.Uint32(b[536:])), 0x00100005},
		{"ioccsz@1792", uint64(le.Uint32(b[1792:])), 4},
		{"iorcsz@1796", uint64(le.Uint32(b[1796:])), 1},
		{"icdoff@1800", uint64(le.Uint16(b[1800:])), 0x1234},
		{"fcatt@1802", uint64(b[1802]), 1},
		{"msdbd@1803", uint64(b[1803]), 1},
		{"ofcs@1804", uint64(le.Uint16(b[1804:])), 0x0102},
		{"dctype@1806", uint64(b[1806]), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if string(b[4:24]) != "7d6e5c4b3a291807    " || string(b[24:29]) != "Linux" || b[29] != ' ' || string(b[64:72]) != "6.1.0-18" {
		t.Errorf("sn/mn/fr not space padded: %q %q %q", b[4:24], b[24:64], b[64:72])
	}
	if !bytes.HasPrefix(b[768:], []byte(nqn.WellKnownDiscovery+"\x00")) {
		t.Errorf("subnqn = %q", b[768:800])
	}
	got, err := DecodeIdentifyController(b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *id {
		t.Errorf("round trip:\n%+v\nwant\n%+v", *got, *id)
	}
	if !got.SupportsDiscoveryLogChangeNotices() || !got.SupportsExtendedLogPageData() || got.SupportsRegistration() {
		t.Errorf("capabilities wrong for nvmet")
	}
	got.DCType = DCTypeCDC
	if !got.SupportsRegistration() {
		t.Error("CDC does not support registration")
	}
	if got.Version.String() != "1.3" || Version(0x00020001).String() != "2.0.1" {
		t.Errorf("version strings %q %q", got.Version, Version(0x00020001))
	}
}

func TestIdentifyErrors(t *testing.T) {
	b := mustMarshal(t, nvmetIdentify())
	if _, err := DecodeIdentifyController(b[:IdentifySize-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("short: %v", err)
	}
	if _, err := DecodeIdentifyController(append(b, 0)); !errors.Is(err, ErrTrailingData) {
		t.Errorf("long: %v", err)
	}
	for _, id := range []*IdentifyController{
		{SerialNumber: strings.Repeat("s", 21)},
		{ModelNumber: strings.Repeat("m", 41)},
		{FirmwareRevision: "123456789"},
		{SubNQN: strings.Repeat("n", 257)},
	} {
		if _, err := id.MarshalBinary(); !errors.Is(err, ErrFieldTooLong) {
			t.Errorf("too long %+v: %v", id, err)
		}
	}
}

func TestControllerTypeStrings(t *testing.T) {
	for v, want := range map[ControllerType]string{0: "reserved", 1: "io", 2: "discovery", 3: "admin", 4: "reserved"} {
		if v.String() != want {
			t.Errorf("cntrltype %d = %q, want %q", v, v.String(), want)
		}
	}
	for v, want := range map[DiscoveryControllerType]string{0: "none", 1: "ddc", 2: "cdc", 3: "reserved"} {
		if v.String() != want {
			t.Errorf("dctype %d = %q, want %q", v, v.String(), want)
		}
	}
}
