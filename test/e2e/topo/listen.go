// SPDX-License-Identifier: Apache-2.0

//go:build linux

package topo

import (
	"fmt"
	"net"
)

// Listen opens a listener from a thread inside the namespace. A socket keeps the
// namespace it was created in, so the listener, and every connection it accepts, stays
// in the namespace while the rest of the test process lives in the root one: a
// userspace target (the CDC simulator) served this way is reached across the veth
// pairs like nvmet.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s in netns %s: %w", network, addr, n.Name, err)
	}
	return l, nil
}
