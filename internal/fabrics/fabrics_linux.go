// SPDX-License-Identifier: Apache-2.0

//go:build linux

package fabrics

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readSupportedDevice reads the supported-option line from a fresh fd of the fabrics
// device (nvme-protocol.md §1.3). Kernels before 5.17 fail the read with EINVAL.
func readSupportedDevice(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSupportedLen+1))
}

// createController writes the whole option string in one write(2) to a fresh fd and reads
// the kernel's reply with one read(2) on the same fd (nvme-protocol.md §1.1, §1.4). The
// write blocks until the controller is live or the attempt failed.
func createController(path, opts string) (Reply, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Reply{}, err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return Reply{}, fmt.Errorf("%s: %w", path, err)
	}
	var n int
	var werr error
	// os.File.Write would retry a partial write with a second write(2), which the kernel
	// refuses (one controller per open); issue exactly one.
	if err := rc.Control(func(fd uintptr) { n, werr = unix.Write(int(fd), []byte(opts)) }); err != nil {
		return Reply{}, fmt.Errorf("%s: %w", path, err)
	}
	if werr != nil {
		var errno syscall.Errno
		if errors.As(werr, &errno) {
			return Reply{}, WriteErrno(errno)
		}
		return Reply{}, fmt.Errorf("write %s: %w", path, werr)
	}
	if n != len(opts) {
		return Reply{}, fmt.Errorf("write %s: %w: %d of %d bytes", path, io.ErrShortWrite, n, len(opts))
	}
	buf := make([]byte, maxReplyLen)
	var rerr error
	if err := rc.Control(func(fd uintptr) { n, rerr = unix.Read(int(fd), buf) }); err != nil {
		return Reply{}, fmt.Errorf("%s: %w", path, err)
	}
	if rerr != nil {
		return Reply{}, fmt.Errorf("read reply from %s: %w", path, rerr)
	}
	return ParseReply(buf[:n])
}

// deleteControllerFile writes "1" to a controller's delete_controller attribute, as
// libnvme's nvme_disconnect_ctrl does.
func deleteControllerFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("1"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
