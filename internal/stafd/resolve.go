// SPDX-License-Identifier: Apache-2.0

package stafd

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
)

// resolveTimeout bounds one host-name lookup.
const resolveTimeout = 10 * time.Second

// resolved is the answer of one host-name lookup, sent back to the owner goroutine.
type resolved struct {
	name  string
	addrs []netip.Addr
	err   error
}

// resolver looks up the host names of configured controllers off the owner goroutine: a
// pass uses the last answer for each name and asks again for the next pass, so a slow DNS
// server never delays reconciliation and a change of address replaces the controller.
type resolver struct {
	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	answers  map[string]resolved
	inFlight map[string]bool
	results  chan resolved
}

func newResolver() *resolver {
	return &resolver{
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		answers:  map[string]resolved{},
		inFlight: map[string]bool{},
		results:  make(chan resolved, 16),
	}
}

// address returns the address to use for host under the ip-family preference order
// (nvme-stas always preferred IPv4, whatever the order said), and whether an answer is
// known yet. A lookup is started when none is in flight.
func (r *resolver) address(host string, families config.IPFamilies) (netip.Addr, bool, error) {
	if !r.inFlight[host] {
		r.inFlight[host] = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
			defer cancel()
			addrs, err := r.lookup(ctx, host)
			r.results <- resolved{name: host, addrs: addrs, err: err}
		}()
	}
	a, ok := r.answers[host]
	if !ok {
		return netip.Addr{}, false, nil
	}
	if a.err != nil {
		return netip.Addr{}, true, a.err
	}
	for _, fam := range families {
		for _, addr := range a.addrs {
			addr = addr.Unmap()
			if (fam == config.IPv4) == addr.Is4() {
				return addr, true, nil
			}
		}
	}
	return netip.Addr{}, true, nil
}

// take records an answer; it reports whether it differs from the last one for that name.
// A failed lookup does not replace a good answer (a DNS outage must not drop a
// controller), and addresses are kept sorted so that a server rotating its records is not
// seen as a change.
func (r *resolver) take(a resolved) bool {
	r.inFlight[a.name] = false
	old, had := r.answers[a.name]
	if a.err != nil && had && old.err == nil {
		return false
	}
	slices.SortFunc(a.addrs, func(x, y netip.Addr) int { return x.Compare(y) })
	r.answers[a.name] = a
	if !had || (old.err == nil) != (a.err == nil) || len(old.addrs) != len(a.addrs) {
		return true
	}
	for i := range a.addrs {
		if old.addrs[i] != a.addrs[i] {
			return true
		}
	}
	return false
}
