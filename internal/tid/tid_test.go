// SPDX-License-Identifier: Apache-2.0

package tid

import (
	"maps"
	"testing"
)

const dellNQN = "nqn.1988-11.com.dell:SFSS:2:20220208134025e8"

func TestNewDefaultsAndNormalises(t *testing.T) {
	tests := []struct {
		name string
		in   TID
		kind Kind
		want TID
	}{
		{"tcp discovery default port", TID{Transport: TCP, Traddr: "1.2.3.4", SubsysNQN: "x"}, Discovery,
			TID{Transport: TCP, Traddr: "1.2.3.4", Trsvcid: "8009", SubsysNQN: "x"}},
		{"tcp I/O default port is 4420, not 8009 (nvme-stas quirk 5)", TID{Transport: TCP, Traddr: "1.2.3.4", SubsysNQN: "x"}, IO,
			TID{Transport: TCP, Traddr: "1.2.3.4", Trsvcid: "4420", SubsysNQN: "x"}},
		{"rdma default port", TID{Transport: RDMA, Traddr: "1.2.3.4"}, Discovery,
			TID{Transport: RDMA, Traddr: "1.2.3.4", Trsvcid: "4420"}},
		{"fc has no port, names lower-cased", TID{Transport: FC, Traddr: "nn-0x1000:PN-0x2000", Trsvcid: "99", HostTraddr: "NN-1:pn-2"}, IO,
			TID{Transport: FC, Traddr: "nn-0x1000:pn-0x2000", HostTraddr: "nn-1:pn-2"}},
		{"IPv6 canonical form", TID{Transport: TCP, Traddr: "2001:DB8:0::0001", Trsvcid: "4420", HostTraddr: "FE80::1"}, IO,
			TID{Transport: TCP, Traddr: "2001:db8::1", Trsvcid: "4420", HostTraddr: "fe80::1"}},
		{"IPv4-mapped is IPv4", TID{Transport: TCP, Traddr: "::ffff:192.0.2.1", Trsvcid: "8009"}, Discovery,
			TID{Transport: TCP, Traddr: "192.0.2.1", Trsvcid: "8009"}},
		{"host name kept", TID{Transport: TCP, Traddr: "array.example", Trsvcid: "8009"}, Discovery,
			TID{Transport: TCP, Traddr: "array.example", Trsvcid: "8009"}},
	}
	for _, tt := range tests {
		if got := New(tt.in, tt.kind, false); got != tt.want {
			t.Errorf("%s: New = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if a, b := New(TID{Transport: TCP, Traddr: "2001:db8::1"}, IO, false), New(TID{Transport: TCP, Traddr: "2001:0DB8::0:1"}, IO, false); a != b {
		t.Errorf("the same address in two spellings gives two TIDs: %v, %v", a, b)
	}
}

func TestIgnoreIface(t *testing.T) {
	got := New(TID{Transport: TCP, Traddr: "192.0.2.1", HostIface: "eth0"}, IO, true)
	if got.HostIface != "" {
		t.Errorf("ignore-iface kept host-iface %q", got.HostIface)
	}
}

// The nvme-stas test vectors of the string form.
func TestString(t *testing.T) {
	full := TID{Transport: TCP, Traddr: "10.10.10.10", Trsvcid: "8009", SubsysNQN: dellNQN, HostTraddr: "1.2.3.4", HostIface: "wlp0s20f3"}
	if got, want := full.String(), "(tcp, 10.10.10.10, 8009, "+dellNQN+", wlp0s20f3, 1.2.3.4)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := New(TID{Transport: TCP, Traddr: "1.2.3.4", SubsysNQN: "x"}, Discovery, false).String(), "(tcp, 1.2.3.4, 8009, x)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := New(TID{Transport: FC, Traddr: "nn-1:pn-2", Trsvcid: "99", SubsysNQN: "x"}, IO, false).String(), "(fc, nn-1:pn-2, , x)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := New(TID{Transport: RDMA, Traddr: "1.2.3.4", SubsysNQN: "x", HostIface: "eth0"}, IO, false).String(), "(rdma, 1.2.3.4, 4420, x, eth0)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

func TestDictRoundTrip(t *testing.T) {
	in := TID{Transport: TCP, Traddr: "10.10.10.10", Trsvcid: "8009", SubsysNQN: dellNQN, HostTraddr: "1.2.3.4",
		HostIface: "wlp0s20f3", HostNQN: "nqn.1988-11.com.dell:12345"}
	d := in.Dict()
	want := map[string]string{"transport": "tcp", "traddr": "10.10.10.10", "trsvcid": "8009", "subsysnqn": dellNQN,
		"host-traddr": "1.2.3.4", "host-iface": "wlp0s20f3", "host-nqn": "nqn.1988-11.com.dell:12345"}
	if !maps.Equal(d, want) {
		t.Errorf("Dict = %v, want %v", d, want)
	}
	if got := FromDict(d, Discovery, false); got != in {
		t.Errorf("FromDict(Dict) = %+v, want %+v", got, in)
	}
	other := in
	other.Traddr = "1.1.1.1"
	if other == in {
		t.Error("TIDs with different traddr compare equal")
	}
	if !(TID{}).IsZero() || in.IsZero() {
		t.Error("IsZero wrong")
	}
}
