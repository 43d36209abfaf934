// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/hostid"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/version"
)

// stasadmBin is the binary the process tests run, built once by TestMain.
var stasadmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stasadm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stasadmBin = filepath.Join(dir, "stasadm")
	build := exec.Command("go", "build", "-o", stasadmBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build stasadm: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stasadm runs the built binary and returns its exit code and output.
func stasadm(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(stasadmBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run stasadm %q: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func TestProcessHostNQNKeepsUserConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sys.conf")
	nqnFile := filepath.Join(dir, "hostnqn")
	userConf := "# written by the administrator\n[Host]\n; the ID stays\nid = file:///etc/nvme/hostid\nkey = file:///etc/nvme/hostkey\n\n[Other]\nnqn = untouched\n"
	if err := os.WriteFile(conf, []byte(userConf), 0o644); err != nil {
		t.Fatal(err)
	}

	wantQuietSuccess(t, stasadm(t, "-c", conf, "hostnqn", "-f", nqnFile))

	content := readFile(t, nqnFile)
	hostNQN, ok := strings.CutSuffix(content, "\n")
	if !ok || strings.Contains(hostNQN, "\n") {
		t.Fatalf("%s = %q, want one line", nqnFile, content)
	}
	if err := nqn.ValidateHost(hostNQN); err != nil || !strings.HasPrefix(hostNQN, hostid.NQNPrefix) ||
		!uuidRE.MatchString(strings.TrimPrefix(hostNQN, hostid.NQNPrefix)) {
		t.Errorf("host NQN %q is not a UUID host NQN (%v)", hostNQN, err)
	}
	want := strings.Replace(userConf, "key = file:///etc/nvme/hostkey\n",
		"key = file:///etc/nvme/hostkey\nnqn = file://"+nqnFile+"\n", 1)
	if got := readFile(t, conf); got != want {
		t.Errorf("sys.conf =\n%s\nwant\n%s", got, want)
	}
	if info, err := os.Stat(nqnFile); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("%s mode = %v (%v), want 0644", nqnFile, info.Mode().Perm(), err)
	}
}

func TestProcessHostNQNIsStable(t *testing.T) {
	machineID, err := os.ReadFile("/etc/machine-id")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("/etc/machine-id is absent: the host NQN comes from firmware or is random")
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var got []string
	for i := range 2 {
		file := filepath.Join(dir, fmt.Sprintf("hostnqn%d", i))
		wantQuietSuccess(t, stasadm(t, "-c", "", "hostnqn", "-f", file))
		got = append(got, readFile(t, file))
	}
	if got[0] != got[1] {
		t.Errorf("two runs gave %q and %q, want the same machine-derived NQN", got[0], got[1])
	}
	if len(machineID) >= 32 {
		if id, err := hostid.AppSpecificUUID(string(machineID[:32]), hostid.AppID); err == nil {
			if want := hostid.NQNPrefix + id + "\n"; got[0] != want {
				t.Errorf("host NQN = %q, want %q (HMAC of /etc/machine-id)", got[0], want)
			}
		}
	}
}

func TestProcessHostID(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sys.conf")
	var ids []string
	for i := range 2 {
		file := filepath.Join(dir, "nvme", fmt.Sprintf("hostid%d", i))
		wantQuietSuccess(t, stasadm(t, "--conf-file", conf, "hostid", "--file", file))
		id := strings.TrimSuffix(readFile(t, file), "\n")
		if !uuidRE.MatchString(id) || id[14] != '4' {
			t.Errorf("host ID %q is not a version 4 UUID", id)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two host IDs are equal: %q", ids[0])
	}
	want := "[Host]\nid = file://" + filepath.Join(dir, "nvme", "hostid1") + "\n"
	if got := readFile(t, conf); got != want {
		t.Errorf("sys.conf = %q, want %q", got, want)
	}

	wantQuietSuccess(t, stasadm(t, "-c", conf, "hostid"))
	got := readFile(t, conf)
	id, ok := strings.CutPrefix(strings.TrimSuffix(got, "\n"), "[Host]\nid = ")
	if !ok || !uuidRE.MatchString(id) {
		t.Errorf("sys.conf = %q, want an inline host ID", got)
	}
}

func TestProcessSymname(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sys.conf")
	if err := os.WriteFile(conf, []byte("# mine\n[Host]\nnqn = nqn.x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantQuietSuccess(t, stasadm(t, "-c", conf, "set-symname", "Bart-Simpson"))
	if got, want := readFile(t, conf), "# mine\n[Host]\nnqn = nqn.x\nsymname = Bart-Simpson\n"; got != want {
		t.Errorf("after set-symname: %q, want %q", got, want)
	}
	wantQuietSuccess(t, stasadm(t, "-c", conf, "clear-symname"))
	if got, want := readFile(t, conf), "# mine\n[Host]\nnqn = nqn.x\n"; got != want {
		t.Errorf("after clear-symname: %q, want %q", got, want)
	}
}

func TestProcessVersionAndUsage(t *testing.T) {
	r := stasadm(t, "-v")
	if r.code != 0 || r.stdout != version.String()+"\n" {
		t.Errorf("-v: %+v, want %q and exit 0", r, version.String())
	}
	r = stasadm(t, "--bogus")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "usage: stasadm") {
		t.Errorf("bad flag: %+v, want usage and exit 2", r)
	}
	r = stasadm(t, "set-symname")
	if r.code != 2 || !strings.Contains(r.stderr, "SYMNAME") {
		t.Errorf("missing SYMNAME: %+v, want exit 2", r)
	}
	r = stasadm(t)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "usage: stasadm") {
		t.Errorf("no command: %+v, want usage and exit 1", r)
	}
}

func TestProcessUnwritableTarget(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(regular, "hostnqn")
	conf := filepath.Join(dir, "sys.conf")
	r := stasadm(t, "-c", conf, "hostnqn", "-f", target)
	if r.code != 1 || !strings.Contains(r.stderr, target) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
		t.Errorf("unwritable -f: %+v, want exit 1 and one line naming %s", r, target)
	}
	if _, err := os.Lstat(conf); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sys.conf written although the -f file failed")
	}
	badConf := filepath.Join(regular, "sys.conf")
	r = stasadm(t, "-c", badConf, "set-symname", "x")
	if r.code != 1 || !strings.Contains(r.stderr, badConf) {
		t.Errorf("unwritable -c: %+v, want exit 1 naming %s", r, badConf)
	}
}
