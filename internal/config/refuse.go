// SPDX-License-Identifier: Apache-2.0

package config

import (
	"net/netip"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// Refuse says why a controller may not be used, "" if it may: excluded, an address the
// ip-family option rules out or that is not an address at all, or an unknown transport
// (behaviour reference §8.8).
func (c *Config) Refuse(t tid.TID) string {
	if Excluded(c.Excludes, t.Dict()) {
		return "excluded"
	}
	switch t.Transport {
	case tid.TCP, tid.RDMA:
		a, err := netip.ParseAddr(t.Traddr)
		if err != nil {
			return "traddr is not an IP address"
		}
		if !c.IPFamily.Allows(a) {
			return "its address family is disabled by ip-family"
		}
	case tid.FC, tid.Loop:
	default:
		return "invalid transport " + t.Transport
	}
	return ""
}
