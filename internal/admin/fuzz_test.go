// SPDX-License-Identifier: Apache-2.0

package admin

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// FuzzDiscoveryLog serves arbitrary bytes as a controller's discovery log, optionally
// changing its header during the read as mode says, and checks that DiscoveryLog never
// panics, ends every successful read with RAE clear, and returns what the final header
// announced.
func FuzzDiscoveryLog(f *testing.F) {
	for _, n := range []int{0, 1, 5} {
		page, err := testLog(n, uint64(n)).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(page, uint8(0))
		f.Add(page, uint8(1|3<<2))
		f.Add(page, uint8(2))
	}
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, 20), uint8(3))

	f.Fuzz(func(t *testing.T, page []byte, mode uint8) {
		page = append([]byte(nil), page...)
		if len(page) >= 16 {
			// Keep allocations small: large counts within the limit cost time, not
			// coverage; counts above it are kept to exercise the refusal.
			if n := binary.LittleEndian.Uint64(page[8:]); n <= nvme.MaxLogRecords && n > 64 {
				binary.LittleEndian.PutUint64(page[8:], n%65)
			}
		}
		fake := &fakeDC{fail: map[nvme.Opcode]error{}, page: page}
		fake.after = func(f *fakeDC, c fakeCmd) {
			if len(f.page) < 16 {
				return
			}
			if mode&1 != 0 && c.isHeaderRead() { // bump genctr on every header read
				binary.LittleEndian.PutUint64(f.page, binary.LittleEndian.Uint64(f.page)+1)
			}
			if mode&2 != 0 && !c.isHeaderRead() { // shrink numrec after an entries read
				if n := binary.LittleEndian.Uint64(f.page[8:]); n > 0 {
					binary.LittleEndian.PutUint64(f.page[8:], n-1)
				}
			}
		}
		d := NewDevice("fuzz0", fake)
		d.MaxRetries = 1 + int(mode>>2)%8
		l, err := d.DiscoveryLog(context.Background(), 0)
		cmds := fake.commands()
		for _, c := range cmds {
			if c.Log.Length == 0 || c.Log.Length > LogPieceSize || c.Log.Length%4 != 0 {
				t.Fatalf("command %+v", c)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrUnstableLog) && !errors.Is(err, ErrInconsistentLog) && !errors.Is(err, nvme.ErrMalformed) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		last := cmds[len(cmds)-1]
		if !last.isHeaderRead() || last.Log.RAE {
			t.Fatalf("last command %+v", last)
		}
		h := fake.header()
		if len(fake.page) < 20 {
			var hb [20]byte
			copy(hb[:], fake.page)
			h, _ = nvme.DecodeLogHeader(hb[:])
		}
		if l.GenCtr != h.GenCtr || uint64(len(l.Entries)) != h.NumRec {
			t.Fatalf("got genctr %d with %d entries, header says %+v", l.GenCtr, len(l.Entries), h)
		}
	})
}
