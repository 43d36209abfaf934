// SPDX-License-Identifier: Apache-2.0

//go:build linux

package fabrics

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A regular file stands in for /dev/nvme-fabrics: a fresh fd reads its content, as a
// kernel 5.17+ read returns the supported-option line.
func TestKernelFileSupportedOptions(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "nvme-fabrics")
	if err := os.WriteFile(dev, []byte(kernel61Line), 0o600); err != nil {
		t.Fatal(err)
	}
	k := &Kernel{FabricsDevice: dev}
	s, err := k.SupportedOptions()
	if err != nil || !s.Has(OptDiscovery) || !s.Has(OptDHCHAPCtrlSecret) || s.Has(OptTLS) {
		t.Errorf("SupportedOptions = %v, %v", s, err)
	}
	k = &Kernel{FabricsDevice: filepath.Join(t.TempDir(), "missing")}
	if _, err := k.SupportedOptions(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SupportedOptions without the device = %v", err)
	}
}

// The write/read protocol against a regular file: the file already holds the option
// string followed by a reply, so one write of the exact string leaves it unchanged and
// the read on the same fd returns the reply. A second write or a different string would
// show in the file.
func TestKernelFileConnect(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "nvme-fabrics")
	const reply = "instance=3,cntlid=1\n"
	if err := os.WriteFile(dev, []byte(stafdDCString+reply), 0o600); err != nil {
		t.Fatal(err)
	}
	k := &Kernel{FabricsDevice: dev}
	k.readSupported = func(string) ([]byte, error) { return []byte(kernel61Line), nil }
	r, omitted, err := k.Connect(context.Background(), stafdDC())
	if err != nil || r != (Reply{Instance: 3, CntlID: 1}) || len(omitted) != 0 {
		t.Fatalf("Connect = %+v, %v, %v", r, omitted, err)
	}
	if b, _ := os.ReadFile(dev); string(b) != stafdDCString+reply {
		t.Errorf("device content after the connect = %q", b)
	}
}

func TestCreateControllerErrors(t *testing.T) {
	// ENOSPC from /dev/full: a real errno of a refused write, explained by WriteErrno.
	_, err := createController("/dev/full", stafdDCString)
	var we *WriteError
	if !errors.As(err, &we) || we.Errno != syscall.ENOSPC || !errors.Is(err, ErrWriteFailed) {
		t.Errorf("write to /dev/full = %v, want a *WriteError with ENOSPC", err)
	}
	// /dev/null takes the write and reads back nothing: no reply.
	if _, err := createController("/dev/null", stafdDCString); !errors.Is(err, ErrMalformed) {
		t.Errorf("connect through /dev/null = %v, want ErrMalformed (empty reply)", err)
	}
	if _, err := createController(filepath.Join(t.TempDir(), "missing"), "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("connect without the device = %v", err)
	}
	// A directory opens for reading only.
	if _, err := createController(t.TempDir(), "x"); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("connect through a directory = %v", err)
	}
}

func TestKernelFileDisconnect(t *testing.T) {
	class := t.TempDir()
	attr := filepath.Join(class, "nvme3", "delete_controller")
	if err := os.MkdirAll(filepath.Dir(attr), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(attr, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k := &Kernel{ClassNVMe: class}
	if err := k.Disconnect(context.Background(), "nvme3"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if b, _ := os.ReadFile(attr); string(b) != "1" {
		t.Errorf("delete_controller got %q, want \"1\"", b)
	}
	if err := k.Disconnect(context.Background(), "nvme4"); !errors.Is(err, ErrNoController) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Disconnect of a missing controller = %v, want ErrNoController", err)
	}
	if err := deleteControllerFile("/dev/full"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("delete through /dev/full = %v", err)
	}
}
