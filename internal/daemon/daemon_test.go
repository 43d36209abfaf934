// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

func TestChecks(t *testing.T) {
	if err := CheckRoot("stafd", 0); err != nil {
		t.Errorf("CheckRoot(0) = %v", err)
	}
	if err := CheckRoot("stafd", 1000); err == nil || err.Error() != "Permission denied. You need root privileges to run stafd." {
		t.Errorf("CheckRoot(1000) = %v", err)
	}
	if err := CheckFabrics(filepath.Join(t.TempDir(), "nvme-fabrics")); err == nil || !strings.Contains(err.Error(), "missing nvme-tcp kernel module") {
		t.Errorf("CheckFabrics(missing) = %v", err)
	}
	present := filepath.Join(t.TempDir(), "dev")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFabrics(present); err != nil {
		t.Errorf("CheckFabrics(present) = %v", err)
	}
}

func TestRuntimeDir(t *testing.T) {
	t.Setenv("RUNTIME_DIRECTORY", "")
	if got := RuntimeDir("stafd"); got != "/run/stafd" {
		t.Errorf("RuntimeDir = %q", got)
	}
	t.Setenv("RUNTIME_DIRECTORY", "/run/a:/run/b")
	if got := RuntimeDir("stafd"); got != "/run/a" {
		t.Errorf("RuntimeDir = %q", got)
	}
}

func TestJSONState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "stafd")
	path := filepath.Join(dir, "last-known-config.json")
	var v map[string]int
	if err := ReadJSON(path, &v); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadJSON(missing) = %v, want ErrNotExist", err)
	}
	want := map[string]int{"a": 1, "b": 2}
	if err := WriteJSON(path, want); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	if err := ReadJSON(path, &v); err != nil || v["a"] != 1 || v["b"] != 2 {
		t.Errorf("ReadJSON = %v, %v", v, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, %v; want 0600", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after the write, want only the state file", len(entries))
	}
	if err := os.WriteFile(path, []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ReadJSON(path, &v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadJSON(corrupt) = %v, want ErrCorrupt", err)
	}
	if err := WriteJSON(path, func() {}); err == nil {
		t.Error("WriteJSON of a func succeeded")
	}
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(filepath.Join(blocker, "x", "state.json"), want); err == nil {
		t.Error("WriteJSON under a regular file succeeded")
	}
}

func TestPriorityHandler(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	log := slog.New(&priorityHandler{level: level, out: &prefixSink{w: &buf}})
	log.Info("connected", "device", "nvme0")
	log.Debug("hidden")
	SetTron(level, true)
	log.With("tid", "(tcp, 192.0.2.1, 8009)").WithGroup("op").Debug("shown", "n", 1)
	log.Warn("careful")
	log.Error("broken")
	got := buf.String()
	for _, want := range []string{
		"<6>msg=connected device=nvme0\n",
		"<7>msg=shown tid=\"(tcp, 192.0.2.1, 8009)\" op.n=1\n",
		"<4>msg=careful\n",
		"<3>msg=broken\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hidden") || strings.Contains(got, "time=") || strings.Contains(got, "level=") {
		t.Errorf("output has a hidden record, a time or a level:\n%s", got)
	}
}

func TestLevels(t *testing.T) {
	for l, want := range map[slog.Level]string{slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelWarn: "WARNING", slog.LevelError: "ERROR"} {
		if got := LevelName(l); got != want {
			t.Errorf("LevelName(%v) = %q, want %q", l, got, want)
		}
	}
	if priority(slog.LevelError+4) != journal.PriErr || priority(slog.LevelDebug-4) != journal.PriDebug {
		t.Error("priority out of range levels")
	}
	log, level := NewLogger("stafd", false, true)
	if log == nil || level.Level() != slog.LevelDebug {
		t.Errorf("NewLogger(tron) level %v", level.Level())
	}
	_, level = NewLogger("stafd", true, false)
	if level.Level() != slog.LevelInfo {
		t.Errorf("NewLogger level %v", level.Level())
	}
}

type recorder struct {
	mu     sync.Mutex
	states []string
}

func (r *recorder) send(unset bool, state string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if unset {
		return false, errors.New("NOTIFY_SOCKET must never be unset")
	}
	r.states = append(r.states, state)
	return true, nil
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.states...)
}

func TestNotifier(t *testing.T) {
	r := &recorder{}
	n := &Notifier{send: r.send}
	n.Ready()
	n.Reloading()
	n.Stopping()
	n.Status("3 controllers")
	got := r.all()
	if len(got) != 4 || got[0] != "READY=1" || !strings.HasPrefix(got[1], "RELOADING=1\nMONOTONIC_USEC=") ||
		got[2] != "STOPPING=1" || got[3] != "STATUS=3 controllers" {
		t.Errorf("notifications = %q", got)
	}
	var buf bytes.Buffer
	failing := &Notifier{Logger: slog.New(slog.NewTextHandler(&buf, nil)), send: func(bool, string) (bool, error) { return false, errors.New("no socket") }}
	failing.Ready()
	if !strings.Contains(buf.String(), "systemd notification failed") {
		t.Errorf("a failed notification was not logged: %s", buf.String())
	}
}

func TestWatchdog(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	n := &Notifier{send: (&recorder{}).send}
	done := make(chan struct{})
	go func() { n.Watchdog(context.Background(), func(context.Context) bool { return true }); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog without WatchdogSec did not return")
	}

	t.Setenv("WATCHDOG_USEC", "40000") // 40 ms: pings every 20 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	r := &recorder{}
	var logBuf bytes.Buffer
	n = &Notifier{send: r.send, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var calls int
	n.Watchdog(ctx, func(context.Context) bool { calls++; return calls%2 == 1 })
	pings := 0
	for _, s := range r.all() {
		if s == "WATCHDOG=1" {
			pings++
		}
	}
	if pings == 0 || pings >= calls {
		t.Errorf("%d pings for %d probes; want pings only for the probes that answered", pings, calls)
	}
	if !strings.Contains(logBuf.String(), "withholding the watchdog ping") {
		t.Error("a failed probe was not logged")
	}
}
