// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"fmt"
	"strconv"
	"strings"
)

// maxReplyLen bounds the reply text; the kernel's is about 30 bytes.
const maxReplyLen = 4096

// Reply is what the kernel answers on the same fd after a successful write:
// "instance=%d,cntlid=%d\n".
type Reply struct {
	// Instance is N of /dev/nvmeN and /sys/class/nvme/nvmeN.
	Instance int
	// CntlID is the controller ID the target assigned.
	CntlID int
}

// Device returns the controller's device name, "nvme<Instance>".
func (r Reply) Device() string { return "nvme" + strconv.Itoa(r.Instance) }

// ParseReply parses the reply read after a successful write. Both instance and cntlid
// must be present exactly once; items the kernel may add later are ignored.
func ParseReply(b []byte) (Reply, error) {
	if len(b) > maxReplyLen {
		return Reply{}, fmt.Errorf("parse fabrics reply: %w: %d bytes", ErrMalformed, len(b))
	}
	var r Reply
	var haveInstance, haveCntlID bool
	for _, item := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == '\n' }) {
		key, val, _ := strings.Cut(item, "=")
		var dst *int
		var have *bool
		var limit int
		switch key {
		case "instance":
			dst, have, limit = &r.Instance, &haveInstance, 1<<20-1 // MINORMASK
		case "cntlid":
			dst, have, limit = &r.CntlID, &haveCntlID, 0xffff
		default:
			continue
		}
		if *have {
			return Reply{}, fmt.Errorf("parse fabrics reply %q: %w: %s given twice", b, ErrMalformed, key)
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > limit || val != strconv.Itoa(n) {
			return Reply{}, fmt.Errorf("parse fabrics reply %q: %w: bad %s", b, ErrMalformed, key)
		}
		*dst, *have = n, true
	}
	if !haveInstance || !haveCntlID {
		return Reply{}, fmt.Errorf("parse fabrics reply %q: %w: instance or cntlid missing", b, ErrMalformed)
	}
	return r, nil
}
