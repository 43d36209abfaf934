// SPDX-License-Identifier: Apache-2.0

package config

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// checkProblemText fails if a problem would print a control character (log injection).
func checkProblemText(t *testing.T, probs []Problem) {
	t.Helper()
	for _, p := range probs {
		s := p.String()
		for i := 0; i < len(s); i++ {
			if s[i] < ' ' || s[i] == 0x7f {
				t.Fatalf("problem text has control byte %#x: %q", s[i], s)
			}
		}
		// A line before any section with no option name ("=") has neither; its line says
		// where it is.
		if p.File == "" || (p.Section == "" && p.Key == "" && p.Line == 0) {
			t.Fatalf("problem names no file, section, key or line: %+v", p)
		}
	}
}

// checkController asserts what the daemons rely on for an accepted entry.
func checkController(t *testing.T, d Daemon, c Controller) {
	t.Helper()
	for name, v := range map[string]string{
		"transport": c.Transport, "traddr": c.Traddr, "trsvcid": c.Trsvcid, "subsysnqn": c.Subsysnqn,
		"host-traddr": c.HostTraddr, "host-iface": c.HostIface, "host-nqn": c.HostNQN,
		"dhchap-secret": c.DHCHAPSecret.Reveal(), "dhchap-ctrl-secret": c.DHCHAPCtrlSecret.Reveal(),
	} {
		if strings.ContainsAny(v, ",\n") || !validOptionText(v) {
			t.Fatalf("accepted %s %q cannot go into a kernel option string", name, v)
		}
	}
	switch c.Transport {
	case "tcp", "rdma":
		if p, err := strconv.Atoi(c.Trsvcid); err != nil || p < 1 || p > 65535 || c.Traddr == "" {
			t.Fatalf("accepted %v without a port or address", c)
		}
	case "fc", "loop":
		if c.Trsvcid != "" {
			t.Fatalf("accepted %v with a trsvcid", c)
		}
	default:
		t.Fatalf("accepted transport %q", c.Transport)
	}
	if c.Subsysnqn == "" {
		t.Fatalf("accepted %v (%v) without subsysnqn", c, d)
	}
	if qs, ok := c.Options.QueueSize.Get(); ok && (qs < 16 || qs > 1024) {
		t.Fatalf("accepted queue-size %d", qs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(vectorConfig))
	f.Add([]byte("[Global]\ntron\n[Controllers]\nexclude\nexclude = transport=rdma\n"))
	f.Add([]byte("[Global] # c\nkato = 31#32\n  kato = 5\n[Controllers]\ncontroller = transport=fc;traddr=nn-1:pn-2;nqn=n\n"))
	f.Add([]byte("\ufeff[Host]\nnqn=file:///etc/nvme/hostnqn\n"))
	f.Add([]byte("[a]\nk=`v`\n\"q\"=1\n-=2\n[b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range []Daemon{Stafd, Stacd} {
			c, probs, err := Parse(d, "fuzz.conf", data)
			if err != nil {
				if c != nil || probs != nil {
					t.Fatalf("error %v with a config or problems", err)
				}
				if strings.Contains(err.Error(), "disagrees") {
					t.Fatalf("pre-scan and ini.v1 disagree: %v", err)
				}
				continue
			}
			checkProblemText(t, probs)
			for _, ctrl := range c.Controllers {
				checkController(t, d, ctrl)
			}
			for _, x := range c.Excludes {
				if len(x.Conditions) == 0 {
					t.Fatal("accepted an empty exclude entry")
				}
			}
		}
		if _, probs, err := ParseSysConf(nil, "sys.conf", data); err == nil {
			checkProblemText(t, probs)
		}
	})
}

func FuzzControllerEntry(f *testing.F) {
	for _, s := range []string{
		"", "noequalsign", "key=val=extra", "transport=tcp;noequalsign;traddr=10.10.10.10",
		" transport = tcp ; traddr = localhost ; ; ; kato=31; dhchap-ctrl-secret=DHHC-1:00:a/b/c: ; dhchap-secret=DHHC-1:00:d/e/:",
		"transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc=:", "transport=tcp,traddr=1.1.1.1",
		"Transport=TCP;TRADDR=1.1.1.1", "transport=tcp;transport=rdma", "transport=loop;nqn=nqn.loop",
		"transport=rdma;traddr=fe80::1%eth0;trsvcid=4420;host-traddr=fe80::2;host-iface=eth0;nqn=x;queue-size=16",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, d := range []Daemon{Stafd, Stacd} {
			probs := &problemList{file: "fuzz.conf"}
			if c, ok := parseController(d, text, 1, probs); ok {
				checkController(t, d, c)
				_ = c.Fields()
				_ = c.String()
			}
			checkProblemText(t, probs.list)
		}
		probs := &problemList{file: "fuzz.conf"}
		if x, ok := parseExclude(text, 1, probs); ok {
			if len(x.Conditions) == 0 {
				t.Fatal("accepted an empty exclude entry")
			}
			if x.Matches(map[string]string{}) {
				t.Fatal("exclude entry matches a controller without fields")
			}
		}
		checkProblemText(t, probs.list)
		if strings.Contains(redact(text), "DHHC-1") {
			t.Fatalf("redact(%q) left a secret", text)
		}
	})
}

func FuzzTimeSpan(f *testing.F) {
	for _, s := range []string{"1", "1:01", "1 minute, 24 secs", "- 1 minute", "72hours", "1:02:03:04", "1d, 2h", "1e3", "inf", "nan", "1.2.3 hours", "blah", "-1.5m 30s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		secs, err := ParseSeconds(s)
		if err == nil && math.IsNaN(secs) {
			t.Fatalf("ParseSeconds(%q) = NaN", s)
		}
		ts, err2 := ParseTimeSpan(s)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseSeconds and ParseTimeSpan disagree on %q: %v / %v", s, err, err2)
		}
		if err2 == nil && !ts.Forever && ts.Duration < 0 {
			t.Fatalf("ParseTimeSpan(%q) = %v", s, ts)
		}
	})
}
