// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The seed corpora under testdata/fuzz/ hold, besides what f.Add gives, the same kinds
// of input as committed files: the nvmet three-entry page, the nvmet Identify data, DIM
// registrations, and their truncated or corrupted forms.

func mixedPage(t testing.TB) []byte {
	l := nvmetPage()
	l.Entries = append(l.Entries,
		Entry{TrType: TransportFC, AdrFam: AddressFamilyFC, SubType: SubsystemNVMe, TrAddr: "nn-0x1,pn-0x2", SubNQN: "nqn.fc"},
		Entry{TrType: TransportRDMA, AdrFam: AddressFamilyIPv4, SubType: SubsystemNVMe, TrSvcID: "4420", TrAddr: "10.0.0.1",
			TSAS: RDMATSAS{QPType: 1, PrType: 4, CMS: 1, PKey: 0xffff}.TSAS()},
	)
	return mustMarshal(t, l)
}

func FuzzDecodeDiscoveryLog(f *testing.F) {
	page := mustMarshal(f, nvmetPage())
	f.Add(page)
	f.Add(handPage())
	f.Add(mixedPage(f))
	f.Add(page[:LogHeaderReadLen])
	f.Add(page[:len(page)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := DecodeLogHeader(b); err == nil {
			_, _ = h.EntriesLen()
		}
		if len(b) >= LogHeaderSize {
			_, _ = DecodeEntries(b[LogHeaderSize:])
		}
		l, err := DecodeDiscoveryLog(b)
		if err != nil {
			return
		}
		for i := range l.Entries {
			e := &l.Entries[i]
			_ = e.CheckText()
			_ = e.DLPE()
			if _, err := json.Marshal(e.CLIRecord()); err != nil {
				t.Fatalf("entry %d: CLI JSON: %v", i, err)
			}
		}
		re, err := l.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeDiscoveryLog(re)
		if err != nil {
			t.Fatalf("decode re-encoded page: %v", err)
		}
		if !equalLogs(l, again) {
			t.Fatalf("decode(encode(decode(b))) != decode(b)")
		}
	})
}

func FuzzDecodeIdentify(f *testing.F) {
	id := mustMarshal(f, nvmetIdentify())
	f.Add(id)
	cdc := nvmetIdentify()
	cdc.DCType, cdc.SerialNumber = DCTypeCDC, strings.Repeat("9", 20)
	f.Add(mustMarshal(f, cdc))
	f.Add(id[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeIdentifyController(b)
		if err != nil {
			return
		}
		_ = c.CntrlType.String() + c.DCType.String() + c.Version.String()
		re, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeIdentifyController(re)
		if err != nil {
			t.Fatalf("decode re-encoded data: %v", err)
		}
		if *again != *c {
			t.Fatalf("decode(encode(decode(b))) != decode(b)")
		}
	})
}

func FuzzDecodeDIM(f *testing.F) {
	for _, sym := range []string{"", "Bart-Simpson", "abcde"} {
		d, err := NewHostRegistration(HostRegistration{
			HostNQN: testHostNQN, HostID: testHostID, SymbolicName: sym,
			EntityName: "host1", EntityVersion: "Linux 6.1.0-18-amd64 Debian GNU/Linux 12", AdrFam: AddressFamilyIPv4,
		})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(mustMarshal(f, d))
	}
	f.Add(make([]byte, DIMHeaderSize+DIMExtEntryFixedSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDIMData(b)
		if err != nil {
			return
		}
		_ = d.Entry.AdrFam.String() + d.EntityType.String()
		re, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if len(re) != d.TDL() {
			t.Fatalf("encoded %d bytes, TDL %d", len(re), d.TDL())
		}
		again, err := DecodeDIMData(re)
		if err != nil {
			t.Fatalf("decode re-encoded data: %v", err)
		}
		if *again != *d {
			t.Fatalf("decode(encode(decode(b))) != decode(b)")
		}
	})
}

// readCorpusFile reads a one-value []byte file of Go's native fuzz corpus format.
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, body, ok := strings.Cut(string(raw), "\n")
	if header != "go test fuzz v1" || !ok {
		t.Fatalf("%s: not a fuzz corpus file", path)
	}
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, "[]byte(") || !strings.HasSuffix(body, ")") {
		t.Fatalf("%s: not a []byte value", path)
	}
	s, err := strconv.Unquote(body[len("[]byte(") : len(body)-1])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// TestCommittedSeeds checks that the committed corpora hold what they claim: the
// nvmet page with its three entries and the nvmet Identify data decode to the values
// the tests use.
func TestCommittedSeeds(t *testing.T) {
	page := readCorpusFile(t, filepath.Join("testdata", "fuzz", "FuzzDecodeDiscoveryLog", "nvmet-3-entries"))
	l, err := DecodeDiscoveryLog(page)
	if err != nil {
		t.Fatal(err)
	}
	if !equalLogs(l, nvmetPage()) {
		t.Errorf("nvmet-3-entries seed decodes to %+v", l)
	}
	id := readCorpusFile(t, filepath.Join("testdata", "fuzz", "FuzzDecodeIdentify", "nvmet-discovery"))
	c, err := DecodeIdentifyController(id)
	if err != nil || *c != *nvmetIdentify() {
		t.Errorf("nvmet-discovery seed: %+v, %v", c, err)
	}
	dim := readCorpusFile(t, filepath.Join("testdata", "fuzz", "FuzzDecodeDIM", "register-no-symname"))
	d, err := DecodeDIMData(dim)
	if err != nil || d.TDL() != 2076 || !bytes.Equal(d.Entry.HostID[:], testHostID[:]) {
		t.Errorf("register-no-symname seed: %+v, %v", d, err)
	}
	for _, dir := range []string{"FuzzDecodeDiscoveryLog", "FuzzDecodeIdentify", "FuzzDecodeDIM"} {
		files, err := os.ReadDir(filepath.Join("testdata", "fuzz", dir))
		if err != nil || len(files) < 3 {
			t.Errorf("%s: %d seed files, %v", dir, len(files), err)
		}
	}
}
