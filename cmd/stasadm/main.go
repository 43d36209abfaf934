// SPDX-License-Identifier: Apache-2.0

// Command stasadm generates the host NQN and host ID and sets the host symbolic name, writing
// them to their files and to the [Host] section of /etc/stas/sys.conf, as nvme-stas's
// stasadm does (its command line is kept; see run.go).
package main

import (
	"os"

	"github.com/nvme-stas-go/stas/internal/hostid"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, hostid.NewSystem()))
}
