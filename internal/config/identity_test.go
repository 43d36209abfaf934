// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/tid"
)

func TestIdentity(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	s, _ := loadSys(t, nil, "[Host]\nnqn="+vecNQN+"\nid="+vecID+"\nkey="+vecKey+"\nsymname=lab\n")
	id, err := s.Identity(log)
	if err != nil || id.NQN != vecNQN || id.ID != vecID || id.Key.Reveal() != vecKey || id.Symname != "lab" {
		t.Errorf("Identity = %+v, %v", id, err)
	}
	// An unusable key is logged and left out; the rest is kept.
	s, _ = loadSys(t, nil, "[Host]\nnqn="+vecNQN+"\nid="+vecID+"\nkey=plain-text-secret\n")
	if id, err := s.Identity(log); err != nil || id.Key.IsSet() || id.NQN != vecNQN {
		t.Errorf("unusable key: %+v, %v", id, err)
	}
	if !strings.Contains(logged.String(), "host key unusable") {
		t.Errorf("the unusable key was not logged: %s", logged.String())
	}
	// The host NQN and ID are mandatory.
	s, _ = loadSys(t, nil, "[Host]\nnqn="+vecNQN+"\nid=not-a-uuid\n")
	if _, err := s.Identity(log); !errors.Is(err, ErrHostID) {
		t.Errorf("bad host ID: %v, want ErrHostID", err)
	}
}

func TestRefuse(t *testing.T) {
	c := Defaults(Stacd)
	c.IPFamily = IPFamilies{IPv4}
	c.Excludes = []Exclude{{Conditions: []Param{{Key: "traddr", Value: "192.0.2.9"}}}}
	for _, tc := range []struct {
		t    tid.TID
		want string
	}{
		{tid.TID{Transport: "tcp", Traddr: "192.0.2.1"}, ""},
		{tid.TID{Transport: "tcp", Traddr: "192.0.2.9"}, "excluded"},
		{tid.TID{Transport: "tcp", Traddr: "array.example"}, "traddr is not an IP address"},
		{tid.TID{Transport: "rdma", Traddr: "2001:db8::1"}, "its address family is disabled by ip-family"},
		{tid.TID{Transport: "fc", Traddr: "nn-0x1:pn-0x2"}, ""},
		{tid.TID{Transport: "loop"}, ""},
		{tid.TID{Transport: "pcie", Traddr: "192.0.2.1"}, "invalid transport pcie"},
	} {
		if got := c.Refuse(tc.t); got != tc.want {
			t.Errorf("Refuse(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
