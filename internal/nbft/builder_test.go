// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"encoding/binary"
	"net/netip"
)

// This file builds synthetic tables laid out as the firmware does: header, control
// descriptor, host descriptor, the four descriptor lists, then the heap. Each spec type
// has a raw hook to corrupt its bytes after encoding.

type heapWriter struct {
	start int
	data  []byte
}

// obj appends b to the heap and returns its 6-byte reference.
func (h *heapWriter) obj(b []byte) []byte {
	ref := make([]byte, 6)
	if len(b) == 0 {
		return ref
	}
	binary.LittleEndian.PutUint32(ref, uint32(h.start+len(h.data)))
	binary.LittleEndian.PutUint16(ref[4:], uint16(len(b)))
	h.data = append(h.data, b...)
	return ref
}

// str appends s and a NUL, the length not counting the NUL (as the Dell fixture does).
func (h *heapWriter) str(s string) []byte {
	if s == "" {
		return make([]byte, 6)
	}
	ref := h.obj(append([]byte(s), 0))
	binary.LittleEndian.PutUint16(ref[4:], uint16(len(s)))
	return ref
}

func ip16bytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return make([]byte, 16)
	}
	b := a.As16()
	return b[:]
}

type hfiSpec struct {
	index    byte
	invalid  bool // clear the descriptor's Valid flag
	trtype   byte // 0 means tcp
	tcpFlags byte // 0 means valid|global route|DHCP override
	mac      []byte
	vlan     uint16
	addr     netip.Addr
	prefix   byte
	gateway  netip.Addr
	hostName string
	noInfo   bool
	raw      func(desc, info []byte)
}

func (s hfiSpec) encode(h *heapWriter) []byte {
	d := make([]byte, hfiLen)
	d[0], d[1], d[2], d[3] = idHFI, s.index, flagValid, trtypeTCP
	if s.invalid {
		d[2] = 0
	}
	if s.trtype != 0 {
		d[3] = s.trtype
	}
	info := make([]byte, hfiTCPLen)
	info[0], info[1], info[2], info[3] = idHFITCP, 1, trtypeTCP, 1
	binary.LittleEndian.PutUint16(info[4:], uint16(s.index))
	info[6] = flagValid | hfiTCPGlobalRoute | hfiTCPDHCPOverride
	if s.tcpFlags != 0 {
		info[6] = s.tcpFlags
	}
	binary.LittleEndian.PutUint32(info[7:], 0x4000)
	copy(info[11:17], s.mac)
	binary.LittleEndian.PutUint16(info[17:], s.vlan)
	copy(info[20:36], ip16bytes(s.addr))
	info[36] = s.prefix
	copy(info[37:53], ip16bytes(s.gateway))
	copy(info[104:110], h.str(s.hostName))
	if s.raw != nil {
		s.raw(d, info)
	}
	if !s.noInfo {
		copy(d[16:22], h.obj(info))
	}
	return d
}

type secSpec struct {
	index   byte
	invalid bool
	algs    []byte
	keypath string
	raw     func(d []byte)
}

func (s secSpec) encode(h *heapWriter) []byte {
	d := make([]byte, securityLen)
	d[0], d[1] = idSecurity, s.index
	if !s.invalid {
		d[2] = flagValid
	}
	d[4] = 2
	copy(d[6:12], h.obj(s.algs))
	copy(d[36:42], h.str(s.keypath))
	if s.raw != nil {
		s.raw(d)
	}
	return d
}

type discSpec struct {
	index, hfi, sec byte
	invalid         bool
	uri, nqn        string
	raw             func(d []byte)
}

func (s discSpec) encode(h *heapWriter) []byte {
	d := make([]byte, discoveryLen)
	d[0], d[2], d[3], d[4] = idDiscovery, s.index, s.hfi, s.sec
	if !s.invalid {
		d[1] = flagValid
	}
	copy(d[6:12], h.str(s.uri))
	copy(d[12:18], h.str(s.nqn))
	if s.raw != nil {
		s.raw(d)
	}
	return d
}

type ssnsSpec struct {
	index     uint16
	flags     uint16 // 0 means valid
	trflags   uint16
	disc, sec byte
	hfi       byte
	secondary []byte
	traddr    netip.Addr
	trsvcid   string
	nqn       string
	nsid      uint32
	nidType   byte
	ext       []byte // raw extended info descriptor, added when not nil
	raw       func(d []byte)
}

func (s ssnsSpec) encode(h *heapWriter) []byte {
	d := make([]byte, ssnsLen)
	d[0] = idSSNS
	binary.LittleEndian.PutUint16(d[1:], s.index)
	flags := s.flags
	if flags == 0 {
		flags = flagValid
	}
	if s.ext != nil {
		flags |= ssnsExtInfoInUse
	}
	binary.LittleEndian.PutUint16(d[3:], flags)
	d[5] = trtypeTCP
	binary.LittleEndian.PutUint16(d[6:], s.trflags)
	d[8] = s.disc
	if s.traddr.IsValid() {
		copy(d[10:16], h.obj(ip16bytes(s.traddr)))
	}
	copy(d[16:22], h.str(s.trsvcid))
	binary.LittleEndian.PutUint32(d[24:], s.nsid)
	d[28] = s.nidType
	for i := range 16 {
		d[29+i] = byte(0xa0 + i)
	}
	d[45], d[46] = s.sec, s.hfi
	copy(d[48:54], h.obj(s.secondary))
	copy(d[54:60], h.str(s.nqn))
	if s.ext != nil {
		copy(d[60:66], h.obj(s.ext))
	}
	if s.raw != nil {
		s.raw(d)
	}
	return d
}

// extInfo builds an SSNS extended information descriptor.
func extInfo(ssnsIndex uint16, flags uint32, cntlid, asqsz uint16) []byte {
	e := make([]byte, ssnsExtLen)
	e[0], e[1] = idSSNSExt, 1
	binary.LittleEndian.PutUint16(e[2:], ssnsIndex)
	binary.LittleEndian.PutUint32(e[4:], flags)
	binary.LittleEndian.PutUint16(e[8:], cntlid)
	binary.LittleEndian.PutUint16(e[10:], asqsz)
	return e
}

type tableSpec struct {
	hostFlags byte // 0 means valid|hostid configured|hostnqn configured
	hostNQN   string
	hfis      []hfiSpec
	secs      []secSpec
	discs     []discSpec
	ssns      []ssnsSpec
	// raw corrupts the finished table before the checksum is computed.
	raw func(b []byte)
	// badChecksum leaves the checksum wrong.
	badChecksum bool
}

// Offsets of the synthetic layout.
const (
	synthHost = headerLen + controlLen
	synthHFI  = synthHost + hostLen
)

func (s tableSpec) build() []byte {
	secOff := synthHFI + hfiLen*len(s.hfis)
	discOff := secOff + securityLen*len(s.secs)
	ssnsOff := discOff + discoveryLen*len(s.discs)
	heapOff := ssnsOff + ssnsLen*len(s.ssns)
	h := &heapWriter{start: heapOff}

	var body []byte
	host := make([]byte, hostLen)
	host[0] = idHost
	host[1] = flagValid | hostIDConfigured | hostNQNConfigured
	if s.hostFlags != 0 {
		host[1] = s.hostFlags
	}
	for i := range 16 {
		host[2+i] = byte(i)
	}
	copy(host[18:24], h.str(s.hostNQN))
	body = append(body, host...)
	for _, x := range s.hfis {
		body = append(body, x.encode(h)...)
	}
	for _, x := range s.secs {
		body = append(body, x.encode(h)...)
	}
	for _, x := range s.discs {
		body = append(body, x.encode(h)...)
	}
	for _, x := range s.ssns {
		body = append(body, x.encode(h)...)
	}

	b := make([]byte, headerLen+controlLen, heapOff+len(h.data))
	copy(b, "NBFT")
	b[8] = 1
	copy(b[10:], "TEST  ")
	copy(b[16:], "SYNTH   ")
	binary.LittleEndian.PutUint32(b[36:], uint32(heapOff))
	binary.LittleEndian.PutUint32(b[40:], uint32(len(h.data)))

	c := b[headerLen:]
	c[0], c[1] = idControl, 1
	binary.LittleEndian.PutUint16(c[4:], controlLen)
	c[6] = flagValid
	binary.LittleEndian.PutUint32(c[8:], synthHost)
	binary.LittleEndian.PutUint16(c[12:], hostLen)
	putList := func(at int, off, size, n int) {
		binary.LittleEndian.PutUint32(c[at:], uint32(off))
		binary.LittleEndian.PutUint16(c[at+4:], uint16(size))
		c[at+6] = 1
		c[at+7] = byte(n)
	}
	putList(16, synthHFI, hfiLen, len(s.hfis))
	putList(24, ssnsOff, ssnsLen, len(s.ssns))
	putList(32, secOff, securityLen, len(s.secs))
	putList(40, discOff, discoveryLen, len(s.discs))

	b = append(b, body...)
	b = append(b, h.data...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	if s.raw != nil {
		s.raw(b)
	}
	fixChecksum(b)
	if s.badChecksum {
		b[9]++
	}
	return b
}

// fixChecksum sets the header's checksum byte so that the table sums to zero.
func fixChecksum(b []byte) {
	b[9] = 0
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
}

// goodSpec is a small table with one of everything, in test addresses.
func goodSpec() tableSpec {
	return tableSpec{
		hostNQN: "nqn.2014-08.org.nvmexpress:uuid:00010203-0405-0607-0809-0a0b0c0d0e0f",
		hfis: []hfiSpec{
			{index: 1, mac: []byte{0x02, 0, 0, 0, 0, 0x01}, addr: netip.MustParseAddr("192.0.2.10"), prefix: 24,
				gateway: netip.MustParseAddr("192.0.2.1"), hostName: "boothost"},
			{index: 2, mac: []byte{0x02, 0, 0, 0, 0, 0x02}, vlan: 10, addr: netip.MustParseAddr("2001:db8::10"), prefix: 64},
		},
		secs: []secSpec{{index: 1, algs: []byte{1, 2}, keypath: "redfish://bmc/keys/1"}},
		discs: []discSpec{
			{index: 1, hfi: 1, uri: "nvme+tcp://192.0.2.20:8009/", nqn: "nqn.2014-08.org.nvmexpress.discovery"},
			{index: 2, hfi: 2, sec: 1, uri: "nvme+tcp://[2001:db8::20]/"},
		},
		ssns: []ssnsSpec{
			{index: 1, disc: 1, hfi: 1, secondary: []byte{2, 1, 2}, traddr: netip.MustParseAddr("192.0.2.30"), trsvcid: "4420",
				nqn: "nqn.2014-08.org.example:boot", nsid: 1, nidType: 3, trflags: ssnsHeaderDigest | ssnsDataDigest,
				ext: extInfo(1, flagValid|ssnsExtAdminASQSZ, 7, 32)},
			{index: 2, hfi: 2, traddr: netip.MustParseAddr("2001:db8::30"), nqn: "nqn.2014-08.org.example:data",
				flags: flagValid | ssnsDiscovered | ssnsUnavailable, nidType: 1},
		},
	}
}
