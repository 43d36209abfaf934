// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// Field names of a controller's identity, as written in controller= / exclude= entries,
// as nvme-stas shows them on D-Bus, and as Exclude.Matches expects them.
const (
	FieldTransport        = "transport"
	FieldTraddr           = "traddr"
	FieldTrsvcid          = "trsvcid"
	FieldSubsysNQN        = "subsysnqn"
	FieldHostTraddr       = "host-traddr"
	FieldHostIface        = "host-iface"
	FieldHostNQN          = "host-nqn"
	FieldDHCHAPSecret     = "dhchap-secret"
	FieldDHCHAPCtrlSecret = "dhchap-ctrl-secret"
)

// aliasNQN is the config-file spelling of subsysnqn.
const aliasNQN = "nqn"

// Transports a controller= entry may name.
var controllerTransports = []string{"tcp", "rdma", "fc", "loop"}

// Default ports (design.md): 8009 for a TCP discovery controller, 4420 for a TCP I/O
// controller (nvme-stas used 8009 for both, quirk 5) and for RDMA.
const (
	DiscoveryPort = "8009"
	IOPort        = "4420"
)

// Param is one key=value pair of an entry.
type Param struct {
	Key   string
	Value string
}

// Controller is a controller= entry that passed validation: a discovery controller in
// stafd.conf, an I/O controller in stacd.conf. Every string field is safe to put in the
// kernel's comma-separated option string.
type Controller struct {
	// Line is the entry's line in the config file (0 if it did not come from a file).
	Line int

	Transport  string // tcp, rdma, fc or loop
	Traddr     string // IP address or host name (tcp, rdma), FC address, "" for loop
	Trsvcid    string // port, defaulted for tcp and rdma; "" for fc and loop
	Subsysnqn  string // for stafd defaulted to the well-known discovery NQN
	HostTraddr string // "" when not given
	HostIface  string // "" when not given
	HostNQN    string // "" when not given: the system host NQN applies

	DHCHAPSecret     Secret // dhchap-secret: the host's secret for this controller
	DHCHAPCtrlSecret Secret // dhchap-ctrl-secret: the controller's secret (bidirectional)

	// Options holds the entry's own connection options; unset fields take the [Global]
	// value (see EffectiveOptions).
	Options ConnectionOptions

	// Extra holds the other keys, in the order written: [Global]-only options (tron,
	// pleo, ip-family, ignore-iface), normalised, and unknown keys as written. nvme-stas
	// shows them on D-Bus and otherwise ignores them.
	Extra []Param
}

// EffectiveOptions returns the connection options for this controller: the entry's own
// over global.
func (c Controller) EffectiveOptions(global ConnectionOptions) ConnectionOptions {
	return global.Merge(c.Options)
}

// Fields returns the entry as nvme-stas's controller dictionary: identity fields (always
// present, "" when empty; host-nqn only when given), the secrets in clear, the entry's own
// connection options and the extra keys. It is what exclude= entries are matched against
// for configured controllers.
func (c Controller) Fields() map[string]string {
	m := c.Options.Map()
	for _, p := range c.Extra {
		m[p.Key] = p.Value
	}
	m[FieldTransport] = c.Transport
	m[FieldTraddr] = c.Traddr
	m[FieldTrsvcid] = c.Trsvcid
	m[FieldSubsysNQN] = c.Subsysnqn
	m[FieldHostTraddr] = c.HostTraddr
	m[FieldHostIface] = c.HostIface
	if c.HostNQN != "" {
		m[FieldHostNQN] = c.HostNQN
	}
	if c.DHCHAPSecret != "" {
		m[FieldDHCHAPSecret] = c.DHCHAPSecret.Reveal()
	}
	if c.DHCHAPCtrlSecret != "" {
		m[FieldDHCHAPCtrlSecret] = c.DHCHAPCtrlSecret.Reveal()
	}
	return m
}

// DisplayFields is Fields with the secrets replaced by RedactedSecret, for D-Bus and logs.
func (c Controller) DisplayFields() map[string]string {
	m := c.Fields()
	for _, k := range secretKeys {
		if _, ok := m[k]; ok {
			m[k] = RedactedSecret
		}
	}
	return m
}

// String returns nvme-stas's controller notation,
// "(transport, traddr, trsvcid[, subsysnqn][, host-iface][, host-traddr])".
func (c Controller) String() string {
	s := "(" + c.Transport + ", " + c.Traddr + ", " + c.Trsvcid
	for _, f := range []string{c.Subsysnqn, c.HostIface, c.HostTraddr} {
		if f != "" {
			s += ", " + f
		}
	}
	return s + ")"
}

// Exclude is an exclude= entry: a controller is excluded when it has every one of the
// entry's key/value pairs. An Exclude always has at least one condition.
type Exclude struct {
	// Line is the entry's line in the config file (0 if it did not come from a file).
	Line int
	// Conditions are the pairs to match, in the order written; nqn is spelled subsysnqn
	// and connection options are normalised ("TRUE" becomes "true").
	Conditions []Param
}

// Get returns the value a condition requires for key.
func (x Exclude) Get(key string) (string, bool) {
	for _, p := range x.Conditions {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Matches reports whether the controller whose fields are given (keyed like
// Controller.Fields: transport, traddr, trsvcid, subsysnqn, host-iface, host-nqn, ...)
// satisfies every condition. A key missing from fields never matches. traddr and
// host-traddr compare as IP addresses when both sides parse as one (so "::ffff:1.2.3.4"
// equals "1.2.3.4" and IPv6 case and zero compression do not matter); everything else
// compares as exact text.
func (x Exclude) Matches(fields map[string]string) bool {
	if len(x.Conditions) == 0 {
		return false // an empty entry must never exclude everything (quirk 1)
	}
	for _, cond := range x.Conditions {
		v, ok := fields[cond.Key]
		if !ok || !fieldEqual(cond.Key, cond.Value, v) {
			return false
		}
	}
	return true
}

// String returns the entry in config syntax with secrets redacted.
func (x Exclude) String() string {
	parts := make([]string, len(x.Conditions))
	for i, p := range x.Conditions {
		v := p.Value
		if isSecretKey(p.Key) {
			v = RedactedSecret
		}
		parts[i] = p.Key + "=" + v
	}
	return strings.Join(parts, ";")
}

// Excluded reports whether any of excludes matches the controller's fields.
func Excluded(excludes []Exclude, fields map[string]string) bool {
	for _, x := range excludes {
		if x.Matches(fields) {
			return true
		}
	}
	return false
}

func fieldEqual(key, want, got string) bool {
	if want == got {
		return true
	}
	if key != FieldTraddr && key != FieldHostTraddr {
		return false
	}
	a, errA := netip.ParseAddr(want)
	b, errB := netip.ParseAddr(got)
	return errA == nil && errB == nil && a.Unmap() == b.Unmap()
}

// entryToken is one key=value token of an entry.
type entryToken struct {
	key, value, raw string
}

// badToken is a token that is not key=value.
type badToken struct {
	raw, reason string
}

// splitEntry tokenises an entry as nvme-stas's _parse_controller does, with the design's
// fixes: tokens are separated by ';' (white space around it is dropped, empty tokens are
// skipped) and each token is split on its FIRST '=' so that base64 secrets ending in '='
// survive (quirk 3). Keys are case-sensitive; "nqn" becomes "subsysnqn"; a repeated key
// keeps its last value.
func splitEntry(text string) (params []Param, raws []string, dups []entryToken, bad []badToken) {
	index := make(map[string]int)
	for raw := range strings.SplitSeq(text, ";") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		k, v, ok := strings.Cut(raw, "=")
		if !ok {
			bad = append(bad, badToken{raw, `not a key=value pair (no "=")`})
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			bad = append(bad, badToken{raw, `no key before "="`})
			continue
		}
		if k == aliasNQN {
			k = FieldSubsysNQN
		}
		if i, seen := index[k]; seen {
			params[i].Value = v
			raws[i] = raw
			dups = append(dups, entryToken{k, v, raw})
			continue
		}
		index[k] = len(params)
		params = append(params, Param{k, v})
		raws = append(raws, raw)
	}
	return params, raws, dups, bad
}

// entryGlobalKeys are [Global] options that are not connection options. nvme-stas
// validates them in an entry like the global option; they have no effect per controller.
var entryGlobalKeys = map[string]func(string) (string, error){
	"tron": func(s string) (string, error) {
		v, err := parseBool(s, "true", "false")
		return strconv.FormatBool(v), err
	},
	"ignore-iface": func(s string) (string, error) {
		v, err := parseBool(s, "true", "false")
		return strconv.FormatBool(v), err
	},
	"pleo": func(s string) (string, error) {
		v, err := parseBool(s, "enabled", "disabled")
		if v {
			return "enabled", err
		}
		return "disabled", err
	},
	"ip-family": func(s string) (string, error) { v, err := parseIPFamily(s); return v.String(), err },
}

// normaliseOption validates a connection option or [Global] option found in an entry and
// returns it in canonical form. known is false for any other key.
func normaliseOption(key, value string) (norm string, known bool, err error) {
	if f, ok := connFieldByName(key); ok {
		var o ConnectionOptions
		if err := f.set(&o, value); err != nil {
			return "", true, err
		}
		return f.show(&o), true, nil
	}
	if check, ok := entryGlobalKeys[key]; ok {
		norm, err := check(value)
		return norm, true, err
	}
	return "", false, nil
}

// entryKeys are the keys an entry may use besides connection and [Global] options.
var entryKeys = []string{FieldTransport, FieldTraddr, FieldTrsvcid, aliasNQN, FieldSubsysNQN, FieldHostTraddr,
	FieldHostIface, FieldHostNQN, FieldDHCHAPSecret, FieldDHCHAPCtrlSecret}

// unknownKeyHint guesses what an unknown key meant.
func unknownKeyHint(key, value string) string {
	all := append([]string(nil), entryKeys...)
	for _, f := range connFields {
		all = append(all, f.name)
	}
	for k := range entryGlobalKeys {
		all = append(all, k)
	}
	for _, k := range all {
		if strings.EqualFold(k, key) {
			return "keys are case-sensitive: did you mean " + k + "?"
		}
	}
	if strings.Contains(value, ",") {
		return `tokens are separated by ";", not ","`
	}
	return ""
}

// parseController parses one controller= value for daemon d. It reports every problem
// against line and returns false when the entry cannot be used.
func parseController(d Daemon, text string, line int, probs *problemList) (Controller, bool) {
	const sect, key = SectionControllers, keyController
	params, raws, dups, bad := splitEntry(text)
	for _, b := range bad {
		probs.errorf(line, sect, key, b.raw, "token ignored", "%s", b.reason)
	}
	for _, t := range dups {
		probs.warnf(line, sect, key, t.raw, "", "%q given more than once; the last value is used", t.key)
	}
	if len(params) == 0 {
		probs.errorf(line, sect, key, text, "entry dropped", "no key=value pairs")
		return Controller{}, false
	}

	c := Controller{Line: line}
	for i, p := range params {
		switch p.Key {
		case FieldTransport:
			c.Transport = p.Value
		case FieldTraddr:
			c.Traddr = p.Value
		case FieldTrsvcid:
			c.Trsvcid = p.Value
		case FieldSubsysNQN:
			c.Subsysnqn = p.Value
		case FieldHostTraddr:
			c.HostTraddr = p.Value
		case FieldHostIface:
			c.HostIface = p.Value
		case FieldHostNQN:
			c.HostNQN = p.Value
		case FieldDHCHAPSecret:
			c.DHCHAPSecret = Secret(p.Value)
		case FieldDHCHAPCtrlSecret:
			c.DHCHAPCtrlSecret = Secret(p.Value)
		default:
			if f, ok := connFieldByName(p.Key); ok {
				// An invalid override is dropped so that the [Global] value applies;
				// nvme-stas kept the raw text when the default was None (quirk 6).
				if err := f.set(&c.Options, p.Value); err != nil {
					probs.warnf(line, sect, key, raws[i], "override dropped, the [Global] value applies", "%s: %v", p.Key, err)
				}
				continue
			}
			norm, known, err := normaliseOption(p.Key, p.Value)
			switch {
			case known && err != nil:
				probs.warnf(line, sect, key, raws[i], "key dropped", "%s: %v", p.Key, err)
			case known:
				c.Extra = append(c.Extra, Param{p.Key, norm})
			default:
				c.Extra = append(c.Extra, p)
				probs.warnf(line, sect, key, raws[i], "kept for display only", "%s", withHint("unknown key "+strconv.Quote(p.Key), unknownKeyHint(p.Key, p.Value)))
			}
		}
	}
	if reason := c.complete(d, line, probs); reason != "" {
		probs.errorf(line, sect, key, text, "entry dropped", "%s", reason)
		return Controller{}, false
	}
	return c, true
}

// complete applies the defaults to a parsed entry and validates it for d. It returns why
// the entry cannot be used, or "".
func (c *Controller) complete(d Daemon, line int, probs *problemList) string {
	switch {
	case c.Transport == "":
		return "no transport"
	case !slices.Contains(controllerTransports, c.Transport):
		return withHint(fmt.Sprintf("unknown transport %q: expected tcp, rdma, fc or loop", c.Transport), unknownKeyHint("", c.Transport))
	}
	ip := c.Transport == "tcp" || c.Transport == "rdma"

	switch {
	case c.Traddr == "" && c.Transport != "loop":
		return "no traddr"
	case ip && !validHostOrAddr(c.Traddr):
		hint := ""
		if strings.HasPrefix(c.Traddr, "[") {
			hint = "write IPv6 addresses without brackets"
		}
		return withHint(fmt.Sprintf("traddr %q is neither an IP address nor a host name", c.Traddr), hint)
	case c.Traddr != "" && !validOptionText(c.Traddr):
		return fmt.Sprintf("traddr %q contains a space, a comma or a control character", c.Traddr)
	}

	if ip {
		switch {
		case c.Trsvcid == "" && (c.Transport == "rdma" || d == Stacd):
			c.Trsvcid = IOPort
		case c.Trsvcid == "":
			c.Trsvcid = DiscoveryPort
		default:
			port, err := strconv.ParseUint(c.Trsvcid, 10, 16)
			if err != nil || port == 0 {
				return fmt.Sprintf("trsvcid %q is not a port number (1..65535)", c.Trsvcid)
			}
			c.Trsvcid = strconv.FormatUint(port, 10)
		}
	} else if c.Trsvcid != "" {
		// nvme-stas dropped fc and loop entries for their empty trsvcid (quirk 4); they
		// have no port, so a given one is ignored and the entry kept.
		probs.warnf(line, SectionControllers, keyController, FieldTrsvcid+"="+c.Trsvcid, "ignored", "%s has no trsvcid", c.Transport)
		c.Trsvcid = ""
	}

	switch {
	case c.Subsysnqn == "" && d == Stafd:
		c.Subsysnqn = nqn.WellKnownDiscovery
	case c.Subsysnqn == "":
		return "no subsysnqn (nqn=): stacd needs the subsystem NQN of an I/O controller"
	default:
		if err := nqn.ValidateSubsystem(c.Subsysnqn); err != nil {
			return "subsysnqn: " + err.Error()
		}
	}

	if c.HostTraddr != "" {
		if _, err := netip.ParseAddr(c.HostTraddr); ip && err != nil {
			return fmt.Sprintf("host-traddr %q is not an IP address", c.HostTraddr)
		}
		if !validOptionText(c.HostTraddr) {
			return fmt.Sprintf("host-traddr %q contains a space, a comma or a control character", c.HostTraddr)
		}
	}
	if c.HostIface != "" && !validIfaceName(c.HostIface) {
		return fmt.Sprintf("host-iface %q is not a valid interface name", c.HostIface)
	}
	if c.HostNQN != "" {
		if err := nqn.ValidateHost(c.HostNQN); err != nil {
			return "host-nqn: " + err.Error()
		}
	}
	// A bad secret drops the whole entry: connecting without it would either fail
	// authentication or, for the controller secret, skip authenticating the controller.
	if c.DHCHAPSecret != "" && ValidateSecret(c.DHCHAPSecret.Reveal()) != nil {
		return FieldDHCHAPSecret + ": " + ErrSecretFormat.Error()
	}
	if c.DHCHAPCtrlSecret != "" && ValidateSecret(c.DHCHAPCtrlSecret.Reveal()) != nil {
		return FieldDHCHAPCtrlSecret + ": " + ErrSecretFormat.Error()
	}
	return ""
}

// parseExclude parses one exclude= value. An exclude entry is never widened: if any of
// its tokens is malformed or has an invalid value the whole entry is rejected, and an
// entry left without conditions is rejected instead of excluding every controller
// (quirk 1). As in nvme-stas, host-traddr does not apply to exclusions and is removed.
func parseExclude(text string, line int, probs *problemList) (Exclude, bool) {
	const sect, key = SectionControllers, keyExclude
	const rejected = "exclude entry ignored"
	params, raws, dups, bad := splitEntry(text)
	for _, b := range bad {
		probs.errorf(line, sect, key, b.raw, rejected, "%s", b.reason)
	}
	if len(bad) > 0 {
		return Exclude{}, false
	}
	for _, t := range dups {
		probs.warnf(line, sect, key, t.raw, "", "%q given more than once; the last value is used", t.key)
	}
	x := Exclude{Line: line}
	ok := true
	for i, p := range params {
		if p.Key == FieldHostTraddr {
			probs.warnf(line, sect, key, raws[i], "condition ignored", "host-traddr does not apply to exclude entries")
			continue
		}
		norm, known, err := normaliseOption(p.Key, p.Value)
		switch {
		case known && err != nil:
			probs.errorf(line, sect, key, raws[i], rejected, "%s: %v", p.Key, err)
			ok = false
			continue
		case known:
			p.Value = norm
		case !slices.Contains(entryKeys, p.Key):
			probs.warnf(line, sect, key, raws[i], "", "%s", withHint(
				"unknown key "+strconv.Quote(p.Key)+": only controllers that carry it can match", unknownKeyHint(p.Key, p.Value)))
		}
		x.Conditions = append(x.Conditions, p)
	}
	if !ok {
		return Exclude{}, false
	}
	if len(x.Conditions) == 0 {
		probs.errorf(line, sect, key, text, rejected, "an empty exclude entry would exclude every controller")
		return Exclude{}, false
	}
	return x, true
}

// validOptionText reports whether s can go into the kernel's option string: printable
// ASCII without spaces or commas (a comma would start another option).
func validOptionText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return false
		}
	}
	return true
}

// validHostOrAddr accepts an IP address (with an optional IPv6 zone) or a host name made
// of letters, digits, '-', '_' and '.'.
func validHostOrAddr(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return validOptionText(s)
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// validIfaceName applies the kernel's dev_valid_name rules (at most 15 bytes, not "." or
// "..", no '/', ':' or white space) and refuses what the option string cannot carry.
func validIfaceName(s string) bool {
	if len(s) == 0 || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return validOptionText(s) && !strings.ContainsAny(s, "/:")
}
