// SPDX-License-Identifier: Apache-2.0

package uevent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// kernelMsg frames variables the way lib/kobject_uevent.c sends them.
func kernelMsg(action, devpath string, vars ...string) []byte {
	var b bytes.Buffer
	b.WriteString(action + "@" + devpath + "\x00")
	for _, v := range vars {
		b.WriteString(v + "\x00")
	}
	return b.Bytes()
}

// udevMsg frames variables the way systemd's device_monitor_send_device does: a 40-byte
// monitor_netlink_header, magic in network order, offsets and lengths in native order.
func udevMsg(vars ...string) []byte {
	var props bytes.Buffer
	for _, v := range vars {
		props.WriteString(v + "\x00")
	}
	h := make([]byte, 40)
	copy(h, "libudev\x00")
	binary.BigEndian.PutUint32(h[8:], 0xfeedcafe)
	binary.NativeEndian.PutUint32(h[12:], 40)
	binary.NativeEndian.PutUint32(h[16:], 40)
	binary.NativeEndian.PutUint32(h[20:], uint32(props.Len()))
	binary.BigEndian.PutUint32(h[24:], 0x1234abcd) // subsystem hash, unused here
	return append(h, props.Bytes()...)
}

// aenVars is what nvme_aen_uevent + nvme_class_uevent send for a discovery log change.
var aenVars = []string{
	"ACTION=change",
	"DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0",
	"SUBSYSTEM=nvme",
	"NVME_AEN=0x70f002",
	"MAJOR=241",
	"MINOR=0",
	"DEVNAME=nvme0",
	"NVME_TRTYPE=tcp",
	"NVME_TRADDR=192.168.1.10",
	"NVME_TRSVCID=8009",
	"NVME_HOST_TRADDR=none",
	"NVME_HOST_IFACE=eth0",
	"SEQNUM=4711",
}

func TestParseKernelAEN(t *testing.T) {
	ev, err := Parse(kernelMsg("change", "/devices/virtual/nvme-fabrics/ctl/nvme0", aenVars...))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if ev.Source != SourceKernel || ev.Action != ActionChange || ev.DevPath != "/devices/virtual/nvme-fabrics/ctl/nvme0" ||
		ev.Subsystem != "nvme" || ev.DevName != "nvme0" || ev.Seqnum != 4711 || len(ev.Env) != len(aenVars) {
		t.Errorf("Parse = %+v", ev)
	}
	n, ok := ev.NVMe()
	want := NVMeEvent{Device: "nvme0", Instance: 0, Kind: NVMeAEN, AEN: 0x70f002, Transport: "tcp",
		TrAddr: "192.168.1.10", TrSvcID: "8009", HostTrAddr: "", HostIface: "eth0"}
	if !ok || n != want {
		t.Errorf("NVMe() = %+v, %v; want %+v", n, ok, want)
	}
	if !n.IsDiscoveryLogChange() {
		t.Error("IsDiscoveryLogChange() = false")
	}
}

func TestParseUdevAEN(t *testing.T) {
	vars := append(slicesReplace(aenVars, "DEVNAME=nvme0", "DEVNAME=/dev/nvme0"), "USEC_INITIALIZED=84213567", "NVME_HOST_TRADDR=none")
	ev, err := Parse(udevMsg(vars...))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if ev.Source != SourceUdev || ev.Action != ActionChange || ev.DevName != "/dev/nvme0" || ev.Seqnum != 4711 ||
		ev.Env["USEC_INITIALIZED"] != "84213567" {
		t.Errorf("Parse = %+v", ev)
	}
	n, ok := ev.NVMe()
	if !ok || n.Device != "nvme0" || !n.IsDiscoveryLogChange() || n.HostTrAddr != "" {
		t.Errorf("NVMe() = %+v, %v", n, ok)
	}
}

func slicesReplace(in []string, old, repl string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		if s == old {
			s = repl
		}
		out[i] = s
	}
	return out
}

func TestParseNVMeKinds(t *testing.T) {
	const dp = "/devices/virtual/nvme-fabrics/ctl/nvme12"
	common := []string{"DEVPATH=" + dp, "SUBSYSTEM=nvme", "DEVNAME=nvme12", "NVME_TRTYPE=tcp",
		"NVME_TRADDR=2001:db8::1", "NVME_TRSVCID=none", "NVME_HOST_TRADDR=2001:db8::2", "NVME_HOST_IFACE=none"}
	tests := []struct {
		action Action
		extra  []string
		kind   NVMeKind
		aen    nvme.AEN
	}{
		{ActionAdd, nil, NVMeAdd, 0},
		{ActionRemove, nil, NVMeRemove, 0},
		{ActionChange, []string{"NVME_EVENT=connected"}, NVMeConnected, 0},
		{ActionChange, []string{"NVME_EVENT=rediscover"}, NVMeRediscover, 0},
		{ActionChange, []string{"NVME_EVENT=something-new"}, NVMeChange, 0},
		{ActionChange, nil, NVMeChange, 0},
		{ActionChange, []string{"NVME_AEN=0x000102"}, NVMeAEN, 0x102},
		{ActionChange, []string{"NVME_AEN=70F002"}, NVMeAEN, 0x70f002},
		{ActionChange, []string{"NVME_AEN=bogus"}, NVMeChange, 0},
		{ActionBind, nil, NVMeOther, 0},
		{ActionMove, nil, NVMeOther, 0},
	}
	for _, tt := range tests {
		vars := append([]string{"ACTION=" + string(tt.action), "SEQNUM=9"}, append(common, tt.extra...)...)
		for _, msg := range [][]byte{kernelMsg(string(tt.action), dp, vars...), udevMsg(vars...)} {
			ev, err := Parse(msg)
			if err != nil {
				t.Fatalf("%s %v: %v", tt.action, tt.extra, err)
			}
			n, ok := ev.NVMe()
			want := NVMeEvent{Device: "nvme12", Instance: 12, Kind: tt.kind, AEN: tt.aen, Transport: "tcp",
				TrAddr: "2001:db8::1", HostTrAddr: "2001:db8::2"}
			if !ok || n != want {
				t.Errorf("%s %v from %v: NVMe() = %+v, %v; want %+v", tt.action, tt.extra, ev.Source, n, ok, want)
			}
			if got := n.IsDiscoveryLogChange(); got != (tt.aen == nvme.AENDiscoveryLogChanged) {
				t.Errorf("%s %v: IsDiscoveryLogChange() = %v", tt.action, tt.extra, got)
			}
		}
	}
}

func TestNVMeNotController(t *testing.T) {
	tests := []Event{
		{Action: ActionAdd, Subsystem: "block", DevName: "nvme0n1", DevPath: "/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1"},
		{Action: ActionAdd, Subsystem: "nvme", DevName: "nvme0n1"},
		{Action: ActionAdd, Subsystem: "nvme", DevName: "nvme-fabrics"},
		{Action: ActionAdd, Subsystem: "nvme", DevName: "nvme"},
		{Action: ActionAdd, Subsystem: "nvme", DevName: "nvme01"},
		{Action: ActionAdd, Subsystem: "nvme", DevName: "nvme-1"},
		{Action: ActionAdd, Subsystem: "nvme", DevName: "nvme99999999"},
		{Action: ActionAdd, Subsystem: "nvme", DevPath: "/devices/virtual/nvme-fabrics/ctl"},
	}
	for _, ev := range tests {
		if n, ok := ev.NVMe(); ok {
			t.Errorf("NVMe() of %+v = %+v, want not ok", ev, n)
		}
	}
	// DEVNAME absent: the name comes from DEVPATH.
	n, ok := Event{Action: ActionRemove, Subsystem: "nvme", DevPath: "/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme3"}.NVMe()
	if !ok || n.Device != "nvme3" || n.Instance != 3 || n.Kind != NVMeRemove {
		t.Errorf("NVMe() from DEVPATH = %+v, %v", n, ok)
	}
}

func TestParseDevpathWithAtAndValueWithEquals(t *testing.T) {
	// go-udev splits on every '@' and '=' and rejects both of these.
	const dp = "/devices/platform/soc@0/32f10108.usb/38200000.dwc3"
	msg := kernelMsg("bind", dp, "ACTION=bind", "DEVPATH="+dp, "SUBSYSTEM=platform", "DRIVER=dwc3",
		"OF_COMPATIBLE_0=fsl,imx8mp-dwc3=x", "MODALIAS=of:NusbT(null)Cfsl,imx8mp-dwc3", "SEQNUM=3001")
	ev, err := Parse(msg)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if ev.DevPath != dp || ev.Action != ActionBind || ev.Env["OF_COMPATIBLE_0"] != "fsl,imx8mp-dwc3=x" {
		t.Errorf("Parse = %+v", ev)
	}
	if _, ok := ev.NVMe(); ok {
		t.Error("platform event has an NVMe view")
	}
}

func TestParseSkipsBrokenVariables(t *testing.T) {
	msg := kernelMsg("remove", "/devices/virtual/nvme-fabrics/ctl/nvme2",
		"", "NOEQUALS", "=value-without-key", "ACTION=remove", "EMPTY=", "", "SUBSYSTEM=nvme", "DEVNAME=nvme2", "A=1", "A=2")
	ev, err := Parse(msg)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]string{"ACTION": "remove", "DEVPATH": "/devices/virtual/nvme-fabrics/ctl/nvme2", "EMPTY": "",
		"SUBSYSTEM": "nvme", "DEVNAME": "nvme2", "A": "2"}
	if !maps.Equal(ev.Env, want) {
		t.Errorf("Env = %v, want %v", ev.Env, want)
	}
	// Without a trailing NUL and without variables at all.
	if ev, err := Parse([]byte("add@/devices/x\x00ACTION=add")); err != nil || ev.Action != ActionAdd || ev.Seqnum != 0 {
		t.Errorf("no trailing NUL: %+v, %v", ev, err)
	}
	if ev, err := Parse([]byte("add@/devices/x\x00")); err != nil || ev.DevPath != "/devices/x" {
		t.Errorf("no variables: %+v, %v", ev, err)
	}
}

func TestParseGarbage(t *testing.T) {
	udev := udevMsg("ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=nvme")
	badMagic := bytes.Clone(udev)
	badMagic[8] = 0xca
	withProps := func(off, n uint32) []byte {
		b := bytes.Clone(udev)
		binary.NativeEndian.PutUint32(b[16:], off)
		binary.NativeEndian.PutUint32(b[20:], n)
		return b
	}
	tests := map[string][]byte{
		"empty":                  nil,
		"no NUL":                 []byte("add@/devices/x"),
		"no @":                   []byte("add/devices/x\x00ACTION=add\x00"),
		"empty action":           []byte("@/devices/x\x00"),
		"relative devpath":       []byte("add@devices/x\x00"),
		"empty devpath":          []byte("add@\x00"),
		"action mismatch":        kernelMsg("add", "/devices/x", "ACTION=remove"),
		"devpath mismatch":       kernelMsg("add", "/devices/x", "DEVPATH=/devices/y"),
		"upper-case action":      kernelMsg("ADD", "/devices/x"),
		"action with NUL-ish":    kernelMsg("ad\x01d", "/devices/x"),
		"long action":            kernelMsg(strings.Repeat("a", 17), "/devices/x"),
		"bad seqnum":             kernelMsg("add", "/devices/x", "SEQNUM=12x"),
		"negative seqnum":        kernelMsg("add", "/devices/x", "SEQNUM=-1"),
		"too large":              append(kernelMsg("add", "/devices/x"), make([]byte, MaxMessageSize)...),
		"too many variables":     kernelMsg("add", "/devices/x", strings.Split(strings.Repeat("A=1,", MaxVariables+1), ",")...),
		"udev truncated header":  []byte("libudev\x00\xfe\xed\xca\xfe"),
		"udev bad magic":         badMagic,
		"udev offset in header":  withProps(8, 10),
		"udev offset past end":   withProps(0xffffffff, 10),
		"udev length past end":   withProps(40, uint32(len(udev))),
		"udev length overflow":   withProps(40, 0xffffffff),
		"udev zero length":       withProps(40, 0),
		"udev missing ACTION":    udevMsg("DEVPATH=/devices/x"),
		"udev missing DEVPATH":   udevMsg("ACTION=add"),
		"udev kernel-style only": append(udevMsg()[:40], []byte("add@/devices/x\x00")...),
	}
	for name, msg := range tests {
		ev, err := Parse(msg)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, ev, err)
		}
	}
}

func TestStrings(t *testing.T) {
	for k, want := range map[NVMeKind]string{NVMeOther: "other", NVMeAdd: "add", NVMeRemove: "remove", NVMeAEN: "aen",
		NVMeConnected: "connected", NVMeRediscover: "rediscover", NVMeChange: "change", NVMeKind(42): "NVMeKind(42)"} {
		if k.String() != want {
			t.Errorf("NVMeKind(%d).String() = %q, want %q", int(k), k.String(), want)
		}
	}
	for s, want := range map[Source]string{SourceKernel: "kernel", SourceUdev: "udev", Source(0): "Source(0)"} {
		if s.String() != want {
			t.Errorf("Source(%d).String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func BenchmarkParseUevent(b *testing.B) {
	kernel := kernelMsg("change", "/devices/virtual/nvme-fabrics/ctl/nvme0", aenVars...)
	udev := udevMsg(aenVars...)
	b.Run("kernel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, err := Parse(kernel)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := ev.NVMe(); !ok {
				b.Fatal("no NVMe view")
			}
		}
	})
	b.Run("udev", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(udev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
