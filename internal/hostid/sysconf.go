// SPDX-License-Identifier: Apache-2.0

package hostid

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// HostSection is the sys.conf section that holds the host identity.
const HostSection = "Host"

// Option names of the [Host] section of sys.conf.
const (
	OptionNQN     = "nqn"
	OptionID      = "id"
	OptionKey     = "key"
	OptionSymname = "symname"
)

// FilePrefix marks a sys.conf value that names the file holding the real value.
const FilePrefix = "file://"

// ErrInvalidValue is wrapped when a key or value cannot be written to sys.conf so that the
// daemons would read it back unchanged.
var ErrInvalidValue = errors.New("invalid sys.conf value")

// Permissions of files this package creates. Files holding a secret are always secretPerm.
const (
	publicPerm fs.FileMode = 0o644
	secretPerm fs.FileMode = 0o600
	dirPerm    fs.FileMode = 0o755
)

// SetHostOption sets key to value in the [Host] section of the sys.conf file at path, and
// leaves every other line of the file as it was (unlike nvme-stas, which rewrote the file
// and lost its comments). See the package's editing rules on setOption. The file, its
// [Host] section and its directory are created when missing. The write is atomic and keeps
// the file's mode, except that a file that holds a DH-HMAC-CHAP secret (an inline `key`) is
// always made 0600; a new file is 0644 otherwise. If path is a symbolic link, the file it
// finally points to is updated and the link is kept; a dangling link is refused.
func SetHostOption(path, key, value string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("set %s in %s: %w", key, path, err)
	}
	if err := CheckValue(value); err != nil {
		return fmt.Errorf("set %s in %s: %w", key, path, err)
	}
	return editConf(path, func(content []byte) ([]byte, bool) {
		return setOption(content, HostSection, key, value), true
	})
}

// ClearHostOption removes key from the [Host] section of the sys.conf file at path. When
// the key is absent (or the file is), nothing is written: the file stays byte for byte
// and inode for inode what it was.
func ClearHostOption(path, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("clear %s in %s: %w", key, path, err)
	}
	return editConf(path, func(content []byte) ([]byte, bool) {
		return removeOption(content, HostSection, key)
	})
}

// CheckValue refuses values the sys.conf reader would not give back unchanged: empty ones,
// ones with control characters (a newline would inject a line), leading or trailing
// blanks (stripped on reading) and a blank followed by '#' (read as an inline comment).
func CheckValue(value string) error {
	if value == "" {
		return fmt.Errorf("%w: the value is empty", ErrInvalidValue)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' || c == 0x7f {
			return fmt.Errorf("%w: %q has a control character at byte %d", ErrInvalidValue, value, i)
		}
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("%w: %q starts or ends with white space", ErrInvalidValue, value)
	}
	if strings.Contains(value, " #") {
		return fmt.Errorf("%w: %q contains \" #\", which starts a comment in sys.conf", ErrInvalidValue, value)
	}
	return nil
}

// checkKey accepts the option names sys.conf uses: lower-case letters, digits, '-' and '_'.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: the option name is empty", ErrInvalidValue)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: option name %q may hold only a-z, 0-9, '-' and '_'", ErrInvalidValue, key)
		}
	}
	return nil
}

// editConf runs one read-modify-write of the sys.conf at path under an exclusive lock on
// its directory, so that two stasadm runs (systemd starts stas-config@hostnqn and
// stas-config@hostid in parallel) cannot lose each other's change. edit returns the new
// content and whether anything changed; an unchanged file is not rewritten unless its mode
// must be narrowed because it holds a secret.
func editConf(path string, edit func([]byte) ([]byte, bool)) error {
	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(target)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if _, changed := edit(nil); !changed {
			return nil // clearing a key where there is not even a directory: create nothing
		}
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer unlock()

	old, err := os.ReadFile(target)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var info fs.FileInfo
	perm := publicPerm
	if exists {
		if info, err = os.Stat(target); err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		perm = info.Mode().Perm()
	}

	content, changed := edit(old)
	if !exists && !changed {
		return nil // clearing a key of a file that does not exist: nothing to create
	}
	if holdsSecret(content) {
		perm = secretPerm
	}
	if exists && bytes.Equal(content, old) && perm == info.Mode().Perm() {
		return nil // an absent key cleared, or a key set to the value it had
	}
	if err := writeAtomic(target, content, perm, info); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// confLine is one line of an INI file with its line terminator, and what it is.
type confLine struct {
	text    string // the line as in the file, terminator included
	header  bool   // a [section] line
	section string // the section name, for a header
	key     string // the lower-cased option name, for an option line
}

// splitConf cuts content into lines (each keeping its terminator) and classifies them as
// the sys.conf reader (Python configparser, ini.v1 with the project's options) does:
// blank lines and lines whose first non-blank character is '#' or ';' are comments; a line
// starting with '[' and holding a ']' is a section header, the name being the text up to
// the last ']'; any other line is an option, named by the text before the first '='
// (the whole line for a bare key), trimmed and lower-cased. Indented lines are not
// treated as continuations because the project's reader does not treat them so.
func splitConf(content []byte) []confLine {
	var lines []confLine
	rest := string(content)
	for rest != "" {
		n := strings.IndexByte(rest, '\n') + 1
		if n == 0 {
			n = len(rest)
		}
		text := rest[:n]
		rest = rest[n:]
		line := confLine{text: text}
		t := strings.TrimSpace(text)
		switch {
		case t == "" || t[0] == '#' || t[0] == ';':
		case t[0] == '[':
			if end := strings.LastIndexByte(t, ']'); end > 0 {
				line.header = true
				line.section = t[1:end]
			}
		default:
			name, _, _ := strings.Cut(t, "=")
			line.key = strings.ToLower(strings.TrimSpace(name))
		}
		lines = append(lines, line)
	}
	return lines
}

// sectionOf returns, for each line, the name of the section it belongs to and whether it
// is in any section at all (lines before the first header are not).
func sectionOf(lines []confLine) (names []string, inSection []bool) {
	names = make([]string, len(lines))
	inSection = make([]bool, len(lines))
	current, seen := "", false
	for i, l := range lines {
		if l.header {
			current, seen = l.section, true
		}
		names[i], inSection[i] = current, seen
	}
	return names, inSection
}

// occurrences returns the indexes of the option lines named key (lower case) inside every
// section named section. A repeated section is one section, as configparser merges it.
func occurrences(lines []confLine, section, key string) []int {
	names, inSection := sectionOf(lines)
	var idx []int
	for i, l := range lines {
		if !l.header && l.key == key && inSection[i] && names[i] == section {
			idx = append(idx, i)
		}
	}
	return idx
}

// terminator returns the line ending of text ("\r\n", "\n" or none).
func terminator(text string) string {
	switch {
	case strings.HasSuffix(text, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(text, "\n"):
		return "\n"
	}
	return ""
}

// endLine returns the line ending to add to text, a last line that has none: "\r\n" when
// text ends in a stray "\r", so that the "\r" stays part of the line instead of turning
// into half of a CRLF ending.
func endLine(text string) string {
	if strings.HasSuffix(text, "\r") {
		return "\r\n"
	}
	return "\n"
}

// setOption returns content with `key = value` set in section. The rules:
//   - The last existing line for key in the section (option names compare without case)
//     is replaced in place, keeping its line ending; earlier ones are dropped so that
//     every reader (first-wins or last-wins) sees the same value.
//   - Without such a line, the option is added after the last option line of the first
//     section of that name (right after its header if it has none).
//   - Without the section, a blank line, the header and the option are appended.
//
// Every other line is kept byte for byte.
func setOption(content []byte, section, key, value string) []byte {
	lines := splitConf(content)
	entry := key + " = " + value
	if idx := occurrences(lines, section, key); len(idx) > 0 {
		last := idx[len(idx)-1]
		lines[last].text = entry + terminator(lines[last].text)
		return joinWithout(lines, idx[:len(idx)-1])
	}

	names, inSection := sectionOf(lines)
	anchor := -1
	for i, l := range lines {
		if !inSection[i] || names[i] != section {
			if anchor >= 0 {
				break // the first section of that name has ended
			}
			continue
		}
		if l.header && anchor >= 0 {
			break // a repeated header of the same name starts another section
		}
		if l.header || l.key != "" {
			anchor = i
		}
	}

	var out strings.Builder
	if anchor < 0 {
		out.Write(content)
		if len(content) > 0 {
			if last := lines[len(lines)-1].text; terminator(last) == "" {
				out.WriteString(endLine(last))
			}
			if strings.TrimSpace(lines[len(lines)-1].text) != "" {
				out.WriteString("\n")
			}
		}
		out.WriteString("[" + section + "]\n" + entry + "\n")
		return []byte(out.String())
	}
	eol := terminator(lines[anchor].text)
	for i, l := range lines {
		out.WriteString(l.text)
		if i == anchor {
			if eol == "" {
				eol = endLine(l.text)
				out.WriteString(eol)
			}
			out.WriteString(entry + eol)
		}
	}
	return []byte(out.String())
}

// removeOption returns content without any line for key in section, and whether there was
// one. Without one, content is returned unchanged.
func removeOption(content []byte, section, key string) ([]byte, bool) {
	lines := splitConf(content)
	idx := occurrences(lines, section, key)
	if len(idx) == 0 {
		return content, false
	}
	return joinWithout(lines, idx), true
}

// joinWithout joins lines, leaving out those at the (ascending) indexes in drop.
func joinWithout(lines []confLine, drop []int) []byte {
	var out strings.Builder
	for i, l := range lines {
		if len(drop) > 0 && drop[0] == i {
			drop = drop[1:]
			continue
		}
		out.WriteString(l.text)
	}
	return []byte(out.String())
}

// holdsSecret reports whether content has a DH-HMAC-CHAP host secret in its [Host] section:
// a `key` option whose value is inline rather than a file:// reference.
func holdsSecret(content []byte) bool {
	lines := splitConf(content)
	for _, i := range occurrences(lines, HostSection, OptionKey) {
		_, value, _ := strings.Cut(strings.TrimSpace(lines[i].text), "=")
		value = strings.TrimSpace(value)
		if value != "" && !strings.HasPrefix(value, FilePrefix) {
			return true
		}
	}
	return false
}
