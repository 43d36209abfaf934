// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package fabrics

import "syscall"

// errnoNoKey never matches: only Linux has ENOKEY, and only Linux has /dev/nvme-fabrics.
const errnoNoKey = ^syscall.Errno(0)
