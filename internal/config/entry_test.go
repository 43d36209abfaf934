// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

var zeroAddr netip.Addr

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func controllerEqual(a, b Controller) bool {
	return a.Line == b.Line && a.Transport == b.Transport && a.Traddr == b.Traddr && a.Trsvcid == b.Trsvcid &&
		a.Subsysnqn == b.Subsysnqn && a.HostTraddr == b.HostTraddr && a.HostIface == b.HostIface && a.HostNQN == b.HostNQN &&
		a.DHCHAPSecret == b.DHCHAPSecret && a.DHCHAPCtrlSecret == b.DHCHAPCtrlSecret && a.Options == b.Options &&
		slices.Equal(a.Extra, b.Extra)
}

func paramsString(ps []Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Key + "=" + p.Value
	}
	return strings.Join(parts, "|")
}

// TestSplitEntryVectors: §14.2 "_parse_controller", translated. Where the result differs
// from nvme-stas's the quirk fixed is named.
func TestSplitEntryVectors(t *testing.T) {
	tests := []struct {
		in, params, bad string
	}{
		{"", "", ""},
		{"noequalsign", "", "noequalsign"},
		{"key=val=extra", "key=val=extra", ""}, // quirk 3: split on the first "=" (Python: {})
		{"transport=tcp;noequalsign;traddr=10.10.10.10", "transport=tcp|traddr=10.10.10.10", "noequalsign"},
		{" transport = tcp ; traddr = localhost ; ; ; kato=31; dhchap-ctrl-secret=DHHC-1:00:a/b/c: ; dhchap-secret=DHHC-1:00:d/e/:",
			"transport=tcp|traddr=localhost|kato=31|dhchap-ctrl-secret=DHHC-1:00:a/b/c:|dhchap-secret=DHHC-1:00:d/e/:", ""},
		// quirk 3: the padded secret survives (Python: lost).
		{"transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc=:", "transport=tcp|traddr=1.1.1.1|dhchap-secret=DHHC-1:01:abc=:", ""},
		// A comma-separated entry is one token; its transport is then refused (Python: {}).
		{"transport=tcp,traddr=1.1.1.1", "transport=tcp,traddr=1.1.1.1", ""},
		{"Transport=TCP;TRADDR=1.1.1.1", "Transport=TCP|TRADDR=1.1.1.1", ""},
		{"transport=tcp;transport=rdma", "transport=rdma", ""},
		{"nqn=a;subsysnqn=b", "subsysnqn=b", ""},
		{"=x;a=", "a=", "=x"},
	}
	for _, tt := range tests {
		params, _, _, bad := splitEntry(tt.in)
		var badRaw []string
		for _, b := range bad {
			badRaw = append(badRaw, b.raw)
		}
		if got := paramsString(params); got != tt.params {
			t.Errorf("splitEntry(%q) = %q, want %q", tt.in, got, tt.params)
		}
		if got := strings.Join(badRaw, "|"); got != tt.bad {
			t.Errorf("splitEntry(%q) bad tokens %q, want %q", tt.in, got, tt.bad)
		}
	}
}

func parseOne(t *testing.T, d Daemon, text string) (Controller, bool, []Problem) {
	t.Helper()
	probs := &problemList{file: "/etc/stas/" + d.String() + ".conf"}
	c, ok := parseController(d, text, 7, probs)
	for _, p := range probs.list {
		if p.Line != 7 || p.Section != SectionControllers || p.Key != keyController || p.File == "" {
			t.Errorf("problem %q does not name file, line 7, section and key: %+v", p, p)
		}
	}
	return c, ok, probs.list
}

func TestParseControllerVectors(t *testing.T) {
	c, ok, probs := parseOne(t, Stafd, " transport = tcp ; traddr = localhost ; ; ; kato=31; dhchap-ctrl-secret=DHHC-1:00:a/b/c: ; dhchap-secret=DHHC-1:00:d/e/:")
	want := Controller{Line: 7, Transport: "tcp", Traddr: "localhost", Trsvcid: DiscoveryPort, Subsysnqn: nqn.WellKnownDiscovery,
		DHCHAPCtrlSecret: "DHHC-1:00:a/b/c:", DHCHAPSecret: "DHHC-1:00:d/e/:", Options: ConnectionOptions{KATO: Some(31)}}
	if !ok || !controllerEqual(c, want) {
		t.Errorf("got %#v ok=%v, want %#v\n%s", c, ok, want, dumpProblems(probs))
	}

	c, ok, _ = parseOne(t, Stacd, "transport=tcp;traddr=1.1.1.1;dhchap-secret=DHHC-1:01:abc=:;nqn=nqn.x")
	if !ok || c.DHCHAPSecret.Reveal() != "DHHC-1:01:abc=:" {
		t.Errorf("quirk 3: secret %q ok=%v", c.DHCHAPSecret.Reveal(), ok)
	}

	for _, in := range []string{"", "noequalsign", "key=val=extra", "transport=tcp,traddr=1.1.1.1", "Transport=TCP;TRADDR=1.1.1.1", "transport=tcp;transport=rdma"} {
		if c, ok, probs := parseOne(t, Stafd, in); ok {
			t.Errorf("parseController(%q) = %v, want dropped", in, c)
		} else if len(probs) == 0 {
			t.Errorf("parseController(%q) dropped without a problem", in)
		}
	}

	_, _, probs = parseOne(t, Stafd, "transport=tcp;noequalsign;traddr=10.10.10.10")
	wantProblem(t, probs, slog.LevelError, 7, SectionControllers, "controller", `"noequalsign": not a key=value pair`)
	_, _, probs = parseOne(t, Stafd, "transport=tcp;transport=rdma;traddr=1.2.3.4")
	wantProblem(t, probs, slog.LevelWarn, 7, SectionControllers, "controller", `"transport" given more than once`)
	_, _, probs = parseOne(t, Stafd, "Transport=TCP;TRADDR=1.1.1.1")
	wantProblem(t, probs, slog.LevelWarn, 7, SectionControllers, "controller", "did you mean transport?")
	_, _, probs = parseOne(t, Stafd, "transport=tcp,traddr=1.1.1.1")
	wantProblem(t, probs, slog.LevelError, 7, SectionControllers, "controller", `separated by ";", not ","`)
}

// TestDefaultPorts: quirk 5 fixed (a TCP I/O controller without trsvcid gets 4420, not
// 8009); discovery controllers get 8009; rdma gets 4420 in both daemons.
func TestDefaultPorts(t *testing.T) {
	tests := []struct {
		d    Daemon
		in   string
		port string
	}{
		{Stafd, "transport=tcp;traddr=1.2.3.4", "8009"},
		{Stacd, "transport=tcp;traddr=1.2.3.4;nqn=nqn.io", "4420"},
		{Stafd, "transport=rdma;traddr=1.2.3.4", "4420"},
		{Stacd, "transport=rdma;traddr=1.2.3.4;nqn=nqn.io", "4420"},
		{Stacd, "transport=tcp;traddr=1.2.3.4;nqn=nqn.io;trsvcid=08010", "8010"},
	}
	for _, tt := range tests {
		c, ok, probs := parseOne(t, tt.d, tt.in)
		if !ok || c.Trsvcid != tt.port {
			t.Errorf("%v %q: trsvcid %q ok=%v, want %q\n%s", tt.d, tt.in, c.Trsvcid, ok, tt.port, dumpProblems(probs))
		}
	}
}

// TestFCAndLoop: quirk 4 fixed. Manually configured fc and loop controllers are kept; they
// have no trsvcid.
func TestFCAndLoop(t *testing.T) {
	c, ok, probs := parseOne(t, Stacd, "transport=fc;traddr=nn-0x1000000044001123:pn-0x2000000055001123;host-traddr=nn-0x1:pn-0x2;nqn=nqn.fc;trsvcid=99")
	if !ok || c.Trsvcid != "" || c.HostTraddr != "nn-0x1:pn-0x2" {
		t.Fatalf("fc: %#v ok=%v\n%s", c, ok, dumpProblems(probs))
	}
	wantProblem(t, probs, slog.LevelWarn, 7, SectionControllers, "controller", "fc has no trsvcid")
	if got := c.String(); got != "(fc, nn-0x1000000044001123:pn-0x2000000055001123, , nqn.fc, nn-0x1:pn-0x2)" {
		t.Errorf("String = %q", got)
	}

	c, ok, probs = parseOne(t, Stacd, "transport=loop;nqn=nqn.loop")
	if !ok || c.Traddr != "" || c.Trsvcid != "" {
		t.Fatalf("loop: %#v ok=%v\n%s", c, ok, dumpProblems(probs))
	}
	if _, ok, _ := parseOne(t, Stafd, "transport=fc;nqn=nqn.fc"); ok {
		t.Error("fc without traddr accepted")
	}
}

func TestControllerDropped(t *testing.T) {
	long := "nqn." + strings.Repeat("a", 230)
	tests := []struct {
		d          Daemon
		in, reason string
	}{
		{Stafd, "traddr=1.2.3.4", "no transport"},
		{Stafd, "transport=udp;traddr=1.2.3.4", `unknown transport "udp"`},
		{Stafd, "transport=tcp", "no traddr"},
		{Stacd, "transport=tcp;traddr=1.2.3.4", "no subsysnqn"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;nqn=" + long, "subsysnqn: invalid NQN"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;nqn=nqn.a b", "subsysnqn: invalid NQN"},
		{Stafd, "transport=tcp;traddr=[2001:db8::1]", "without brackets"},
		{Stafd, "transport=tcp;traddr=host name", "neither an IP address nor a host name"},
		{Stafd, "transport=fc;traddr=nn-1 pn-2", "contains a space, a comma or a control character"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;trsvcid=http", "not a port number"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;trsvcid=0", "not a port number"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;trsvcid=65536", "not a port number"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;host-traddr=eth0", "host-traddr \"eth0\" is not an IP address"},
		{Stafd, "transport=fc;traddr=nn-1:pn-2;host-traddr=a\x01b", "host-traddr \"a\\x01b\" contains"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;host-iface=a/b", "not a valid interface name"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;host-iface=abcdefghijklmnop", "not a valid interface name"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;host-iface=..", "not a valid interface name"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;host-nqn=qnq.x", "host-nqn: invalid NQN"},
		{Stafd, "transport=tcp;traddr=1.2.3.4;dhchap-secret=secret", "dhchap-secret: not a DH-HMAC-CHAP secret"},
		{Stacd, "transport=tcp;traddr=1.2.3.4;nqn=n;dhchap-ctrl-secret=DHHC-1:05:abc:", "dhchap-ctrl-secret: not a DH-HMAC-CHAP secret"},
	}
	for _, tt := range tests {
		c, ok, probs := parseOne(t, tt.d, tt.in)
		if ok {
			t.Errorf("%q accepted: %#v", tt.in, c)
			continue
		}
		p := wantProblem(t, probs, slog.LevelError, 7, SectionControllers, "controller", tt.reason)
		if p.Used != "entry dropped" {
			t.Errorf("%q: used %q", tt.in, p.Used)
		}
		if strings.Contains(p.String(), "DHHC-1:05:abc:") || strings.Contains(p.String(), "=secret") {
			t.Errorf("problem shows a secret: %s", p)
		}
	}
}

// TestOverrides: quirk 6 fixed. Every connection option is validated in an entry like in
// [Global]; an invalid one is dropped (never kept as text) so the [Global] value applies.
func TestOverrides(t *testing.T) {
	for _, f := range connFields {
		good, bad := "true", "maybe"
		if f.integer != nil {
			good, bad = fmt.Sprint(max(f.lo, 16)), fmt.Sprint(f.lo-1)
		}
		text := "transport=tcp;traddr=1.2.3.4;" + f.name + "=" + good
		c, ok, probs := parseOne(t, Stafd, text)
		if !ok || f.show(&c.Options) != good || len(probs) != 0 {
			t.Errorf("%s=%s: options %+v ok=%v\n%s", f.name, good, c.Options, ok, dumpProblems(probs))
		}
		text = "transport=tcp;traddr=1.2.3.4;" + f.name + "=" + bad
		c, ok, probs = parseOne(t, Stafd, text)
		if !ok || c.Options != (ConnectionOptions{}) {
			t.Errorf("%s=%s: options %+v ok=%v", f.name, bad, c.Options, ok)
		}
		wantProblem(t, probs, slog.LevelWarn, 7, SectionControllers, "controller", f.name+": ")
	}

	// [Global]-only options: validated and kept normalised as extras; bad ones dropped.
	c, ok, probs := parseOne(t, Stafd, "transport=tcp;traddr=1.2.3.4;tron=TRUE;pleo=Disabled;ip-family=ipv6;ignore-iface=false;vendor=acme;pleo2=x")
	if !ok {
		t.Fatal("dropped")
	}
	wantExtra := []Param{{"tron", "true"}, {"pleo", "disabled"}, {"ip-family", "ipv6"}, {"ignore-iface", "false"}, {"vendor", "acme"}, {"pleo2", "x"}}
	if !slices.Equal(c.Extra, wantExtra) {
		t.Errorf("extra %v, want %v", c.Extra, wantExtra)
	}
	wantProblem(t, probs, slog.LevelWarn, 7, SectionControllers, "controller", `unknown key "vendor"`)
	_, _, probs = parseOne(t, Stafd, "transport=tcp;traddr=1.2.3.4;tron=1;pleo=on;ip-family=IPv6")
	for _, k := range []string{"tron", "pleo", "ip-family"} {
		wantProblem(t, probs, slog.LevelWarn, 7, SectionControllers, "controller", k+": ")
	}
}

func TestControllerAccessors(t *testing.T) {
	const secret = "DHHC-1:01:c2VjcmV0:"
	c, ok, probs := parseOne(t, Stacd, "transport=tcp;traddr=FE80::1%eth0;trsvcid=4421;nqn=nqn.sub;host-traddr=fe80::2;host-iface=eth0;host-nqn=nqn.host;dhchap-secret="+secret+";kato=10;extra=1")
	if !ok {
		t.Fatalf("dropped:\n%s", dumpProblems(probs))
	}
	want := map[string]string{
		"transport": "tcp", "traddr": "FE80::1%eth0", "trsvcid": "4421", "subsysnqn": "nqn.sub", "host-traddr": "fe80::2",
		"host-iface": "eth0", "host-nqn": "nqn.host", "dhchap-secret": secret, "kato": "10", "extra": "1",
	}
	if got := c.Fields(); !maps.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	want["dhchap-secret"] = RedactedSecret
	if got := c.DisplayFields(); !maps.Equal(got, want) {
		t.Errorf("DisplayFields = %v", got)
	}
	if got := c.String(); got != "(tcp, FE80::1%eth0, 4421, nqn.sub, eth0, fe80::2)" {
		t.Errorf("String = %q", got)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "c2VjcmV0") {
		t.Errorf("formatting leaks the secret: %s", s)
	}
	eff := c.EffectiveOptions(ConnectionOptions{KATO: Some(30), CtrlLossTmo: Some(-1)})
	if eff != (ConnectionOptions{KATO: Some(10), CtrlLossTmo: Some(-1)}) {
		t.Errorf("EffectiveOptions = %+v", eff)
	}

	// Without host fields: present as "" (host-nqn absent), as nvme-stas's dictionary.
	c, _, _ = parseOne(t, Stafd, "transport=tcp;traddr=1.2.3.4")
	f := c.Fields()
	if v, ok := f["host-iface"]; !ok || v != "" {
		t.Errorf("host-iface %q %v", v, ok)
	}
	if _, ok := f["host-nqn"]; ok {
		t.Error("host-nqn present without being given")
	}
	if c.String() != "(tcp, 1.2.3.4, 8009, nqn.2014-08.org.nvmexpress.discovery)" {
		t.Errorf("String = %q", c.String())
	}
}

func parseExcl(t *testing.T, text string) (Exclude, bool, []Problem) {
	t.Helper()
	probs := &problemList{file: "stafd.conf"}
	x, ok := parseExclude(text, 3, probs)
	for _, p := range probs.list {
		if p.Line != 3 || p.Section != SectionControllers || p.Key != keyExclude {
			t.Errorf("problem %q does not name line, section and key", p)
		}
	}
	return x, ok, probs.list
}

// TestExcludeParsing: quirk 1 fixed. An exclude entry is never "exclude everything", and
// never widened by losing a condition.
func TestExcludeParsing(t *testing.T) {
	rejected := []struct{ in, reason string }{
		{"", "would exclude every controller"},
		{"host-traddr=1.1.1.1", "would exclude every controller"},
		{"noequal;alsonot", "not a key=value pair"},
		{";;", "would exclude every controller"},
		{"transport=tcp;traddr 1.2.3.4", "not a key=value pair"},
		{"transport=tcp;kato=abc", "kato: not an integer"},
		{"=tcp", `no key before "="`},
	}
	for _, tt := range rejected {
		x, ok, probs := parseExcl(t, tt.in)
		if ok {
			t.Errorf("exclude %q accepted: %v", tt.in, x)
			continue
		}
		p := wantProblem(t, probs, slog.LevelError, 3, SectionControllers, "exclude", tt.reason)
		if p.Used != "exclude entry ignored" {
			t.Errorf("%q: used %q", tt.in, p.Used)
		}
	}

	x, ok, probs := parseExcl(t, "nqn=nqn.y;host-traddr=1.1.1.1;host-nqn=nqn.h;KATO=1;kato=030;hdr-digest=TRUE")
	if !ok {
		t.Fatalf("rejected:\n%s", dumpProblems(probs))
	}
	want := []Param{{"subsysnqn", "nqn.y"}, {"host-nqn", "nqn.h"}, {"KATO", "1"}, {"kato", "30"}, {"hdr-digest", "true"}}
	if !slices.Equal(x.Conditions, want) || x.Line != 3 {
		t.Errorf("conditions %v, want %v", x.Conditions, want)
	}
	wantProblem(t, probs, slog.LevelWarn, 3, SectionControllers, "exclude", `unknown key "KATO"`)
	if v, ok := x.Get("subsysnqn"); !ok || v != "nqn.y" {
		t.Errorf("Get(subsysnqn) = %q %v", v, ok)
	}
	if _, ok := x.Get("traddr"); ok {
		t.Error("Get(traddr) found")
	}

	x, _, _ = parseExcl(t, "dhchap-secret=DHHC-1:00:abc:;transport=tcp;transport=rdma")
	if x.String() != "dhchap-secret=(set);transport=rdma" {
		t.Errorf("String = %q", x.String())
	}
}

// TestExclusionMatching: §14.2 "Exclusion matching" plus IP normalisation (quirk 8 for
// exclusions).
func TestExclusionMatching(t *testing.T) {
	ex := func(kv ...string) Exclude {
		x := Exclude{}
		for i := 0; i < len(kv); i += 2 {
			x.Conditions = append(x.Conditions, Param{kv[i], kv[i+1]})
		}
		return x
	}
	ctrl := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	e1234 := ex("transport", "tcp", "traddr", "1.2.3.4")
	tests := []struct {
		name string
		list []Exclude
		c    map[string]string
		want bool
	}{
		{"empty list", nil, ctrl("transport", "tcp", "traddr", "1.2.3.4"), false},
		{"exact", []Exclude{e1234}, ctrl("transport", "tcp", "traddr", "1.2.3.4"), true},
		{"minimal", []Exclude{ex("transport", "tcp")}, ctrl("transport", "tcp", "traddr", "99.99.99.99"), true},
		{"other addr", []Exclude{e1234}, ctrl("transport", "tcp", "traddr", "5.5.5.5"), false},
		{"key missing", []Exclude{e1234}, ctrl("transport", "tcp"), false},
		{"either", []Exclude{ex("traddr", "9.9.9.9"), e1234}, ctrl("transport", "tcp", "traddr", "1.2.3.4"), true},
		{"none", []Exclude{ex("traddr", "9.9.9.9"), ex("transport", "rdma")}, ctrl("transport", "tcp", "traddr", "1.2.3.4"), false},
		{"empty entry never matches", []Exclude{{}}, ctrl("transport", "tcp"), false},
		{"v4-mapped", []Exclude{e1234}, ctrl("transport", "tcp", "traddr", "::ffff:1.2.3.4"), true},
		{"v6 case and compression", []Exclude{ex("traddr", "FE80::AAAA:0:0:1")}, ctrl("traddr", "fe80::aaaa:0:0:0001"), true},
		{"hostname exact", []Exclude{ex("traddr", "Host")}, ctrl("traddr", "host"), false},
		{"strings exact", []Exclude{ex("subsysnqn", "NQN.x")}, ctrl("subsysnqn", "nqn.x"), false},
		{"host-iface", []Exclude{ex("host-iface", "enp0s8")}, ctrl("transport", "tcp", "host-iface", "enp0s8"), true},
	}
	for _, tt := range tests {
		if got := Excluded(tt.list, tt.c); got != tt.want {
			t.Errorf("%s: Excluded = %v, want %v", tt.name, got, tt.want)
		}
	}

	// Configured controllers are matched through their Fields.
	c, _ := mustParse(t, Stafd, "[Controllers]\ncontroller=transport=tcp;traddr=::ffff:10.0.0.1;host-iface=eth1\nexclude=traddr=10.0.0.1;trsvcid=8009\n")
	if len(c.Controllers) != 1 || !c.Excluded(c.Controllers[0].Fields()) {
		t.Errorf("configured controller not excluded: %v %v", c.Controllers, c.Excludes)
	}
}

func TestValidators(t *testing.T) {
	for s, want := range map[string]bool{"localhost": true, "a.b-c_d": true, "1.2.3.4": true, "::1": true, "fe80::1%eth0": true,
		"": false, "a b": false, "a,b": false, strings.Repeat("a", 254): false, "fe80::1%a,b": false} {
		if got := validHostOrAddr(s); got != want {
			t.Errorf("validHostOrAddr(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"eth0": true, "enx78e7d1ea46da": true, "": false, ".": false, "a:b": false, "a b": false, "a\x7f": false} {
		if got := validIfaceName(s); got != want {
			t.Errorf("validIfaceName(%q) = %v", s, got)
		}
	}
}
