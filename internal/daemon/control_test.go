// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

func TestControl(t *testing.T) {
	level := new(slog.LevelVar)
	c := NewControl(slog.New(slog.DiscardHandler), level)
	c.SetTron(true)
	if !c.Tron() || c.LogLevel() != "DEBUG" || level.Level() != slog.LevelDebug {
		t.Errorf("tron on: %v %s", c.Tron(), c.LogLevel())
	}
	c.SetTronLevel(false)
	if c.Tron() || c.LogLevel() != "INFO" {
		t.Errorf("tron off: %v %s", c.Tron(), c.LogLevel())
	}
	c.SetIgnoreIface(true)
	if !c.IgnoreIface() {
		t.Error("ignore-iface not recorded")
	}
	// Two requests before the service takes one are folded into it.
	c.Reload()
	c.Reload()
	<-c.ReloadRequests()
	select {
	case <-c.ReloadRequests():
		t.Error("a second reload request was queued")
	default:
	}
	// Alive: true while someone answers pings, false when nobody does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	if c.Alive(ctx) {
		t.Error("alive without an owner answering")
	}
	cancel()
	go func() { close(<-c.Pings()) }()
	if !c.Alive(context.Background()) {
		t.Error("not alive with an owner answering")
	}
}
