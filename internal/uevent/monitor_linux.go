// SPDX-License-Identifier: Apache-2.0

//go:build linux

package uevent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/pilebones/go-udev/netlink"
	"golang.org/x/sys/unix"
)

// netlinkConn is a NETLINK_KOBJECT_UEVENT socket. go-udev opens and binds it; from then on
// it is a non-blocking fd in the Go netpoller, so a reader parked in receive wakes up when
// the socket is closed (go-udev's own reader stays stuck in recvfrom, see
// go-ecosystem.md §1.3).
type netlinkConn struct {
	f   *os.File
	rc  syscall.RawConn
	buf []byte
	oob []byte
}

// openNetlink opens a socket bound to src's multicast group with a receive buffer of
// rcvbuf bytes and SO_PASSCRED set.
func openNetlink(src Source, rcvbuf int, log *slog.Logger) (conn, error) {
	uc := &netlink.UEventConn{}
	// go-udev's socket lacks SOCK_CLOEXEC; keep it out of children the daemon starts
	// (systemctl) the way the standard library does for such sockets.
	syscall.ForkLock.RLock()
	err := uc.Connect(netlink.Mode(src))
	if err == nil {
		syscall.CloseOnExec(uc.Fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("open netlink uevent socket: %w", err)
	}
	fd := uc.Fd
	fail := func(step string, err error) (conn, error) {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("%s on the netlink uevent socket: %w", step, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
		// Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			log.Warn("set uevent socket receive buffer", "bytes", rcvbuf, "error", err)
		}
	}
	if got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
		log.Debug("uevent socket open", "source", src, "rcvbuf", got)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fail("set SO_PASSCRED", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("set O_NONBLOCK", err)
	}
	f := os.NewFile(uintptr(fd), "netlink-uevent")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("netlink uevent socket: %w", err)
	}
	return &netlinkConn{
		f:   f,
		rc:  rc,
		buf: make([]byte, MaxMessageSize),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)),
	}, nil
}

// receive returns the next message; the slice is valid until the next call.
func (c *netlinkConn) receive() ([]byte, sender, error) {
	var (
		n, oobn, flags int
		from           unix.Sockaddr
		rerr           error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, 0)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return nil, sender{}, fmt.Errorf("receive uevent: %w", err)
	}
	if rerr != nil {
		return nil, sender{}, fmt.Errorf("receive uevent: %w", rerr)
	}
	if flags&unix.MSG_TRUNC != 0 {
		return nil, sender{}, fmt.Errorf("%w: more than %d bytes", errTruncated, len(c.buf))
	}
	var s sender
	if sa, ok := from.(*unix.SockaddrNetlink); ok {
		s.pid, s.groups = sa.Pid, sa.Groups
	}
	if cmsgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
		for i := range cmsgs {
			if cred, err := unix.ParseUnixCredentials(&cmsgs[i]); err == nil {
				s.uid, s.hasCreds = cred.Uid, true
			}
		}
	}
	return c.buf[:n], s, nil
}

func (c *netlinkConn) close() error {
	if err := c.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}
