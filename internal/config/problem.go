// SPDX-License-Identifier: Apache-2.0

package config

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one thing found wrong in a configuration file. Problems never stop a load:
// the offending line, option, token or entry is left out (or replaced by its default) and
// the rest of the file applies.
type Problem struct {
	// File is the path of the file, as given to the loader.
	File string
	// Line is the 1-based line number, or 0 when it cannot be told.
	Line int
	// Section is the section name without brackets; "" for a line before any section.
	Section string
	// Key is the option name (lower case) or, for a controller= or exclude= entry,
	// "controller" / "exclude"; "" for a problem with a whole section.
	Key string
	// Value is the offending text as written. DH-HMAC-CHAP secrets are redacted.
	Value string
	// Reason says what is wrong with it.
	Reason string
	// Used says what applies instead, e.g. "using default 30" or "entry dropped".
	Used string
	// Level is slog.LevelError for unknown sections and options and for syntax
	// errors, slog.LevelWarn for bad values, slog.LevelInfo for notes.
	Level slog.Level
}

// String renders the problem as one log line, for example
// `stafd.conf:12: [Global] kato = "abc": not an integer; using default 30`.
func (p Problem) String() string {
	var b strings.Builder
	name := filepath.Base(p.File)
	if p.File == "" {
		name = "config"
	}
	b.WriteString(name)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(":")
	if p.Section != "" {
		b.WriteString(" [")
		b.WriteString(escape(p.Section))
		b.WriteString("]")
	}
	if p.Key != "" {
		b.WriteString(" ")
		b.WriteString(escape(p.Key))
	}
	if p.Value != "" {
		b.WriteString(" = ")
		b.WriteString(strconv.Quote(p.Value))
	}
	if p.Section != "" || p.Key != "" || p.Value != "" {
		b.WriteString(":")
	}
	b.WriteString(" ")
	b.WriteString(p.Reason)
	if p.Used != "" {
		b.WriteString("; ")
		b.WriteString(p.Used)
	}
	return b.String()
}

// LogProblems logs every problem at its own level, one line each.
func LogProblems(log *slog.Logger, problems []Problem) {
	if log == nil {
		return
	}
	for _, p := range problems {
		log.Log(context.Background(), p.Level, p.String())
	}
}

// escape makes section and key names safe to print on one log line: names come from the
// file and may hold control characters.
func escape(s string) string {
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// maxProblemText bounds the text a problem quotes from the file, so that one runaway
// line cannot make a log line of a megabyte.
const maxProblemText = 256

// shorten cuts s to maxProblemText bytes (at a character boundary) and marks the cut.
func shorten(s string) string {
	if len(s) <= maxProblemText {
		return s
	}
	cut := maxProblemText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// problemList collects problems for one file.
type problemList struct {
	file string
	list []Problem
}

func (l *problemList) add(level slog.Level, line int, section, key, value, reason, used string) {
	if value != "" && (isSecretKey(key) || (section == SectionHost && key == "key")) {
		value = RedactedSecret
	}
	l.list = append(l.list, Problem{
		File:    l.file,
		Line:    line,
		Section: section,
		Key:     shorten(key),
		Value:   shorten(redact(value)),
		Reason:  reason,
		Used:    used,
		Level:   level,
	})
}

func (l *problemList) errorf(line int, section, key, value, used, format string, args ...any) {
	l.add(slog.LevelError, line, section, key, value, fmt.Sprintf(format, args...), used)
}

func (l *problemList) warnf(line int, section, key, value, used, format string, args ...any) {
	l.add(slog.LevelWarn, line, section, key, value, fmt.Sprintf(format, args...), used)
}

// sorted returns the problems in line order (problems without a line keep their place
// relative to each other at the end), which is how a reader goes through the file.
func (l *problemList) sorted() []Problem {
	out := slices.Clone(l.list)
	slices.SortStableFunc(out, func(a, b Problem) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return cmp.Compare(la, lb)
	})
	return out
}
