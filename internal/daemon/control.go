// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Control is what a service shares with the process around it and with D-Bus: the
// trace switch and log level, ignore-iface, the reload request (SIGHUP) and the liveness
// probe (systemd's watchdog). Its methods are safe from any goroutine and never block
// for long; the service's owner goroutine selects on ReloadRequests and Pings.
type Control struct {
	log         *slog.Logger
	level       *slog.LevelVar
	tron        atomic.Bool
	ignoreIface atomic.Bool
	reload      chan struct{}
	ping        chan chan struct{}
}

// NewControl returns a Control logging to log and setting level.
func NewControl(log *slog.Logger, level *slog.LevelVar) *Control {
	return &Control{log: log, level: level, reload: make(chan struct{}, 1), ping: make(chan chan struct{})}
}

// SetTronLevel switches tracing and the log level with it.
func (c *Control) SetTronLevel(on bool) {
	c.tron.Store(on)
	if on {
		c.level.Set(slog.LevelDebug)
	} else {
		c.level.Set(slog.LevelInfo)
	}
}

// Tron reports whether tracing is on.
func (c *Control) Tron() bool { return c.tron.Load() }

// SetTron switches tracing at a D-Bus client's request (the server has checked that the
// caller is root).
func (c *Control) SetTron(on bool) {
	c.SetTronLevel(on)
	c.log.Info("tron changed over D-Bus", "tron", on)
}

// LogLevel returns the level's nvme-stas name.
func (c *Control) LogLevel() string { return LevelName(c.level.Level()) }

// IgnoreIface reports the current ignore-iface setting (for the D-Bus server).
func (c *Control) IgnoreIface() bool { return c.ignoreIface.Load() }

// SetIgnoreIface records the ignore-iface setting of the configuration in use.
func (c *Control) SetIgnoreIface(on bool) { c.ignoreIface.Store(on) }

// Reload asks the service to re-read its configuration. It never blocks; requests that
// come before the service took the last one are folded into it.
func (c *Control) Reload() {
	select {
	case c.reload <- struct{}{}:
	default:
	}
}

// ReloadRequests delivers the reload requests.
func (c *Control) ReloadRequests() <-chan struct{} { return c.reload }

// Alive reports whether the owner goroutine answers a ping within ctx.
func (c *Control) Alive(ctx context.Context) bool {
	reply := make(chan struct{})
	select {
	case c.ping <- reply:
	case <-ctx.Done():
		return false
	}
	select {
	case <-reply:
		return true
	case <-ctx.Done():
		return false
	}
}

// Pings delivers liveness probes; the owner closes each one it receives.
func (c *Control) Pings() <-chan chan struct{} { return c.ping }
