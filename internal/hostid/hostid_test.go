// SPDX-License-Identifier: Apache-2.0

package hostid

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// Vectors from the behaviour reference §14.2 (computed with nvme-stas's algorithm).
const (
	machineIDA    = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	machineIDAApp = "3da64a01-16c5-4e10-ac46-397e2372b964"
	machineID01   = "0123456789abcdef0123456789abcdef"
	machineID01UU = "f2782346-4809-484a-9a8b-952a04b57ba4"
	dmiRaw        = "12345678-9ABC-DEF0-1234-56789ABCDEF0"
	dmiSwapped    = "78563412-BC9A-F0DE-1234-56789ABCDEF0"
	partitionUUID = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
)

// counting is a deterministic "random" stream: bytes 0, 1, 2, …
type counting struct{ next byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.next
		c.next++
	}
	return len(p), nil
}

// randomFromCounting is RandomUUID of bytes 00..0f with version 4 and the variant forced.
const randomFromCounting = "00010203-0405-4607-8809-0a0b0c0d0e0f"

func TestAppSpecificUUIDVectors(t *testing.T) {
	tests := []struct{ machineID, want string }{
		{machineIDA, machineIDAApp},
		{machineID01, machineID01UU},
		{strings.ToUpper(machineID01), machineID01UU}, // Python's uuid.UUID accepts upper case
	}
	for _, tt := range tests {
		got, err := AppSpecificUUID(tt.machineID, AppID)
		if err != nil || got != tt.want {
			t.Errorf("AppSpecificUUID(%q) = %q, %v; want %q", tt.machineID, got, err, tt.want)
		}
		again, _ := AppSpecificUUID(tt.machineID, AppID)
		if again != got {
			t.Errorf("AppSpecificUUID(%q) is not deterministic: %q then %q", tt.machineID, got, again)
		}
	}
	other, err := AppSpecificUUID(machineIDA, "$some.other.app$")
	if err != nil || other == machineIDAApp {
		t.Errorf("a different app id gave %q, %v; want a different UUID", other, err)
	}
}

func TestAppSpecificUUIDRejects(t *testing.T) {
	for _, in := range []string{
		"",
		machineIDA[:31],
		machineIDA + "a",
		"uninitialized\nuninitialized\nxxx",
		"0123456789abcdef0123456789abcdeg",
		strings.Repeat("0", 32),
	} {
		if got, err := AppSpecificUUID(in, AppID); !errors.Is(err, ErrInvalidUUID) {
			t.Errorf("AppSpecificUUID(%q) = %q, %v; want ErrInvalidUUID", in, got, err)
		}
	}
}

func TestSwapDMIUUID(t *testing.T) {
	got, err := SwapDMIUUID(dmiRaw)
	if err != nil || got != dmiSwapped {
		t.Errorf("SwapDMIUUID(%q) = %q, %v; want %q", dmiRaw, got, err, dmiSwapped)
	}
	lower, err := SwapDMIUUID(strings.ToLower(dmiRaw))
	if err != nil || lower != strings.ToLower(dmiSwapped) {
		t.Errorf("SwapDMIUUID(lower case) = %q, %v; want %q (case kept)", lower, err, strings.ToLower(dmiSwapped))
	}
	for _, in := range []string{
		"",
		dmiRaw[:35],
		dmiRaw + "0",
		"12345678-9ABC-DEF0-1234+56789ABCDEF0",
		"12345678_9ABC-DEF0-1234-56789ABCDEF0",
		"1234567G-9ABC-DEF0-1234-56789ABCDEF0",
		"00000000-0000-0000-0000-000000000000",
		"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
	} {
		if got, err := SwapDMIUUID(in); !errors.Is(err, ErrInvalidUUID) {
			t.Errorf("SwapDMIUUID(%q) = %q, %v; want ErrInvalidUUID", in, got, err)
		}
	}
}

func TestRandomUUID(t *testing.T) {
	got, err := RandomUUID(&counting{})
	if err != nil || got != randomFromCounting {
		t.Fatalf("RandomUUID(0..15) = %q, %v; want %q", got, err, randomFromCounting)
	}
	all := bytes.Repeat([]byte{0xff}, 16)
	got, err = RandomUUID(bytes.NewReader(all))
	if err != nil || got != "ffffffff-ffff-4fff-bfff-ffffffffffff" {
		t.Errorf("RandomUUID(ff…) = %q, %v; want version 4 and variant 10 forced", got, err)
	}
	if _, err := RandomUUID(bytes.NewReader(make([]byte, 15))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("RandomUUID(15 bytes) error = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestSourceString(t *testing.T) {
	tests := map[Source]string{
		SourceMachineID:  "/etc/machine-id",
		SourceDMI:        "/sys/class/dmi/id/product_uuid",
		SourceDeviceTree: "/proc/device-tree/ibm,partition-uuid",
		SourceRandom:     "random",
		Source(0):        "Source(0)",
	}
	for s, want := range tests {
		if got := s.String(); got != want {
			t.Errorf("Source(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o444} }

func TestHostUUIDOrder(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		root    bool
		want    string
		source  Source
		wantErr error
	}{
		{
			name:   "machine-id wins over everything, root or not",
			files:  fstest.MapFS{machineIDPath: file(machineIDA + "\n"), productUUIDPath: file(dmiRaw + "\n")},
			want:   machineIDAApp,
			source: SourceMachineID,
		},
		{
			name:   "machine-id second vector",
			files:  fstest.MapFS{machineIDPath: file(machineID01 + "\n")},
			root:   true,
			want:   machineID01UU,
			source: SourceMachineID,
		},
		{
			name:   "machine-id of exactly 32 bytes counts",
			files:  fstest.MapFS{machineIDPath: file(machineIDA)},
			want:   machineIDAApp,
			source: SourceMachineID,
		},
		{
			name:    "no machine-id and not root",
			files:   fstest.MapFS{productUUIDPath: file(dmiRaw + "\n")},
			wantErr: ErrNotRoot,
		},
		{
			name:    "short machine-id and not root",
			files:   fstest.MapFS{machineIDPath: file(machineIDA[:31])},
			wantErr: ErrNotRoot,
		},
		{
			name:    "uninitialized machine-id and not root",
			files:   fstest.MapFS{machineIDPath: file("uninitialized\n" + strings.Repeat(" ", 20))},
			wantErr: ErrNotRoot,
		},
		{
			name:   "short machine-id, root: DMI byte-swapped",
			files:  fstest.MapFS{machineIDPath: file(machineIDA[:31]), productUUIDPath: file(dmiRaw + "\n")},
			root:   true,
			want:   dmiSwapped,
			source: SourceDMI,
		},
		{
			name:   "no machine-id, root: DMI of exactly 36 bytes",
			files:  fstest.MapFS{productUUIDPath: file(dmiRaw), partitionUUIDPath: file(partitionUUID + "\x00")},
			root:   true,
			want:   dmiSwapped,
			source: SourceDMI,
		},
		{
			name:   "short DMI: device tree",
			files:  fstest.MapFS{productUUIDPath: file(dmiRaw[:35]), partitionUUIDPath: file(partitionUUID + "\x00")},
			root:   true,
			want:   partitionUUID,
			source: SourceDeviceTree,
		},
		{
			name:   "placeholder DMI: device tree",
			files:  fstest.MapFS{productUUIDPath: file("00000000-0000-0000-0000-000000000000\n"), partitionUUIDPath: file(partitionUUID)},
			root:   true,
			want:   partitionUUID,
			source: SourceDeviceTree,
		},
		{
			name:   "garbage DMI: device tree",
			files:  fstest.MapFS{productUUIDPath: file("Not Settable Not Settable Not Settable\n"), partitionUUIDPath: file(partitionUUID)},
			root:   true,
			want:   partitionUUID,
			source: SourceDeviceTree,
		},
		{
			name:   "short device tree: random",
			files:  fstest.MapFS{partitionUUIDPath: file(partitionUUID[:35])},
			root:   true,
			want:   randomFromCounting,
			source: SourceRandom,
		},
		{
			name:   "garbage device tree: random",
			files:  fstest.MapFS{partitionUUIDPath: file(strings.Repeat("x", 36))},
			root:   true,
			want:   randomFromCounting,
			source: SourceRandom,
		},
		{
			name:   "nothing at all: random",
			files:  fstest.MapFS{},
			root:   true,
			want:   randomFromCounting,
			source: SourceRandom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := &System{FS: tt.files, IsRoot: func() bool { return tt.root }, Random: &counting{}}
			got, source, err := sys.HostUUID()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("HostUUID() = %q, %v, %v; want error %v", got, source, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || source != tt.source {
				t.Fatalf("HostUUID() = %q, %v, %v; want %q from %v", got, source, err, tt.want, tt.source)
			}
		})
	}
}

// failingFS fails every Open of one name with err and serves the rest from files.
type failingFS struct {
	files fstest.MapFS
	name  string
	err   error
}

func (f failingFS) Open(name string) (fs.File, error) {
	if name == f.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: f.err}
	}
	return f.files.Open(name)
}

func TestHostUUIDReadErrors(t *testing.T) {
	for _, name := range []string{machineIDPath, productUUIDPath, partitionUUIDPath} {
		t.Run("open "+name, func(t *testing.T) {
			sys := &System{FS: failingFS{files: fstest.MapFS{}, name: name, err: fs.ErrPermission},
				IsRoot: func() bool { return true }, Random: &counting{}}
			_, _, err := sys.HostUUID()
			if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "/"+name) {
				t.Errorf("HostUUID() error = %v, want a permission error naming /%s", err, name)
			}
		})
		t.Run("read "+name, func(t *testing.T) {
			// A directory opens but does not read: an I/O error, not an absent source.
			files := fstest.MapFS{name + "/x": file("x")}
			sys := &System{FS: files, IsRoot: func() bool { return true }, Random: &counting{}}
			_, _, err := sys.HostUUID()
			if err == nil || !strings.Contains(err.Error(), "read /"+name) {
				t.Errorf("HostUUID() error = %v, want a read error naming /%s", err, name)
			}
		})
	}
	sys := &System{FS: fstest.MapFS{}, IsRoot: func() bool { return true }, Random: bytes.NewReader(nil)}
	if _, _, err := sys.HostUUID(); !errors.Is(err, io.EOF) {
		t.Errorf("HostUUID() with no random bytes: error = %v, want io.EOF", err)
	}
}

func TestHostNQN(t *testing.T) {
	sys := &System{FS: fstest.MapFS{machineIDPath: file(machineIDA + "\n")}, IsRoot: func() bool { return false }, Random: &counting{}}
	got, err := sys.HostNQN()
	want := "nqn.2014-08.org.nvmexpress:uuid:" + machineIDAApp
	if err != nil || got != want {
		t.Fatalf("HostNQN() = %q, %v; want %q", got, err, want)
	}
	if err := nqn.ValidateHost(got); err != nil {
		t.Errorf("HostNQN() result does not validate: %v", err)
	}

	sys = &System{FS: fstest.MapFS{productUUIDPath: file(dmiRaw)}, IsRoot: func() bool { return true }, Random: &counting{}}
	if got, err := sys.HostNQN(); err != nil || got != NQNPrefix+dmiSwapped {
		t.Errorf("HostNQN() from DMI = %q, %v; want %q", got, err, NQNPrefix+dmiSwapped)
	}

	sys = &System{FS: fstest.MapFS{}, IsRoot: func() bool { return false }, Random: &counting{}}
	if got, err := sys.HostNQN(); !errors.Is(err, ErrNotRoot) {
		t.Errorf("HostNQN() without machine-id, not root = %q, %v; want ErrNotRoot", got, err)
	}
}

func TestHostID(t *testing.T) {
	// The host ID is random even when a machine-id exists (as nvme-stas's stasadm hostid).
	sys := &System{FS: fstest.MapFS{machineIDPath: file(machineIDA)}, IsRoot: func() bool { return true }, Random: &counting{}}
	got, err := sys.HostID()
	if err != nil || got != randomFromCounting {
		t.Fatalf("HostID() = %q, %v; want %q", got, err, randomFromCounting)
	}
	second, _ := sys.HostID()
	if second == got {
		t.Errorf("two HostID() calls both gave %q", got)
	}
}

func TestNewSystem(t *testing.T) {
	sys := NewSystem()
	if sys.FS == nil || sys.IsRoot == nil || sys.Random == nil {
		t.Fatalf("NewSystem() left a seam nil: %+v", sys)
	}
	a, err := sys.HostID()
	if err != nil || checkUUID(a) != nil {
		t.Errorf("NewSystem().HostID() = %q, %v; want a UUID", a, err)
	}
	if b, _ := sys.HostID(); a == b {
		t.Errorf("two random host IDs are equal: %q", a)
	}
	got, err := sys.HostNQN()
	switch {
	case errors.Is(err, ErrNotRoot):
		t.Logf("this machine gives no UUID without root: %v", err)
	case err != nil:
		t.Errorf("NewSystem().HostNQN() error = %v", err)
	default:
		if err := nqn.ValidateHost(got); err != nil || !strings.HasPrefix(got, NQNPrefix) {
			t.Errorf("NewSystem().HostNQN() = %q (%v), want a UUID host NQN", got, err)
		}
	}
}
