// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// NVMe/TCP PDU types (include/linux/nvme-tcp.h, enum nvme_tcp_pdu_type).
const (
	pduICReq       uint8 = 0x00
	pduICResp      uint8 = 0x01
	pduH2CTermReq  uint8 = 0x02
	pduC2HTermReq  uint8 = 0x03
	pduCapsuleCmd  uint8 = 0x04
	pduCapsuleResp uint8 = 0x05
	pduH2CData     uint8 = 0x06
	pduC2HData     uint8 = 0x07
	pduR2T         uint8 = 0x09
)

// PDU header flags (enum nvme_tcp_pdu_flags).
const (
	flagHDGST   uint8 = 1 << 0
	flagDDGST   uint8 = 1 << 1
	flagLast    uint8 = 1 << 2 // LAST_PDU of a data transfer
	flagSuccess uint8 = 1 << 3 // C2HData: the command succeeded, no response capsule follows
)

// Digest negotiation bits of ICReq/ICResp.
const (
	digestHeader uint8 = 1 << 0
	digestData   uint8 = 1 << 1
)

// PDU sizes.
const (
	commonHeaderLen = 8
	icReqLen        = 128
	icRespLen       = 128
	capsuleCmdHLen  = 8 + sqeLen // 72
	capsuleRespHLen = 8 + cqeLen // 24
	dataHLen        = 24         // H2CData and C2HData
	r2tHLen         = 24
	termHLen        = 24
	termMaxData     = 128 // a TermReq carries at most this much of the offending PDU (plen ≤ 152)
	digestLen       = 4
	// minMaxH2CData is the smallest MAXH2CDATA a host accepts (NVME_TCP_MIN_MAXH2CDATA).
	minMaxH2CData = 4096
)

// Fatal error status values of a C2HTermReq (enum nvme_tcp_fatal_error_status).
const (
	fesInvalidHeaderField   uint16 = 0x01
	fesPDUSequenceError     uint16 = 0x02
	fesHeaderDigestError    uint16 = 0x03
	fesDataOutOfRange       uint16 = 0x04
	fesDataLimitExceeded    uint16 = 0x05
	fesUnsupportedParameter uint16 = 0x06
)

// Byte offsets of header fields, used as the FEI of an "invalid header field" error.
const (
	offType   = 0
	offFlags  = 1
	offHLen   = 2
	offPDO    = 3
	offPLen   = 4
	offPFV    = 8  // ICReq
	offHPDA   = 10 // ICReq
	offCCCID  = 8  // H2CData command_id
	offTTag   = 10 // H2CData ttag
	offDataOf = 12 // H2CData data_offset
	offDataLn = 16 // H2CData data_length
)

// maxHPDA is the largest host PDU data alignment (5 bits, 0's based dwords).
const maxHPDA = 31

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// digest is the NVMe/TCP header or data digest: CRC-32C, sent little endian.
func digest(bs ...[]byte) uint32 {
	var c uint32
	for _, b := range bs {
		c = crc32.Update(c, castagnoli, b)
	}
	return c
}

// termError is a fatal transport error found in a PDU the host sent: the controller
// answers it with a C2HTermReq carrying FES, FEI and the start of the offending header,
// then closes the connection.
type termError struct {
	fes uint16
	fei uint32
	hdr []byte // the offending PDU header as received, at most termMaxData bytes
	msg string
}

func (e *termError) Error() string {
	return fmt.Sprintf("nvme/tcp fatal error (fes %#x, fei %d): %s", e.fes, e.fei, e.msg)
}

func newTermError(fes uint16, fei uint32, hdr []byte, format string, args ...any) *termError {
	h := hdr
	if len(h) > termMaxData {
		h = h[:termMaxData]
	}
	return &termError{fes: fes, fei: fei, hdr: append([]byte(nil), h...), msg: fmt.Sprintf(format, args...)}
}

// errDataDigest marks a PDU whose data digest did not match. It is not fatal: the
// command the data belongs to completes with Transient Transport Error.
var errDataDigest = errors.New("data digest mismatch")

// commonHeader is the 8-byte header every PDU starts with.
type commonHeader struct {
	typ   uint8
	flags uint8
	hlen  uint8
	pdo   uint8
	plen  uint32
}

func parseCommonHeader(b []byte) commonHeader {
	return commonHeader{typ: b[0], flags: b[1], hlen: b[2], pdo: b[3], plen: binary.LittleEndian.Uint32(b[4:])}
}

func putCommonHeader(b []byte, h commonHeader) {
	b[0], b[1], b[2], b[3] = h.typ, h.flags, h.hlen, h.pdo
	binary.LittleEndian.PutUint32(b[4:], h.plen)
}

// rxLimits is what the reader of a connection accepts. Before the ICReq exchange only an
// ICReq is valid; afterwards the digests and data sizes negotiated there apply.
type rxLimits struct {
	established  bool
	hdgst, ddgst bool
	maxInCapsule uint32 // in-capsule data of a command capsule
	maxH2CData   uint32 // data of one H2CData PDU
}

// pdu is one PDU received from the host, with its data (in-capsule or H2C) read.
type pdu struct {
	hdr commonHeader
	// raw is the PDU header as received (hlen bytes), for a TermReq's echo.
	raw []byte

	// ICReq
	pfv    uint16
	hpda   uint8
	digest uint8
	maxr2t uint32

	// CapsuleCmd
	sqe sqe

	// H2CData
	cid        uint16
	ttag       uint16
	dataOffset uint32
	dataLength uint32

	// H2CTermReq
	fes uint16
	fei uint32

	// data is the in-capsule data, the H2CData payload, or the TermReq's echo.
	data []byte
	// dataErr is errDataDigest when the data digest did not match.
	dataErr error
}

// expectedHLen returns the header length of the PDU types a controller receives.
func expectedHLen(typ uint8) (int, bool) {
	switch typ {
	case pduICReq:
		return icReqLen, true
	case pduCapsuleCmd:
		return capsuleCmdHLen, true
	case pduH2CData:
		return dataHLen, true
	case pduH2CTermReq:
		return termHLen, true
	}
	return 0, false
}

// readPDU reads one PDU the host sent. It returns io.EOF when the connection ends
// cleanly between PDUs, a *termError for a PDU the controller must refuse, and other
// errors for I/O failures. A data digest mismatch is reported in pdu.dataErr.
func readPDU(r io.Reader, lim *rxLimits) (*pdu, error) {
	var ch [commonHeaderLen]byte
	if _, err := io.ReadFull(r, ch[:]); err != nil {
		return nil, err
	}
	h := parseCommonHeader(ch[:])
	hlen, known := expectedHLen(h.typ)
	switch {
	case !known:
		return nil, newTermError(fesInvalidHeaderField, offType, ch[:], "unexpected pdu type %#x", h.typ)
	case !lim.established && h.typ != pduICReq:
		return nil, newTermError(fesPDUSequenceError, offType, ch[:], "pdu type %#x before ICReq", h.typ)
	case lim.established && h.typ == pduICReq:
		return nil, newTermError(fesPDUSequenceError, offType, ch[:], "second ICReq")
	case int(h.hlen) != hlen:
		return nil, newTermError(fesInvalidHeaderField, offHLen, ch[:], "pdu type %#x: hlen %d, expected %d", h.typ, h.hlen, hlen)
	}

	// Digests apply to command capsules and data PDUs only, once negotiated.
	var hd, dd uint32
	if h.typ == pduCapsuleCmd || h.typ == pduH2CData {
		if lim.hdgst != (h.flags&flagHDGST != 0) {
			return nil, newTermError(fesInvalidHeaderField, offFlags, ch[:], "header digest flag %v, negotiated %v", h.flags&flagHDGST != 0, lim.hdgst)
		}
		if lim.hdgst {
			hd = digestLen
		}
		if lim.ddgst {
			dd = digestLen
		}
	}

	// Bound plen before reading anything else, so a hostile length cannot make the
	// reader allocate or wait for gigabytes.
	hdrEnd := uint32(hlen) + hd
	var dataLen, pdo uint32
	switch h.typ {
	case pduICReq:
		if h.plen != icReqLen {
			return nil, newTermError(fesInvalidHeaderField, offPLen, ch[:], "ICReq plen %d, expected %d", h.plen, icReqLen)
		}
	case pduH2CTermReq:
		if h.plen < termHLen || h.plen > termHLen+termMaxData {
			return nil, newTermError(fesInvalidHeaderField, offPLen, ch[:], "H2CTermReq plen %d outside %d..%d", h.plen, termHLen, termHLen+termMaxData)
		}
		dataLen = h.plen - termHLen
		pdo = termHLen
	case pduCapsuleCmd, pduH2CData:
		if h.plen < hdrEnd {
			return nil, newTermError(fesInvalidHeaderField, offPLen, ch[:], "plen %d shorter than the header (%d)", h.plen, hdrEnd)
		}
		if h.plen > hdrEnd {
			pdo = uint32(h.pdo)
			if pdo < hdrEnd || pdo%4 != 0 || pdo+dd > h.plen {
				return nil, newTermError(fesInvalidHeaderField, offPDO, ch[:], "pdo %d invalid for hlen %d and plen %d", h.pdo, hlen, h.plen)
			}
			if dd != 0 && h.flags&flagDDGST == 0 {
				return nil, newTermError(fesInvalidHeaderField, offFlags, ch[:], "data digest negotiated but the flag is clear")
			}
			dataLen = h.plen - pdo - dd
		}
		max := lim.maxInCapsule
		if h.typ == pduH2CData {
			max = lim.maxH2CData
			if dataLen == 0 {
				return nil, newTermError(fesInvalidHeaderField, offPLen, ch[:], "H2CData without data")
			}
		}
		if dataLen > max {
			return nil, newTermError(fesDataLimitExceeded, 0, ch[:], "pdu type %#x carries %d bytes of data, the limit is %d", h.typ, dataLen, max)
		}
	}

	raw := make([]byte, hlen)
	copy(raw, ch[:])
	if _, err := io.ReadFull(r, raw[commonHeaderLen:]); err != nil {
		return nil, unexpectedEOF(err)
	}
	if hd != 0 {
		var d [digestLen]byte
		if _, err := io.ReadFull(r, d[:]); err != nil {
			return nil, unexpectedEOF(err)
		}
		if got, want := binary.LittleEndian.Uint32(d[:]), digest(raw); got != want {
			return nil, newTermError(fesHeaderDigestError, 0, raw, "header digest %#08x, expected %#08x", got, want)
		}
	}
	p := &pdu{hdr: h, raw: raw}
	le := binary.LittleEndian
	switch h.typ {
	case pduICReq:
		p.pfv = le.Uint16(raw[8:])
		p.hpda = raw[10]
		p.digest = raw[11]
		p.maxr2t = le.Uint32(raw[12:])
	case pduCapsuleCmd:
		copy(p.sqe[:], raw[commonHeaderLen:])
	case pduH2CData:
		p.cid = le.Uint16(raw[8:])
		p.ttag = le.Uint16(raw[10:])
		p.dataOffset = le.Uint32(raw[12:])
		p.dataLength = le.Uint32(raw[16:])
		if p.dataLength != dataLen {
			return nil, newTermError(fesInvalidHeaderField, offDataLn, raw, "H2CData data_length %d but the pdu carries %d bytes", p.dataLength, dataLen)
		}
	case pduH2CTermReq:
		p.fes = le.Uint16(raw[8:])
		p.fei = le.Uint32(raw[10:])
	}
	if dataLen == 0 {
		return p, nil
	}
	if pad := int64(pdo - hdrEnd); pad > 0 {
		if _, err := io.CopyN(io.Discard, r, pad); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	p.data = make([]byte, dataLen)
	if _, err := io.ReadFull(r, p.data); err != nil {
		return nil, unexpectedEOF(err)
	}
	if dd != 0 {
		var d [digestLen]byte
		if _, err := io.ReadFull(r, d[:]); err != nil {
			return nil, unexpectedEOF(err)
		}
		if binary.LittleEndian.Uint32(d[:]) != digest(p.data) {
			p.dataErr = errDataDigest
		}
	}
	return p, nil
}

// unexpectedEOF turns an EOF inside a PDU into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// txDigests is what the controller's transmit side needs to frame PDUs.
type txDigests struct {
	hdgst, ddgst bool
	// dataAlign is the host's PDU data alignment in bytes ((HPDA+1)*4): where the data
	// of a C2HData PDU may start.
	dataAlign uint32
}

// appendHeaderDigest appends the header digest of hdr when header digests are on.
func (t txDigests) appendHeaderDigest(hdr []byte) []byte {
	if !t.hdgst {
		return hdr
	}
	return binary.LittleEndian.AppendUint32(hdr, digest(hdr))
}

// encodeICResp builds the ICResp: PFV 0, CPDA 0 (the Linux host refuses anything else),
// the digests the host asked for, and MAXH2CDATA.
func encodeICResp(digests uint8, maxH2CData uint32) []byte {
	b := make([]byte, icRespLen)
	putCommonHeader(b, commonHeader{typ: pduICResp, hlen: icRespLen, plen: icRespLen})
	binary.LittleEndian.PutUint16(b[8:], 0) // PFV 1.0
	b[10] = 0                               // CPDA
	b[11] = digests
	binary.LittleEndian.PutUint32(b[12:], maxH2CData)
	return b
}

// encodeCapsuleResp builds a response capsule carrying cqe.
func (t txDigests) encodeCapsuleResp(c cqe) []byte {
	var flags uint8
	plen := uint32(capsuleRespHLen)
	if t.hdgst {
		flags |= flagHDGST
		plen += digestLen
	}
	b := make([]byte, capsuleRespHLen, capsuleRespHLen+digestLen)
	putCommonHeader(b, commonHeader{typ: pduCapsuleResp, flags: flags, hlen: capsuleRespHLen, plen: plen})
	copy(b[commonHeaderLen:], c[:])
	return t.appendHeaderDigest(b)
}

// encodeC2HData returns the parts of one C2HData PDU carrying data at offset of the
// command's transfer: header (with digest and alignment padding), data, data digest.
func (t txDigests) encodeC2HData(cid uint16, offset uint32, data []byte, last, success bool) [][]byte {
	flags := uint8(0)
	if last {
		flags |= flagLast
	}
	if success {
		flags |= flagSuccess
	}
	hdrEnd := uint32(dataHLen)
	if t.hdgst {
		flags |= flagHDGST
		hdrEnd += digestLen
	}
	var dd uint32
	if t.ddgst {
		flags |= flagDDGST
		dd = digestLen
	}
	align := max(t.dataAlign, 4)
	pdo := (hdrEnd + align - 1) / align * align
	b := make([]byte, dataHLen, pdo)
	putCommonHeader(b, commonHeader{typ: pduC2HData, flags: flags, hlen: dataHLen, pdo: uint8(pdo), plen: pdo + uint32(len(data)) + dd})
	binary.LittleEndian.PutUint16(b[8:], cid)
	binary.LittleEndian.PutUint32(b[12:], offset)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(data)))
	b = t.appendHeaderDigest(b)
	b = b[:pdo] // padding up to PDO is zero
	parts := [][]byte{b, data}
	if t.ddgst {
		parts = append(parts, binary.LittleEndian.AppendUint32(nil, digest(data)))
	}
	return parts
}

// encodeR2T asks the host for length bytes of command cid's data at offset.
func (t txDigests) encodeR2T(cid, ttag uint16, offset, length uint32) []byte {
	var flags uint8
	plen := uint32(r2tHLen)
	if t.hdgst {
		flags |= flagHDGST
		plen += digestLen
	}
	b := make([]byte, r2tHLen, r2tHLen+digestLen)
	putCommonHeader(b, commonHeader{typ: pduR2T, flags: flags, hlen: r2tHLen, plen: plen})
	binary.LittleEndian.PutUint16(b[8:], cid)
	binary.LittleEndian.PutUint16(b[10:], ttag)
	binary.LittleEndian.PutUint32(b[12:], offset)
	binary.LittleEndian.PutUint32(b[16:], length)
	return t.appendHeaderDigest(b)
}

// encodeC2HTermReq builds the termination request for e. TermReqs never carry digests.
func encodeC2HTermReq(e *termError) []byte {
	b := make([]byte, termHLen, termHLen+len(e.hdr))
	putCommonHeader(b, commonHeader{typ: pduC2HTermReq, hlen: termHLen, plen: uint32(termHLen + len(e.hdr))})
	binary.LittleEndian.PutUint16(b[8:], e.fes)
	if e.fes == fesInvalidHeaderField || e.fes == fesUnsupportedParameter {
		binary.LittleEndian.PutUint32(b[10:], e.fei)
	}
	return append(b, e.hdr...)
}
