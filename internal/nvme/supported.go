// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// SupportedLogPagesSize is the size of the Supported Log Pages log (LID 0x00): one
// little-endian dword per log identifier.
const SupportedLogPagesSize = 256 * 4

// SupportedLogPages is the Supported Log Pages log: entry i describes log page i.
// Bit 0 (LSUPP) says the page is supported; bits 31:16 (LIDSP) are page specific.
type SupportedLogPages [256]uint32

// DecodeSupportedLogPages decodes the log, which must be exactly SupportedLogPagesSize
// bytes.
func DecodeSupportedLogPages(b []byte) (SupportedLogPages, error) {
	var s SupportedLogPages
	if len(b) != SupportedLogPagesSize {
		return s, fmt.Errorf("decode supported log pages: %w: %d bytes, expected %d", ErrMalformed, len(b), SupportedLogPagesSize)
	}
	for i := range s {
		s[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return s, nil
}

// AppendBinary appends the 1024-byte log to b.
func (s *SupportedLogPages) AppendBinary(b []byte) ([]byte, error) {
	for _, d := range s {
		b = binary.LittleEndian.AppendUint32(b, d)
	}
	return b, nil
}

// MarshalBinary returns the 1024-byte log.
func (s *SupportedLogPages) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, SupportedLogPagesSize))
}

// Supported reports the LSUPP bit of log page lid.
func (s *SupportedLogPages) Supported(lid uint8) bool { return s[lid]&1 != 0 }

// LIDSP returns the LID-specific parameter bits (31:16) of log page lid.
func (s *SupportedLogPages) LIDSP(lid uint8) uint16 { return uint16(s[lid] >> 16) }

// DiscoveryOptions returns the LIDSP of the Discovery Log Page (nvme-stas: entry[0x70] >> 16).
func (s *SupportedLogPages) DiscoveryOptions() DiscoveryLogOptions {
	return DiscoveryLogOptions(s.LIDSP(LIDDiscovery))
}

// DiscoveryLogOptions is the LIDSP of LID 0x70: which Get Log Page options the DC supports.
type DiscoveryLogOptions uint16

// Discovery log options.
const (
	// DiscoveryOptEXTDLPES: extended discovery log page entries supported.
	DiscoveryOptEXTDLPES DiscoveryLogOptions = 1 << 0
	// DiscoveryOptPLEOS: port local entries only supported (ask with LSPDiscoveryPLEO).
	DiscoveryOptPLEOS DiscoveryLogOptions = 1 << 1
	// DiscoveryOptALLSUBES: all NVM subsystem entries supported.
	DiscoveryOptALLSUBES DiscoveryLogOptions = 1 << 2
)

// Names returns the names of the set options in bit order, as nvme-stas's
// dlp_supp_opts_as_string does: 0x7 gives [EXTDLPES PLEOS ALLSUBES]. Undefined bits are
// not named.
func (o DiscoveryLogOptions) Names() []string {
	names := []string{}
	for _, b := range []struct {
		bit  DiscoveryLogOptions
		name string
	}{{DiscoveryOptEXTDLPES, "EXTDLPES"}, {DiscoveryOptPLEOS, "PLEOS"}, {DiscoveryOptALLSUBES, "ALLSUBES"}} {
		if o&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	return names
}

// String returns the names joined by "|", or "none".
func (o DiscoveryLogOptions) String() string {
	if n := o.Names(); len(n) > 0 {
		return strings.Join(n, "|")
	}
	return "none"
}

// DiscoveryLSP returns the Get Log Page LSP nvme-stas uses for LID 0x70 given these
// options: PLEO when the DC supports it, else none.
func (o DiscoveryLogOptions) DiscoveryLSP() uint8 {
	if o&DiscoveryOptPLEOS != 0 {
		return LSPDiscoveryPLEO
	}
	return 0
}
