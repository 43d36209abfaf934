// SPDX-License-Identifier: Apache-2.0

// Package hostid owns the host's NVMe identity as stasadm produces it: generating the host
// NQN (from the machine, in nvme-stas's order of sources) and the host ID, and writing them
// safely to their files and to the [Host] section of /etc/stas/sys.conf. Reading sys.conf
// for the daemons belongs to the config package, not here.
package hostid

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// AppID is the application key nvme-stas hashes /etc/machine-id with, so that the host NQN
// is stable for the machine without disclosing the machine ID (see machine-id(5)).
const AppID = "$nvmexpress.org$"

// NQNPrefix is the UUID-based host NQN form of the NVMe specification (and nvme gen-hostnqn).
const NQNPrefix = "nqn.2014-08.org.nvmexpress:uuid:"

// Paths of the machine's UUID sources, relative to the root of System.FS.
const (
	machineIDPath     = "etc/machine-id"
	productUUIDPath   = "sys/class/dmi/id/product_uuid"
	partitionUUIDPath = "proc/device-tree/ibm,partition-uuid"
)

// ErrNotRoot is returned when the machine ID gives no UUID and the firmware sources, which
// only root may read, cannot be tried. nvme-stas exits with
// "Permission denied. Root privileges required." in that case.
var ErrNotRoot = errors.New("permission denied: root privileges required to read the firmware UUID")

// ErrInvalidUUID is wrapped when text is not a UUID this package can use.
var ErrInvalidUUID = errors.New("invalid UUID")

// Source says where a host UUID came from.
type Source int

// The UUID sources, in the order HostUUID tries them.
const (
	SourceMachineID  Source = iota + 1 // HMAC of /etc/machine-id
	SourceDMI                          // /sys/class/dmi/id/product_uuid, byte-swapped
	SourceDeviceTree                   // /proc/device-tree/ibm,partition-uuid
	SourceRandom                       // a random version 4 UUID
)

// String names the source as an operator would look for it.
func (s Source) String() string {
	switch s {
	case SourceMachineID:
		return "/etc/machine-id"
	case SourceDMI:
		return "/sys/class/dmi/id/product_uuid"
	case SourceDeviceTree:
		return "/proc/device-tree/ibm,partition-uuid"
	case SourceRandom:
		return "random"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// System is the machine a host identity is derived from. Its fields are seams: production
// uses NewSystem; tests give an fstest.MapFS, a fixed root answer and a fixed random stream.
type System struct {
	// FS is the root file system; names are given without the leading "/".
	FS fs.FS
	// IsRoot reports whether the process may read root-only firmware files.
	IsRoot func() bool
	// Random supplies the bytes of random UUIDs.
	Random io.Reader
}

// NewSystem returns the running machine: the file system at "/", the effective UID and
// crypto/rand.
func NewSystem() *System {
	return &System{
		FS:     os.DirFS("/"),
		IsRoot: func() bool { return os.Geteuid() == 0 },
		Random: rand.Reader,
	}
}

// HostUUID returns the UUID the host NQN is built from and where it came from, trying the
// sources in nvme-stas's order (not libnvme's): the machine-id HMAC, then (root only) the
// DMI product UUID and the device-tree partition UUID, then a random UUID. A source that is
// missing, too short or holds no usable UUID is skipped; any other read error is returned.
func (s *System) HostUUID() (string, Source, error) {
	text, ok, err := readExact(s.FS, machineIDPath, 32)
	if err != nil {
		return "", 0, err
	}
	if ok {
		if id, err := AppSpecificUUID(text, AppID); err == nil {
			return id, SourceMachineID, nil
		}
		// An unusable machine-id (systemd's "uninitialized", all zeros) is skipped like a
		// missing one; nvme-stas crashed on it.
	}

	if !s.IsRoot() {
		return "", 0, ErrNotRoot
	}

	text, ok, err = readExact(s.FS, productUUIDPath, 36)
	if err != nil {
		return "", 0, err
	}
	if ok {
		if id, err := SwapDMIUUID(text); err == nil {
			return id, SourceDMI, nil
		}
	}

	text, ok, err = readExact(s.FS, partitionUUIDPath, 36)
	if err != nil {
		return "", 0, err
	}
	if ok && checkUUID(text) == nil {
		return text, SourceDeviceTree, nil
	}

	id, err := RandomUUID(s.Random)
	if err != nil {
		return "", 0, err
	}
	return id, SourceRandom, nil
}

// HostNQN returns the host NQN for this machine, NQNPrefix followed by HostUUID's UUID,
// checked with nqn.ValidateHost.
func (s *System) HostNQN() (string, error) {
	id, _, err := s.HostUUID()
	if err != nil {
		return "", err
	}
	hostNQN := NQNPrefix + id
	if err := nqn.ValidateHost(hostNQN); err != nil {
		return "", fmt.Errorf("generate host NQN: %w", err)
	}
	return hostNQN, nil
}

// HostID returns a new random host ID. Like nvme-stas it is not derived from the machine.
func (s *System) HostID() (string, error) {
	return RandomUUID(s.Random)
}

// AppSpecificUUID derives a UUID from a machine ID (32 hex digits, as in /etc/machine-id) the
// way systemd's sd_id128_get_machine_app_specific does and nvme-stas copies: the first 16
// bytes of HMAC-SHA256(key = appID, message = the 16 machine-ID bytes), made a version 4,
// RFC 4122 variant UUID, in lower case.
func AppSpecificUUID(machineID, appID string) (string, error) {
	if len(machineID) != 32 {
		return "", fmt.Errorf("%w: machine ID %q is not 32 hex digits", ErrInvalidUUID, machineID)
	}
	raw, err := hex.DecodeString(machineID)
	if err != nil {
		return "", fmt.Errorf("%w: machine ID %q is not 32 hex digits", ErrInvalidUUID, machineID)
	}
	if isConstant(raw, 0) {
		return "", fmt.Errorf("%w: machine ID is all zeros", ErrInvalidUUID)
	}
	mac := hmac.New(sha256.New, []byte(appID))
	mac.Write(raw)
	return formatV4(mac.Sum(nil)[:16]), nil
}

// SwapDMIUUID converts the DMI product UUID text to network byte order: SMBIOS stores the
// first three fields little-endian (DMTF SMBIOS 3.0 §7.2.1). nvme-stas swaps the text, so
// letter case is kept. All-zero and all-FF UUIDs, which SMBIOS uses for "not set", are
// refused because many machines would share them.
func SwapDMIUUID(s string) (string, error) {
	if err := checkUUID(s); err != nil {
		return "", err
	}
	order := [...]int{6, 7, 4, 5, 2, 3, 0, 1, 8, 11, 12, 9, 10, 13, 16, 17, 14, 15}
	out := make([]byte, 0, len(s))
	for _, i := range order {
		out = append(out, s[i])
	}
	return string(out) + s[18:], nil
}

// RandomUUID returns a random version 4, RFC 4122 variant UUID read from r.
func RandomUUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random bytes for UUID: %w", err)
	}
	return formatV4(b[:]), nil
}

// formatV4 forces version 4 and the RFC 4122 variant onto 16 bytes and formats them.
func formatV4(b []byte) string {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// checkUUID accepts the 36-character 8-4-4-4-12 hex form (either case) of a UUID that is
// neither all zeros nor all FF.
func checkUUID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("%w: %q is not 36 characters", ErrInvalidUUID, s)
	}
	raw := make([]byte, 0, 16)
	for i := 0; i < 36; {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return fmt.Errorf("%w: %q has no '-' at offset %d", ErrInvalidUUID, s, i)
			}
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: %q has a non-hex digit at offset %d", ErrInvalidUUID, s, i)
		}
		raw = append(raw, hi<<4|lo)
		i += 2
	}
	if isConstant(raw, 0) || isConstant(raw, 0xff) {
		return fmt.Errorf("%w: %q is a placeholder, not an identity", ErrInvalidUUID, s)
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isConstant(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}

// readExact reads the first n bytes of name. ok is false when the file is missing or
// shorter than n bytes: nvme-stas counts such a source as absent.
func readExact(fsys fs.FS, name string, n int) (text string, ok bool, err error) {
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("open /%s: %w", name, err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read /%s: %w", name, err)
	}
	return string(buf), true, nil
}
