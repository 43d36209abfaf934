// SPDX-License-Identifier: Apache-2.0

package fabrics

import "syscall"

// errnoNoKey is ENOKEY, whose number differs between Linux architectures.
const errnoNoKey = syscall.ENOKEY
