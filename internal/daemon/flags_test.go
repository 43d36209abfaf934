// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"context"
	"errors"
	"flag"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	usage := Usage("stacd", "Connector.", "/etc/stas/stacd.conf")
	var stderr strings.Builder
	f, err := ParseFlags("stacd", usage, "/etc/stas/stacd.conf", []string{"-f", "/tmp/x.conf", "--syslog", "--tron"}, &stderr)
	if err != nil || f.ConfFile != "/tmp/x.conf" || !f.Syslog || !f.Tron || f.Version {
		t.Errorf("flags = %+v, %v", f, err)
	}
	if f, _ := ParseFlags("stacd", usage, "/etc/stas/stacd.conf", nil, &stderr); f.ConfFile != "/etc/stas/stacd.conf" {
		t.Errorf("default config %q", f.ConfFile)
	}
	if _, err := ParseFlags("stacd", usage, "", []string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "usage: stacd") {
		t.Errorf("-h: %v", err)
	}
	if _, err := ParseFlags("stacd", usage, "", []string{"--bogus"}, &stderr); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Errorf("--bogus: %v", err)
	}
	if _, err := ParseFlags("stacd", usage, "", []string{"extra"}, &stderr); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("positional argument: %v", err)
	}
}

func TestReloadOnHUP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloaded := make(chan struct{}, 1)
	(&Notifier{}).ReloadOnHUP(ctx, func() { reloaded <- struct{}{} })
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not reload")
	}
}
