// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func TestCheckDLPE(t *testing.T) {
	ok := []map[string]string{
		dlpe("192.0.2.10", subA),
		dlpe("2001:db8::10", subA),
		dlpe("192.0.2.10", subA, "trtype", "rdma", "tsas", "{'prtype': 'not specified', 'qptype': 'connected', 'cms': 'rdma_cm', 'pkey': '0x0000'}"),
		dlpe("nn-0x1000000044001123:pn-0x2000000055001123", subA, "trtype", "fc", "trsvcid", "none", "tsas", ""),
		dlpe("", subA, "trtype", "loop", "trsvcid", "", "tsas", ""),
		dlpe("192.0.2.10", subA, "tsas", ""),                              // libnvme 1.3 has no tsas
		dlpe("192.0.2.10", subA, "treq", "not required"),                  // TLS optional
		dlpe("192.0.2.10", subA, "treq", "disable sqflow"),                // no secure channel word
		dlpe("192.0.2.10", "nqn.2014-08.org.nvmexpress:uuid:"+testHostID), // a UUID subsystem NQN
	}
	for _, d := range ok {
		if p := checkDLPE(d); p != "" {
			t.Errorf("%v refused: %s", d, p)
		}
	}
	bad := map[string]map[string]string{
		"host name":             dlpe("array.example", subA),
		"option injection":      dlpe("192.0.2.10,host_iface=eth0", subA),
		"empty traddr":          dlpe("", subA),
		"port zero":             dlpe("192.0.2.10", subA, "trsvcid", "0"),
		"port too big":          dlpe("192.0.2.10", subA, "trsvcid", "65536"),
		"port text":             dlpe("192.0.2.10", subA, "trsvcid", "nvme"),
		"no port":               dlpe("192.0.2.10", subA, "trsvcid", ""),
		"unknown transport":     dlpe("192.0.2.10", subA, "trtype", "pcie"),
		"numeric transport":     dlpe("192.0.2.10", subA, "trtype", "3"),
		"no NQN":                dlpe("192.0.2.10", ""),
		"NQN with a comma":      dlpe("192.0.2.10", subA+",hostnqn=x"),
		"NQN too long":          dlpe("192.0.2.10", "nqn.2014-08.org.example:"+strings.Repeat("x", 240)),
		"TLS required":          dlpe("192.0.2.10", subA, "treq", "required"),
		"TLS 1.3 sectype":       dlpe("192.0.2.10", subA, "tsas", "{'sectype': 'tls13'}"),
		"unknown tcp sectype":   dlpe("192.0.2.10", subA, "tsas", "{'sectype': '3'}"),
		"control char in NQN":   dlpe("192.0.2.10", subA+"\n"),
		"TLS required over fc?": dlpe("nn-0x1:pn-0x2", subA, "trtype", "fc", "treq", "required"),
	}
	for name, d := range bad {
		if p := checkDLPE(d); p == "" {
			t.Errorf("%s: %v accepted", name, d)
		}
	}
}

// pagesService is a service that has taken one answer from stafd.
func pagesService(t *testing.T, conf string, answerText string, opts func(*Options)) *Service {
	t.Helper()
	r := newRig(t, conf, opts)
	pages, err := parseAllLogPages(answerText)
	if err != nil {
		t.Fatal(err)
	}
	r.svc.takePages(pages)
	return r.svc
}

func TestEntriesInheritTheDCsHostFields(t *testing.T) {
	dc := tid.New(tid.TID{Transport: tid.TCP, Traddr: "198.51.100.2", SubsysNQN: "nqn.2014-08.org.example:cdc",
		HostTraddr: "198.51.100.1", HostIface: "eth2", HostNQN: otherHostNQN}, tid.Discovery, false)
	noNQN := tid.New(tid.TID{Transport: tid.TCP, Traddr: "203.0.113.2", SubsysNQN: nqn.WellKnownDiscovery}, tid.Discovery, false)
	s := pagesService(t, "", answer(
		known(dc,
			dlpe("198.51.100.10", subA),
			dlpe("198.51.100.11", subB, "subtype", "referral"),  // another DC: stafd's business
			dlpe("198.51.100.12", subB, "subtype", "discovery"), // the DC itself
			dlpe("198.51.100.13", subC, "trsvcid", "4421", "eflags", "4"),
		),
		known(noNQN, dlpe("203.0.113.10", subA)),
	), nil)
	w := s.wanted()
	a := tid.TID{Transport: "tcp", Traddr: "198.51.100.10", Trsvcid: "4420", SubsysNQN: subA, HostTraddr: "198.51.100.1",
		HostIface: "eth2", HostNQN: otherHostNQN}
	c := tid.TID{Transport: "tcp", Traddr: "198.51.100.13", Trsvcid: "4421", SubsysNQN: subC, HostTraddr: "198.51.100.1",
		HostIface: "eth2", HostNQN: otherHostNQN}
	d := tid.TID{Transport: "tcp", Traddr: "203.0.113.10", Trsvcid: "4420", SubsysNQN: subA, HostNQN: testHostNQN}
	if len(w) != 3 || w[a] == nil || w[c] == nil || w[d] == nil {
		t.Fatalf("wanted = %v; want %v, %v and %v", keys(w), a, c, d)
	}
	if w[a].ncc || !w[c].ncc || w[a].dc != dc || w[d].dc != noNQN {
		t.Errorf("ncc %v/%v, dc %v/%v", w[a].ncc, w[c].ncc, w[a].dc, w[d].dc)
	}
	if w[a].reason != "inherited from the discovery controller" {
		t.Errorf("reason %q without a chooser", w[a].reason)
	}
}

func keys(w map[tid.TID]*want) []string {
	var out []string
	for t := range w {
		out = append(out, t.String())
	}
	return out
}

func TestHostileAndTLSEntriesSkipped(t *testing.T) {
	s := pagesService(t, "", answer(known(dcTID,
		dlpe("192.0.2.10", subA),
		dlpe("192.0.2.11,host_iface=lo", subA),
		dlpe("array.example", subA),
		dlpe("192.0.2.12", "nqn.bad nqn"),
		dlpe("192.0.2.13", subA, "treq", "required"),
		dlpe("192.0.2.14", subA, "tsas", "{'sectype': 'tls13'}"),
		dlpe("192.0.2.15", subA, "trtype", "tcp; rm -rf /"),
		dlpe("192.0.2.16", subA, "trsvcid", "-1"),
	)), nil)
	w := s.wanted()
	if len(w) != 1 || w[iocOf("192.0.2.10", subA)] == nil {
		t.Errorf("wanted = %v, want only the one valid entry", keys(w))
	}
}

func TestConfiguredControllers(t *testing.T) {
	conf := `[Global]
ip-family = ipv4
[Controllers]
controller = transport=tcp;traddr=192.0.2.20;nqn=` + subA + `
controller = transport=tcp;traddr=192.0.2.21;nqn=` + subB + `;host-iface=eth3
controller = transport=tcp;traddr=2001:db8::22;nqn=` + subA + `
controller = transport=tcp;traddr=192.0.2.23;nqn=` + subC + `
controller = transport=tcp;traddr=192.0.2.24
controller = transport=fc;traddr=nn-0x1000000044001123:pn-0x2000000055001123;host-traddr=nn-0x1:pn-0x2;nqn=` + subA + `
controller = transport=tcp;traddr=array.example;nqn=` + subC + `
controller = transport=tcp;traddr=gone.example;nqn=` + subC + `
controller = transport=tcp;traddr=v6only.example;nqn=` + subC + `
exclude = traddr=192.0.2.23
exclude = traddr=array.example;subsysnqn=nothing
`
	r := newRig(t, conf, nil)
	s := r.svc
	s.resolver.Lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "array.example":
			return []netip.Addr{netip.MustParseAddr("2001:db8::30"), netip.MustParseAddr("192.0.2.30")}, nil
		case "v6only.example":
			return []netip.Addr{netip.MustParseAddr("2001:db8::31")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if w := s.wanted(); !s.resolving || len(w) != 3 {
		t.Errorf("host names without an answer yet: resolving %v, wanted %v; want the pass marked and the three others", s.resolving, keys(w))
	}
	for range 3 {
		s.resolver.Take(<-s.resolver.Results())
	}
	w := s.wanted()
	if s.resolving {
		t.Error("every host name has its answer: still resolving")
	}
	want := map[tid.TID]string{
		{Transport: "tcp", Traddr: "192.0.2.20", Trsvcid: "4420", SubsysNQN: subA, HostNQN: testHostNQN}:                                             "configured",
		{Transport: "tcp", Traddr: "192.0.2.21", Trsvcid: "4420", SubsysNQN: subB, HostIface: "eth3", HostNQN: testHostNQN}:                          "configured host-iface",
		{Transport: "fc", Traddr: "nn-0x1000000044001123:pn-0x2000000055001123", SubsysNQN: subA, HostTraddr: "nn-0x1:pn-0x2", HostNQN: testHostNQN}: "configured",
		{Transport: "tcp", Traddr: "192.0.2.30", Trsvcid: "4420", SubsysNQN: subC, HostNQN: testHostNQN}:                                             "configured",
	}
	if len(w) != len(want) {
		t.Errorf("wanted = %v", keys(w))
	}
	for k, reason := range want {
		if w[k] == nil || w[k].conf == nil || w[k].reason != reason {
			t.Errorf("%v: %+v, want configured with reason %q", k, w[k], reason)
		}
	}

	// The same subsystem listed by a DC bound to eth1 is another controller than the
	// configured one without host-iface: both are wanted.
	pages, err := parseAllLogPages(answer(known(dcTID, dlpe("192.0.2.20", subA, "eflags", "4"))))
	if err != nil {
		t.Fatal(err)
	}
	s.takePages(pages)
	listed := tid.TID{Transport: "tcp", Traddr: "192.0.2.20", Trsvcid: "4420", SubsysNQN: subA, HostIface: "eth1", HostNQN: testHostNQN}
	configured := tid.TID{Transport: "tcp", Traddr: "192.0.2.20", Trsvcid: "4420", SubsysNQN: subA, HostNQN: testHostNQN}
	w = s.wanted()
	if w[listed] == nil || w[listed].conf != nil || !w[listed].ncc || w[configured] == nil || w[configured].conf == nil || w[configured].entry != nil {
		t.Errorf("listed %+v, configured %+v", w[listed], w[configured])
	}
}

func TestConfiguredAndListedSameController(t *testing.T) {
	conf := "[Global]\nignore-iface = true\n[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.20;nqn=" + subA + ";kato=17\n"
	s := pagesService(t, conf, answer(known(dcTID, dlpe("192.0.2.20", subA, "eflags", "4"))), nil)
	w := s.wanted()
	if len(w) != 1 {
		t.Fatalf("wanted = %v", keys(w))
	}
	for k, v := range w {
		if v.conf == nil || v.entry == nil || !v.ncc || v.dc != dcTID || k.HostIface != "" {
			t.Errorf("%v: %+v; want the configuration and the entry together", k, v)
		}
	}
}

func TestExcludedAndRefusedEntries(t *testing.T) {
	conf := `[Global]
ip-family = ipv6
[Controllers]
exclude = subsysnqn=` + subB + `
exclude = host-iface=eth9
`
	s := pagesService(t, conf, answer(known(dcTID,
		dlpe("2001:db8::10", subA),
		dlpe("2001:db8::11", subB),
		dlpe("192.0.2.10", subA),
	)), nil)
	w := s.wanted()
	if len(w) != 1 || w[iocOf("2001:db8::10", subA)] == nil {
		t.Errorf("wanted = %v; want only the IPv6 entry not excluded", keys(w))
	}
	for _, c := range []struct {
		t    tid.TID
		want string
	}{
		{tid.TID{Transport: "tcp", Traddr: "192.0.2.1"}, "its address family is disabled by ip-family"},
		{tid.TID{Transport: "tcp", Traddr: "x"}, "traddr is not an IP address"},
		{tid.TID{Transport: "pcie", Traddr: "0000:00:01.0"}, "invalid transport pcie"},
		{tid.TID{Transport: "tcp", Traddr: "2001:db8::1", HostIface: "eth9"}, "excluded"},
		{tid.TID{Transport: "fc", Traddr: "nn-0x1:pn-0x2"}, ""},
	} {
		if got := s.cfg.Refuse(c.t); got != c.want {
			t.Errorf("refuse(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

// An entry keeps the controller (and so the interface) it was given while it stays
// listed; its new eflags are taken. A DC stafd lists but does not know now keeps its
// entries; a DC it no longer lists loses them.
func TestTakePagesKeepsAndReplaces(t *testing.T) {
	ch := &fakeChooser{iface: "eth5"}
	s := pagesService(t, "", answer(known(dcTID, dlpe("192.0.2.10", subA))), func(o *Options) { o.Chooser = ch })
	first := s.pages[dcTID].entries
	if len(first) != 1 || first[0].TID.HostIface != "eth5" || ch.callCount() != 1 || !s.fresh {
		t.Fatalf("first answer: %+v, %d chooser calls, fresh %v", first, ch.callCount(), s.fresh)
	}
	ch.set("eth6")
	take := func(text string) {
		t.Helper()
		pages, err := parseAllLogPages(text)
		if err != nil {
			t.Fatal(err)
		}
		s.takePages(pages)
	}
	take(answer(known(dcTID, dlpe("192.0.2.10", subA, "eflags", "4"), dlpe("192.0.2.11", subB))))
	got := s.pages[dcTID].entries
	if len(got) != 2 || got[0].TID != first[0].TID || !got[0].ncc() || got[1].TID.HostIface != "eth6" || ch.callCount() != 2 {
		t.Errorf("second answer: %+v, %d chooser calls", got, ch.callCount())
	}
	take(answer(dcAnswer{tid: dcTID, connected: false}))
	if p := s.pages[dcTID]; len(p.entries) != 2 || p.known || s.fresh {
		t.Errorf("DC not connected: %+v, fresh %v; want its entries kept, not known", p, s.fresh)
	}
	take(answer(dcAnswer{tid: dcTID, connected: true, logOp: opRunning}))
	if p := s.pages[dcTID]; len(p.entries) != 2 || s.fresh {
		t.Errorf("DC reading its log page: %+v; want its entries kept", p)
	}
	take(answer(known(dcTID)))
	if p := s.pages[dcTID]; len(p.entries) != 0 || !p.known || !s.fresh {
		t.Errorf("DC with an empty page: %+v", p)
	}
	take(answer(known(dcTID, dlpe("192.0.2.10", subA))))
	take(`[]`)
	if len(s.pages) != 0 || !s.fresh {
		t.Errorf("DC no longer listed: %v", s.pages)
	}
	// A DC first seen while not known, with stafd's cached entries: they are used.
	take(answer(dcAnswer{tid: dcTID, connected: false, entries: []map[string]string{dlpe("192.0.2.12", subC)}}))
	if p := s.pages[dcTID]; len(p.entries) != 1 || p.known {
		t.Errorf("new DC not connected, with cached entries: %+v", p)
	}
}
