// SPDX-License-Identifier: Apache-2.0

package ctrl

import "testing"

func TestNames(t *testing.T) {
	if Discovery.String() != "discovery" || IO.String() != "io" {
		t.Errorf("role names %q %q", Discovery, IO)
	}
	want := map[task]string{
		taskNone: "none", taskConnect: "connect", taskIdentify: "identify", taskRegister: "register",
		taskSupported: "get supported log pages", taskLog: "get log page", taskIdle: "idle",
	}
	for tk, name := range want {
		if tk.String() != name {
			t.Errorf("task %d = %q, want %q", tk, tk.String(), name)
		}
	}
}
