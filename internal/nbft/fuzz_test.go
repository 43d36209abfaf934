// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// FuzzParse feeds Parse arbitrary tables; a table whose checksum the fuzzer broke is
// repaired half of the time so that the decoding past the checksum is explored too.
// Whatever Parse accepts must convert to controllers without panicking, and every
// identity it yields must carry valid, kernel-safe text.
func FuzzParse(f *testing.F) {
	f.Add(readFixture(f, "NBFT"), false)
	f.Add(readFixture(f, "NBFT-Empty"), false)
	f.Add(bytes.Repeat([]byte{0xca, 0xfe, 0xba, 0xbe}, 64), false)
	f.Add(goodSpec().build(), true)
	f.Fuzz(func(t *testing.T, data []byte, repair bool) {
		if repair && len(data) >= 10 {
			data = bytes.Clone(data)
			fixChecksum(data)
		}
		tbl, err := Parse(data)
		if err != nil {
			if tbl != nil {
				t.Fatalf("Parse returned a table and an error: %v", err)
			}
			return
		}
		lookup := func(mac string, vlan uint16) string { return "eth0" }
		dcs, ios, _ := Controllers([]*Table{tbl}, lookup)
		check := func(id tid.TID) {
			if _, err := netip.ParseAddr(id.Traddr); err != nil || id.Trsvcid == "" || id.Transport == "" {
				t.Fatalf("bad address fields in %+v", id)
			}
			if err := nqn.ValidateSubsystem(id.SubsysNQN); err != nil {
				t.Fatalf("bad subsystem NQN in %+v: %v", id, err)
			}
			if id.HostNQN != "" && nqn.ValidateHost(id.HostNQN) != nil {
				t.Fatalf("bad host NQN in %+v", id)
			}
		}
		for _, d := range dcs {
			check(d)
		}
		for _, c := range ios {
			check(c.TID)
			if !IsBootConnection(c.TID, ios) {
				t.Fatalf("I/O controller %+v is not its own boot connection", c.TID)
			}
		}
		for _, s := range tbl.Subsystems {
			_ = s.NIDString()
		}
		for _, h := range tbl.HFIs {
			_, _ = h.PCIDev(), h.Prefix()
		}
	})
}
