// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// IdentifySize is the size of the Identify Controller data structure.
const IdentifySize = 4096

// Identify Controller field offsets (libnvme struct nvme_id_ctrl).
const (
	idSNOff      = 4
	idSNLen      = 20
	idMNOff      = 24
	idMNLen      = 40
	idFROff      = 64
	idFRLen      = 8
	idMDTSOff    = 77
	idCNTLIDOff  = 78
	idVEROff     = 80
	idOAESOff    = 92
	idCNTRLTYOff = 111
	idLPAOff     = 261
	idKASOff     = 320
	idMAXCMDOff  = 514
	idSGLSOff    = 536
	idSubNQNOff  = 768
	idSubNQNLen  = 256
	idIOCCSZOff  = 1792
	idIORCSZOff  = 1796
	idICDOFFOff  = 1800
	idFCATTOff   = 1802
	idMSDBDOff   = 1803
	idOFCSOff    = 1804
	idDCTYPEOff  = 1806
)

// Identify Controller bits.
const (
	// OAESDiscoveryLogChange (OAES bit 31): the controller sends Discovery Log Page
	// Change notices; the kernel enables them, which is what makes AENs arrive.
	OAESDiscoveryLogChange uint32 = 1 << 31
	// LPAExtendedData (LPA bit 2): Get Log Page supports NUMDU and LPO.
	LPAExtendedData uint8 = 1 << 2
)

// ControllerType is the CNTRLTYPE field.
type ControllerType uint8

// Controller types.
const (
	ControllerTypeNotReported ControllerType = 0
	ControllerTypeIO          ControllerType = 1
	ControllerTypeDiscovery   ControllerType = 2
	ControllerTypeAdmin       ControllerType = 3
)

// String returns the kernel's sysfs cntrltype word: io, discovery, admin, or reserved
// (for 0 and undefined values, as the kernel prints them).
func (c ControllerType) String() string {
	switch c {
	case ControllerTypeIO:
		return "io"
	case ControllerTypeDiscovery:
		return "discovery"
	case ControllerTypeAdmin:
		return "admin"
	}
	return "reserved"
}

// DiscoveryControllerType is the DCTYPE field (TP8010).
type DiscoveryControllerType uint8

// Discovery controller types.
const (
	DCTypeNone DiscoveryControllerType = 0
	DCTypeDDC  DiscoveryControllerType = 1
	DCTypeCDC  DiscoveryControllerType = 2
)

// String returns the kernel's sysfs dctype word: none, ddc, cdc or reserved.
func (d DiscoveryControllerType) String() string {
	switch d {
	case DCTypeNone:
		return "none"
	case DCTypeDDC:
		return "ddc"
	case DCTypeCDC:
		return "cdc"
	}
	return "reserved"
}

// Version is the VER field: major in bits 31:16, minor in 15:8, tertiary in 7:0.
type Version uint32

// Major returns the major version.
func (v Version) Major() uint16 { return uint16(v >> 16) }

// Minor returns the minor version.
func (v Version) Minor() uint8 { return uint8(v >> 8) }

// Tertiary returns the tertiary version.
func (v Version) Tertiary() uint8 { return uint8(v) }

// String returns "major.minor" or "major.minor.tertiary" when tertiary is not 0.
func (v Version) String() string {
	s := strconv.Itoa(int(v.Major())) + "." + strconv.Itoa(int(v.Minor()))
	if v.Tertiary() != 0 {
		s += "." + strconv.Itoa(int(v.Tertiary()))
	}
	return s
}

// IdentifyController holds the Identify Controller fields that matter to discovery.
// Text fields are returned as received without their padding; the encoder pads sn, mn
// and fr with spaces and subnqn with NULs, as the specification asks.
type IdentifyController struct {
	SerialNumber     string // sn, 20 bytes
	ModelNumber      string // mn, 40 bytes
	FirmwareRevision string // fr, 8 bytes (nvmet puts the kernel release here)
	MDTS             uint8
	CNTLID           uint16
	Version          Version
	OAES             uint32
	CntrlType        ControllerType
	LPA              uint8
	KAS              uint16 // keep-alive granularity, units of 100 ms
	MaxCmd           uint16
	SGLS             uint32
	SubNQN           string // 256 bytes
	IOCCSZ           uint32
	IORCSZ           uint32
	ICDOFF           uint16
	FCATT            uint8
	MSDBD            uint8
	OFCS             uint16
	DCType           DiscoveryControllerType
}

// DecodeIdentifyController decodes an Identify Controller data structure, which must be
// exactly IdentifySize bytes.
func DecodeIdentifyController(b []byte) (*IdentifyController, error) {
	if len(b) < IdentifySize {
		return nil, fmt.Errorf("decode identify controller: %w: %d bytes, need %d", ErrTruncated, len(b), IdentifySize)
	}
	if len(b) > IdentifySize {
		return nil, fmt.Errorf("decode identify controller: %w: %d bytes, expected %d", ErrTrailingData, len(b), IdentifySize)
	}
	le := binary.LittleEndian
	return &IdentifyController{
		SerialNumber:     string(trimField(b[idSNOff : idSNOff+idSNLen])),
		ModelNumber:      string(trimField(b[idMNOff : idMNOff+idMNLen])),
		FirmwareRevision: string(trimField(b[idFROff : idFROff+idFRLen])),
		MDTS:             b[idMDTSOff],
		CNTLID:           le.Uint16(b[idCNTLIDOff:]),
		Version:          Version(le.Uint32(b[idVEROff:])),
		OAES:             le.Uint32(b[idOAESOff:]),
		CntrlType:        ControllerType(b[idCNTRLTYOff]),
		LPA:              b[idLPAOff],
		KAS:              le.Uint16(b[idKASOff:]),
		MaxCmd:           le.Uint16(b[idMAXCMDOff:]),
		SGLS:             le.Uint32(b[idSGLSOff:]),
		SubNQN:           string(trimField(b[idSubNQNOff : idSubNQNOff+idSubNQNLen])),
		IOCCSZ:           le.Uint32(b[idIOCCSZOff:]),
		IORCSZ:           le.Uint32(b[idIORCSZOff:]),
		ICDOFF:           le.Uint16(b[idICDOFFOff:]),
		FCATT:            b[idFCATTOff],
		MSDBD:            b[idMSDBDOff],
		OFCS:             le.Uint16(b[idOFCSOff:]),
		DCType:           DiscoveryControllerType(b[idDCTYPEOff]),
	}, nil
}

// AppendBinary appends the 4096-byte structure to b; fields not held here are zero.
func (c *IdentifyController) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, IdentifySize)...)
	p := b[start:]
	for _, f := range []struct {
		off, size int
		val       string
		pad       byte
		name      string
	}{
		{idSNOff, idSNLen, c.SerialNumber, ' ', "sn"},
		{idMNOff, idMNLen, c.ModelNumber, ' ', "mn"},
		{idFROff, idFRLen, c.FirmwareRevision, ' ', "fr"},
		{idSubNQNOff, idSubNQNLen, c.SubNQN, 0, "subnqn"},
	} {
		if err := putField(p[f.off:f.off+f.size], f.val, f.pad, f.name); err != nil {
			return b[:start], fmt.Errorf("encode identify controller: %w", err)
		}
	}
	le := binary.LittleEndian
	p[idMDTSOff] = c.MDTS
	le.PutUint16(p[idCNTLIDOff:], c.CNTLID)
	le.PutUint32(p[idVEROff:], uint32(c.Version))
	le.PutUint32(p[idOAESOff:], c.OAES)
	p[idCNTRLTYOff] = byte(c.CntrlType)
	p[idLPAOff] = c.LPA
	le.PutUint16(p[idKASOff:], c.KAS)
	le.PutUint16(p[idMAXCMDOff:], c.MaxCmd)
	le.PutUint32(p[idSGLSOff:], c.SGLS)
	le.PutUint32(p[idIOCCSZOff:], c.IOCCSZ)
	le.PutUint32(p[idIORCSZOff:], c.IORCSZ)
	le.PutUint16(p[idICDOFFOff:], c.ICDOFF)
	p[idFCATTOff] = c.FCATT
	p[idMSDBDOff] = c.MSDBD
	le.PutUint16(p[idOFCSOff:], c.OFCS)
	p[idDCTYPEOff] = byte(c.DCType)
	return b, nil
}

// MarshalBinary returns the 4096-byte structure.
func (c *IdentifyController) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(make([]byte, 0, IdentifySize))
}

// SupportsDiscoveryLogChangeNotices reports OAES bit 31.
func (c *IdentifyController) SupportsDiscoveryLogChangeNotices() bool {
	return c.OAES&OAESDiscoveryLogChange != 0
}

// SupportsExtendedLogPageData reports LPA bit 2 (NUMDU and LPO supported).
func (c *IdentifyController) SupportsExtendedLogPageData() bool {
	return c.LPA&LPAExtendedData != 0
}

// SupportsRegistration reports whether the controller is a DDC or CDC, the condition
// under which libnvme (and so nvme-stas) sends a DIM registration.
func (c *IdentifyController) SupportsRegistration() bool {
	return c.DCType == DCTypeDDC || c.DCType == DCTypeCDC
}
