// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package netif

import "net/netip"

// ReadTable returns ErrUnsupported: rtnetlink is Linux's.
func ReadTable() (*Table, error) { return nil, ErrUnsupported }

// LookupRoute returns ErrUnsupported: rtnetlink is Linux's.
func LookupRoute(dst netip.Addr, oif string) (Route, error) { return Route{}, ErrUnsupported }

// MatchRoute returns ErrUnsupported: rtnetlink is Linux's.
func MatchRoute(dst netip.Addr, oif string) (Route, error) { return Route{}, ErrUnsupported }
