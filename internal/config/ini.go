// SPDX-License-Identifier: Apache-2.0

package config

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/ini.v1"
)

// iniLoadOptions make gopkg.in/ini.v1 read files the way nvme-stas's configparser setup
// does (reference/go-ecosystem.md §2). The pre-scan below covers what they cannot.
var iniLoadOptions = ini.LoadOptions{
	AllowShadows:               true, // repeated keys accumulate (controller=, exclude=)
	AllowDuplicateShadowValues: true, // identical lines are kept, as configparser keeps them
	IgnoreInlineComment:        true, // ';' separates controller tokens; '#' is handled by the pre-scan
	KeyValueDelimiters:         "=",  // ':' is data (IPv6 and FC addresses)
	InsensitiveKeys:            true, // option names are case-insensitive, section names are not
	AllowNonUniqueSections:     true, // a section may appear more than once
	AllowBooleanKeys:           true, // a bare key must not abort the load
	PreserveSurroundedQuote:    true, // configparser keeps quotes
	IgnoreContinuation:         true, // a trailing '\' is data
}

// maxOptionsPerSection bounds the distinct option names of one section: nvme-stas's
// largest section has 16, and ini.v1 looks keys up in a list, so a file of thousands of
// distinct names would take minutes to load.
const maxOptionsPerSection = 1000

// iniValue is one occurrence of an option.
type iniValue struct {
	text     string
	line     int
	indented bool // the line started with white space (a configparser continuation line)
}

// iniKey is an option with every occurrence of it in one section occurrence.
type iniKey struct {
	name   string
	values []iniValue
}

// iniSection is one occurrence of a section header and the options under it.
type iniSection struct {
	name  string
	line  int
	keys  []*iniKey
	index map[string]*iniKey
}

func (s *iniSection) key(name string) *iniKey {
	if k, ok := s.index[name]; ok {
		return k
	}
	if s.index == nil {
		s.index = make(map[string]*iniKey)
	}
	k := &iniKey{name: name}
	s.keys = append(s.keys, k)
	s.index[name] = k
	return k
}

// iniDoc is a parsed file: sections in file order, repeated sections kept apart.
type iniDoc struct {
	sections []*iniSection
}

// values returns every occurrence of key in every occurrence of section, in file order.
func (d *iniDoc) values(section, key string) []iniValue {
	var out []iniValue
	for _, s := range d.sections {
		if s.name != section {
			continue
		}
		for _, k := range s.keys {
			if k.name == key {
				out = append(out, k.values...)
			}
		}
	}
	return out
}

// last returns the last occurrence of a scalar option: as with configparser, a repeated
// option takes its last value.
func (d *iniDoc) last(section, key string) (iniValue, bool) {
	vs := d.values(section, key)
	if len(vs) == 0 {
		return iniValue{}, false
	}
	return vs[len(vs)-1], true
}

// parseINI reads an INI file with gopkg.in/ini.v1 and returns its sections with the line
// number of every value.
//
// ini.v1 reports no line numbers, keeps the first of repeated values, drops empty values,
// turns a bare key into "true" (and then refuses a later "key = value" for it), and
// treats a value that starts with a backquote or `"""` as a quoted, possibly multi-line
// string. So a pre-scan goes through the raw lines first: it numbers them, strips inline
// comments (a '#' preceded by white space), reports the lines ini.v1 would mishandle and
// leaves them out, and hands the rest to ini.v1 as normalised "key=value" lines. The
// values ini.v1 returns are then matched, in order, against the pre-scan's occurrences;
// a disagreement is reported as an error rather than guessed around.
//
// Indented lines: configparser treats them as continuations of the previous value (quirk
// 28: they silently add controller= entries or replace scalars). Here indentation is
// insignificant and each line stands alone, as it does in ini.v1. An indented line that
// was meant as a continuation is therefore either a valid option of its own or reported,
// with a hint that continuation lines are not supported.
func parseINI(name string, data []byte, probs *problemList) (*iniDoc, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: %w: file is larger than %d bytes", name, ErrSyntax, maxFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))

	scan := &iniDoc{}
	var text strings.Builder
	var cur *iniSection
	for i, raw := range strings.Split(string(data), "\n") {
		lineNo := i + 1
		if !utf8.ValidString(raw) {
			return nil, fmt.Errorf("%s:%d: %w: not UTF-8 text", name, lineNo, ErrSyntax)
		}
		if strings.IndexByte(raw, 0) >= 0 {
			return nil, fmt.Errorf("%s:%d: %w: NUL byte (not a text file)", name, lineNo, ErrSyntax)
		}
		line := strings.TrimSuffix(raw, "\r")
		s := strings.TrimSpace(line)
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		indented := strings.TrimLeftFunc(line, unicode.IsSpace) != line
		s = stripInlineComment(s)

		if s[0] == '[' {
			end := strings.LastIndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: %w: section header %q has no closing \"]\"", name, lineNo, ErrSyntax, s)
			}
			sect := s[1:end]
			if sect == "" {
				return nil, fmt.Errorf("%s:%d: %w: empty section name", name, lineNo, ErrSyntax)
			}
			if rest := strings.TrimSpace(s[end+1:]); rest != "" {
				probs.errorf(lineNo, sect, "", rest, "ignored", "text after the section header")
			}
			cur = &iniSection{name: sect, line: lineNo}
			scan.sections = append(scan.sections, cur)
			text.WriteString("[" + sect + "]\n")
			continue
		}

		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			sect := ""
			if cur != nil {
				sect = cur.name
			}
			probs.errorf(lineNo, sect, strings.ToLower(s), "", "line ignored",
				"no \"=\": every option needs a value%s", continuationHint(indented))
			continue
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		value := strings.TrimSpace(s[eq+1:])
		switch {
		case cur == nil:
			probs.errorf(lineNo, "", key, value, "line ignored", "option before any [section] header")
			continue
		case key == "":
			probs.errorf(lineNo, cur.name, "", value, "line ignored", "option name missing before \"=\"")
			continue
		case key[0] == '"' || key[0] == '`' || key == "-":
			// ini.v1 reads these as quoted or auto-numbered keys; no valid option looks so.
			probs.errorf(lineNo, cur.name, key, value, "line ignored", "invalid option name")
			continue
		case strings.HasPrefix(value, "`") || strings.HasPrefix(value, `"""`):
			// ini.v1 reads these as quoted (possibly multi-line) strings.
			probs.errorf(lineNo, cur.name, key, value, "line ignored", "a value may not start with ` or \"\"\"")
			continue
		}
		if _, seen := cur.index[key]; !seen && len(cur.keys) >= maxOptionsPerSection {
			return nil, fmt.Errorf("%s:%d: %w: more than %d different options in section [%s]", name, lineNo, ErrSyntax, maxOptionsPerSection, escape(cur.name))
		}
		k := cur.key(key)
		k.values = append(k.values, iniValue{text: value, line: lineNo, indented: indented})
		text.WriteString(key + "=" + value + "\n")
	}

	f, err := ini.LoadSources(iniLoadOptions, []byte(text.String()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrSyntax, err)
	}
	return mergeScan(name, f, scan)
}

// mergeScan takes the values from ini.v1 and the line numbers and empty values from the
// pre-scan, and checks that both saw the same file.
func mergeScan(name string, f *ini.File, scan *iniDoc) (*iniDoc, error) {
	mismatch := func(what string) error {
		return fmt.Errorf("%s: %w: ini parser disagrees with the pre-scan (%s)", name, ErrSyntax, what)
	}
	sections := f.Sections()
	if len(sections) == 0 || len(sections)-1 != len(scan.sections) {
		return nil, mismatch("section count")
	}
	out := &iniDoc{}
	for i, sec := range sections[1:] { // [0] is ini.v1's implicit DEFAULT section
		want := scan.sections[i]
		if sec.Name() != want.name {
			return nil, mismatch("section " + want.name)
		}
		keys := sec.Keys()
		if len(keys) != len(want.keys) {
			return nil, mismatch("keys of section " + want.name)
		}
		got := &iniSection{name: want.name, line: want.line}
		for j, k := range keys {
			wk := want.keys[j]
			if k.Name() != wk.name {
				return nil, mismatch("key " + wk.name)
			}
			vals := k.ValueWithShadows() // empty values are missing here
			gk := &iniKey{name: wk.name}
			n := 0
			for _, v := range wk.values {
				if v.text != "" {
					if n >= len(vals) || vals[n] != v.text {
						return nil, mismatch("value of " + wk.name)
					}
					v.text = vals[n]
					n++
				}
				gk.values = append(gk.values, v)
			}
			if n != len(vals) {
				return nil, mismatch("values of " + wk.name)
			}
			got.keys = append(got.keys, gk)
		}
		out.sections = append(out.sections, got)
	}
	return out, nil
}

// stripInlineComment cuts s at the first '#' preceded by a space or a tab (design.md).
// s is already trimmed and does not start with '#'.
func stripInlineComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func continuationHint(indented bool) string {
	if indented {
		return " (indented continuation lines are not supported: each line stands alone)"
	}
	return ""
}

// fsPath turns an absolute (or cwd-relative) file name into an fs.FS path rooted at "/".
func fsPath(name string) (string, error) {
	if !filepath.IsAbs(name) {
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", err
		}
		name = abs
	}
	p := strings.TrimPrefix(path.Clean(filepath.ToSlash(name)), "/")
	if p == "" {
		p = "."
	}
	return p, nil
}

// readFileLimited reads at most maxFileSize+1 bytes of the named file from fsys, whose
// root stands for "/".
func readFileLimited(fsys fs.FS, name string) ([]byte, error) {
	p, err := fsPath(name)
	if err != nil {
		return nil, err
	}
	fh, err := fsys.Open(p)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, pathError("read", name, err)
	}
	return data, nil
}

// pathError re-labels an fs error with the real path instead of the fs.FS one.
func pathError(op, name string, err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// rootFS is the real filesystem, rooted at "/".
func rootFS() fs.FS { return os.DirFS("/") }
