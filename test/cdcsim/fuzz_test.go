// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// fuzzLimits derives the reader's state from the fuzzer's mode byte.
func fuzzLimits(mode uint8) rxLimits {
	return rxLimits{
		established:  mode&1 != 0,
		hdgst:        mode&2 != 0,
		ddgst:        mode&4 != 0,
		maxInCapsule: 8192,
		maxH2CData:   4096,
	}
}

// fuzzSeeds are well-formed host PDU streams for each mode.
func fuzzSeeds() []struct {
	data []byte
	mode uint8
} {
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	var out []struct {
		data []byte
		mode uint8
	}
	out = append(out, struct {
		data []byte
		mode uint8
	}{icReq(0, 0, digestHeader|digestData), 0})
	for mode := uint8(1); mode < 8; mode += 2 {
		h := &testHost{hdgst: mode&2 != 0, ddgst: mode&4 != 0}
		cmd := connectSQE(0, 31, 15000, 0)
		stream := join(
			join(h.capsule(cmd, connectData(testHostID, "nqn.2014-08.org.nvmexpress.discovery", testHostNQN), 0)...),
			join(h.capsule(newSQE(0x18), nil, 0)...),
			join(h.h2cData(3, 1, 0, bytes.Repeat([]byte{0xab}, 100), true)...),
		)
		term := make([]byte, termHLen+8)
		putCommonHeader(term, commonHeader{typ: pduH2CTermReq, hlen: termHLen, plen: termHLen + 8})
		stream = append(stream, term...)
		out = append(out, struct {
			data []byte
			mode uint8
		}{stream, mode})
	}
	return out
}

// FuzzReadPDU feeds arbitrary bytes to the PDU reader in each state: it must never
// panic, must bound what it accepts, and what it accepts must re-encode to the same PDU.
func FuzzReadPDU(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.data, s.mode)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		lim := fuzzLimits(mode)
		r := bytes.NewReader(data)
		for range 16 {
			p, err := readPDU(r, &lim)
			if err != nil {
				var te *termError
				if errors.As(err, &te) {
					if te.fes < fesInvalidHeaderField || te.fes > fesUnsupportedParameter || len(te.hdr) > termMaxData {
						t.Fatalf("term error fes %#x with %d header bytes", te.fes, len(te.hdr))
					}
					b := encodeC2HTermReq(te)
					if plen := binary.LittleEndian.Uint32(b[4:]); plen != uint32(len(b)) || plen > termHLen+termMaxData {
						t.Fatalf("C2HTermReq plen %d, %d bytes", plen, len(b))
					}
				}
				return
			}
			hlen, ok := expectedHLen(p.hdr.typ)
			if !ok || len(p.raw) != hlen || int(p.hdr.hlen) != hlen {
				t.Fatalf("accepted pdu type %#x with %d header bytes", p.hdr.typ, len(p.raw))
			}
			switch p.hdr.typ {
			case pduCapsuleCmd:
				if uint32(len(p.data)) > lim.maxInCapsule {
					t.Fatalf("in-capsule data %d over the limit", len(p.data))
				}
				if p.dataErr != nil {
					continue
				}
				// Re-encode canonically and read it back.
				h := &testHost{hdgst: lim.hdgst, ddgst: lim.ddgst}
				again, err := readPDU(bytes.NewReader(bytes.Join(h.capsule(p.sqe, p.data, 0), nil)), &lim)
				if err != nil || again.sqe != p.sqe || !bytes.Equal(again.data, p.data) {
					t.Fatalf("capsule does not round-trip: %v", err)
				}
			case pduH2CData:
				if len(p.data) == 0 || uint32(len(p.data)) > lim.maxH2CData || p.dataLength != uint32(len(p.data)) {
					t.Fatalf("H2CData with %d bytes, data_length %d", len(p.data), p.dataLength)
				}
			case pduICReq:
				if lim.established {
					t.Fatalf("ICReq accepted after the ICReq")
				}
			case pduH2CTermReq:
				if len(p.data) > termMaxData {
					t.Fatalf("H2CTermReq with %d bytes", len(p.data))
				}
			}
		}
	})
}

// TestFuzzSeedsParse makes sure the seeds reach the reader's success paths.
func TestFuzzSeedsParse(t *testing.T) {
	for i, s := range fuzzSeeds() {
		lim := fuzzLimits(s.mode)
		r := bytes.NewReader(s.data)
		n := 0
		for {
			p, err := readPDU(r, &lim)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("seed %d: pdu %d: %v", i, n, err)
				}
				break
			}
			if p.dataErr != nil {
				t.Errorf("seed %d: pdu %d: %v", i, n, p.dataErr)
			}
			n++
		}
		want := 4
		if s.mode == 0 {
			want = 1
		}
		if n != want {
			t.Errorf("seed %d: %d pdus, want %d", i, n, want)
		}
	}
}

func TestReadPDUTruncated(t *testing.T) {
	h := &testHost{hdgst: true, ddgst: true}
	full := bytes.Join(h.capsule(newSQE(0x21), make([]byte, 64), 0), nil)
	lim := fuzzLimits(7)
	for _, n := range []int{3, 20, 74, 80, 140, len(full) - 2} {
		if _, err := readPDU(bytes.NewReader(full[:n]), &lim); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(full), err)
		}
	}
	if _, err := readPDU(bytes.NewReader(nil), &lim); !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: %v", err)
	}
}
