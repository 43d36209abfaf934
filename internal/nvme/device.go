// SPDX-License-Identifier: Apache-2.0

package nvme

import (
	"strconv"
	"strings"
)

// ControllerInstance returns N of a controller device name "nvme<N>" (decimal, no leading
// zero). Anything else, including names with path elements such as "..", is refused, so
// a name that passes can safely be joined into a /dev or /sys path.
func ControllerInstance(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "nvme")
	if !ok || digits == "" || len(digits) > 7 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}
