// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Discovery Log Page layout (LID 0x70).
const (
	// LogHeaderSize is the size of the discovery log page header; entries start after it.
	LogHeaderSize = 1024
	// LogEntrySize is the size of one discovery log page entry.
	LogEntrySize = 1024
	// LogHeaderReadLen is how much of the header a reader needs (genctr, numrec, recfmt,
	// rounded up to a dword): libnvme reads this much before reading the entries.
	LogHeaderReadLen = 20
	// MaxLogRecords bounds the NUMREC a reader should accept before allocating numrec
	// entries: it is a limit of ours (64 MiB of entries), not of the specification, so
	// that a hostile controller cannot make the host allocate without bound.
	MaxLogRecords = 1 << 16

	logHeaderMinLen = 18 // genctr(8) + numrec(8) + recfmt(2)

	entryTrSvcIDOff = 32
	entryTrSvcIDLen = 32
	entrySubNQNOff  = 256
	entrySubNQNLen  = 256
	entryTrAddrOff  = 512
	entryTrAddrLen  = 256
	entryTSASOff    = 768
)

// LogHeader is the header of the Discovery Log Page.
type LogHeader struct {
	// GenCtr is the generation counter; it changes whenever the log content changes.
	GenCtr uint64
	// NumRec is the number of entries the controller says follow the header.
	NumRec uint64
	// RecFmt is the record format (0 is the only one defined). It is reported, not
	// checked, as libnvme does.
	RecFmt uint16
}

// DecodeLogHeader decodes the header fields from the start of b. b may be just the first
// LogHeaderReadLen bytes, as the kernel layer reads them before paging in the entries.
func DecodeLogHeader(b []byte) (LogHeader, error) {
	if len(b) < logHeaderMinLen {
		return LogHeader{}, fmt.Errorf("decode discovery log header: %w: %d bytes, need at least %d", ErrTruncated, len(b), logHeaderMinLen)
	}
	return LogHeader{
		GenCtr: binary.LittleEndian.Uint64(b[0:]),
		NumRec: binary.LittleEndian.Uint64(b[8:]),
		RecFmt: binary.LittleEndian.Uint16(b[16:]),
	}, nil
}

// EntriesLen returns the byte length of the NumRec entries that follow the header, or an
// error when NumRec exceeds MaxLogRecords.
func (h LogHeader) EntriesLen() (uint64, error) {
	if h.NumRec > MaxLogRecords {
		return 0, fmt.Errorf("discovery log header: %w: numrec %d exceeds the limit of %d", ErrMalformed, h.NumRec, MaxLogRecords)
	}
	return h.NumRec * LogEntrySize, nil
}

// AppendBinary appends the full 1024-byte header to b.
func (h LogHeader) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, LogHeaderSize)...)
	p := b[start:]
	binary.LittleEndian.PutUint64(p[0:], h.GenCtr)
	binary.LittleEndian.PutUint64(p[8:], h.NumRec)
	binary.LittleEndian.PutUint16(p[16:], h.RecFmt)
	return b, nil
}

// MarshalBinary returns the 1024-byte header.
func (h LogHeader) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, LogHeaderSize))
}

// Entry is one Discovery Log Page Entry. Text fields are returned as received, without
// their trailing space/NUL padding; use CheckText before trusting them.
type Entry struct {
	TrType  TransportType
	AdrFam  AddressFamily
	SubType SubsystemType
	TReq    TransportRequirements
	PortID  uint16
	// CNTLID is 0xFFFF for the dynamic controller model; 0xFFFE asks the host to
	// remember the controller ID returned on connect.
	CNTLID uint16
	ASQSZ  uint16
	EFlags EntryFlags
	// TrSvcID is the transport service ID (the TCP port), at most 32 bytes.
	TrSvcID string
	// SubNQN is the subsystem NQN, at most 256 bytes.
	SubNQN string
	// TrAddr is the transport address, at most 256 bytes. For FC, a "nn-0x…,pn-0x…"
	// address is rewritten to "nn-0x…:pn-0x…" as libnvme does.
	TrAddr string
	TSAS   TSAS
}

// DecodeEntry decodes one entry from the first LogEntrySize bytes of b.
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) < LogEntrySize {
		return Entry{}, fmt.Errorf("decode discovery log entry: %w: %d bytes, need %d", ErrTruncated, len(b), LogEntrySize)
	}
	var sb strings.Builder
	sb.Grow(textLen(b))
	var e Entry
	decodeEntryInto(&e, b, &sb)
	return e, nil
}

// DecodeEntries decodes the entries held in b, which must be a whole number of entries
// (for example a page of entries read at a log page offset).
func DecodeEntries(b []byte) ([]Entry, error) {
	if len(b)%LogEntrySize != 0 {
		return nil, fmt.Errorf("decode discovery log entries: %w: %d bytes is not a multiple of %d", ErrMalformed, len(b), LogEntrySize)
	}
	return decodeEntries(b, len(b)/LogEntrySize), nil
}

// textLen is the total length of the trimmed text fields of the entry at the start of b.
func textLen(b []byte) int {
	return len(trimField(b[entryTrSvcIDOff:entryTrSvcIDOff+entryTrSvcIDLen])) +
		len(trimField(b[entrySubNQNOff:entrySubNQNOff+entrySubNQNLen])) +
		len(trimField(b[entryTrAddrOff:entryTrAddrOff+entryTrAddrLen]))
}

// decodeEntries decodes n entries from b. All their text goes into one buffer, sized up
// front, whose string the entries' fields slice: a page costs two allocations however
// many entries it has (the price: one retained entry keeps the page's text alive).
func decodeEntries(b []byte, n int) []Entry {
	total := 0
	for i := range n {
		total += textLen(b[i*LogEntrySize:])
	}
	var sb strings.Builder
	sb.Grow(total)
	entries := make([]Entry, n)
	for i := range n {
		decodeEntryInto(&entries[i], b[i*LogEntrySize:(i+1)*LogEntrySize], &sb)
	}
	return entries
}

// decodeEntryInto fills e from the entry at the start of b, appending its text to sb and
// slicing the text fields out of sb's string. Strings taken from a strings.Builder stay
// valid as it grows, and with the capacity reserved up front it never reallocates.
func decodeEntryInto(e *Entry, b []byte, sb *strings.Builder) {
	e.TrType = TransportType(b[0])
	e.AdrFam = AddressFamily(b[1])
	e.SubType = SubsystemType(b[2])
	e.TReq = TransportRequirements(b[3])
	e.PortID = binary.LittleEndian.Uint16(b[4:])
	e.CNTLID = binary.LittleEndian.Uint16(b[6:])
	e.ASQSZ = binary.LittleEndian.Uint16(b[8:])
	e.EFlags = EntryFlags(binary.LittleEndian.Uint16(b[10:]))
	copy(e.TSAS[:], b[entryTSASOff:entryTSASOff+TSASSize])

	start := sb.Len()
	sb.Write(trimField(b[entryTrSvcIDOff : entryTrSvcIDOff+entryTrSvcIDLen]))
	svcEnd := sb.Len()
	sb.Write(trimField(b[entrySubNQNOff : entrySubNQNOff+entrySubNQNLen]))
	nqnEnd := sb.Len()
	traddr := trimField(b[entryTrAddrOff : entryTrAddrOff+entryTrAddrLen])
	if comma := bytes.IndexByte(traddr, ','); e.TrType == TransportFC && comma >= 0 {
		// libnvme reports FC addresses as nn-0x…:pn-0x…; some targets send a comma.
		sb.Write(traddr[:comma])
		sb.WriteByte(':')
		sb.Write(traddr[comma+1:])
	} else {
		sb.Write(traddr)
	}
	text := sb.String()
	e.TrSvcID = text[start:svcEnd]
	e.SubNQN = text[svcEnd:nqnEnd]
	e.TrAddr = text[nqnEnd:]
}

// AppendBinary appends the 1024-byte wire form of e to b. Text fields are NUL padded, as
// the Linux target (nvmet) sends them; a value longer than its field is an error.
func (e *Entry) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, LogEntrySize)...)
	p := b[start:]
	p[0] = byte(e.TrType)
	p[1] = byte(e.AdrFam)
	p[2] = byte(e.SubType)
	p[3] = byte(e.TReq)
	binary.LittleEndian.PutUint16(p[4:], e.PortID)
	binary.LittleEndian.PutUint16(p[6:], e.CNTLID)
	binary.LittleEndian.PutUint16(p[8:], e.ASQSZ)
	binary.LittleEndian.PutUint16(p[10:], uint16(e.EFlags))
	for _, f := range []struct {
		off, size int
		val, name string
	}{
		{entryTrSvcIDOff, entryTrSvcIDLen, e.TrSvcID, "trsvcid"},
		{entrySubNQNOff, entrySubNQNLen, e.SubNQN, "subnqn"},
		{entryTrAddrOff, entryTrAddrLen, e.TrAddr, "traddr"},
	} {
		if err := putField(p[f.off:f.off+f.size], f.val, 0, f.name); err != nil {
			return b[:start], fmt.Errorf("encode discovery log entry: %w", err)
		}
	}
	copy(p[entryTSASOff:], e.TSAS[:])
	return b, nil
}

// MarshalBinary returns the 1024-byte wire form of e.
func (e *Entry) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, LogEntrySize))
}

// CheckText runs CheckText on the entry's text fields and names the first bad one.
func (e *Entry) CheckText() error {
	for _, f := range []struct{ name, val string }{
		{"trsvcid", e.TrSvcID}, {"subnqn", e.SubNQN}, {"traddr", e.TrAddr},
	} {
		if err := CheckText(f.val); err != nil {
			return fmt.Errorf("discovery log entry %s %q: %w", f.name, f.val, err)
		}
	}
	return nil
}

// DiscoveryLog is a complete Discovery Log Page: the header's generation counter and
// record format, and the entries (whose count is the header's NUMREC).
type DiscoveryLog struct {
	GenCtr  uint64
	RecFmt  uint16
	Entries []Entry
}

// DecodeDiscoveryLog strictly decodes a complete page: a header followed by exactly
// NUMREC entries. A short page, a NUMREC larger than the data, or bytes after the last
// entry are errors naming the numbers involved.
func DecodeDiscoveryLog(b []byte) (*DiscoveryLog, error) {
	h, err := DecodeLogHeader(b)
	if err != nil {
		return nil, fmt.Errorf("decode discovery log: %w", err)
	}
	if len(b) < LogHeaderSize {
		return nil, fmt.Errorf("decode discovery log: %w: %d bytes, the header alone is %d", ErrTruncated, len(b), LogHeaderSize)
	}
	avail := uint64(len(b)-LogHeaderSize) / LogEntrySize
	if h.NumRec > avail {
		return nil, fmt.Errorf("decode discovery log: %w: numrec %d but %d bytes hold only %d entries", ErrTruncated, h.NumRec, len(b), avail)
	}
	if rest := uint64(len(b)-LogHeaderSize) - h.NumRec*LogEntrySize; rest != 0 {
		return nil, fmt.Errorf("decode discovery log: %w: %d bytes after the %d entries", ErrTrailingData, rest, h.NumRec)
	}
	return &DiscoveryLog{
		GenCtr:  h.GenCtr,
		RecFmt:  h.RecFmt,
		Entries: decodeEntries(b[LogHeaderSize:], int(h.NumRec)),
	}, nil
}

// Header returns the page's header, NUMREC being the number of entries.
func (l *DiscoveryLog) Header() LogHeader {
	return LogHeader{GenCtr: l.GenCtr, NumRec: uint64(len(l.Entries)), RecFmt: l.RecFmt}
}

// AppendBinary appends the header and every entry to b.
func (l *DiscoveryLog) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, _ = l.Header().AppendBinary(b)
	for i := range l.Entries {
		var err error
		if b, err = l.Entries[i].AppendBinary(b); err != nil {
			return b[:start], fmt.Errorf("encode discovery log entry %d: %w", i, err)
		}
	}
	return b, nil
}

// MarshalBinary returns the page's wire form.
func (l *DiscoveryLog) MarshalBinary() ([]byte, error) {
	return l.AppendBinary(make([]byte, 0, LogHeaderSize+len(l.Entries)*LogEntrySize))
}
