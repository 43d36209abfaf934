// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"encoding/binary"
	"fmt"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

const (
	sqeLen = 64
	cqeLen = 16
)

// sqe is a submission queue entry (an NVMe command) as a command capsule carries it.
type sqe [sqeLen]byte

func (s *sqe) opcode() nvme.Opcode { return nvme.Opcode(s[0]) }
func (s *sqe) cid() uint16         { return binary.LittleEndian.Uint16(s[2:]) }

// cdw returns command dword n (10..15).
func (s *sqe) cdw(n int) uint32 { return binary.LittleEndian.Uint32(s[4*n:]) }

// The data pointer is one SGL descriptor: address at 24, length at 32, type at 39.
func (s *sqe) sglLength() uint32 { return binary.LittleEndian.Uint32(s[32:]) }
func (s *sqe) sglType() uint8    { return s[39] }

// SGL descriptor types the Linux host uses (nvme_tcp_set_sg_inline and
// nvme_tcp_set_sg_host_data): data in the capsule at an offset, or a transport data
// block the controller fetches with R2T or fills with C2HData.
const (
	sglInCapsule uint8 = 0x01 // NVME_SGL_FMT_DATA_DESC<<4 | NVME_SGL_FMT_OFFSET
	sglTransport uint8 = 0x5a // NVME_TRANSPORT_SGL_DATA_DESC<<4 | NVME_SGL_FMT_TRANSPORT_A
)

// Fabrics commands: opcode 0x7f, command type at byte 4.
const (
	opFabrics         nvme.Opcode = 0x7f
	fctypePropertySet uint8       = 0x00
	fctypeConnect     uint8       = 0x01
	fctypePropertyGet uint8       = 0x04
)

func (s *sqe) fctype() uint8 { return s[4] }

// Connect command fields.
func (s *sqe) connectQID() uint16    { return binary.LittleEndian.Uint16(s[42:]) }
func (s *sqe) connectSQSize() uint16 { return binary.LittleEndian.Uint16(s[44:]) }
func (s *sqe) connectCAttr() uint8   { return s[46] }
func (s *sqe) connectKATO() uint32   { return binary.LittleEndian.Uint32(s[48:]) }

// Property Get/Set fields: attrib bit 0 selects an 8-byte property.
func (s *sqe) propAttrib() uint8  { return s[40] }
func (s *sqe) propOffset() uint32 { return binary.LittleEndian.Uint32(s[44:]) }
func (s *sqe) propValue() uint64  { return binary.LittleEndian.Uint64(s[48:]) }

// Offsets of Connect fields, reported in a Connect Invalid Parameters completion.
const (
	connectSQEQIDOff     = 42
	connectSQESQSizeOff  = 44
	connectDataHostIDOff = 0
	connectDataSubNQNOff = 256
	connectDataHostNQN   = 512
	connectDataLen       = 1024
	cattrDisableSQFlow   = 1 << 2 // NVME_CONNECT_DISABLE_SQFLOW
)

// connectIPO is the result of a Connect Invalid Parameters completion: IATTR (bit 16,
// set when the offset is in the connect data) and IPO, the byte offset of the field.
func connectIPO(inData bool, offset uint32) uint64 {
	r := uint64(offset & 0xffff)
	if inData {
		r |= 1 << 16
	}
	return r
}

// cqe is a completion queue entry as a response capsule carries it.
type cqe [cqeLen]byte

func newCQE(cid uint16, status nvme.Status, result uint64, sqhd uint16) cqe {
	var c cqe
	binary.LittleEndian.PutUint64(c[0:], result)
	binary.LittleEndian.PutUint16(c[8:], sqhd)
	binary.LittleEndian.PutUint16(c[12:], cid)
	// The status field sits above the phase bit.
	binary.LittleEndian.PutUint16(c[14:], uint16(status)<<1)
	return c
}

// Status codes this controller answers with, beyond those internal/nvme names.
const (
	scCommandSequenceError  uint8 = 0x0c // generic
	scDataSGLLengthInvalid  uint8 = 0x0f // generic
	scSGLDescriptorTypeInvl uint8 = 0x11 // generic
	scSGLOffsetInvalid      uint8 = 0x16 // generic
	scTransientTransport    uint8 = 0x22 // generic
	scAERLimitExceeded      uint8 = 0x05 // command specific (Asynchronous Event Request)
	scInvalidDiscoveryInfo  uint8 = 0x2f // command specific (TP8010 DIM)
	scConnectInvalidParams  uint8 = 0x82 // command specific (Fabrics Connect)
)

func statusGeneric(sc uint8) nvme.Status  { return nvme.NewStatus(nvme.SCTGeneric, sc, true) }
func statusSpecific(sc uint8) nvme.Status { return nvme.NewStatus(nvme.SCTCommandSpecific, sc, true) }

var (
	statusOK                = nvme.Status(0)
	statusInvalidOpcode     = statusGeneric(nvme.SCInvalidOpcode)
	statusInvalidField      = statusGeneric(nvme.SCInvalidField)
	statusInternal          = statusGeneric(nvme.SCInternalError)
	statusSequence          = statusGeneric(scCommandSequenceError)
	statusSGLLength         = statusGeneric(scDataSGLLengthInvalid)
	statusSGLType           = statusGeneric(scSGLDescriptorTypeInvl)
	statusTransientTransprt = nvme.NewStatus(nvme.SCTGeneric, scTransientTransport, false)
	statusInvalidLogPage    = statusSpecific(nvme.SCInvalidLogPage)
	statusAERLimit          = statusSpecific(scAERLimitExceeded)
	statusInvalidDiscInfo   = statusSpecific(scInvalidDiscoveryInfo)
	statusConnectInvalid    = statusSpecific(scConnectInvalidParams)
)

// Controller properties (NVMe register offsets) a Fabrics host reads and writes.
const (
	propCAP  uint32 = 0x00
	propVS   uint32 = 0x08
	propCC   uint32 = 0x14
	propCSTS uint32 = 0x1c
)

// CC and CSTS bits.
const (
	ccEnable     uint32 = 1 << 0
	ccCSSShift          = 4
	ccCSSMask    uint32 = 0x7
	ccMPSShift          = 7
	ccMPSMask    uint32 = 0xf
	ccAMSShift          = 11
	ccAMSMask    uint32 = 0x7
	ccSHNShift          = 14
	ccSHNMask    uint32 = 0x3
	cssNVM       uint32 = 0
	cssCSI       uint32 = 6
	cstsReady    uint32 = 1 << 0
	cstsFatal    uint32 = 1 << 1
	cstsShstDone uint32 = 2 << 2
)

// Feature identifiers a discovery controller supports.
const (
	featAsyncEventConfig uint8 = 0x0b
	featKeepAliveTimer   uint8 = 0x0f
)

// formatUUID prints a host ID the way sysfs does (%pU): lower-case 8-4-4-4-12.
func formatUUID(b [nvme.HostIDLen]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
