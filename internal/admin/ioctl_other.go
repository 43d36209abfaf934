// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package admin

import (
	"errors"
	"fmt"
)

// openSubmitter fails: the NVMe admin passthrough ioctl exists only on Linux.
func openSubmitter(path string) (submitCloser, error) {
	return nil, fmt.Errorf("admin passthrough on %s needs Linux: %w", path, errors.ErrUnsupported)
}
