// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"fmt"
	"net/netip"
)

// Chooser applies the design's interface rule for I/O controllers and referrals: which
// host interface (host-iface) a controller listed by a discovery controller (the parent)
// is bound to. Its lookups are fields so that tests inject fixed answers.
type Chooser struct {
	// IgnoreIface is the daemons' ignore-iface option: no interface is ever chosen.
	IgnoreIface bool
	// Interfaces returns the host's interfaces (ReadTable).
	Interfaces func() (*Table, error)
	// Match returns the routing table entry to a destination, optionally only among the
	// entries through an interface (MatchRoute).
	Match func(dst netip.Addr, oif string) (Route, error)
}

// NewChooser returns a Chooser that asks the kernel.
func NewChooser(ignoreIface bool) *Chooser {
	return &Chooser{IgnoreIface: ignoreIface, Interfaces: ReadTable, Match: MatchRoute}
}

// ChooseIface returns the host interface for a controller at dst listed by a parent
// discovery controller bound to parent, and a short reason for the log and for `stacctl
// ls -d`. "" means no binding: the kernel picks the interface when connecting.
//
//   - ignore-iface: "" always.
//   - A configured host-iface always wins.
//   - A parent without host-iface passes none on, as in nvme-stas.
//   - The parent's interface is kept (nvme-stas's behaviour) when dst is reachable
//     through it: on-link (dst is in one of its prefixes; link-local addresses always
//     stay on the parent's link), or routed through it by a routing table entry at least
//     as specific as the one the kernel would choose without constraint. So a default
//     route through the parent keeps the parent unless another interface has a more
//     specific route to dst.
//   - Otherwise the interface of the kernel's own route to dst; "" when it has none, or
//     when dst is one of the host's own addresses.
func (c *Chooser) ChooseIface(configured, parent string, dst netip.Addr) (iface, reason string) {
	switch {
	case c.IgnoreIface:
		return "", "ignore-iface is set: the kernel chooses"
	case configured != "":
		return configured, "configured host-iface"
	case parent == "":
		return "", "parent has no host-iface: the kernel chooses"
	case !dst.IsValid():
		return parent, "inherited from the parent"
	}
	dst = dst.WithZone("").Unmap()
	if dst.IsLinkLocalUnicast() {
		return parent, fmt.Sprintf("link-local %v stays on the parent's link %s", dst, parent)
	}
	if c.Interfaces != nil {
		if t, err := c.Interfaces(); err == nil {
			if p, ok := t.OnLink(parent, dst); ok {
				return parent, fmt.Sprintf("on-link on the parent's %s (%v)", parent, p)
			}
		}
	}
	if c.Match == nil {
		return parent, "inherited from the parent (no route lookup)"
	}
	best, err := c.Match(dst, "")
	if err != nil {
		return "", fmt.Sprintf("unreachable: %v", err)
	}
	via, errVia := c.Match(dst, parent)
	if errVia == nil && via.Uses(parent) && via.Prefix.Bits() >= best.Prefix.Bits() {
		return parent, fmt.Sprintf("routed through the parent's %s (%s)", parent, describe(via))
	}
	if best.Local() {
		return "", fmt.Sprintf("%v is a local address: the kernel chooses", dst)
	}
	out := best.Iface
	if out == "" && len(best.Multipath) > 0 {
		out = best.Multipath[0]
	}
	if errVia == nil && via.Uses(parent) {
		return out, fmt.Sprintf("routing table: %s (%s) is more specific than the parent's %s (%s)", out, describe(best), parent, describe(via))
	}
	return out, fmt.Sprintf("routing table: %s (%s); not reachable through the parent's %s", out, describe(best), parent)
}

// describe shows a routing table entry as "<prefix> via <gateway>" or "<prefix>".
func describe(r Route) string {
	if r.Gateway.IsValid() {
		return fmt.Sprintf("%v via %v", r.Prefix, r.Gateway)
	}
	return r.Prefix.String()
}
