// SPDX-License-Identifier: Apache-2.0

package admin

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// nvmeIoctlAdminCmd is NVME_IOCTL_ADMIN_CMD, _IOWR('N', 0x41, struct nvme_passthru_cmd).
// _IOWR numbers encode the same on every Linux architecture (unlike _IO ones on
// ppc64, mips and sparc), so one constant serves them all.
const nvmeIoctlAdminCmd uint32 = 0xC0484E41

// passthruCmd mirrors struct nvme_passthru_cmd of <linux/nvme_ioctl.h>: 72 bytes, addr
// at offset 24, result at 68 (checked by a test).
type passthruCmd struct {
	Opcode      uint8
	Flags       uint8
	Rsvd1       uint16
	NSID        uint32
	CDW2        uint32
	CDW3        uint32
	Metadata    uint64
	Addr        uint64
	MetadataLen uint32
	DataLen     uint32
	CDW10       uint32
	CDW11       uint32
	CDW12       uint32
	CDW13       uint32
	CDW14       uint32
	CDW15       uint32
	TimeoutMS   uint32
	Result      uint32
}

// Layout checks at compile time, on every architecture: each index is 0, and so valid,
// only when the struct matches the kernel's.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(passthruCmd{})-72]
	_ = [1]struct{}{}[unsafe.Offsetof(passthruCmd{}.Addr)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(passthruCmd{}.Result)-68]
)

// passthru submits commands with NVME_IOCTL_ADMIN_CMD on an open /dev/nvmeN.
type passthru struct {
	f  *os.File
	rc syscall.RawConn
}

func openSubmitter(path string) (submitCloser, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &passthru{f: f, rc: rc}, nil
}

// Submit issues the ioctl. RawConn.Control holds a reference on the descriptor, so a
// concurrent Close cannot let the number be reused under a running command.
func (p *passthru) Submit(_ context.Context, c *Command) (uint32, error) {
	cmd := &passthruCmd{
		Opcode: uint8(c.Opcode), NSID: c.NSID, CDW2: c.CDW2, CDW3: c.CDW3,
		CDW10: c.CDW10, CDW11: c.CDW11, CDW12: c.CDW12, CDW13: c.CDW13, CDW14: c.CDW14, CDW15: c.CDW15,
		TimeoutMS: timeoutMillis(c.Timeout),
	}
	// addr hides the buffer from the GC; pinning keeps it in place until the kernel is done.
	var pinner runtime.Pinner
	defer pinner.Unpin()
	if len(c.Data) > 0 {
		pinner.Pin(&c.Data[0])
		cmd.Addr = uint64(uintptr(unsafe.Pointer(&c.Data[0])))
		cmd.DataLen = uint32(len(c.Data))
	}
	var r1 uintptr
	var errno syscall.Errno
	err := p.rc.Control(func(fd uintptr) {
		r1, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(nvmeIoctlAdminCmd), uintptr(unsafe.Pointer(cmd)))
	})
	if err != nil {
		// Control fails only when the file has been closed.
		return 0, fmt.Errorf("ioctl NVME_IOCTL_ADMIN_CMD: %w (%v)", os.ErrClosed, err)
	}
	return ioctlResult(r1, errno, cmd.Result)
}

// ioctlResult maps the ioctl's outcome: 0 is success, a positive value the NVMe status
// field (the kernel has written result then too), -1 with errno an OS error.
func ioctlResult(r1 uintptr, errno syscall.Errno, result uint32) (uint32, error) {
	switch {
	case errno != 0:
		return 0, os.NewSyscallError("ioctl NVME_IOCTL_ADMIN_CMD", errno)
	case r1 == 0:
		return result, nil
	case r1 <= 0xffff:
		return result, nvme.Status(r1)
	}
	return 0, fmt.Errorf("ioctl NVME_IOCTL_ADMIN_CMD: unexpected return value %#x", r1)
}

func (p *passthru) Close() error { return p.f.Close() }
