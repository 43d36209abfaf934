// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Sizes of the structures of nbft.h, in bytes.
const (
	headerLen    = 64
	controlLen   = 64
	hostLen      = 32
	hfiLen       = 32
	hfiTCPLen    = 128
	ssnsLen      = 128
	ssnsExtLen   = 18
	securityLen  = 64
	discoveryLen = 32
	heapRefLen   = 6
)

// Structure IDs (enum nbft_desc_type).
const (
	idControl   = 1
	idHost      = 2
	idHFI       = 3
	idSSNS      = 4
	idSecurity  = 5
	idDiscovery = 6
	idHFITCP    = 7
	idSSNSExt   = 9
)

// Flag bits used here (nbft.h: enum nbft_*_flags).
const (
	flagValid = 1 << 0

	hostIDConfigured  = 1 << 1
	hostNQNConfigured = 1 << 2
	hostPrimaryMask   = 0x18

	hfiTCPGlobalRoute  = 1 << 1
	hfiTCPDHCPOverride = 1 << 2

	ssnsNonBootable   = 1 << 1
	ssnsExtInfoInUse  = 1 << 4
	ssnsDiscovered    = 1 << 6
	ssnsUnavailMask   = 0x0180
	ssnsUnavailable   = 0x0100
	ssnsHeaderDigest  = 1 << 1
	ssnsDataDigest    = 1 << 2
	ssnsExtAdminASQSZ = 1 << 1

	trtypeTCP = 3
)

var le = binary.LittleEndian

// Parse decodes one NBFT. A zero-length table fails with ErrEmpty; a table that is
// truncated or inconsistent fails with an error wrapping ErrMalformed; a major revision
// other than 1 fails with ErrUnsupported. A table whose control descriptor is not valid
// decodes to an empty Table. Valid descriptors that cannot be decoded are dropped and
// explained in Table.Warnings.
func Parse(data []byte) (*Table, error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if len(data) < headerLen+controlLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header and a control descriptor (%d)", ErrMalformed, len(data), headerLen+controlLen)
	}
	if sig := data[0:4]; string(sig) != "NBFT" {
		return nil, fmt.Errorf("%w: signature %q, want \"NBFT\"", ErrMalformed, sig)
	}
	length := uint64(le.Uint32(data[4:8]))
	if length > uint64(len(data)) {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d bytes read", ErrMalformed, length, len(data))
	}
	if length < headerLen+controlLen {
		return nil, fmt.Errorf("%w: header length %d is shorter than a header and a control descriptor", ErrMalformed, length)
	}
	b := data[:length]
	var sum byte
	for _, c := range b {
		sum += c
	}
	if sum != 0 {
		return nil, fmt.Errorf("%w: checksum does not add up (sum %#02x)", ErrMalformed, sum)
	}
	// Minor revisions are backward compatible by definition (nbft.h), so only the major
	// one is checked; libnvme also refuses minor revisions other than 0.
	if major := b[8]; major != 1 {
		return nil, fmt.Errorf("%w: major revision %d", ErrUnsupported, major)
	}
	p := &parser{b: b, heapStart: uint64(le.Uint32(b[36:40]))}
	p.heapEnd = p.heapStart + uint64(le.Uint32(b[40:44]))
	if p.heapEnd > length {
		return nil, fmt.Errorf("%w: heap [%d, %d) exceeds the table length %d", ErrMalformed, p.heapStart, p.heapEnd, length)
	}
	t := &Table{
		OEMID:      strings.TrimRight(printable(b[10:16]), " "),
		OEMTableID: strings.TrimRight(printable(b[16:24]), " "),
	}
	p.t = t
	if err := p.parseControl(b[headerLen : headerLen+controlLen]); err != nil {
		return nil, err
	}
	return t, nil
}

// parser holds the table being decoded.
type parser struct {
	b                  []byte
	heapStart, heapEnd uint64
	t                  *Table
}

// warn records a dropped descriptor or field.
func (p *parser) warn(format string, args ...any) {
	p.t.Warnings = append(p.t.Warnings, fmt.Errorf(format, args...))
}

// descList is the location of one descriptor list in the control descriptor.
type descList struct {
	name   string
	offset uint64
	size   uint64 // declared length of each descriptor
	count  int
	min    uint64 // length of the structure this package reads
}

func (p *parser) parseControl(c []byte) error {
	if c[6]&flagValid == 0 {
		return nil // nothing configured: an empty table, as libnvme returns
	}
	if c[0] != idControl {
		return fmt.Errorf("%w: control descriptor has structure ID %d, want %d", ErrMalformed, c[0], idControl)
	}
	if err := p.parseHost(c[8:14]); err != nil {
		return err
	}
	lists := []descList{
		{"HFI", uint64(le.Uint32(c[16:20])), uint64(le.Uint16(c[20:22])), int(c[23]), hfiLen},
		{"security", uint64(le.Uint32(c[32:36])), uint64(le.Uint16(c[36:38])), int(c[39]), securityLen},
		{"discovery", uint64(le.Uint32(c[40:44])), uint64(le.Uint16(c[44:46])), int(c[47]), discoveryLen},
		{"SSNS", uint64(le.Uint32(c[24:28])), uint64(le.Uint16(c[28:30])), int(c[31]), ssnsLen},
	}
	descs := make([][][]byte, len(lists))
	for i, l := range lists {
		d, err := p.list(l)
		if err != nil {
			return err
		}
		descs[i] = d
	}
	// Order matters: discovery and SSNS descriptors refer to HFIs and security
	// profiles, SSNS descriptors to discovery descriptors.
	for i, d := range descs[0] {
		if h := p.parseHFI(i, d); h != nil {
			p.t.HFIs = append(p.t.HFIs, h)
		}
	}
	for i, d := range descs[1] {
		if s := p.parseSecurity(i, d); s != nil {
			p.t.Security = append(p.t.Security, s)
		}
	}
	for i, d := range descs[2] {
		if dd := p.parseDiscovery(i, d); dd != nil {
			p.t.Discovery = append(p.t.Discovery, dd)
		}
	}
	for i, d := range descs[3] {
		if s := p.parseSSNS(i, d); s != nil {
			p.t.Subsystems = append(p.t.Subsystems, s)
		}
	}
	return nil
}

// list returns the descriptors of one list, each cut to its declared length. The
// declared length is the stride (a later revision may append fields); it may not be
// shorter than the structure read.
func (p *parser) list(l descList) ([][]byte, error) {
	if l.count == 0 {
		return nil, nil
	}
	if l.size < l.min {
		return nil, fmt.Errorf("%w: %s descriptor length %d is shorter than the %d-byte descriptor", ErrMalformed, l.name, l.size, l.min)
	}
	end := l.offset + l.size*uint64(l.count)
	if l.offset < headerLen+controlLen || end > uint64(len(p.b)) {
		return nil, fmt.Errorf("%w: %s descriptor list [%d, %d) lies outside the table (length %d)", ErrMalformed, l.name, l.offset, end, len(p.b))
	}
	out := make([][]byte, l.count)
	for i := range out {
		start := l.offset + uint64(i)*l.size
		out[i] = p.b[start : start+l.size]
	}
	return out, nil
}

// heapObj returns the bytes a heap object reference (offset u32, length u16, offsets
// from the start of the table) points to; nil for a reference of length 0. The object
// must lie inside the heap.
func (p *parser) heapObj(ref []byte, what string) ([]byte, error) {
	off, n := uint64(le.Uint32(ref[0:4])), uint64(le.Uint16(ref[4:6]))
	if n == 0 {
		return nil, nil
	}
	if off < p.heapStart || off+n > p.heapEnd {
		return nil, fmt.Errorf("%s [%d, %d) lies outside the heap [%d, %d)", what, off, off+n, p.heapStart, p.heapEnd)
	}
	return p.b[off : off+n], nil
}

// heapText returns a heap object as text: its bytes up to the first NUL (the length may
// or may not count the terminating NUL). Control characters and non-ASCII bytes are
// refused: no field of the table may hold them.
func (p *parser) heapText(ref []byte, what string) (string, error) {
	obj, err := p.heapObj(ref, what)
	if err != nil {
		return "", err
	}
	if i := slices.Index(obj, 0); i >= 0 {
		obj = obj[:i]
	}
	for i, c := range obj {
		if c < 0x20 || c >= 0x7f {
			return "", fmt.Errorf("%s has byte %#02x at offset %d, not printable ASCII", what, c, i)
		}
	}
	return string(obj), nil
}

func (p *parser) parseHost(ref []byte) error {
	off, n := uint64(le.Uint32(ref[0:4])), uint64(le.Uint16(ref[4:6]))
	if n != 0 && n < hostLen || off < headerLen+controlLen || off+hostLen > uint64(len(p.b)) {
		return fmt.Errorf("%w: host descriptor at %d (length %d) lies outside the table (length %d)", ErrMalformed, off, n, len(p.b))
	}
	d := p.b[off : off+hostLen]
	if d[1]&flagValid == 0 {
		return fmt.Errorf("%w: host descriptor is not valid", ErrMalformed)
	}
	if d[0] != idHost {
		return fmt.Errorf("%w: host descriptor has structure ID %d, want %d", ErrMalformed, d[0], idHost)
	}
	h := &p.t.Host
	copy(h.ID[:], d[2:18])
	h.IDConfigured = d[1]&hostIDConfigured != 0
	h.NQNConfigured = d[1]&hostNQNConfigured != 0
	h.PrimaryAdmin = PrimaryAdmin((d[1] & hostPrimaryMask) >> 3)
	nqn, err := p.heapText(d[18:24], "host NQN")
	if err != nil {
		return fmt.Errorf("%w: host descriptor: %v", ErrMalformed, err)
	}
	h.NQN = nqn
	return nil
}

// ip16 decodes a 16-byte address field: IPv4 is stored IPv4-mapped; all zeros (or the
// IPv4-mapped 0.0.0.0) means "not set" and gives the zero Addr.
func ip16(b []byte) netip.Addr {
	a := netip.AddrFrom16([16]byte(b)).Unmap()
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

func (p *parser) parseHFI(i int, d []byte) *HFI {
	if d[2]&flagValid == 0 {
		return nil
	}
	if d[0] != idHFI {
		p.warn("HFI descriptor %d: structure ID %d, want %d", i, d[0], idHFI)
		return nil
	}
	h := &HFI{Index: int(d[1])}
	if d[3] != trtypeTCP {
		p.warn("HFI descriptor %d (index %d): transport type %d is not NVMe/TCP (3)", i, h.Index, d[3])
		return nil
	}
	h.Transport = "tcp"
	info, err := p.heapObj(d[16:22], "transport info")
	switch {
	case err != nil:
		p.warn("HFI descriptor %d (index %d): %v", i, h.Index, err)
		return nil
	case len(info) < hfiTCPLen:
		p.warn("HFI descriptor %d (index %d): transport info is %d bytes, want %d", i, h.Index, len(info), hfiTCPLen)
		return nil
	case info[6]&flagValid == 0:
		return nil // libnvme drops the HFI when its transport info is not valid
	case info[0] != idHFITCP || info[1] != 1:
		p.warn("HFI descriptor %d (index %d): transport info has structure ID %d version %d, want %d version 1", i, h.Index, info[0], info[1], idHFITCP)
		return nil
	}
	if idx := int(le.Uint16(info[4:6])); idx != h.Index {
		p.warn("HFI descriptor %d: transport info names HFI index %d, the descriptor %d (kept)", i, idx, h.Index)
	}
	h.PCISBDF = le.Uint32(info[7:11])
	h.MAC = net.HardwareAddr(slices.Clone(info[11:17]))
	h.VLAN = le.Uint16(info[17:19])
	h.IPOrigin = info[19]
	h.Addr = ip16(info[20:36])
	h.PrefixLen = info[36]
	h.Gateway = ip16(info[37:53])
	h.RouteMetric = le.Uint16(info[54:56])
	h.PrimaryDNS = ip16(info[56:72])
	h.SecondaryDNS = ip16(info[72:88])
	if info[6]&hfiTCPDHCPOverride != 0 {
		h.DHCPOverride = true
		h.DHCPServer = ip16(info[88:104])
	}
	h.DefaultRoute = info[6]&hfiTCPGlobalRoute != 0
	if name, err := p.heapText(info[104:110], "host name"); err != nil {
		p.warn("HFI descriptor %d (index %d): host name dropped: %v", i, h.Index, err)
	} else {
		h.HostName = name
	}
	return h
}

func (p *parser) parseSecurity(i int, d []byte) *Security {
	if le.Uint16(d[2:4])&flagValid == 0 {
		return nil
	}
	if d[0] != idSecurity {
		p.warn("security descriptor %d: structure ID %d, want %d", i, d[0], idSecurity)
		return nil
	}
	s := &Security{Index: int(d[1]), Flags: le.Uint16(d[2:4]), SecretType: d[4]}
	lists := []struct {
		dst  *[]byte
		ref  []byte
		what string
	}{
		{&s.SecureChannelAlgs, d[6:12], "secure channel algorithms"},
		{&s.AuthProtocols, d[12:18], "authentication protocols"},
		{&s.CipherSuites, d[18:24], "cipher suites"},
		{&s.DHGroups, d[24:30], "DH groups"},
		{&s.SecureHashFunctions, d[30:36], "secure hash functions"},
	}
	for _, l := range lists {
		obj, err := p.heapObj(l.ref, l.what)
		if err != nil {
			p.warn("security descriptor %d (index %d): %v", i, s.Index, err)
			return nil
		}
		*l.dst = slices.Clone(obj)
	}
	path, err := p.heapText(d[36:42], "secret keypath")
	if err != nil {
		p.warn("security descriptor %d (index %d): %v", i, s.Index, err)
		return nil
	}
	s.SecretKeypath = path
	return s
}

func (p *parser) hfiByIndex(idx int) *HFI {
	for _, h := range p.t.HFIs {
		if h.Index == idx {
			return h
		}
	}
	return nil
}

func (p *parser) securityByIndex(idx int) *Security {
	for _, s := range p.t.Security {
		if s.Index == idx {
			return s
		}
	}
	return nil
}

func (p *parser) discoveryByIndex(idx int) *Discovery {
	for _, d := range p.t.Discovery {
		if d.Index == idx {
			return d
		}
	}
	return nil
}

func (p *parser) parseDiscovery(i int, d []byte) *Discovery {
	if d[1]&flagValid == 0 {
		return nil
	}
	if d[0] != idDiscovery {
		p.warn("discovery descriptor %d: structure ID %d, want %d", i, d[0], idDiscovery)
		return nil
	}
	dd := &Discovery{Index: int(d[2]), HFIIndex: int(d[3])}
	uri, err := p.heapText(d[6:12], "URI")
	if err == nil && uri == "" {
		err = fmt.Errorf("no URI")
	}
	if err != nil {
		p.warn("discovery descriptor %d (index %d): %v", i, dd.Index, err)
		return nil
	}
	dd.URI = uri
	if dd.NQN, err = p.heapText(d[12:18], "NQN"); err != nil {
		p.warn("discovery descriptor %d (index %d): %v", i, dd.Index, err)
		return nil
	}
	dd.HFI = p.hfiByIndex(dd.HFIIndex)
	if dd.HFI == nil && dd.HFIIndex != 0 {
		p.warn("discovery descriptor %d (index %d): HFI %d not found (kept without interface)", i, dd.Index, dd.HFIIndex)
	}
	if sec := int(d[4]); sec != 0 {
		if dd.Security = p.securityByIndex(sec); dd.Security == nil {
			p.warn("discovery descriptor %d (index %d): security profile %d not found", i, dd.Index, sec)
		}
	}
	return dd
}

func (p *parser) parseSSNS(i int, d []byte) *Subsystem {
	flags := le.Uint16(d[3:5])
	if flags&flagValid == 0 {
		return nil
	}
	if d[0] != idSSNS {
		p.warn("SSNS descriptor %d: structure ID %d, want %d", i, d[0], idSSNS)
		return nil
	}
	s := &Subsystem{Index: int(le.Uint16(d[1:3]))}
	fail := func(format string, args ...any) *Subsystem {
		p.warn("SSNS descriptor %d (index %d): %s", i, s.Index, fmt.Sprintf(format, args...))
		return nil
	}
	if d[5] != trtypeTCP {
		return fail("transport type %d is not NVMe/TCP (3)", d[5])
	}
	s.Transport = "tcp"
	trflags := le.Uint16(d[6:8])
	s.HeaderDigest = trflags&ssnsHeaderDigest != 0
	s.DataDigest = trflags&ssnsDataDigest != 0
	s.NonBootable = flags&ssnsNonBootable != 0
	s.Discovered = flags&ssnsDiscovered != 0
	s.Unavailable = flags&ssnsUnavailMask == ssnsUnavailable

	addr, err := p.heapObj(d[10:16], "transport address")
	if err != nil {
		return fail("%v", err)
	}
	if len(addr) != 16 {
		return fail("transport address is %d bytes, want a 16-byte IP address", len(addr))
	}
	if s.Traddr = ip16(addr); !s.Traddr.IsValid() {
		return fail("transport address is all zeros")
	}
	if s.Trsvcid, err = p.heapText(d[16:22], "transport service ID"); err != nil {
		return fail("%v", err)
	}
	s.SubsysPort = le.Uint16(d[22:24])
	s.NSID = le.Uint32(d[24:28])
	s.NIDType = NIDType(d[28])
	copy(s.NID[:], d[29:45])
	if s.NQN, err = p.heapText(d[54:60], "subsystem NQN"); err != nil {
		return fail("%v", err)
	}
	if s.NQN == "" {
		return fail("no subsystem NQN")
	}

	if idx := int(d[8]); idx != 0 {
		if s.Discovery = p.discoveryByIndex(idx); s.Discovery == nil {
			p.warn("SSNS descriptor %d (index %d): discovery descriptor %d not found", i, s.Index, idx)
		}
	}
	if idx := int(d[45]); idx != 0 {
		if s.Security = p.securityByIndex(idx); s.Security == nil {
			p.warn("SSNS descriptor %d (index %d): security profile %d not found", i, s.Index, idx)
		}
	}
	// The primary HFI first, then the secondary associations without repeats. An
	// unknown index is left out with a warning; unlike libnvme, the descriptor is kept
	// even without any interface, so that its connection is still known to be the
	// boot connection.
	secondary, err := p.heapObj(d[48:54], "secondary HFI associations")
	if err != nil {
		p.warn("SSNS descriptor %d (index %d): %v", i, s.Index, err)
		secondary = nil
	}
	seen := map[int]bool{}
	for _, idx := range append([]byte{d[46]}, secondary...) {
		if seen[int(idx)] {
			continue
		}
		seen[int(idx)] = true
		if h := p.hfiByIndex(int(idx)); h != nil {
			s.HFIs = append(s.HFIs, h)
		} else {
			p.warn("SSNS descriptor %d (index %d): HFI %d not found", i, s.Index, idx)
		}
	}
	if flags&ssnsExtInfoInUse != 0 {
		p.parseSSNSExt(i, s, d[60:66])
	}
	return s
}

// parseSSNSExt reads the extended information descriptor; a bad one only loses its
// fields, as in libnvme.
func (p *parser) parseSSNSExt(i int, s *Subsystem, ref []byte) {
	e, err := p.heapObj(ref, "extended information")
	switch {
	case err != nil:
		p.warn("SSNS descriptor %d (index %d): %v", i, s.Index, err)
		return
	case e == nil:
		return
	case len(e) < ssnsExtLen:
		p.warn("SSNS descriptor %d (index %d): extended information is %d bytes, want %d", i, s.Index, len(e), ssnsExtLen)
		return
	case e[0] != idSSNSExt || e[1] != 1:
		p.warn("SSNS descriptor %d (index %d): extended information has structure ID %d version %d, want %d version 1", i, s.Index, e[0], e[1], idSSNSExt)
		return
	case int(le.Uint16(e[2:4])) != s.Index:
		p.warn("SSNS descriptor %d (index %d): extended information is for SSNS %d", i, s.Index, le.Uint16(e[2:4]))
		return
	}
	flags := le.Uint32(e[4:8])
	if flags&flagValid == 0 {
		return
	}
	s.ControllerID = le.Uint16(e[8:10])
	if flags&ssnsExtAdminASQSZ != 0 {
		s.ASQSZ = le.Uint16(e[10:12])
	}
	if path, err := p.heapText(e[12:18], "DHCP root path"); err != nil {
		p.warn("SSNS descriptor %d (index %d): %v", i, s.Index, err)
	} else {
		s.DHCPRootPath = path
	}
}

// printable returns the bytes up to the first NUL with anything but printable ASCII
// replaced by '?', for the header's identification strings.
func printable(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	out := []byte(string(b))
	for i, c := range out {
		if c < 0x20 || c >= 0x7f {
			out[i] = '?'
		}
	}
	return string(out)
}
