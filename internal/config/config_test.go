// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/ini.v1"
)

// mustParse parses text for d and fails the test on error.
func mustParse(t *testing.T, d Daemon, text string) (*Config, []Problem) {
	t.Helper()
	c, probs, err := Parse(d, "/etc/stas/"+d.String()+".conf", []byte(text))
	if err != nil {
		t.Fatalf("Parse(%v): %v", d, err)
	}
	if c == nil {
		t.Fatalf("Parse(%v) returned a nil config without error", d)
	}
	return c, probs
}

// findProblem returns the first problem on line whose String contains substr.
func findProblem(probs []Problem, line int, substr string) (Problem, bool) {
	for _, p := range probs {
		if p.Line == line && strings.Contains(p.String(), substr) {
			return p, true
		}
	}
	return Problem{}, false
}

// wantProblem asserts a problem on line with the given level, section and key whose text
// contains substr.
func wantProblem(t *testing.T, probs []Problem, level slog.Level, line int, section, key, substr string) Problem {
	t.Helper()
	p, ok := findProblem(probs, line, substr)
	if !ok {
		t.Fatalf("no problem on line %d containing %q; got:\n%s", line, substr, dumpProblems(probs))
	}
	if p.Level != level || p.Section != section || p.Key != key {
		t.Errorf("problem %q: level %v section %q key %q; want %v %q %q", p, p.Level, p.Section, p.Key, level, section, key)
	}
	if p.File == "" {
		t.Errorf("problem %q names no file", p)
	}
	return p
}

func dumpProblems(probs []Problem) string {
	var b strings.Builder
	for _, p := range probs {
		b.WriteString("  " + p.Level.String() + " " + p.String() + "\n")
	}
	return b.String()
}

func wantNoProblems(t *testing.T, probs []Problem) {
	t.Helper()
	if len(probs) != 0 {
		t.Fatalf("unexpected problems:\n%s", dumpProblems(probs))
	}
}

// TestDefaultTables checks every row of §3.3 (stafd) and §3.4 (stacd): the sections,
// the keys, in nvme-stas's order, and the defaults.
func TestDefaultTables(t *testing.T) {
	type row struct{ section, name, def string }
	tests := []struct {
		d    Daemon
		rows []row
	}{
		{Stafd, []row{
			{SectionGlobal, "tron", "false"},
			{SectionGlobal, "hdr-digest", "false"},
			{SectionGlobal, "data-digest", "false"},
			{SectionGlobal, "kato", "30"},
			{SectionGlobal, "queue-size", ""},
			{SectionGlobal, "reconnect-delay", ""},
			{SectionGlobal, "ctrl-loss-tmo", ""},
			{SectionGlobal, "disable-sqflow", ""},
			{SectionGlobal, "ignore-iface", "false"},
			{SectionGlobal, "ip-family", "ipv4+ipv6"},
			{SectionGlobal, "pleo", "enabled"},
			{SectionServiceDiscovery, "zeroconf", "enabled"},
			{SectionDCManagement, "persistent-connections", "true"},
			{SectionDCManagement, "zeroconf-connections-persistence", "72h0m0s"},
			{SectionControllers, "controller", ""},
			{SectionControllers, "exclude", ""},
		}},
		{Stacd, []row{
			{SectionGlobal, "tron", "false"},
			{SectionGlobal, "hdr-digest", "false"},
			{SectionGlobal, "data-digest", "false"},
			{SectionGlobal, "kato", ""},
			{SectionGlobal, "nr-io-queues", ""},
			{SectionGlobal, "nr-write-queues", ""},
			{SectionGlobal, "nr-poll-queues", ""},
			{SectionGlobal, "queue-size", ""},
			{SectionGlobal, "reconnect-delay", ""},
			{SectionGlobal, "ctrl-loss-tmo", ""},
			{SectionGlobal, "disable-sqflow", ""},
			{SectionGlobal, "ignore-iface", "false"},
			{SectionGlobal, "ip-family", "ipv4+ipv6"},
			{SectionIOCManagement, "disconnect-scope", "only-stas-connections"},
			{SectionIOCManagement, "disconnect-trtypes", "tcp"},
			{SectionIOCManagement, "connect-attempts-on-ncc", "0"},
			{SectionControllers, "controller", ""},
			{SectionControllers, "exclude", ""},
		}},
	}
	for _, tt := range tests {
		got := Table(tt.d)
		if len(got) != len(tt.rows) {
			t.Fatalf("%v: %d rows, want %d: %+v", tt.d, len(got), len(tt.rows), got)
		}
		for i, r := range tt.rows {
			g := got[i]
			if g.Section != r.section || g.Name != r.name || g.Default != r.def {
				t.Errorf("%v row %d = {%s %s default %q}, want {%s %s default %q}", tt.d, i, g.Section, g.Name, g.Default, r.section, r.name, r.def)
			}
			if g.Type == "" {
				t.Errorf("%v %s: no type description", tt.d, g.Name)
			}
		}
	}
}

// TestDefaultsTyped checks the typed defaults the daemons read.
func TestDefaultsTyped(t *testing.T) {
	f := Defaults(Stafd)
	if f.Tron || f.IgnoreIface || !f.PLEO || !f.Zeroconf || !f.PersistentConnections {
		t.Errorf("stafd boolean defaults wrong: %+v", f)
	}
	if !slices.Equal(f.IPFamily, IPFamilies{IPv4, IPv6}) {
		t.Errorf("ip-family default %v", f.IPFamily)
	}
	if f.ZeroconfConnectionsPersistence != (TimeSpan{Duration: 259200 * time.Second}) {
		t.Errorf("zeroconf-connections-persistence default %v, want 259200 s", f.ZeroconfConnectionsPersistence)
	}
	if v, ok := f.Connection.KATO.Get(); !ok || v != 30 {
		t.Errorf("stafd kato default %v", f.Connection.KATO)
	}
	if f.Connection.QueueSize.Set || f.Connection.ReconnectDelay.Set || f.Connection.CtrlLossTmo.Set || f.Connection.DisableSQFlow.Set {
		t.Errorf("stafd optional defaults must be unset: %+v", f.Connection)
	}
	if !slices.Equal(f.ServiceTypes(), []string{"_nvme-disc._tcp", "_nvme-disc._udp"}) {
		t.Errorf("stypes %v", f.ServiceTypes())
	}
	if f.Path != StafdConfPath {
		t.Errorf("path %q", f.Path)
	}

	c := Defaults(Stacd)
	if c.Connection.KATO.Set {
		t.Errorf("stacd kato must be unset (kernel default), got %v", c.Connection.KATO)
	}
	if c.DisconnectScope != ScopeOnlyStasConnections || !slices.Equal(c.DisconnectTrtypes, []string{"tcp"}) || c.ConnectAttemptsOnNCC != 0 {
		t.Errorf("stacd IOC defaults wrong: %+v", c)
	}
	if c.Path != StacdConfPath {
		t.Errorf("path %q", c.Path)
	}
}

// TestEveryOption exercises each row of both tables: absent ⇒ default, a good value is
// taken, a bad value ⇒ the default and a WARNING naming file, line, section and key.
func TestEveryOption(t *testing.T) {
	type opt struct {
		good, goodShown, bad string
	}
	opts := map[string]opt{
		"tron":                             {"TRUE", "true", "yes"},
		"hdr-digest":                       {"true", "true", "1"},
		"data-digest":                      {"True", "true", "on"},
		"kato":                             {"200", "200", "abc"},
		"queue-size":                       {"400", "400", "5"},
		"reconnect-delay":                  {"13", "13", "0"},
		"ctrl-loss-tmo":                    {"-1", "-1", "-2"},
		"disable-sqflow":                   {"true", "true", "on"},
		"nr-io-queues":                     {"8", "8", "0"},
		"nr-write-queues":                  {"6", "6", "x"},
		"nr-poll-queues":                   {"4", "4", "-4"},
		"ignore-iface":                     {"true", "true", "enabled"},
		"ip-family":                        {"ipv6", "ipv6", "IPv4"},
		"pleo":                             {"disabled", "disabled", "disable"},
		"zeroconf":                         {"Disabled", "disabled", "off"},
		"persistent-connections":           {"false", "false", "no"},
		"zeroconf-connections-persistence": {"1h30m", "1h30m0s", "forever"},
		"disconnect-scope":                 {"no-disconnect", "no-disconnect", "joe"},
		"disconnect-trtypes":               {"tcp+rdma+fc", "tcp+rdma+fc", "bob"},
		"connect-attempts-on-ncc":          {"5", "5", "hello"},
	}
	for _, d := range []Daemon{Stafd, Stacd} {
		def := Defaults(d)
		for _, spec := range tableFor(d).specs {
			if spec.list {
				continue
			}
			o, ok := opts[spec.name]
			if !ok {
				t.Fatalf("no test values for %s", spec.name)
			}
			name := d.String() + "/" + spec.name
			t.Run(name, func(t *testing.T) {
				c, probs := mustParse(t, d, "["+spec.section+"]\n")
				wantNoProblems(t, probs)
				if got, want := spec.show(c), spec.show(def); got != want {
					t.Errorf("absent: %q, want default %q", got, want)
				}

				c, probs = mustParse(t, d, "["+spec.section+"]\n"+spec.name+" = "+o.good+"\n")
				wantNoProblems(t, probs)
				if got := spec.show(c); got != o.goodShown {
					t.Errorf("good %q: %q, want %q", o.good, got, o.goodShown)
				}

				c, probs = mustParse(t, d, "["+spec.section+"]\n"+spec.name+" = "+o.bad+"\n")
				if got, want := spec.show(c), spec.show(def); got != want {
					t.Errorf("bad %q: %q, want default %q", o.bad, got, want)
				}
				if len(probs) != 1 {
					t.Fatalf("bad %q: want 1 problem, got:\n%s", o.bad, dumpProblems(probs))
				}
				p := wantProblem(t, probs, slog.LevelWarn, 2, spec.section, spec.name, o.bad)
				if p.Value != o.bad || !strings.HasPrefix(p.Used, "using ") {
					t.Errorf("problem value %q used %q", p.Value, p.Used)
				}

				// An empty value is a bad value too (configparser parity: tron=true then tron=).
				c, probs = mustParse(t, d, "["+spec.section+"]\n"+spec.name+" = "+o.good+"\n"+spec.name+" =\n")
				if got, want := spec.show(c), spec.show(def); got != want {
					t.Errorf("empty after good: %q, want default %q", got, want)
				}
				wantProblem(t, probs, slog.LevelWarn, 3, spec.section, spec.name, "empty value")
			})
		}
	}
}

// Test vector of §14.2 ("Config file"), run against both daemons' tables (the Python test
// used stacd's table plus pleo, zeroconf and persistent-connections).
const vectorConfig = `[Global]
tron=true
kato=200
ip-family=ipv6

[I/O controller connection management]
disconnect-scope = joe
disconnect-trtypes = bob
connect-attempts-on-ncc = 1

[Controllers]
controller=transport=tcp;traddr=100.100.100.100;host-iface=enp0s8
controller=transport=tcp;traddr=100.100.100.200;host-iface=enp0s7;dhchap-ctrl-secret=super-secret;hdr-digest=true;data-digest=true;nr-io-queues=8;nr-write-queues=6;nr-poll-queues=4;queue-size=400;kato=71;reconnect-delay=13;ctrl-loss-tmo=666;disable-sqflow=true
exclude=transport=tcp;traddr=10.10.10.10
`

func TestConfigVectorStacd(t *testing.T) {
	c, probs := mustParse(t, Stacd, vectorConfig)
	if !c.Tron || c.IgnoreIface {
		t.Errorf("tron %v ignore-iface %v", c.Tron, c.IgnoreIface)
	}
	if c.Connection.HdrDigest.Value || c.Connection.DataDigest.Value {
		t.Errorf("digests must default to false: %+v", c.Connection)
	}
	if !slices.Equal(c.IPFamily, IPFamilies{IPv6}) {
		t.Errorf("ip-family %v, want (6,)", c.IPFamily)
	}
	if v, _ := c.Connection.KATO.Get(); v != 200 {
		t.Errorf("kato %v", c.Connection.KATO)
	}
	if c.DisconnectScope != ScopeOnlyStasConnections {
		t.Errorf("disconnect-scope %q", c.DisconnectScope)
	}
	wantProblem(t, probs, slog.LevelWarn, 7, SectionIOCManagement, "disconnect-scope", `"joe"`)
	if !slices.Equal(c.DisconnectTrtypes, []string{"tcp"}) {
		t.Errorf("disconnect-trtypes %v", c.DisconnectTrtypes)
	}
	wantProblem(t, probs, slog.LevelWarn, 8, SectionIOCManagement, "disconnect-trtypes", "no valid transport")
	if c.ConnectAttemptsOnNCC != 2 {
		t.Errorf("connect-attempts-on-ncc %d, want 2 (raised from 1)", c.ConnectAttemptsOnNCC)
	}
	wantProblem(t, probs, slog.LevelInfo, 9, SectionIOCManagement, "connect-attempts-on-ncc", "raised to 2")
	// stacd needs the subsystem NQN: both controllers lack it and are dropped.
	if len(c.Controllers) != 0 {
		t.Errorf("controllers %v, want none (no subsysnqn)", c.Controllers)
	}
	wantProblem(t, probs, slog.LevelError, 12, SectionControllers, "controller", "no subsysnqn")
	if len(c.Excludes) != 1 || c.Excludes[0].String() != "transport=tcp;traddr=10.10.10.10" || c.Excludes[0].Line != 14 {
		t.Errorf("excludes %+v", c.Excludes)
	}
}

func TestConfigVectorStafd(t *testing.T) {
	c, probs := mustParse(t, Stafd, vectorConfig)
	if !c.Tron || !c.PLEO || !c.Zeroconf || !c.PersistentConnections {
		t.Errorf("tron/pleo/zeroconf/persistent: %+v", c)
	}
	if !slices.Contains(c.ServiceTypes(), "_nvme-disc._tcp") {
		t.Errorf("stypes %v", c.ServiceTypes())
	}
	// stafd has no [I/O controller connection management].
	wantProblem(t, probs, slog.LevelError, 6, SectionIOCManagement, "", "unknown section (only used by stacd)")

	if len(c.Controllers) != 1 {
		t.Fatalf("controllers %v", c.Controllers)
	}
	got := c.Controllers[0]
	want := Controller{Line: 12, Transport: "tcp", Traddr: "100.100.100.100", Trsvcid: "8009",
		Subsysnqn: "nqn.2014-08.org.nvmexpress.discovery", HostIface: "enp0s8"}
	if !controllerEqual(got, want) {
		t.Errorf("controller 1 = %#v, want %#v", got, want)
	}
	// Deliberate fix: "super-secret" is not a DH-HMAC-CHAP secret; the kernel would refuse
	// every connect, so the entry is dropped with a problem (the secret itself is not shown).
	p := wantProblem(t, probs, slog.LevelError, 13, SectionControllers, "controller", "dhchap-ctrl-secret: not a DH-HMAC-CHAP secret")
	if strings.Contains(p.String(), "super-secret") {
		t.Errorf("problem shows the secret: %s", p)
	}
}

// TestConfigVectorOverrides is the second controller of the vector with a well-formed
// secret: every per-controller override is typed.
func TestConfigVectorOverrides(t *testing.T) {
	const secret = "DHHC-1:00:c3VwZXItc2VjcmV0LXN1cGVyLXNlY3JldC1zdXBlci1zZWNyZXQ=:"
	text := "[Controllers]\ncontroller=transport=tcp;traddr=100.100.100.200;host-iface=enp0s7;dhchap-ctrl-secret=" + secret +
		";hdr-digest=true;data-digest=true;nr-io-queues=8;nr-write-queues=6;nr-poll-queues=4;queue-size=400;kato=71;reconnect-delay=13;ctrl-loss-tmo=666;disable-sqflow=true;nqn=nqn.io\n"
	c, probs := mustParse(t, Stacd, text)
	wantNoProblems(t, probs)
	if len(c.Controllers) != 1 {
		t.Fatalf("controllers %v", c.Controllers)
	}
	ctrl := c.Controllers[0]
	wantOpts := ConnectionOptions{
		HdrDigest: Some(true), DataDigest: Some(true), NrIOQueues: Some(8), NrWriteQueues: Some(6), NrPollQueues: Some(4),
		QueueSize: Some(400), KATO: Some(71), ReconnectDelay: Some(13), CtrlLossTmo: Some(666), DisableSQFlow: Some(true),
	}
	if ctrl.Options != wantOpts {
		t.Errorf("options %+v, want %+v", ctrl.Options, wantOpts)
	}
	if ctrl.DHCHAPCtrlSecret.Reveal() != secret || ctrl.Trsvcid != IOPort || ctrl.Subsysnqn != "nqn.io" {
		t.Errorf("controller %v", ctrl)
	}
}

// TestAdditionalVectors covers the §14.2 vectors "obtained by running their code".
func TestAdditionalVectors(t *testing.T) {
	t.Run("repeated tron, last wins", func(t *testing.T) {
		c, probs := mustParse(t, Stafd, "[Global]\nTRON = TRUE\ntron = false\n")
		wantNoProblems(t, probs)
		if c.Tron {
			t.Error("tron true, want false")
		}
	})
	t.Run("kato abc", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Global]\nkato = abc\n")
		if c.Connection.KATO != Some(30) {
			t.Errorf("kato %v, want 30", c.Connection.KATO)
		}
	})
	t.Run("queue-size 2000000", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Global]\nqueue-size = 2000000\n")
		if c.Connection.QueueSize.Set {
			t.Errorf("queue-size %v, want unset", c.Connection.QueueSize)
		}
	})
	t.Run("queue-size 5", func(t *testing.T) {
		c, _ := mustParse(t, Stacd, "[Global]\nqueue-size=5\n")
		if c.Connection.QueueSize.Set {
			t.Errorf("queue-size %v, want unset", c.Connection.QueueSize)
		}
	})
	t.Run("pleo disable", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Global]\npleo = disable\n")
		if !c.PLEO {
			t.Error("pleo false, want default true")
		}
	})
	t.Run("ip-family IPv4 is case-sensitive", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Global]\nip-family = IPv4\n")
		if !slices.Equal(c.IPFamily, IPFamilies{IPv4, IPv6}) {
			t.Errorf("ip-family %v", c.IPFamily)
		}
	})
	t.Run("ip-family values and order", func(t *testing.T) {
		for text, want := range map[string]IPFamilies{
			"ipv4": {IPv4}, "ipv6": {IPv6}, "ipv4+ipv6": {IPv4, IPv6},
			"ipv6+ipv4": {IPv6, IPv4}, // quirk 10 fixed: the order written is kept
		} {
			c, _ := mustParse(t, Stacd, "[Global]\nip-family="+text+"\n")
			if !slices.Equal(c.IPFamily, want) || c.IPFamily.String() != text {
				t.Errorf("ip-family=%s: %v", text, c.IPFamily)
			}
		}
	})
	t.Run("hdr-digest yes", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Global]\nhdr-digest = yes\n")
		if c.Connection.HdrDigest != Some(false) {
			t.Errorf("hdr-digest %v", c.Connection.HdrDigest)
		}
	})
	t.Run("zeroconf Disabled", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Service Discovery]\nzeroconf = Disabled\n")
		if c.Zeroconf || len(c.ServiceTypes()) != 0 {
			t.Errorf("zeroconf %v stypes %v", c.Zeroconf, c.ServiceTypes())
		}
	})
	t.Run("persistence forever (quirk 7)", func(t *testing.T) {
		// nvme-stas: None, then a TypeError at runtime. Here: a problem and the default.
		c, probs := mustParse(t, Stafd, "[Discovery controller connection management]\nzeroconf-connections-persistence = forever\n")
		if c.ZeroconfConnectionsPersistence != (TimeSpan{Duration: 72 * time.Hour}) {
			t.Errorf("persistence %v", c.ZeroconfConnectionsPersistence)
		}
		wantProblem(t, probs, slog.LevelWarn, 2, SectionDCManagement, "zeroconf-connections-persistence", "not a time span")
	})
	t.Run("persistence -1 and 0", func(t *testing.T) {
		c, _ := mustParse(t, Stafd, "[Discovery controller connection management]\nzeroconf-connections-persistence = -1\n")
		if !c.ZeroconfConnectionsPersistence.Forever {
			t.Errorf("-1: %v", c.ZeroconfConnectionsPersistence)
		}
		c, _ = mustParse(t, Stafd, "[Discovery controller connection management]\nzeroconf-connections-persistence = 0\n")
		if c.ZeroconfConnectionsPersistence != (TimeSpan{}) {
			t.Errorf("0: %v", c.ZeroconfConnectionsPersistence)
		}
	})
	t.Run("[Global] persistent-connections is legacy", func(t *testing.T) {
		c, probs := mustParse(t, Stafd, "[Global]\npersistent-connections=false\n")
		if !c.PersistentConnections {
			t.Error("value taken from [Global]")
		}
		wantProblem(t, probs, slog.LevelError, 2, SectionGlobal, "persistent-connections",
			"unknown option (moved to [Discovery controller connection management] in nvme-stas 2.1)")
	})
	t.Run("stafd nr-io-queues", func(t *testing.T) {
		// nvme-stas logs it as invalid and still passes it to DC connects; discovery
		// controllers have no I/O queues, so here it is only reported.
		c, probs := mustParse(t, Stafd, "[Global]\nnr-io-queues = 4\n")
		if c.Connection.NrIOQueues.Set {
			t.Errorf("nr-io-queues %v", c.Connection.NrIOQueues)
		}
		wantProblem(t, probs, slog.LevelError, 2, SectionGlobal, "nr-io-queues", "unknown option (only used by stacd)")
	})
	t.Run("section [global]", func(t *testing.T) {
		c, probs := mustParse(t, Stafd, "[global]\ntron=true\n")
		if c.Tron {
			t.Error("[global] applied")
		}
		wantProblem(t, probs, slog.LevelError, 1, "global", "", "did you mean [Global]?")
	})
	t.Run("BadSection and bad-option", func(t *testing.T) {
		_, probs := mustParse(t, Stacd, "[BadSection]\nx=1\n[Global]\nbad-option=\n")
		wantProblem(t, probs, slog.LevelError, 1, "BadSection", "", "unknown section")
		wantProblem(t, probs, slog.LevelError, 4, SectionGlobal, "bad-option", "unknown option")
		if len(probs) != 2 {
			t.Errorf("options of an unknown section must not be reported one by one:\n%s", dumpProblems(probs))
		}
	})
	t.Run("controller with overrides", func(t *testing.T) {
		c, probs := mustParse(t, Stafd, "[Global]\nkato=200\n[Controllers]\ncontroller = transport=tcp;traddr=1.2.3.4;nqn=nqn.x;kato=abc;queue-size=8;hdr-digest=TRUE\n")
		if len(c.Controllers) != 1 {
			t.Fatalf("controllers %v\n%s", c.Controllers, dumpProblems(probs))
		}
		ctrl := c.Controllers[0]
		if ctrl.Subsysnqn != "nqn.x" || ctrl.Traddr != "1.2.3.4" || ctrl.Transport != "tcp" {
			t.Errorf("controller %v", ctrl)
		}
		// Quirk 6 fixed: the invalid overrides are dropped (nvme-stas kept queue-size
		// as the raw string '8' and replaced kato with the daemon default 30); the
		// [Global] values apply instead.
		if ctrl.Options != (ConnectionOptions{HdrDigest: Some(true)}) {
			t.Errorf("overrides %+v", ctrl.Options)
		}
		eff := ctrl.EffectiveOptions(c.Connection)
		if eff.KATO != Some(200) || eff.QueueSize.Set || eff.HdrDigest != Some(true) || eff.DataDigest != Some(false) {
			t.Errorf("effective options %+v", eff)
		}
		wantProblem(t, probs, slog.LevelWarn, 4, SectionControllers, "controller", `"kato=abc": kato: not an integer; override dropped`)
		wantProblem(t, probs, slog.LevelWarn, 4, SectionControllers, "controller", `"queue-size=8": queue-size: not within range 16..1024`)
	})
	t.Run("exclude keeps host-nqn, drops host-traddr", func(t *testing.T) {
		c, probs := mustParse(t, Stafd, "[Controllers]\nexclude = nqn=nqn.y;host-traddr=1.1.1.1;host-nqn=nqn.h\n")
		if len(c.Excludes) != 1 {
			t.Fatalf("excludes %v", c.Excludes)
		}
		if got := c.Excludes[0].String(); got != "subsysnqn=nqn.y;host-nqn=nqn.h" {
			t.Errorf("exclude %q", got)
		}
		wantProblem(t, probs, slog.LevelWarn, 2, SectionControllers, "exclude", "host-traddr does not apply")
	})
	t.Run("empty exclude (quirk 1)", func(t *testing.T) {
		c, probs := mustParse(t, Stafd, "[Controllers]\nexclude=\n")
		if len(c.Excludes) != 0 || c.Excluded(map[string]string{"transport": "tcp"}) {
			t.Errorf("excludes %v", c.Excludes)
		}
		wantProblem(t, probs, slog.LevelError, 2, SectionControllers, "exclude", "would exclude every controller")
	})
}

// TestReloadVector is §14.2's reload: new values replace old ones.
func TestReloadVector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stacd.conf")
	writeFile(t, path, vectorConfig)
	c, _, err := Load(Stacd, path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "[I/O controller connection management]\ndisconnect-trtypes = tcp+rdma+fc\nconnect-attempts-on-ncc = hello\n")
	c2, probs, err := Reload(c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c2.DisconnectTrtypes, []string{"tcp", "rdma", "fc"}) || c2.ConnectAttemptsOnNCC != 0 {
		t.Errorf("after reload: trtypes %v ncc %d", c2.DisconnectTrtypes, c2.ConnectAttemptsOnNCC)
	}
	wantProblem(t, probs, slog.LevelWarn, 3, SectionIOCManagement, "connect-attempts-on-ncc", "not an integer")
	if c2.Path != path || c2.Daemon != Stacd {
		t.Errorf("path %q daemon %v", c2.Path, c2.Daemon)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsLastGood: an unreadable or unusable file is an error and the previous
// configuration stays in force.
func TestReloadKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stafd.conf")
	writeFile(t, path, "[Global]\nkato = 99\n")
	good, _, err := Load(Stafd, path)
	if err != nil || good.Connection.KATO != Some(99) {
		t.Fatalf("load: %v %v", good, err)
	}

	bad := map[string]func(){
		"directory": func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"invalid UTF-8": func() { writeFile(t, path, "[Global]\nkato = \xff\xfe\n") },
		"NUL bytes":     func() { writeFile(t, path, "[Global]\x00\x00\n") },
		"broken header": func() { writeFile(t, path, "[Global\nkato = 1\n") },
		"empty header":  func() { writeFile(t, path, "[]\nkato = 1\n") },
		"too large":     func() { writeFile(t, path, "#"+strings.Repeat("x", maxFileSize)+"\n") },
	}
	for name, breakIt := range bad {
		t.Run(name, func(t *testing.T) {
			os.RemoveAll(path)
			writeFile(t, path, "[Global]\nkato = 99\n")
			breakIt()
			got, probs, err := Reload(good)
			if err == nil {
				t.Fatal("reload succeeded")
			}
			if got != good {
				t.Errorf("reload returned %p, want the previous config %p", got, good)
			}
			if probs != nil {
				t.Errorf("problems with an error: %v", probs)
			}
			if c, _, err := Load(Stafd, path); err == nil || c != nil {
				t.Errorf("Load = %v, %v; want nil config and an error", c, err)
			}
			if name != "directory" && !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
		})
	}
}

func TestSyntaxErrorsNameTheLine(t *testing.T) {
	tests := map[string]string{
		"[Global]\ntron=true\n[Controllers\n": "stafd.conf:3:",
		"[Global]\n\n\n[]\n":                  "stafd.conf:4:",
		"\n[Global]\nkato=\xc3\x28\n":         "stafd.conf:3:",
	}
	for text, want := range tests {
		_, _, err := Parse(Stafd, "/etc/stas/stafd.conf", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v, want one naming %q", text, err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.conf")
	c, probs, err := Load(Stacd, path)
	if err != nil || len(probs) != 0 {
		t.Fatalf("Load missing: %v %v", err, probs)
	}
	want := Defaults(Stacd)
	want.Path = path
	if c.Path != path || c.Daemon != Stacd || c.DisconnectScope != want.DisconnectScope || c.Connection != want.Connection {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestLoadRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "rel.conf", "[Global]\ntron=true\n")
	c, _, err := Load(Stafd, "rel.conf")
	if err != nil || !c.Tron {
		t.Fatalf("Load relative: %v %v", c, err)
	}
}

func TestInvalidDaemon(t *testing.T) {
	if _, _, err := Parse(Daemon(0), "x", nil); err == nil {
		t.Error("Parse accepted Daemon(0)")
	}
	if _, _, err := Load(Daemon(9), "x"); err == nil {
		t.Error("Load accepted Daemon(9)")
	}
	if c, _, err := Reload(nil); err == nil || c != nil {
		t.Error("Reload(nil) succeeded")
	}
	if Daemon(7).String() != "Daemon(7)" || Stafd.String() != "stafd" || Stacd.String() != "stacd" {
		t.Error("Daemon.String")
	}
}

// TestInlineComments: quirk 2 fixed. A '#' preceded by white space starts a comment; one
// inside a word does not.
func TestInlineComments(t *testing.T) {
	text := `[Global] # the global section
tron = true # trace on
kato = 31#32
[Controllers]
exclude = transport=tcp;traddr=fe80::2c6e:dee7:857:26bb # Eliminate a specific address
exclude = host-iface=enp0s8	# Eliminate everything on this interface
controller = transport=tcp;traddr=1.2.3.4;nqn=nqn.a#b
`
	c, probs := mustParse(t, Stafd, text)
	if !c.Tron {
		t.Error("tron not set")
	}
	wantProblem(t, probs, slog.LevelWarn, 3, SectionGlobal, "kato", `"31#32": not an integer`)
	if len(c.Excludes) != 2 || c.Excludes[0].String() != "transport=tcp;traddr=fe80::2c6e:dee7:857:26bb" ||
		c.Excludes[1].String() != "host-iface=enp0s8" {
		t.Errorf("excludes %v", c.Excludes)
	}
	if len(c.Controllers) != 1 || c.Controllers[0].Subsysnqn != "nqn.a#b" {
		t.Errorf("controllers %v", c.Controllers)
	}
}

// TestBareKeys: quirk 27 fixed. A key without "=" crashed nvme-stas when read; here it is
// reported with its line and ignored, and a later key=value for it still works (ini.v1
// alone would refuse the whole file).
func TestBareKeys(t *testing.T) {
	text := "[Global]\ntron\n[Controllers]\nexclude\nexclude = transport=rdma\n"
	c, probs := mustParse(t, Stafd, text)
	if c.Tron {
		t.Error("bare tron taken as true")
	}
	wantProblem(t, probs, slog.LevelError, 2, SectionGlobal, "tron", `no "="`)
	wantProblem(t, probs, slog.LevelError, 4, SectionControllers, "exclude", `no "="`)
	if len(c.Excludes) != 1 || c.Excludes[0].String() != "transport=rdma" {
		t.Errorf("excludes %v", c.Excludes)
	}
}

// TestIndentedLines: quirk 28. Decision: indentation is insignificant and every line
// stands alone (as ini.v1 reads it). configparser would have glued an indented line to the
// previous value, silently adding a controller= entry or replacing a scalar; here such a
// line is either an option of its own or reported with a hint, never merged.
func TestIndentedLines(t *testing.T) {
	text := `[Global]
tron = false
    kato = 40
[Controllers]
controller = transport=tcp;traddr=1.1.1.1
    transport=tcp;traddr=2.2.2.2
exclude = transport=tcp;traddr=3.3.3.3
	traddr 4.4.4.4
`
	c, probs := mustParse(t, Stafd, text)
	if c.Tron || c.Connection.KATO != Some(40) {
		t.Errorf("indented kato line not taken on its own: tron %v kato %v", c.Tron, c.Connection.KATO)
	}
	if len(c.Controllers) != 1 || c.Controllers[0].Traddr != "1.1.1.1" {
		t.Errorf("controllers %v", c.Controllers)
	}
	wantProblem(t, probs, slog.LevelError, 6, SectionControllers, "transport", "continuation lines are not supported")
	if len(c.Excludes) != 1 || c.Excludes[0].String() != "transport=tcp;traddr=3.3.3.3" {
		t.Errorf("excludes %v", c.Excludes)
	}
	wantProblem(t, probs, slog.LevelError, 8, SectionControllers, "traddr 4.4.4.4", "continuation lines are not supported")
}

func TestRepeatedSections(t *testing.T) {
	text := `[Controllers]
controller = transport=tcp;traddr=1.1.1.1
[Global]
kato = 10
[Controllers]
controller = transport=tcp;traddr=2.2.2.2
[Global]
kato = 20
`
	c, probs := mustParse(t, Stafd, text)
	wantNoProblems(t, probs)
	if c.Connection.KATO != Some(20) {
		t.Errorf("kato %v, want the last one", c.Connection.KATO)
	}
	if len(c.Controllers) != 2 || c.Controllers[0].Line != 2 || c.Controllers[1].Line != 6 {
		t.Errorf("controllers %+v", c.Controllers)
	}
}

func TestCaseInsensitiveOptionNames(t *testing.T) {
	c, probs := mustParse(t, Stacd, "[I/O controller connection management]\nDisconnect-Scope = no-disconnect\n[Controllers]\nCONTROLLER = transport=loop;nqn=nqn.loop\n")
	wantNoProblems(t, probs)
	if c.DisconnectScope != ScopeNoDisconnect || len(c.Controllers) != 1 {
		t.Errorf("scope %q controllers %v", c.DisconnectScope, c.Controllers)
	}
}

func TestOtherLineProblems(t *testing.T) {
	text := "tron = true\n[Global] trailing\n= 5\n\"quoted\" = 1\n- = 2\nkato = `30`\nkato = \"\"\"30\"\"\"\nkato = \"30\"\n\ufeffx=1\n"
	c, probs := mustParse(t, Stafd, "\ufeff"+text)
	wantProblem(t, probs, slog.LevelError, 1, "", "tron", "before any [section]")
	wantProblem(t, probs, slog.LevelError, 2, SectionGlobal, "", "text after the section header")
	wantProblem(t, probs, slog.LevelError, 3, SectionGlobal, "", "option name missing")
	wantProblem(t, probs, slog.LevelError, 4, SectionGlobal, `"quoted"`, "invalid option name")
	wantProblem(t, probs, slog.LevelError, 5, SectionGlobal, "-", "invalid option name")
	wantProblem(t, probs, slog.LevelError, 6, SectionGlobal, "kato", "may not start with")
	wantProblem(t, probs, slog.LevelError, 7, SectionGlobal, "kato", "may not start with")
	// Quotes are kept as configparser keeps them, so "30" is not an integer.
	wantProblem(t, probs, slog.LevelWarn, 8, SectionGlobal, "kato", "not an integer")
	wantProblem(t, probs, slog.LevelError, 9, SectionGlobal, "\ufeffx", "unknown option")
	if c.Tron || c.Connection.KATO != Some(30) {
		t.Errorf("tron %v kato %v", c.Tron, c.Connection.KATO)
	}
}

func TestHints(t *testing.T) {
	tests := []struct {
		d                     Daemon
		text                  string
		line                  int
		section, key, substrs string
	}{
		{Stacd, "[Controllers]\nblacklist = transport=tcp\n", 2, SectionControllers, "blacklist", "replaced by exclude="},
		{Stacd, "[Global]\nudev-rule = enabled\n", 2, SectionGlobal, "udev-rule", "removed in nvme-stas 2.1.3"},
		{Stacd, "[Global]\nsticky-connections = enabled\n", 2, SectionGlobal, "sticky-connections", "disconnect-scope and disconnect-trtypes"},
		{Stafd, "[Global]\nduplicate-connect = true\n", 2, SectionGlobal, "duplicate-connect", "not supported"},
		{Stafd, "[Global]\nzeroconf = enabled\n", 2, SectionGlobal, "zeroconf", "belongs in [Service Discovery]"},
		{Stacd, "[Global]\npleo = enabled\n", 2, SectionGlobal, "pleo", "only used by stafd"},
		{Stacd, "[Global]\nwhatever = 1\n", 2, SectionGlobal, "whatever", "unknown option; ignored"},
		{Stacd, "[Service Discovery]\n", 1, SectionServiceDiscovery, "", "only used by stafd"},
		{Stafd, "[ Global ]\n", 1, " Global ", "", "did you mean [Global]?"},
		{Stafd, "[Nope]\n", 1, "Nope", "", "unknown section; ignored"},
	}
	for _, tt := range tests {
		_, probs := mustParse(t, tt.d, tt.text)
		wantProblem(t, probs, slog.LevelError, tt.line, tt.section, tt.key, tt.substrs)
	}
}

func TestProblemsSortedByLine(t *testing.T) {
	_, probs := mustParse(t, Stafd, "[Global]\nkato=x\n[Nope]\n[Global]\ntron=maybe\nbare\n")
	for i := 1; i < len(probs); i++ {
		if probs[i].Line < probs[i-1].Line {
			t.Fatalf("problems out of order:\n%s", dumpProblems(probs))
		}
	}
	if len(probs) != 4 {
		t.Errorf("want 4 problems:\n%s", dumpProblems(probs))
	}
}

func TestIPFamiliesAllows(t *testing.T) {
	v4, v6 := IPFamilies{IPv4}, IPFamilies{IPv6}
	tests := []struct {
		fams IPFamilies
		addr string
		want bool
	}{
		{v4, "10.10.10.10", true},
		{v4, "::1", false},
		{v6, "::1", true},
		{v6, "10.10.10.10", false},
		{v4, "::ffff:1.2.3.4", true},
		{v6, "::ffff:1.2.3.4", false},
		{IPFamilies{IPv6, IPv4}, "1.1.1.1", true},
	}
	for _, tt := range tests {
		if got := tt.fams.Allows(mustAddr(t, tt.addr)); got != tt.want {
			t.Errorf("%v.Allows(%s) = %v", tt.fams, tt.addr, got)
		}
	}
	if v4.Allows(zeroAddr) {
		t.Error("invalid address allowed")
	}
	if IPFamily(5).String() != "IPFamily(5)" {
		t.Error("IPFamily.String")
	}
}

func TestOptional(t *testing.T) {
	var o Optional[int]
	if _, ok := o.Get(); ok || o.Or(7) != 7 || o.String() != "" {
		t.Error("unset Optional")
	}
	o = Some(3)
	if v, ok := o.Get(); !ok || v != 3 || o.Or(7) != 3 || o.String() != "3" {
		t.Error("set Optional")
	}
}

func TestConnectionOptionsMergeAndMap(t *testing.T) {
	global := ConnectionOptions{KATO: Some(30), HdrDigest: Some(false), CtrlLossTmo: Some(600)}
	over := ConnectionOptions{KATO: Some(5), HdrDigest: Some(true), NrIOQueues: Some(2)}
	got := global.Merge(over)
	want := ConnectionOptions{KATO: Some(5), HdrDigest: Some(true), CtrlLossTmo: Some(600), NrIOQueues: Some(2)}
	if got != want {
		t.Errorf("Merge = %+v, want %+v", got, want)
	}
	m := got.Map()
	if len(m) != 4 || m["kato"] != "5" || m["hdr-digest"] != "true" || m["ctrl-loss-tmo"] != "600" || m["nr-io-queues"] != "2" {
		t.Errorf("Map = %v", m)
	}
}

func TestTimeSpanString(t *testing.T) {
	if (TimeSpan{Forever: true}).String() != "forever" || (TimeSpan{Duration: time.Minute}).String() != "1m0s" {
		t.Error("TimeSpan.String")
	}
}

// TestShippedConfigs parses configuration files in the style nvme-stas ships (all
// options commented out, with examples) and files with every option set.
func TestShippedConfigs(t *testing.T) {
	for _, tt := range []struct {
		file string
		d    Daemon
	}{
		{"testdata/stafd.conf", Stafd},
		{"testdata/stacd.conf", Stacd},
	} {
		c, probs, err := Load(tt.d, tt.file)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		wantNoProblems(t, probs)
		if len(c.Controllers) != 0 || len(c.Excludes) != 0 || c.Tron {
			t.Errorf("%s: commented-out file changed the defaults: %+v", tt.file, c)
		}
	}

	c, probs, err := Load(Stafd, "testdata/stafd-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, probs)
	if !c.Tron || !c.IgnoreIface || c.PLEO || c.Zeroconf || c.PersistentConnections ||
		c.ZeroconfConnectionsPersistence != (TimeSpan{Duration: 3*24*time.Hour + 5*time.Hour}) ||
		c.Connection != (ConnectionOptions{HdrDigest: Some(true), DataDigest: Some(true), KATO: Some(60), QueueSize: Some(64),
			ReconnectDelay: Some(5), CtrlLossTmo: Some(-1), DisableSQFlow: Some(true)}) ||
		!slices.Equal(c.IPFamily, IPFamilies{IPv6, IPv4}) {
		t.Errorf("stafd-full: %+v", c)
	}
	if len(c.Controllers) != 4 || len(c.Excludes) != 2 {
		t.Fatalf("stafd-full: controllers %v excludes %v", c.Controllers, c.Excludes)
	}
	fc := c.Controllers[2]
	if fc.Transport != "fc" || fc.Trsvcid != "" || fc.Traddr != "nn-0x204600a098cbcac6:pn-0x204700a098cbcac6" {
		t.Errorf("fc controller (quirk 4) %#v", fc)
	}

	c, probs, err = Load(Stacd, "testdata/stacd-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, probs)
	if c.DisconnectScope != ScopeAllMatchingTrtypes || !slices.Equal(c.DisconnectTrtypes, []string{"tcp", "rdma"}) ||
		c.ConnectAttemptsOnNCC != 3 || c.Connection.NrIOQueues != Some(4) {
		t.Errorf("stacd-full: %+v", c)
	}
	if len(c.Controllers) != 3 || c.Controllers[0].Trsvcid != IOPort {
		t.Errorf("stacd-full controllers %v", c.Controllers)
	}
}

func TestTooManyOptions(t *testing.T) {
	var b strings.Builder
	b.WriteString("[Global]\n")
	for i := 0; i <= maxOptionsPerSection; i++ {
		b.WriteString("k" + strconv.Itoa(i) + "=1\n")
	}
	_, _, err := Parse(Stafd, "stafd.conf", []byte(b.String()))
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "stafd.conf:1002:") {
		t.Errorf("error %v", err)
	}
	// Repeating one option is fine.
	c, _ := mustParse(t, Stafd, "[Global]\n"+strings.Repeat("kato=7\n", 2*maxOptionsPerSection))
	if c.Connection.KATO != Some(7) {
		t.Errorf("kato %v", c.Connection.KATO)
	}
}

// TestAdversarialINI feeds lines that gopkg.in/ini.v1 treats specially; the pre-scan and
// ini.v1 must agree on every one of them.
func TestAdversarialINI(t *testing.T) {
	for _, s := range []string{
		"[G]\nİ=1\nİ=2\n", "[G]\nK=1\nk=2\n", "[G]\nK\u212a=1\n", "[G]\nk\r=1\n", "[G]\na=\"\"\"\n",
		"[G]\na='x'\n", "[G]\na=x\\\nb=y\n", "[G]\na=;x\n", "[G]\na=#x\n", "[G]\r\n[G]\r\na=\r\n",
		"[a.b]\nk=1\n[a]\nk=2\n", "[DEFAULT]\nk=1\n", "[G]\n\u00a0k\u00a0=\u00a0v\u00a0\n", "[G]\n\u0085k=v\u0085\n",
		"[G]\nk:v=1\n", "[[G]]\nk=v\n", "[G]x]\n", "[ \t]\n", "[G]\nk=\x0b\n",
	} {
		if _, _, err := Parse(Stafd, "x.conf", []byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestMergeScanMismatch(t *testing.T) {
	f, err := ini.LoadSources(iniLoadOptions, []byte("[a]\nk=v\nk=w\n"))
	if err != nil {
		t.Fatal(err)
	}
	scans := []*iniDoc{
		{},
		{sections: []*iniSection{{name: "b"}}},
		{sections: []*iniSection{{name: "a"}}},
		{sections: []*iniSection{{name: "a", keys: []*iniKey{{name: "x"}}}}},
		{sections: []*iniSection{{name: "a", keys: []*iniKey{{name: "k", values: []iniValue{{text: "v"}}}}}}},
		{sections: []*iniSection{{name: "a", keys: []*iniKey{{name: "k", values: []iniValue{{text: "v"}, {text: "x"}}}}}}},
	}
	for i, scan := range scans {
		if _, err := mergeScan("x", f, scan); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "disagrees") {
			t.Errorf("scan %d: %v", i, err)
		}
	}
}
