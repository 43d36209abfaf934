// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestParseSecondsVectors: every time-span vector of §14.2, verbatim.
func TestParseSecondsVectors(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"1", 1}, {"1s", 1}, {"1 sec", 1}, {"1 second", 1}, {"1 seconds", 1},
		{"1:01", 61},
		{"1 day", 86400},
		{"1 hour", 3600},
		{"1 min", 60},
		{"0.5", 0.5},
		{"-1", -1},
		{":22", 22},
		{"1 minute, 24 secs", 84},
		{"1.2 minutes", 72},
		{"1.2 seconds", 1.2},
		{"- 1 minute", -60},
		{"+ 1 minute", 60},
		{"72hours", 259200}, {"72 hours", 259200},
		{"3 days 5 hours", 277200},
		{"5days", 432000},
		{"1:02:03", 3723}, {"1:02:03:04", 93784},
		{"1.5h", 5400}, {"1h30m", 5400},
		{"2d3h4m5s", 183845},
		{"1d, 2h", 93600},
		{"1 hr", 3600}, {"1m", 60}, {"1 minutes", 60},
		{"+5", 5}, {" 7 ", 7}, {"1e3", 1000},
		// More of pytimeparse's grammar.
		{"1:24", 84}, {"1m24s", 84}, {"1d 1:00:00", 90000}, {"1 DAY/2 HOURS", 93600},
		{"0.01m", 0},        // fractional larger units are truncated to whole seconds...
		{"0.5m 1.5s", 31.5}, // ...unless the seconds are fractional
		{"1_000", 1000}, {".5", 0.5}, {"5.", 5}, {"-0", 0},
		// Deliberate fix: the sign applies to the whole span (pytimeparse: -60).
		{"-1.5m 30s", -120},
	}
	for _, tt := range tests {
		got, err := ParseSeconds(tt.in)
		if err != nil || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSecondsInvalid(t *testing.T) {
	// "blah", "" and "1 week" are §14.2 vectors (None); the rest crashed or misparsed in
	// pytimeparse ("1.2.3 hours" raised ValueError) or are NaN.
	for _, in := range []string{"blah", "", "1 week", "1.2.3 hours", ". hours", "nan", "-nan", "forever", "1x", "1 ms",
		"0x10", "1__0", "+-5", "|5m", "1d 2", ":5", "100:00", "1\n2", "-", "1h 1h"} {
		if v, err := ParseSeconds(in); !errors.Is(err, ErrTimeSpan) {
			t.Errorf("ParseSeconds(%q) = %v, %v; want ErrTimeSpan", in, v, err)
		}
	}
}

func TestParseSecondsInfinity(t *testing.T) {
	for in, want := range map[string]float64{"inf": math.Inf(1), "Infinity": math.Inf(1), "-inf": math.Inf(-1), "1e400": math.Inf(1)} {
		if got, err := ParseSeconds(in); err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %v, %v", in, got, err)
		}
	}
}

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want TimeSpan
	}{
		{"72hours", TimeSpan{Duration: 72 * time.Hour}},
		{"0", TimeSpan{}},
		{"0.5", TimeSpan{Duration: 500 * time.Millisecond}},
		{"1.2 seconds", TimeSpan{Duration: 1200 * time.Millisecond}},
		{"-1", TimeSpan{Forever: true}},
		{"- 1 minute", TimeSpan{Forever: true}},
		{"inf", TimeSpan{Forever: true}},
		{"1e12", TimeSpan{Forever: true}}, // beyond time.Duration
		{"106751 days", TimeSpan{Duration: 106751 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		got, err := ParseTimeSpan(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTimeSpan(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseTimeSpan("blah"); !errors.Is(err, ErrTimeSpan) {
		t.Errorf("ParseTimeSpan(blah) error %v", err)
	}
}
