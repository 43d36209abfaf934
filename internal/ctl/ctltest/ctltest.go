// SPDX-License-Identifier: Apache-2.0

// Package ctltest owns the test machinery shared by the stafctl and stacctl commands: building
// the command once per test binary, running it as a process against a bus, and checking its
// output against the golden files kept in internal/ctl/testdata/golden.
package ctltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Command is a control tool under test, built from the package of the current directory.
type Command struct {
	// Name is the program name, e.g. "stafctl"; it names the built file and the failures.
	Name string
	// Path is the built binary, set by Main.
	Path string
}

// Main is the body of the command package's TestMain: it builds the command into a
// world-readable temp dir (so that it can also run as nobody), runs the tests, removes the
// dir and exits with the tests' code.
func (c *Command) Main(m *testing.M) {
	dir, err := c.build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds the package in the current directory as c.Name into a new temp dir, sets
// c.Path and returns the dir for the caller to remove.
func (c *Command) build() (string, error) {
	dir, err := os.MkdirTemp("", c.Name+"-test-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	c.Path = filepath.Join(dir, c.Name)
	build := exec.Command("go", "build", "-o", c.Path, ".") // go test runs with go on $PATH
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("build %s: %w", c.Name, err)
	}
	return dir, nil
}

// Result is what one run of the command gave.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the command with args, talking to the system bus at addr.
func (c *Command) Run(t *testing.T, addr string, args ...string) Result {
	t.Helper()
	return c.RunAs(t, addr, nil, args...)
}

// RunAs runs the command with args under the wrapper command prefix (e.g. setpriv ...),
// talking to the system bus at addr. A failure to start the process fails the test; a
// non-zero exit is only reported in Result.Code.
func (c *Command) RunAs(t *testing.T, addr string, prefix []string, args ...string) Result {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), c.Path), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+addr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return Result{stdout.String(), stderr.String(), code}
}

// Golden returns the golden output name (without ".txt") from internal/ctl/testdata/golden.
func Golden(t *testing.T, name string) string {
	t.Helper()
	dir, err := goldenDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goldenDir finds the golden files from the module root, found by walking up from the
// current directory, so that any package of the module can use them.
func goldenDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find golden files: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "internal", "ctl", "testdata", "golden"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find golden files: no go.mod above the current directory")
		}
		dir = parent
	}
}

// OutputCase is a command line whose plain output must equal a golden file.
type OutputCase struct {
	Golden string
	Args   []string
}

// CheckOutputs runs each case three times against the bus at addr: plain, whose stdout must
// equal the golden file with an empty stderr; with --json first, which must print valid
// JSON; and with --table last, whose first line must be a table header (TRADDR... or KEY...).
// All three must exit 0.
func (c *Command) CheckOutputs(t *testing.T, addr string, cases []OutputCase) {
	t.Helper()
	for _, tc := range cases {
		got := c.Run(t, addr, tc.Args...)
		if want := Golden(t, tc.Golden); got.Code != 0 || got.Stdout != want || got.Stderr != "" {
			t.Errorf("%s %v: exit %d, stderr %q\n%s\nwant:\n%s", c.Name, tc.Args, got.Code, got.Stderr, got.Stdout, want)
		}
		js := c.Run(t, addr, append([]string{"--json"}, tc.Args...)...)
		if js.Code != 0 || !json.Valid([]byte(js.Stdout)) {
			t.Errorf("%s --json %v: exit %d: %s%s", c.Name, tc.Args, js.Code, js.Stdout, js.Stderr)
		}
		table := c.Run(t, addr, append(append([]string{}, tc.Args...), "--table")...)
		if first, _, _ := strings.Cut(table.Stdout, "\n"); table.Code != 0 || !strings.Contains(first, "TRADDR") && !strings.HasPrefix(first, "KEY") {
			t.Errorf("%s %v --table: exit %d: %s%s", c.Name, tc.Args, table.Code, table.Stdout, table.Stderr)
		}
	}
}

// ErrorCase is a command line with its expected exit code, exact stdout and a substring of
// stderr.
type ErrorCase struct {
	Args   []string
	Code   int
	Stdout string
	Stderr string
}

// CheckErrors runs each case against the bus at addr and checks the exit code, stdout and
// that stderr contains the expected text.
func (c *Command) CheckErrors(t *testing.T, addr string, cases []ErrorCase) {
	t.Helper()
	for _, tc := range cases {
		got := c.Run(t, addr, tc.Args...)
		if got.Code != tc.Code || got.Stdout != tc.Stdout || !strings.Contains(got.Stderr, tc.Stderr) {
			t.Errorf("%s %v: %+v", c.Name, tc.Args, got)
		}
	}
}

// CheckNoBus runs ls against a bus address where nothing listens: the command must exit 1
// saying that it cannot reach the system bus.
func (c *Command) CheckNoBus(t *testing.T) {
	t.Helper()
	if got := c.Run(t, "unix:path="+t.TempDir()+"/none", "ls"); got.Code != 1 || !strings.HasPrefix(got.Stderr, "cannot reach the system bus: ") {
		t.Errorf("no bus: %+v", got)
	}
}

// Nobody returns the wrapper that runs a command as user and group nobody (65534), for
// RunAs; it skips the test unless it runs as root with setpriv installed.
func (c *Command) Nobody(t *testing.T) []string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run " + c.Name + " as nobody")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed")
	}
	return []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
}
