// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

// FuzzDecodeJSON: a daemon's answer is untrusted text. Whatever it is, decoding fails
// cleanly or gives a value that prints as pprint text and as valid JSON, and that
// survives json.dumps and a second decoding unchanged.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a": [1, 2.5, null, true, "x"], "a": {}}`, `[{"discovery-controller": {}, "log-pages": []}]`,
		`"\ud83d\ude00"`, `{"k": "\u0000"}`, `1e400`, `[[[[[[[[[[]]]]]]]]]]`, `{"a"`, `nul`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := DecodeJSON(text)
		if err != nil {
			return
		}
		pretty := PFormat(v, PrettyWidth)
		var b bytes.Buffer
		if err := WriteJSON(&b, v); err != nil || !json.Valid(b.Bytes()) {
			t.Fatalf("WriteJSON of %q gave %q (%v)", text, b.String(), err)
		}
		again, err := DecodeJSON(dbusapi.PyJSON(v))
		if err != nil {
			if strings.Contains(dbusapi.PyJSON(v), "Infinity") || strings.Contains(dbusapi.PyJSON(v), "NaN") {
				return // Python's json writes these; Go's reader refuses them
			}
			t.Fatalf("PyJSON of %q does not decode: %v", text, err)
		}
		if got := PFormat(again, PrettyWidth); got != pretty {
			t.Fatalf("%q changed through PyJSON:\n%s\n%s", text, pretty, got)
		}
	})
}

// FuzzPFormatString: however pprint cuts a long string, the pieces it writes, one per
// line, read back as the string.
func FuzzPFormatString(f *testing.F) {
	for _, s := range []string{"", "short", strings.Repeat("word ", 60), "a\nb\r\nc", strings.Repeat("x", 300), "it's \"quoted\" " + strings.Repeat("é ", 80)} {
		f.Add(s, 40)
	}
	f.Fuzz(func(t *testing.T, s string, width int) {
		if width < 1 || width > 400 || !utf8.ValidString(s) {
			return
		}
		out := PFormat([]any{s}, width)
		if !strings.HasPrefix(out, "[") || !strings.HasSuffix(out, "]") {
			t.Fatalf("%q", out)
		}
		var got strings.Builder
		for _, line := range strings.Split(out[1:len(out)-1], "\n") {
			back, err := readLiteral(strings.TrimLeft(line, " "))
			if err != nil {
				t.Fatalf("line %q of %q: %v", line, out, err)
			}
			got.WriteString(back)
		}
		if got.String() != s {
			t.Fatalf("pieces of %q read back as %q:\n%s", s, got.String(), out)
		}
	})
}

// readLiteral reads one Python string literal as dbusapi.PyStrRepr writes it.
func readLiteral(lit string) (string, error) {
	v, err := DecodeJSON(pyToJSONString(lit))
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// pyToJSONString rewrites a Python string literal into a JSON one: the same escapes
// except \', \xhh and \Uhhhhhhhh, and a different quote.
func pyToJSONString(lit string) string {
	if len(lit) < 2 {
		return lit
	}
	body := lit[1 : len(lit)-1]
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\' && i+1 < len(body):
			i++
			switch body[i] {
			case '\'':
				b.WriteByte('\'')
			case 'x':
				b.WriteString(`\u00`)
			case 'U':
				if i+8 < len(body) {
					var r rune
					for _, h := range body[i+1 : i+9] {
						r = r*16 + rune(strings.IndexRune("0123456789abcdef", h))
					}
					enc := dbusapi.PyJSON(string(r)) // "\ud83d\ude00": a surrogate pair
					b.WriteString(enc[1 : len(enc)-1])
					i += 8
				}
			default:
				b.WriteByte('\\')
				b.WriteByte(body[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
