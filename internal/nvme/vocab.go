// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"strconv"
	"strings"
)

// Two vocabularies describe a discovery log entry, because two consumers compare against
// two different programs:
//
// CLIString methods and CLIRecord give the words of nvme-cli's `nvme discover -o json`,
// which come from libnvme's nvmf_*_str() tables (src/nvme/fabrics.c, current HEAD):
// an index into a sparse table, "unrecognized" for anything not in it. Debian 12's
// libnvme 1.3 differs in two places, noted where they apply.
//
// DLPEString methods and DLPE give nvme-stas's D-Bus DLPE dict. stafd stores what the
// libnvme Python binding's discover() returns (the nvmf_discovery_log typemap in
// libnvme/nvme.i), converted with {k.strip(): str(v).strip()} (staslib/ctrl.py). The
// binding maps known values to words and passes unknown trtype/adrfam/subtype/treq as a
// Python int, so str() prints them in decimal; portid, cntlid, asqsz and eflags are
// always ints. tsas is present only for tcp and rdma entries, as a nested dict whose
// str() is its Python repr, e.g. "{'sectype': 'none'}" or
// "{'qptype': 'connected', 'prtype': 'not specified', 'cms': 'cm'}"; unknown values in
// it print 'reserved'. Text values are C strings (cut at the first NUL). The binding of
// libnvme 1.3 (Debian 12) used the same words but had no tsas key.

const cliUnrecognized = "unrecognized"

// CLIString returns libnvme's nvmf_trtype_str word: rdma, fc, tcp, loop, or
// "unrecognized" (0, unspecified, has no entry in that table).
func (t TransportType) CLIString() string {
	switch t {
	case TransportRDMA, TransportFC, TransportTCP, TransportLoop:
		return t.String()
	}
	return cliUnrecognized
}

// DLPEString returns the Python binding's word: unspecified, rdma, fc, tcp, loop, or
// the number.
func (t TransportType) DLPEString() string { return t.String() }

// CLIString returns libnvme's nvmf_adrfam_str word: pci, ipv4, ipv6, infiniband,
// fibre-channel or "unrecognized" (loop has no entry).
func (a AddressFamily) CLIString() string {
	switch a {
	case AddressFamilyPCI, AddressFamilyIPv4, AddressFamilyIPv6:
		return a.String()
	case AddressFamilyIB:
		return "infiniband"
	case AddressFamilyFC:
		return "fibre-channel"
	}
	return cliUnrecognized
}

// DLPEString returns the Python binding's word: pci, ipv4, ipv6, infiniband, fc, or the
// number (loop, 254, has no word there).
func (a AddressFamily) DLPEString() string {
	switch a {
	case AddressFamilyPCI, AddressFamilyIPv4, AddressFamilyIPv6, AddressFamilyFC:
		return a.String()
	case AddressFamilyIB:
		return "infiniband"
	}
	return strconv.Itoa(int(a))
}

// CLIString returns libnvme's nvmf_subtype_str words.
func (s SubsystemType) CLIString() string {
	switch s {
	case SubsystemReferral:
		return "discovery subsystem referral"
	case SubsystemNVMe:
		return "nvme subsystem"
	case SubsystemCurrentDiscovery:
		return "current discovery subsystem"
	}
	return cliUnrecognized
}

// DLPEString returns referral, nvme, discovery or the number.
func (s SubsystemType) DLPEString() string { return s.String() }

// CLIString returns libnvme's nvmf_treq_str words: the secure-channel word, with
// ", sq flow control disable supported" appended when bit 2 is set. Values 3 and 7 (the
// reserved secure-channel code) and anything with bits 7:3 set are "unrecognized".
// libnvme 1.3 (Debian 12) knew the suffix only for 4 and printed 5 and 6 as
// "unrecognized"; this follows current libnvme.
func (t TransportRequirements) CLIString() string {
	if t&^treqKnownBits != 0 || t.SecureChannel() == SecureChannelReserved {
		return cliUnrecognized
	}
	return t.String()
}

// DLPEString returns the Python binding's word for the whole TREQ byte: "not specified"
// (0), "required" (1), "not required" (2), "disable sqflow" (4), or the number for any
// other value (a port that both requires TLS and supports disabling SQ flow control is
// "5").
func (t TransportRequirements) DLPEString() string {
	switch t {
	case 0, 1, 2:
		return t.SecureChannel().String()
	case TReqSQFlowDisableSupp:
		return "disable sqflow"
	}
	return strconv.Itoa(int(t))
}

// CLIString returns libnvme's nvmf_eflags_str words: "none", or the set flags among
// "explicit discovery connections" (EPCSD), "duplicate discovery information"
// (DUPRETINFO) and "no cdc connectivity" (NCC), joined by ", " in that order; any other
// bit makes it "unrecognized".
func (f EntryFlags) CLIString() string {
	if f == 0 {
		return "none"
	}
	if f&^eflagsKnown != 0 {
		return cliUnrecognized
	}
	var parts []string
	if f&EFlagEPCSD != 0 {
		parts = append(parts, "explicit discovery connections")
	}
	if f&EFlagDupRetInfo != 0 {
		parts = append(parts, "duplicate discovery information")
	}
	if f&EFlagNCC != 0 {
		parts = append(parts, "no cdc connectivity")
	}
	return strings.Join(parts, ", ")
}

// DLPEString returns the flags as a decimal number, as nvme-stas stores them.
func (f EntryFlags) DLPEString() string { return strconv.Itoa(int(f)) }

// CLIString returns libnvme's nvmf_sectype_str words: none, tls, tls13.
func (s TCPSecurityType) CLIString() string {
	switch s {
	case TCPSecTypeNone:
		return "none"
	case TCPSecTypeTLS12:
		return "tls"
	case TCPSecTypeTLS13:
		return "tls13"
	}
	return cliUnrecognized
}

// DLPEString returns the Python binding's words: none, tls, tls1.3, reserved.
func (s TCPSecurityType) DLPEString() string {
	switch s {
	case TCPSecTypeNone:
		return "none"
	case TCPSecTypeTLS12:
		return "tls"
	case TCPSecTypeTLS13:
		return "tls1.3"
	}
	return "reserved"
}

// CLIString returns libnvme's nvmf_qptype_str words: connected, datagram.
func (q RDMAQPType) CLIString() string {
	if q == RDMAQPTypeConnected || q == RDMAQPTypeDatagram {
		return q.String()
	}
	return cliUnrecognized
}

// DLPEString returns the Python binding's words: connected, datagram, reserved.
func (q RDMAQPType) DLPEString() string {
	if q == RDMAQPTypeConnected || q == RDMAQPTypeDatagram {
		return q.String()
	}
	return "reserved"
}

// CLIString returns libnvme's nvmf_prtype_str words: not specified, infiniband, roce,
// roce-v2, iwarp.
func (p RDMAProviderType) CLIString() string {
	switch p {
	case RDMAPrTypeRoCEv2:
		return "roce-v2"
	case RDMAPrTypeNotSpecified, RDMAPrTypeIB, RDMAPrTypeRoCE, RDMAPrTypeIWARP:
		return p.String()
	}
	return cliUnrecognized
}

// DLPEString returns the Python binding's words: not specified, infiniband, roce,
// rocev2, iwarp, reserved.
func (p RDMAProviderType) DLPEString() string {
	if p >= RDMAPrTypeNotSpecified && p <= RDMAPrTypeIWARP {
		return p.String()
	}
	return "reserved"
}

// CLIString returns libnvme's nvmf_cms_str word: rdma-cm.
func (c RDMACMS) CLIString() string {
	if c == RDMACMSRDMACM {
		return "rdma-cm"
	}
	return cliUnrecognized
}

// DLPEString returns the Python binding's words: cm, reserved.
func (c RDMACMS) DLPEString() string {
	if c == RDMACMSRDMACM {
		return "cm"
	}
	return "reserved"
}

// CLIRecord is one record of `nvme discover -o json`. encoding/json writes the fields in
// nvme-cli's key order; cntlid and asqsz are not part of it. Only tcp records carry
// sectype and only rdma records carry the rdma_* keys.
type CLIRecord struct {
	TrType     string  `json:"trtype"`
	AdrFam     string  `json:"adrfam"`
	SubType    string  `json:"subtype"`
	TReq       string  `json:"treq"`
	PortID     uint16  `json:"portid"`
	TrSvcID    string  `json:"trsvcid"`
	SubNQN     string  `json:"subnqn"`
	TrAddr     string  `json:"traddr"`
	EFlags     string  `json:"eflags"`
	SecType    string  `json:"sectype,omitempty"`
	RDMAPrType string  `json:"rdma_prtype,omitempty"`
	RDMAQPType string  `json:"rdma_qptype,omitempty"`
	RDMACMS    string  `json:"rdma_cms,omitempty"`
	RDMAPKey   *uint16 `json:"rdma_pkey,omitempty"`
}

// CLIDiscoveryLog is the top level of `nvme discover -o json`: genctr and records only.
type CLIDiscoveryLog struct {
	GenCtr  uint64      `json:"genctr"`
	Records []CLIRecord `json:"records"`
}

// CLIRecord returns e as nvme-cli prints it in JSON.
func (e *Entry) CLIRecord() CLIRecord {
	r := CLIRecord{
		TrType:  e.TrType.CLIString(),
		AdrFam:  e.AdrFam.CLIString(),
		SubType: e.SubType.CLIString(),
		TReq:    e.TReq.CLIString(),
		PortID:  e.PortID,
		TrSvcID: cString(e.TrSvcID),
		SubNQN:  cString(e.SubNQN),
		TrAddr:  cString(e.TrAddr),
		EFlags:  e.EFlags.CLIString(),
	}
	switch e.TrType {
	case TransportTCP:
		r.SecType = e.TSAS.TCPSecType().CLIString()
	case TransportRDMA:
		rd := e.TSAS.RDMA()
		r.RDMAPrType = rd.PrType.CLIString()
		r.RDMAQPType = rd.QPType.CLIString()
		r.RDMACMS = rd.CMS.CLIString()
		pkey := rd.PKey
		r.RDMAPKey = &pkey
	}
	return r
}

// CLIJSON returns the page as nvme-cli's JSON document (marshal it with encoding/json).
func (l *DiscoveryLog) CLIJSON() CLIDiscoveryLog {
	recs := make([]CLIRecord, len(l.Entries)) // never nil: nvme-cli prints "records": []
	for i := range l.Entries {
		recs[i] = l.Entries[i].CLIRecord()
	}
	return CLIDiscoveryLog{GenCtr: l.GenCtr, Records: recs}
}

// DLPE keys of nvme-stas's D-Bus dict.
const (
	DLPEKeyTrType  = "trtype"
	DLPEKeyAdrFam  = "adrfam"
	DLPEKeyTrAddr  = "traddr"
	DLPEKeyTrSvcID = "trsvcid"
	DLPEKeySubNQN  = "subnqn"
	DLPEKeySubType = "subtype"
	DLPEKeyTReq    = "treq"
	DLPEKeyTSAS    = "tsas"
	DLPEKeyPortID  = "portid"
	DLPEKeyCNTLID  = "cntlid"
	DLPEKeyASQSZ   = "asqsz"
	DLPEKeyEFlags  = "eflags"
)

// DLPE returns e as nvme-stas publishes it on D-Bus (one a{ss} dict of the aa{ss}): every
// value a string, stripped of surrounding whitespace as stafd does. The tsas key is
// present only for tcp and rdma entries.
func (e *Entry) DLPE() map[string]string {
	d := make(map[string]string, 12)
	d[DLPEKeyTrType] = e.TrType.DLPEString()
	d[DLPEKeyAdrFam] = e.AdrFam.DLPEString()
	d[DLPEKeyTrAddr] = pyStrip(cString(e.TrAddr))
	d[DLPEKeyTrSvcID] = pyStrip(cString(e.TrSvcID))
	d[DLPEKeySubNQN] = pyStrip(cString(e.SubNQN))
	d[DLPEKeySubType] = e.SubType.DLPEString()
	d[DLPEKeyTReq] = e.TReq.DLPEString()
	if tsas, ok := e.dlpeTSAS(); ok {
		d[DLPEKeyTSAS] = tsas
	}
	d[DLPEKeyPortID] = strconv.Itoa(int(e.PortID))
	d[DLPEKeyCNTLID] = strconv.Itoa(int(e.CNTLID))
	d[DLPEKeyASQSZ] = strconv.Itoa(int(e.ASQSZ))
	d[DLPEKeyEFlags] = e.EFlags.DLPEString()
	return d
}

// dlpeTSAS renders the binding's tsas dict as Python's repr of it (keys in insertion
// order, single-quoted strings: none of the words contains a quote).
func (e *Entry) dlpeTSAS() (string, bool) {
	switch e.TrType {
	case TransportTCP:
		return "{'sectype': '" + e.TSAS.TCPSecType().DLPEString() + "'}", true
	case TransportRDMA:
		rd := e.TSAS.RDMA()
		return "{'qptype': '" + rd.QPType.DLPEString() +
			"', 'prtype': '" + rd.PrType.DLPEString() +
			"', 'cms': '" + rd.CMS.DLPEString() + "'}", true
	}
	return "", false
}
