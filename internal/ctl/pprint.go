// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"slices"
	"strings"
	"unicode"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

// PFormat returns what Python's pprint.pformat(v, width=width) prints, for the value kinds
// of dbusapi.Dict (dicts, lists, strings, booleans, None, numbers). This is nvme-stas's
// output format, which scripts parse as a Python literal: single-quoted strings, dict keys
// sorted, and anything that does not fit in width columns broken over lines the way
// pprint breaks it (one dict item or list element per line, indented under its opening
// bracket; long strings split at whitespace into adjacent literals).
func PFormat(v any, width int) string {
	p := &pprinter{width: width}
	p.format(v, 0, 0, 0)
	return p.b.String()
}

type pprinter struct {
	width int
	b     strings.Builder
}

// format is pprint's PrettyPrinter._format: write the one-line repr if it fits in the
// columns left (width - indent - allowance, where allowance is what must follow it on the
// line: closing brackets and a comma), else break the container or string.
func (p *pprinter) format(v any, indent, allowance, level int) {
	rep := dbusapi.PyReprSorted(v)
	if dbusapi.RuneLen(rep) > p.width-indent-allowance {
		if d, ok := asDict(v); ok {
			p.dict(d, indent, allowance, level+1)
			return
		}
		if l, ok := asList(v); ok {
			p.list(l, indent, allowance, level+1)
			return
		}
		if s, ok := v.(string); ok {
			p.str(s, indent, allowance, level+1)
			return
		}
	}
	p.b.WriteString(rep)
}

// dict is _pprint_dict with _format_dict_items: items sorted by key, each value indented
// past its key.
func (p *pprinter) dict(d *dbusapi.Dict, indent, allowance, level int) {
	p.b.WriteByte('{')
	keys := d.Keys()
	slices.Sort(keys)
	allowance++
	indent++
	delim := ",\n" + strings.Repeat(" ", indent)
	for i, k := range keys {
		last := i == len(keys)-1
		rep := dbusapi.PyStrRepr(k)
		p.b.WriteString(rep)
		p.b.WriteString(": ")
		v, _ := d.Get(k)
		p.format(v, indent+dbusapi.RuneLen(rep)+2, itemAllowance(last, allowance), level)
		if !last {
			p.b.WriteString(delim)
		}
	}
	p.b.WriteByte('}')
}

// list is _pprint_list with _format_items (compact=False): one element per line.
func (p *pprinter) list(items []any, indent, allowance, level int) {
	p.b.WriteByte('[')
	allowance++
	indent++
	delim := ",\n" + strings.Repeat(" ", indent)
	for i, v := range items {
		if i > 0 {
			p.b.WriteString(delim)
		}
		p.format(v, indent, itemAllowance(i == len(items)-1, allowance), level)
	}
	p.b.WriteByte(']')
}

// itemAllowance: the last item is followed by the container's closing brackets, every
// other one by a comma.
func itemAllowance(last bool, allowance int) int {
	if last {
		return allowance
	}
	return 1
}

// str is _pprint_str: a string too long for its line is cut into lines (keeping their
// line ends) and each line at whitespace into chunks that fit, written as adjacent
// literals, one per line (parenthesised only at the top level).
func (p *pprinter) str(s string, indent, allowance, level int) {
	if s == "" {
		p.b.WriteString(dbusapi.PyStrRepr(s))
		return
	}
	var chunks []string
	lines := splitLinesKeepEnds(s)
	if level == 1 {
		indent++
		allowance++
	}
	maxWidth := p.width - indent
	maxWidth1 := maxWidth
	var rep string
	for i, line := range lines {
		lastLine := i == len(lines)-1
		rep = dbusapi.PyStrRepr(line)
		if lastLine {
			maxWidth1 -= allowance
		}
		if dbusapi.RuneLen(rep) <= maxWidth1 {
			chunks = append(chunks, rep)
			continue
		}
		parts := splitWords(line)
		maxWidth2 := maxWidth
		current := ""
		for j, part := range parts {
			candidate := current + part
			if j == len(parts)-1 && lastLine {
				maxWidth2 -= allowance
			}
			if dbusapi.RuneLen(dbusapi.PyStrRepr(candidate)) > maxWidth2 {
				if current != "" {
					chunks = append(chunks, dbusapi.PyStrRepr(current))
				}
				current = part
			} else {
				current = candidate
			}
		}
		if current != "" {
			chunks = append(chunks, dbusapi.PyStrRepr(current))
		}
	}
	if len(chunks) == 1 {
		p.b.WriteString(rep)
		return
	}
	if level == 1 {
		p.b.WriteByte('(')
	}
	for i, c := range chunks {
		if i > 0 {
			p.b.WriteString("\n" + strings.Repeat(" ", indent))
		}
		p.b.WriteString(c)
	}
	if level == 1 {
		p.b.WriteByte(')')
	}
}

// splitLinesKeepEnds is Python's str.splitlines(True).
func splitLinesKeepEnds(s string) []string {
	var lines []string
	start := 0
	rs := []rune(s)
	pos := 0 // byte offset of rs[i]
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		size := len(string(r))
		switch r {
		case '\n', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
			lines = append(lines, s[start:pos+size])
			start = pos + size
		case '\r':
			end := pos + size
			if i+1 < len(rs) && rs[i+1] == '\n' {
				end++
				i++
				pos++
			}
			lines = append(lines, s[start:end])
			start = end
		}
		pos += size
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// splitWords is re.findall(r'\S*\s*', line) without its final empty match: runs of
// non-space followed by the space after them.
func splitWords(line string) []string {
	var parts []string
	rs := []rune(line)
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && !pySpace(rs[j]) {
			j++
		}
		for j < len(rs) && pySpace(rs[j]) {
			j++
		}
		parts = append(parts, string(rs[i:j]))
		i = j
	}
	return parts
}

// pySpace is Python's str.isspace for one character (what \s matches in a str pattern).
func pySpace(r rune) bool {
	return unicode.IsSpace(r) || r >= '\x1c' && r <= '\x1f'
}

// asDict returns the dict kinds as a Dict.
func asDict(v any) (*dbusapi.Dict, bool) {
	switch v := v.(type) {
	case *dbusapi.Dict:
		return v, v != nil
	case map[string]string:
		return dbusapi.DictFromMap(v), true
	case map[string]any:
		d := &dbusapi.Dict{}
		for k, x := range v {
			d.Set(k, x)
		}
		return d, true
	}
	return nil, false
}

// asList returns the list kinds as []any.
func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []string:
		return toAny(v), true
	case []map[string]string:
		return toAny(v), true
	case []*dbusapi.Dict:
		return toAny(v), true
	}
	return nil, false
}

func toAny[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}
