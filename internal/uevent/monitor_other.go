// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package uevent

import (
	"errors"
	"log/slog"
)

// openNetlink fails: uevents come from Linux netlink sockets only.
func openNetlink(Source, int, *slog.Logger) (conn, error) {
	return nil, errors.New("uevent monitoring needs Linux")
}
