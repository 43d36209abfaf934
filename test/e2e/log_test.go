// SPDX-License-Identifier: Apache-2.0

//go:build e2e && linux

package e2e

import (
	"log/slog"
	"strings"
	"testing"
)

// testLogger sends a component's log to the test's log, so a failing scenario shows what
// the product logged.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
