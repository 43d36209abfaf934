// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

const (
	testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9"
	testHostID  = "9aae2691-b275-4b64-8bfe-5da429a2bab9"
	testSubNQN  = "nqn.1988-11.com.dell:SFSS:2:20220208134025e8"
	// specSecret is the example secret of the NVMe base specification (32-byte key).
	specSecret = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:"
)

// makeSecret builds a well-formed DHHC-1 secret with an n-byte key.
func makeSecret(hash string, n int) string {
	key := make([]byte, n, n+4)
	for i := range key {
		key[i] = byte(i*7 + 3)
	}
	key = binary.LittleEndian.AppendUint32(key, crc32.ChecksumIEEE(key))
	return "DHHC-1:" + hash + ":" + base64.StdEncoding.EncodeToString(key) + ":"
}

// dcOptions is stafd's typical discovery controller connection (nvme-protocol.md §1.6).
func dcOptions() Options {
	o := NewDiscoveryController(TransportTCP, "192.168.1.10", "8009", "")
	o.HostIface = "eth0"
	o.HostNQN = testHostNQN
	o.HostID = testHostID
	o.KeepAliveTmo = IntOf(30)
	o.CtrlLossTmo = IntOf(600)
	return o
}

func TestBuildLibnvmeExample(t *testing.T) {
	// nvme-protocol.md §1.6, with <uuid> filled in.
	want := "nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=192.168.1.10,host_iface=eth0,trsvcid=8009," +
		"hostnqn=nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9,hostid=9aae2691-b275-4b64-8bfe-5da429a2bab9," +
		"keep_alive_tmo=30,ctrl_loss_tmo=600"
	for _, sup := range []Supported{AllKnown(), DefaultSupported(), mustParseSupported(t, kernelLine)} {
		got, omitted, err := dcOptions().Build(sup)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if got != want {
			t.Errorf("Build =\n %s\nwant\n %s", got, want)
		}
		if len(omitted) != 0 {
			t.Errorf("omitted = %v, want none", omitted)
		}
	}
}

func TestBuildFullOrder(t *testing.T) {
	ctrl := makeSecret("01", 32)
	o := Options{
		Transport: TransportTCP, TrAddr: "192.0.2.9", TrSvcID: "4420", SubsysNQN: testSubNQN,
		HostNQN: testHostNQN, HostID: testHostID, HostTrAddr: "192.0.2.1", HostIface: "eth1",
		DHCHAPSecret: specSecret, DHCHAPCtrlSecret: ctrl,
		QueueSize: IntOf(128), NrIOQueues: IntOf(8), NrWriteQueues: IntOf(2), NrPollQueues: IntOf(1),
		KeepAliveTmo: IntOf(0), ReconnectDelay: IntOf(10), CtrlLossTmo: IntOf(-1), FastIOFailTmo: IntOf(0),
		TOS: IntOf(0), Keyring: IntOf(0x1234), TLSKey: IntOf(0x2345678),
		DuplicateConnect: true, DisableSQFlow: true, HdrDigest: true, DataDigest: true, TLS: true,
	}
	want := "nqn=" + testSubNQN + ",transport=tcp,traddr=192.0.2.9,host_traddr=192.0.2.1,host_iface=eth1,trsvcid=4420," +
		"hostnqn=" + testHostNQN + ",hostid=" + testHostID + ",dhchap_secret=" + specSecret + ",dhchap_ctrl_secret=" + ctrl +
		",nr_io_queues=8,nr_write_queues=2,nr_poll_queues=1,queue_size=128,keep_alive_tmo=0,reconnect_delay=10," +
		"ctrl_loss_tmo=-1,fast_io_fail_tmo=0,tos=0,keyring=0x00001234,tls_key=0x02345678," +
		"duplicate_connect,disable_sqflow,hdr_digest,data_digest,tls"
	got, omitted, err := o.Build(AllKnown())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if got != want {
		t.Errorf("Build =\n %s\nwant\n %s", got, want)
	}
	if omitted != nil {
		t.Errorf("omitted = %v", omitted)
	}

	// Concat instead of tls.
	o.TLS, o.TLSKey, o.Concat = false, Int{}, true
	got, _, err = o.Build(AllKnown())
	if err != nil {
		t.Fatalf("Build concat: %v", err)
	}
	if !strings.HasSuffix(got, ",keyring=0x00001234,duplicate_connect,disable_sqflow,hdr_digest,data_digest,concat") {
		t.Errorf("Build concat = %s", got)
	}
}

// A discovery controller never gets I/O queue options, but keeps its DH-HMAC-CHAP secrets: a
// discovery controller may require authentication as much as an I/O controller does.
func TestBuildDiscoveryRules(t *testing.T) {
	tuned := func(o Options) Options {
		o.DHCHAPSecret = specSecret
		o.DHCHAPCtrlSecret = makeSecret("02", 48)
		o.NrIOQueues, o.NrWriteQueues, o.NrPollQueues, o.QueueSize = IntOf(4), IntOf(2), IntOf(1), IntOf(64)
		o.KeepAliveTmo = IntOf(0)
		return o
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{
			name: "well-known NQN, Discovery unset",
			o:    tuned(Options{Transport: TransportTCP, TrAddr: "192.0.2.1", SubsysNQN: nqn.WellKnownDiscovery}),
			want: "nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=192.0.2.1,trsvcid=8009" + ",dhchap_secret=" + specSecret + ",dhchap_ctrl_secret=" + makeSecret("02", 48) + ",keep_alive_tmo=0",
		},
		{
			name: "well-known NQN, Discovery set: no flag",
			o:    tuned(NewDiscoveryController(TransportTCP, "192.0.2.1", "", "")),
			want: "nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=192.0.2.1,trsvcid=8009" + ",dhchap_secret=" + specSecret + ",dhchap_ctrl_secret=" + makeSecret("02", 48) + ",keep_alive_tmo=0",
		},
		{
			name: "unique NQN: discovery flag",
			o:    tuned(NewDiscoveryController(TransportTCP, "192.0.2.1", "8010", "nqn.2024-01.com.example:dc")),
			want: "nqn=nqn.2024-01.com.example:dc,transport=tcp,traddr=192.0.2.1,trsvcid=8010,discovery" + ",dhchap_secret=" + specSecret + ",dhchap_ctrl_secret=" + makeSecret("02", 48) + ",keep_alive_tmo=0",
		},
		{
			name: "I/O controller keeps everything",
			o:    tuned(Options{Transport: TransportTCP, TrAddr: "192.0.2.1", SubsysNQN: testSubNQN}),
			want: "nqn=" + testSubNQN + ",transport=tcp,traddr=192.0.2.1,trsvcid=4420,dhchap_secret=" + specSecret +
				",dhchap_ctrl_secret=" + makeSecret("02", 48) + ",nr_io_queues=4,nr_write_queues=2,nr_poll_queues=1,queue_size=64,keep_alive_tmo=0",
		},
		{
			name: "unset keep-alive is left to the kernel",
			o:    NewDiscoveryController(TransportTCP, "2001:db8::1", "", ""),
			want: "nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=2001:db8::1,trsvcid=8009",
		},
	}
	for _, tt := range tests {
		got, _, err := tt.o.Build(AllKnown())
		if err != nil {
			t.Errorf("%s: Build: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: Build =\n %s\nwant\n %s", tt.name, got, tt.want)
		}
	}
}

func TestBuildCanonicalForms(t *testing.T) {
	o := Options{
		Transport: TransportTCP, TrAddr: "2001:DB8:0:0::0001", TrSvcID: "04420", SubsysNQN: testSubNQN,
		HostID: strings.ToUpper(testHostID), HostTrAddr: "::ffff:192.0.2.1", HostNQN: "none", HostIface: "none",
	}
	got, _, err := o.Build(AllKnown())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	want := "nqn=" + testSubNQN + ",transport=tcp,traddr=2001:db8::1,host_traddr=::ffff:192.0.2.1,trsvcid=4420,hostid=" + testHostID
	if got != want {
		t.Errorf("Build =\n %s\nwant\n %s", got, want)
	}
}

func TestBuildOtherTransports(t *testing.T) {
	fcAddr := "nn-0x20000090fa942779:pn-0x10000090fa942779"
	fcHost := "nn-20000090fa942780:pn-10000090fa942780"
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{
			name: "rdma",
			o: Options{Transport: TransportRDMA, TrAddr: "192.0.2.5", SubsysNQN: testSubNQN, HostTrAddr: "192.0.2.6",
				NrWriteQueues: IntOf(2), TOS: IntOf(7), ReconnectDelay: IntOf(5), CtrlLossTmo: IntOf(60)},
			want: "nqn=" + testSubNQN + ",transport=rdma,traddr=192.0.2.5,host_traddr=192.0.2.6,nr_write_queues=2,reconnect_delay=5,ctrl_loss_tmo=60,tos=7",
		},
		{
			name: "rdma default port left to the kernel",
			o:    Options{Transport: TransportRDMA, TrAddr: "fe80::1", SubsysNQN: testSubNQN, TrSvcID: "4421"},
			want: "nqn=" + testSubNQN + ",transport=rdma,traddr=fe80::1,trsvcid=4421",
		},
		{
			name: "fc",
			o:    Options{Transport: TransportFC, TrAddr: fcAddr, HostTrAddr: fcHost, SubsysNQN: testSubNQN, CtrlLossTmo: IntOf(600)},
			want: "nqn=" + testSubNQN + ",transport=fc,traddr=" + fcAddr + ",host_traddr=" + fcHost + ",ctrl_loss_tmo=600",
		},
		{
			name: "loop without traddr",
			o:    Options{Transport: TransportLoop, SubsysNQN: "testnqn", HostNQN: testHostNQN, NrIOQueues: IntOf(1)},
			want: "nqn=testnqn,transport=loop,hostnqn=" + testHostNQN + ",nr_io_queues=1",
		},
		{
			name: "loop with a port name",
			o:    Options{Transport: TransportLoop, TrAddr: "port1", SubsysNQN: "testnqn"},
			want: "nqn=testnqn,transport=loop,traddr=port1",
		},
	}
	for _, tt := range tests {
		got, _, err := tt.o.Build(AllKnown())
		if err != nil {
			t.Errorf("%s: Build: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: Build =\n %s\nwant\n %s", tt.name, got, tt.want)
		}
	}
}

// base returns valid options for the transport that the validation table then breaks.
func base(tr Transport) Options {
	switch tr {
	case TransportFC:
		return Options{Transport: tr, TrAddr: "nn-0x20000090fa942779:pn-0x10000090fa942779",
			HostTrAddr: "nn-0x20000090fa942780:pn-0x10000090fa942780", SubsysNQN: testSubNQN}
	case TransportLoop:
		return Options{Transport: tr, SubsysNQN: testSubNQN}
	}
	return Options{Transport: tr, TrAddr: "192.0.2.9", SubsysNQN: testSubNQN, HostNQN: testHostNQN, HostID: testHostID}
}

func TestBuildValidation(t *testing.T) {
	longNQN := "nqn." + strings.Repeat("a", nqn.KernelMaxLen-4)
	tests := []struct {
		option string // the field under test, which the error must name
		set    func(*Options)
		ok     bool
	}{
		// transport
		{OptTransport, func(o *Options) { o.Transport = "tcp" }, true},
		{OptTransport, func(o *Options) { o.Transport = "" }, false},
		{OptTransport, func(o *Options) { o.Transport = "TCP" }, false},
		{OptTransport, func(o *Options) { o.Transport = "pcie" }, false},
		{OptTransport, func(o *Options) { o.Transport = "tcp,traddr=1.2.3.4" }, false},
		{OptTransport, func(o *Options) { o.Transport = "tcp\x00" }, false},
		// traddr
		{OptTrAddr, func(o *Options) { o.TrAddr = "2001:db8::9" }, true},
		{OptTrAddr, func(o *Options) { o.TrAddr = "" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "none" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "192.0.2.9,host_iface=eth9" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "192.0.2.9\nhost_iface=eth9" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "192.0.2.9\x00" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "192.0.2.9 " }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "\xff\xfe" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "target.example.com" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "192.0.2.256" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "192.000.2.9" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "fe80::1%eth0" }, false},
		{OptTrAddr, func(o *Options) { o.TrAddr = "fe80::1" }, false}, // link-local needs host_iface
		{OptTrAddr, func(o *Options) { o.TrAddr = "fe80::1"; o.HostIface = "eth0" }, true},
		{OptTrAddr, func(o *Options) { o.TrAddr = strings.Repeat("1", 300) }, false},
		// trsvcid
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "65535" }, true},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "1" }, true},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "0" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "65536" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "-1" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "+4420" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "0x1000" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "4420,tos=1" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "nvme" }, false},
		{OptTrSvcID, func(o *Options) { o.TrSvcID = "000004420" }, false},
		// nqn
		{OptNQN, func(o *Options) { o.SubsysNQN = longNQN }, true},
		{OptNQN, func(o *Options) { o.SubsysNQN = longNQN + "a" }, false},
		{OptNQN, func(o *Options) { o.SubsysNQN = "" }, false},
		{OptNQN, func(o *Options) { o.SubsysNQN = "nqn.a,hostnqn=nqn.evil" }, false},
		{OptNQN, func(o *Options) { o.SubsysNQN = "nqn.a=b" }, false},
		{OptNQN, func(o *Options) { o.SubsysNQN = "nqn.a\nb" }, false},
		{OptNQN, func(o *Options) { o.SubsysNQN = "nqn.\xc3\xa9" }, false},
		// hostnqn
		{OptHostNQN, func(o *Options) { o.HostNQN = longNQN }, true},
		{OptHostNQN, func(o *Options) { o.HostNQN = longNQN + "a" }, false}, // 223 bytes: spec max, kernel refuses
		{OptHostNQN, func(o *Options) { o.HostNQN = "host1" }, false},
		{OptHostNQN, func(o *Options) { o.HostNQN = testHostNQN + ",duplicate_connect" }, false},
		{OptHostNQN, func(o *Options) { o.HostNQN = "nqn.x=y" }, false},
		{OptHostNQN, func(o *Options) { o.HostNQN = "nqn.x\ty" }, false},
		// hostid
		{OptHostID, func(o *Options) { o.HostID = "9AAE2691-B275-4B64-8BFE-5DA429A2BAB9" }, true},
		{OptHostID, func(o *Options) { o.HostID = "9aae2691b2754b648bfe5da429a2bab9" }, false},
		{OptHostID, func(o *Options) { o.HostID = "9aae2691-b275-4b64-8bfe-5da429a2bab" }, false},
		{OptHostID, func(o *Options) { o.HostID = "9aae2691-b275-4b64-8bfe-5da429a2babg" }, false},
		{OptHostID, func(o *Options) { o.HostID = "9aae2691-b275-4b64-8bfe_5da429a2bab9" }, false},
		{OptHostID, func(o *Options) { o.HostID = "9aae2691-b275-4b64-8bfe-5da429a2ba,9" }, false},
		// host_traddr
		{OptHostTrAddr, func(o *Options) { o.HostTrAddr = "192.0.2.1" }, true},
		{OptHostTrAddr, func(o *Options) { o.HostTrAddr = "192.0.2.1,host_iface=lo" }, false},
		{OptHostTrAddr, func(o *Options) { o.HostTrAddr = "eth0" }, false},
		{OptHostTrAddr, func(o *Options) { o.HostTrAddr = "fe80::2" }, false},
		{OptHostTrAddr, func(o *Options) { o.HostTrAddr = "fe80::2"; o.HostIface = "eth0" }, true},
		// host_iface: the kernel's dev_valid_name
		{OptHostIface, func(o *Options) { o.HostIface = "eth0" }, true},
		{OptHostIface, func(o *Options) { o.HostIface = "enp0s31f6.100" }, true},
		{OptHostIface, func(o *Options) { o.HostIface = "a" }, true},
		{OptHostIface, func(o *Options) { o.HostIface = "abcdefghijklmno" }, true}, // 15 bytes
		{OptHostIface, func(o *Options) { o.HostIface = "abcdefghijklmnop" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "." }, false},
		{OptHostIface, func(o *Options) { o.HostIface = ".." }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth0/1" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth0:1" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth 0" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth0\n" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth0,tos=0" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth0,hdr_digest" }, false}, // flag injection: no '='
		{OptHostNQN, func(o *Options) { o.HostNQN = testHostNQN + ",tls" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth=0" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth\x000" }, false},
		{OptHostIface, func(o *Options) { o.HostIface = "eth\u00a0" }, false},
		// secrets
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = specSecret }, true},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = strings.TrimSuffix(specSecret, ":") }, true},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("01", 32) }, true},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("02", 48) }, true},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("03", 64) }, true},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("00", 64) }, true},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("04", 32) }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-1:1:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("01", 16) }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = makeSecret("01", 40) }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2m:" }, false}, // CRC
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-2:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = specSecret + "x" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = specSecret + ",tls" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqi\npUWj4jWjUh4HWUz6aQ2n:" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqi,UWj4jWjUh4HWUz6aQ2n:" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-1:00::" }, false},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = "DHHC-1:00:a/b/c:" }, false}, // nvme-stas config test value
		{OptDHCHAPCtrlSecret, func(o *Options) { o.DHCHAPSecret = specSecret; o.DHCHAPCtrlSecret = makeSecret("03", 64) }, true},
		{OptDHCHAPCtrlSecret, func(o *Options) { o.DHCHAPCtrlSecret = makeSecret("03", 64) }, false}, // needs a host secret
		{OptDHCHAPCtrlSecret, func(o *Options) { o.DHCHAPSecret = specSecret; o.DHCHAPCtrlSecret = "super-secret" }, false},
		// numbers
		{OptQueueSize, func(o *Options) { o.QueueSize = IntOf(16) }, true},
		{OptQueueSize, func(o *Options) { o.QueueSize = IntOf(1024) }, true},
		{OptQueueSize, func(o *Options) { o.QueueSize = IntOf(15) }, false},
		{OptQueueSize, func(o *Options) { o.QueueSize = IntOf(1025) }, false},
		{OptNrIOQueues, func(o *Options) { o.NrIOQueues = IntOf(0) }, false},
		{OptNrWriteQueues, func(o *Options) { o.NrWriteQueues = IntOf(-3) }, false},
		{OptNrPollQueues, func(o *Options) { o.NrPollQueues = IntOf(1 << 40) }, false},
		{OptKeepAliveTmo, func(o *Options) { o.KeepAliveTmo = IntOf(0) }, true},
		{OptKeepAliveTmo, func(o *Options) { o.KeepAliveTmo = IntOf(-1) }, false},
		{OptReconnectDelay, func(o *Options) { o.ReconnectDelay = IntOf(0) }, false},
		{OptCtrlLossTmo, func(o *Options) { o.CtrlLossTmo = IntOf(-1) }, true},
		{OptCtrlLossTmo, func(o *Options) { o.CtrlLossTmo = IntOf(-2) }, false},
		{OptFastIOFailTmo, func(o *Options) { o.FastIOFailTmo = IntOf(-1) }, true},
		{OptFastIOFailTmo, func(o *Options) { o.FastIOFailTmo = IntOf(-7) }, false},
		{OptTOS, func(o *Options) { o.TOS = IntOf(255) }, true},
		{OptTOS, func(o *Options) { o.TOS = IntOf(256) }, false},
		{OptTOS, func(o *Options) { o.TOS = IntOf(-1) }, false},
		{OptKeyring, func(o *Options) { o.Keyring = IntOf(0) }, false},
		{OptTLSKey, func(o *Options) { o.TLSKey = IntOf(-5) }, false},
		// secure concatenation
		{OptConcat, func(o *Options) { o.Concat = true; o.DHCHAPSecret = specSecret }, true},
		{OptConcat, func(o *Options) { o.Concat = true }, false},
		{OptConcat, func(o *Options) { o.Concat = true; o.DHCHAPSecret = specSecret; o.TLS = true }, false},
		{OptConcat, func(o *Options) { o.Concat = true; o.DHCHAPSecret = specSecret; o.TLSKey = IntOf(9) }, false},
	}
	for _, tt := range tests {
		o := base(TransportTCP)
		tt.set(&o)
		s, _, err := o.Build(AllKnown())
		if tt.ok {
			if err != nil {
				t.Errorf("%s: %+v: unexpected error %v", tt.option, o, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %+v: Build = %q, want an error", tt.option, o, s)
			continue
		}
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tt.option || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: error %v does not name the option or wrap ErrInvalidOption", tt.option, err)
		}
		if !strings.Contains(err.Error(), "fabrics option "+tt.option+":") {
			t.Errorf("%s: message %q does not name the option", tt.option, err)
		}
	}
}

func TestBuildErrorsNeverQuoteSecrets(t *testing.T) {
	bad := "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2m:"
	for _, o := range []Options{
		func() Options { o := base(TransportTCP); o.DHCHAPSecret = bad; return o }(),
		func() Options {
			o := base(TransportTCP)
			o.DHCHAPSecret = specSecret
			o.DHCHAPCtrlSecret = bad
			return o
		}(),
		func() Options { o := base(TransportTCP); o.DHCHAPSecret = bad[:30]; return o }(),
	} {
		_, _, err := o.Build(AllKnown())
		if err == nil {
			t.Fatal("Build succeeded with a bad secret")
		}
		if strings.Contains(err.Error(), "ia6zGodOr4") {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

func TestBuildTransportRules(t *testing.T) {
	tests := []struct {
		transport Transport
		option    string
		set       func(*Options)
	}{
		{TransportRDMA, OptHostIface, func(o *Options) { o.HostIface = "ib0" }},
		{TransportRDMA, OptHdrDigest, func(o *Options) { o.HdrDigest = true }},
		{TransportRDMA, OptDataDigest, func(o *Options) { o.DataDigest = true }},
		{TransportRDMA, OptTLS, func(o *Options) { o.TLS = true }},
		{TransportRDMA, OptKeyring, func(o *Options) { o.Keyring = IntOf(3) }},
		{TransportFC, OptTrSvcID, func(o *Options) { o.TrSvcID = "4420" }},
		{TransportFC, OptNrWriteQueues, func(o *Options) { o.NrWriteQueues = IntOf(2) }},
		{TransportFC, OptTOS, func(o *Options) { o.TOS = IntOf(0) }},
		{TransportFC, OptHostIface, func(o *Options) { o.HostIface = "eth0" }},
		{TransportFC, OptConcat, func(o *Options) { o.Concat = true }},
		{TransportLoop, OptTrSvcID, func(o *Options) { o.TrSvcID = "4420" }},
		{TransportLoop, OptHostTrAddr, func(o *Options) { o.HostTrAddr = "192.0.2.1" }},
		{TransportLoop, OptReconnectDelay, func(o *Options) { o.ReconnectDelay = IntOf(10) }},
		{TransportLoop, OptCtrlLossTmo, func(o *Options) { o.CtrlLossTmo = IntOf(600) }},
		{TransportLoop, OptTLSKey, func(o *Options) { o.TLSKey = IntOf(3) }},
		{TransportFC, OptTrAddr, func(o *Options) { o.TrAddr = "192.0.2.1" }},
		{TransportFC, OptTrAddr, func(o *Options) { o.TrAddr = "nn-0x20000090fa942779-pn-0x10000090fa942779" }},
		{TransportFC, OptTrAddr, func(o *Options) { o.TrAddr = "nn-0x20000090fa94277:pn-0x10000090fa942779" }},
		{TransportFC, OptTrAddr, func(o *Options) { o.TrAddr = "nn-0x20000090fa94277g:pn-0x10000090fa942779" }},
		{TransportFC, OptTrAddr, func(o *Options) { o.TrAddr = "pn-0x20000090fa942779:nn-0x10000090fa942779" }},
		{TransportFC, OptHostTrAddr, func(o *Options) { o.HostTrAddr = "" }}, // required for fc
		{TransportFC, OptHostTrAddr, func(o *Options) { o.HostTrAddr = "192.0.2.1" }},
		{TransportRDMA, OptHostTrAddr, func(o *Options) { o.HostTrAddr = "nn-0x20000090fa942779:pn-0x10000090fa942779" }},
		{TransportLoop, OptTrAddr, func(o *Options) { o.TrAddr = "port 1" }},
		{TransportLoop, OptTrAddr, func(o *Options) { o.TrAddr = "port1,duplicate_connect" }},
		{TransportFC, OptTrAddr, func(o *Options) { o.TrAddr = "nn-0x20000090fa942779:pn-0x10000090fa942779,host_iface=eth0" }},
		{TransportFC, OptHostTrAddr, func(o *Options) { o.HostTrAddr = "nn-0x20000090fa942779:pn-0x1000009\n0fa942779" }},
	}
	for _, tt := range tests {
		o := base(tt.transport)
		if _, _, err := o.Build(AllKnown()); err != nil {
			t.Fatalf("base(%s) does not build: %v", tt.transport, err)
		}
		tt.set(&o)
		s, _, err := o.Build(AllKnown())
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tt.option || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s with %s: Build = %q, %v; want an OptionError naming %s", tt.transport, tt.option, s, err, tt.option)
		}
	}
}

func TestBuildSupportedOmission(t *testing.T) {
	// A 5.17-era kernel without host_iface's successors: no dhchap, no tls.
	sup := mustParseSupported(t, "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,"+
		"reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,hostid=%s,duplicate_connect,hdr_digest,data_digest\n")
	o := base(TransportTCP)
	o.QueueSize, o.NrIOQueues, o.NrWriteQueues, o.NrPollQueues = IntOf(32), IntOf(2), IntOf(1), IntOf(1)
	o.TOS, o.FastIOFailTmo, o.DisableSQFlow = IntOf(3), IntOf(5), true
	o.KeepAliveTmo = IntOf(7)
	got, omitted, err := o.Build(sup)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	want := "nqn=" + testSubNQN + ",transport=tcp,traddr=192.0.2.9,trsvcid=4420,hostnqn=" + testHostNQN + ",hostid=" + testHostID + ",keep_alive_tmo=7"
	if got != want {
		t.Errorf("Build =\n %s\nwant\n %s", got, want)
	}
	wantOmitted := []string{OptNrIOQueues, OptNrWriteQueues, OptNrPollQueues, OptQueueSize, OptFastIOFailTmo, OptTOS, OptDisableSQFlow}
	if !slices.Equal(omitted, wantOmitted) {
		t.Errorf("omitted = %v, want %v", omitted, wantOmitted)
	}

	refused := []struct {
		option string
		set    func(*Options)
	}{
		{OptHostIface, func(o *Options) { o.HostIface = "eth0" }},
		{OptDHCHAPSecret, func(o *Options) { o.DHCHAPSecret = specSecret }},
		{OptDiscovery, func(o *Options) { o.Discovery, o.SubsysNQN = true, "nqn.2024-01.com.example:dc" }},
		{OptTLS, func(o *Options) { o.TLS = true }},
		{OptKeyring, func(o *Options) { o.Keyring = IntOf(12) }},
	}
	for _, tt := range refused {
		o := base(TransportTCP)
		tt.set(&o)
		_, _, err := o.Build(sup)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tt.option || !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s unsupported: err = %v, want an OptionError wrapping ErrUnsupported", tt.option, err)
		}
	}

	// The kernel's always-required options.
	for _, line := range []string{"traddr=%s,nqn=%s", "transport=%s,nqn=%s", "transport=%s,traddr=%s,trsvcid=%s"} {
		_, _, err := base(TransportTCP).Build(mustParseSupported(t, line))
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("supported %q: err = %v, want ErrUnsupported", line, err)
		}
	}

	// The zero Supported supports nothing.
	if _, _, err := base(TransportTCP).Build(Supported{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("zero Supported: err = %v, want ErrUnsupported", err)
	}
}

func TestCheckLen(t *testing.T) {
	// No combination of valid fields reaches a page, so the guard is tested directly.
	if err := checkLen(strings.Repeat("a", MaxOptionsLen)); err != nil {
		t.Errorf("checkLen(%d bytes) = %v", MaxOptionsLen, err)
	}
	if err := checkLen(strings.Repeat("a", MaxOptionsLen+1)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("checkLen(%d bytes) = %v, want ErrInvalidOption", MaxOptionsLen+1, err)
	}
}

func TestRedactAndString(t *testing.T) {
	o := base(TransportTCP)
	o.DHCHAPSecret = specSecret
	o.DHCHAPCtrlSecret = makeSecret("01", 32)
	o.KeepAliveTmo = IntOf(0)
	o.HdrDigest = true
	o.HostIface = "eth\n0"
	s, _, err := func() (string, []string, error) { p := o; p.HostIface = "eth0"; return p.Build(AllKnown()) }()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "ia6zGodOr4") {
		t.Fatalf("Build output lacks the secret: %s", s)
	}
	for _, text := range []string{Redact(s), o.String(), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o)} {
		if strings.Contains(text, "ia6zGodOr4") || strings.Contains(text, o.DHCHAPCtrlSecret[10:30]) {
			t.Errorf("secret leaked: %s", text)
		}
		if !strings.Contains(text, "dhchap_secret=(set)") || !strings.Contains(text, "dhchap_ctrl_secret=(set)") {
			t.Errorf("secrets not shown as (set): %s", text)
		}
	}
	if got := o.String(); !strings.Contains(got, `host_iface=eth\n0`) || !strings.Contains(got, "keep_alive_tmo=0") || !strings.Contains(got, "hdr_digest") {
		t.Errorf("String() = %s", got)
	}
	if got := NewDiscoveryController(TransportTCP, "192.0.2.1", "", "").String(); got != "nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=192.0.2.1,(discovery)" {
		t.Errorf("String() of a DC = %s", got)
	}
	if got := Redact("nqn=a,dhchap_secret=x,tls"); got != "nqn=a,dhchap_secret=(set),tls" {
		t.Errorf("Redact = %s", got)
	}
}

func TestInt(t *testing.T) {
	var unset Int
	if v, ok := unset.Get(); ok || v != 0 || unset.IsSet() || unset.String() != "unset" {
		t.Errorf("zero Int = %v %v %q", v, ok, unset.String())
	}
	zero := IntOf(0)
	if v, ok := zero.Get(); !ok || v != 0 || !zero.IsSet() || zero.String() != "0" {
		t.Errorf("IntOf(0) = %v %v %q", v, ok, zero.String())
	}
	if IntOf(-1).String() != "-1" {
		t.Errorf("IntOf(-1).String() = %q", IntOf(-1).String())
	}
}

func TestIsDiscovery(t *testing.T) {
	if !(Options{SubsysNQN: nqn.WellKnownDiscovery}).IsDiscovery() {
		t.Error("well-known NQN is not a discovery controller")
	}
	if (Options{SubsysNQN: testSubNQN}).IsDiscovery() {
		t.Error("I/O controller reported as discovery controller")
	}
	if !NewDiscoveryController(TransportTCP, "192.0.2.1", "", testSubNQN).IsDiscovery() {
		t.Error("NewDiscoveryController is not a discovery controller")
	}
}

func BenchmarkBuild(b *testing.B) {
	o := dcOptions()
	o.DHCHAPSecret = specSecret
	sup := AllKnown()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := o.Build(sup); err != nil {
			b.Fatal(err)
		}
	}
}
