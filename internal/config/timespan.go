// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrTimeSpan is wrapped by the errors of ParseSeconds and ParseTimeSpan.
var ErrTimeSpan = errors.New("not a time span")

// The grammar of nvme-stas's vendored pytimeparse (staslib/timeparse.py, §3.7). Go's
// regexp picks the same submatches as Python's backtracking matcher; \d and \s are ASCII
// here, which only matters for exotic Unicode digits and spaces.
const (
	tsDays      = `(?P<days>[\d.]+)\s*(?:d|dys?|days?)`
	tsHours     = `(?P<hours>[\d.]+)\s*(?:h|hrs?|hours?)`
	tsMins      = `(?P<mins>[\d.]+)\s*(?:m|(mins?)|(minutes?))`
	tsSecs      = `(?P<secs>[\d.]+)\s*(?:s|secs?|seconds?)`
	tsSep       = `[,/]`
	tsSecClock  = `:(?P<secs>\d{2}(?:\.\d+)?)`
	tsMinClock  = `(?P<mins>\d{1,2}):(?P<secs>\d{2}(?:\.\d+)?)`
	tsHourClock = `(?P<hours>\d+):(?P<mins>\d{2}):(?P<secs>\d{2}(?:\.\d+)?)`
	tsDayClock  = `(?P<days>\d+):(?P<hours>\d{2}):(?P<mins>\d{2}):(?P<secs>\d{2}(?:\.\d+)?)`
)

func tsOpt(x string) string    { return `(?:` + x + `)?` }
func tsOptSep(x string) string { return `(?:` + x + `\s*(?:` + tsSep + `\s*)?)?` }

var (
	tsSignRe = regexp.MustCompile(`^\s*(?P<sign>[+-])?\s*(?P<unsigned>.*)$`)
	tsForms  = func() []*regexp.Regexp {
		forms := []string{
			tsOptSep(tsDays) + `\s*` + tsOptSep(tsHours) + `\s*` + tsOptSep(tsMins) + `\s*` + tsOpt(tsSecs),
			tsMinClock,
			tsOptSep(tsDays) + `\s*` + tsHourClock,
			tsDayClock,
			tsSecClock,
		}
		out := make([]*regexp.Regexp, len(forms))
		for i, f := range forms {
			out[i] = regexp.MustCompile(`(?i)^\s*` + f + `\s*$`)
		}
		return out
	}()
	tsMultipliers = map[string]float64{"days": 86400, "hours": 3600, "mins": 60, "secs": 1}
	tsUnits       = []string{"days", "hours", "mins", "secs"} // a fixed order keeps float sums reproducible

	// pyFloatRe is the syntax of Python's float() for decimal numbers (underscores allowed
	// between digits); Go's ParseFloat would also take hex floats, which Python refuses.
	pyFloatRe = regexp.MustCompile(`^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$`)
)

// ParseSeconds parses a time span as nvme-stas does (pytimeparse) and returns seconds:
// a plain number ("-1", "0.5", "1e3", "inf"), or "[Nd] [Nh] [Nm] [Ns]" with the usual unit
// spellings, or a clock form (M:SS, H:MM:SS, D:HH:MM:SS, :SS, "Nd H:MM:SS"), with an
// optional sign. Weeks are not supported. Unlike pytimeparse it never crashes on
// "1.2.3 hours", refuses NaN, and applies a sign to the whole span ("-1.5m 30s" is -120
// s, not -60 s).
func ParseSeconds(s string) (float64, error) {
	if v, ok := parsePyFloat(s); ok {
		if math.IsNaN(v) {
			return 0, ErrTimeSpan
		}
		return v, nil
	}
	m := tsSignRe.FindStringSubmatch(s)
	if m == nil {
		return 0, ErrTimeSpan
	}
	sign := 1.0
	if m[1] == "-" {
		sign = -1
	}
	unsigned := m[2]
	for _, re := range tsForms {
		sub := re.FindStringSubmatch(unsigned)
		if sub == nil || strings.TrimSpace(sub[0]) == "" {
			continue
		}
		fields := make(map[string]string)
		for i, name := range re.SubexpNames() {
			if _, ok := tsMultipliers[name]; ok && sub[i] != "" {
				fields[name] = sub[i]
			}
		}
		v, ok := tsValue(fields)
		if !ok {
			return 0, ErrTimeSpan
		}
		return sign * v, nil
	}
	return 0, ErrTimeSpan
}

// tsValue adds up the matched fields the way pytimeparse does: all-integer fields give an
// integer; with fractional larger units and integer (or no) seconds, the larger units are
// truncated to whole seconds; with fractional seconds the sum is exact.
func tsValue(fields map[string]string) (float64, bool) {
	sum, whole := 0.0, 0.0
	allDigits := true
	for _, name := range tsUnits {
		text, ok := fields[name]
		if !ok {
			continue
		}
		if !isDigits(text) {
			allDigits = false
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false // "1.2.3" or "."
		}
		sum += tsMultipliers[name] * v
		if name != "secs" {
			whole += tsMultipliers[name] * v
		}
	}
	secs, hasSecs := fields["secs"]
	switch {
	case allDigits:
		return sum, true
	case !hasSecs || isDigits(secs):
		s, _ := strconv.ParseFloat(secs, 64)
		if !hasSecs {
			s = 0
		}
		return math.Trunc(whole) + s, true
	default:
		return sum, true
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePyFloat accepts what Python's float() accepts (surrounding white space, a sign,
// underscores between digits, "inf", "infinity", "nan" in any case).
func parsePyFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return 0, false
	}
	neg := strings.HasPrefix(s, "-")
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	if !pyFloatRe.MatchString(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return v, true // on overflow ParseFloat returns ±Inf, as Python does
}

// ParseTimeSpan parses a time span (see ParseSeconds) for an option where -1 means
// forever: any negative span, an infinite one and one longer than time.Duration can hold
// (about 292 years) are Forever; fractions of a second are kept to the nanosecond.
func ParseTimeSpan(s string) (TimeSpan, error) {
	secs, err := ParseSeconds(s)
	if err != nil {
		return TimeSpan{}, err
	}
	if secs < 0 || secs*1e9 >= math.MaxInt64 {
		return TimeSpan{Forever: true}, nil
	}
	return TimeSpan{Duration: time.Duration(math.Round(secs * 1e9))}, nil
}
