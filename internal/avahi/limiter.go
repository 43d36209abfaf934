// SPDX-License-Identifier: Apache-2.0

package avahi

import "time"

// logRepeatInterval is how long an identical warning about the same service stays quiet:
// a hostile or broken announcer repeats itself on every mDNS refresh, and the journal
// should not fill with the same line.
const logRepeatInterval = 10 * time.Minute

// logLimiter lets one identical line per subject through per interval. It is used by the
// owner goroutine only, so it has no lock.
type logLimiter struct {
	every  time.Duration
	last   map[logLine]time.Time
	pruned time.Time // last scan for stale lines
}

type logLine struct{ subject, text string }

// Bounds on the memory a flood of distinct lines may take: past soft entries the stale
// ones are dropped (at most once a minute, so that a flood costs no scan per line); past
// hard entries everything is forgotten (lines may repeat early, which is better than
// growing without end).
const (
	limiterSoft = 1024
	limiterHard = 4096
)

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: make(map[logLine]time.Time)}
}

// allow reports whether text about subject may be logged now, and if so remembers it.
func (l *logLimiter) allow(subject, text string) bool {
	now := time.Now()
	k := logLine{subject, text}
	if t, ok := l.last[k]; ok && now.Sub(t) < l.every {
		return false
	}
	if len(l.last) >= limiterSoft && now.Sub(l.pruned) >= time.Minute {
		l.pruned = now
		for k, t := range l.last {
			if now.Sub(t) >= l.every {
				delete(l.last, k)
			}
		}
	}
	if len(l.last) >= limiterHard {
		clear(l.last)
	}
	l.last[k] = now
	return true
}
