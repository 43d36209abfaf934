// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"fmt"
	"strconv"
	"strings"
)

// TransportType is the TRTYPE field of a discovery log entry or DIM entry.
// Unknown values are kept as they are.
type TransportType uint8

// Transport types (NVMe-oF TRTYPE).
const (
	TransportUnspecified TransportType = 0
	TransportRDMA        TransportType = 1
	TransportFC          TransportType = 2
	TransportTCP         TransportType = 3
	TransportLoop        TransportType = 254
)

// String returns the kernel's transport= word (tcp, rdma, fc, loop), "unspecified" for 0,
// or the number for values the specification does not define.
func (t TransportType) String() string {
	switch t {
	case TransportUnspecified:
		return "unspecified"
	case TransportRDMA:
		return "rdma"
	case TransportFC:
		return "fc"
	case TransportTCP:
		return "tcp"
	case TransportLoop:
		return "loop"
	}
	return strconv.Itoa(int(t))
}

// ParseTransportType is the inverse of String for the named values.
func ParseTransportType(s string) (TransportType, error) {
	for _, t := range []TransportType{TransportUnspecified, TransportRDMA, TransportFC, TransportTCP, TransportLoop} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown transport type %q", ErrInvalidValue, s)
}

// AddressFamily is the ADRFAM field.
type AddressFamily uint8

// Address families (NVMe-oF ADRFAM).
const (
	AddressFamilyPCI  AddressFamily = 0
	AddressFamilyIPv4 AddressFamily = 1
	AddressFamilyIPv6 AddressFamily = 2
	AddressFamilyIB   AddressFamily = 3
	AddressFamilyFC   AddressFamily = 4
	AddressFamilyLoop AddressFamily = 254
)

// String returns the nvmet configfs word (pci, ipv4, ipv6, ib, fc, loop) or the number.
func (a AddressFamily) String() string {
	switch a {
	case AddressFamilyPCI:
		return "pci"
	case AddressFamilyIPv4:
		return "ipv4"
	case AddressFamilyIPv6:
		return "ipv6"
	case AddressFamilyIB:
		return "ib"
	case AddressFamilyFC:
		return "fc"
	case AddressFamilyLoop:
		return "loop"
	}
	return strconv.Itoa(int(a))
}

// ParseAddressFamily is the inverse of String for the named values.
func ParseAddressFamily(s string) (AddressFamily, error) {
	for _, a := range []AddressFamily{AddressFamilyPCI, AddressFamilyIPv4, AddressFamilyIPv6, AddressFamilyIB, AddressFamilyFC, AddressFamilyLoop} {
		if s == a.String() {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown address family %q", ErrInvalidValue, s)
}

// SubsystemType is the SUBTYPE field.
type SubsystemType uint8

// Subsystem types of discovery log entries.
const (
	// SubsystemReferral is a referral to another discovery service.
	SubsystemReferral SubsystemType = 1
	// SubsystemNVMe is an NVM (I/O) subsystem.
	SubsystemNVMe SubsystemType = 2
	// SubsystemCurrentDiscovery is the discovery subsystem that returned the log page.
	SubsystemCurrentDiscovery SubsystemType = 3
)

// String returns referral, nvme, discovery (the nvme-stas words) or the number.
func (s SubsystemType) String() string {
	switch s {
	case SubsystemReferral:
		return "referral"
	case SubsystemNVMe:
		return "nvme"
	case SubsystemCurrentDiscovery:
		return "discovery"
	}
	return strconv.Itoa(int(s))
}

// SecureChannel is the secure-channel requirement held in the low two bits of TREQ.
type SecureChannel uint8

// Secure-channel requirements.
const (
	SecureChannelNotSpecified SecureChannel = 0
	SecureChannelRequired     SecureChannel = 1
	SecureChannelNotRequired  SecureChannel = 2
	SecureChannelReserved     SecureChannel = 3
)

// String returns "not specified", "required", "not required" or "reserved".
func (s SecureChannel) String() string {
	switch s {
	case SecureChannelNotSpecified:
		return "not specified"
	case SecureChannelRequired:
		return "required"
	case SecureChannelNotRequired:
		return "not required"
	}
	return "reserved"
}

// TransportRequirements is the TREQ field: a secure-channel requirement in bits 1:0 and
// the "SQ flow control disable supported" flag in bit 2.
type TransportRequirements uint8

// TREQ bits.
const (
	// TReqSecureChannelMask selects the secure-channel requirement.
	TReqSecureChannelMask TransportRequirements = 0x3
	// TReqSQFlowDisableSupp is set when the port supports disabling SQ flow control.
	TReqSQFlowDisableSupp TransportRequirements = 0x4

	treqKnownBits = TReqSecureChannelMask | TReqSQFlowDisableSupp
)

// sqFlowSuffix is what libnvme appends to the secure-channel word when TREQ bit 2 is set.
const sqFlowSuffix = ", sq flow control disable supported"

// SecureChannel returns the secure-channel requirement (bits 1:0).
func (t TransportRequirements) SecureChannel() SecureChannel {
	return SecureChannel(t & TReqSecureChannelMask)
}

// SQFlowControlDisable reports whether the port supports disabling SQ flow control (bit 2).
func (t TransportRequirements) SQFlowControlDisable() bool {
	return t&TReqSQFlowDisableSupp != 0
}

// String describes the requirements in nvme-cli's words, e.g.
// "not specified, sq flow control disable supported"; undefined bits are shown in hex.
func (t TransportRequirements) String() string {
	s := t.SecureChannel().String()
	if t.SQFlowControlDisable() {
		s += sqFlowSuffix
	}
	if rest := t &^ treqKnownBits; rest != 0 {
		s += fmt.Sprintf(", reserved bits %#02x", uint8(rest))
	}
	return s
}

// EntryFlags is the EFLAGS field of a discovery log entry.
type EntryFlags uint16

// EFLAGS bits.
const (
	// EFlagDupRetInfo (DUPRETINFO): this DC returns the same information as the other
	// entries carrying the flag.
	EFlagDupRetInfo EntryFlags = 0x1
	// EFlagEPCSD: explicit persistent connection supported for this DC.
	EFlagEPCSD EntryFlags = 0x2
	// EFlagNCC: no CDC connectivity (meaningful only in entries returned by a CDC).
	EFlagNCC EntryFlags = 0x4

	eflagsKnown = EFlagDupRetInfo | EFlagEPCSD | EFlagNCC
)

// String lists the set flags as "DUPRETINFO|EPCSD|NCC" ("none" for 0); undefined bits
// are appended in hex.
func (f EntryFlags) String() string {
	if f == 0 {
		return "none"
	}
	var parts []string
	for _, b := range []struct {
		bit  EntryFlags
		name string
	}{{EFlagDupRetInfo, "DUPRETINFO"}, {EFlagEPCSD, "EPCSD"}, {EFlagNCC, "NCC"}} {
		if f&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if rest := f &^ eflagsKnown; rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint16(rest)))
	}
	return strings.Join(parts, "|")
}

// TCPSecurityType is the SECTYPE byte of a TCP entry's TSAS.
type TCPSecurityType uint8

// TCP security types.
const (
	TCPSecTypeNone  TCPSecurityType = 0
	TCPSecTypeTLS12 TCPSecurityType = 1
	TCPSecTypeTLS13 TCPSecurityType = 2
)

// String returns none, tls1.2, tls1.3 or the number.
func (s TCPSecurityType) String() string {
	switch s {
	case TCPSecTypeNone:
		return "none"
	case TCPSecTypeTLS12:
		return "tls1.2"
	case TCPSecTypeTLS13:
		return "tls1.3"
	}
	return strconv.Itoa(int(s))
}

// RDMAQPType is the RDMA queue-pair service type in TSAS.
type RDMAQPType uint8

// RDMA queue-pair types.
const (
	RDMAQPTypeConnected RDMAQPType = 1
	RDMAQPTypeDatagram  RDMAQPType = 2
)

// String returns connected, datagram or the number.
func (q RDMAQPType) String() string {
	switch q {
	case RDMAQPTypeConnected:
		return "connected"
	case RDMAQPTypeDatagram:
		return "datagram"
	}
	return strconv.Itoa(int(q))
}

// RDMAProviderType is the RDMA provider type in TSAS.
type RDMAProviderType uint8

// RDMA provider types.
const (
	RDMAPrTypeNotSpecified RDMAProviderType = 1
	RDMAPrTypeIB           RDMAProviderType = 2
	RDMAPrTypeRoCE         RDMAProviderType = 3
	RDMAPrTypeRoCEv2       RDMAProviderType = 4
	RDMAPrTypeIWARP        RDMAProviderType = 5
)

// String returns the provider's name or the number.
func (p RDMAProviderType) String() string {
	switch p {
	case RDMAPrTypeNotSpecified:
		return "not specified"
	case RDMAPrTypeIB:
		return "infiniband"
	case RDMAPrTypeRoCE:
		return "roce"
	case RDMAPrTypeRoCEv2:
		return "rocev2"
	case RDMAPrTypeIWARP:
		return "iwarp"
	}
	return strconv.Itoa(int(p))
}

// RDMACMS is the RDMA connection management service in TSAS.
type RDMACMS uint8

// RDMACMSRDMACM is the only defined connection management service, rdma_cm.
const RDMACMSRDMACM RDMACMS = 1

// String returns rdma_cm or the number.
func (c RDMACMS) String() string {
	if c == RDMACMSRDMACM {
		return "rdma_cm"
	}
	return strconv.Itoa(int(c))
}

// TSASSize is the size of the transport-specific address subtype field.
const TSASSize = 256

// TSAS is the raw transport-specific address subtype of an entry. It is kept as bytes so
// that what was received is re-encoded unchanged; the accessors interpret it per
// transport.
type TSAS [TSASSize]byte

// TCPSecType returns the TCP security type (byte 0); meaningful for TCP entries.
func (t TSAS) TCPSecType() TCPSecurityType { return TCPSecurityType(t[0]) }

// RDMA returns the RDMA fields; meaningful for RDMA entries.
func (t TSAS) RDMA() RDMATSAS {
	return RDMATSAS{
		QPType: RDMAQPType(t[0]),
		PrType: RDMAProviderType(t[1]),
		CMS:    RDMACMS(t[2]),
		PKey:   uint16(t[8]) | uint16(t[9])<<8,
	}
}

// NewTCPTSAS returns the TSAS of a TCP entry with the given security type.
func NewTCPTSAS(sectype TCPSecurityType) TSAS {
	var t TSAS
	t[0] = byte(sectype)
	return t
}

// RDMATSAS holds the RDMA transport-specific fields of TSAS.
type RDMATSAS struct {
	QPType RDMAQPType
	PrType RDMAProviderType
	CMS    RDMACMS
	PKey   uint16
}

// TSAS encodes the RDMA fields (qptype@0, prtype@1, cms@2, pkey@8 little endian).
func (r RDMATSAS) TSAS() TSAS {
	var t TSAS
	t[0] = byte(r.QPType)
	t[1] = byte(r.PrType)
	t[2] = byte(r.CMS)
	t[8] = byte(r.PKey)
	t[9] = byte(r.PKey >> 8)
	return t
}
