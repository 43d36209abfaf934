// SPDX-License-Identifier: Apache-2.0

// Package resolve owns the host-name lookups of configured controllers for both daemons:
// lookups run off the daemon's owner goroutine, a reconciliation pass uses the last
// answer for each name, and a changed answer triggers another pass.
package resolve

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

// Answer is the answer of one host-name lookup, sent back to the owner goroutine.
type Answer struct {
	Name  string
	Addrs []netip.Addr
	Err   error
}

// Resolver looks up the host names of configured controllers off the owner goroutine: a
// pass uses the last answer for each name and asks again for the next pass, so a slow DNS
// server never delays reconciliation and a change of address replaces the controller.
type Resolver struct {
	Lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	answers  map[string]Answer
	inFlight map[string]bool
	results  chan Answer
}

// Results delivers the answers of lookups; the owner passes each to Take.
func (r *Resolver) Results() <-chan Answer { return r.results }

// New returns a Resolver using the system resolver.
func New() *Resolver {
	return &Resolver{
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		answers:  map[string]Answer{},
		inFlight: map[string]bool{},
		results:  make(chan Answer, 16),
	}
}

// Address returns the address to use for host under the ip-family preference order
// (nvme-stas always preferred IPv4, whatever the order said), and whether an answer is
// known yet. A lookup is started when none is in flight.
func (r *Resolver) Address(host string, families config.IPFamilies) (netip.Addr, bool, error) {
	if !r.inFlight[host] {
		r.inFlight[host] = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
			defer cancel()
			addrs, err := r.Lookup(ctx, host)
			r.results <- Answer{Name: host, Addrs: addrs, Err: err}
		}()
	}
	a, ok := r.answers[host]
	if !ok {
		return netip.Addr{}, false, nil
	}
	if a.Err != nil {
		return netip.Addr{}, true, a.Err
	}
	for _, fam := range families {
		for _, addr := range a.Addrs {
			addr = addr.Unmap()
			if (fam == config.IPv4) == addr.Is4() {
				return addr, true, nil
			}
		}
	}
	return netip.Addr{}, true, nil
}

// Take records an answer; it reports whether it differs from the last one for that name.
// A failed lookup does not replace a good answer (a DNS outage must not drop a
// controller), and addresses are kept sorted so that a server rotating its records is not
// seen as a change.
func (r *Resolver) Take(a Answer) bool {
	r.inFlight[a.Name] = false
	old, had := r.answers[a.Name]
	if a.Err != nil && had && old.Err == nil {
		return false
	}
	slices.SortFunc(a.Addrs, func(x, y netip.Addr) int { return x.Compare(y) })
	r.answers[a.Name] = a
	if !had || (old.Err == nil) != (a.Err == nil) || len(old.Addrs) != len(a.Addrs) {
		return true
	}
	for i := range a.Addrs {
		if old.Addrs[i] != a.Addrs[i] {
			return true
		}
	}
	return false
}
