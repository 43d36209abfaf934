// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func TestParseAllLogPagesOfStafd(t *testing.T) {
	other := tid.New(tid.TID{Transport: tid.TCP, Traddr: "198.51.100.2", SubsysNQN: "nqn.2014-08.org.example:cdc",
		HostTraddr: "198.51.100.1", HostNQN: otherHostNQN}, tid.Discovery, false)
	pages, err := parseAllLogPages(answer(
		known(dcTID, dlpe("192.0.2.10", subA), dlpe("192.0.2.11", subB, "eflags", "4")),
		dcAnswer{tid: other, connected: false, entries: []map[string]string{dlpe("198.51.100.10", subC)}},
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 {
		t.Fatalf("%d pages, want 2", len(pages))
	}
	if p := pages[0]; p.DC != dcTID || !p.Known || len(p.Entries) != 2 || p.Entries[1]["eflags"] != "4" || p.Entries[0]["traddr"] != "192.0.2.10" {
		t.Errorf("first page = %+v", p)
	}
	if p := pages[1]; p.DC != other || p.Known || len(p.Entries) != 1 {
		t.Errorf("second page (DC not connected) = %+v, want its entries but not known", p)
	}

	// nvme-stas's own sample answer (dbustest.SampleStafd) parses too.
	sample := dbustest.SampleStafd().GetAllLogPages(true)
	pages, err = parseAllLogPages(sample)
	if err != nil || len(pages) != 2 {
		t.Fatalf("sample answer: %v, %d pages", err, len(pages))
	}
	// Its DC1 shows its log page read under way: the entries may be an older page.
	if pages[0].DC != dbustest.SampleDC1 || pages[0].Known || len(pages[0].Entries) != 2 {
		t.Errorf("sample DC1 (log page read running) = %+v, want its entries, not known", pages[0])
	}
	if pages[1].DC != dbustest.SampleDC2 || pages[1].Known || len(pages[1].Entries) != 0 {
		t.Errorf("sample DC2 (not connected) = %+v", pages[1])
	}
}

// An empty list from a connected DC is stafd's knowledge only when its log page read is
// over and did not fail (reference §4.5, design "unknown is not gone").
func TestParseAllLogPagesEmptyListKnowledge(t *testing.T) {
	cases := []struct {
		name string
		dc   dcAnswer
		want bool
	}{
		{"completed read", dcAnswer{tid: dcTID, connected: true, logOp: opDone}, true},
		{"nvme-stas after a successful read (operation gone)", dcAnswer{tid: dcTID, connected: true}, true},
		{"read still running", dcAnswer{tid: dcTID, connected: true, logOp: opRunning}, false},
		{"read failed", dcAnswer{tid: dcTID, connected: true, logOp: opFailed}, false},
		{"not connected", dcAnswer{tid: dcTID, connected: false, logOp: opDone}, false},
		{"entries while the read runs again (maybe an older page)", dcAnswer{tid: dcTID, connected: true, logOp: opRunning,
			entries: []map[string]string{dlpe("192.0.2.10", subA)}}, false},
		{"entries after a completed read", dcAnswer{tid: dcTID, connected: true, logOp: opDone,
			entries: []map[string]string{dlpe("192.0.2.10", subA)}}, true},
		{"entries, nvme-stas without the operation", dcAnswer{tid: dcTID, connected: true,
			entries: []map[string]string{dlpe("192.0.2.10", subA)}}, true},
	}
	for _, c := range cases {
		pages, err := parseAllLogPages(answer(c.dc))
		if err != nil || len(pages) != 1 {
			t.Fatalf("%s: %v %v", c.name, pages, err)
		}
		if pages[0].Known != c.want {
			t.Errorf("%s: known = %v, want %v", c.name, pages[0].Known, c.want)
		}
	}
}

func TestParseAllLogPagesForeignValues(t *testing.T) {
	// A stafd other than ours may send numbers, booleans and nulls: they become text,
	// nested values are dropped.
	text := `[{"discovery-controller": {"transport": "tcp", "traddr": "192.0.2.2", "trsvcid": 8009,
	  "subsysnqn": "nqn.2014-08.org.nvmexpress.discovery", "host-iface": null, "connected": "True"},
	  "log-pages": [{"trtype": "tcp", "traddr": "192.0.2.10", "trsvcid": 4420, "subnqn": "` + subA + `",
	  "subtype": "nvme", "eflags": 4, "portid": 1.5e0, "tsas": {"sectype": "none"}, "flag": true}]}]`
	pages, err := parseAllLogPages(text)
	if err != nil {
		t.Fatal(err)
	}
	p := pages[0]
	if p.DC.Trsvcid != "8009" || p.DC.HostIface != "" || !p.Known {
		t.Errorf("DC = %+v known %v", p.DC, p.Known)
	}
	e := p.Entries[0]
	if e["trsvcid"] != "4420" || e["eflags"] != "4" || e["portid"] != "1.5e0" || e["flag"] != "true" {
		t.Errorf("entry = %v", e)
	}
	if _, ok := e["tsas"]; ok {
		t.Errorf("a nested value was kept: %q", e["tsas"])
	}
	ent := entry{DLPE: e}
	if !ent.ncc() {
		t.Error("eflags 4 sent as a number is not NCC")
	}
}

func TestParseAllLogPagesRefusesMalformed(t *testing.T) {
	cases := map[string]string{
		"not JSON":                `{torn`,
		"an object":               `{"discovery-controller": {}}`,
		"entries not objects":     `[{"discovery-controller": {"transport": "tcp", "traddr": "192.0.2.2"}, "log-pages": ["x"]}]`,
		"no discovery-controller": `[{"log-pages": []}]`,
		"DC without traddr":       `[{"discovery-controller": {"transport": "tcp"}, "log-pages": []}]`,
		"DC without transport":    `[{"discovery-controller": {"traddr": "192.0.2.2"}, "log-pages": []}]`,
		"DC of numbers only":      `[{"discovery-controller": {"transport": 6, "traddr": {"a": 1}}, "log-pages": []}]`,
		"oversized":               "[" + strings.Repeat(" ", maxLogPagesAnswer) + "]",
	}
	for name, text := range cases {
		pages, err := parseAllLogPages(text)
		if err == nil {
			t.Errorf("%s: accepted as %+v", name, pages)
		}
	}
	// One bad element refuses the whole answer: half an answer could look like a DC
	// that lost its entries.
	good := answer(known(dcTID, dlpe("192.0.2.10", subA)))
	mixed := strings.TrimSuffix(good, "]") + `, {"log-pages": []}]`
	if pages, err := parseAllLogPages(mixed); err == nil {
		t.Errorf("an answer with one bad element accepted: %+v", pages)
	}
	if pages, err := parseAllLogPages(`[]`); err != nil || len(pages) != 0 {
		t.Errorf("empty answer: %v %v", pages, err)
	}
	if pages, err := parseAllLogPages(`null`); err != nil || len(pages) != 0 {
		t.Errorf("null answer: %v %v", pages, err)
	}
}

func FuzzParseAllLogPages(f *testing.F) {
	f.Add(answer(known(dcTID, dlpe("192.0.2.10", subA), dlpe("2001:db8::10", subB, "eflags", "4"))))
	f.Add(answer(dcAnswer{tid: dcTID, connected: true, logOp: opRunning}))
	f.Add(dbustest.SampleStafd().GetAllLogPages(true))
	f.Add(`[{"discovery-controller": {"transport": "tcp", "traddr": "192.0.2.2", "trsvcid": 8009}, "log-pages": [{"eflags": 4, "x": null, "y": [1]}]}]`)
	f.Add(`[{"discovery-controller": {}}]`)
	f.Fuzz(func(t *testing.T, text string) {
		pages, err := parseAllLogPages(text)
		if err != nil {
			if pages != nil {
				t.Errorf("pages %v with error %v", pages, err)
			}
			return
		}
		for _, p := range pages {
			if p.DC.Transport == "" || p.DC.Traddr == "" {
				t.Errorf("accepted a page without a discovery controller: %+v", p)
			}
			if p.Entries == nil {
				t.Errorf("nil entries for %v", p.DC)
			}
			// Whatever an entry holds, checking it never panics and a usable one names a
			// valid subsystem.
			for _, d := range p.Entries {
				if checkDLPE(d) == "" {
					if err := nqn.ValidateSubsystem(d["subnqn"]); err != nil {
						t.Errorf("entry %v passed the check with a bad NQN: %v", d, err)
					}
				}
				e := entry{DLPE: d}
				_ = e.ncc()
			}
		}
	})
}

// stacd looks for the text stafd renders for a completed read.
func TestOperationStringShape(t *testing.T) {
	want := `"` + dbusapi.KeyGetLogPageOperation + `": "{'fail count': 0, 'completed': True, 'alive': True}"`
	if got := answer(known(dcTID)); !strings.Contains(got, want) {
		t.Errorf("the operation string stacd looks for is not what stafd sends: %s", got)
	}
}
