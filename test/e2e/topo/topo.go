// SPDX-License-Identifier: Apache-2.0

//go:build linux

// Package topo builds the end-to-end test topologies inside the test VM: network
// namespaces joined to the root namespace by veth pairs, and the kernel's NVMe target
// (nvmet) configured through configfs, with its listeners created inside a namespace so
// that traffic really crosses interfaces. Everything a test creates is removed by
// t.Cleanup, in reverse order, so several scenarios share one boot.
package topo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NvmetRoot is nvmet's configfs directory; it exists once the nvmet module is loaded.
const NvmetRoot = "/sys/kernel/config/nvmet"

// Modprobe loads kernel modules; "modprobe a b" would load only a and pass b as a
// parameter, hence -a.
func Modprobe(t testing.TB, modules ...string) {
	t.Helper()
	Run(t, "modprobe", append([]string{"-a"}, modules...)...)
}

// Run runs a command and fails the test with its output when it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := Output(name, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// Output runs a command with a deadline and returns its standard output; the error holds
// the command line and its standard error.
func Output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Netns is a network namespace made with `ip netns add`.
type Netns struct {
	Name string
}

// NewNetns creates a network namespace with its loopback up.
func NewNetns(t testing.TB, name string) *Netns {
	t.Helper()
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _, _ = Output("ip", "netns", "del", name) })
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return &Netns{Name: name}
}

// Do runs fn on an OS thread that has entered the namespace. Kernel objects that take
// their namespace from the calling task, such as an nvmet-tcp listener created by a
// configfs symlink, are then made inside it.
func (n *Netns) Do(fn func() error) error {
	target, err := os.Open(filepath.Join("/run/netns", n.Name))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", n.Name, err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter netns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime retires it instead of reusing a
			// thread that sits in the wrong namespace.
			done <- errors.Join(ferr, fmt.Errorf("leave netns %s: %w", n.Name, err))
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// Link is one veth pair: Host stays in the root namespace, Peer lives in a namespace.
type Link struct {
	Host, Peer         string
	HostAddr, PeerAddr string // without prefix length
}

// NewVeth creates a veth pair between the root namespace and ns and gives each end an
// address (CIDR notation, e.g. "192.0.2.1/24").
func NewVeth(t testing.TB, ns *Netns, host, hostCIDR, peer, peerCIDR string) Link {
	t.Helper()
	Run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _, _ = Output("ip", "link", "del", host) })
	Run(t, "ip", "link", "set", peer, "netns", ns.Name)
	Run(t, "ip", addrAdd(hostCIDR, host)...)
	Run(t, "ip", "link", "set", host, "up")
	Run(t, "ip", append([]string{"-n", ns.Name}, addrAdd(peerCIDR, peer)...)...)
	Run(t, "ip", "-n", ns.Name, "link", "set", peer, "up")
	return Link{Host: host, Peer: peer, HostAddr: stripPrefix(hostCIDR), PeerAddr: stripPrefix(peerCIDR)}
}

// addrAdd returns the arguments of `ip addr add`; IPv6 addresses skip duplicate address
// detection, which would keep them unusable for a second or two.
func addrAdd(cidr, dev string) []string {
	args := []string{"addr", "add", cidr, "dev", dev}
	if strings.Contains(cidr, ":") {
		args = append(args, "nodad")
	}
	return args
}

func stripPrefix(cidr string) string {
	addr, _, _ := strings.Cut(cidr, "/")
	return addr
}

// Target is the kernel NVMe target, with its listeners in a namespace.
type Target struct {
	t  testing.TB
	ns *Netns
}

// NewTarget returns the nvmet target whose ports listen inside ns. nvmet must be loaded.
func NewTarget(t testing.TB, ns *Netns) *Target {
	t.Helper()
	if _, err := os.Stat(NvmetRoot); err != nil {
		t.Fatalf("nvmet configfs: %v (is configfs mounted and nvmet loaded?)", err)
	}
	return &Target{t: t, ns: ns}
}

// Subsystem is an nvmet subsystem.
type Subsystem struct {
	NQN string
	dir string
}

// Subsystem creates a subsystem that any host may use. With device non-empty it gets
// namespace 1 backed by that block device (e.g. /dev/nullb0, which several subsystems
// may share).
func (tg *Target) Subsystem(nqn, device string) *Subsystem {
	t := tg.t
	t.Helper()
	dir := filepath.Join(NvmetRoot, "subsystems", nqn)
	mkdir(t, dir)
	t.Cleanup(func() { _ = os.Remove(dir) })
	write(t, filepath.Join(dir, "attr_allow_any_host"), "1")
	if device != "" {
		ns := filepath.Join(dir, "namespaces", "1")
		mkdir(t, ns)
		t.Cleanup(func() {
			_ = os.WriteFile(filepath.Join(ns, "enable"), []byte("0"), 0)
			_ = os.Remove(ns)
		})
		write(t, filepath.Join(ns, "device_path"), device)
		write(t, filepath.Join(ns, "enable"), "1")
	}
	return &Subsystem{NQN: nqn, dir: dir}
}

// Port is an nvmet port.
type Port struct {
	ID     int
	Addr   string
	Svc    string
	dir    string
	target *Target
}

// TCPPort creates a tcp port; it starts listening when the first subsystem is linked.
func (tg *Target) TCPPort(id int, addr, svc string) *Port {
	t := tg.t
	t.Helper()
	dir := filepath.Join(NvmetRoot, "ports", strconv.Itoa(id))
	mkdir(t, dir)
	t.Cleanup(func() { _ = os.Remove(dir) })
	family := "ipv4"
	if strings.Contains(addr, ":") {
		family = "ipv6"
	}
	write(t, filepath.Join(dir, "addr_trtype"), "tcp")
	write(t, filepath.Join(dir, "addr_adrfam"), family)
	write(t, filepath.Join(dir, "addr_traddr"), addr)
	write(t, filepath.Join(dir, "addr_trsvcid"), svc)
	return &Port{ID: id, Addr: addr, Svc: svc, dir: dir, target: tg}
}

// Link links s into the port from inside the target's namespace, which creates the
// port's listener there on the first link, and queues a discovery-change notice to the
// discovery controllers connected through this port.
func (p *Port) Link(s *Subsystem) {
	t := p.target.t
	t.Helper()
	link := filepath.Join(p.dir, "subsystems", s.NQN)
	if err := p.target.ns.Do(func() error { return os.Symlink(s.dir, link) }); err != nil {
		t.Fatalf("link %s into port %d: %v", s.NQN, p.ID, err)
	}
	t.Cleanup(func() { _ = os.Remove(link) })
}

// Unlink removes s from the port (the port stops listening when the last one goes).
func (p *Port) Unlink(s *Subsystem) {
	t := p.target.t
	t.Helper()
	if err := os.Remove(filepath.Join(p.dir, "subsystems", s.NQN)); err != nil {
		t.Fatalf("unlink %s from port %d: %v", s.NQN, p.ID, err)
	}
}

// Referral adds an enabled referral to another discovery service to the port's log.
func (p *Port) Referral(name, addr, svc string, portID int) {
	t := p.target.t
	t.Helper()
	dir := filepath.Join(p.dir, "referrals", name)
	mkdir(t, dir)
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(dir, "enable"), []byte("0"), 0)
		_ = os.Remove(dir)
	})
	family := "ipv4"
	if strings.Contains(addr, ":") {
		family = "ipv6"
	}
	write(t, filepath.Join(dir, "addr_trtype"), "tcp")
	write(t, filepath.Join(dir, "addr_adrfam"), family)
	write(t, filepath.Join(dir, "addr_traddr"), addr)
	write(t, filepath.Join(dir, "addr_trsvcid"), svc)
	write(t, filepath.Join(dir, "addr_portid"), strconv.Itoa(portID))
	write(t, filepath.Join(dir, "enable"), "1")
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", dir, err)
	}
}

func write(t testing.TB, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		t.Fatalf("write %q to %s: %v", value, path, err)
	}
}

// Controllers lists the host's NVMe controller names (nvme0, nvme1, …) from sysfs.
func Controllers(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir("/sys/class/nvme")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("list controllers: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Eventually polls cond every 50 ms until it returns true or timeout passes.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
