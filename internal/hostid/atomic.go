// SPDX-License-Identifier: Apache-2.0

package hostid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteFile replaces the file at path with data atomically: readers see the old content or
// the new, never a part, even if the machine stops half way. The parent directory is
// created (0755) when missing. An existing file keeps its mode and owner; a new one gets
// perm. If path is a symbolic link, the file it finally points to is replaced and the link
// is kept, as nvme-stas's open(path, 'w') wrote through it; a dangling link, or one to
// something other than a regular file, is refused rather than guessed at. The replacement
// is a new inode, so other hard links to the old file keep the old content.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), dirPerm); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	info, err := os.Stat(target)
	switch {
	case err == nil:
		perm = info.Mode().Perm()
	case errors.Is(err, fs.ErrNotExist):
		info = nil
	default:
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if err := writeAtomic(target, data, perm, info); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// resolveTarget returns the regular file that writing path should replace: path itself, or
// the final target when path is a symbolic link. Anything else is refused.
func resolveTarget(path string) (string, error) {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path, nil
	case err != nil:
		return "", fmt.Errorf("check %s: %w", path, err)
	case info.Mode().IsRegular():
		return path, nil
	case info.Mode()&fs.ModeSymlink == 0:
		return "", fmt.Errorf("check %s: not a regular file (%s)", path, info.Mode().Type())
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("follow symbolic link %s: %w", path, err)
	}
	info, err = os.Stat(target)
	if err != nil {
		return "", fmt.Errorf("follow symbolic link %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("follow symbolic link %s: %s is not a regular file", path, target)
	}
	return target, nil
}

// writeAtomic writes data to a temporary file beside target, gives it perm (and old's
// owner, when old is the file being replaced), flushes it to disk and renames it over
// target, then flushes the directory so the rename itself survives a crash.
func writeAtomic(target string, data []byte, perm fs.FileMode, old fs.FileInfo) (err error) {
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write temporary file %s: %w", tmp.Name(), err)
	}
	if err := keepOwner(tmp, old); err != nil {
		return err
	}
	// Set the mode explicitly: CreateTemp makes 0600 files, and the umask must not narrow
	// the mode of a file being kept.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("set mode of temporary file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("flush temporary file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("replace file: %w", err)
	}
	return syncDir(dir)
}

// keepOwner gives tmp the owner and group of the file it replaces, when they differ.
func keepOwner(tmp *os.File, old fs.FileInfo) error {
	if old == nil {
		return nil
	}
	want, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	info, err := tmp.Stat()
	if err != nil {
		return fmt.Errorf("stat temporary file %s: %w", tmp.Name(), err)
	}
	have, ok := info.Sys().(*syscall.Stat_t)
	if !ok || (have.Uid == want.Uid && have.Gid == want.Gid) {
		return nil
	}
	if err := tmp.Chown(int(want.Uid), int(want.Gid)); err != nil {
		return fmt.Errorf("keep owner %d:%d on temporary file %s: %w", want.Uid, want.Gid, tmp.Name(), err)
	}
	return nil
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to flush it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flush directory %s: %w", dir, err)
	}
	return nil
}

// lockDir takes an exclusive flock on dir and returns the function that releases it. The
// directory is locked, not the file, because the file is replaced by rename (a lock on the
// old inode would not exclude a writer that opened the new one), and a lock file would
// leave debris in /etc/stas.
func lockDir(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", dir, err)
	}
	for {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("flock directory %s: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing the last descriptor releases the lock
}
