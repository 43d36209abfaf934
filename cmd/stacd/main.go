// SPDX-License-Identifier: Apache-2.0

// Command stacd is the STorage Appliance Connector daemon: it keeps the NVMe-oF I/O
// controller connections the host should have (from stacd.conf and the log pages stafd
// publishes) and publishes them on D-Bus as org.nvmexpress.stac. See internal/stacd.
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
