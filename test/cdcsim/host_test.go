// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// This file is a minimal NVMe/TCP host, written from the specification and the Linux
// host's behaviour, that drives the simulator in unit tests.

const (
	testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:6f1b3c2a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	testHostID  = "6f1b3c2a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
)

// testLogger sends the simulator's log to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startSim serves a simulator on a loopback TCP listener for the test's duration.
func startSim(t *testing.T, cfg Config) (*Simulator, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("new simulator: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close simulator: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve returned %v after Close", err)
		}
	})
	return s, l.Addr().String()
}

// testHost is one host connection.
type testHost struct {
	t       testing.TB
	conn    net.Conn
	br      *bufio.Reader
	hdgst   bool
	ddgst   bool
	maxH2C  uint32
	nextCID uint16
	// h2cChunk, when set, makes the host send H2CData in pieces of this size.
	h2cChunk uint32
	// pending holds completions that arrived for other commands.
	pending map[uint16]*completion
	// sqflowOff asks for SQ flow control disable in Connect.
	sqflowOff bool
}

type completion struct {
	cid    uint16
	status nvme.Status
	result uint64
	sqhd   uint16
	data   []byte
	// success says the completion came as C2HData SUCCESS, without a response capsule.
	success bool
}

func dialHost(t testing.TB, addr string) *testHost {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return newTestHost(t, c)
}

func newTestHost(t testing.TB, c net.Conn) *testHost {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &testHost{t: t, conn: c, br: bufio.NewReader(c), pending: map[uint16]*completion{}, nextCID: 1}
}

func (h *testHost) write(parts ...[]byte) {
	h.t.Helper()
	for _, p := range parts {
		if _, err := h.conn.Write(p); err != nil {
			h.t.Fatalf("host write: %v", err)
		}
	}
}

func icReq(pfv uint16, hpda, digests uint8) []byte {
	b := make([]byte, icReqLen)
	putCommonHeader(b, commonHeader{typ: pduICReq, hlen: icReqLen, plen: icReqLen})
	binary.LittleEndian.PutUint16(b[8:], pfv)
	b[10] = hpda
	b[11] = digests
	return b
}

// initialize exchanges ICReq/ICResp and returns the ICResp.
func (h *testHost) initialize(hpda, digests uint8) []byte {
	h.t.Helper()
	h.write(icReq(0, hpda, digests))
	resp := make([]byte, icRespLen)
	if _, err := io.ReadFull(h.br, resp); err != nil {
		h.t.Fatalf("read ICResp: %v", err)
	}
	if resp[0] != pduICResp {
		h.t.Fatalf("expected ICResp, got pdu type %#x: %x", resp[0], resp[:24])
	}
	h.hdgst = resp[11]&digestHeader != 0
	h.ddgst = resp[11]&digestData != 0
	h.maxH2C = binary.LittleEndian.Uint32(resp[12:])
	return resp
}

// rxPDU is a PDU the controller sent.
type rxPDU struct {
	hdr  commonHeader
	raw  []byte // header, hlen bytes
	data []byte
}

// readPDU reads and checks one controller PDU.
func (h *testHost) readPDU() (*rxPDU, error) {
	var ch [commonHeaderLen]byte
	if _, err := io.ReadFull(h.br, ch[:]); err != nil {
		return nil, err
	}
	hdr := parseCommonHeader(ch[:])
	raw := make([]byte, hdr.hlen)
	copy(raw, ch[:])
	if _, err := io.ReadFull(h.br, raw[commonHeaderLen:]); err != nil {
		return nil, err
	}
	p := &rxPDU{hdr: hdr, raw: raw}
	if hdr.typ == pduC2HTermReq {
		p.data = make([]byte, hdr.plen-uint32(hdr.hlen))
		_, err := io.ReadFull(h.br, p.data)
		return p, err
	}
	read := uint32(hdr.hlen)
	if h.hdgst {
		if hdr.flags&flagHDGST == 0 {
			return nil, fmt.Errorf("pdu type %#x without header digest", hdr.typ)
		}
		var d [4]byte
		if _, err := io.ReadFull(h.br, d[:]); err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(d[:]) != digest(raw) {
			return nil, fmt.Errorf("bad header digest on pdu type %#x", hdr.typ)
		}
		read += 4
	}
	if hdr.typ != pduC2HData {
		if hdr.plen != read {
			return nil, fmt.Errorf("pdu type %#x: plen %d, header %d", hdr.typ, hdr.plen, read)
		}
		return p, nil
	}
	if pad := int64(hdr.pdo) - int64(read); pad > 0 {
		if _, err := io.CopyN(io.Discard, h.br, pad); err != nil {
			return nil, err
		}
	}
	n := binary.LittleEndian.Uint32(raw[16:])
	var dd uint32
	if h.ddgst {
		dd = 4
	}
	if hdr.plen != uint32(hdr.pdo)+n+dd {
		return nil, fmt.Errorf("C2HData plen %d, pdo %d, data %d", hdr.plen, hdr.pdo, n)
	}
	p.data = make([]byte, n)
	if _, err := io.ReadFull(h.br, p.data); err != nil {
		return nil, err
	}
	if h.ddgst {
		if hdr.flags&flagDDGST == 0 {
			return nil, errors.New("C2HData without data digest flag")
		}
		var d [4]byte
		if _, err := io.ReadFull(h.br, d[:]); err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(d[:]) != digest(p.data) {
			return nil, errors.New("bad data digest")
		}
	}
	return p, nil
}

// expectTerm reads a C2HTermReq and checks FES and FEI, then expects the connection to
// close.
func (h *testHost) expectTerm(fes uint16, fei uint32) {
	h.t.Helper()
	p, err := h.readPDU()
	if err != nil {
		h.t.Fatalf("read C2HTermReq: %v", err)
	}
	if p.hdr.typ != pduC2HTermReq || p.hdr.hlen != termHLen || p.hdr.plen != termHLen+uint32(len(p.data)) {
		h.t.Fatalf("expected C2HTermReq, got type %#x hlen %d plen %d", p.hdr.typ, p.hdr.hlen, p.hdr.plen)
	}
	gotFES, gotFEI := binary.LittleEndian.Uint16(p.raw[8:]), binary.LittleEndian.Uint32(p.raw[10:])
	if gotFES != fes || gotFEI != fei {
		h.t.Errorf("C2HTermReq fes %#x fei %d, want fes %#x fei %d", gotFES, gotFEI, fes, fei)
	}
	if len(p.data) == 0 || len(p.data) > termMaxData {
		h.t.Errorf("C2HTermReq echoes %d bytes of the offending header", len(p.data))
	}
	h.expectClosed()
}

func (h *testHost) expectClosed() {
	h.t.Helper()
	_ = h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := h.br.ReadByte(); err == nil {
		h.t.Fatalf("connection still open")
	}
}

// command is what the host submits.
type command struct {
	sqe sqe
	// write is the data to send; readLen the data expected back.
	write   []byte
	readLen uint32
	// viaR2T sends write data with a transport SGL, so the controller must ask for it.
	viaR2T bool
}

func newSQE(op nvme.Opcode) sqe {
	var s sqe
	s[0] = byte(op)
	s[1] = 0x40 // PSDT: SGL for data
	return s
}

func (s *sqe) setCDW(n int, v uint32) { binary.LittleEndian.PutUint32(s[4*n:], v) }

func (s *sqe) setSGL(typ uint8, length uint32) {
	binary.LittleEndian.PutUint32(s[32:], length)
	s[39] = typ
}

// send transmits a command capsule and returns its CID.
func (h *testHost) send(c command) uint16 {
	h.t.Helper()
	cid := h.nextCID
	h.nextCID++
	s := c.sqe
	binary.LittleEndian.PutUint16(s[2:], cid)
	var inline []byte
	switch {
	case len(c.write) > 0 && !c.viaR2T:
		s.setSGL(sglInCapsule, uint32(len(c.write)))
		inline = c.write
	case len(c.write) > 0:
		s.setSGL(sglTransport, uint32(len(c.write)))
	case c.readLen > 0:
		s.setSGL(sglTransport, c.readLen)
	}
	h.write(h.capsule(s, inline, 0)...)
	if len(c.write) > 0 && c.viaR2T {
		h.answerR2T(cid, c.write)
	}
	return cid
}

// capsule frames a command capsule; flags are added to the header's flags.
func (h *testHost) capsule(s sqe, data []byte, flags uint8) [][]byte {
	hdrEnd := uint32(capsuleCmdHLen)
	if h.hdgst {
		flags |= flagHDGST
		hdrEnd += 4
	}
	var pdo, dd uint32
	if len(data) > 0 {
		pdo = hdrEnd
		if h.ddgst {
			flags |= flagDDGST
			dd = 4
		}
	}
	plen := hdrEnd
	if len(data) > 0 {
		plen = pdo + uint32(len(data)) + dd
	}
	b := make([]byte, capsuleCmdHLen)
	putCommonHeader(b, commonHeader{typ: pduCapsuleCmd, flags: flags, hlen: capsuleCmdHLen, pdo: uint8(pdo), plen: plen})
	copy(b[8:], s[:])
	if h.hdgst {
		b = binary.LittleEndian.AppendUint32(b, digest(b))
	}
	parts := [][]byte{b}
	if len(data) > 0 {
		parts = append(parts, data)
		if h.ddgst {
			parts = append(parts, binary.LittleEndian.AppendUint32(nil, digest(data)))
		}
	}
	return parts
}

// h2cData frames one H2CData PDU.
func (h *testHost) h2cData(cid, ttag uint16, offset uint32, data []byte, last bool) [][]byte {
	var flags uint8
	if last {
		flags |= flagLast
	}
	hdrEnd := uint32(dataHLen)
	if h.hdgst {
		flags |= flagHDGST
		hdrEnd += 4
	}
	var dd uint32
	if h.ddgst {
		flags |= flagDDGST
		dd = 4
	}
	b := make([]byte, dataHLen)
	putCommonHeader(b, commonHeader{typ: pduH2CData, flags: flags, hlen: dataHLen, pdo: uint8(hdrEnd), plen: hdrEnd + uint32(len(data)) + dd})
	binary.LittleEndian.PutUint16(b[8:], cid)
	binary.LittleEndian.PutUint16(b[10:], ttag)
	binary.LittleEndian.PutUint32(b[12:], offset)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(data)))
	if h.hdgst {
		b = binary.LittleEndian.AppendUint32(b, digest(b))
	}
	parts := [][]byte{b, data}
	if h.ddgst {
		parts = append(parts, binary.LittleEndian.AppendUint32(nil, digest(data)))
	}
	return parts
}

// answerR2T waits for the controller's R2T for cid and sends the data it asks for.
func (h *testHost) answerR2T(cid uint16, data []byte) {
	h.t.Helper()
	p := h.next()
	if p.hdr.typ != pduR2T {
		h.t.Fatalf("expected R2T for cid %d, got pdu type %#x", cid, p.hdr.typ)
	}
	le := binary.LittleEndian
	rcid, ttag, off, n := le.Uint16(p.raw[8:]), le.Uint16(p.raw[10:]), le.Uint32(p.raw[12:]), le.Uint32(p.raw[16:])
	if rcid != cid || off != 0 || n != uint32(len(data)) {
		h.t.Fatalf("R2T cid %d offset %d length %d, want cid %d offset 0 length %d", rcid, off, n, cid, len(data))
	}
	chunk := h.maxH2C
	if h.h2cChunk != 0 {
		chunk = h.h2cChunk
	}
	for o := uint32(0); o < n; o += chunk {
		end := min(o+chunk, n)
		h.write(h.h2cData(cid, ttag, o, data[o:end], end == n)...)
	}
}

// next reads the next PDU or fails the test.
func (h *testHost) next() *rxPDU {
	h.t.Helper()
	p, err := h.readPDU()
	if err != nil {
		h.t.Fatalf("host read: %v", err)
	}
	return p
}

// wait reads PDUs until cid completes, keeping other completions aside.
func (h *testHost) wait(cid uint16) *completion {
	h.t.Helper()
	if c, ok := h.pending[cid]; ok {
		delete(h.pending, cid)
		return c
	}
	var data []byte
	for {
		p := h.next()
		le := binary.LittleEndian
		switch p.hdr.typ {
		case pduC2HData:
			dcid, off := le.Uint16(p.raw[8:]), le.Uint32(p.raw[12:])
			if dcid != cid {
				h.t.Fatalf("C2HData for cid %d while waiting for %d", dcid, cid)
			}
			if off != uint32(len(data)) {
				h.t.Fatalf("C2HData offset %d, expected %d", off, len(data))
			}
			data = append(data, p.data...)
			if p.hdr.flags&flagSuccess != 0 {
				if p.hdr.flags&flagLast == 0 {
					h.t.Fatalf("SUCCESS without LAST_PDU")
				}
				return &completion{cid: cid, data: data, success: true}
			}
		case pduCapsuleResp:
			c := &completion{
				result: le.Uint64(p.raw[8:]),
				sqhd:   le.Uint16(p.raw[16:]),
				cid:    le.Uint16(p.raw[20:]),
				status: nvme.Status(le.Uint16(p.raw[22:]) >> 1),
			}
			if c.cid != cid {
				h.pending[c.cid] = c
				continue
			}
			c.data = data
			return c
		default:
			h.t.Fatalf("unexpected pdu type %#x while waiting for cid %d", p.hdr.typ, cid)
		}
	}
}

// do submits a command and waits for it.
func (h *testHost) do(c command) *completion {
	h.t.Helper()
	return h.wait(h.send(c))
}

// expectStatus fails the test when c's status is not want.
func expectStatus(t testing.TB, what string, c *completion, want nvme.Status) {
	t.Helper()
	if c.status != want {
		t.Fatalf("%s: status %v, want %v", what, c.status, want)
	}
}

func connectData(hostID, subNQN, hostNQN string) []byte {
	b := make([]byte, connectDataLen)
	if id, err := nvme.ParseUUID(hostID); err == nil {
		copy(b, id[:])
	}
	binary.LittleEndian.PutUint16(b[16:], 0xffff)
	copy(b[256:], subNQN)
	copy(b[512:], hostNQN)
	return b
}

func connectSQE(qid, sqsize uint16, kato uint32, cattr uint8) sqe {
	s := newSQE(opFabrics)
	s[4] = fctypeConnect
	binary.LittleEndian.PutUint16(s[42:], qid)
	binary.LittleEndian.PutUint16(s[44:], sqsize)
	s[46] = cattr
	binary.LittleEndian.PutUint32(s[48:], kato)
	return s
}

// connect sends the admin queue Connect and returns its completion.
func (h *testHost) connect(subNQN string, kato time.Duration) *completion {
	h.t.Helper()
	var cattr uint8
	if h.sqflowOff {
		cattr = cattrDisableSQFlow
	}
	return h.do(command{sqe: connectSQE(0, 31, uint32(kato/time.Millisecond), cattr), write: connectData(testHostID, subNQN, testHostNQN)})
}

func propGetSQE(offset uint32, eight bool) sqe {
	s := newSQE(opFabrics)
	s[4] = fctypePropertyGet
	if eight {
		s[40] = 1
	}
	binary.LittleEndian.PutUint32(s[44:], offset)
	return s
}

func propSetSQE(offset uint32, value uint64, eight bool) sqe {
	s := newSQE(opFabrics)
	s[4] = fctypePropertySet
	if eight {
		s[40] = 1
	}
	binary.LittleEndian.PutUint32(s[44:], offset)
	binary.LittleEndian.PutUint64(s[48:], value)
	return s
}

// enable connects and enables the controller the way the Linux host does: read CAP,
// write CC with EN (MPS 0, NVM command set, IOSQES/IOCQES), poll CSTS.RDY, read VS.
func (h *testHost) enable(kato time.Duration) uint16 {
	h.t.Helper()
	c := h.connect(nqn.WellKnownDiscovery, kato)
	expectStatus(h.t, "connect", c, statusOK)
	cntlid := uint16(c.result)
	expectStatus(h.t, "read CAP", h.do(command{sqe: propGetSQE(propCAP, true)}), statusOK)
	expectStatus(h.t, "write CC", h.do(command{sqe: propSetSQE(propCC, uint64(6<<16|4<<20|ccEnable), false)}), statusOK)
	csts := h.do(command{sqe: propGetSQE(propCSTS, false)})
	if csts.result&uint64(cstsReady) == 0 {
		h.t.Fatalf("CSTS %#x: not ready after enable", csts.result)
	}
	return cntlid
}

// dial connects, initializes without digests and enables the controller.
func dial(t testing.TB, addr string, kato time.Duration) (*testHost, uint16) {
	t.Helper()
	h := dialHost(t, addr)
	h.initialize(0, 0)
	return h, h.enable(kato)
}

func identifySQE(cns uint8) sqe {
	s := newSQE(nvme.OpIdentify)
	s.setCDW(10, nvme.IdentifyCDW10(cns, 0))
	return s
}

func (h *testHost) identify() *nvme.IdentifyController {
	h.t.Helper()
	c := h.do(command{sqe: identifySQE(nvme.CNSController), readLen: nvme.IdentifySize})
	expectStatus(h.t, "identify", c, statusOK)
	id, err := nvme.DecodeIdentifyController(c.data)
	if err != nil {
		h.t.Fatalf("decode identify: %v", err)
	}
	return id
}

func logSQE(g nvme.GetLogPage) sqe {
	s := newSQE(nvme.OpGetLogPage)
	cdw10, cdw11, cdw12, cdw13, err := g.CDWs()
	if err != nil {
		panic(err)
	}
	s.setCDW(10, cdw10)
	s.setCDW(11, cdw11)
	s.setCDW(12, cdw12)
	s.setCDW(13, cdw13)
	return s
}

func (h *testHost) getLog(lid uint8, offset, length uint64, rae bool) *completion {
	h.t.Helper()
	g := nvme.GetLogPage{LID: lid, Offset: offset, Length: length, RAE: rae}
	return h.do(command{sqe: logSQE(g), readLen: uint32(length)})
}

// readLog reads the whole discovery log as libnvme does: header, entries in 4 KiB
// pieces, header again with RAE clear.
func (h *testHost) readLog() *nvme.DiscoveryLog {
	h.t.Helper()
	hc := h.getLog(nvme.LIDDiscovery, 0, nvme.LogHeaderSize, true)
	expectStatus(h.t, "read log header", hc, statusOK)
	hdr, err := nvme.DecodeLogHeader(hc.data)
	if err != nil {
		h.t.Fatalf("decode log header: %v", err)
	}
	page := append([]byte(nil), hc.data...)
	total := uint64(nvme.LogHeaderSize) + hdr.NumRec*nvme.LogEntrySize
	for off := uint64(nvme.LogHeaderSize); off < total; off += 4096 {
		c := h.getLog(nvme.LIDDiscovery, off, min(4096, total-off), true)
		expectStatus(h.t, "read log entries", c, statusOK)
		page = append(page, c.data...)
	}
	expectStatus(h.t, "re-read log header", h.getLog(nvme.LIDDiscovery, 0, nvme.LogHeaderReadLen, false), statusOK)
	log, err := nvme.DecodeDiscoveryLog(page)
	if err != nil {
		h.t.Fatalf("decode log: %v", err)
	}
	return log
}

func featureSQE(op nvme.Opcode, fid uint8, value uint32) sqe {
	s := newSQE(op)
	s.setCDW(10, uint32(fid))
	s.setCDW(11, value)
	return s
}

// armAENs enables the discovery-change notice as the Linux host does.
func (h *testHost) armAENs() {
	h.t.Helper()
	expectStatus(h.t, "set async event config", h.do(command{sqe: featureSQE(nvme.OpSetFeatures, featAsyncEventConfig, nvme.OAESDiscoveryLogChange)}), statusOK)
}

func dimSQE(task nvme.DIMTask) sqe {
	s := newSQE(nvme.OpDiscoveryInfoMgmt)
	s.setCDW(10, task.CDW10())
	return s
}

func registration(t testing.TB, symname string) []byte {
	t.Helper()
	id, err := nvme.ParseUUID(testHostID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := nvme.NewHostRegistration(nvme.HostRegistration{
		HostNQN: testHostNQN, HostID: id, SymbolicName: symname,
		EntityName: "testhost", EntityVersion: "Linux 6.1.0 Test", AdrFam: nvme.AddressFamilyIPv4,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitEvent waits up to 10 s for an event of kind after seq.
func waitEvent(t testing.TB, s *Simulator, after uint64, kind EventKind) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.WaitEvent(ctx, after, func(e Event) bool { return e.Kind == kind })
	if err != nil {
		t.Fatalf("no %s event: %v\nevents: %v", kind, err, s.Events())
	}
	return e
}
