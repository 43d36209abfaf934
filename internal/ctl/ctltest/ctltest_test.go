// SPDX-License-Identifier: Apache-2.0

package ctltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The helpers are exercised for real by the stafctl and stacctl tests; these check the
// pieces that do not need a built control tool.

func TestRunReportsOutputsAndExitCode(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("sh is not installed")
	}
	c := &Command{Name: "sh", Path: sh}
	got := c.Run(t, "unix:path=/x", "-c", `printf %s "$DBUS_SYSTEM_BUS_ADDRESS"; echo oops >&2; exit 3`)
	if want := (Result{Stdout: "unix:path=/x", Stderr: "oops\n", Code: 3}); got != want {
		t.Errorf("Run = %+v, want %+v", got, want)
	}
	got = c.RunAs(t, "a", []string{"env"}, "-c", "exit 0")
	if got != (Result{}) {
		t.Errorf("RunAs with env prefix = %+v, want zero", got)
	}
}

func TestGoldenReadsModuleTestdata(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "testdata", "golden", "stafctl-ls.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Golden(t, "stafctl-ls"); got != string(want) || got == "" {
		t.Errorf("Golden(stafctl-ls) = %q, want %q", got, want)
	}
}

func TestBuildMakesRunnableBinary(t *testing.T) {
	t.Chdir(filepath.Join("testdata", "hello"))
	c := &Command{Name: "hello"}
	dir, err := c.build()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("temp dir %s: %v, %v; want mode 0755", dir, fi, err)
	}
	if c.Path != filepath.Join(dir, "hello") {
		t.Errorf("Path = %q, want it in %s", c.Path, dir)
	}
	if got := c.Run(t, ""); got != (Result{Stdout: "hello\n"}) {
		t.Errorf("run built binary = %+v", got)
	}
}

func TestBuildFailureNamesTheCommand(t *testing.T) {
	// An empty dir has no package to build: the failure must name the command and leave no
	// temp dir behind.
	t.Chdir(t.TempDir())
	c := &Command{Name: "ctltest-empty"}
	dir, err := c.build()
	if err == nil {
		os.RemoveAll(dir)
		t.Fatal("build in an empty dir succeeded")
	}
	if !strings.HasPrefix(err.Error(), "build ctltest-empty: ") {
		t.Errorf("build error = %v", err)
	}
	if _, statErr := os.Stat(filepath.Dir(c.Path)); !os.IsNotExist(statErr) {
		t.Errorf("temp dir %s left behind: %v", filepath.Dir(c.Path), statErr)
	}
}
