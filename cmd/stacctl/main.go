// SPDX-License-Identifier: Apache-2.0

// Command stacctl queries and controls stacd over D-Bus, with nvme-stas's command line
// and output (see package ctl).
package main

import (
	"context"
	"os"

	"github.com/nvme-stas-go/stas/internal/ctl"
)

func main() {
	os.Exit(ctl.Stacctl(context.Background(), os.Args[1:], ctl.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}
