// SPDX-License-Identifier: Apache-2.0

// Command stafd is the STorage Appliance Finder daemon: it finds NVMe-oF discovery
// controllers, connects to them, registers with them, reads their discovery log pages and
// publishes them on D-Bus as org.nvmexpress.staf. See internal/stafd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	code, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
