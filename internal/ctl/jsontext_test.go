// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

func TestDecodeJSONKeepsOrder(t *testing.T) {
	v, err := DecodeJSON(`{"z": 1, "a": [true, null, "x", 1.5, {}], "m": {"k": "v"}, "z": 2}`)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(*dbusapi.Dict)
	if !ok {
		t.Fatalf("got %T", v)
	}
	// A repeated key keeps its first place and its last value, as a Python dict.
	if got, want := dbusapi.PyRepr(d), "{'z': 2, 'a': [True, None, 'x', 1.5, {}], 'm': {'k': 'v'}}"; got != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
	for _, bad := range []string{"", "{", "[1,", `{"a" 1}`, `{1: 2}`, "[1] 2", "]", strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if _, err := DecodeJSON(bad); !errors.Is(err, ErrJSON) {
			t.Errorf("DecodeJSON(%q) = %v", bad, err)
		}
	}
	if _, err := DecodeJSON(strings.Repeat("[", 60) + strings.Repeat("]", 60)); err != nil {
		t.Errorf("60 levels refused: %v", err)
	}
}

func TestWriteJSON(t *testing.T) {
	v := dbusapi.NewDict("b", "é \"q\" \\ \n\r\t\x01\x7f<&>", "a", []any{}, "c", &dbusapi.Dict{}, "n", nil, "t", true,
		"num", json.Number("1.50"), "i", 7, "l", []map[string]string{{"y": "1", "x": "2"}}, "s", []string{"p"})
	var b bytes.Buffer
	if err := WriteJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	want := `{
  "b": "é \"q\" \\ \n\r\t\u0001\u007f<&>",
  "a": [],
  "c": {},
  "n": null,
  "t": true,
  "num": 1.50,
  "i": 7,
  "l": [
    {
      "x": "2",
      "y": "1"
    }
  ],
  "s": [
    "p"
  ]
}
`
	if b.String() != want {
		t.Errorf("WriteJSON:\n%s\nwant:\n%s", b.String(), want)
	}
	if !json.Valid(b.Bytes()) {
		t.Error("not valid JSON")
	}
	if err := WriteJSON(failingWriter{}, v); err == nil {
		t.Error("write error lost")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestArgs(t *testing.T) {
	opts := []option{{short: "-n", long: "--num", metavar: "<n>"}, {long: "--flag"}}
	p, rest, err := parseArgs(opts, []string{"-n", "-5", "--flag", "cmd", "-x"}, true)
	if err != nil || p.values["--num"] != "-5" || !p.flag("--flag") || strings.Join(rest, " ") != "cmd -x" {
		t.Errorf("parse: %v %v %v", p, rest, err)
	}
	p, rest, err = parseArgs(opts, []string{"--num=3", "--", "-n"}, true)
	if err != nil || p.values["--num"] != "3" || strings.Join(rest, " ") != "-n" {
		t.Errorf("--: %v %v %v", p, rest, err)
	}
	if _, _, err := parseArgs(opts, []string{"-n", "-x"}, false); err == nil || err.Error() != "argument -n/--num: expected one argument" {
		t.Errorf("-n -x: %v", err)
	}
	if _, _, err := parseArgs(opts, []string{"-"}, false); err == nil {
		t.Error("lone - accepted")
	}
	for s, want := range map[string]bool{"-1": false, "-1.5": false, "-": false, "x": false, "-a": true, "--x": true, "-1a": true} {
		if looksLikeOption(s) != want {
			t.Errorf("looksLikeOption(%q) != %v", s, want)
		}
	}
	if got := (option{long: "--json"}).label(); got != "--json" {
		t.Errorf("label = %q", got)
	}
	if got := (option{short: "-x"}).label(); got != "-x" {
		t.Errorf("label = %q", got)
	}
	if got := (option{short: "-x"}).name(); got != "-x" {
		t.Errorf("name = %q", got)
	}
	if got := (option{long: "--x", metavar: "<v>", required: true}).usage(); got != "--x <v>" {
		t.Errorf("usage = %q", got)
	}
}

func TestTableCells(t *testing.T) {
	if cell("") != "-" || cell("a\tb\nc") != "a b c" {
		t.Errorf("cell: %q %q", cell(""), cell("a\tb\nc"))
	}
	for v, want := range map[any]string{nil: "", "s": "s", true: "True", 3: "3"} {
		if got := text(v); got != want {
			t.Errorf("text(%v) = %q, want %q", v, got, want)
		}
	}
	if got := text([]any{"a", nil, []string{"b", "c"}}); got != "a, , b, c" {
		t.Errorf("text(list) = %q", got)
	}
	var b bytes.Buffer
	if err := allLogPagesTable(&b, []any{"not a dict"}); err != nil || !strings.Contains(b.String(), "DC-TRADDR") {
		t.Errorf("odd adlp item: %q %v", b.String(), err)
	}
}

func TestSplitLines(t *testing.T) {
	got := splitLinesKeepEnds("a\nb\r\nc\rd\x0be\u2028f\u0085g")
	want := []string{"a\n", "b\r\n", "c\r", "d\x0b", "e\u2028", "f\u0085", "g"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("splitLinesKeepEnds = %q", got)
	}
	if got := splitWords("  ab cd\t\x1cef"); strings.Join(got, "|") != "  |ab |cd\t\x1c|ef" {
		t.Errorf("splitWords = %q", got)
	}
}
