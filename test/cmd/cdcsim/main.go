// SPDX-License-Identifier: Apache-2.0

// Command cdcsim runs the CDC simulator (test/cdcsim): a userspace NVMe/TCP discovery
// controller that the kernel's nvme-tcp host, nvme-cli and stafd connect to like any
// array. It is a test tool, not installed; see -h.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(ctx, os.Args[1:], os.Stderr, hup, nil))
}
