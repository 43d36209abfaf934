// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// kernelTokens checks s against the kernel's option patterns the way nvmf_parse_options
// reads it (split on ',' and '\n', match_token per item) and returns name → value ("" for
// flags). It fails the test on any item that no pattern matches, on a repeated option and
// when nqn= is not first.
func kernelTokens(t *testing.T, s string) map[string]string {
	t.Helper()
	if strings.ContainsAny(s, "\n\x00") {
		t.Fatalf("option string %q holds a newline or NUL", s)
	}
	got := map[string]string{}
	for i, item := range strings.Split(s, ",") {
		name, value, hasValue := strings.Cut(item, "=")
		sp, known := specs[name]
		switch {
		case !known:
			t.Fatalf("item %q of %q is no kernel option", item, s)
		case sp.kind == kindFlag && hasValue:
			t.Fatalf("flag item %q of %q has a value", item, s)
		case sp.kind != kindFlag && (!hasValue || value == ""):
			t.Fatalf("item %q of %q lacks a value", item, s)
		case sp.kind == kindInt:
			if _, err := strconv.ParseInt(value, 0, 32); err != nil { // match_int: base 0, int
				t.Fatalf("item %q of %q is not %%d", item, s)
			}
		case sp.kind == kindText && name != OptDHCHAPSecret && name != OptDHCHAPCtrlSecret && strings.Contains(value, "="):
			t.Fatalf("item %q of %q has '=' in its value", item, s)
		}
		if _, dup := got[name]; dup {
			t.Fatalf("option %s repeated in %q", name, s)
		}
		if i == 0 && name != OptNQN {
			t.Fatalf("%q does not start with nqn=", s)
		}
		got[name] = value
	}
	return got
}

// expectedTokens says which options a successful Build of o must write, and checks each
// value against the field it came from.
func expectedTokens(t *testing.T, o Options, got map[string]string) {
	t.Helper()
	disc := o.Discovery || o.SubsysNQN == nqn.WellKnownDiscovery
	set := func(s string) bool { return s != "" && s != "none" }
	text := map[string]string{
		OptNQN: o.SubsysNQN, OptTransport: string(o.Transport), OptTrAddr: o.TrAddr, OptTrSvcID: o.TrSvcID,
		OptHostNQN: o.HostNQN, OptHostID: o.HostID, OptHostTrAddr: o.HostTrAddr, OptHostIface: o.HostIface,
		OptDHCHAPSecret: o.DHCHAPSecret, OptDHCHAPCtrlSecret: o.DHCHAPCtrlSecret,
	}
	nums := map[string]Int{
		OptQueueSize: o.QueueSize, OptNrIOQueues: o.NrIOQueues, OptNrWriteQueues: o.NrWriteQueues,
		OptNrPollQueues: o.NrPollQueues, OptKeepAliveTmo: o.KeepAliveTmo, OptReconnectDelay: o.ReconnectDelay,
		OptCtrlLossTmo: o.CtrlLossTmo, OptFastIOFailTmo: o.FastIOFailTmo, OptTOS: o.TOS, OptKeyring: o.Keyring, OptTLSKey: o.TLSKey,
	}
	flags := map[string]bool{
		OptDiscovery: o.Discovery && o.SubsysNQN != nqn.WellKnownDiscovery, OptDuplicateConnect: o.DuplicateConnect,
		OptDisableSQFlow: o.DisableSQFlow, OptHdrDigest: o.HdrDigest, OptDataDigest: o.DataDigest, OptTLS: o.TLS, OptConcat: o.Concat,
	}
	notForDiscovery := map[string]bool{
		OptQueueSize:  true,
		OptNrIOQueues: true, OptNrWriteQueues: true, OptNrPollQueues: true,
	}
	want := 0
	check := func(name string, isSet bool) {
		if disc && notForDiscovery[name] {
			isSet = false
		}
		if name == OptTrSvcID && o.Transport == TransportTCP {
			isSet = true // filled in by Build
		}
		_, present := got[name]
		if present != isSet {
			t.Fatalf("option %s: present=%v, set=%v; options %+v", name, present, isSet, o)
		}
		if isSet {
			want++
		}
	}
	for name, v := range text {
		check(name, set(v))
		gv, ok := got[name]
		if !ok || !set(v) {
			continue
		}
		switch name {
		case OptTrAddr, OptHostTrAddr:
			if o.Transport == TransportTCP || o.Transport == TransportRDMA {
				if netip.MustParseAddr(gv) != netip.MustParseAddr(v) {
					t.Fatalf("%s written as %q from %q", name, gv, v)
				}
				continue
			}
		case OptTrSvcID:
			if a, b := strings.TrimLeft(gv, "0"), strings.TrimLeft(v, "0"); a != b {
				t.Fatalf("trsvcid written as %q from %q", gv, v)
			}
			continue
		case OptHostID:
			if !strings.EqualFold(gv, v) {
				t.Fatalf("hostid written as %q from %q", gv, v)
			}
			continue
		}
		if gv != v {
			t.Fatalf("%s written as %q from %q", name, gv, v)
		}
	}
	for name, v := range nums {
		check(name, v.set)
		if gv, ok := got[name]; ok {
			n, _ := strconv.ParseInt(gv, 0, 64)
			if int(n) != v.value {
				t.Fatalf("%s written as %q from %d", name, gv, v.value)
			}
		}
	}
	for name, v := range flags {
		check(name, v)
	}
	if len(got) != want {
		t.Fatalf("wrote %d options, want %d: %v", len(got), want, got)
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("tcp", "192.0.2.9", "", testSubNQN, testHostNQN, testHostID, "", "eth0", "", "", uint32(0), uint32(0), 30, 600, 4, -1)
	f.Add("tcp", "192.168.1.10", "8009", nqn.WellKnownDiscovery, testHostNQN, testHostID, "", "eth0", "", "", uint32(0x3), uint32(0), 30, 600, 4, -1)
	f.Add("tcp", "fe80::1", "4420", "nqn.x", testHostNQN, testHostID, "fe80::2", "eth1", specSecret, makeSecret("01", 32), uint32(0x7ff), uint32(0x3f), 16, 0, 1, 255)
	f.Add("tcp", "192.0.2.9,host_iface=eth9", "4420", testSubNQN, testHostNQN, testHostID, "", "", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
	f.Add("rdma", "2001:db8::1", "4420", testSubNQN, "", "", "2001:db8::2", "", "", "", uint32(0x1ff), uint32(0x3), 64, 5, 2, 10)
	f.Add("fc", "nn-0x20000090fa942779:pn-0x10000090fa942779", "", testSubNQN, "", "", "nn-20000090fa942780:pn-10000090fa942780", "", "", "", uint32(0x60), uint32(0), 1, 1, 1, 1)
	f.Add("loop", "", "", "testnqn", testHostNQN, "", "", "", specSecret, "", uint32(0x3), uint32(0x4), 32, 2, 0, 0)
	f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN, testHostID, "", "", specSecret, "", uint32(0), uint32(0x40), 0, 0, 0, 0)
	// One injection attempt per text field, so that a validator that stops refusing ',',
	// '=' or a newline fails on the seeds already.
	for _, bad := range []string{",tos=0", ",hdr_digest", "\nduplicate_connect", "=x", "\x00", " "} {
		f.Add("tcp", "192.0.2.9"+bad, "4420", testSubNQN, testHostNQN, testHostID, "", "eth0", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420"+bad, testSubNQN, testHostNQN, testHostID, "", "eth0", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN+bad, testHostNQN, testHostID, "", "eth0", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN+bad, testHostID, "", "eth0", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN, testHostID+bad, "", "eth0", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN, testHostID, "192.0.2.1"+bad, "eth0", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN, testHostID, "", "eth0"+bad, "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN, testHostID, "", "eth0", specSecret+bad, "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp", "192.0.2.9", "4420", testSubNQN, testHostNQN, testHostID, "", "eth0", specSecret, specSecret+bad, uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("loop", "port1"+bad, "", testSubNQN, "", "", "", "", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("fc", "nn-0x20000090fa942779:pn-0x10000090fa942779"+bad, "", testSubNQN, "", "", "nn-20000090fa942780:pn-10000090fa942780", "", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
		f.Add("tcp"+bad, "192.0.2.9", "4420", testSubNQN, "", "", "", "", "", "", uint32(0), uint32(0), 0, 0, 0, 0)
	}
	f.Fuzz(func(t *testing.T, transport, traddr, trsvcid, subnqn, hostnqn, hostid, hostTraddr, hostIface, secret, ctrlSecret string,
		intMask, flagMask uint32, a, b, c, d int) {
		vals := []int{a, b, c, d}
		num := func(i int) Int {
			if intMask&(1<<i) == 0 {
				return Int{}
			}
			return IntOf(vals[i%len(vals)])
		}
		o := Options{
			Transport: Transport(transport), TrAddr: traddr, TrSvcID: trsvcid, SubsysNQN: subnqn, HostNQN: hostnqn,
			HostID: hostid, HostTrAddr: hostTraddr, HostIface: hostIface, DHCHAPSecret: secret, DHCHAPCtrlSecret: ctrlSecret,
			QueueSize: num(0), NrIOQueues: num(1), NrWriteQueues: num(2), NrPollQueues: num(3), KeepAliveTmo: num(4),
			ReconnectDelay: num(5), CtrlLossTmo: num(6), FastIOFailTmo: num(7), TOS: num(8), Keyring: num(9), TLSKey: num(10),
			Discovery: flagMask&1 != 0, DuplicateConnect: flagMask&2 != 0, DisableSQFlow: flagMask&4 != 0,
			HdrDigest: flagMask&8 != 0, DataDigest: flagMask&16 != 0, TLS: flagMask&32 != 0, Concat: flagMask&64 != 0,
		}
		s, omitted, err := o.Build(AllKnown())
		if err != nil {
			var oe *OptionError
			if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidOption) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is no OptionError wrapping a sentinel", err)
			}
			if !utf8.ValidString(err.Error()) { // values are quoted, so logs stay clean
				t.Fatalf("error message is not UTF-8: %q", err.Error())
			}
			for _, sec := range []string{secret, ctrlSecret} {
				if len(sec) >= 20 && strings.Contains(err.Error(), sec) {
					t.Fatalf("error quotes a secret: %v", err)
				}
			}
			return
		}
		if len(omitted) != 0 {
			t.Fatalf("AllKnown omitted %v", omitted)
		}
		if len(s) > MaxOptionsLen {
			t.Fatalf("option string of %d bytes", len(s))
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c >= 0x7f {
				t.Fatalf("option string %q has byte %#x", s, c)
			}
		}
		expectedTokens(t, o, kernelTokens(t, s))
		// Building is deterministic.
		if s2, _, _ := o.Build(AllKnown()); s2 != s {
			t.Fatalf("Build not deterministic: %q vs %q", s, s2)
		}
	})
}

func FuzzParseSupported(f *testing.F) {
	f.Add([]byte(kernelLine))
	f.Add([]byte(stasFixture))
	f.Add([]byte("instance=-1,cntlid=-1\n"))
	f.Add([]byte("transport %s,,\n\nnqn"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSupported(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		names := s.Names()
		if len(names) == 0 {
			t.Fatal("success with no names")
		}
		for _, n := range names {
			if !isOptionName(n) || n == "instance" || n == "cntlid" || !strings.Contains(string(data), n) || !s.Has(n) {
				t.Fatalf("name %q not from input %q", n, data)
			}
		}
		// Whatever the kernel lists, Build never writes an option it does not list.
		out, _, err := dcOptions().Build(s)
		if err == nil {
			for name := range kernelTokens(t, out) {
				if !s.Has(name) {
					t.Fatalf("Build wrote %s, which %q does not list", name, data)
				}
			}
		} else if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Build with parsed set: %v", err)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	f.Add("traddr=192.168.1.10,trsvcid=8009,host_iface=eth0,src_addr=192.168.1.2\n")
	f.Add("traddr=2001:db8::1,trsvcid=4420,host_traddr=2001:db8::2\n")
	f.Add("0000:01:00.0\n")
	f.Add("\n")
	f.Add("traddr=1,,x=a=b,trsvcid=")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotFabrics) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		for _, v := range []string{a.TrAddr, a.TrSvcID, a.HostTrAddr, a.HostIface, a.SrcAddr} {
			if strings.Contains(v, ",") || !strings.Contains(s, v) {
				t.Fatalf("value %q not an item of %q", v, s)
			}
		}
		for k, v := range a.Extra {
			if k == "" || strings.ContainsAny(k, ",=") || !strings.Contains(s, k+"="+v) {
				t.Fatalf("extra %q=%q not an item of %q", k, v, s)
			}
		}
	})
}

func FuzzParseReply(f *testing.F) {
	f.Add([]byte("instance=3,cntlid=1\n"))
	f.Add([]byte("instance=-1,cntlid=-1,transport=%s"))
	f.Add([]byte("cntlid=7,instance=12,x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReply(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if r.Instance < 0 || r.CntlID < 0 || r.CntlID > 0xffff {
			t.Fatalf("ParseReply(%q) = %+v", data, r)
		}
		if !strings.Contains(string(data), "instance="+strconv.Itoa(r.Instance)) {
			t.Fatalf("instance %d not in %q", r.Instance, data)
		}
	})
}
