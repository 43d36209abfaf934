// SPDX-License-Identifier: Apache-2.0

package netif

import (
	"testing"
)

// FuzzParseNetlink feeds the rtnetlink decoders arbitrary datagrams: they must return an
// error or a result, never panic, and a decoded address must be a valid prefix.
func FuzzParseNetlink(f *testing.F) {
	for _, name := range []string{"routePlain", "routeFib", "routeLocal", "routeUnreach", "route6", "links", "addrs", "linkByName"} {
		for _, d := range captureF(f, name) {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := parseMessages(data)
		if err != nil {
			return
		}
		var links []Interface
		var addrs []addrMsg
		for _, m := range msgs {
			switch m.Type {
			case nlmsgError, nlmsgDone:
				_, _ = errnoOf(m.Data)
			case rtmNewRoute:
				if r, err := parseRoute(m.Data); err == nil && !r.Prefix.IsValid() {
					t.Fatalf("route without a valid prefix: %+v", r)
				}
			case rtmNewLink:
				if l, err := parseLink(m.Data); err == nil {
					links = append(links, l)
				}
			case rtmNewAddr:
				if a, err := parseAddr(m.Data); err == nil {
					if !a.Prefix.IsValid() {
						t.Fatalf("address without a valid prefix: %+v", a)
					}
					addrs = append(addrs, a)
				}
			}
		}
		tbl := buildTable(links, addrs)
		for _, a := range addrs {
			if _, ok := tbl.ByIndex(a.Index); ok && tbl.InterfaceOf(a.Prefix.Addr()) == "" {
				t.Fatalf("address %v of link %d not found", a.Prefix, a.Index)
			}
		}
	})
}
