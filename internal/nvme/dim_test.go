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

var testHostID = [16]byte{0x3d, 0xa6, 0x4a, 0x01, 0x16, 0xc5, 0x4e, 0x10, 0xac, 0x46, 0x39, 0x7e, 0x23, 0x72, 0xb9, 0x64}

func testRegistration(t *testing.T, symname string) *DIMData {
	t.Helper()
	d, err := NewHostRegistration(HostRegistration{
		HostNQN: testHostNQN, HostID: testHostID, SymbolicName: symname,
		EntityName: "host1", EntityVersion: "Linux 6.1.0-18-amd64 Debian GNU/Linux 12",
		AdrFam: AddressFamilyIPv6,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDIMLengths(t *testing.T) {
	for _, tc := range []struct {
		symname  string
		tel, tdl int
	}{
		{"", 1052, 2076}, // nvme-protocol.md §4: without a symname tdl = 2076
		{"a", 1060, 2084},
		{"abcd", 1060, 2084},
		{"Bart-Simpson", 1068, 2092},
		{"Bart-Simpson!", 1072, 2096},
	} {
		d := testRegistration(t, tc.symname)
		if d.TEL() != tc.tel || d.TDL() != tc.tdl {
			t.Errorf("symname %q: tel %d tdl %d, want %d %d", tc.symname, d.TEL(), d.TDL(), tc.tel, tc.tdl)
		}
		b := mustMarshal(t, d)
		if len(b) != tc.tdl || binary.LittleEndian.Uint32(b) != uint32(tc.tdl) || binary.LittleEndian.Uint32(b[1024+1024:]) != uint32(tc.tel) {
			t.Errorf("symname %q: encoded %d bytes, tdl field %d, tel field %d", tc.symname, len(b), binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[2048:]))
		}
	}
}

func TestDIMLayout(t *testing.T) {
	b := mustMarshal(t, testRegistration(t, "Bart-Simpson"))
	le := binary.LittleEndian
	if le.Uint64(b[8:]) != 1 || le.Uint16(b[16:]) != 2 || le.Uint16(b[18:]) != 1 || b[20] != 0 || le.Uint16(b[22:]) != 0x5f {
		t.Errorf("header fields: nument %d entfmt %d etype %d portlcl %d ektype %#x", le.Uint64(b[8:]), le.Uint16(b[16:]), le.Uint16(b[18:]), b[20], le.Uint16(b[22:]))
	}
	if string(bytes.TrimRight(b[24:280], "\x00")) != testHostNQN {
		t.Errorf("eid = %q", b[24:280])
	}
	if string(bytes.TrimRight(b[280:536], "\x00")) != "host1" || string(bytes.TrimRight(b[536:600], "\x00")) != "Linux 6.1.0-18-amd64 Debian GNU/Linux 12" {
		t.Errorf("ename/ever = %q / %q", b[280:290], b[536:600])
	}
	e := b[1024:]
	if e[0] != byte(TransportTCP) || e[1] != byte(AddressFamilyIPv6) || !bytes.Equal(e[512:768], make([]byte, 256)) {
		t.Errorf("die trtype %d adrfam %d, traddr not empty", e[0], e[1])
	}
	if string(bytes.TrimRight(e[256:512], "\x00")) != testHostNQN {
		t.Errorf("die nqn = %q", e[256:300])
	}
	if le.Uint16(e[1028:]) != 2 {
		t.Errorf("numexat = %d", le.Uint16(e[1028:]))
	}
	x := e[1032:]
	if le.Uint16(x) != 1 || le.Uint16(x[2:]) != 16 || !bytes.Equal(x[4:20], testHostID[:]) {
		t.Errorf("hostid attribute = % x", x[:20])
	}
	x = x[20:]
	if le.Uint16(x) != 2 || le.Uint16(x[2:]) != 12 || string(x[4:16]) != "Bart-Simpson" {
		t.Errorf("symname attribute = % x", x[:16])
	}
	odd := mustMarshal(t, testRegistration(t, "abcde"))
	if got := string(odd[1024+1032+20+4:]); got != "abcde   " {
		t.Errorf("symname padding = %q", got)
	}
}

func TestDIMRoundTrip(t *testing.T) {
	for _, sym := range []string{"", "x", "Bart-Simpson", strings.Repeat("s", MaxSymbolicNameLen), "a b"} {
		d := testRegistration(t, sym)
		got, err := DecodeDIMData(mustMarshal(t, d))
		if err != nil {
			t.Fatalf("symname %q: %v", sym, err)
		}
		if *got != *d {
			t.Errorf("symname %q: round trip\n%+v\nwant\n%+v", sym, *got, *d)
		}
	}
}

func TestNewHostRegistrationValidation(t *testing.T) {
	good := HostRegistration{HostNQN: testHostNQN, HostID: testHostID, AdrFam: AddressFamilyIPv4}
	for _, tc := range []struct {
		name string
		mod  func(*HostRegistration)
		want error
	}{
		{"bad nqn", func(h *HostRegistration) { h.HostNQN = "host1" }, nqn.ErrInvalid},
		{"long nqn", func(h *HostRegistration) { h.HostNQN = "nqn." + strings.Repeat("a", 220) }, nqn.ErrInvalid},
		{"long symname", func(h *HostRegistration) { h.SymbolicName = strings.Repeat("s", 257) }, ErrFieldTooLong},
		{"control symname", func(h *HostRegistration) { h.SymbolicName = "a\tb" }, ErrInvalidValue},
		{"utf8 symname", func(h *HostRegistration) { h.SymbolicName = "café" }, ErrInvalidValue},
	} {
		h := good
		tc.mod(&h)
		if _, err := NewHostRegistration(h); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	h := good
	h.SymbolicName = "trailing  "
	h.EntityName = strings.Repeat("h", 300)
	h.EntityVersion = strings.Repeat("v", 100)
	d, err := NewHostRegistration(h)
	if err != nil {
		t.Fatal(err)
	}
	if d.Entry.SymbolicName != "trailing" || len(d.EntityName) != 256 || len(d.EntityVersion) != 64 {
		t.Errorf("normalised: %q %d %d", d.Entry.SymbolicName, len(d.EntityName), len(d.EntityVersion))
	}
	// The encoder truncates names set directly, and refuses a trailing space it cannot carry.
	d.EntityName = strings.Repeat("h", 300)
	back, err := DecodeDIMData(mustMarshal(t, d))
	if err != nil || len(back.EntityName) != 256 {
		t.Errorf("ename truncation: %v", err)
	}
	d.Entry.SymbolicName = "x "
	if _, err := d.MarshalBinary(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("trailing space: %v", err)
	}
	d.Entry.SymbolicName = ""
	d.Entry.TrAddr = strings.Repeat("a", 257)
	if _, err := d.MarshalBinary(); !errors.Is(err, ErrFieldTooLong) {
		t.Errorf("long traddr: %v", err)
	}
	d.Entry.TrAddr = ""
	d.Entry.NQN = "bad"
	if _, err := d.MarshalBinary(); !errors.Is(err, nqn.ErrInvalid) {
		t.Errorf("bad entry nqn: %v", err)
	}
	// A DDC entity is not held to host NQN rules.
	d.EntityType, d.EntityID, d.Entry.NQN = DIMEntityDDC, "ddc-name", "ddc-name"
	if _, err := d.MarshalBinary(); err != nil {
		t.Errorf("ddc entity: %v", err)
	}
}

func TestDecodeDIMErrors(t *testing.T) {
	base := mustMarshal(t, testRegistration(t, "Bart-Simpson"))
	le := binary.LittleEndian
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "0 bytes"},
		{"fixed part cut", base[:2000], ErrTruncated, "need at least 2056"},
		{"tdl", mod(func(b []byte) []byte { le.PutUint32(b, 9999); return b }), ErrMalformed, "tdl 9999 but 2092"},
		{"extra byte", append(bytes.Clone(base), 0), ErrMalformed, "tdl 2092 but 2093"},
		{"nument", mod(func(b []byte) []byte { le.PutUint64(b[8:], 2); return b }), ErrUnsupported, "nument 2"},
		{"entfmt", mod(func(b []byte) []byte { le.PutUint16(b[16:], 1); return b }), ErrUnsupported, "entfmt 1"},
		{"tel", mod(func(b []byte) []byte { le.PutUint32(b[2048:], 1064); return b }), ErrMalformed, "tel 1064"},
		{"numexat 3", mod(func(b []byte) []byte { le.PutUint16(b[2052:], 3); return b }), ErrMalformed, "attribute 2 of 3"},
		{"numexat 1", mod(func(b []byte) []byte { le.PutUint16(b[2052:], 1); return b }), ErrTrailingData, "16 bytes after the 1 attributes"},
		{"numexat 0", mod(func(b []byte) []byte { le.PutUint16(b[2052:], 0); return b }), ErrMalformed, "no HOSTID"},
		{"exatlen odd", mod(func(b []byte) []byte { le.PutUint16(b[2058:], 15); return b }), ErrMalformed, "exatlen 15"},
		{"exatlen huge", mod(func(b []byte) []byte { le.PutUint16(b[2078:], 0xfffc); return b }), ErrMalformed, "past the end"},
		{"hostid len", mod(func(b []byte) []byte { le.PutUint16(b[2058:], 20); return b }), ErrMalformed, "HOSTID exatlen 20"},
		{"two hostids", mod(func(b []byte) []byte { le.PutUint16(b[2076:], 1); return b }), ErrMalformed, "second HOSTID"},
		{"unknown type", mod(func(b []byte) []byte { le.PutUint16(b[2076:], 9); return b }), ErrUnsupported, "exattype 9"},
		{"symname spaces", mod(func(b []byte) []byte { copy(b[2080:], "            "); return b }), ErrMalformed, "SYMNAME exatlen 12"},
		{"symname ctrl", mod(func(b []byte) []byte { b[2080] = 1; return b }), ErrInvalidValue, "not printable"},
		{"bad eid", mod(func(b []byte) []byte { copy(b[24:], "xqn."); return b }), nqn.ErrInvalid, "entity id"},
	} {
		_, err := DecodeDIMData(tc.in)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
	// Two SYMNAMEs, built by hand.
	d := testRegistration(t, "abcd")
	b := mustMarshal(t, d)
	extra := []byte{2, 0, 4, 0, 'e', 'f', 'g', 'h'}
	b = append(b, extra...)
	le.PutUint32(b, uint32(len(b)))
	le.PutUint32(b[2048:], uint32(len(b)-1024))
	le.PutUint16(b[2052:], 3)
	if _, err := DecodeDIMData(b); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "second SYMNAME") {
		t.Errorf("two symnames: %v", err)
	}
}

func TestDIMTask(t *testing.T) {
	for tas, want := range map[DIMTask]string{DIMRegister: "register", DIMDeregister: "deregister", DIMUpdate: "update", 5: "tas(5)"} {
		if tas.String() != want {
			t.Errorf("%d = %q", tas, tas.String())
		}
		if ParseDIMCDW10(tas.CDW10()) != tas {
			t.Errorf("cdw10 round trip of %v", tas)
		}
	}
	if DIMDeregister.CDW10() != 1 || DIMUpdate.CDW10() != 2 || ParseDIMCDW10(0xfffffff1) != DIMDeregister {
		t.Error("cdw10 values")
	}
	for e, want := range map[DIMEntityType]string{1: "host", 2: "ddc", 3: "cdc", 0: "etype(0)"} {
		if e.String() != want {
			t.Errorf("etype %d = %q", e, e.String())
		}
	}
}

func TestEntityVersion(t *testing.T) {
	osRelease := []byte(`PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
ID=debian
`)
	if got := EntityVersion("Linux\n", "6.1.0-18-amd64\n", osRelease); got != "Linux 6.1.0-18-amd64 Debian GNU/Linux 12" {
		t.Errorf("EntityVersion = %q", got)
	}
	if got := EntityVersion("Linux", "6.1.0", nil); got != "Linux 6.1.0" {
		t.Errorf("without os-release = %q", got)
	}
	if got := EntityVersion("", "", []byte("NAME=Arch\nnonsense\n")); got != "Arch" {
		t.Errorf("partial = %q", got)
	}
	long := EntityVersion("Linux", strings.Repeat("9", 80), nil)
	if len(long) != 64 {
		t.Errorf("not truncated: %d", len(long))
	}
}

func TestParseUUID(t *testing.T) {
	id, err := ParseUUID("3da64a01-16c5-4e10-ac46-397e2372b964")
	if err != nil || id != testHostID {
		t.Errorf("ParseUUID = % x, %v", id, err)
	}
	for _, s := range []string{"", "3da64a01-16c5-4e10-ac46-397e2372b96", "3da64a01x16c5-4e10-ac46-397e2372b964", "zda64a01-16c5-4e10-ac46-397e2372b964"} {
		if _, err := ParseUUID(s); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("ParseUUID(%q) = %v", s, err)
		}
	}
}
