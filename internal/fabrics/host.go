// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// Host is the kernel's NVMe-oF host side as the daemons use it: what /dev/nvme-fabrics
// accepts, creating a controller, and deleting one. Kernel is the real implementation;
// package fabricstest has a fake for unit tests.
type Host interface {
	// SupportedOptions returns the option set of the running kernel.
	SupportedOptions() (Supported, error)
	// Connect creates a controller and returns the kernel's reply and the names of the
	// tuning options left out because the kernel does not support them.
	Connect(ctx context.Context, o Options) (reply Reply, omitted []string, err error)
	// Disconnect deletes the controller named device ("nvme3"). It returns an error
	// wrapping ErrNoController if the controller does not exist.
	Disconnect(ctx context.Context, device string) error
}

var (
	// ErrNoController is returned by Disconnect when the controller does not exist, most
	// likely because it was deleted already (by the kernel after ctrl_loss_tmo, by an
	// administrator, or by an earlier Disconnect). Callers that only want it gone treat it
	// as success.
	ErrNoController = errors.New("no such controller")
	// ErrInvalidDevice is returned for a device name that is not "nvme<N>".
	ErrInvalidDevice = errors.New("not an NVMe controller name")
	// ErrUnsupportedPlatform is returned by Kernel on systems other than Linux.
	ErrUnsupportedPlatform = errors.New("NVMe over Fabrics needs Linux")
)

// ValidDevice reports whether name is a controller device name: "nvme" followed by a
// decimal instance without leading zeros. It keeps path elements such as ".." out of
// sysfs paths built from the name.
func ValidDevice(name string) bool {
	_, ok := nvme.ControllerInstance(name)
	return ok
}

// Describe names the controller o creates for messages and logs, e.g.
// "nvme-tcp 192.0.2.1:4420 (nqn nqn.2014-08.org.example:s1, iface eth0)". It holds no
// secrets and escapes control characters from untrusted text.
func Describe(o Options) string {
	port := textValue(o.TrSvcID)
	if port == "" && o.Transport == TransportTCP {
		port = DefaultTCPIOPort
		if o.IsDiscovery() {
			port = DefaultTCPDiscoveryPort
		}
	}
	var b strings.Builder
	b.WriteString("nvme-")
	b.WriteString(printable(string(o.Transport)))
	if o.TrAddr != "" || port != "" {
		b.WriteByte(' ')
		switch {
		case port == "":
			b.WriteString(printable(o.TrAddr))
		case strings.Contains(o.TrAddr, ":") && o.Transport != TransportFC:
			b.WriteString("[" + printable(o.TrAddr) + "]:" + printable(port))
		default:
			b.WriteString(printable(o.TrAddr) + ":" + printable(port))
		}
	}
	b.WriteString(" (nqn ")
	b.WriteString(printable(o.SubsysNQN))
	if iface := textValue(o.HostIface); iface != "" {
		b.WriteString(", iface " + printable(iface))
	}
	if addr := textValue(o.HostTrAddr); addr != "" {
		b.WriteString(", from " + printable(addr))
	}
	b.WriteByte(')')
	return b.String()
}

// printable escapes control and non-UTF-8 bytes the way %q would, without the quotes.
func printable(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
