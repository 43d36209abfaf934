// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// DIM (TP8010 Discovery Information Management, admin opcode 0x21) data layout, as
// libnvme builds it (struct nvmf_dim_data followed by one struct nvmf_ext_die).
const (
	// DIMHeaderSize is the size of the DIM data header; the entries follow it.
	DIMHeaderSize = 1024
	// DIMExtEntryFixedSize is the fixed part of an extended discovery information
	// entry; its extended attributes follow it.
	DIMExtEntryFixedSize = 1032
	// DIMEntityKeyType is the EKTYPE libnvme sends ("must be 0x5F per specs").
	DIMEntityKeyType uint16 = 0x5f
	// MaxSymbolicNameLen is the longest symbolic name we put in, or accept from, a
	// SYMNAME attribute. TP8010 bounds it only by EXATLEN; 256 bytes is our choice, the
	// size of the other name fields of the structure.
	MaxSymbolicNameLen = 256

	dimTDLOff     = 0
	dimNumEntOff  = 8
	dimEntFmtOff  = 16
	dimETypeOff   = 18
	dimPortLclOff = 20
	dimEKTypeOff  = 22
	dimEIDOff     = 24
	dimEIDLen     = 256
	dimENameOff   = 280
	dimENameLen   = 256
	dimEVerOff    = 536
	dimEVerLen    = 64

	dieTELOff     = 1024
	dieNumExatOff = 1028
	exatHdrLen    = 4
)

// HostIDLen is the size of a host ID (a UUID), the value of the HOSTID attribute.
const HostIDLen = 16

// DIMTask is the TAS field of the DIM command (cdw10 bits 3:0).
type DIMTask uint8

// DIM tasks.
const (
	DIMRegister   DIMTask = 0
	DIMDeregister DIMTask = 1
	DIMUpdate     DIMTask = 2
)

// String returns register, deregister, update or the number.
func (t DIMTask) String() string {
	switch t {
	case DIMRegister:
		return "register"
	case DIMDeregister:
		return "deregister"
	case DIMUpdate:
		return "update"
	}
	return fmt.Sprintf("tas(%d)", uint8(t))
}

// CDW10 returns the command's dword 10.
func (t DIMTask) CDW10() uint32 { return uint32(t) & 0xf }

// ParseDIMCDW10 returns the task of a DIM command's dword 10.
func ParseDIMCDW10(cdw10 uint32) DIMTask { return DIMTask(cdw10 & 0xf) }

// DIMEntityType is the ETYPE field.
type DIMEntityType uint16

// DIM entity types.
const (
	DIMEntityHost DIMEntityType = 1
	DIMEntityDDC  DIMEntityType = 2
	DIMEntityCDC  DIMEntityType = 3
)

// String returns host, ddc, cdc or the number.
func (e DIMEntityType) String() string {
	switch e {
	case DIMEntityHost:
		return "host"
	case DIMEntityDDC:
		return "ddc"
	case DIMEntityCDC:
		return "cdc"
	}
	return fmt.Sprintf("etype(%d)", uint16(e))
}

// dimEntFmtExtended is ENTFMT for extended entries, the only format handled here.
const dimEntFmtExtended = 2

// Extended attribute types.
const (
	exatTypeHostID  = 1
	exatTypeSymName = 2
)

// DIMData is a DIM payload with one extended discovery information entry, the shape
// libnvme (and so nvme-stas) sends. Text fields are returned without their padding.
type DIMData struct {
	EntityType DIMEntityType
	// PortLocal is PORTLCL (libnvme sends 0).
	PortLocal uint8
	// EntityKeyType is EKTYPE (DIMEntityKeyType).
	EntityKeyType uint16
	// EntityID (EID) is the host NQN for a host registration.
	EntityID string
	// EntityName (ENAME) is the host name; the encoder truncates it to 256 bytes.
	EntityName string
	// EntityVersion (EVER) is "<ostype> <osrelease> <NAME> <VERSION_ID>"; the encoder
	// truncates it to 64 bytes.
	EntityVersion string
	Entry         DIMEntry
}

// DIMEntry is an extended discovery information entry. libnvme registers a host with
// TrType tcp, the DC address's family, and an empty TrAddr (the DC takes the address
// from the connection); eflags has no place in a DIE.
type DIMEntry struct {
	TrType  TransportType
	AdrFam  AddressFamily
	SubType SubsystemType
	TReq    TransportRequirements
	PortID  uint16
	CNTLID  uint16
	ASQSZ   uint16
	TrSvcID string
	// NQN is the host NQN.
	NQN    string
	TrAddr string
	TSAS   TSAS
	// HostID is the HOSTID attribute (mandatory).
	HostID [HostIDLen]byte
	// SymbolicName is the optional SYMNAME attribute (omitted when empty): printable
	// ASCII, at most MaxSymbolicNameLen bytes; sent space padded to a multiple of 4.
	SymbolicName string
}

// HostRegistration describes the host for NewHostRegistration.
type HostRegistration struct {
	HostNQN      string
	HostID       [HostIDLen]byte
	SymbolicName string
	// EntityName is the host name (gethostname); truncated to 256 bytes.
	EntityName string
	// EntityVersion, see EntityVersion; truncated to 64 bytes.
	EntityVersion string
	// AdrFam is the family of the address the host reaches the DC from (ipv4 or ipv6).
	AdrFam AddressFamily
}

// NewHostRegistration builds the DIM payload libnvme's nvmf_register_ctrl sends for
// h, after validating the host NQN (internal/nqn) and the symbolic name.
func NewHostRegistration(h HostRegistration) (*DIMData, error) {
	d := &DIMData{
		EntityType:    DIMEntityHost,
		EntityKeyType: DIMEntityKeyType,
		EntityID:      h.HostNQN,
		EntityName:    truncate(h.EntityName, dimENameLen),
		EntityVersion: truncate(h.EntityVersion, dimEVerLen),
		Entry: DIMEntry{
			TrType:       TransportTCP,
			AdrFam:       h.AdrFam,
			NQN:          h.HostNQN,
			HostID:       h.HostID,
			SymbolicName: strings.TrimRight(h.SymbolicName, " "),
		},
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("build DIM host registration: %w", err)
	}
	return d, nil
}

// Validate checks what both the encoder and the decoder insist on: a valid host NQN in
// EntityID and in the entry when the entity is a host, NQN and address fields that fit,
// and a printable symbolic name of at most MaxSymbolicNameLen bytes.
func (d *DIMData) Validate() error {
	if d.EntityType == DIMEntityHost {
		if err := nqn.ValidateHost(d.EntityID); err != nil {
			return fmt.Errorf("DIM entity id: %w", err)
		}
		if err := nqn.ValidateHost(d.Entry.NQN); err != nil {
			return fmt.Errorf("DIM entry nqn: %w", err)
		}
	}
	for _, f := range []struct {
		name string
		val  string
		max  int
	}{
		{"entity id", d.EntityID, dimEIDLen},
		{"entry nqn", d.Entry.NQN, entrySubNQNLen},
		{"entry trsvcid", d.Entry.TrSvcID, entryTrSvcIDLen},
		{"entry traddr", d.Entry.TrAddr, entryTrAddrLen},
	} {
		if len(f.val) > f.max {
			return fmt.Errorf("DIM %s: %w: %d bytes, the field holds %d", f.name, ErrFieldTooLong, len(f.val), f.max)
		}
	}
	return checkSymbolicName(d.Entry.SymbolicName)
}

func checkSymbolicName(s string) error {
	if len(s) > MaxSymbolicNameLen {
		return fmt.Errorf("DIM symbolic name: %w: %d bytes, at most %d", ErrFieldTooLong, len(s), MaxSymbolicNameLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("DIM symbolic name %q: %w: byte %#02x at %d is not printable ASCII", s, ErrInvalidValue, s[i], i)
		}
	}
	if strings.HasSuffix(s, " ") {
		// Trailing spaces would be indistinguishable from the padding.
		return fmt.Errorf("DIM symbolic name %q: %w: ends with a space", s, ErrInvalidValue)
	}
	return nil
}

func roundUp4(n int) int { return (n + 3) &^ 3 }

// TEL returns the entry's total length: the fixed part, the HOSTID attribute, and the
// SYMNAME attribute when there is a symbolic name.
func (d *DIMData) TEL() int {
	tel := DIMExtEntryFixedSize + exatHdrLen + HostIDLen
	if n := len(d.Entry.SymbolicName); n > 0 {
		tel += exatHdrLen + roundUp4(n)
	}
	return tel
}

// TDL returns the total data length: the header plus the one entry (2076 bytes without
// a symbolic name).
func (d *DIMData) TDL() int { return DIMHeaderSize + d.TEL() }

// AppendBinary validates d and appends its wire form (TDL bytes) to b. EntityName and
// EntityVersion are truncated to their fields; other text must fit.
func (d *DIMData) AppendBinary(b []byte) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return b, fmt.Errorf("encode DIM data: %w", err)
	}
	start := len(b)
	tel := d.TEL()
	b = append(b, make([]byte, DIMHeaderSize+tel)...)
	p := b[start:]
	le := binary.LittleEndian
	le.PutUint32(p[dimTDLOff:], uint32(DIMHeaderSize+tel))
	le.PutUint64(p[dimNumEntOff:], 1)
	le.PutUint16(p[dimEntFmtOff:], dimEntFmtExtended)
	le.PutUint16(p[dimETypeOff:], uint16(d.EntityType))
	p[dimPortLclOff] = d.PortLocal
	le.PutUint16(p[dimEKTypeOff:], d.EntityKeyType)
	// Validate has checked the lengths, and the names are truncated: no error possible.
	_ = putField(p[dimEIDOff:dimEIDOff+dimEIDLen], d.EntityID, 0, "eid")
	_ = putField(p[dimENameOff:dimENameOff+dimENameLen], truncate(d.EntityName, dimENameLen), 0, "ename")
	_ = putField(p[dimEVerOff:dimEVerOff+dimEVerLen], truncate(d.EntityVersion, dimEVerLen), 0, "ever")

	e := p[DIMHeaderSize:]
	en := &d.Entry
	e[0] = byte(en.TrType)
	e[1] = byte(en.AdrFam)
	e[2] = byte(en.SubType)
	e[3] = byte(en.TReq)
	le.PutUint16(e[4:], en.PortID)
	le.PutUint16(e[6:], en.CNTLID)
	le.PutUint16(e[8:], en.ASQSZ)
	_ = putField(e[entryTrSvcIDOff:entryTrSvcIDOff+entryTrSvcIDLen], en.TrSvcID, 0, "trsvcid")
	_ = putField(e[entrySubNQNOff:entrySubNQNOff+entrySubNQNLen], en.NQN, 0, "nqn")
	_ = putField(e[entryTrAddrOff:entryTrAddrOff+entryTrAddrLen], en.TrAddr, 0, "traddr")
	copy(e[entryTSASOff:], en.TSAS[:])
	le.PutUint32(e[dieTELOff:], uint32(tel))
	numexat := uint16(1)
	x := e[DIMExtEntryFixedSize:]
	le.PutUint16(x[0:], exatTypeHostID)
	le.PutUint16(x[2:], HostIDLen)
	copy(x[exatHdrLen:], en.HostID[:])
	if n := len(en.SymbolicName); n > 0 {
		numexat++
		x = x[exatHdrLen+HostIDLen:]
		le.PutUint16(x[0:], exatTypeSymName)
		le.PutUint16(x[2:], uint16(roundUp4(n)))
		// Per the base specification ASCII strings are padded with spaces.
		_ = putField(x[exatHdrLen:exatHdrLen+roundUp4(n)], en.SymbolicName, ' ', "symname")
	}
	le.PutUint16(e[dieNumExatOff:], numexat)
	return b, nil
}

// MarshalBinary validates d and returns its wire form.
func (d *DIMData) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(nil)
}

// DecodeDIMData decodes a DIM payload as a discovery controller receives it: a header
// with NUMENT 1, ENTFMT extended, TDL equal to the data length, and one entry whose TEL,
// NUMEXAT and attribute lengths agree, carrying exactly one HOSTID and at most one
// SYMNAME. Anything else, and anything Validate refuses, is an error naming the field.
func DecodeDIMData(b []byte) (*DIMData, error) {
	if len(b) < DIMHeaderSize+DIMExtEntryFixedSize {
		return nil, fmt.Errorf("decode DIM data: %w: %d bytes, need at least %d", ErrTruncated, len(b), DIMHeaderSize+DIMExtEntryFixedSize)
	}
	le := binary.LittleEndian
	tdl := le.Uint32(b[dimTDLOff:])
	if uint64(tdl) != uint64(len(b)) {
		return nil, fmt.Errorf("decode DIM data: %w: tdl %d but %d bytes received", ErrMalformed, tdl, len(b))
	}
	if n := le.Uint64(b[dimNumEntOff:]); n != 1 {
		return nil, fmt.Errorf("decode DIM data: %w: nument %d, only 1 entry is handled", ErrUnsupported, n)
	}
	if f := le.Uint16(b[dimEntFmtOff:]); f != dimEntFmtExtended {
		return nil, fmt.Errorf("decode DIM data: %w: entfmt %d, only extended (2) is handled", ErrUnsupported, f)
	}
	d := &DIMData{
		EntityType:    DIMEntityType(le.Uint16(b[dimETypeOff:])),
		PortLocal:     b[dimPortLclOff],
		EntityKeyType: le.Uint16(b[dimEKTypeOff:]),
		EntityID:      string(trimField(b[dimEIDOff : dimEIDOff+dimEIDLen])),
		EntityName:    string(trimField(b[dimENameOff : dimENameOff+dimENameLen])),
		EntityVersion: string(trimField(b[dimEVerOff : dimEVerOff+dimEVerLen])),
	}
	e := b[DIMHeaderSize:]
	tel := le.Uint32(e[dieTELOff:])
	if uint64(tel) != uint64(len(e)) {
		return nil, fmt.Errorf("decode DIM entry: %w: tel %d but tdl leaves %d bytes", ErrMalformed, tel, len(e))
	}
	en := &d.Entry
	en.TrType = TransportType(e[0])
	en.AdrFam = AddressFamily(e[1])
	en.SubType = SubsystemType(e[2])
	en.TReq = TransportRequirements(e[3])
	en.PortID = le.Uint16(e[4:])
	en.CNTLID = le.Uint16(e[6:])
	en.ASQSZ = le.Uint16(e[8:])
	en.TrSvcID = string(trimField(e[entryTrSvcIDOff : entryTrSvcIDOff+entryTrSvcIDLen]))
	en.NQN = string(trimField(e[entrySubNQNOff : entrySubNQNOff+entrySubNQNLen]))
	en.TrAddr = string(trimField(e[entryTrAddrOff : entryTrAddrOff+entryTrAddrLen]))
	copy(en.TSAS[:], e[entryTSASOff:entryTSASOff+TSASSize])

	if err := decodeExtAttrs(en, le.Uint16(e[dieNumExatOff:]), e[DIMExtEntryFixedSize:]); err != nil {
		return nil, fmt.Errorf("decode DIM entry: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("decode DIM data: %w", err)
	}
	return d, nil
}

// decodeExtAttrs reads numexat attributes that must fill x exactly.
func decodeExtAttrs(en *DIMEntry, numexat uint16, x []byte) error {
	le := binary.LittleEndian
	var haveHostID, haveSymName bool
	for i := range int(numexat) {
		if len(x) < exatHdrLen {
			return fmt.Errorf("%w: attribute %d of %d: header past the end of the entry", ErrMalformed, i, numexat)
		}
		typ, n := le.Uint16(x[0:]), int(le.Uint16(x[2:]))
		if n%4 != 0 {
			return fmt.Errorf("%w: attribute %d: exatlen %d is not a multiple of 4", ErrMalformed, i, n)
		}
		if len(x)-exatHdrLen < n {
			return fmt.Errorf("%w: attribute %d: exatlen %d past the end of the entry", ErrMalformed, i, n)
		}
		val := x[exatHdrLen : exatHdrLen+n]
		switch typ {
		case exatTypeHostID:
			if haveHostID {
				return fmt.Errorf("%w: attribute %d: second HOSTID", ErrMalformed, i)
			}
			if n != HostIDLen {
				return fmt.Errorf("%w: attribute %d: HOSTID exatlen %d, expected %d", ErrMalformed, i, n, HostIDLen)
			}
			haveHostID = true
			copy(en.HostID[:], val)
		case exatTypeSymName:
			if haveSymName {
				return fmt.Errorf("%w: attribute %d: second SYMNAME", ErrMalformed, i)
			}
			haveSymName = true
			en.SymbolicName = string(trimField(val))
			if en.SymbolicName == "" || roundUp4(len(en.SymbolicName)) != n {
				return fmt.Errorf("%w: attribute %d: SYMNAME exatlen %d does not match its %d-byte name", ErrMalformed, i, n, len(en.SymbolicName))
			}
		default:
			return fmt.Errorf("%w: attribute %d: exattype %d", ErrUnsupported, i, typ)
		}
		x = x[exatHdrLen+n:]
	}
	if !haveHostID {
		return fmt.Errorf("%w: no HOSTID attribute", ErrMalformed)
	}
	if len(x) != 0 {
		return fmt.Errorf("%w: %d bytes after the %d attributes", ErrTrailingData, len(x), numexat)
	}
	return nil
}

// EntityVersion builds EVER as libnvme does: "<ostype> <osrelease> <NAME> <VERSION_ID>",
// from /proc/sys/kernel/ostype, /proc/sys/kernel/osrelease (each up to its first
// whitespace) and the NAME and VERSION_ID keys of an os-release file's content (quotes
// removed; parts that are missing are left out), truncated to the 64-byte field.
// Example: "Linux 6.1.0-18-amd64 Debian GNU/Linux 12".
func EntityVersion(ostype, osrelease string, osRelease []byte) string {
	firstWord := func(s string) string {
		if f := strings.Fields(s); len(f) > 0 {
			return f[0]
		}
		return ""
	}
	var name, versionID string
	sc := bufio.NewScanner(bytes.NewReader(osRelease))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		val = strings.Trim(val, `"'`)
		switch key {
		case "NAME":
			name = val
		case "VERSION_ID":
			versionID = val
		}
	}
	var parts []string
	for _, p := range []string{firstWord(ostype), firstWord(osrelease), name, versionID} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return truncate(strings.Join(parts, " "), dimEVerLen)
}

// ParseUUID parses a host ID in its textual UUID form (8-4-4-4-12 hex digits) into the
// 16 bytes of the HOSTID attribute.
func ParseUUID(s string) ([HostIDLen]byte, error) {
	var id [HostIDLen]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("parse host ID %q: %w: not a UUID", s, ErrInvalidValue)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, fmt.Errorf("parse host ID %q: %w: %w", s, ErrInvalidValue, err)
	}
	return id, nil
}
