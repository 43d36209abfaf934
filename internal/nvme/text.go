// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// trimField returns b without its trailing spaces and NULs: NVMe text fields are padded
// with either, and a field filled to the last byte has no terminator at all.
func trimField(b []byte) []byte {
	n := len(b)
	for n > 0 && (b[n-1] == 0 || b[n-1] == ' ') {
		n--
	}
	return b[:n]
}

// putField copies s into the fixed-size field dst and fills the rest with pad.
func putField(dst []byte, s string, pad byte, name string) error {
	if len(s) > len(dst) {
		return fmt.Errorf("%w: %s is %d bytes, the field holds %d", ErrFieldTooLong, name, len(s), len(dst))
	}
	n := copy(dst, s)
	for i := n; i < len(dst); i++ {
		dst[i] = pad
	}
	return nil
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// cString returns s up to its first NUL, as C code (libnvme, nvme-cli, the Python
// binding) sees a char array.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// CheckText reports whether s is safe to use as an address, service ID, NQN or name: it
// must be valid UTF-8 made of printable characters, without NULs or control characters.
// Decoders return text as received; callers use this to drop hostile entries. The error
// wraps ErrUnsafeText and names the offending byte offset.
func CheckText(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrUnsafeText, i)
		case r == 0:
			return fmt.Errorf("%w: NUL at byte %d", ErrUnsafeText, i)
		case unicode.IsControl(r):
			return fmt.Errorf("%w: control character %U at byte %d", ErrUnsafeText, r, i)
		case !unicode.IsPrint(r):
			return fmt.Errorf("%w: non-printable character %U at byte %d", ErrUnsafeText, r, i)
		}
		i += size
	}
	return nil
}

// pyStrip strips leading and trailing whitespace the way Python's str.strip() does,
// which nvme-stas applies to every DLPE value.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		// Python also counts the ASCII information separators 0x1c-0x1f as whitespace.
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}
