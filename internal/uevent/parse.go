// SPDX-License-Identifier: Apache-2.0

// Package uevent owns the parsing of kernel device events (uevents) as they arrive on a
// NETLINK_KOBJECT_UEVENT socket, in both framings: the kernel's own ("ACTION@DEVPATH\0…",
// multicast group 1) and systemd-udevd's rebroadcast ("libudev\0" header, group 2). It
// also gives the NVMe view of an event: controller add/remove, AEN, connected,
// rediscover, and the controller's transport address.
//
// The parser is pure and safe on any input; the netlink monitor lives beside it.
package uevent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Limits that bound the work done on one message. The kernel builds a uevent in 2 KiB
// (UEVENT_BUFFER_SIZE) with at most 64 variables; udevd adds its own properties.
const (
	MaxMessageSize = 128 << 10
	MaxVariables   = 2048
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed uevent")

// The libudev framing, from systemd's src/libsystemd/sd-device/device-monitor.c
// (systemd/systemd 2dfe5a30a6c93d60d2c6871ab472c47ce5cca2a0 and later; unchanged since):
//
//	#define UDEV_MONITOR_MAGIC                0xfeedcafe
//	typedef struct monitor_netlink_header {
//	        char prefix[8];                  /* "libudev" */
//	        unsigned magic;                  /* htobe32(UDEV_MONITOR_MAGIC) */
//	        unsigned header_size;            /* sizeof nlh */
//	        unsigned properties_off;         /* native byte order */
//	        unsigned properties_len;         /* native byte order */
//	        unsigned filter_subsystem_hash;  /* htobe32 */
//	        unsigned filter_devtype_hash;    /* htobe32 */
//	        unsigned filter_tag_bloom_hi;    /* htobe32 */
//	        unsigned filter_tag_bloom_lo;    /* htobe32 */
//	} monitor_netlink_header;
//
// device_monitor_send_device fills properties_off = sizeof nlh (40) and properties_len =
// the length of the NUL-separated "KEY=VALUE" list that follows.
const (
	udevPrefix        = "libudev\x00"
	udevMagic         = 0xfeedcafe
	udevMagicOff      = 8
	udevPropsOffOff   = 16
	udevPropsLenOff   = 20
	udevHeaderMinSize = 40 // sizeof(monitor_netlink_header)
)

// Parse parses one uevent message as received from the netlink socket, in either
// framing. It needs ACTION and DEVPATH; variables that are empty, lack '=' or have an
// empty name are skipped. Each variable is split at its first '=', and the kernel
// header at its first '@', so values with '=' and device paths with '@' survive.
func Parse(msg []byte) (Event, error) {
	if len(msg) > MaxMessageSize {
		return Event{}, fmt.Errorf("parse uevent: %w: %d bytes, at most %d", ErrMalformed, len(msg), MaxMessageSize)
	}
	if bytes.HasPrefix(msg, []byte(udevPrefix)) {
		return parseUdev(msg)
	}
	return parseKernel(msg)
}

// parseKernel parses "ACTION@DEVPATH\0KEY=VALUE\0…".
func parseKernel(msg []byte) (Event, error) {
	header, vars, ok := bytes.Cut(msg, []byte{0})
	if !ok {
		return Event{}, fmt.Errorf("parse kernel uevent: %w: no NUL after the header", ErrMalformed)
	}
	action, devpath, ok := bytes.Cut(header, []byte("@"))
	if !ok || len(action) == 0 || len(devpath) == 0 || devpath[0] != '/' {
		return Event{}, fmt.Errorf("parse kernel uevent: %w: header %q is not ACTION@/DEVPATH", ErrMalformed, header)
	}
	ev, err := parseVariables(vars, SourceKernel)
	if err != nil {
		return Event{}, fmt.Errorf("parse kernel uevent %q: %w", header, err)
	}
	// The kernel repeats both in the variables; a message that disagrees with itself is
	// not to be trusted.
	for _, v := range []struct{ key, header string }{{"ACTION", string(action)}, {"DEVPATH", string(devpath)}} {
		if got, ok := ev.Env[v.key]; ok && got != v.header {
			return Event{}, fmt.Errorf("parse kernel uevent %q: %w: %s=%q differs from the header", header, ErrMalformed, v.key, got)
		}
		ev.Env[v.key] = v.header
	}
	if err := ev.fill(); err != nil {
		return Event{}, fmt.Errorf("parse kernel uevent %q: %w", header, err)
	}
	return ev, nil
}

// parseUdev parses systemd-udevd's framing (see monitor_netlink_header above).
func parseUdev(msg []byte) (Event, error) {
	if len(msg) < udevHeaderMinSize {
		return Event{}, fmt.Errorf("parse udev event: %w: %d bytes, shorter than its header", ErrMalformed, len(msg))
	}
	if magic := binary.BigEndian.Uint32(msg[udevMagicOff:]); magic != udevMagic {
		return Event{}, fmt.Errorf("parse udev event: %w: magic %#08x, want %#08x", ErrMalformed, magic, udevMagic)
	}
	off := uint64(binary.NativeEndian.Uint32(msg[udevPropsOffOff:]))
	n := uint64(binary.NativeEndian.Uint32(msg[udevPropsLenOff:]))
	if off < udevHeaderMinSize || n == 0 || off+n > uint64(len(msg)) {
		return Event{}, fmt.Errorf("parse udev event: %w: properties at %d+%d outside the %d-byte message", ErrMalformed, off, n, len(msg))
	}
	ev, err := parseVariables(msg[off:off+n], SourceUdev)
	if err != nil {
		return Event{}, fmt.Errorf("parse udev event: %w", err)
	}
	if err := ev.fill(); err != nil {
		return Event{}, fmt.Errorf("parse udev event: %w", err)
	}
	return ev, nil
}

// parseVariables splits a NUL-separated "KEY=VALUE" list.
func parseVariables(b []byte, src Source) (Event, error) {
	ev := Event{Source: src, Env: map[string]string{}}
	count := 0
	for len(b) > 0 {
		var item []byte
		item, b, _ = bytes.Cut(b, []byte{0})
		if len(item) == 0 {
			continue
		}
		if count++; count > MaxVariables {
			return Event{}, fmt.Errorf("%w: more than %d variables", ErrMalformed, MaxVariables)
		}
		key, value, ok := bytes.Cut(item, []byte("="))
		if !ok || len(key) == 0 {
			continue
		}
		ev.Env[string(key)] = string(value)
	}
	return ev, nil
}

// fill sets the typed fields from Env and checks them.
func (ev *Event) fill() error {
	action, devpath := ev.Env["ACTION"], ev.Env["DEVPATH"]
	if !validAction(action) {
		return fmt.Errorf("%w: ACTION %q", ErrMalformed, action)
	}
	if devpath == "" || devpath[0] != '/' {
		return fmt.Errorf("%w: DEVPATH %q", ErrMalformed, devpath)
	}
	ev.Action, ev.DevPath = Action(action), devpath
	ev.Subsystem, ev.DevName = ev.Env["SUBSYSTEM"], ev.Env["DEVNAME"]
	if s, ok := ev.Env["SEQNUM"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: SEQNUM %q", ErrMalformed, s)
		}
		ev.Seqnum = n
	}
	return nil
}

// validAction accepts the shape of the kernel's action names (kobject_actions[]).
func validAction(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
