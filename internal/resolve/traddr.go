// SPDX-License-Identifier: Apache-2.0

package resolve

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Traddr replaces a host name in a tcp or rdma controller's traddr by its address in
// the ip-family order. ok says the controller can be used; pending says its address is
// not known now (no answer yet, or a lookup that failed without saying the name does not
// exist): a pass that meets one must not take the controller's absence for its removal.
func (r *Resolver) Traddr(t *tid.TID, families config.IPFamilies, log *slog.Logger) (ok, pending bool) {
	if t.Transport != tid.TCP && t.Transport != tid.RDMA {
		return true, false
	}
	if _, err := netip.ParseAddr(t.Traddr); err == nil {
		return true, false
	}
	addr, known, err := r.Address(t.Traddr, families)
	switch {
	case !known:
		return false, true
	case err != nil:
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			log.Error("cannot resolve a configured controller's address: no such host", "traddr", t.Traddr, "err", err)
			return false, false
		}
		// A timeout or an unreachable server says nothing about the controller: it is
		// unknown, not gone (a restart during a DNS outage must not drop it).
		log.Warn("cannot resolve a configured controller's address now; keeping it as it is", "traddr", t.Traddr, "err", err)
		return false, true
	case !addr.IsValid():
		log.Warn("configured controller's host name has no address of an allowed family", "traddr", t.Traddr, "ip-family", families.String())
		return false, false
	}
	t.Traddr = addr.String()
	return true, false
}
