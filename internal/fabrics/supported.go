// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
)

// maxSupportedLen bounds the text ParseSupported accepts; the kernel's line fits in a page.
const maxSupportedLen = 64 << 10

// Supported is the set of options the running kernel accepts. The zero value supports
// nothing; get one from SupportedFromRead, ParseSupported, DefaultSupported or AllKnown.
type Supported struct {
	names  map[string]struct{}
	legacy bool
}

// Has reports whether the kernel accepts the option name (e.g. OptHostIface).
func (s Supported) Has(name string) bool {
	_, ok := s.names[name]
	return ok
}

// Names returns the supported option names, sorted.
func (s Supported) Names() []string {
	names := make([]string, 0, len(s.names))
	for n := range s.names {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Legacy reports whether the set is the assumed default of a kernel older than 5.17,
// which cannot list its options.
func (s Supported) Legacy() bool { return s.legacy }

// String lists the names, for one log line.
func (s Supported) String() string {
	if s.legacy {
		return "default set of kernels before 5.17: " + strings.Join(s.Names(), ",")
	}
	return strings.Join(s.Names(), ",")
}

// ParseSupported parses the line read from a freshly opened /dev/nvme-fabrics on kernels
// 5.17 and later: "instance=-1,cntlid=-1,transport=%s,traddr=%s,…,discovery,…\n". Like
// libnvme it splits on ',' and '\n' and cuts each item at the first '=' or ' '. The
// "instance" and "cntlid" items are not options and are left out.
func ParseSupported(line []byte) (Supported, error) {
	if len(line) > maxSupportedLen {
		return Supported{}, fmt.Errorf("parse supported fabrics options: %w: %d bytes", ErrMalformed, len(line))
	}
	names := map[string]struct{}{}
	for _, item := range strings.FieldsFunc(string(line), func(r rune) bool { return r == ',' || r == '\n' }) {
		name := item
		if i := strings.IndexAny(item, "= "); i >= 0 {
			name = item[:i]
		}
		if !isOptionName(name) {
			return Supported{}, fmt.Errorf("parse supported fabrics options: %w: item %q", ErrMalformed, item)
		}
		if name == "instance" || name == "cntlid" {
			continue
		}
		names[name] = struct{}{}
	}
	if len(names) == 0 {
		return Supported{}, fmt.Errorf("parse supported fabrics options: %w: no options listed", ErrMalformed)
	}
	return Supported{names: names}, nil
}

// isOptionName accepts the shape of the kernel's option names: lower-case letters, digits
// and '_'.
func isOptionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// legacyOptions is libnvme's default_supported_options (fabrics.c): the kernel's table up
// to "discovery" when the supported-options read was added (5.17), without DH-HMAC-CHAP or
// TLS. A kernel older than that may still lack some of them (host_iface 5.14, discovery
// 5.16); it then answers EINVAL to the write.
var legacyOptions = []string{
	OptTransport, OptTrAddr, OptTrSvcID, OptNQN, OptQueueSize, OptNrIOQueues,
	OptReconnectDelay, OptCtrlLossTmo, OptKeepAliveTmo, OptHostNQN, OptHostTrAddr,
	OptHostIface, OptHostID, OptDuplicateConnect, OptDisableSQFlow, OptHdrDigest,
	OptDataDigest, OptNrWriteQueues, OptNrPollQueues, OptTOS, OptFastIOFailTmo,
	OptDiscovery,
}

// DefaultSupported returns the set assumed for kernels before 5.17, whose
// /dev/nvme-fabrics cannot be read (the read fails with EINVAL).
func DefaultSupported() Supported {
	s := Supported{names: map[string]struct{}{}, legacy: true}
	for _, n := range legacyOptions {
		s.names[n] = struct{}{}
	}
	return s
}

// AllKnown returns every option this package can build, as if the kernel supported them
// all. It is meant for tests and fakes.
func AllKnown() Supported {
	s := Supported{names: map[string]struct{}{}}
	for n := range specs {
		s.names[n] = struct{}{}
	}
	return s
}

// SupportedFromRead turns the outcome of reading a fresh /dev/nvme-fabrics fd into the
// supported set: the parsed line, or DefaultSupported when the read failed with EINVAL
// (kernels before 5.17). Any other read error is returned.
func SupportedFromRead(data []byte, readErr error) (Supported, error) {
	if readErr != nil {
		if errors.Is(readErr, syscall.EINVAL) {
			return DefaultSupported(), nil
		}
		return Supported{}, fmt.Errorf("read supported fabrics options: %w", readErr)
	}
	return ParseSupported(data)
}
