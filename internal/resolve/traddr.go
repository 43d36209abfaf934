// SPDX-License-Identifier: Apache-2.0

package resolve

import (
	"log/slog"
	"net/netip"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Traddr replaces a host name in a tcp or rdma controller's traddr by its address in
// the ip-family order. ok says the controller can be used; pending says there is no
// answer yet (one was asked for, and will come through Results): a pass that meets one
// must not take the controller's absence for its removal.
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
		log.Error("cannot resolve a configured controller's address", "traddr", t.Traddr, "err", err)
		return false, false
	case !addr.IsValid():
		log.Warn("configured controller's host name has no address of an allowed family", "traddr", t.Traddr, "ip-family", families.String())
		return false, false
	}
	t.Traddr = addr.String()
	return true, false
}
