// SPDX-License-Identifier: Apache-2.0

// Package version owns the product's version string, stamped at build time.
package version

// Version is set by the linker (-X github.com/nvme-stas-go/stas/internal/version.Version=...)
// from `git describe`; a plain `go build` outside the Makefile reports "dev".
var Version = "dev"

// Product is the name printed by every program's --version.
const Product = "nvme-stas-go"

// String returns the one-line version banner shared by all programs.
func String() string { return Product + " " + Version }
