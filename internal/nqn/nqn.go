// SPDX-License-Identifier: Apache-2.0

// Package nqn owns the rules for NVMe Qualified Names: the well-known discovery NQN and
// the checks that a host or subsystem NQN must pass before the product stores it or hands
// it to the kernel.
package nqn

import (
	"errors"
	"fmt"
	"strings"
)

// WellKnownDiscovery is the discovery subsystem NQN every discovery controller answers to
// (TP8013 lets a controller have a unique one as well).
const WellKnownDiscovery = "nqn.2014-08.org.nvmexpress.discovery"

// MaxLen is the NVMe specification's limit on an NQN, in bytes.
const MaxLen = 223

// KernelMaxLen is the longest NQN the Linux fabrics layer accepts: it refuses any
// nqn= or hostnqn= value of NVMF_NQN_SIZE (223) bytes or more.
const KernelMaxLen = MaxLen - 1

// ErrInvalid is wrapped by every error this package returns.
var ErrInvalid = errors.New("invalid NQN")

// ValidateHost checks a host NQN as nvme-stas does: it must start with "nqn." and be at
// most MaxLen bytes. It also refuses text no kernel option string may carry.
func ValidateHost(s string) error {
	if !strings.HasPrefix(s, "nqn.") {
		return fmt.Errorf("%w: host NQN %q should start with \"nqn.\"", ErrInvalid, s)
	}
	if len(s) > MaxLen {
		return fmt.Errorf("%w: host NQN is too long (%d chars, max %d per NVMe spec)", ErrInvalid, len(s), MaxLen)
	}
	return checkText("host NQN", s)
}

// ValidateSubsystem checks a subsystem NQN taken from a config file, a log page or an mDNS
// record. Names without the "nqn." prefix are accepted because targets use them (nvmet
// test setups name subsystems freely); what is refused is text that is empty, too long for
// the kernel, or not printable ASCII.
func ValidateSubsystem(s string) error {
	if s == "" {
		return fmt.Errorf("%w: subsystem NQN is empty", ErrInvalid)
	}
	if len(s) > KernelMaxLen {
		return fmt.Errorf("%w: subsystem NQN is too long (%d bytes, the kernel takes at most %d)", ErrInvalid, len(s), KernelMaxLen)
	}
	return checkText("subsystem NQN", s)
}

// checkText refuses anything but printable ASCII without spaces or commas: a comma or a
// control character would let the value smuggle a second option into the kernel's
// comma-separated option string.
func checkText(what, s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return fmt.Errorf("%w: %s %q has a non-printable or space character at byte %d", ErrInvalid, what, s, i)
		case c == ',':
			return fmt.Errorf("%w: %s %q contains a comma", ErrInvalid, what, s)
		}
	}
	return nil
}
