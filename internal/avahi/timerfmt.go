// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// FormatTimer renders a timer the way nvme-stas shows it on D-Bus and in process_info:
// "<interval>s [off]" when the timer is stopped, "<interval>s [<remaining>s]" when it runs,
// with Python's float spelling ("60.0", "1.5", "0.973") and a bare "0" once the timer is due.
// nvme-stas counts in microseconds, so remaining is rounded to the microsecond.
func FormatTimer(interval time.Duration, running bool, remaining time.Duration) string {
	s := pyFloat(interval.Seconds()) + "s ["
	if !running {
		return s + "off]"
	}
	us := remaining.Round(time.Microsecond).Microseconds()
	if us <= 0 {
		return s + "0s]"
	}
	return s + pyFloat(float64(us)/1e6) + "s]"
}

// pyFloat spells f as Python's repr(float) does: the shortest text that reads back as f,
// always with a decimal point, switching to exponent form below 1e-4 and from 1e16 up.
func pyFloat(f float64) string {
	if f == 0 {
		return "0.0"
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	exp := math.Floor(math.Log10(math.Abs(f)))
	if exp < -4 || exp >= 16 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}
