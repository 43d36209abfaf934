// SPDX-License-Identifier: Apache-2.0

// Command mknbft makes the NBFT (ACPI NVMe Boot Firmware Table) the end-to-end suite hands
// to the VM with qemu's -acpitable: the real table of the NBFT fixture with its discovery
// controller's address replaced by a test address of the same length, and the table's
// checksum recomputed, so that stafd's NBFT source is proven on a kernel that exposes the
// table under /sys/firmware/acpi/tables.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
)

func main() {
	in := flag.String("in", "internal/nbft/testdata/NBFT", "NBFT table to start from")
	out := flag.String("out", "build/e2e/NBFT", "table to write")
	from := flag.String("from", "100.71.103.50", "discovery controller address in the input table")
	to := flag.String("to", "198.51.100.22", "address to put in its place (same length)")
	flag.Parse()
	if err := run(*in, *out, *from, *to); err != nil {
		fmt.Fprintln(os.Stderr, "mknbft:", err)
		os.Exit(1)
	}
}

func run(in, out, from, to string) error {
	table, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	fixed, err := retarget(table, from, to)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, fixed, 0o644)
}

// retarget replaces the discovery URI's host and recomputes the ACPI checksum (byte 9:
// all bytes of the table sum to zero).
func retarget(table []byte, from, to string) ([]byte, error) {
	if len(from) != len(to) {
		return nil, fmt.Errorf("%q and %q differ in length: the heap offsets would move", from, to)
	}
	if len(table) < 36 || string(table[:4]) != "NBFT" {
		return nil, fmt.Errorf("not an NBFT table")
	}
	old := []byte("nvme+tcp://" + from + ":")
	if bytes.Count(table, old) != 1 {
		return nil, fmt.Errorf("no single discovery URI with %s", from)
	}
	t := bytes.Replace(table, old, []byte("nvme+tcp://"+to+":"), 1)
	t[9] = 0
	var sum byte
	for _, b := range t {
		sum += b
	}
	t[9] = -sum
	return t, nil
}
