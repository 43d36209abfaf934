// SPDX-License-Identifier: Apache-2.0

// Package nbft owns the ACPI NVMe Boot Firmware Table (NBFT, NVM Express Boot
// Specification 1.0): decoding the tables the firmware leaves under
// /sys/firmware/acpi/tables/NBFT*, and turning them into the controller identities the
// daemons use — the discovery controllers stafd adds to its configured list, and the I/O
// controllers the host booted from, which stacd must never disconnect.
//
// The layout follows libnvme's nbft.h and the decoding rules its nbft.c applies
// (github.com/linux-nvme/libnvme, src/nvme/nbft.h and src/nvme/nbft.c). A table is
// firmware input and is treated like any other untrusted input: every offset and length
// is checked against the table and its heap, and bad input is an error, never a panic.
package nbft

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Sentinel errors of Parse, for errors.Is.
var (
	// ErrEmpty is returned for a table of zero bytes (an absent or unreadable table);
	// callers treat it quietly.
	ErrEmpty = errors.New("NBFT table is empty")
	// ErrMalformed is wrapped by every error about a table that is truncated, fails its
	// checksum or has an offset, length or structure that cannot be right.
	ErrMalformed = errors.New("malformed NBFT table")
	// ErrUnsupported is wrapped when the table's major revision is not 1.
	ErrUnsupported = errors.New("unsupported NBFT revision")
)

// Table is one decoded NBFT. Descriptors whose Valid flag is clear are left out, as the
// specification asks; descriptors that are valid but cannot be decoded are left out too,
// each with an entry in Warnings.
type Table struct {
	// Name is the file the table was read from (set by ReadAll).
	Name string
	// OEMID and OEMTableID identify the firmware that wrote the table.
	OEMID, OEMTableID string
	// Host is the host descriptor; the zero Host when the control descriptor is not valid.
	Host Host
	// HFIs are the host fabric interfaces, in descriptor order.
	HFIs []*HFI
	// Security holds the security profile descriptors.
	Security []*Security
	// Discovery holds the discovery controller descriptors.
	Discovery []*Discovery
	// Subsystems holds the subsystem namespace (SSNS) descriptors: the I/O controllers
	// the firmware connected to (or was told about).
	Subsystems []*Subsystem
	// Warnings explains each valid descriptor or field that was dropped because it could
	// not be decoded; the rest of the table is still usable.
	Warnings []error
}

// PrimaryAdmin is the host descriptor's hint of which NBFT is the administratively
// primary one when there are several.
type PrimaryAdmin uint8

// The values of PrimaryAdmin.
const (
	PrimaryAdminNotIndicated PrimaryAdmin = iota
	PrimaryAdminUnselected
	PrimaryAdminSelected
	PrimaryAdminReserved
)

// String returns libnvme's name of the value ("not indicated", "unselected", "selected",
// "reserved").
func (p PrimaryAdmin) String() string {
	switch p {
	case PrimaryAdminNotIndicated:
		return "not indicated"
	case PrimaryAdminUnselected:
		return "unselected"
	case PrimaryAdminSelected:
		return "selected"
	}
	return "reserved"
}

// Host is the host descriptor: the identity the firmware used to connect.
type Host struct {
	// ID is the host identifier (a UUID's 16 bytes).
	ID [16]byte
	// NQN is the host NQN ("" if the table has none).
	NQN string
	// IDConfigured and NQNConfigured say the values were set by an administrator
	// rather than being the pre-OS driver's defaults.
	IDConfigured, NQNConfigured bool
	// PrimaryAdmin is the primary administrative host hint.
	PrimaryAdmin PrimaryAdmin
}

// IDString returns the host ID in UUID text form, its bytes in table order.
func (h Host) IDString() string {
	s := hex.EncodeToString(h.ID[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// HFI is a host fabric interface descriptor with its NVMe/TCP transport information (the
// only transport the specification defines).
type HFI struct {
	// Index is the descriptor's own index, by which the other descriptors refer to it.
	Index int
	// Transport is "tcp".
	Transport string
	// PCISBDF is the PCI segment/bus/device/function of the interface.
	PCISBDF uint32
	// MAC is the interface's MAC address.
	MAC net.HardwareAddr
	// VLAN is the 802.1Q VLAN ID the firmware used, 0 for none.
	VLAN uint16
	// IPOrigin is where the address came from (Windows NL_PREFIX_ORIGIN), 0 if unused.
	IPOrigin uint8
	// Addr and PrefixLen are the interface's address and subnet prefix length.
	Addr      netip.Addr
	PrefixLen uint8
	// Gateway, PrimaryDNS, SecondaryDNS and DHCPServer are the zero Addr when the table
	// leaves them unset (all zero); DHCPServer is set only when DHCPOverride is.
	Gateway      netip.Addr
	RouteMetric  uint16
	PrimaryDNS   netip.Addr
	SecondaryDNS netip.Addr
	DHCPServer   netip.Addr
	// HostName is the host name the firmware used on this interface, if any.
	HostName string
	// DefaultRoute says the firmware made this interface its default route.
	DefaultRoute bool
	// DHCPOverride says the interface was configured by DHCP.
	DHCPOverride bool
}

// PCIDev returns the PCI address as libnvme prints it: "segment:bus:device.function" in
// hexadecimal without padding ("0:40:0.0").
func (h *HFI) PCIDev() string {
	return fmt.Sprintf("%x:%x:%x.%x", h.PCISBDF>>16, (h.PCISBDF>>8)&0xff, (h.PCISBDF>>3)&0x1f, h.PCISBDF&0x7)
}

// Prefix returns the interface's address with its prefix length; it is not valid when the
// table's address or prefix length is not.
func (h *HFI) Prefix() netip.Prefix {
	return netip.PrefixFrom(h.Addr, int(h.PrefixLen))
}

// Security is a security profile descriptor. Its lists are kept as the raw identifier
// bytes the specification defines; nothing in the daemons acts on them yet.
type Security struct {
	Index               int
	Flags               uint16
	SecretType          uint8
	SecureChannelAlgs   []byte
	AuthProtocols       []byte
	CipherSuites        []byte
	DHGroups            []byte
	SecureHashFunctions []byte
	// SecretKeypath is a URI naming where the secret is kept.
	SecretKeypath string
}

// Discovery is a discovery controller descriptor.
type Discovery struct {
	Index int
	// HFI is the interface the discovery controller is reached through (nil if none or
	// unknown); HFIIndex is the raw reference.
	HFI      *HFI
	HFIIndex int
	// Security is the security profile (nil if none).
	Security *Security
	// URI is the controller's address, "nvme+tcp://<host>:<port>/".
	URI string
	// NQN is the discovery controller's NQN; empty means the well-known discovery NQN.
	NQN string
}

// NIDType is the type of a namespace identifier.
type NIDType uint8

// Namespace identifier types.
const (
	NIDTypeNone  NIDType = 0
	NIDTypeEUI64 NIDType = 1
	NIDTypeNGUID NIDType = 2
	NIDTypeUUID  NIDType = 3
)

// String returns libnvme's name of the type ("eui64", "nguid", "uuid"), "" for none or
// an unknown type.
func (t NIDType) String() string {
	switch t {
	case NIDTypeEUI64:
		return "eui64"
	case NIDTypeNGUID:
		return "nguid"
	case NIDTypeUUID:
		return "uuid"
	}
	return ""
}

// Subsystem is a subsystem namespace (SSNS) descriptor: one namespace the firmware booted
// from or was configured with, and the I/O controller it is reached through.
type Subsystem struct {
	Index int
	// Transport is "tcp".
	Transport string
	// Traddr is the subsystem's transport address; Trsvcid its port ("" if the table
	// gives none).
	Traddr  netip.Addr
	Trsvcid string
	// NQN is the subsystem NQN.
	NQN        string
	SubsysPort uint16
	NSID       uint32
	NIDType    NIDType
	NID        [16]byte
	// HFIs are the interfaces associated with the namespace, the primary one first;
	// duplicates and unknown indexes are left out.
	HFIs []*HFI
	// Discovery is the primary discovery controller (nil if none).
	Discovery *Discovery
	// Security is the security profile (nil if none).
	Security *Security
	// HeaderDigest and DataDigest say the connection was required to use the digests.
	HeaderDigest, DataDigest bool
	// ControllerID and ASQSZ come from the extended information descriptor (0 if absent;
	// ASQSZ only when administratively set).
	ControllerID uint16
	ASQSZ        uint16
	// DHCPRootPath is the DHCP root path the descriptor was built from, if any.
	DHCPRootPath string
	// Discovered says the namespace was found through discovery rather than configured.
	Discovered bool
	// Unavailable says the pre-OS driver could not reach the namespace.
	Unavailable bool
	// NonBootable marks a namespace of administrative purpose, not booted from.
	NonBootable bool
}

// NIDString returns the namespace identifier as libnvme prints it: hex for EUI-64 (8
// bytes) and NGUID, UUID form for a UUID, "" for none.
func (s *Subsystem) NIDString() string {
	switch s.NIDType {
	case NIDTypeEUI64:
		return hex.EncodeToString(s.NID[:8])
	case NIDTypeNGUID:
		return hex.EncodeToString(s.NID[:])
	case NIDTypeUUID:
		return Host{ID: s.NID}.IDString()
	}
	return ""
}
