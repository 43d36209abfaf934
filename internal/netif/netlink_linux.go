// SPDX-License-Identifier: Apache-2.0

//go:build linux

package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// replyTimeout bounds the wait for the kernel's answer; rtnetlink answers at once, so
// this only guards against a lost message.
const replyTimeout = 5 * time.Second

// maxIfNameLen is IFNAMSIZ without the NUL.
const maxIfNameLen = 15

// conn is an rtnetlink socket for one batch of requests.
type conn struct {
	fd  int
	pid uint32
	seq uint32
}

func dial() (*conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	c := &conn{fd: fd, seq: uint32(time.Now().UnixNano())}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		c.close()
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("rtnetlink socket name: %w", err)
	}
	if nl, ok := sa.(*unix.SockaddrNetlink); ok {
		c.pid = nl.Pid
	}
	tv := unix.NsecToTimeval(replyTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		c.close()
		return nil, fmt.Errorf("set rtnetlink receive timeout: %w", err)
	}
	return c, nil
}

func (c *conn) close() { _ = unix.Close(c.fd) }

// do sends the request build makes for a new sequence number and returns the answer's
// messages: every part of a dump up to NLMSG_DONE, or the single reply. An error answer
// is returned as its errno.
func (c *conn) do(build func(seq uint32) []byte) ([]nlMsg, error) {
	c.seq++
	seq := c.seq
	if err := unix.Sendto(c.fd, build(seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send rtnetlink request: %w", err)
	}
	buf := make([]byte, 64<<10)
	var out []nlMsg
	for {
		n, _, flags, _, err := unix.Recvmsg(c.fd, buf, nil, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return nil, fmt.Errorf("receive rtnetlink answer: none within %v", replyTimeout)
		case err != nil:
			return nil, fmt.Errorf("receive rtnetlink answer: %w", err)
		case flags&unix.MSG_TRUNC != 0:
			return nil, fmt.Errorf("receive rtnetlink answer: %w: message truncated", ErrMalformed)
		}
		msgs, err := parseMessages(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Seq != seq || m.Pid != c.pid {
				continue // an answer to an earlier request
			}
			switch m.Type {
			case nlmsgError, nlmsgDone:
				errno, err := errnoOf(m.Data)
				if err == nil && errno != 0 {
					err = errno
				}
				if m.Type == nlmsgDone && len(m.Data) < 4 {
					err = nil // older kernels end a dump with an empty NLMSG_DONE
				}
				return out, err
			}
			m.Data = slices.Clone(m.Data) // buf is reused
			out = append(out, m)
			if m.Flags&nlmFMulti == 0 {
				return out, nil
			}
		}
	}
}

// ReadTable reads the host's interfaces and their addresses (one RTM_GETLINK and one
// RTM_GETADDR dump). Interfaces without any address are included, and so are
// interfaces with only IPv6 addresses (nvme-stas quirk 9: its net_if_addrs lost them).
func ReadTable() (*Table, error) {
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.close()
	msgs, err := c.do(func(seq uint32) []byte { return linkRequest(seq, 0, "") })
	if err != nil {
		return nil, fmt.Errorf("dump network links: %w", err)
	}
	var links []Interface
	for _, m := range msgs {
		if m.Type != rtmNewLink {
			continue
		}
		l, err := parseLink(m.Data)
		if err != nil {
			return nil, fmt.Errorf("dump network links: %w", err)
		}
		links = append(links, l)
	}
	msgs, err = c.do(addrDumpRequest)
	if err != nil {
		return nil, fmt.Errorf("dump network addresses: %w", err)
	}
	var addrs []addrMsg
	for _, m := range msgs {
		if m.Type != rtmNewAddr {
			continue
		}
		a, err := parseAddr(m.Data)
		if errors.Is(err, errOtherFamily) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dump network addresses: %w", err)
		}
		addrs = append(addrs, a)
	}
	return buildTable(links, addrs), nil
}

// link asks for one link by index or by name.
func (c *conn) link(index int, name string) (Interface, error) {
	msgs, err := c.do(func(seq uint32) []byte { return linkRequest(seq, index, name) })
	if errors.Is(err, unix.ENODEV) {
		return Interface{}, fmt.Errorf("%w: %q (index %d)", ErrNoSuchInterface, name, index)
	}
	if err != nil {
		return Interface{}, err
	}
	for _, m := range msgs {
		if m.Type == rtmNewLink {
			return parseLink(m.Data)
		}
	}
	return Interface{}, fmt.Errorf("%w: no link in the answer", ErrMalformed)
}

// LookupRoute asks the kernel for its route to dst, optionally constrained to the
// output interface oif, like `ip route get` (see RouteTo).
//
// Constrained to an interface, an IPv4 lookup never fails for an interface that is up:
// when no route goes through it the kernel assumes the destination is on its link
// (ip_route_output_key_hash_rcu: "Apparently, routing tables are wrong. Assume, that the
// destination is on link."). MatchRoute does not do that.
func LookupRoute(dst netip.Addr, oif string) (Route, error) {
	return route(dst, oif, false)
}

// MatchRoute asks the kernel which routing table entry it would use to reach dst,
// optionally only among the entries through oif, like `ip route get fibmatch`: the
// answer's Prefix is that entry's destination, so a default route can be told from a
// more specific one. When no entry through oif matches, it fails with ErrNoRoute.
func MatchRoute(dst netip.Addr, oif string) (Route, error) {
	return route(dst, oif, true)
}

func route(dst netip.Addr, oif string, fibMatch bool) (Route, error) {
	if !dst.IsValid() {
		return Route{}, fmt.Errorf("route lookup: invalid destination address")
	}
	useZone := oif == "" && dst.Zone() != ""
	if useZone {
		oif = dst.Zone()
	}
	r, err := lookupRoute(dst, oif, useZone, fibMatch)
	if err != nil {
		if oif != "" {
			return Route{}, fmt.Errorf("route to %v through %s: %w", dst, oif, err)
		}
		return Route{}, fmt.Errorf("route to %v: %w", dst, err)
	}
	return r, nil
}

func lookupRoute(dst netip.Addr, oif string, numericOK, fibMatch bool) (Route, error) {
	c, err := dial()
	if err != nil {
		return Route{}, err
	}
	defer c.close()
	index := 0
	if oif != "" {
		if len(oif) > maxIfNameLen {
			return Route{}, fmt.Errorf("%w: %q is longer than an interface name", ErrNoSuchInterface, oif)
		}
		l, err := c.link(0, oif)
		if n, convErr := strconv.Atoi(oif); err != nil && errors.Is(err, ErrNoSuchInterface) && numericOK && convErr == nil && n > 0 {
			l, err = c.link(n, "") // a numeric zone is an interface index
		}
		if err != nil {
			return Route{}, err
		}
		index = l.Index
	}
	msgs, err := c.do(func(seq uint32) []byte { return routeRequest(seq, dst, index, fibMatch) })
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.ENETUNREACH, unix.EHOSTUNREACH, unix.EACCES, unix.EINVAL:
			// EACCES answers a prohibit route, EINVAL a blackhole route.
			return Route{}, fmt.Errorf("%w: %w", ErrNoRoute, errno)
		}
	}
	if err != nil {
		return Route{}, err
	}
	for _, m := range msgs {
		if m.Type != rtmNewRoute {
			continue
		}
		rr, err := parseRoute(m.Data)
		if err != nil {
			return Route{}, err
		}
		r := Route{Index: rr.OIF, Src: rr.Src, Gateway: rr.Gateway, Prefix: rr.Prefix, Table: rr.Table, Type: rr.Type}
		if rr.OIF != 0 {
			l, err := c.link(rr.OIF, "")
			if err != nil {
				return Route{}, fmt.Errorf("name of output interface %d: %w", rr.OIF, err)
			}
			r.Iface = l.Name
		}
		for _, idx := range rr.Nexthops {
			l, err := c.link(idx, "")
			if err != nil {
				return Route{}, fmt.Errorf("name of next hop interface %d: %w", idx, err)
			}
			r.Multipath = append(r.Multipath, l.Name)
		}
		return r, nil
	}
	return Route{}, fmt.Errorf("%w: no route in the answer", ErrMalformed)
}
