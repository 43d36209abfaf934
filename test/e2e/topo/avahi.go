// SPDX-License-Identifier: Apache-2.0

//go:build linux

package topo

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// avahiBusName is avahi-daemon's well-known name on its system bus.
const avahiBusName = "org.freedesktop.Avahi"

// logged is a process whose output goes to the test log line by line, each line
// prefixed; marked is closed when a line containing the marker appears.
type logged struct {
	cmd    *exec.Cmd
	done   chan struct{}
	marked chan struct{}
}

// startLogged starts cmd with its standard output and error in the test log. The caller
// must make sure the process ends before the test does (t.Logf panics after that).
func startLogged(t testing.TB, prefix, marker string, cmd *exec.Cmd) (*logged, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	p := &logged{cmd: cmd, done: make(chan struct{}), marked: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			t.Logf("%s: %s", prefix, line)
			if !seen && marker != "" && strings.Contains(line, marker) {
				seen = true
				close(p.marked)
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitMarked waits for the marker line; it fails if the process ends first or timeout
// passes.
func (p *logged) waitMarked(timeout time.Duration) error {
	select {
	case <-p.marked:
		return nil
	case <-p.done:
		select {
		case <-p.marked: // the marker came just before the end
			return nil
		default:
		}
		return fmt.Errorf("%s ended (%v) before it was ready", p.cmd.Args[0], p.cmd.ProcessState)
	case <-time.After(timeout):
		return fmt.Errorf("%s not ready within %v", p.cmd.Args[0], timeout)
	}
}

// end sends sig and waits for the process (and every holder of its output) to end,
// killing it after timeout.
func (p *logged) end(sig syscall.Signal, timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("%s did not end within %v of %v; killed", p.cmd.Args[0], timeout, sig)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s or a process holding its output did not end even after SIGKILL", p.cmd.Args[0])
	}
}

// Avahi is an avahi-daemon in the root namespaces on the system bus: the one a daemon
// under test asks for mDNS services. It runs in the foreground (not -D) so that its log
// reaches the test log; the system bus must be up.
type Avahi struct {
	t    testing.TB
	proc *logged
}

// StartAvahi starts avahi-daemon on the system bus and stops it at cleanup. The kernel
// host name (the VM sets "vm") is its mDNS host name.
func StartAvahi(t testing.TB) *Avahi {
	t.Helper()
	a := &Avahi{t: t}
	// Registered first: a Start that fails leaves a daemon to stop.
	t.Cleanup(func() {
		if err := a.stop(); err != nil {
			t.Errorf("stop avahi-daemon: %v", err)
		}
	})
	a.Start()
	return a
}

// Start starts the daemon (again) and waits until it owns its name on the bus.
func (a *Avahi) Start() {
	t := a.t
	t.Helper()
	if a.proc != nil {
		t.Fatal("avahi-daemon is already running")
	}
	if err := os.MkdirAll("/run/avahi-daemon", 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := startLogged(t, "avahi-daemon", "", exec.Command("avahi-daemon", "--no-drop-root", "--no-chroot"))
	if err != nil {
		t.Fatal(err)
	}
	a.proc = p
	if err := waitBusName(avahiBusName, true, 30*time.Second, p.done); err != nil {
		t.Fatalf("avahi-daemon: %v", err)
	}
}

// Stop stops the daemon, as `avahi-daemon -k` does (SIGTERM), and waits until its name
// has left the bus.
func (a *Avahi) Stop() {
	a.t.Helper()
	if err := a.stop(); err != nil {
		a.t.Fatalf("stop avahi-daemon: %v", err)
	}
}

func (a *Avahi) stop() error {
	if a.proc == nil {
		return nil
	}
	p := a.proc
	a.proc = nil
	if err := p.end(syscall.SIGTERM, 20*time.Second); err != nil {
		return err
	}
	return waitBusName(avahiBusName, false, 10*time.Second, nil)
}

// waitBusName waits until name has an owner on the system bus (or, with want false, has
// none); it gives up when died is closed.
func waitBusName(name string, want bool, timeout time.Duration, died <-chan struct{}) error {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
			return fmt.Errorf("ask the bus about %s: %w", name, err)
		}
		if has == want {
			return nil
		}
		select {
		case <-died:
			return fmt.Errorf("the process ended before %s appeared on the bus", name)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s owned=%v after %v, want %v", name, has, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ResponderConfig configures an MDNSResponder's avahi-daemon.
type ResponderConfig struct {
	// HostName is its mDNS host name; it must differ from the root daemon's (the kernel
	// host name, which both namespaces share), or the two would fight over it.
	HostName string
	// Interfaces are the only interfaces it uses (allow-interfaces).
	Interfaces []string
	// IPv4 and IPv6 say which families it speaks mDNS over. Its address records follow
	// them: an IPv4-only responder does not announce its IPv6 link-local address over
	// IPv4 (publish-aaaa-on-ipv4=no), so a browser resolving its services can only get
	// the IPv4 address, and the other way round. With avahi's defaults (both families,
	// AAAA also over IPv4) a resolver asked for any address family, as stafd's is, takes
	// whichever address record comes first, so a service seen over IPv4 may resolve to
	// the IPv6 link-local address.
	IPv4, IPv6 bool
}

// MDNSResponder is an avahi-daemon of its own, with a D-Bus system bus of its own, inside
// a network namespace: the target side announcing services with mDNS over the veth pairs.
// It runs in mount and PID namespaces of its own (a tmpfs on /run keeps its sockets and
// pid files apart from the root daemon's); they die with it, taking every process in them
// along.
type MDNSResponder struct {
	t    testing.TB
	proc *logged
	init int // the PID namespace's first process, as the root namespace sees it
}

// responderScript runs as PID 1 of the new namespaces: the bus, then the daemon, in the
// foreground so that its log reaches the test log; "@@ready" once it owns its name on the
// bus (its pid file comes earlier, so `avahi-daemon --check` is not enough: avahi-publish
// would fail with "Daemon not running").
const responderScript = `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus /run/avahi-daemon
dbus-daemon --system --fork
i=0
until [ -S /run/dbus/system_bus_socket ]; do
	i=$((i+1)); [ "$i" -lt 100 ] || { echo "dbus-daemon did not start"; exit 1; }
	sleep 0.1
done
avahi-daemon --no-drop-root --no-chroot --file="$1" &
i=0
until dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Avahi | grep -q 'boolean true'; do
	i=$((i+1)); [ "$i" -lt 100 ] || { echo "avahi-daemon did not appear on its bus"; exit 1; }
	sleep 0.2
done
echo @@ready
wait
`

// StartResponder starts an mDNS responder in ns; it is stopped at cleanup.
func StartResponder(t testing.TB, ns *Netns, cfg ResponderConfig) *MDNSResponder {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "avahi-daemon.conf")
	if err := os.WriteFile(conf, []byte(responderConf(cfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	// --kill-child: when unshare dies, the PID namespace's first process is killed, and
	// with it the whole namespace.
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
		"sh", "-c", responderScript, "responder", conf)
	p, err := startLogged(t, "avahi "+ns.Name, "@@ready", cmd)
	if err != nil {
		t.Fatal(err)
	}
	r := &MDNSResponder{t: t, proc: p}
	t.Cleanup(func() {
		if err := p.end(syscall.SIGKILL, 20*time.Second); err != nil {
			t.Errorf("stop the mDNS responder in %s: %v", ns.Name, err)
		}
	})
	if err := p.waitMarked(60 * time.Second); err != nil {
		t.Fatalf("mDNS responder in %s: %v", ns.Name, err)
	}
	// ip execs unshare, which forked the namespace's first process.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatalf("find the mDNS responder's namespace: %v", err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(children)), " ")
	if r.init, err = strconv.Atoi(first); err != nil {
		t.Fatalf("find the mDNS responder's namespace: children of unshare %q", children)
	}
	return r
}

func responderConf(cfg ResponderConfig) string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return "[server]\nhost-name=" + cfg.HostName + "\nuse-ipv4=" + yes(cfg.IPv4) + "\nuse-ipv6=" + yes(cfg.IPv6) +
		"\nallow-interfaces=" + strings.Join(cfg.Interfaces, ",") +
		"\nratelimit-interval-usec=1000000\nratelimit-burst=1000\n" +
		"[wide-area]\nenable-wide-area=no\n" +
		"[publish]\npublish-hinfo=no\npublish-workstation=no\npublish-aaaa-on-ipv4=" + yes(cfg.IPv6 && cfg.IPv4) +
		"\npublish-a-on-ipv6=no\n"
}

// Publication is a service announced by an MDNSResponder.
type Publication struct {
	name string
	proc *logged
}

// Publish announces a DNS-SD service on every interface of the responder, with the TXT
// items given ("key=value"), and waits until avahi-daemon has established it (its name
// probed). It stays announced until Withdraw or cleanup.
func (r *MDNSResponder) Publish(name, stype string, port int, txt ...string) *Publication {
	t := r.t
	t.Helper()
	// Into the responder's mount namespace (its /run, so its bus) and network namespace;
	// not into its PID namespace, so that the process is avahi-publish itself.
	args := append([]string{"--target", strconv.Itoa(r.init), "--mount", "--net", "--",
		"avahi-publish", "-s", name, stype, strconv.Itoa(port)}, txt...)
	p, err := startLogged(t, "avahi-publish "+name, "Established under name", exec.Command("nsenter", args...))
	if err != nil {
		t.Fatal(err)
	}
	pub := &Publication{name: name, proc: p}
	t.Cleanup(func() {
		if err := p.end(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Errorf("withdraw %s: %v", name, err)
		}
	})
	if err := p.waitMarked(60 * time.Second); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return pub
}

// Withdraw stops announcing the service (avahi-daemon sends its goodbye).
func (p *Publication) Withdraw() error {
	if err := p.proc.end(syscall.SIGTERM, 10*time.Second); err != nil {
		return fmt.Errorf("withdraw %s: %w", p.name, err)
	}
	return nil
}

// LinkLocal replaces the IPv6 link-local addresses the kernel gave the two ends of l by
// fixed ones (e.g. "fe80::1/64"), without duplicate address detection, so that each end
// has exactly one, known and usable at once, link-local address.
func LinkLocal(t testing.TB, ns *Netns, l Link, hostCIDR, peerCIDR string) {
	t.Helper()
	Run(t, "ip", "-6", "addr", "flush", "dev", l.Host, "scope", "link")
	Run(t, "ip", addrAdd(hostCIDR, l.Host)...)
	Run(t, "ip", "-n", ns.Name, "-6", "addr", "flush", "dev", l.Peer, "scope", "link")
	Run(t, "ip", append([]string{"-n", ns.Name}, addrAdd(peerCIDR, l.Peer)...)...)
}

// InterfaceIndex returns the index of the interface name inside the namespace.
func (n *Netns) InterfaceIndex(name string) (int, error) {
	var index int
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		index = ifi.Index
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("interface %s in netns %s: %w", name, n.Name, err)
	}
	return index, nil
}
