// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// The expected strings below are what CPython 3.11's json.dumps and repr print for the
// same values (written by hand, then checked against the interpreter).

func TestPyJSONDict(t *testing.T) {
	d := NewDict("tron", false, "log-level", "INFO", "hostkey", nil, "n", 3, "f", 1.5,
		"list", []string{"a", "b"}, "nested", NewDict("x", "y", "a", 1), "empty", &Dict{},
		"emptylist", []any{}, "neg", int64(-7))
	want := `{"tron": false, "log-level": "INFO", "hostkey": null, "n": 3, "f": 1.5, "list": ["a", "b"], ` +
		`"nested": {"x": "y", "a": 1}, "empty": {}, "emptylist": [], "neg": -7}`
	if got := d.JSON(); got != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
	// encoding/json compacts what MarshalJSON returns; the key order must survive.
	b, err := json.Marshal(d)
	var compact bytes.Buffer
	_ = json.Compact(&compact, []byte(want))
	if err != nil || string(b) != compact.String() {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
}

func TestPyJSONStringEscapes(t *testing.T) {
	s := "quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f ctl \x01 del \x7f é ü 中 😀 \u2028 ~"
	want := `"quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f ctl \u0001 del \u007f \u00e9 \u00fc \u4e2d \ud83d\ude00 \u2028 ~"`
	if got := PyJSON(s); got != want {
		t.Errorf("PyJSON =\n%s\nwant\n%s", got, want)
	}
	if got := PyJSON("bad \xff byte"); got != `"bad \ufffd byte"` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

func TestPyFloats(t *testing.T) {
	fs := []any{1.0, 0.5, 1e16, 1e15, 0.0001, 0.00001, math.Copysign(0, -1), 123456789.123, 1e-7, 2.5e-5,
		1.7976931348623157e308, math.Inf(1), math.Inf(-1), math.NaN()}
	wantJSON := "[1.0, 0.5, 1e+16, 1000000000000000.0, 0.0001, 1e-05, -0.0, 123456789.123, 1e-07, 2.5e-05, " +
		"1.7976931348623157e+308, Infinity, -Infinity, NaN]"
	wantRepr := "[1.0, 0.5, 1e+16, 1000000000000000.0, 0.0001, 1e-05, -0.0, 123456789.123, 1e-07, 2.5e-05, " +
		"1.7976931348623157e+308, inf, -inf, nan]"
	if got := PyJSON(fs); got != wantJSON {
		t.Errorf("PyJSON =\n%s\nwant\n%s", got, wantJSON)
	}
	if got := PyRepr(fs); got != wantRepr {
		t.Errorf("PyRepr =\n%s\nwant\n%s", got, wantRepr)
	}
	if got := PyRepr(float32(0.5)); got != "0.5" {
		t.Errorf("float32: %s", got)
	}
}

func TestPyNumbersFromJSON(t *testing.T) {
	for in, want := range map[string]string{
		"3": "3", "-0": "0", "123456789012345678901234567890": "123456789012345678901234567890",
		"-00012345678901234567890123": "-12345678901234567890123", "1.0": "1.0", "1e400": "inf", "-1.5e-7": "-1.5e-07",
		"2E3": "2000.0", "x": "'x'",
	} {
		if got := PyRepr(json.Number(in)); got != want {
			t.Errorf("PyRepr(json.Number(%q)) = %s, want %s", in, got, want)
		}
	}
	if got := PyJSON(json.Number("1e400")); got != "Infinity" {
		t.Errorf("PyJSON(1e400) = %s", got)
	}
}

func TestPyIntegers(t *testing.T) {
	vals := []any{int8(-1), int16(2), int32(-3), uint(4), uint8(5), uint16(6), uint32(7), uint64(1 << 63)}
	if got, want := PyRepr(vals), "[-1, 2, -3, 4, 5, 6, 7, 9223372036854775808]"; got != want {
		t.Errorf("PyRepr = %s, want %s", got, want)
	}
	if got, want := PyJSON(vals), "[-1, 2, -3, 4, 5, 6, 7, 9223372036854775808]"; got != want {
		t.Errorf("PyJSON = %s, want %s", got, want)
	}
}

func TestPyStrRepr(t *testing.T) {
	for in, want := range map[string]string{
		"it's":         `"it's"`,
		`both ' and "`: `'both \' and "'`,
		`dq " only`:    `'dq " only'`,
		"tab\t nl\n cr\r \x01 \x7f é \u00a0 \u200b \u2028 😀 \U000e0001 \\ end": `'tab\t nl\n cr\r \x01 \x7f é \xa0 \u200b \u2028 😀 \U000e0001 \\ end'`,
		"":                   "''",
		"'":                  `"'"`,
		`"`:                  `'"'`,
		"\u0085\u009f\u00ad": `'\x85\x9f\xad'`,
	} {
		if got := PyStrRepr(in); got != want {
			t.Errorf("PyStrRepr(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestPyReprContainers(t *testing.T) {
	if got, want := PyRepr(NewDict("fail count", 0, "completed", false, "alive", true)),
		"{'fail count': 0, 'completed': False, 'alive': True}"; got != want {
		t.Errorf("PyRepr = %s, want %s", got, want)
	}
	m := map[string]any{"b": []map[string]string{{"z": "1", "a": "2"}}, "a": nil, "c": []*Dict{NewDict("k", "v")}}
	if got, want := PyRepr(m), "{'a': None, 'b': [{'a': '2', 'z': '1'}], 'c': [{'k': 'v'}]}"; got != want {
		t.Errorf("PyRepr(map) = %s, want %s", got, want)
	}
	if got, want := PyJSON(m), `{"a": null, "b": [{"a": "2", "z": "1"}], "c": [{"k": "v"}]}`; got != want {
		t.Errorf("PyJSON(map) = %s, want %s", got, want)
	}
	d := NewDict("z", 1, "a", NewDict("y", 2, "b", 3))
	if got, want := PyReprSorted(d), "{'a': {'b': 3, 'y': 2}, 'z': 1}"; got != want {
		t.Errorf("PyReprSorted = %s, want %s", got, want)
	}
	type other struct{ X int }
	if got, want := PyRepr(other{7}), "'{7}'"; got != want {
		t.Errorf("unknown type: %s, want %s", got, want)
	}
	if got, want := PyJSON(other{7}), `"{7}"`; got != want {
		t.Errorf("unknown type JSON: %s, want %s", got, want)
	}
	if got := PyStr("plain"); got != "plain" {
		t.Errorf("PyStr(string) = %q", got)
	}
	if got := PyStr(true); got != "True" {
		t.Errorf("PyStr(true) = %q", got)
	}
}

func TestDict(t *testing.T) {
	d := NewDict("a", 1, "b", 2, 3, "three")
	d.Set("a", 10) // keeps its place
	if got, want := d.Keys(), []string{"a", "b", "3"}; !slices.Equal(got, want) {
		t.Errorf("Keys = %v, want %v", got, want)
	}
	if v, ok := d.Get("a"); !ok || v != 10 {
		t.Errorf("Get(a) = %v, %v", v, ok)
	}
	if _, ok := d.GetString("a"); ok {
		t.Error("GetString of an int succeeded")
	}
	if s, ok := d.GetString("3"); !ok || s != "three" {
		t.Errorf("GetString(3) = %q, %v", s, ok)
	}
	d.Update(NewDict("b", 20, "c", 30))
	d.Update(nil)
	if got, want := PyRepr(d), "{'a': 10, 'b': 20, '3': 'three', 'c': 30}"; got != want {
		t.Errorf("after Update: %s, want %s", got, want)
	}
	d.Delete("b")
	d.Delete("missing")
	if d.Len() != 3 || strings.Contains(PyRepr(d), "'b'") {
		t.Errorf("after Delete: %s", PyRepr(d))
	}
	var nilDict *Dict
	if nilDict.Len() != 0 || nilDict.Keys() != nil {
		t.Error("nil Dict is not empty")
	}
	if _, ok := nilDict.Get("x"); ok {
		t.Error("nil Dict has a key")
	}
	nilDict.Delete("x") // must not panic
	m := NewDict("s", "x", "n", nil, "b", true, "l", []string{"p"}).StringMap()
	want := map[string]string{"s": "x", "n": "None", "b": "True", "l": "['p']"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("StringMap[%s] = %q, want %q", k, m[k], v)
		}
	}
	if RuneLen("é😀") != 2 {
		t.Error("RuneLen counts bytes")
	}
}
