// SPDX-License-Identifier: Apache-2.0

package config

import (
	"log/slog"
	"strings"
	"testing"
)

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "/etc/stas/stafd.conf", Line: 12, Section: "Global", Key: "kato", Value: "abc", Reason: "not an integer", Used: "using default 30"},
			`stafd.conf:12: [Global] kato = "abc": not an integer; using default 30`},
		{Problem{File: "stacd.conf", Section: "Bad\x1bSection", Reason: "unknown section", Used: "ignored"},
			`stacd.conf: [Bad\x1bSection]: unknown section; ignored`},
		{Problem{File: "stafd.conf", Line: 3, Key: "tron", Reason: "option before any [section] header"},
			`stafd.conf:3: tron: option before any [section] header`},
		{Problem{Reason: "something"}, `config: something`},
		{Problem{File: "f", Line: 1, Section: "Controllers", Key: "exclude", Value: "a\nb", Reason: "r"},
			`f:1: [Controllers] exclude = "a\nb": r`},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestProblemsCarryPosition: a problem made from a file names file, line, section and key,
// and secrets given to an unknown option are redacted.
func TestProblemsCarryPosition(t *testing.T) {
	_, probs := mustParse(t, Stafd, "[Global]\n\nkato = 5x\ndhchap-secret = hunter2\n")
	p := wantProblem(t, probs, slog.LevelWarn, 3, SectionGlobal, "kato", "not an integer")
	if p.File != "/etc/stas/stafd.conf" || p.Value != "5x" || p.Used != "using default 30" {
		t.Errorf("problem %+v", p)
	}
	p = wantProblem(t, probs, slog.LevelError, 4, SectionGlobal, "dhchap-secret", "unknown option")
	if strings.Contains(p.String(), "hunter2") {
		t.Errorf("secret shown: %s", p)
	}
}

func TestLogProblems(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, probs := mustParse(t, Stacd, "[Global]\nkato=x\n[Nope]\n[I/O controller connection management]\nconnect-attempts-on-ncc=1\n")
	LogProblems(log, probs)
	LogProblems(nil, probs) // no logger: nothing happens
	out := b.String()
	for _, want := range []string{
		`level=WARN msg="stacd.conf:2: [Global] kato = \"x\": not an integer; using the kernel default"`,
		`level=ERROR msg="stacd.conf:3: [Nope]: unknown section; ignored"`,
		`level=INFO msg="stacd.conf:5: [I/O controller connection management] connect-attempts-on-ncc = \"1\": raised to 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s\n%s", want, out)
		}
	}
}

// TestNegativeNCC: quirk 11 fixed. A negative connect-attempts-on-ncc is invalid.
func TestNegativeNCC(t *testing.T) {
	c, probs := mustParse(t, Stacd, "[I/O controller connection management]\nconnect-attempts-on-ncc = -3\n")
	if c.ConnectAttemptsOnNCC != 0 {
		t.Errorf("ncc %d", c.ConnectAttemptsOnNCC)
	}
	wantProblem(t, probs, slog.LevelWarn, 2, SectionIOCManagement, "connect-attempts-on-ncc", "must be 0 (never give up) or a number of attempts; using default 0")
}

func TestTrtypesItems(t *testing.T) {
	c, probs := mustParse(t, Stacd, "[I/O controller connection management]\ndisconnect-trtypes = rdma+bob+tcp+rdma+ fc\n")
	if strings.Join(c.DisconnectTrtypes, "+") != "rdma+tcp+fc" {
		t.Errorf("trtypes %v", c.DisconnectTrtypes)
	}
	wantProblem(t, probs, slog.LevelWarn, 2, SectionIOCManagement, "disconnect-trtypes", `unknown transport "bob" ignored`)
	if len(probs) != 1 {
		t.Errorf("duplicates must be silent:\n%s", dumpProblems(probs))
	}
}

func TestProblemRedactsHostKey(t *testing.T) {
	l := &problemList{file: "sys.conf"}
	l.warnf(2, SectionHost, "key", "not-a-dhhc-key", "", "bad")
	l.warnf(3, SectionControllers, "controller", "transport=tcp;dhchap-secret=abc", "", "bad")
	for _, p := range l.sorted() {
		if strings.Contains(p.String(), "not-a-dhhc-key") || strings.Contains(p.String(), "abc") {
			t.Errorf("secret shown: %s", p)
		}
	}
}

func TestProblemTextShortened(t *testing.T) {
	long := strings.Repeat("é", 300)
	_, probs := mustParse(t, Stafd, "[Global]\nkato = "+long+"\n")
	if len(probs) != 1 || len(probs[0].Value) > maxProblemText+len("…") || !strings.HasSuffix(probs[0].Value, "é…") {
		t.Errorf("value not shortened at a character boundary: %q", probs)
	}
}
