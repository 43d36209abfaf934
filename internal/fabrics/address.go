// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"fmt"
	"strings"
)

// maxAddressLen bounds the attribute text; sysfs attributes are at most a page.
const maxAddressLen = 4096

// Address is the sysfs "address" attribute of a fabrics controller
// (/sys/class/nvme/nvmeN/address), written by the kernel's nvmf_get_address as
// "traddr=%s,trsvcid=%s[,host_traddr=%s][,host_iface=%s]", each part only if it was given
// on connect, plus ",src_addr=<local IP>" for a TCP controller with a live admin queue on
// kernels from 6.1. Parts that are absent are empty strings.
type Address struct {
	TrAddr     string
	TrSvcID    string
	HostTrAddr string
	HostIface  string
	// SrcAddr is the local address of the TCP connection (kernel 6.1 and later).
	SrcAddr string
	// Extra holds keys this package does not know, for kernels that add more; nil when
	// there are none.
	Extra map[string]string
}

// ParseAddress parses the address attribute. Surrounding whitespace (the trailing newline)
// is ignored, and so are empty items. An empty attribute (a loop controller created without
// traddr) gives the zero Address. A value without any "key=value" item, such as a PCIe
// controller's bus address "0000:01:00.0", fails with ErrNotFabrics; a fabrics form with a
// broken item or a key given twice fails with ErrMalformed.
func ParseAddress(s string) (Address, error) {
	if len(s) > maxAddressLen {
		return Address{}, fmt.Errorf("parse controller address: %w: %d bytes", ErrMalformed, len(s))
	}
	s = strings.TrimSpace(s)
	var a Address
	if s == "" {
		return a, nil
	}
	if !strings.Contains(s, "=") {
		return Address{}, fmt.Errorf("parse controller address %q: %w", s, ErrNotFabrics)
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			continue
		}
		key, val, ok := strings.Cut(item, "=")
		if !ok || key == "" {
			return Address{}, fmt.Errorf("parse controller address %q: %w: item %q is not key=value", s, ErrMalformed, item)
		}
		if seen[key] {
			return Address{}, fmt.Errorf("parse controller address %q: %w: %s given twice", s, ErrMalformed, key)
		}
		seen[key] = true
		switch key {
		case OptTrAddr:
			a.TrAddr = val
		case OptTrSvcID:
			a.TrSvcID = val
		case OptHostTrAddr:
			a.HostTrAddr = val
		case OptHostIface:
			a.HostIface = val
		case "src_addr":
			a.SrcAddr = val
		default:
			if a.Extra == nil {
				a.Extra = map[string]string{}
			}
			a.Extra[key] = val
		}
	}
	return a, nil
}
