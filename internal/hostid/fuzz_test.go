// SPDX-License-Identifier: Apache-2.0

package hostid

import (
	"strings"
	"testing"
)

// trimmedLines returns the lines of content without their terminators.
func trimmedLines(lines []confLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSuffix(l.text, terminator(l.text))
	}
	return out
}

// FuzzSetOption checks that setting an option leaves exactly one line for it in [Host],
// holding the value, and keeps every other line of the input, in order.
func FuzzSetOption(f *testing.F) {
	f.Add([]byte(userConf), "nqn", "nqn.2014-08.org.nvmexpress:uuid:x")
	f.Add([]byte("[Host]\nnqn = a\nNQN=b\n[Host]\nnqn\n"), "nqn", "v")
	f.Add([]byte("[Host]"), "symname", "my host")
	f.Add([]byte("x = y\r\n[Other]\r\n"), "id", "file:///etc/nvme/hostid")
	f.Add([]byte(""), "key", "DHHC-1:00:abc:")
	f.Fuzz(func(t *testing.T, content []byte, key, value string) {
		if checkKey(key) != nil || CheckValue(value) != nil {
			return
		}
		out := setOption(content, HostSection, key, value)
		outLines := splitConf(out)
		idx := occurrences(outLines, HostSection, key)
		if len(idx) != 1 {
			t.Fatalf("setOption left %d lines for %q:\n%q", len(idx), key, out)
		}
		if got := strings.TrimSpace(outLines[idx[0]].text); got != key+" = "+value {
			t.Fatalf("setOption wrote %q, want %q", got, key+" = "+value)
		}
		if key == OptionKey && holdsSecret(out) == strings.HasPrefix(value, FilePrefix) {
			t.Fatalf("holdsSecret(%q) disagrees with the key just set", out)
		}

		inLines := splitConf(content)
		drop := map[int]bool{}
		for _, i := range occurrences(inLines, HostSection, key) {
			drop[i] = true
		}
		kept := trimmedLines(outLines)
		j := 0
		for i, line := range trimmedLines(inLines) {
			if drop[i] {
				continue
			}
			for j < len(kept) && kept[j] != line {
				j++
			}
			if j == len(kept) {
				t.Fatalf("line %d %q of the input is missing from the output:\n%q", i, line, out)
			}
			j++
		}
	})
}

// FuzzRemoveOption checks that removing an option leaves no line for it in [Host] and
// removes nothing else; without such a line the input comes back unchanged.
func FuzzRemoveOption(f *testing.F) {
	f.Add([]byte(userConf), "nqn")
	f.Add([]byte(userConf), "symname")
	f.Add([]byte("[Host]\nsymname = a\n[X]\nsymname = x\n[Host]\nSymName=b"), "symname")
	f.Add([]byte("[Host\nid\n"), "id")
	f.Fuzz(func(t *testing.T, content []byte, key string) {
		if checkKey(key) != nil {
			return
		}
		inLines := splitConf(content)
		idx := occurrences(inLines, HostSection, key)
		out, changed := removeOption(content, HostSection, key)
		if changed != (len(idx) > 0) {
			t.Fatalf("removeOption changed=%v with %d occurrences", changed, len(idx))
		}
		if !changed && string(out) != string(content) {
			t.Fatalf("removeOption changed the input without an occurrence")
		}
		if left := occurrences(splitConf(out), HostSection, key); len(left) != 0 {
			t.Fatalf("removeOption left %d lines for %q:\n%q", len(left), key, out)
		}
		removed := 0
		for _, i := range idx {
			removed += len(inLines[i].text)
		}
		if len(out)+removed != len(content) {
			t.Fatalf("removeOption removed %d bytes, want the %d of the option lines", len(content)-len(out), removed)
		}
	})
}

// FuzzSwapDMIUUID checks that the firmware UUID parser never panics, that what it accepts
// comes out as a UUID, and that the swap undoes itself.
func FuzzSwapDMIUUID(f *testing.F) {
	f.Add(dmiRaw)
	f.Add("00000000-0000-0000-0000-000000000000")
	f.Add("Not Settable")
	f.Add("12345678-9ABC-DEF0-1234-56789ABCDEF\xff")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := SwapDMIUUID(in)
		if err != nil {
			return
		}
		if checkUUID(out) != nil {
			t.Fatalf("SwapDMIUUID(%q) = %q, not a UUID", in, out)
		}
		back, err := SwapDMIUUID(out)
		if err != nil || back != in {
			t.Fatalf("swapping %q twice gave %q, %v", in, back, err)
		}
	})
}
