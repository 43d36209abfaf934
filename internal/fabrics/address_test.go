// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	good := []struct {
		in   string
		want Address
	}{
		{"traddr=192.168.1.10,trsvcid=8009\n", Address{TrAddr: "192.168.1.10", TrSvcID: "8009"}},
		{"traddr=192.168.1.10,trsvcid=8009,host_iface=eth0,src_addr=192.168.1.2\n",
			Address{TrAddr: "192.168.1.10", TrSvcID: "8009", HostIface: "eth0", SrcAddr: "192.168.1.2"}},
		{"traddr=2001:db8::1,trsvcid=4420,host_traddr=2001:db8::2,host_iface=enp1s0,src_addr=2001:db8::2\n",
			Address{TrAddr: "2001:db8::1", TrSvcID: "4420", HostTrAddr: "2001:db8::2", HostIface: "enp1s0", SrcAddr: "2001:db8::2"}},
		{"traddr=nn-0x20000090fa942779:pn-0x10000090fa942779,host_traddr=nn-0x20000090fa942780:pn-0x10000090fa942780\n",
			Address{TrAddr: "nn-0x20000090fa942779:pn-0x10000090fa942779", HostTrAddr: "nn-0x20000090fa942780:pn-0x10000090fa942780"}},
		{"trsvcid=4420\n", Address{TrSvcID: "4420"}},                // missing traddr
		{"traddr=10.0.0.1\n", Address{TrAddr: "10.0.0.1"}},          // missing trsvcid
		{"traddr=10.0.0.1,trsvcid=\n", Address{TrAddr: "10.0.0.1"}}, // empty value
		{"\n", Address{}}, // loop without traddr
		{"", Address{}},   // empty attribute
		{"traddr=10.0.0.1,,trsvcid=4420", Address{TrAddr: "10.0.0.1", TrSvcID: "4420"}},
		{"traddr=10.0.0.1,trsvcid=4420,new_key=a=b,other=\n",
			Address{TrAddr: "10.0.0.1", TrSvcID: "4420", Extra: map[string]string{"new_key": "a=b", "other": ""}}},
	}
	for _, tt := range good {
		got, err := ParseAddress(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"0000:01:00.0\n", "0000:00:1f.0", "apple-nvme"} {
		if _, err := ParseAddress(in); !errors.Is(err, ErrNotFabrics) {
			t.Errorf("ParseAddress(%q) err = %v, want ErrNotFabrics", in, err)
		}
	}
	for _, in := range []string{
		"traddr=1.2.3.4,garbage", "=x,traddr=1.2.3.4", "traddr=1,traddr=2",
		"traddr=1.2.3.4,x=1,x=2", "traddr=" + strings.Repeat("a", maxAddressLen),
	} {
		if _, err := ParseAddress(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAddress(%.40q) err = %v, want ErrMalformed", in, err)
		}
	}
}
