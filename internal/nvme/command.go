// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"fmt"
	"strconv"
	"strings"
)

// Opcode is an admin command opcode.
type Opcode uint8

// Admin opcodes used for discovery. The kernel itself issues Async Event Request and
// Keep Alive.
const (
	OpGetLogPage        Opcode = 0x02
	OpIdentify          Opcode = 0x06
	OpSetFeatures       Opcode = 0x09
	OpGetFeatures       Opcode = 0x0a
	OpAsyncEventRequest Opcode = 0x0c
	OpKeepAlive         Opcode = 0x18
	OpDiscoveryInfoMgmt Opcode = 0x21
)

// String returns the command's name or its hex value.
func (o Opcode) String() string {
	switch o {
	case OpGetLogPage:
		return "Get Log Page"
	case OpIdentify:
		return "Identify"
	case OpSetFeatures:
		return "Set Features"
	case OpGetFeatures:
		return "Get Features"
	case OpAsyncEventRequest:
		return "Asynchronous Event Request"
	case OpKeepAlive:
		return "Keep Alive"
	case OpDiscoveryInfoMgmt:
		return "Discovery Information Management"
	}
	return fmt.Sprintf("opcode %#02x", uint8(o))
}

// SendsData reports whether the command transfers data host to controller (bit 0).
func (o Opcode) SendsData() bool { return o&0x1 != 0 }

// ReceivesData reports whether the command transfers data controller to host (bit 1).
func (o Opcode) ReceivesData() bool { return o&0x2 != 0 }

// Log page identifiers.
const (
	LIDSupportedLogPages   uint8 = 0x00
	LIDDiscovery           uint8 = 0x70
	LIDHostDiscovery       uint8 = 0x71
	LIDAVEDiscovery        uint8 = 0x72
	LIDPullModelDDCRequest uint8 = 0x73
)

// Log-specific parameter (LSP) bits of a Get Log Page for LID 0x70, as libnvme defines
// them (enum nvmf_log_discovery_lsp), which is what nvme-stas sends. PLEO is bit 1, so
// the LSP value is 2, the same bit position as PLEOS in the supported options.
const (
	// LSPDiscoveryEXTDLPE asks for extended discovery log page entries.
	LSPDiscoveryEXTDLPE uint8 = 1 << 0
	// LSPDiscoveryPLEO asks for port local entries only (sent when PLEOS is supported).
	LSPDiscoveryPLEO uint8 = 1 << 1
	// LSPDiscoveryALLSUBE asks for all NVM subsystem entries.
	LSPDiscoveryALLSUBE uint8 = 1 << 2
)

// Identify CNS values.
const (
	// CNSController selects the Identify Controller data structure (4096 bytes); the
	// only CNS a Linux discovery controller accepts.
	CNSController uint8 = 0x01
)

// GetLogPage is a Get Log Page command's parameters.
type GetLogPage struct {
	LID uint8
	// LSP is the log specific parameter, 7 bits.
	LSP uint8
	// RAE (retain asynchronous event): false on the last read of the discovery log,
	// because that is what re-arms the controller's discovery-change AEN.
	RAE bool
	// Length is the number of bytes to read: a non-zero multiple of 4, at most 2^34.
	Length uint64
	// LSI is the log specific identifier.
	LSI uint16
	// Offset (LPO) is the byte offset into the log page, a multiple of 4.
	Offset uint64
}

// maxLogLength is the largest transfer NUMD (32 bits, zero-based dword count) can express.
const maxLogLength = uint64(1) << 34

// CDWs packs the command into dwords 10 to 13: cdw10 = LID | LSP<<8 | RAE<<15 |
// NUMDL<<16, cdw11 = NUMDU | LSI<<16, cdw12/cdw13 = LPO low/high, with NUMD the
// zero-based dword count.
func (g GetLogPage) CDWs() (cdw10, cdw11, cdw12, cdw13 uint32, err error) {
	switch {
	case g.LSP > 0x7f:
		return 0, 0, 0, 0, fmt.Errorf("get log page %#02x: %w: lsp %#x does not fit 7 bits", g.LID, ErrInvalidValue, g.LSP)
	case g.Length == 0 || g.Length%4 != 0 || g.Length > maxLogLength:
		return 0, 0, 0, 0, fmt.Errorf("get log page %#02x: %w: length %d must be a non-zero multiple of 4 up to %d", g.LID, ErrInvalidValue, g.Length, maxLogLength)
	case g.Offset%4 != 0:
		return 0, 0, 0, 0, fmt.Errorf("get log page %#02x: %w: offset %d is not a multiple of 4", g.LID, ErrInvalidValue, g.Offset)
	}
	numd := uint32(g.Length/4 - 1)
	cdw10 = uint32(g.LID) | uint32(g.LSP)<<8 | (numd&0xffff)<<16
	if g.RAE {
		cdw10 |= 1 << 15
	}
	cdw11 = numd>>16 | uint32(g.LSI)<<16
	return cdw10, cdw11, uint32(g.Offset), uint32(g.Offset >> 32), nil
}

// ParseGetLogPage unpacks Get Log Page dwords 10 to 13 (the simulator's side of CDWs).
func ParseGetLogPage(cdw10, cdw11, cdw12, cdw13 uint32) GetLogPage {
	numd := uint64(cdw10>>16) | uint64(cdw11&0xffff)<<16
	return GetLogPage{
		LID:    uint8(cdw10),
		LSP:    uint8(cdw10>>8) & 0x7f,
		RAE:    cdw10&(1<<15) != 0,
		Length: (numd + 1) * 4,
		LSI:    uint16(cdw11 >> 16),
		Offset: uint64(cdw12) | uint64(cdw13)<<32,
	}
}

// IdentifyCDW10 packs an Identify command's dword 10: CNS | CNTID<<16.
func IdentifyCDW10(cns uint8, cntid uint16) uint32 {
	return uint32(cns) | uint32(cntid)<<16
}

// ParseIdentifyCDW10 unpacks an Identify command's dword 10.
func ParseIdentifyCDW10(cdw10 uint32) (cns uint8, cntid uint16) {
	return uint8(cdw10), uint16(cdw10 >> 16)
}

// Status is the NVMe status field as the kernel's passthrough ioctl returns it (a
// positive return value): SC in bits 7:0, SCT in 10:8, CRD in 12:11, More in 13, DNR in
// 14. It implements error so the ioctl layer can return it and callers can errors.As it.
type Status uint16

// Status code types.
const (
	SCTGeneric         uint8 = 0
	SCTCommandSpecific uint8 = 1
	SCTMediaError      uint8 = 2
	SCTPathRelated     uint8 = 3
	SCTVendorSpecific  uint8 = 7
)

// Status codes a discovery host or simulator deals with.
const (
	// SCSuccess (SCT 0): successful completion.
	SCSuccess uint8 = 0x00
	// SCInvalidOpcode (SCT 0): what nvmet answers to DIM.
	SCInvalidOpcode uint8 = 0x01
	// SCInvalidField (SCT 0): what nvmet answers to an Identify CNS other than 1.
	SCInvalidField uint8 = 0x02
	// SCInternalError (SCT 0).
	SCInternalError uint8 = 0x06
	// SCInvalidLogPage (SCT 1, Get Log Page): the log page is not supported.
	SCInvalidLogPage uint8 = 0x09
)

// NewStatus composes a status field from its parts (CRD and More left zero).
func NewStatus(sct, sc uint8, dnr bool) Status {
	s := Status(sct&0x7)<<8 | Status(sc)
	if dnr {
		s |= 1 << 14
	}
	return s
}

// SC returns the status code.
func (s Status) SC() uint8 { return uint8(s) }

// SCT returns the status code type.
func (s Status) SCT() uint8 { return uint8(s>>8) & 0x7 }

// CRD returns the command retry delay selector.
func (s Status) CRD() uint8 { return uint8(s>>11) & 0x3 }

// More reports that more status information is in the Error Information log.
func (s Status) More() bool { return s&(1<<13) != 0 }

// DNR reports "do not retry": the same command will fail again.
func (s Status) DNR() bool { return s&(1<<14) != 0 }

// OK reports successful completion (SCT 0, SC 0).
func (s Status) OK() bool { return s.SCT() == SCTGeneric && s.SC() == SCSuccess }

// generic status names (libnvme types.h / NVMe Base, generic command status).
var genericStatusNames = map[uint8]string{
	0x00: "Successful Completion",
	0x01: "Invalid Command Opcode",
	0x02: "Invalid Field in Command",
	0x03: "Command ID Conflict",
	0x04: "Data Transfer Error",
	0x05: "Commands Aborted due to Power Loss Notification",
	0x06: "Internal Error",
	0x07: "Command Abort Requested",
	0x08: "Command Aborted due to SQ Deletion",
	0x09: "Command Aborted due to Failed Fused Command",
	0x0a: "Command Aborted due to Missing Fused Command",
	0x0b: "Invalid Namespace or Format",
	0x0c: "Command Sequence Error",
	0x0d: "Invalid SGL Segment Descriptor",
	0x0e: "Invalid Number of SGL Descriptors",
	0x0f: "Data SGL Length Invalid",
	0x10: "Metadata SGL Length Invalid",
	0x11: "SGL Descriptor Type Invalid",
	0x12: "Invalid Use of Controller Memory Buffer",
	0x13: "PRP Offset Invalid",
	0x14: "Atomic Write Unit Exceeded",
	0x15: "Operation Denied",
	0x16: "SGL Offset Invalid",
	0x18: "Host Identifier Inconsistent Format",
	0x19: "Keep Alive Timer Expired",
	0x1a: "Keep Alive Timeout Invalid",
	0x1b: "Command Aborted due to Preempt and Abort",
	0x1c: "Sanitize Failed",
	0x1d: "Sanitize In Progress",
	0x1e: "SGL Data Block Granularity Invalid",
	0x1f: "Command Not Supported for Queue in CMB",
	0x20: "Namespace is Write Protected",
	0x21: "Command Interrupted",
	0x22: "Transient Transport Error",
}

// String names the status, e.g. "Invalid Field in Command (sct=0x0 sc=0x02 dnr)".
// Command-specific codes depend on the command, so they are shown by number.
func (s Status) String() string {
	var name string
	switch s.SCT() {
	case SCTGeneric:
		name = genericStatusNames[s.SC()]
		if name == "" {
			name = "Generic Command Status"
		}
	case SCTCommandSpecific:
		name = "Command Specific Status"
	case SCTMediaError:
		name = "Media and Data Integrity Error"
	case SCTPathRelated:
		name = "Path Related Status"
	case SCTVendorSpecific:
		name = "Vendor Specific Status"
	default:
		name = "Reserved Status Code Type"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (sct=%#x sc=%#02x", name, s.SCT(), s.SC())
	if crd := s.CRD(); crd != 0 {
		fmt.Fprintf(&b, " crd=%d", crd)
	}
	if s.More() {
		b.WriteString(" more")
	}
	if s.DNR() {
		b.WriteString(" dnr")
	}
	b.WriteString(")")
	return b.String()
}

// Error returns "nvme status: " and String.
func (s Status) Error() string { return "nvme status: " + s.String() }

// AEN is the result dword of an Asynchronous Event Request completion, as the kernel
// reports it in the NVME_AEN uevent variable: event type in bits 2:0, event information
// in 15:8, log page identifier in 23:16.
type AEN uint32

// AEN event types and the discovery-change notice.
const (
	AENTypeNotice uint8 = 0x2
	// AENInfoDiscoveryChanged is the Notice information value "Discovery Log Page Change".
	AENInfoDiscoveryChanged uint8 = 0xf0
	// AENDiscoveryLogChanged is the AEN the kernel reports as NVME_AEN=0x70f002.
	AENDiscoveryLogChanged = AEN(uint32(LIDDiscovery)<<16 | uint32(AENInfoDiscoveryChanged)<<8 | uint32(AENTypeNotice))
)

// Type returns the asynchronous event type.
func (a AEN) Type() uint8 { return uint8(a) & 0x7 }

// Info returns the asynchronous event information.
func (a AEN) Info() uint8 { return uint8(a >> 8) }

// LID returns the log page the host should read.
func (a AEN) LID() uint8 { return uint8(a >> 16) }

// String returns the kernel's uevent form, C's "%#08x" (the width counts the "0x",
// which C leaves out for 0), e.g. "0x70f002".
func (a AEN) String() string {
	if a == 0 {
		return "00000000"
	}
	return fmt.Sprintf("0x%06x", uint32(a))
}

// ParseAEN parses the NVME_AEN uevent value, hex with an optional 0x prefix as Python's
// int(s, 16) accepts it in nvme-stas (surrounding whitespace allowed).
func ParseAEN(s string) (AEN, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		t = t[2:]
	}
	if t == "" || t[0] == '+' || t[0] == '-' {
		return 0, fmt.Errorf("parse AEN %q: %w: not a hex number", s, ErrInvalidValue)
	}
	v, err := strconv.ParseUint(t, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse AEN %q: %w: %w", s, ErrInvalidValue, err)
	}
	return AEN(v), nil
}
