// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"fmt"
	"syscall"
)

// Categories of a failed write to /dev/nvme-fabrics (nvme-protocol.md §1.5). WriteErrno
// wraps one of them, or ErrInvalidOption for EINVAL, so callers choose retries with
// errors.Is.
var (
	// ErrDuplicate: a live controller with the same subsystem, host and address already
	// exists (EALREADY). Adopt it instead of retrying.
	ErrDuplicate = errors.New("a live controller with the same parameters exists")
	// ErrNoSuchInterface: host_iface names no interface of the kernel's network namespace
	// (ENODEV).
	ErrNoSuchInterface = errors.New("host interface does not exist")
	// ErrRejectedByTarget: the target answered Connect with an NVMe status (EIO), for
	// example an unknown subsystem NQN or a host that is not allowed.
	ErrRejectedByTarget = errors.New("refused by the target")
	// ErrRefused: nothing listens at the address and port (ECONNREFUSED).
	ErrRefused = errors.New("connection refused")
	// ErrUnreachable: no route or no answer (ETIMEDOUT, EHOSTUNREACH, ENETUNREACH,
	// EHOSTDOWN, ENETDOWN).
	ErrUnreachable = errors.New("target unreachable")
	// ErrAddressNotAvailable: host_traddr is not an address of this host (EADDRNOTAVAIL).
	ErrAddressNotAvailable = errors.New("host address not available")
	// ErrAddressInUse: EADDRINUSE; kernels before about 6.5 return it when hostnqn is given
	// twice.
	ErrAddressInUse = errors.New("address or host NQN in use")
	// ErrNoKey: TLS was requested but no pre-shared key was found (ENOKEY).
	ErrNoKey = errors.New("no TLS key")
	// ErrTargetUnsupported: the target needs something this host cannot do, such as
	// secure concatenation (EOPNOTSUPP).
	ErrTargetUnsupported = errors.New("target requires an unsupported feature")
	// ErrNoMemory: the kernel ran out of memory or the string was longer than a page
	// (ENOMEM).
	ErrNoMemory = errors.New("kernel out of memory")
	// ErrBusy: the transport module is being unloaded (EBUSY).
	ErrBusy = errors.New("transport busy")
	// ErrWriteFailed: any other errno.
	ErrWriteFailed = errors.New("controller creation failed")
)

// WriteError is a failed write to /dev/nvme-fabrics. errors.Is matches both its category
// (ErrRefused, …) and its errno (syscall.ECONNREFUSED, …).
type WriteError struct {
	Errno syscall.Errno
	// Kind is one of the category errors above.
	Kind error
	// Detail explains the errno in the words of the fabrics layer.
	Detail string
}

// Error implements error.
func (e *WriteError) Error() string {
	return fmt.Sprintf("%v: %s (%v)", e.Kind, e.Detail, e.Errno)
}

// Unwrap returns the category and the errno.
func (e *WriteError) Unwrap() []error { return []error{e.Kind, e.Errno} }

// WriteErrno explains the errno of a failed write of an option string. It returns nil
// for errno 0.
func WriteErrno(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	kind, detail := ErrWriteFailed, "unexpected error from /dev/nvme-fabrics"
	switch errno {
	case syscall.EALREADY:
		kind, detail = ErrDuplicate, "a live controller with the same subsystem NQN, host NQN, host ID and address exists"
	case syscall.EINVAL:
		kind, detail = ErrInvalidOption, "the kernel refused the option string: unknown or unsupported option, bad value, or a host NQN/host ID pair that conflicts with an existing host"
	case syscall.ENODEV:
		kind, detail = ErrNoSuchInterface, "host_iface names no network interface"
	case syscall.EIO:
		kind, detail = ErrRejectedByTarget, "the target answered with an NVMe status, e.g. unknown subsystem NQN or host not allowed"
	case syscall.ECONNREFUSED:
		kind, detail = ErrRefused, "nothing accepts connections at the target address and port"
	case syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN:
		kind, detail = ErrUnreachable, "the target address cannot be reached"
	case syscall.EADDRNOTAVAIL:
		kind, detail = ErrAddressNotAvailable, "host_traddr is not a local address"
	case syscall.EADDRINUSE:
		kind, detail = ErrAddressInUse, "address in use, or hostnqn given twice (old kernels)"
	case errnoNoKey:
		kind, detail = ErrNoKey, "TLS requested but no pre-shared key found"
	case syscall.EOPNOTSUPP:
		kind, detail = ErrTargetUnsupported, "the target requires a feature the host does not support (e.g. secure concatenation)"
	case syscall.ENOMEM:
		kind, detail = ErrNoMemory, "the kernel is out of memory or the option string is longer than a page"
	case syscall.EBUSY:
		kind, detail = ErrBusy, "the transport module is being unloaded"
	}
	return &WriteError{Errno: errno, Kind: kind, Detail: detail}
}
