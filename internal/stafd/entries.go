// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// errTLS marks an entry skipped because it requires TLS, which the product does not do
// yet (the Debian 6.1 kernel has no NVMe/TCP TLS).
var errTLS = errors.New("requires TLS, which is not supported")

// checkEntry decides whether a log page entry may be published. A discovery controller
// is not trusted: an entry whose text cannot be a transport address, service id or NQN is
// refused with the field named, so it never reaches D-Bus consumers (stacd among them),
// never becomes part of a kernel option string and never crashes anything. nvme-stas's
// "historical CDC behaviour" of dropping entries without an address is kept.
func checkEntry(e *nvme.Entry) error {
	if err := e.CheckText(); err != nil {
		return err
	}
	switch e.SubType {
	case nvme.SubsystemNVMe, nvme.SubsystemReferral, nvme.SubsystemCurrentDiscovery:
	default:
		return fmt.Errorf("subtype %d is unknown", uint8(e.SubType))
	}
	switch e.TrType {
	case nvme.TransportTCP, nvme.TransportRDMA:
		a, err := netip.ParseAddr(e.TrAddr)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("traddr %q is not an IP address", e.TrAddr)
		}
		if a.IsUnspecified() {
			return fmt.Errorf("traddr %s is unspecified", e.TrAddr)
		}
		port, err := strconv.ParseUint(e.TrSvcID, 10, 16)
		if err != nil || port == 0 {
			return fmt.Errorf("trsvcid %q is not a port", e.TrSvcID)
		}
	case nvme.TransportFC, nvme.TransportLoop:
		if e.TrType == nvme.TransportFC && e.TrAddr == "" {
			return errors.New("traddr is empty")
		}
	default:
		return fmt.Errorf("trtype %d is unknown", uint8(e.TrType))
	}
	if err := nqn.ValidateSubsystem(e.SubNQN); err != nil {
		return fmt.Errorf("subnqn: %w", err)
	}
	if e.TrType == nvme.TransportTCP && e.TReq.SecureChannel() == nvme.SecureChannelRequired {
		return errTLS
	}
	return nil
}

// filterEntries returns the entries that may be published and, for each one refused, the
// reason naming its index and field.
func filterEntries(entries []nvme.Entry) (kept []nvme.Entry, refused []string) {
	kept = make([]nvme.Entry, 0, len(entries))
	for i := range entries {
		if err := checkEntry(&entries[i]); err != nil {
			refused = append(refused, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		kept = append(kept, entries[i])
	}
	return kept, refused
}
