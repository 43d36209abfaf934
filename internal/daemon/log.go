// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// NewLogger returns the daemon's logger and the level variable that tron switches
// between Info and Debug. With toSystem (the -s/--syslog option) it writes to the journal
// with the program as SYSLOG_IDENTIFIER when the journal is there, and otherwise to stderr
// with syslog priority prefixes ("<6>…"), which journald and most supervisors understand;
// without it, plain text to stdout, as nvme-stas does.
func NewLogger(prog string, toSystem, tron bool) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	SetTron(level, tron)
	var h slog.Handler
	switch {
	case toSystem && journal.Enabled():
		h = &priorityHandler{level: level, out: journalSink{ident: prog}}
	case toSystem:
		h = &priorityHandler{level: level, out: &prefixSink{w: os.Stderr}}
	default:
		h = slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h), level
}

// SetTron sets the level for trace on (Debug) or off (Info).
func SetTron(level *slog.LevelVar, on bool) {
	if on {
		level.Set(slog.LevelDebug)
	} else {
		level.Set(slog.LevelInfo)
	}
}

// LevelName returns nvme-stas's name of a level, as the log_level property shows it.
func LevelName(l slog.Level) string {
	switch {
	case l <= slog.LevelDebug:
		return "DEBUG"
	case l <= slog.LevelInfo:
		return "INFO"
	case l <= slog.LevelWarn:
		return "WARNING"
	default:
		return "ERROR"
	}
}

// syslog priorities of the slog levels.
func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}

// sink receives one formatted record.
type sink interface {
	write(p journal.Priority, msg []byte) error
}

// journalSink sends records to the journal's native socket.
type journalSink struct{ ident string }

func (s journalSink) write(p journal.Priority, msg []byte) error {
	return journal.Send(string(msg), p, map[string]string{"SYSLOG_IDENTIFIER": s.ident})
}

// prefixSink writes "<N>message\n" lines.
type prefixSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *prefixSink) write(p journal.Priority, msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := append([]byte{'<', byte('0' + p), '>'}, msg...)
	_, err := s.w.Write(append(line, '\n'))
	return err
}

// priorityHandler formats records as text without a timestamp (the journal keeps its
// own) and hands them to a sink with their syslog priority.
type priorityHandler struct {
	level slog.Leveler
	out   sink
	attrs []slog.Attr
	group string
}

func (h *priorityHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	var buf bytes.Buffer
	th := slog.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	}))
	if len(h.attrs) > 0 {
		th = th.WithAttrs(h.attrs)
	}
	if h.group != "" {
		th = th.WithGroup(h.group)
	}
	if err := th.Handle(ctx, r); err != nil {
		return err
	}
	return h.out.write(priority(r.Level), bytes.TrimRight(buf.Bytes(), "\n"))
}

func (h *priorityHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *priorityHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = name
	return &c
}
