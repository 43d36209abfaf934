// SPDX-License-Identifier: Apache-2.0

package admin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

func TestPassthruLayout(t *testing.T) {
	var c passthruCmd
	// struct nvme_passthru_cmd, nvme-protocol.md §2.
	for _, f := range []struct {
		name      string
		off, want uintptr
	}{
		{"opcode", unsafe.Offsetof(c.Opcode), 0},
		{"flags", unsafe.Offsetof(c.Flags), 1},
		{"rsvd1", unsafe.Offsetof(c.Rsvd1), 2},
		{"nsid", unsafe.Offsetof(c.NSID), 4},
		{"cdw2", unsafe.Offsetof(c.CDW2), 8},
		{"cdw3", unsafe.Offsetof(c.CDW3), 12},
		{"metadata", unsafe.Offsetof(c.Metadata), 16},
		{"addr", unsafe.Offsetof(c.Addr), 24},
		{"metadata_len", unsafe.Offsetof(c.MetadataLen), 32},
		{"data_len", unsafe.Offsetof(c.DataLen), 36},
		{"cdw10", unsafe.Offsetof(c.CDW10), 40},
		{"cdw11", unsafe.Offsetof(c.CDW11), 44},
		{"cdw12", unsafe.Offsetof(c.CDW12), 48},
		{"cdw13", unsafe.Offsetof(c.CDW13), 52},
		{"cdw14", unsafe.Offsetof(c.CDW14), 56},
		{"cdw15", unsafe.Offsetof(c.CDW15), 60},
		{"timeout_ms", unsafe.Offsetof(c.TimeoutMS), 64},
		{"result", unsafe.Offsetof(c.Result), 68},
	} {
		if f.off != f.want {
			t.Errorf("%s at offset %d, want %d", f.name, f.off, f.want)
		}
	}
	if s := unsafe.Sizeof(c); s != 72 {
		t.Errorf("size %d, want 72", s)
	}
}

func TestIoctlNumber(t *testing.T) {
	// _IOWR('N', 0x41, struct nvme_passthru_cmd): dir (read|write = 3) in bits 31:30,
	// size in 29:16, type in 15:8, number in 7:0.
	const iocRead, iocWrite = 2, 1
	want := uint32(iocRead|iocWrite)<<30 | uint32(unsafe.Sizeof(passthruCmd{}))<<16 | uint32('N')<<8 | 0x41
	if want != nvmeIoctlAdminCmd {
		t.Errorf("NVME_IOCTL_ADMIN_CMD = %#x, computed %#x", nvmeIoctlAdminCmd, want)
	}
	// The value of <linux/nvme_ioctl.h> (nvme-protocol.md §2).
	if want != 0xC0484E41 {
		t.Errorf("computed NVME_IOCTL_ADMIN_CMD %#x", want)
	}
}

func TestIoctlResult(t *testing.T) {
	if res, err := ioctlResult(0, 0, 7); res != 7 || err != nil {
		t.Errorf("success: %d, %v", res, err)
	}
	res, err := ioctlResult(0x4002, 0, 9)
	var st nvme.Status
	if res != 9 || !errors.As(err, &st) || st.SC() != nvme.SCInvalidField || !st.DNR() {
		t.Errorf("status: %d, %v", res, err)
	}
	if _, err := ioctlResult(^uintptr(0), syscall.EPERM, 0); !errors.Is(err, syscall.EPERM) || errors.As(err, &st) {
		t.Errorf("errno: %v", err)
	}
	if _, err := ioctlResult(0x10000, 0, 0); err == nil || errors.As(err, &st) {
		t.Errorf("out of range: %v", err)
	}
}

// TestSubmitNotNVMe drives the real ioctl path against files that are not NVMe
// controllers: the kernel answers ENOTTY, which proves the call reached it.
func TestSubmitNotNVMe(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "nvme0")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/null", regular} {
		d, err := Open(path)
		if err != nil {
			t.Fatalf("Open(%s): %v", path, err)
		}
		if d.Name() != filepath.Base(path) {
			t.Errorf("Name() = %q", d.Name())
		}
		contexts(t, func(t *testing.T, ctx context.Context) {
			_, err := d.IdentifyController(ctx)
			if !errors.Is(err, syscall.ENOTTY) {
				t.Errorf("%s: err = %v, want ENOTTY", path, err)
			}
			if _, err := d.Submit(ctx, &Command{Opcode: nvme.OpKeepAlive}); !errors.Is(err, syscall.ENOTTY) {
				t.Errorf("%s keep alive: err = %v", path, err)
			}
		})
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := d.IdentifyController(context.Background()); !errors.Is(err, os.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
		if err := d.Close(); err == nil {
			t.Error("second Close succeeded")
		}
	}
}

// TestRealController runs only as root on a machine with /dev/nvme0 (the VM end-to-end
// suite); any NVMe controller answers Identify.
func TestRealController(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/dev/nvme0"); err != nil {
		t.Skip("no /dev/nvme0")
	}
	d, err := Open("nvme0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := d.IdentifyController(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id.SerialNumber == "" || id.SubNQN == "" {
		t.Errorf("identify = %+v", id)
	}
	t.Logf("nvme0: sn %q mn %q fr %q cntrltype %s dctype %s subnqn %s", id.SerialNumber, id.ModelNumber,
		id.FirmwareRevision, id.CntrlType, id.DCType, id.SubNQN)
	if _, err := d.SupportedLogPages(ctx); err != nil {
		var st nvme.Status
		if !errors.As(err, &st) {
			t.Errorf("supported log pages: %v", err)
		}
	}
	if id.CntrlType == nvme.ControllerTypeDiscovery {
		l, err := d.DiscoveryLog(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("discovery log: genctr %d, %d entries", l.GenCtr, len(l.Entries))
	}
}
