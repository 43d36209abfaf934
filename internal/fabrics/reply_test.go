// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	good := []struct {
		in   string
		want Reply
	}{
		{"instance=3,cntlid=1\n", Reply{3, 1}},
		{"instance=3,cntlid=1", Reply{3, 1}},
		{"instance=0,cntlid=65535\n", Reply{0, 65535}},
		{"cntlid=7,instance=12\n", Reply{12, 7}},
		{"instance=4,cntlid=2,future=x\n", Reply{4, 2}},
	}
	for _, tt := range good {
		got, err := ParseReply([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	if d := (Reply{Instance: 3}).Device(); d != "nvme3" {
		t.Errorf("Device() = %q", d)
	}
	bad := []string{
		"", "\n", "garbage", "instance=3", "cntlid=1", "instance=,cntlid=1", "instance=x,cntlid=1",
		"instance=-1,cntlid=-1,transport=%s", "instance=3,cntlid=65536", "instance=03,cntlid=1",
		"instance=+3,cntlid=1", "instance=3,instance=4,cntlid=1", "instance=3,cntlid=1,cntlid=1",
		"instance=1048576,cntlid=1", "instance=99999999999999999999,cntlid=1",
		"instance=3 ,cntlid=1", strings.Repeat("instance=3,", 500),
	}
	for _, in := range bad {
		if r, err := ParseReply([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseReply(%.40q) = %+v, %v; want ErrMalformed", in, r, err)
		}
	}
}
