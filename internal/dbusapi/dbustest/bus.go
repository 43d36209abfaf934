// SPDX-License-Identifier: Apache-2.0

// Package dbustest owns the test fixtures of the D-Bus API: a private dbus-daemon per test
// (no root, no system bus needed) and fake stafd and stacd services served through the
// real server code, for the tests of package dbusapi, of the tools and of the daemons.
package dbustest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Bus is a private dbus-daemon.
type Bus struct {
	// Addr is the bus address, for dbus.Connect, busctl --address, gdbus --address and
	// DBUS_SYSTEM_BUS_ADDRESS.
	Addr string
	// Dir holds the socket and the configuration.
	Dir string
	cmd *exec.Cmd
}

// BusOptions tune StartBus.
type BusOptions struct {
	// OtherUsers lets processes of any uid connect (the socket's directory is made
	// world-accessible), for tests that run a client as an unprivileged user.
	OtherUsers bool
}

// StartBus starts a dbus-daemon that allows everything to everyone on it and stops it
// when the test ends. It skips the test when dbus-daemon is not installed.
func StartBus(t testing.TB, opts BusOptions) *Bus {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed")
	}
	dir, err := os.MkdirTemp("", "dbustest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	allowUsers := ""
	if opts.OtherUsers {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		allowUsers = `<allow user="*"/>`
	}
	conf := filepath.Join(dir, "bus.conf")
	text := fmt.Sprintf(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    %s
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`, filepath.Join(dir, "bus"), allowUsers)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	var stderr syncBuffer // shown only when the test fails: it is noisy ("Failed to set fd limit")
	cmd.Stderr = &stderr
	t.Cleanup(func() {
		if t.Failed() && stderr.String() != "" {
			t.Logf("dbus-daemon said:\n%s", stderr.String())
		}
	})
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	b := &Bus{Dir: dir, cmd: cmd}
	t.Cleanup(b.Stop)
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		b.Addr = a
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start in 10 s")
	}
	return b
}

// Stop kills the bus (also to simulate losing the system bus).
func (b *Bus) Stop() {
	if b.cmd.Process != nil && b.cmd.ProcessState == nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
}

// Connect opens a connection to the bus that is closed when the test ends. Signals are
// delivered in order.
func (b *Bus) Connect(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(b.Addr, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		t.Fatalf("connect to %s: %v", b.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine exec starts.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
