// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestDiscoveryOptionNames(t *testing.T) {
	// nvme-stas-behaviour.md §14.2 "DLP bits".
	if got := DiscoveryLogOptions(0x7).Names(); !slices.Equal(got, []string{"EXTDLPES", "PLEOS", "ALLSUBES"}) {
		t.Errorf("Names(0x7) = %v", got)
	}
	if got := DiscoveryLogOptions(0x2).Names(); !slices.Equal(got, []string{"PLEOS"}) {
		t.Errorf("Names(0x2) = %v", got)
	}
	if got := DiscoveryLogOptions(0x8).Names(); got == nil || len(got) != 0 {
		t.Errorf("Names(0x8) = %#v", got)
	}
	if DiscoveryLogOptions(0).String() != "none" || DiscoveryLogOptions(5).String() != "EXTDLPES|ALLSUBES" {
		t.Errorf("String = %q %q", DiscoveryLogOptions(0), DiscoveryLogOptions(5))
	}
	if DiscoveryLogOptions(0x7).DiscoveryLSP() != LSPDiscoveryPLEO || DiscoveryLogOptions(0x5).DiscoveryLSP() != 0 {
		t.Error("DiscoveryLSP")
	}
}

func TestSupportedLogPages(t *testing.T) {
	var s SupportedLogPages
	s[LIDSupportedLogPages] = 1
	s[LIDDiscovery] = 0x0007_0001
	b := mustMarshal(t, &s)
	if len(b) != SupportedLogPagesSize {
		t.Fatalf("len = %d", len(b))
	}
	if d := binary.LittleEndian.Uint32(b[0x70*4:]); d != 0x00070001 {
		t.Errorf("dword 0x70 = %#x", d)
	}
	got, err := DecodeSupportedLogPages(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Error("round trip differs")
	}
	if !got.Supported(LIDDiscovery) || got.Supported(LIDHostDiscovery) {
		t.Error("Supported")
	}
	if got.LIDSP(LIDDiscovery) != 7 || got.DiscoveryOptions() != DiscoveryOptEXTDLPES|DiscoveryOptPLEOS|DiscoveryOptALLSUBES {
		t.Errorf("DiscoveryOptions = %v", got.DiscoveryOptions())
	}
	for _, n := range []int{0, 1020, 1028} {
		if _, err := DecodeSupportedLogPages(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("len %d: %v", n, err)
		}
	}
}
