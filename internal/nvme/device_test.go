// SPDX-License-Identifier: Apache-2.0

package nvme

import "testing"

func TestControllerInstance(t *testing.T) {
	for name, want := range map[string]int{"nvme0": 0, "nvme3": 3, "nvme1234567": 1234567} {
		if got, ok := ControllerInstance(name); !ok || got != want {
			t.Errorf("ControllerInstance(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "nvme", "nvme01", "nvme-1", "nvme+1", "nvme0n1", "nvme12345678", "nvme..", "../nvme0", "ng0", "NVME0"} {
		if got, ok := ControllerInstance(name); ok {
			t.Errorf("ControllerInstance(%q) = %d, true; want refused", name, got)
		}
	}
}
