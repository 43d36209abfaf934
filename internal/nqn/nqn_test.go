// SPDX-License-Identifier: Apache-2.0

package nqn

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateHost(t *testing.T) {
	long := "nqn." + strings.Repeat("a", 220) // 224 bytes
	tests := []struct {
		in string
		ok bool
	}{
		{"nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9", true},
		{"qnq.2014-08.org.nvmexpress:uuid:9aae2691", false},
		{"", false},
		{long, false},
		{long[:MaxLen], true},
		{"nqn.host,hostnqn=nqn.evil", false},
		{"nqn.with space", false},
		{"nqn.nul\x00byte", false},
		{"nqn.\xff", false},
	}
	for _, tt := range tests {
		err := ValidateHost(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateHost(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateHost(%q) error %v does not wrap ErrInvalid", tt.in, err)
		}
	}
}

func TestValidateSubsystem(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{WellKnownDiscovery, true},
		{"klingons", true}, // nvmet test names have no nqn. prefix
		{"nqn.1988-11.com.dell:SFSS:2:20220208134025e8", true},
		{"", false},
		{strings.Repeat("n", KernelMaxLen), true},
		{strings.Repeat("n", KernelMaxLen+1), false},
		{"a,b", false},
		{"tab\there", false},
	}
	for _, tt := range tests {
		if err := ValidateSubsystem(tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidateSubsystem(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
