// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPyJSON: any text (a daemon publishes strings read from the network and from
// controllers) encodes to pure printable ASCII that a JSON parser reads back as the same
// characters (bytes that are not UTF-8 as U+FFFD, one per byte, as range sees them).
func FuzzPyJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" back \\", "é😀\u2028", "\x00\x1f\x7f", "bad \xff\xfe", "{'sectype': 'none'}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := PyJSON(NewDict(s, []any{s, nil, true}))
		for i := 0; i < len(out); i++ {
			if out[i] < ' ' || out[i] > '~' {
				t.Fatalf("byte %#x in %q", out[i], out)
			}
		}
		var back map[string][]any
		if err := json.Unmarshal([]byte(out), &back); err != nil {
			t.Fatalf("%q does not parse: %v", out, err)
		}
		want := string([]rune(s))
		if v, ok := back[want]; !ok || len(v) != 3 || v[0] != want || v[1] != nil || v[2] != true {
			t.Fatalf("round trip of %q: %q → %v", s, out, back)
		}
	})
}

// FuzzPyStrRepr: the repr of any text is one line, quoted, without raw control characters,
// and a Python literal that reads back as the same characters.
func FuzzPyStrRepr(f *testing.F) {
	for _, s := range []string{"", "it's", `"`, `both ' and "`, "tab\tnl\n", "\x00\x85\u00a0\u200b\U000e0001", "\xff", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := PyStrRepr(s)
		for _, c := range r {
			if c < ' ' || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085' {
				t.Fatalf("raw %U in %q", c, r)
			}
		}
		back, err := readPyString(r)
		if err != nil {
			t.Fatalf("%q: %v", r, err)
		}
		if want := string([]rune(s)); back != want {
			t.Fatalf("repr %q reads back as %q, want %q", r, back, want)
		}
	})
}

// readPyString reads one Python string literal as PyStrRepr writes them.
func readPyString(lit string) (string, error) {
	if len(lit) < 2 || (lit[0] != '\'' && lit[0] != '"') || lit[len(lit)-1] != lit[0] {
		return "", fmt.Errorf("not quoted")
	}
	quote, body := lit[0], lit[1:len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(body); {
		c := body[i]
		if c == quote {
			return "", fmt.Errorf("unescaped quote at %d", i)
		}
		if c != '\\' {
			r, size := utf8.DecodeRuneInString(body[i:])
			b.WriteRune(r)
			i += size
			continue
		}
		if i+1 >= len(body) {
			return "", fmt.Errorf("trailing backslash")
		}
		esc := body[i+1]
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[esc]
		switch {
		case esc == '\\' || esc == '\'' || esc == '"':
			b.WriteByte(esc)
		case esc == 't':
			b.WriteByte('\t')
		case esc == 'n':
			b.WriteByte('\n')
		case esc == 'r':
			b.WriteByte('\r')
		case n > 0:
			if i+2+n > len(body) {
				return "", fmt.Errorf("short \\%c escape", esc)
			}
			v, err := strconv.ParseUint(body[i+2:i+2+n], 16, 32)
			if err != nil {
				return "", err
			}
			b.WriteRune(rune(v))
			i += n
		default:
			return "", fmt.Errorf("unknown escape \\%c", esc)
		}
		i += 2
	}
	return b.String(), nil
}
