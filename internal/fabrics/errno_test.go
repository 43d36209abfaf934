// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestWriteErrno(t *testing.T) {
	tests := []struct {
		errno syscall.Errno
		kind  error
		text  string
	}{
		{syscall.EALREADY, ErrDuplicate, "same subsystem NQN"},
		{syscall.EINVAL, ErrInvalidOption, "refused the option string"},
		{syscall.ENODEV, ErrNoSuchInterface, "host_iface"},
		{syscall.EIO, ErrRejectedByTarget, "NVMe status"},
		{syscall.ECONNREFUSED, ErrRefused, "nothing accepts"},
		{syscall.ETIMEDOUT, ErrUnreachable, "cannot be reached"},
		{syscall.EHOSTUNREACH, ErrUnreachable, "cannot be reached"},
		{syscall.ENETUNREACH, ErrUnreachable, "cannot be reached"},
		{syscall.EHOSTDOWN, ErrUnreachable, "cannot be reached"},
		{syscall.EADDRNOTAVAIL, ErrAddressNotAvailable, "host_traddr"},
		{syscall.EADDRINUSE, ErrAddressInUse, "hostnqn given twice"},
		{errnoNoKey, ErrNoKey, "pre-shared key"},
		{syscall.EOPNOTSUPP, ErrTargetUnsupported, "secure concatenation"},
		{syscall.ENOMEM, ErrNoMemory, "longer than a page"},
		{syscall.EBUSY, ErrBusy, "unloaded"},
		{syscall.EPERM, ErrWriteFailed, "unexpected"},
	}
	all := []error{ErrDuplicate, ErrInvalidOption, ErrNoSuchInterface, ErrRejectedByTarget, ErrRefused, ErrUnreachable,
		ErrAddressNotAvailable, ErrAddressInUse, ErrNoKey, ErrTargetUnsupported, ErrNoMemory, ErrBusy, ErrWriteFailed}
	for _, tt := range tests {
		err := WriteErrno(tt.errno)
		if !errors.Is(err, tt.kind) || !errors.Is(err, tt.errno) {
			t.Errorf("WriteErrno(%v) = %v; want it to match %v and the errno", tt.errno, err, tt.kind)
		}
		for _, other := range all {
			if other != tt.kind && errors.Is(err, other) {
				t.Errorf("WriteErrno(%v) also matches %v", tt.errno, other)
			}
		}
		if !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.errno.Error()) {
			t.Errorf("WriteErrno(%v).Error() = %q", tt.errno, err)
		}
		var we *WriteError
		if !errors.As(err, &we) || we.Errno != tt.errno {
			t.Errorf("WriteErrno(%v) is not a *WriteError with the errno", tt.errno)
		}
	}
	if err := WriteErrno(0); err != nil {
		t.Errorf("WriteErrno(0) = %v", err)
	}
}
