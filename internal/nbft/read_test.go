// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
)

func testLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestReadAll(t *testing.T) {
	spec := goodSpec()
	spec.discs[1].hfi = 7 // one warning
	fsys := fstest.MapFS{
		"NBFT":       {Data: readFixture(t, "NBFT")},
		"NBFT1":      {Data: spec.build()},
		"NBFT-Empty": {Data: nil},
		"NBFT-cafe":  {Data: bytes.Repeat([]byte{0xca, 0xfe, 0xba, 0xbe}, 64)},
		"NBFT-huge":  {Data: make([]byte, maxTableLen+1)},
		"DSDT":       {Data: []byte("not ours")},
		"NBFTdir":    {Mode: fs.ModeDir},
	}
	log, buf := testLogger()
	tables := ReadAll(fsys, log)
	if len(tables) != 2 || tables[0].Name != "NBFT" || tables[1].Name != "NBFT1" {
		t.Fatalf("ReadAll = %+v", tables)
	}
	out := buf.String()
	for _, want := range []string{
		`level=INFO msg="NBFT location(s)"`,
		`level=DEBUG msg="NBFT table is empty, skipped" file=NBFT-Empty`,
		`level=ERROR msg="NBFT table skipped" file=NBFT-cafe error="parse NBFT NBFT-cafe: malformed NBFT table: signature`,
		`level=ERROR msg="NBFT table skipped" file=NBFT-huge`,
		`level=ERROR msg="NBFT table skipped" file=NBFTdir`,
		`level=WARN msg="NBFT descriptor dropped" file=NBFT1 reason="discovery descriptor 1 (index 2): HFI 7 not found`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DSDT") {
		t.Errorf("log mentions another table:\n%s", out)
	}
}

func TestReadAllNothing(t *testing.T) {
	for name, fsys := range map[string]fs.FS{
		"empty directory":   fstest.MapFS{},
		"missing directory": fstest.MapFS{"other/NBFT": {Data: []byte("x")}},
		"no NBFT":           fstest.MapFS{"APIC": {Data: []byte("x")}},
	} {
		log, buf := testLogger()
		if tables := ReadAll(fsys, log); tables != nil || buf.Len() != 0 {
			t.Errorf("%s: ReadAll = %v, log %q; want nothing, quietly", name, tables, buf.String())
		}
		sub, err := fs.Sub(fsys, "missing")
		if err != nil {
			t.Fatal(err)
		}
		if tables := ReadAll(sub, log); tables != nil || buf.Len() != 0 {
			t.Errorf("%s (sub): ReadAll = %v, log %q", name, tables, buf.String())
		}
	}
	if tables := ReadAll(fstest.MapFS{"NBFT": {Data: readFixture(t, "NBFT")}}, nil); len(tables) != 1 {
		t.Errorf("nil logger: %v", tables)
	}
	// Only an empty table: nothing, at debug level only.
	log, buf := testLogger()
	if tables := ReadAll(fstest.MapFS{"NBFT": {}}, log); tables != nil || strings.Contains(buf.String(), "ERROR") {
		t.Errorf("empty NBFT: %v, log %q", tables, buf.String())
	}
}

type failingFS struct{ fstest.MapFS }

func (f failingFS) Open(name string) (fs.File, error) {
	if name == "NBFT" {
		return nil, errors.New("EIO")
	}
	return f.MapFS.Open(name)
}

func TestReadAllOpenError(t *testing.T) {
	log, buf := testLogger()
	fsys := failingFS{fstest.MapFS{"NBFT": {Data: []byte("x")}, "NBFT2": {Data: readFixture(t, "NBFT")}}}
	tables := ReadAll(fsys, log)
	if len(tables) != 1 || tables[0].Name != "NBFT2" || !strings.Contains(buf.String(), "read NBFT NBFT: EIO") {
		t.Errorf("ReadAll = %v, log %q", tables, buf.String())
	}
}
