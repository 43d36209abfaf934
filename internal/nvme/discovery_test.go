// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

const testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964"

// nvmetPage is what a Linux target serves to a host that reached it through port 1 on
// 192.0.2.10: the current discovery subsystem, one NVM subsystem, one referral.
func nvmetPage() *DiscoveryLog {
	return &DiscoveryLog{
		GenCtr: 3,
		Entries: []Entry{
			{
				TrType: TransportTCP, AdrFam: AddressFamilyIPv4, SubType: SubsystemCurrentDiscovery,
				TReq: TReqSQFlowDisableSupp, PortID: 1, CNTLID: 0xffff, ASQSZ: 32,
				TrSvcID: "8009", SubNQN: nqn.WellKnownDiscovery, TrAddr: "192.0.2.10",
				TSAS: NewTCPTSAS(TCPSecTypeNone),
			},
			{
				TrType: TransportTCP, AdrFam: AddressFamilyIPv4, SubType: SubsystemNVMe,
				TReq: TReqSQFlowDisableSupp, PortID: 1, CNTLID: 0xffff, ASQSZ: 32,
				TrSvcID: "8009", SubNQN: "nqn.2024-01.io.example:subsys1", TrAddr: "192.0.2.10",
				TSAS: NewTCPTSAS(TCPSecTypeNone),
			},
			{
				TrType: TransportTCP, AdrFam: AddressFamilyIPv4, SubType: SubsystemReferral,
				PortID: 2, CNTLID: 0xffff, ASQSZ: 32,
				TrSvcID: "8009", SubNQN: nqn.WellKnownDiscovery, TrAddr: "198.51.100.20",
			},
		},
	}
}

func mustMarshal(t testing.TB, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	return b
}

func equalLogs(a, b *DiscoveryLog) bool {
	if a.GenCtr != b.GenCtr || a.RecFmt != b.RecFmt || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}

// handPage builds a page byte by byte, independently of the encoder, with space-padded
// trsvcid/traddr as the specification describes.
func handPage() []byte {
	b := make([]byte, LogHeaderSize+LogEntrySize)
	binary.LittleEndian.PutUint64(b[0:], 0x0102030405060708)
	binary.LittleEndian.PutUint64(b[8:], 1)
	e := b[LogHeaderSize:]
	e[0], e[1], e[2], e[3] = 3, 2, 2, 0x05
	binary.LittleEndian.PutUint16(e[4:], 0x1234)
	binary.LittleEndian.PutUint16(e[6:], 0xfffe)
	binary.LittleEndian.PutUint16(e[8:], 128)
	binary.LittleEndian.PutUint16(e[10:], 0x0006)
	copy(e[32:64], "4420"+strings.Repeat(" ", 28))
	copy(e[256:], "nqn.2024-01.io.example:subsys2")
	copy(e[512:768], "2001:db8::1"+strings.Repeat(" ", 245))
	e[768] = 2
	return b
}

func TestDecodeHandBuiltPage(t *testing.T) {
	l, err := DecodeDiscoveryLog(handPage())
	if err != nil {
		t.Fatal(err)
	}
	if l.GenCtr != 0x0102030405060708 || l.RecFmt != 0 || len(l.Entries) != 1 {
		t.Fatalf("header = %d/%d/%d entries", l.GenCtr, l.RecFmt, len(l.Entries))
	}
	want := Entry{
		TrType: TransportTCP, AdrFam: AddressFamilyIPv6, SubType: SubsystemNVMe, TReq: 5,
		PortID: 0x1234, CNTLID: 0xfffe, ASQSZ: 128, EFlags: EFlagEPCSD | EFlagNCC,
		TrSvcID: "4420", SubNQN: "nqn.2024-01.io.example:subsys2", TrAddr: "2001:db8::1",
		TSAS: NewTCPTSAS(TCPSecTypeTLS13),
	}
	if got := l.Entries[0]; got != want {
		t.Errorf("entry =\n%+v\nwant\n%+v", got, want)
	}
	if got := l.Entries[0].TReq; got.SecureChannel() != SecureChannelRequired || !got.SQFlowControlDisable() {
		t.Errorf("treq 5 = %v / %v", got.SecureChannel(), got.SQFlowControlDisable())
	}
}

func TestEncodeNvmetPageLayout(t *testing.T) {
	page := nvmetPage()
	b := mustMarshal(t, page)
	if len(b) != LogHeaderSize+3*LogEntrySize {
		t.Fatalf("len = %d", len(b))
	}
	if g := binary.LittleEndian.Uint64(b[0:]); g != 3 {
		t.Errorf("genctr = %d", g)
	}
	if n := binary.LittleEndian.Uint64(b[8:]); n != 3 {
		t.Errorf("numrec = %d", n)
	}
	ref := b[LogHeaderSize+2*LogEntrySize:]
	if ref[2] != 1 || binary.LittleEndian.Uint16(ref[4:]) != 2 || binary.LittleEndian.Uint16(ref[6:]) != 0xffff || binary.LittleEndian.Uint16(ref[8:]) != 32 {
		t.Errorf("referral binary fields = % x", ref[:12])
	}
	if !bytes.Equal(ref[32:36], []byte("8009")) || ref[36] != 0 {
		t.Errorf("trsvcid field = %q", ref[32:40])
	}
	if !bytes.Equal(ref[512:525], []byte("198.51.100.20")) || !bytes.Equal(ref[525:768], make([]byte, 243)) {
		t.Errorf("traddr not NUL padded")
	}
	got, err := DecodeDiscoveryLog(b)
	if err != nil {
		t.Fatal(err)
	}
	if !equalLogs(got, page) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, page)
	}
	if h, _ := DecodeLogHeader(b[:LogHeaderReadLen]); h != page.Header() {
		t.Errorf("header = %+v, want %+v", h, page.Header())
	}
	// Paging as the kernel layer does: header first, then entries by offset.
	entries, err := DecodeEntries(b[LogHeaderSize+LogEntrySize:])
	if err != nil || len(entries) != 2 || entries[1] != page.Entries[2] {
		t.Errorf("DecodeEntries = %+v, %v", entries, err)
	}
	one, err := DecodeEntry(b[LogHeaderSize:])
	if err != nil || one != page.Entries[0] {
		t.Errorf("DecodeEntry = %+v, %v", one, err)
	}
}

func TestTextFieldPadding(t *testing.T) {
	b := make([]byte, LogEntrySize)
	b[0] = byte(TransportTCP)
	copy(b[32:64], "8009 \x00 \x00")
	full := strings.Repeat("a", 256)
	copy(b[512:768], full)                     // no terminator at all
	copy(b[256:512], "nqn.x\x00evil\x00\x00 ") // NUL in the middle
	e, err := DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.TrSvcID != "8009" {
		t.Errorf("trsvcid = %q", e.TrSvcID)
	}
	if e.TrAddr != full {
		t.Errorf("traddr has %d bytes, want 256", len(e.TrAddr))
	}
	if e.SubNQN != "nqn.x\x00evil" {
		t.Errorf("subnqn = %q", e.SubNQN)
	}
	err = e.CheckText()
	if !errors.Is(err, ErrUnsafeText) || !strings.Contains(err.Error(), "subnqn") || !strings.Contains(err.Error(), "NUL at byte 5") {
		t.Errorf("CheckText = %v", err)
	}
	// Round trip of a field that fills its whole width.
	e.SubNQN = "nqn.x"
	re := mustMarshal(t, &e)
	back, err := DecodeEntry(re)
	if err != nil || back != e {
		t.Errorf("round trip of full-width traddr: %v", err)
	}
}

func TestFCAddressRewrite(t *testing.T) {
	mk := func(tr TransportType, addr string) Entry {
		e := Entry{TrType: tr, AdrFam: AddressFamilyFC, TrAddr: addr}
		got, err := DecodeEntry(mustMarshal(t, &e))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	const comma = "nn-0x20000090fa000001,pn-0x10000090fa000001"
	if got := mk(TransportFC, comma).TrAddr; got != "nn-0x20000090fa000001:pn-0x10000090fa000001" {
		t.Errorf("fc traddr = %q", got)
	}
	if got := mk(TransportFC, "nn-0x1:pn-0x2").TrAddr; got != "nn-0x1:pn-0x2" {
		t.Errorf("fc traddr with colon = %q", got)
	}
	if got := mk(TransportTCP, "a,b").TrAddr; got != "a,b" {
		t.Errorf("tcp traddr with comma rewritten: %q", got)
	}
}

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // substring of the error, "" for none
	}{
		{"192.0.2.1", ""},
		{"nqn.2014-08.org.nvmexpress:uuid:é", ""},
		{"a b", ""},
		{"", ""},
		{"a\x00b", "NUL at byte 1"},
		{"ab\n", "control character U+000A at byte 2"},
		{"a\x7f", "control character U+007F"},
		{"a\u0085", "control character U+0085"},
		{"\xff", "invalid UTF-8 at byte 0"},
		{"x\u200by", "non-printable character U+200B at byte 1"},
	} {
		err := CheckText(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckText(%q) = %v", tc.in, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrUnsafeText) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckText(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	e := Entry{TrSvcID: "80\t09"}
	if err := e.CheckText(); err == nil || !strings.Contains(err.Error(), "trsvcid") {
		t.Errorf("Entry.CheckText = %v", err)
	}
	e = Entry{TrSvcID: "8009", SubNQN: "nqn.a", TrAddr: "::1"}
	if err := e.CheckText(); err != nil {
		t.Errorf("Entry.CheckText = %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := mustMarshal(t, nvmetPage())
	withNumrec := func(n uint64) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint64(b[8:], n)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "0 bytes, need at least 18"},
		{"short header", good[:17], ErrTruncated, "17 bytes"},
		{"header only read", good[:LogHeaderReadLen], ErrTruncated, "the header alone is 1024"},
		{"numrec too large", withNumrec(4), ErrTruncated, "numrec 4 but 4096 bytes hold only 3 entries"},
		{"numrec huge", withNumrec(1 << 63), ErrTruncated, "numrec 9223372036854775808"},
		{"numrec max", withNumrec(^uint64(0)), ErrTruncated, "hold only 3"},
		{"short entry", good[:len(good)-1], ErrTruncated, "hold only 2"},
		{"trailing", withNumrec(2), ErrTrailingData, "1024 bytes after the 2 entries"},
		{"trailing byte", append(bytes.Clone(good), 0), ErrTrailingData, "1 bytes after"},
	} {
		_, err := DecodeDiscoveryLog(tc.in)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if _, err := DecodeEntries(good[:LogEntrySize+1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeEntries odd length: %v", err)
	}
	if es, err := DecodeEntries(nil); err != nil || len(es) != 0 {
		t.Errorf("DecodeEntries(nil) = %v, %v", es, err)
	}
	if _, err := DecodeEntry(good[:LogEntrySize-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("DecodeEntry short: %v", err)
	}
	// numrec 0 with just the header is a valid empty page.
	empty := mustMarshal(t, &DiscoveryLog{GenCtr: 9})
	if l, err := DecodeDiscoveryLog(empty); err != nil || l.GenCtr != 9 || len(l.Entries) != 0 {
		t.Errorf("empty page = %+v, %v", l, err)
	}
}

func TestEntriesLen(t *testing.T) {
	if n, err := (LogHeader{NumRec: 3}).EntriesLen(); err != nil || n != 3072 {
		t.Errorf("EntriesLen(3) = %d, %v", n, err)
	}
	if n, err := (LogHeader{NumRec: MaxLogRecords}).EntriesLen(); err != nil || n != MaxLogRecords*LogEntrySize {
		t.Errorf("EntriesLen(max) = %d, %v", n, err)
	}
	if _, err := (LogHeader{NumRec: MaxLogRecords + 1}).EntriesLen(); !errors.Is(err, ErrMalformed) {
		t.Errorf("EntriesLen(max+1) = %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Entry
	}{
		{"trsvcid", Entry{TrSvcID: strings.Repeat("1", 33)}},
		{"subnqn", Entry{SubNQN: strings.Repeat("n", 257)}},
		{"traddr", Entry{TrAddr: strings.Repeat("a", 257)}},
	} {
		prefix := []byte("keep")
		out, err := tc.e.AppendBinary(prefix)
		if !errors.Is(err, ErrFieldTooLong) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if string(out) != "keep" {
			t.Errorf("%s: AppendBinary left %d bytes on error", tc.name, len(out))
		}
		l := &DiscoveryLog{Entries: []Entry{{}, tc.e}}
		if _, err := l.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "entry 1") {
			t.Errorf("%s: log encode err = %v", tc.name, err)
		}
	}
}

// randText returns printable text without trailing spaces, up to n bytes.
func randText(r *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.:-_ ,"
	b := make([]byte, r.IntN(n+1))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return strings.TrimRight(string(b), " ")
}

func randEntry(r *rand.Rand) Entry {
	e := Entry{
		TrType:  TransportType(r.IntN(256)),
		AdrFam:  AddressFamily(r.IntN(256)),
		SubType: SubsystemType(r.IntN(256)),
		TReq:    TransportRequirements(r.IntN(256)),
		PortID:  uint16(r.Uint32()),
		CNTLID:  uint16(r.Uint32()),
		ASQSZ:   uint16(r.Uint32()),
		EFlags:  EntryFlags(r.Uint32()),
		TrSvcID: randText(r, 32),
		SubNQN:  randText(r, 256),
		TrAddr:  randText(r, 256),
	}
	for i := range e.TSAS {
		e.TSAS[i] = byte(r.Uint32())
	}
	if e.TrType == TransportFC {
		// A comma in an FC address is rewritten by design, so it is not a valid input.
		e.TrAddr = strings.ReplaceAll(e.TrAddr, ",", ":")
	}
	return e
}

func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		l := &DiscoveryLog{GenCtr: r.Uint64(), RecFmt: uint16(r.Uint32())}
		for range r.IntN(5) {
			l.Entries = append(l.Entries, randEntry(r))
		}
		b := mustMarshal(t, l)
		got, err := DecodeDiscoveryLog(b)
		if err != nil {
			t.Fatal(err)
		}
		if !equalLogs(got, l) {
			t.Fatalf("decode(encode(x)) != x:\n%+v\n%+v", got, l)
		}
	}
}

func benchPage(tb testing.TB, n int) []byte {
	l := &DiscoveryLog{GenCtr: 1}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		e := nvmetPage().Entries[i%3]
		e.SubNQN = e.SubNQN + randText(r, 20)
		l.Entries = append(l.Entries, e)
	}
	return mustMarshal(tb, l)
}

func BenchmarkDecodeDiscoveryLog(b *testing.B) {
	page := benchPage(b, 1000)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := DecodeDiscoveryLog(page)
		if err != nil || len(l.Entries) != 1000 {
			b.Fatal(err)
		}
	}
}

func TestDecodeAllocations(t *testing.T) {
	page := benchPage(t, 1000)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := DecodeDiscoveryLog(page); err != nil {
			t.Fatal(err)
		}
	})
	// The log struct, the entry slice and one string for all the text.
	if allocs > 3 {
		t.Errorf("decoding 1000 entries costs %v allocations, want at most 3", allocs)
	}
}
