// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// File is the simulator's configuration file, JSON:
//
//	{
//	  "listen": "192.0.2.2:8009",
//	  "nqn": "nqn.2014-08.org.nvmexpress.discovery",
//	  "dctype": "cdc",
//	  "genctr": 1,
//	  "entries": [
//	    {"subnqn": "nqn.2014-08.org.example:sub1", "traddr": "192.0.2.2", "trsvcid": "4420"},
//	    {"subtype": "referral", "traddr": "198.51.100.2", "trsvcid": "8009", "portid": 2}
//	  ],
//	  "generate": {"count": 10000, "traddr": "192.0.2.2", "trsvcid": "4420"},
//	  "hostile": true
//	}
//
// Every key is optional; unknown keys are errors.
type File struct {
	// Listen is the address to listen on, host:port.
	Listen string `json:"listen,omitempty"`
	// NQN is the controller's NQN (default: the well-known discovery NQN).
	NQN string `json:"nqn,omitempty"`
	// DCType is "cdc" (the default), "ddc" or "none".
	DCType string `json:"dctype,omitempty"`
	// GenCtr is the initial generation counter.
	GenCtr uint64 `json:"genctr,omitempty"`
	// Serial and Model fill Identify.
	Serial string `json:"serial,omitempty"`
	Model  string `json:"model,omitempty"`
	// DiscoveryChangeNotices false clears OAES bit 31 (default true).
	DiscoveryChangeNotices *bool `json:"discovery_change_notices,omitempty"`
	// LogOptions lists the LID 0x70 options advertised in LID 0x00: EXTDLPES, PLEOS,
	// ALLSUBES.
	LogOptions []string `json:"log_options,omitempty"`
	// DiscoveryKATO is the keep-alive timeout of hosts that connect without one, a Go
	// duration such as "120s"; "0s" or a negative value turns it off.
	DiscoveryKATO string `json:"discovery_kato,omitempty"`
	// Entries are the log entries, served in this order.
	Entries []FileEntry `json:"entries,omitempty"`
	// Generate appends synthetic NVM subsystem entries (GenerateEntries).
	Generate *FileGenerate `json:"generate,omitempty"`
	// Hostile appends HostileEntries.
	Hostile bool `json:"hostile,omitempty"`
}

// FileEntry is one log entry of a File. Enumerations take a name or a number, so
// values no specification defines can be served too.
type FileEntry struct {
	// TrType: tcp (default), rdma, fc, loop, unspecified, or a number.
	TrType string `json:"trtype,omitempty"`
	// AdrFam: ipv4, ipv6, ib, fc, pci, loop, or a number; default from traddr.
	AdrFam string `json:"adrfam,omitempty"`
	// SubType: nvme (default), referral, discovery (current discovery subsystem), or a
	// number.
	SubType string `json:"subtype,omitempty"`
	// TReq: "not specified", "required", "not required", or a number (bit 2, 0x4, is
	// "SQ flow control disable supported"); default 4, nvmet's.
	TReq   string  `json:"treq,omitempty"`
	PortID uint16  `json:"portid,omitempty"`
	CNTLID *uint16 `json:"cntlid,omitempty"` // default 0xffff (dynamic)
	ASQSZ  *uint16 `json:"asqsz,omitempty"`  // default 32
	EFlags uint16  `json:"eflags,omitempty"`
	// TrSvcID defaults to 4420, or 8009 for referrals and the current discovery subsystem.
	TrSvcID string `json:"trsvcid,omitempty"`
	// SubNQN defaults to the well-known discovery NQN for referrals.
	SubNQN string `json:"subnqn,omitempty"`
	TrAddr string `json:"traddr"`
	// SecType is the TCP security type: none (default), tls1.2, tls1.3, or a number.
	SecType string `json:"sectype,omitempty"`
}

// FileGenerate asks for Count synthetic subsystem entries on TrAddr:TrSvcID.
type FileGenerate struct {
	Count   int    `json:"count"`
	TrAddr  string `json:"traddr"`
	TrSvcID string `json:"trsvcid,omitempty"` // default 4420
}

// LoadFile parses a configuration file.
func LoadFile(r io.Reader) (*File, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: parse configuration: %w", ErrInvalidConfig, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: parse configuration: data after the JSON object", ErrInvalidConfig)
	}
	return &f, nil
}

// ParseDCType parses "cdc", "ddc" or "none" (or a number).
func ParseDCType(s string) (nvme.DiscoveryControllerType, error) {
	v, err := parseEnum(s, "dctype", map[string]uint8{"none": 0, "ddc": 1, "cdc": 2})
	return nvme.DiscoveryControllerType(v), err
}

// Config returns the simulator configuration the file describes (Logger unset).
func (f *File) Config() (Config, error) {
	c := Config{NQN: f.NQN, GenCtr: f.GenCtr, SerialNumber: f.Serial, ModelNumber: f.Model, DCType: nvme.DCTypeCDC}
	if f.DCType != "" {
		t, err := ParseDCType(f.DCType)
		if err != nil {
			return c, err
		}
		c.DCType = t
	}
	if f.DiscoveryChangeNotices != nil {
		c.NoDiscoveryChangeNotices = !*f.DiscoveryChangeNotices
	}
	for _, o := range f.LogOptions {
		switch strings.ToUpper(o) {
		case "EXTDLPES":
			c.DiscoveryLogOptions |= nvme.DiscoveryOptEXTDLPES
		case "PLEOS":
			c.DiscoveryLogOptions |= nvme.DiscoveryOptPLEOS
		case "ALLSUBES":
			c.DiscoveryLogOptions |= nvme.DiscoveryOptALLSUBES
		default:
			return c, fmt.Errorf("%w: log_options: unknown option %q (EXTDLPES, PLEOS, ALLSUBES)", ErrInvalidConfig, o)
		}
	}
	if f.DiscoveryKATO != "" {
		d, err := time.ParseDuration(f.DiscoveryKATO)
		if err != nil {
			return c, fmt.Errorf("%w: discovery_kato: %w", ErrInvalidConfig, err)
		}
		c.DiscoveryKATO = d
		if d == 0 {
			c.DiscoveryKATO = -1
		}
	}
	for i, fe := range f.Entries {
		e, err := fe.Entry()
		if err != nil {
			return c, fmt.Errorf("entry %d: %w", i, err)
		}
		c.Entries = append(c.Entries, e)
	}
	if g := f.Generate; g != nil {
		if g.Count < 0 || g.Count > nvme.MaxLogRecords {
			return c, fmt.Errorf("%w: generate: count %d outside 0..%d", ErrInvalidConfig, g.Count, nvme.MaxLogRecords)
		}
		svc := g.TrSvcID
		if svc == "" {
			svc = "4420"
		}
		c.Entries = append(c.Entries, GenerateEntries(g.Count, g.TrAddr, svc)...)
	}
	if f.Hostile {
		c.Entries = append(c.Entries, HostileEntries()...)
	}
	return c, nil
}

// Entry returns the log entry e describes.
func (e FileEntry) Entry() (nvme.Entry, error) {
	var out nvme.Entry
	trtype, err := parseEnum(e.TrType, "trtype", map[string]uint8{"unspecified": 0, "rdma": 1, "fc": 2, "tcp": 3, "loop": 254})
	if err != nil {
		return out, err
	}
	if e.TrType == "" {
		trtype = uint8(nvme.TransportTCP)
	}
	subtype, err := parseEnum(e.SubType, "subtype", map[string]uint8{"referral": 1, "nvme": 2, "discovery": 3, "current": 3})
	if err != nil {
		return out, err
	}
	if e.SubType == "" {
		subtype = uint8(nvme.SubsystemNVMe)
	}
	adrfam, err := parseEnum(e.AdrFam, "adrfam", map[string]uint8{"pci": 0, "ipv4": 1, "ipv6": 2, "ib": 3, "fc": 4, "loop": 254})
	if err != nil {
		return out, err
	}
	if e.AdrFam == "" {
		adrfam = uint8(familyOf(e.TrAddr))
	}
	treq, err := parseEnum(e.TReq, "treq", map[string]uint8{"not specified": 0, "required": 1, "not required": 2})
	if err != nil {
		return out, err
	}
	if e.TReq == "" {
		treq = uint8(nvme.TReqSQFlowDisableSupp)
	}
	sectype, err := parseEnum(e.SecType, "sectype", map[string]uint8{"none": 0, "tls1.2": 1, "tls1.3": 2})
	if err != nil {
		return out, err
	}
	out = nvme.Entry{
		TrType:  nvme.TransportType(trtype),
		AdrFam:  nvme.AddressFamily(adrfam),
		SubType: nvme.SubsystemType(subtype),
		TReq:    nvme.TransportRequirements(treq),
		PortID:  e.PortID,
		CNTLID:  dynamicCNTLID,
		ASQSZ:   defaultASQSZ,
		EFlags:  nvme.EntryFlags(e.EFlags),
		TrSvcID: e.TrSvcID,
		SubNQN:  e.SubNQN,
		TrAddr:  e.TrAddr,
		TSAS:    nvme.NewTCPTSAS(nvme.TCPSecurityType(sectype)),
	}
	if e.CNTLID != nil {
		out.CNTLID = *e.CNTLID
	}
	if e.ASQSZ != nil {
		out.ASQSZ = *e.ASQSZ
	}
	discovery := out.SubType == nvme.SubsystemReferral || out.SubType == nvme.SubsystemCurrentDiscovery
	if out.TrSvcID == "" {
		out.TrSvcID = "4420"
		if discovery {
			out.TrSvcID = "8009"
		}
	}
	if out.SubNQN == "" && discovery {
		out.SubNQN = nqn.WellKnownDiscovery
	}
	if out.SubNQN == "" {
		return out, fmt.Errorf("%w: subnqn is required for a %s entry", ErrInvalidConfig, out.SubType)
	}
	if _, err := out.MarshalBinary(); err != nil {
		return out, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return out, nil
}

// parseEnum takes a name (case-insensitive) or a number from 0 to 255.
func parseEnum(s, field string, names map[string]uint8) (uint8, error) {
	if s == "" {
		return 0, nil
	}
	if v, ok := names[strings.ToLower(strings.TrimSpace(s))]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		known := make([]string, 0, len(names))
		for n := range names {
			known = append(known, n)
		}
		slices.Sort(known)
		return 0, fmt.Errorf("%w: %s %q: not a number from 0 to 255 nor one of %s", ErrInvalidConfig, field, s, strings.Join(known, ", "))
	}
	return uint8(v), nil
}
