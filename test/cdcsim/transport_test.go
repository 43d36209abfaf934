// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

func TestICRespMatchesNvmet(t *testing.T) {
	_, addr := startSim(t, Config{})
	h := dialHost(t, addr)
	resp := h.initialize(0, 0)
	h0 := parseCommonHeader(resp)
	if h0.typ != pduICResp || h0.flags != 0 || h0.hlen != icRespLen || h0.pdo != 0 || h0.plen != icRespLen {
		t.Errorf("ICResp header %+v", h0)
	}
	if pfv := binary.LittleEndian.Uint16(resp[8:]); pfv != 0 {
		t.Errorf("PFV %d", pfv)
	}
	if resp[10] != 0 || resp[11] != 0 {
		t.Errorf("CPDA %d digest %#x, want 0 and 0 (no digests unless asked)", resp[10], resp[11])
	}
	if got := binary.LittleEndian.Uint32(resp[12:]); got != DefaultMaxH2CData {
		t.Errorf("MAXH2CDATA %#x, want %#x", got, DefaultMaxH2CData)
	}
	if !bytes.Equal(resp[16:], make([]byte, icRespLen-16)) {
		t.Errorf("reserved bytes not zero")
	}
}

// TestDigests runs a whole session with header and data digests on, in-capsule and R2T
// data included.
func TestDigests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		digests uint8
	}{
		{"header", digestHeader},
		{"data", digestData},
		{"both", digestHeader | digestData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startSim(t, Config{DCType: nvme.DCTypeCDC, Entries: GenerateEntries(9, "192.0.2.2", "4420")})
			h := dialHost(t, addr)
			resp := h.initialize(0, tc.digests)
			if resp[11] != tc.digests {
				t.Fatalf("ICResp digest %#x, want %#x", resp[11], tc.digests)
			}
			h.enable(0)
			if id := h.identify(); id.CntrlType != nvme.ControllerTypeDiscovery {
				t.Errorf("cntrltype %v", id.CntrlType)
			}
			if log := h.readLog(); len(log.Entries) != 9 {
				t.Errorf("log has %d entries", len(log.Entries))
			}
			h.h2cChunk = 1000
			c := h.do(command{sqe: dimSQE(nvme.DIMRegister), write: registration(t, "digests"), viaR2T: true})
			expectStatus(t, "register", c, statusOK)
			if r, ok := s.Registration(testHostNQN); !ok || r.SymbolicName != "digests" {
				t.Errorf("registration %+v %v", r, ok)
			}
		})
	}
}

func TestHostPDUAlignment(t *testing.T) {
	_, addr := startSim(t, Config{Entries: GenerateEntries(2, "192.0.2.2", "4420")})
	h := dialHost(t, addr)
	h.initialize(3, digestHeader) // data aligned to 16 bytes
	h.enable(0)
	cid := h.send(command{sqe: identifySQE(nvme.CNSController), readLen: nvme.IdentifySize})
	p := h.next()
	if p.hdr.typ != pduC2HData || p.hdr.pdo != 32 {
		t.Fatalf("C2HData pdo %d, want 32 (28 rounded to 16)", p.hdr.pdo)
	}
	if c := h.wait(cid); c.status != statusOK {
		t.Fatalf("identify status %v", c.status)
	}
}

func TestICReqRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		pdu  []byte
		fes  uint16
		fei  uint32
	}{
		{"pfv", icReq(1, 0, 0), fesUnsupportedParameter, offPFV},
		{"hpda", icReq(0, 32, 0), fesInvalidHeaderField, offHPDA},
		{"capsule first", func() []byte {
			b := make([]byte, capsuleCmdHLen)
			putCommonHeader(b, commonHeader{typ: pduCapsuleCmd, hlen: capsuleCmdHLen, plen: capsuleCmdHLen})
			return b
		}(), fesPDUSequenceError, offType},
		{"icreq plen", func() []byte {
			b := icReq(0, 0, 0)
			binary.LittleEndian.PutUint32(b[4:], 200)
			return b
		}(), fesInvalidHeaderField, offPLen},
		{"icreq hlen", func() []byte {
			b := icReq(0, 0, 0)
			b[2] = 64
			return b
		}(), fesInvalidHeaderField, offHLen},
		{"controller pdu type", func() []byte {
			b := icReq(0, 0, 0)
			b[0] = pduICResp
			return b
		}(), fesInvalidHeaderField, offType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startSim(t, Config{})
			h := dialHost(t, addr)
			h.write(tc.pdu)
			h.expectTerm(tc.fes, tc.fei)
			waitEvent(t, s, 0, EventProtocolError)
		})
	}
}

func TestFatalTransportErrors(t *testing.T) {
	cases := []struct {
		name    string
		digests uint8
		send    func(h *testHost) [][]byte
		fes     uint16
		fei     uint32
	}{
		{"second icreq", 0, func(*testHost) [][]byte { return [][]byte{icReq(0, 0, 0)} }, fesPDUSequenceError, offType},
		{"unknown type", 0, func(*testHost) [][]byte {
			b := make([]byte, 24)
			putCommonHeader(b, commonHeader{typ: 0x0e, hlen: 24, plen: 24})
			return [][]byte{b}
		}, fesInvalidHeaderField, offType},
		{"capsule hlen", 0, func(h *testHost) [][]byte {
			parts := h.capsule(newSQE(nvme.OpKeepAlive), nil, 0)
			parts[0][2] = 70
			return parts
		}, fesInvalidHeaderField, offHLen},
		{"capsule plen short", 0, func(h *testHost) [][]byte {
			parts := h.capsule(newSQE(nvme.OpKeepAlive), nil, 0)
			binary.LittleEndian.PutUint32(parts[0][4:], 60)
			return parts
		}, fesInvalidHeaderField, offPLen},
		{"capsule pdo", 0, func(h *testHost) [][]byte {
			parts := h.capsule(newSQE(nvme.OpDiscoveryInfoMgmt), make([]byte, 16), 0)
			parts[0][3] = 40
			return parts
		}, fesInvalidHeaderField, offPDO},
		{"in-capsule data too long", 0, func(h *testHost) [][]byte {
			return h.capsule(newSQE(nvme.OpDiscoveryInfoMgmt), make([]byte, DefaultInCapsuleDataSize+4), 0)
		}, fesDataLimitExceeded, 0},
		{"header digest missing", digestHeader, func(h *testHost) [][]byte {
			h.hdgst = false
			defer func() { h.hdgst = true }()
			return h.capsule(newSQE(nvme.OpKeepAlive), nil, 0)
		}, fesInvalidHeaderField, offFlags},
		{"header digest wrong", digestHeader, func(h *testHost) [][]byte {
			parts := h.capsule(newSQE(nvme.OpKeepAlive), nil, 0)
			parts[0][capsuleCmdHLen] ^= 0xff
			return parts
		}, fesHeaderDigestError, 0},
		{"data digest flag missing", digestData, func(h *testHost) [][]byte {
			parts := h.capsule(newSQE(nvme.OpDiscoveryInfoMgmt), make([]byte, 8), 0)
			parts[0][1] &^= flagDDGST
			return parts
		}, fesInvalidHeaderField, offFlags},
		{"h2c unknown ttag", 0, func(h *testHost) [][]byte {
			return h.h2cData(1, 77, 0, make([]byte, 8), true)
		}, fesInvalidHeaderField, offTTag},
		{"h2c without data", 0, func(h *testHost) [][]byte {
			return h.h2cData(1, 1, 0, nil, true)
		}, fesInvalidHeaderField, offPLen},
		{"h2c data_length", 0, func(h *testHost) [][]byte {
			parts := h.h2cData(1, 1, 0, make([]byte, 8), true)
			binary.LittleEndian.PutUint32(parts[0][16:], 4)
			return parts
		}, fesInvalidHeaderField, offDataLn},
		{"term req plen", 0, func(*testHost) [][]byte {
			b := make([]byte, termHLen)
			putCommonHeader(b, commonHeader{typ: pduH2CTermReq, hlen: termHLen, plen: 400})
			return [][]byte{b}
		}, fesInvalidHeaderField, offPLen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startSim(t, Config{})
			h := dialHost(t, addr)
			h.initialize(0, tc.digests)
			h.write(tc.send(h)...)
			h.expectTerm(tc.fes, tc.fei)
		})
	}
}

func TestR2TTransferErrors(t *testing.T) {
	type step func(h *testHost, cid, ttag uint16, data []byte) [][]byte
	cases := []struct {
		name string
		send step
		fes  uint16
		fei  uint32
	}{
		{"wrong cid", func(h *testHost, cid, ttag uint16, data []byte) [][]byte {
			return h.h2cData(cid+1, ttag, 0, data, true)
		}, fesInvalidHeaderField, offCCCID},
		{"wrong offset", func(h *testHost, cid, ttag uint16, data []byte) [][]byte {
			return h.h2cData(cid, ttag, 4, data[4:], true)
		}, fesInvalidHeaderField, offDataOf},
		{"past the end", func(h *testHost, cid, ttag uint16, data []byte) [][]byte {
			return h.h2cData(cid, ttag, 0, append(data, 1, 2, 3, 4), true)
		}, fesDataOutOfRange, 0},
		{"last too early", func(h *testHost, cid, ttag uint16, data []byte) [][]byte {
			return h.h2cData(cid, ttag, 0, data[:1024], true)
		}, fesInvalidHeaderField, offFlags},
		{"last missing", func(h *testHost, cid, ttag uint16, data []byte) [][]byte {
			return h.h2cData(cid, ttag, 0, data, false)
		}, fesInvalidHeaderField, offFlags},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startSim(t, Config{DCType: nvme.DCTypeCDC})
			h, _ := dial(t, addr, 0)
			data := registration(t, "")
			s := dimSQE(nvme.DIMRegister)
			binary.LittleEndian.PutUint16(s[2:], 99)
			s.setSGL(sglTransport, uint32(len(data)))
			h.write(h.capsule(s, nil, 0)...)
			p := h.next()
			if p.hdr.typ != pduR2T {
				t.Fatalf("expected R2T, got %#x", p.hdr.typ)
			}
			ttag := binary.LittleEndian.Uint16(p.raw[10:])
			h.write(tc.send(h, 99, ttag, data)...)
			h.expectTerm(tc.fes, tc.fei)
		})
	}
}

func TestDataDigestErrorIsTransient(t *testing.T) {
	_, addr := startSim(t, Config{DCType: nvme.DCTypeCDC})
	h := dialHost(t, addr)
	h.initialize(0, digestData)
	h.enable(0)
	data := registration(t, "")

	// In the capsule.
	s := dimSQE(nvme.DIMRegister)
	binary.LittleEndian.PutUint16(s[2:], 50)
	s.setSGL(sglInCapsule, uint32(len(data)))
	parts := h.capsule(s, data, 0)
	parts[2][0] ^= 1
	h.write(parts...)
	expectStatus(t, "corrupted in-capsule data", h.wait(50), statusTransientTransprt)

	// Through R2T.
	s = dimSQE(nvme.DIMRegister)
	binary.LittleEndian.PutUint16(s[2:], 51)
	s.setSGL(sglTransport, uint32(len(data)))
	h.write(h.capsule(s, nil, 0)...)
	p := h.next()
	ttag := binary.LittleEndian.Uint16(p.raw[10:])
	parts = h.h2cData(51, ttag, 0, data, true)
	parts[2][0] ^= 1
	h.write(parts...)
	expectStatus(t, "corrupted H2C data", h.wait(51), statusTransientTransprt)
}

func TestSGLChecks(t *testing.T) {
	_, addr := startSim(t, Config{DCType: nvme.DCTypeCDC})
	h, _ := dial(t, addr, 0)
	send := func(s sqe, data []byte) *completion {
		cid := h.nextCID
		h.nextCID++
		binary.LittleEndian.PutUint16(s[2:], cid)
		h.write(h.capsule(s, data, 0)...)
		return h.wait(cid)
	}
	// In-capsule data with a transport descriptor.
	s := dimSQE(nvme.DIMRegister)
	s.setSGL(sglTransport, 8)
	expectStatus(t, "in-capsule data, transport SGL", send(s, make([]byte, 8)), statusSGLType)
	// In-capsule data longer than the descriptor says.
	s.setSGL(sglInCapsule, 4)
	expectStatus(t, "length mismatch", send(s, make([]byte, 8)), statusSGLLength)
	// In-capsule data on a read command.
	s = identifySQE(nvme.CNSController)
	s.setSGL(sglInCapsule, 8)
	expectStatus(t, "data on a read", send(s, make([]byte, 8)), statusInvalidField)
	// A read with an in-capsule descriptor and no data.
	expectStatus(t, "read into the capsule", send(s, nil), statusInvalidField)
	// A write whose in-capsule descriptor has no data behind it.
	s = dimSQE(nvme.DIMRegister)
	s.setSGL(sglInCapsule, 8)
	expectStatus(t, "missing in-capsule data", send(s, nil), statusSGLLength)
	// A write too large to fetch.
	s.setSGL(sglTransport, maxWriteData+4)
	expectStatus(t, "huge write", send(s, nil), statusSGLLength)
}

func TestSQFlowControlDisabled(t *testing.T) {
	_, addr := startSim(t, Config{Entries: GenerateEntries(3, "192.0.2.2", "4420")})
	h := dialHost(t, addr)
	h.sqflowOff = true
	h.initialize(0, 0)
	h.enable(0)
	c := h.do(command{sqe: identifySQE(nvme.CNSController), readLen: nvme.IdentifySize})
	if !c.success || len(c.data) != nvme.IdentifySize {
		t.Fatalf("identify: success flag %v, %d bytes; want the C2HData SUCCESS flag instead of a response", c.success, len(c.data))
	}
	// Commands without data still get a response capsule.
	expectStatus(t, "keep alive", h.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
}

func TestHostTermReqEndsConnection(t *testing.T) {
	s, addr := startSim(t, Config{})
	h := dialHost(t, addr)
	h.initialize(0, 0)
	b := make([]byte, termHLen+8)
	putCommonHeader(b, commonHeader{typ: pduH2CTermReq, hlen: termHLen, plen: termHLen + 8})
	binary.LittleEndian.PutUint16(b[8:], fesPDUSequenceError)
	h.write(b)
	h.expectClosed()
	e := waitEvent(t, s, 0, EventDisconnected)
	if !bytes.Contains([]byte(e.Detail), []byte("H2CTermReq")) {
		t.Errorf("disconnect reason %q", e.Detail)
	}
}

func TestICReqTimeout(t *testing.T) {
	s, addr := startSim(t, Config{ICReqTimeout: 100 * time.Millisecond})
	h := dialHost(t, addr)
	h.expectClosed()
	e := waitEvent(t, s, 0, EventDisconnected)
	if !bytes.Contains([]byte(e.Detail), []byte("no ICReq")) {
		t.Errorf("disconnect reason %q", e.Detail)
	}
}

// TestPipe serves a connection without a TCP address (DIM then has no socket address
// to record).
func TestPipe(t *testing.T) {
	s, err := New(Config{DCType: nvme.DCTypeDDC, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client, server := net.Pipe()
	defer client.Close()
	s.ServeConn(server)
	h := newTestHost(t, client)
	h.initialize(0, 0)
	h.enable(0)
	expectStatus(t, "register", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: registration(t, "")}), statusOK)
	r, ok := s.Registration(testHostNQN)
	if !ok || r.TrAddr != "" || r.Source.IsValid() {
		t.Errorf("registration over a pipe: %+v", r)
	}
	if id := h.identify(); id.DCType != nvme.DCTypeDDC || id.SubNQN != nqn.WellKnownDiscovery {
		t.Errorf("identify: dctype %v subnqn %q", id.DCType, id.SubNQN)
	}
}
