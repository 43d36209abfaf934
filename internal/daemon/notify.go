// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier tells systemd about the daemon's state. Outside systemd (no NOTIFY_SOCKET)
// every call does nothing. NOTIFY_SOCKET is never unset, so later watchdog pings keep
// working.
type Notifier struct {
	Logger *slog.Logger
	// send is daemon.SdNotify; tests replace it.
	send func(unsetEnv bool, state string) (bool, error)
}

func (n *Notifier) notify(state string) {
	send := n.send
	if send == nil {
		send = daemon.SdNotify
	}
	if _, err := send(false, state); err != nil && n.Logger != nil {
		n.Logger.Warn("systemd notification failed", "state", state, "err", err)
	}
}

// Ready says start-up (or a reload) is complete.
func (n *Notifier) Ready() { n.notify(daemon.SdNotifyReady) }

// Reloading says a reload started; systemd's Type=notify-reload wants the monotonic time
// with it.
func (n *Notifier) Reloading() {
	n.notify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Stopping says an orderly stop started.
func (n *Notifier) Stopping() { n.notify(daemon.SdNotifyStopping) }

// Status sets the one-line status systemctl shows.
func (n *Notifier) Status(s string) { n.notify("STATUS=" + s) }

// Watchdog pings systemd's watchdog at half its interval while alive reports that the
// daemon's main loop answers, until ctx ends. Without WatchdogSec it returns at once.
func (n *Notifier) Watchdog(ctx context.Context, alive func(context.Context) bool) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			probe, cancel := context.WithTimeout(ctx, interval/2)
			ok := alive(probe)
			cancel()
			if ok {
				n.notify(daemon.SdNotifyWatchdog)
			} else if n.Logger != nil {
				n.Logger.Error("main loop not answering; withholding the watchdog ping")
			}
		}
	}
}

// ReloadOnHUP calls reload on every SIGHUP until ctx ends, telling systemd RELOADING=1
// before and READY=1 after (Type=notify units with ExecReload).
func (n *Notifier) ReloadOnHUP(ctx context.Context, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				n.Reloading()
				reload()
				n.Ready()
			}
		}
	}()
}
