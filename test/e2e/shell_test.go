// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestInteractive brings up the standard lab and opens a shell in it, for exploring by
// hand: in `make e2e-shell`, run `E2E_SHELL=1 build/e2e/e2e.test -test.run Interactive`.
// Leaving the shell tears the lab down.
func TestInteractive(t *testing.T) {
	if os.Getenv("E2E_SHELL") != "1" {
		t.Skip("set E2E_SHELL=1 to open a shell in the lab")
	}
	l := newLab(t)
	dc := l.target.TCPPort(1, l.a.PeerAddr, "8009")
	io := l.target.TCPPort(2, l.b.PeerAddr, "4420")
	for _, name := range []string{"nqn.2014-08.org.example:lab-1", "nqn.2014-08.org.example:lab-2"} {
		s := l.target.Subsystem(name, "/dev/nullb0")
		dc.Link(s)
		io.Link(s)
	}
	dc.Referral("to-port-2", l.b.PeerAddr, "4420", 2)
	fmt.Printf(`
Lab is up. Target namespace "tgt" (ip netns exec tgt ...).
  %s %s  <->  %s %s  nvmet port 1 (discovery, 8009): lab-1, lab-2, referral to port 2
  %s %s  <->  %s %s  nvmet port 2 (4420): lab-1, lab-2
Host NQN %s. Try: nvme discover -t tcp -a %s -s 8009 --host-iface %s
Exit the shell to tear the lab down.
`, l.a.Host, l.a.HostAddr, l.a.Peer, l.a.PeerAddr, l.b.Host, l.b.HostAddr, l.b.Peer, l.b.PeerAddr,
		hostNQN, l.a.PeerAddr, l.a.Host)
	sh := exec.Command("/bin/bash", "-i")
	sh.Stdin, sh.Stdout, sh.Stderr = os.Stdin, os.Stdout, os.Stderr
	_ = sh.Run()
}
