// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/hostid"
	"github.com/nvme-stas-go/stas/internal/version"
)

const (
	fakeNQN = "nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964"
	fakeID  = "56529e15-0f3e-4ede-87e2-63932a4adb99"
)

// fakeIdentity returns fixed values, or err.
type fakeIdentity struct{ err error }

func (f fakeIdentity) HostNQN() (string, error) { return fakeNQN, f.err }
func (f fakeIdentity) HostID() (string, error)  { return fakeID, f.err }

type result struct {
	code           int
	stdout, stderr string
}

func runWith(ids identity, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr, ids)
	return result{code, stdout.String(), stderr.String()}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantQuietSuccess(t *testing.T, r result) {
	t.Helper()
	if r.code != exitOK || r.stdout != "" || r.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and no output", r.code, r.stdout, r.stderr)
	}
}

func TestRunSaves(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "stas", "sys.conf")
	nqnFile := filepath.Join(dir, "nvme", "hostnqn")
	idFile := filepath.Join(dir, "nvme", "hostid")
	symFile := filepath.Join(dir, "nvme", "symname")

	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "hostnqn", "-f", nqnFile))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "--conf-file", conf, "hostid", "--file", idFile))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "set-symname", "-f", symFile, "Bart Simpson"))
	if got := readFile(t, nqnFile); got != fakeNQN+"\n" {
		t.Errorf("%s = %q", nqnFile, got)
	}
	if got := readFile(t, idFile); got != fakeID+"\n" {
		t.Errorf("%s = %q", idFile, got)
	}
	if got := readFile(t, symFile); got != "Bart Simpson\n" {
		t.Errorf("%s = %q", symFile, got)
	}
	want := "[Host]\nnqn = file://" + nqnFile + "\nid = file://" + idFile + "\nsymname = file://" + symFile + "\n"
	if got := readFile(t, conf); got != want {
		t.Errorf("sys.conf = %q, want %q", got, want)
	}

	// Without -f, the values themselves go to sys.conf, replacing the file references.
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "hostnqn"))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "hostid"))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "set-symname", "Bart-Simpson"))
	want = "[Host]\nnqn = " + fakeNQN + "\nid = " + fakeID + "\nsymname = Bart-Simpson\n"
	if got := readFile(t, conf); got != want {
		t.Errorf("sys.conf = %q, want %q", got, want)
	}

	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "clear-symname"))
	want = "[Host]\nnqn = " + fakeNQN + "\nid = " + fakeID + "\n"
	if got := readFile(t, conf); got != want {
		t.Errorf("sys.conf after clear-symname = %q, want %q", got, want)
	}
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", conf, "clear-symname"))
	if got := readFile(t, conf); got != want {
		t.Errorf("sys.conf after a second clear-symname = %q, want %q", got, want)
	}
}

func TestRunEmptyConfFileLeavesConfAlone(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	nqnFile := filepath.Join(dir, "hostnqn")
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", "", "hostnqn", "-f", nqnFile))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", "", "hostid"))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", "", "set-symname", "x"))
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", "", "clear-symname"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "hostnqn" {
		t.Errorf("directory holds %v, want only hostnqn", entries)
	}
}

func TestRunRelativeFileIsStoredAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	wantQuietSuccess(t, runWith(fakeIdentity{}, "-c", "sys.conf", "hostid", "-f", "nvme/hostid"))
	want := "[Host]\nid = file://" + filepath.Join(dir, "nvme", "hostid") + "\n"
	if got := readFile(t, filepath.Join(dir, "sys.conf")); got != want {
		t.Errorf("sys.conf = %q, want %q", got, want)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sys.conf")

	r := runWith(fakeIdentity{err: hostid.ErrNotRoot}, "-c", conf, "hostnqn")
	if r.code != exitError || r.stderr != notRootMessage+"\n" || r.stdout != "" {
		t.Errorf("not root: %+v; want exit 1 and %q", r, notRootMessage)
	}

	boom := errors.New("boom")
	r = runWith(fakeIdentity{err: boom}, "-c", conf, "hostid")
	if r.code != exitError || !strings.Contains(r.stderr, "generate host ID: boom") {
		t.Errorf("generation failure: %+v", r)
	}
	r = runWith(fakeIdentity{err: boom}, "-c", conf, "hostnqn")
	if r.code != exitError || !strings.Contains(r.stderr, "generate host NQN: boom") {
		t.Errorf("generation failure: %+v", r)
	}

	r = runWith(fakeIdentity{}, "-c", conf, "set-symname", "two\nlines")
	if r.code != exitError || !strings.Contains(r.stderr, "control character") {
		t.Errorf("symname with a newline: %+v", r)
	}
	symFile := filepath.Join(dir, "sym #1")
	r = runWith(fakeIdentity{}, "-c", conf, "set-symname", "-f", symFile, "x")
	if r.code != exitError || !strings.Contains(r.stderr, "file name") {
		t.Errorf("file name that sys.conf cannot hold: %+v", r)
	}
	for _, p := range []string{conf, symFile} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a refused value created %s", p)
		}
	}

	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(regular, "hostnqn")
	r = runWith(fakeIdentity{}, "-c", conf, "hostnqn", "-f", target)
	if r.code != exitError || !strings.Contains(r.stderr, target) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unwritable -f: %+v; want exit 1 and one line naming %s", r, target)
	}
	if _, err := os.Lstat(conf); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sys.conf was written although the -f file failed")
	}
	badConf := filepath.Join(regular, "sys.conf")
	for _, args := range [][]string{{"-c", badConf, "hostid"}, {"-c", badConf, "clear-symname"}} {
		r = runWith(fakeIdentity{}, args...)
		if r.code != exitError || !strings.Contains(r.stderr, badConf) {
			t.Errorf("%v: %+v; want exit 1 naming %s", args, r, badConf)
		}
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"-v"}, {"--version"}, {"-v", "hostnqn"}, {"-c", "/nonexistent/x", "-v", "hostid"}} {
		r := runWith(fakeIdentity{err: errors.New("must not generate")}, args...)
		if r.code != exitOK || r.stdout != version.String()+"\n" || r.stderr != "" {
			t.Errorf("%v: %+v; want the version and exit 0", args, r)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		r := runWith(fakeIdentity{}, args...)
		if r.code != exitOK || !strings.HasPrefix(r.stdout, mainUsage) || !strings.Contains(r.stdout, "clear-symname") {
			t.Errorf("%v: %+v; want the help and exit 0", args, r)
		}
	}
	for _, c := range commands {
		r := runWith(fakeIdentity{}, c.name, "-h")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, c.usage) {
			t.Errorf("%s -h: %+v; want its help and exit 0", c.name, r)
		}
		if hasFile := strings.Contains(r.stdout, "--file"); hasFile != (c.name != "clear-symname") {
			t.Errorf("%s -h mentions --file: %v", c.name, hasFile)
		}
	}
}

func TestRunUsage(t *testing.T) {
	r := runWith(fakeIdentity{})
	if r.code != exitError || !strings.HasPrefix(r.stderr, mainUsage) || r.stdout != "" {
		t.Errorf("no command: %+v; want usage on stderr and exit 1", r)
	}
	tests := []struct {
		args  []string
		usage string
		msg   string
	}{
		{[]string{"--bogus"}, mainUsage, "flag provided but not defined"},
		{[]string{"-c"}, mainUsage, "flag needs an argument"},
		{[]string{"bogus"}, mainUsage, "invalid choice: 'bogus'"},
		{[]string{"hostnqn", "-x"}, commands[0].usage, "stasadm hostnqn: error: flag provided but not defined"},
		{[]string{"hostnqn", "extra"}, commands[0].usage, "unrecognized arguments: extra"},
		{[]string{"hostid", "-f"}, commands[1].usage, "flag needs an argument"},
		{[]string{"set-symname"}, commands[2].usage, "the following arguments are required: SYMNAME"},
		{[]string{"set-symname", "a", "b"}, commands[2].usage, "unrecognized arguments: b"},
		{[]string{"clear-symname", "-f", "x"}, commands[3].usage, "flag provided but not defined: -f"},
		{[]string{"hostnqn", "-c", "x"}, commands[0].usage, "flag provided but not defined: -c"},
	}
	for _, tt := range tests {
		r := runWith(fakeIdentity{}, tt.args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, tt.usage) || !strings.Contains(r.stderr, tt.msg) || r.stdout != "" {
			t.Errorf("%q: %+v; want exit 2, usage %q and %q on stderr", tt.args, r, tt.usage, tt.msg)
		}
	}
}
