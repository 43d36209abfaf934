// SPDX-License-Identifier: Apache-2.0

// Package daemon owns what stafd and stacd share as processes: the start-up checks, the
// logger (stdout, or the journal under systemd), systemd notifications (readiness, reload,
// stopping, watchdog), the runtime directory, and atomic writes of the last-known
// configuration.
package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultFabricsDevice is the kernel's NVMe-oF control device.
const DefaultFabricsDevice = "/dev/nvme-fabrics"

// CheckRoot returns nvme-stas's message when the process is not root: both daemons create
// and delete kernel controllers and own system-bus names.
func CheckRoot(prog string, euid int) error {
	if euid != 0 {
		//lint:ignore ST1005 nvme-stas's exact text, which scripts may look for
		return fmt.Errorf("Permission denied. You need root privileges to run %s.", prog)
	}
	return nil
}

// CheckFabrics returns an error naming the missing module when the fabrics device is
// absent.
func CheckFabrics(device string) error {
	if _, err := os.Stat(device); err != nil {
		//lint:ignore ST1005 nvme-stas's text, kept for scripts
		return fmt.Errorf("Fatal error: missing nvme-tcp kernel module (%s: %w)", device, err)
	}
	return nil
}

// RuntimeDir returns the directory for the daemon's run-time state: systemd's
// $RUNTIME_DIRECTORY (its first entry) when set, else /run/<prog>.
func RuntimeDir(prog string) string {
	if dirs := os.Getenv("RUNTIME_DIRECTORY"); dirs != "" {
		first, _, _ := strings.Cut(dirs, ":")
		return first
	}
	return filepath.Join("/run", prog)
}

// WriteJSON writes v as JSON to path atomically: a reader (or the next start after a
// crash) sees the old file or the new one, never a torn one. The directory is created if
// missing; the file is readable by root only, since it may describe the host's storage.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadJSON decodes the JSON file at path into v. A missing file is reported with an
// error wrapping fs.ErrNotExist, which callers treat as "nothing remembered".
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, errors.Join(ErrCorrupt, err))
	}
	return nil
}

// ErrCorrupt is wrapped by ReadJSON when the file exists but is not valid JSON of the
// expected shape.
var ErrCorrupt = errors.New("state file is corrupt")
