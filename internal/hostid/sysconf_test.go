// SPDX-License-Identifier: Apache-2.0

package hostid

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// userConf is a sys.conf an administrator wrote by hand: comments, blank lines, another
// section, keys in mixed case.
const userConf = `# Host identity for nvme-stas.
; managed by hand

[Host]
# the NQN comes from a file
NQN = file:///etc/nvme/hostnqn
id = file:///etc/nvme/hostid   
;symname = old

[Extra]
nqn = not-the-host-one
`

func TestSetOption(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{
			name: "empty file", in: "", key: "nqn", value: "v",
			want: "[Host]\nnqn = v\n",
		},
		{
			name: "replace in place, case-insensitive name, comments kept",
			in:   userConf, key: "nqn", value: "nqn.new",
			want: strings.Replace(userConf, "NQN = file:///etc/nvme/hostnqn", "nqn = nqn.new", 1),
		},
		{
			name: "add after the last option of [Host], before its trailing comment",
			in:   userConf, key: "symname", value: "bart",
			want: strings.Replace(userConf, "id = file:///etc/nvme/hostid   \n", "id = file:///etc/nvme/hostid   \nsymname = bart\n", 1),
		},
		{
			name: "no [Host]: appended after a blank line",
			in:   "# just a comment\n[Other]\na = b\n", key: "id", value: "x",
			want: "# just a comment\n[Other]\na = b\n\n[Host]\nid = x\n",
		},
		{
			name: "no [Host], file ends in a blank line",
			in:   "[Other]\na = b\n\n", key: "id", value: "x",
			want: "[Other]\na = b\n\n[Host]\nid = x\n",
		},
		{
			name: "no [Host], no final newline",
			in:   "[Other]\na = b", key: "id", value: "x",
			want: "[Other]\na = b\n\n[Host]\nid = x\n",
		},
		{
			name: "[Host] is the last line without newline",
			in:   "[Host]", key: "id", value: "x",
			want: "[Host]\nid = x\n",
		},
		{
			name: "empty [Host] followed by another section",
			in:   "[Host]\n\n[Other]\nid = o\n", key: "id", value: "x",
			want: "[Host]\nid = x\n\n[Other]\nid = o\n",
		},
		{
			name: "repeated key: the last is replaced, earlier ones dropped",
			in:   "[Host]\nnqn = a\n# keep me\nnqn = b\nid = i\nNqn=c\n", key: "nqn", value: "z",
			want: "[Host]\n# keep me\nid = i\nnqn = z\n",
		},
		{
			name: "repeated [Host] sections count as one; new key goes to the first",
			in:   "[Host]\nid = i\n[Other]\nx = y\n[Host]\nkey = k\n", key: "symname", value: "s",
			want: "[Host]\nid = i\nsymname = s\n[Other]\nx = y\n[Host]\nkey = k\n",
		},
		{
			name: "key in a repeated [Host] section is replaced there",
			in:   "[Host]\nnqn = a\n[Other]\n[Host]\nnqn = b\n", key: "nqn", value: "z",
			want: "[Host]\n[Other]\n[Host]\nnqn = z\n",
		},
		{
			name: "back to back [Host] headers",
			in:   "[Host]\n[Host]\nid = i\n", key: "nqn", value: "z",
			want: "[Host]\nnqn = z\n[Host]\nid = i\n",
		},
		{
			name: "bare key line counts as the option",
			in:   "[Host]\nsymname\nid = i\n", key: "symname", value: "s",
			want: "[Host]\nsymname = s\nid = i\n",
		},
		{
			name: "CRLF line endings are kept",
			in:   "[Host]\r\nnqn = a\r\nid = i\r\n", key: "nqn", value: "z",
			want: "[Host]\r\nnqn = z\r\nid = i\r\n",
		},
		{
			name: "CRLF anchor for a new key",
			in:   "[Host]\r\nid = i\r\n", key: "nqn", value: "z",
			want: "[Host]\r\nid = i\r\nnqn = z\r\n",
		},
		{
			name: "last line without newline is replaced without one",
			in:   "[Host]\nnqn = a", key: "nqn", value: "z",
			want: "[Host]\nnqn = z",
		},
		{
			name: "lines before any section and other sections untouched",
			in:   "nqn = stray\n[host]\nnqn = lower-case section\n", key: "nqn", value: "z",
			want: "nqn = stray\n[host]\nnqn = lower-case section\n\n[Host]\nnqn = z\n",
		},
		{
			name: "indented line is an option line like any other",
			in:   "[Host]\n  nqn = a\n", key: "nqn", value: "z",
			want: "[Host]\nnqn = z\n",
		},
		{
			name: "header with trailing text",
			in:   "[Host] # identity\nid = i\n", key: "nqn", value: "z",
			want: "[Host] # identity\nid = i\nnqn = z\n",
		},
		{
			name: "unclosed header is not a section",
			in:   "[Host\nnqn = a\n", key: "nqn", value: "z",
			want: "[Host\nnqn = a\n\n[Host]\nnqn = z\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(setOption([]byte(tt.in), HostSection, tt.key, tt.value))
			if got != tt.want {
				t.Errorf("setOption(%q, %s=%s) =\n%q\nwant\n%q", tt.in, tt.key, tt.value, got, tt.want)
			}
		})
	}
}

func TestRemoveOption(t *testing.T) {
	tests := []struct {
		name, in, key, want string
		changed             bool
	}{
		{"absent key", userConf, "symname", userConf, false},
		{"absent section", "[Other]\nsymname = s\n", "symname", "[Other]\nsymname = s\n", false},
		{"empty file", "", "symname", "", false},
		{"present, case-insensitive", userConf, "nqn",
			strings.Replace(userConf, "NQN = file:///etc/nvme/hostnqn\n", "", 1), true},
		{"repeated, across repeated sections", "[Host]\nsymname = a\n[X]\nsymname = x\n[Host]\nSymName=b\n# c\n",
			"symname", "[Host]\n[X]\nsymname = x\n[Host]\n# c\n", true},
		{"last line without newline", "[Host]\nid = i\nsymname = s", "symname", "[Host]\nid = i\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := removeOption([]byte(tt.in), HostSection, tt.key)
			if string(got) != tt.want || changed != tt.changed {
				t.Errorf("removeOption(%q, %s) = %q, %v; want %q, %v", tt.in, tt.key, got, changed, tt.want, tt.changed)
			}
		})
	}
}

func TestHoldsSecret(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"[Host]\nkey = DHHC-1:00:abc:\n", true},
		{"[Host]\nKEY=DHHC-1:00:abc:\n", true},
		{"[Host]\nkey = file:///etc/nvme/hostkey\n", false},
		{"[Host]\nkey =\n", false},
		{"[Host]\nkey\n", false},
		{"[Other]\nkey = DHHC-1:00:abc:\n", false},
		{"key = DHHC-1:00:abc:\n", false},
		{"[Host]\n# key = DHHC-1:00:abc:\n", false},
	}
	for _, tt := range tests {
		if got := holdsSecret([]byte(tt.in)); got != tt.want {
			t.Errorf("holdsSecret(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheckValueAndKey(t *testing.T) {
	for _, v := range []string{"nqn.2014-08.org.nvmexpress:uuid:x", "my host", "file:///etc/nvme/hostnqn", "a#b", "DHHC-1:00:x=:"} {
		if err := CheckValue(v); err != nil {
			t.Errorf("CheckValue(%q) = %v, want nil", v, err)
		}
	}
	for _, v := range []string{"", "a\nb", "a\rb", "tab\tbed", "del\x7f", " lead", "trail ", "name #comment"} {
		if err := CheckValue(v); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("CheckValue(%q) = %v, want ErrInvalidValue", v, err)
		}
	}
	for _, k := range []string{"", "NQN", "a b", "a=b", "[x]", "#"} {
		if err := checkKey(k); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("checkKey(%q) = %v, want ErrInvalidValue", k, err)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sys.conf")
	if err := SetHostOption(conf, "nqn", "a\n[Evil]"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("SetHostOption with a newline = %v, want ErrInvalidValue", err)
	}
	if err := SetHostOption(conf, "Bad Key", "v"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("SetHostOption with a bad key = %v, want ErrInvalidValue", err)
	}
	if err := ClearHostOption(conf, ""); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("ClearHostOption with an empty key = %v, want ErrInvalidValue", err)
	}
	if _, err := os.Lstat(conf); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused edit created %s (%v)", conf, err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask-proof
		t.Fatal(err)
	}
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestSetHostOptionCreates(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "etc", "stas", "sys.conf")
	if err := SetHostOption(conf, OptionNQN, "file:///etc/nvme/hostnqn"); err != nil {
		t.Fatal(err)
	}
	if got, want := mustRead(t, conf), "[Host]\nnqn = file:///etc/nvme/hostnqn\n"; got != want {
		t.Errorf("new sys.conf = %q, want %q", got, want)
	}
	if got := modeOf(t, conf); got != 0o644 {
		t.Errorf("new sys.conf mode = %o, want 644", got)
	}
	if err := SetHostOption(conf, OptionID, "file:///etc/nvme/hostid"); err != nil {
		t.Fatal(err)
	}
	if got, want := mustRead(t, conf), "[Host]\nnqn = file:///etc/nvme/hostnqn\nid = file:///etc/nvme/hostid\n"; got != want {
		t.Errorf("sys.conf after id = %q, want %q", got, want)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(conf), ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestSetHostOptionKeepsUserLines(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "sys.conf")
	mustWrite(t, conf, userConf, 0o640)
	if err := SetHostOption(conf, OptionNQN, "nqn.2014-08.org.nvmexpress:uuid:x"); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(userConf, "NQN = file:///etc/nvme/hostnqn", "nqn = nqn.2014-08.org.nvmexpress:uuid:x", 1)
	if got := mustRead(t, conf); got != want {
		t.Errorf("sys.conf =\n%s\nwant\n%s", got, want)
	}
	if got := modeOf(t, conf); got != 0o640 {
		t.Errorf("mode = %o, want the existing 640 kept", got)
	}
}

func TestSetHostOptionSecretModes(t *testing.T) {
	dir := t.TempDir()

	fresh := filepath.Join(dir, "fresh.conf")
	if err := SetHostOption(fresh, OptionKey, "DHHC-1:00:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNDU2:"); err != nil {
		t.Fatal(err)
	}
	if got := modeOf(t, fresh); got != 0o600 {
		t.Errorf("new sys.conf holding a key: mode %o, want 600", got)
	}

	existing := filepath.Join(dir, "existing.conf")
	mustWrite(t, existing, "[Host]\nkey = DHHC-1:00:abc:\n", 0o644)
	if err := SetHostOption(existing, OptionNQN, "nqn.x"); err != nil {
		t.Fatal(err)
	}
	if got := modeOf(t, existing); got != 0o600 {
		t.Errorf("existing 644 sys.conf holding a key after an edit: mode %o, want 600", got)
	}

	ref := filepath.Join(dir, "ref.conf")
	if err := SetHostOption(ref, OptionKey, "file:///etc/nvme/hostkey"); err != nil {
		t.Fatal(err)
	}
	if got := modeOf(t, ref); got != 0o644 {
		t.Errorf("sys.conf with key = file://…: mode %o, want 644 (the secret is in the other file)", got)
	}

	// Content unchanged but the mode too wide: the mode is still narrowed.
	same := filepath.Join(dir, "same.conf")
	mustWrite(t, same, "[Host]\nkey = DHHC-1:00:abc:\n", 0o644)
	if err := ClearHostOption(same, OptionSymname); err != nil {
		t.Fatal(err)
	}
	if got := modeOf(t, same); got != 0o600 {
		t.Errorf("unchanged sys.conf holding a key: mode %o, want 600", got)
	}
	if got := mustRead(t, same); got != "[Host]\nkey = DHHC-1:00:abc:\n" {
		t.Errorf("content changed to %q", got)
	}
}

func TestSetHostOptionSameValueNoWrite(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "sys.conf")
	mustWrite(t, conf, "# mine\n[Host]\nnqn = v\n", 0o644)
	before, _ := os.Stat(conf)
	if err := SetHostOption(conf, OptionNQN, "v"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(conf)
	if !os.SameFile(before, after) {
		t.Errorf("setting the value it already had rewrote the file")
	}
}

func TestClearHostOption(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sys.conf")
	mustWrite(t, conf, userConf, 0o644)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(conf, old, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(conf)
	if err := ClearHostOption(conf, OptionSymname); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(conf)
	if got := mustRead(t, conf); got != userConf {
		t.Errorf("clearing an absent key changed the file to %q", got)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(old) {
		t.Errorf("clearing an absent key rewrote the file (same inode %v, mtime %v, want %v)",
			os.SameFile(before, after), after.ModTime(), old)
	}

	mustWrite(t, conf, "# c\n[Host]\nnqn = n\nsymname = s\n\n[X]\nsymname = x\n", 0o644)
	if err := ClearHostOption(conf, OptionSymname); err != nil {
		t.Fatal(err)
	}
	if got, want := mustRead(t, conf), "# c\n[Host]\nnqn = n\n\n[X]\nsymname = x\n"; got != want {
		t.Errorf("after clear = %q, want %q", got, want)
	}

	missing := filepath.Join(dir, "nodir", "sys.conf")
	if err := ClearHostOption(missing, OptionSymname); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("clearing a key of a missing file created its directory (%v)", err)
	}
	missing = filepath.Join(dir, "sys2.conf")
	if err := ClearHostOption(missing, OptionSymname); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("clearing a key of a missing file created it (%v)", err)
	}
}

func TestSetHostOptionSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "sys.conf")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, real, "[Host]\nid = i\n", 0o640)
	link := filepath.Join(dir, "sys.conf")
	if err := os.Symlink("real/sys.conf", link); err != nil {
		t.Fatal(err)
	}
	if err := SetHostOption(link, OptionNQN, "n"); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced (%v, %v)", info.Mode(), err)
	}
	if got, want := mustRead(t, real), "[Host]\nid = i\nnqn = n\n"; got != want {
		t.Errorf("link target = %q, want %q", got, want)
	}
	if got := modeOf(t, real); got != 0o640 {
		t.Errorf("link target mode = %o, want 640 kept", got)
	}

	dangling := filepath.Join(dir, "dangling.conf")
	if err := os.Symlink("nowhere/sys.conf", dangling); err != nil {
		t.Fatal(err)
	}
	if err := SetHostOption(dangling, OptionNQN, "n"); err == nil || !strings.Contains(err.Error(), dangling) {
		t.Errorf("SetHostOption through a dangling link = %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dangling link made its target's directory appear")
	}

	toDir := filepath.Join(dir, "todir.conf")
	if err := os.Symlink("real", toDir); err != nil {
		t.Fatal(err)
	}
	if err := SetHostOption(toDir, OptionNQN, "n"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("SetHostOption through a link to a directory = %v, want a not-a-regular-file error", err)
	}
	if err := SetHostOption(filepath.Join(dir, "real"), OptionNQN, "n"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("SetHostOption on a directory = %v, want a not-a-regular-file error", err)
	}
}

func TestSetHostOptionErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	mustWrite(t, regular, "x", 0o644)
	conf := filepath.Join(regular, "sys.conf")
	err := SetHostOption(conf, OptionNQN, "n")
	if err == nil || !strings.Contains(err.Error(), conf) {
		t.Errorf("SetHostOption under a regular file = %v, want an error naming %s", err, conf)
	}
	err = SetHostOption(filepath.Join(regular, "sub", "sys.conf"), OptionNQN, "n")
	if err == nil || !strings.Contains(err.Error(), regular) {
		t.Errorf("SetHostOption two levels under a regular file = %v, want an error naming %s", err, regular)
	}
}

func TestSetHostOptionConcurrent(t *testing.T) {
	// systemd runs `stasadm hostnqn` and `stasadm hostid` at the same time; without the
	// directory lock one edit is lost.
	conf := filepath.Join(t.TempDir(), "sys.conf")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- SetHostOption(conf, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := mustRead(t, conf)
	for i := range n {
		if !strings.Contains(got, fmt.Sprintf("k%d = v%d\n", i, i)) {
			t.Errorf("k%d lost in concurrent edits:\n%s", i, got)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nvme", "hostnqn")
	if err := WriteFile(path, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); got != "one\n" {
		t.Errorf("content = %q", got)
	}
	if got := modeOf(t, path); got != 0o644 {
		t.Errorf("new file mode = %o, want 644", got)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); got != "two\n" {
		t.Errorf("content = %q", got)
	}
	if got := modeOf(t, path); got != 0o600 {
		t.Errorf("existing file mode = %o, want 600 kept", got)
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); got != "three\n" {
		t.Errorf("write through link: target = %q", got)
	}

	regular := filepath.Join(dir, "regular")
	mustWrite(t, regular, "x", 0o644)
	bad := filepath.Join(regular, "hostnqn")
	if err := WriteFile(bad, []byte("x\n"), 0o644); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("WriteFile under a regular file = %v, want an error naming %s", err, bad)
	}
	if err := WriteFile(filepath.Join(regular, "a", "b"), []byte("x\n"), 0o644); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("WriteFile needing a directory under a regular file = %v, want ENOTDIR", err)
	}
	if err := WriteFile(dir, []byte("x\n"), 0o644); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("WriteFile on a directory = %v, want a not-a-regular-file error", err)
	}
}

func TestWriteFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "hostid")
	mustWrite(t, path, "old\n", 0o644)
	if err := os.Chown(path, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != 4321 || st.Gid != 4322 {
		t.Errorf("owner = %d:%d, want 4321:4322 kept", st.Uid, st.Gid)
	}
}

func TestWriteFileReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	path := filepath.Join(dir, "hostid")
	if err := WriteFile(path, []byte("x\n"), 0o644); err == nil || !strings.Contains(err.Error(), "create temporary file") {
		t.Errorf("WriteFile into a read-only directory = %v, want a temporary file error", err)
	}
}

func TestEditConfReadError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads unreadable files")
	}
	conf := filepath.Join(t.TempDir(), "sys.conf")
	mustWrite(t, conf, "[Host]\n", 0o000)
	if err := SetHostOption(conf, OptionNQN, "n"); err == nil || !strings.Contains(err.Error(), "read "+conf) {
		t.Errorf("SetHostOption on an unreadable file = %v, want a read error", err)
	}
}

func TestLockDirErrors(t *testing.T) {
	if _, err := lockDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("lockDir of a missing directory succeeded")
	}
	if err := syncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("syncDir of a missing directory succeeded")
	}
	if err := keepOwner(nil, nil); err != nil {
		t.Errorf("keepOwner without an old file = %v", err)
	}
	if !bytes.Equal(joinWithout(splitConf([]byte("a\nb\n")), []int{0}), []byte("b\n")) {
		t.Error("joinWithout did not drop the first line")
	}
}
