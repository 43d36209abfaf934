// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// Entry defaults, nvmet's.
const (
	dynamicCNTLID = 0xffff
	defaultASQSZ  = 32
)

// familyOf returns the address family of an IP literal (ipv4 when it is not one).
func familyOf(traddr string) nvme.AddressFamily {
	if a, err := netip.ParseAddr(traddr); err == nil && a.Is6() && !a.Is4In6() {
		return nvme.AddressFamilyIPv6
	}
	return nvme.AddressFamilyIPv4
}

// SubsystemEntry returns a TCP NVM subsystem entry as nvmet would list it.
func SubsystemEntry(subNQN, traddr, trsvcid string, portID uint16) nvme.Entry {
	return nvme.Entry{
		TrType:  nvme.TransportTCP,
		AdrFam:  familyOf(traddr),
		SubType: nvme.SubsystemNVMe,
		TReq:    nvme.TReqSQFlowDisableSupp,
		PortID:  portID,
		CNTLID:  dynamicCNTLID,
		ASQSZ:   defaultASQSZ,
		TrSvcID: trsvcid,
		SubNQN:  subNQN,
		TrAddr:  traddr,
		TSAS:    nvme.NewTCPTSAS(nvme.TCPSecTypeNone),
	}
}

// ReferralEntry returns a TCP referral to another discovery controller.
func ReferralEntry(traddr, trsvcid string, portID uint16) nvme.Entry {
	e := SubsystemEntry(nqn.WellKnownDiscovery, traddr, trsvcid, portID)
	e.SubType = nvme.SubsystemReferral
	return e
}

// CurrentDiscoveryEntry returns the entry of the discovery controller itself
// ("current discovery subsystem", as nvmet lists first since 5.19).
func CurrentDiscoveryEntry(dcNQN, traddr, trsvcid string, portID uint16) nvme.Entry {
	e := SubsystemEntry(dcNQN, traddr, trsvcid, portID)
	e.SubType = nvme.SubsystemCurrentDiscovery
	return e
}

// GeneratedNQN is the subsystem NQN of entry i of GenerateEntries.
func GeneratedNQN(i int) string {
	return fmt.Sprintf("nqn.2014-08.org.nvmexpress.cdcsim:subsystem-%05d", i)
}

// GenerateEntries returns n NVM subsystem entries on traddr:trsvcid, named by
// GeneratedNQN, with port IDs cycling through 1..1000.
func GenerateEntries(n int, traddr, trsvcid string) []nvme.Entry {
	out := make([]nvme.Entry, n)
	for i := range out {
		out[i] = SubsystemEntry(GeneratedNQN(i), traddr, trsvcid, uint16(i%1000+1))
	}
	return out
}

// HostileEntries returns entries whose text and numbers no host should trust, encoded
// as given (nvme.Entry does not validate text): a traddr that smuggles a fabrics option
// ("192.0.2.9,host_iface=eth9"), a subnqn with an embedded NUL, text that is not UTF-8,
// fields filled to their last byte with no terminator (subnqn and traddr 256 bytes,
// trsvcid 32), and enumerations no specification defines. Each has a distinct subnqn
// prefix so a test can tell them apart; none ends in a space or NUL, so a decoder that
// trims padding gives back exactly what was served.
func HostileEntries() []nvme.Entry {
	injection := SubsystemEntry("nqn.2014-08.org.example:hostile-injection", "192.0.2.9,host_iface=eth9", "4420", 1)

	nul := SubsystemEntry("nqn.2014-08.org.example:hostile-nul\x00hidden", "192.0.2.10", "4420", 1)

	notUTF8 := SubsystemEntry("nqn.2014-08.org.example:hostile-\xff\xfe-utf8", "192.0.2.\xc3\x28", "44\x8020", 1)

	const prefix = "nqn.2014-08.org.example:hostile-full-"
	full := SubsystemEntry(prefix+strings.Repeat("n", 256-len(prefix)), "192.0.2.11"+strings.Repeat("1", 256-len("192.0.2.11")), strings.Repeat("9", 32), 1)

	unknown := SubsystemEntry("nqn.2014-08.org.example:hostile-enums", "192.0.2.12", "4420", 0xfffe)
	unknown.TrType = 0x77
	unknown.AdrFam = 0x66
	unknown.SubType = 0x55
	unknown.TReq = 0xff
	unknown.EFlags = 0xfff8
	unknown.CNTLID = 0x1234
	unknown.ASQSZ = 0
	unknown.TSAS = nvme.NewTCPTSAS(0x09)

	return []nvme.Entry{injection, nul, notUTF8, full, unknown}
}
