// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"fmt"
)

// Sentinel errors of option building and of the kernel text this package parses. Test
// for them with errors.Is.
var (
	// ErrInvalidOption marks an option value that is malformed, out of range, not allowed
	// with the transport, or unsafe to hand to the kernel. WriteErrno also returns it for
	// EINVAL: the kernel refused the option string.
	ErrInvalidOption = errors.New("invalid fabrics option")

	// ErrUnsupported marks an option the caller asked for that the running kernel does not
	// list in /dev/nvme-fabrics and that cannot be left out safely.
	ErrUnsupported = errors.New("fabrics option not supported by the kernel")

	// ErrMalformed marks kernel text (supported-option list, write reply, sysfs address)
	// that does not have the expected shape.
	ErrMalformed = errors.New("malformed kernel text")

	// ErrNotFabrics is returned by ParseAddress for the address of a controller that is not
	// a fabrics controller (a PCIe controller's address is its PCI bus/device/function).
	ErrNotFabrics = errors.New("not a fabrics controller address")
)

// OptionError says which option of an option string is wrong and why. Kind is
// ErrInvalidOption or ErrUnsupported; both Kind and Err are reachable with errors.Is and
// errors.As.
type OptionError struct {
	// Option is the kernel's name of the option, e.g. "host_iface".
	Option string
	// Kind is ErrInvalidOption or ErrUnsupported.
	Kind error
	// Err says what is wrong with the value. It never quotes a DH-HMAC-CHAP secret.
	Err error
}

// Error implements error.
func (e *OptionError) Error() string {
	return fmt.Sprintf("fabrics option %s: %v", e.Option, e.Err)
}

// Unwrap returns the kind and the cause.
func (e *OptionError) Unwrap() []error { return []error{e.Kind, e.Err} }
