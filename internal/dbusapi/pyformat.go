// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Dict is an ordered dictionary with string keys, the Go stand-in for a Python dict:
// keys keep the order they were first set in, and setting an existing key keeps its place
// (as dict.update does). The zero value is an empty Dict ready to use.
//
// Values may be nil (None), bool, string, the integer types, float64, json.Number,
// *Dict, map[string]string, map[string]any, []any, []string, []map[string]string or
// []*Dict; PyJSON and PyRepr write any other value as the string fmt.Sprint makes of it.
type Dict struct {
	keys   []string
	values map[string]any
}

// NewDict returns a Dict holding the key/value pairs kv (key, value, key, value, …);
// a key that is not a string is written with fmt.Sprint.
func NewDict(kv ...any) *Dict {
	d := &Dict{}
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			k = fmt.Sprint(kv[i])
		}
		d.Set(k, kv[i+1])
	}
	return d
}

// DictFromMap returns a Dict of m's entries in sorted key order.
func DictFromMap(m map[string]string) *Dict {
	d := &Dict{}
	for _, k := range sortedKeys(m) {
		d.Set(k, m[k])
	}
	return d
}

// Set sets key to value, keeping key's place if it is already present, and returns d.
func (d *Dict) Set(key string, value any) *Dict {
	if d.values == nil {
		d.values = make(map[string]any)
	}
	if _, ok := d.values[key]; !ok {
		d.keys = append(d.keys, key)
	}
	d.values[key] = value
	return d
}

// Get returns the value of key.
func (d *Dict) Get(key string) (any, bool) {
	if d == nil {
		return nil, false
	}
	v, ok := d.values[key]
	return v, ok
}

// GetString returns the value of key when it is a string.
func (d *Dict) GetString(key string) (string, bool) {
	v, _ := d.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Delete removes key.
func (d *Dict) Delete(key string) {
	if d == nil {
		return
	}
	if _, ok := d.values[key]; !ok {
		return
	}
	delete(d.values, key)
	d.keys = slices.DeleteFunc(d.keys, func(k string) bool { return k == key })
}

// Update sets every entry of other in d, in other's order (Python's dict.update).
func (d *Dict) Update(other *Dict) *Dict {
	if other == nil {
		return d
	}
	for _, k := range other.keys {
		d.Set(k, other.values[k])
	}
	return d
}

// Keys returns the keys in order.
func (d *Dict) Keys() []string {
	if d == nil {
		return nil
	}
	return slices.Clone(d.keys)
}

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// StringMap returns d as one a{ss} dictionary: every value converted as Python's str()
// would (None is "None", True is "True", containers their repr).
func (d *Dict) StringMap() map[string]string {
	m := make(map[string]string, d.Len())
	for _, k := range d.Keys() {
		m[k] = PyStr(d.values[k])
	}
	return m
}

// JSON returns d as Python's json.dumps writes it.
func (d *Dict) JSON() string { return PyJSON(d) }

// MarshalJSON makes encoding/json write d as an object in key order.
func (d *Dict) MarshalJSON() ([]byte, error) { return []byte(PyJSON(d)), nil }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order of UTF-8 is code point order, as Python sorts str
	return keys
}

// PyJSON returns v as Python's json.dumps(v) writes it with the default options:
// separators ", " and ": ", ensure_ascii (every character outside printable ASCII written
// as \uXXXX, astral characters as a surrogate pair), and keys in the Dict's order (Go
// maps, which have none, in sorted order). nvme-stas's D-Bus strings are made this way.
func PyJSON(v any) string {
	var b strings.Builder
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writeJSONString(b, v)
	case float64:
		b.WriteString(pyFloat(v, true))
	case float32:
		b.WriteString(pyFloat(float64(v), true))
	case json.Number:
		b.WriteString(pyNumber(v, true))
	case *Dict:
		b.WriteByte('{')
		for i, k := range v.Keys() {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, k)
			b.WriteString(": ")
			writeJSON(b, v.values[k])
		}
		b.WriteByte('}')
	case map[string]string:
		writeJSON(b, DictFromMap(v))
	case map[string]any:
		d := &Dict{}
		for _, k := range sortedKeys(v) {
			d.Set(k, v[k])
		}
		writeJSON(b, d)
	case []any:
		writeJSONList(b, len(v), func(i int) any { return v[i] })
	case []string:
		writeJSONList(b, len(v), func(i int) any { return v[i] })
	case []map[string]string:
		writeJSONList(b, len(v), func(i int) any { return v[i] })
	case []*Dict:
		writeJSONList(b, len(v), func(i int) any { return v[i] })
	default:
		if s, ok := pyInt(v); ok {
			b.WriteString(s)
			return
		}
		writeJSONString(b, fmt.Sprint(v))
	}
}

func writeJSONList(b *strings.Builder, n int, at func(int) any) {
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		writeJSON(b, at(i))
	}
	b.WriteByte(']')
}

// writeJSONString writes s as json.dumps does with ensure_ascii=True. Bytes that are not
// UTF-8 (which a Python str cannot hold) are written as U+FFFD.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[(r>>shift)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s { // invalid bytes arrive as utf8.RuneError
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r < 0x10000:
			u4(r)
		default:
			r -= 0x10000
			u4(0xd800 | (r>>10)&0x3ff)
			u4(0xdc00 | r&0x3ff)
		}
	}
	b.WriteByte('"')
}

// pyInt formats the Go integer types.
func pyInt(v any) (string, bool) {
	switch v := v.(type) {
	case int:
		return strconv.FormatInt(int64(v), 10), true
	case int8:
		return strconv.FormatInt(int64(v), 10), true
	case int16:
		return strconv.FormatInt(int64(v), 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	}
	return "", false
}

// pyNumber formats a JSON number as Python reads it: an int when it has no fraction or
// exponent, else a float.
func pyNumber(n json.Number, forJSON bool) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		if strings.TrimLeft(strings.TrimPrefix(s, "-"), "0123456789") == "" && s != "" && s != "-" {
			// Python ints are unbounded: keep the digits, without leading zeros.
			neg := strings.HasPrefix(s, "-")
			digits := strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
			if neg {
				return "-" + digits
			}
			return digits
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return pyStrRepr(s) // not a number at all: show the text
	}
	return pyFloat(f, forJSON)
}

// pyFloat formats f as Python's repr(float) (forJSON: as json.dumps, which differs only
// for the non-finite values).
func pyFloat(f float64, forJSON bool) string {
	switch {
	case math.IsNaN(f):
		if forJSON {
			return "NaN"
		}
		return "nan"
	case math.IsInf(f, 1):
		if forJSON {
			return "Infinity"
		}
		return "inf"
	case math.IsInf(f, -1):
		if forJSON {
			return "-Infinity"
		}
		return "-inf"
	}
	// Shortest round-trip digits, then Python's layout: exponent form when the decimal
	// point would sit more than 16 places right or 4 places left of the first digit.
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	decpt := exp + 1
	if decpt > 16 || decpt < -3 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// PyStr returns what Python's str(v) gives: a string as it is, anything else as PyRepr.
func PyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return PyRepr(v)
}

// PyRepr returns Python's repr(v): strings quoted and escaped as Python does, None, True
// and False, dicts in the Dict's order (Go maps sorted), ", " and ": " separators. This
// is how nvme-stas renders nested values inside its string dictionaries (the "connect
// operation" of an info dict, the "dlpe" of an I/O controller's details).
func PyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, false)
	return b.String()
}

// PyReprSorted is PyRepr with every dict's keys sorted, as pprint writes a value that fits
// on one line.
func PyReprSorted(v any) string {
	var b strings.Builder
	writeRepr(&b, v, true)
	return b.String()
}

func writeRepr(b *strings.Builder, v any, sorted bool) {
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		b.WriteString(pyStrRepr(v))
	case float64:
		b.WriteString(pyFloat(v, false))
	case float32:
		b.WriteString(pyFloat(float64(v), false))
	case json.Number:
		b.WriteString(pyNumber(v, false))
	case *Dict:
		keys := v.Keys()
		if sorted {
			slices.Sort(keys)
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyStrRepr(k))
			b.WriteString(": ")
			writeRepr(b, v.values[k], sorted)
		}
		b.WriteByte('}')
	case map[string]string:
		writeRepr(b, DictFromMap(v), sorted)
	case map[string]any:
		d := &Dict{}
		for _, k := range sortedKeys(v) {
			d.Set(k, v[k])
		}
		writeRepr(b, d, sorted)
	case []any:
		writeReprList(b, len(v), func(i int) any { return v[i] }, sorted)
	case []string:
		writeReprList(b, len(v), func(i int) any { return v[i] }, sorted)
	case []map[string]string:
		writeReprList(b, len(v), func(i int) any { return v[i] }, sorted)
	case []*Dict:
		writeReprList(b, len(v), func(i int) any { return v[i] }, sorted)
	default:
		if s, ok := pyInt(v); ok {
			b.WriteString(s)
			return
		}
		b.WriteString(pyStrRepr(fmt.Sprint(v)))
	}
}

func writeReprList(b *strings.Builder, n int, at func(int) any, sorted bool) {
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		writeRepr(b, at(i), sorted)
	}
	b.WriteByte(']')
}

// PyStrRepr returns Python's repr of the string s: in single quotes, or in double quotes
// when s contains a single quote and no double quote; backslash, the quote, \t, \n and \r
// escaped, other control characters as \xhh, and non-ASCII characters kept unless they
// are not printable (then \xhh, \uhhhh or \Uhhhhhhhh).
func PyStrRepr(s string) string { return pyStrRepr(s) }

func pyStrRepr(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case pyPrintable(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// pyPrintable is Python's str.isprintable for one non-ASCII character: letters, marks,
// numbers, punctuation and symbols (Go's unicode.IsPrint, which also refuses the other
// separators, control, format, private-use and unassigned characters). A byte that is
// not UTF-8 reaches here as U+FFFD, a printable symbol.
func pyPrintable(r rune) bool {
	return r == utf8.RuneError || unicode.IsPrint(r)
}

// RuneLen is len() of a Python str: the number of characters, not bytes.
func RuneLen(s string) int { return utf8.RuneCountInString(s) }
