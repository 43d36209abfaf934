// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nbft"
)

func TestRetarget(t *testing.T) {
	out := filepath.Join(t.TempDir(), "NBFT")
	if err := run("../../../internal/nbft/testdata/NBFT", out, "100.71.103.50", "198.51.100.22"); err != nil {
		t.Fatal(err)
	}
	tables := nbft.ReadAll(os.DirFS(filepath.Dir(out)), nil)
	if len(tables) != 1 {
		t.Fatalf("%d tables read back", len(tables))
	}
	dcs, _, _ := nbft.Controllers(tables, func(string, uint16) string { return "" })
	if len(dcs) != 1 || dcs[0].Traddr != "198.51.100.22" || dcs[0].Trsvcid != "8009" {
		t.Errorf("discovery controllers %+v, want one at 198.51.100.22:8009", dcs)
	}
	if _, err := retarget([]byte("NBFT"), "a", "bb"); err == nil || !strings.Contains(err.Error(), "length") {
		t.Errorf("different lengths: %v", err)
	}
	if err := run("../../../internal/nbft/testdata/NBFT", out, "192.0.2.99", "192.0.2.98"); err == nil {
		t.Error("an address not in the table was accepted")
	}
}
