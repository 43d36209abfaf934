// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Option names that are not plain connection options.
const (
	keyController = "controller"
	keyExclude    = "exclude"
)

// maxKernelInt is the largest value the kernel's "%d" option parser takes.
const maxKernelInt = math.MaxInt32

// note is a remark made while accepting a value (a dropped list item, a raised minimum).
type note struct {
	level  slog.Level
	reason string
}

// optionSpec describes one option of a daemon's table.
type optionSpec struct {
	section string
	name    string
	typ     string // accepted values, for Table and documentation
	list    bool   // controller= and exclude= keep every occurrence
	// set parses text into c. On error c is left as it was, so the default stays.
	set func(c *Config, text string) ([]note, error)
	// show renders the current value in config syntax; "" means "not set".
	show func(c *Config) string
}

// connField is one of the connection options shared by [Global] and controller= entries.
type connField struct {
	name    string
	lo, hi  int // integer range, inclusive
	boolean func(*ConnectionOptions) *Optional[bool]
	integer func(*ConnectionOptions) *Optional[int]
}

// connFields lists the connection options in nvme-stas's order. Ranges beyond
// queue-size's are the kernel's (nvme-protocol.md §1.2): a value outside them makes every
// connect fail with EINVAL, so it is refused here, where the user can be told.
var connFields = []connField{
	{name: "hdr-digest", boolean: func(o *ConnectionOptions) *Optional[bool] { return &o.HdrDigest }},
	{name: "data-digest", boolean: func(o *ConnectionOptions) *Optional[bool] { return &o.DataDigest }},
	{name: "kato", lo: 0, hi: maxKernelInt, integer: func(o *ConnectionOptions) *Optional[int] { return &o.KATO }},
	{name: "queue-size", lo: 16, hi: 1024, integer: func(o *ConnectionOptions) *Optional[int] { return &o.QueueSize }},
	{name: "reconnect-delay", lo: 1, hi: maxKernelInt, integer: func(o *ConnectionOptions) *Optional[int] { return &o.ReconnectDelay }},
	{name: "ctrl-loss-tmo", lo: -1, hi: maxKernelInt, integer: func(o *ConnectionOptions) *Optional[int] { return &o.CtrlLossTmo }},
	{name: "disable-sqflow", boolean: func(o *ConnectionOptions) *Optional[bool] { return &o.DisableSQFlow }},
	{name: "nr-io-queues", lo: 1, hi: maxKernelInt, integer: func(o *ConnectionOptions) *Optional[int] { return &o.NrIOQueues }},
	{name: "nr-write-queues", lo: 1, hi: maxKernelInt, integer: func(o *ConnectionOptions) *Optional[int] { return &o.NrWriteQueues }},
	{name: "nr-poll-queues", lo: 1, hi: maxKernelInt, integer: func(o *ConnectionOptions) *Optional[int] { return &o.NrPollQueues }},
}

func connFieldByName(name string) (connField, bool) {
	for _, f := range connFields {
		if f.name == name {
			return f, true
		}
	}
	return connField{}, false
}

func (f connField) typ() string {
	if f.boolean != nil {
		return "boolean"
	}
	return "integer " + rangeText(f.lo, f.hi)
}

func (f connField) set(o *ConnectionOptions, text string) error {
	if f.boolean != nil {
		v, err := parseBool(text, "true", "false")
		if err != nil {
			return err
		}
		*f.boolean(o) = Some(v)
		return nil
	}
	v, err := parseInt(text, f.lo, f.hi)
	if err != nil {
		return err
	}
	*f.integer(o) = Some(v)
	return nil
}

func (f connField) show(o *ConnectionOptions) string {
	if f.boolean != nil {
		return f.boolean(o).String()
	}
	return f.integer(o).String()
}

func (f connField) copyIfSet(dst, src *ConnectionOptions) {
	if f.boolean != nil {
		if v := *f.boolean(src); v.Set {
			*f.boolean(dst) = v
		}
		return
	}
	if v := *f.integer(src); v.Set {
		*f.integer(dst) = v
	}
}

// badValue is the reason a value was refused.
type badValue string

func (e badValue) Error() string { return string(e) }

const errEmpty = badValue("empty value")

// parseBool accepts exactly the two words, case-insensitively, as nvme-stas does (so
// "yes", "1" and "on" are refused).
func parseBool(text, yes, no string) (bool, error) {
	switch {
	case text == "":
		return false, errEmpty
	case strings.EqualFold(text, yes):
		return true, nil
	case strings.EqualFold(text, no):
		return false, nil
	}
	return false, badValue(fmt.Sprintf("must be %q or %q", yes, no))
}

// parseInt accepts a decimal integer with an optional sign (Python's int() without its
// rarely used underscores) within [lo, hi].
func parseInt(text string, lo, hi int) (int, error) {
	if text == "" {
		return 0, errEmpty
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, badValue("not within range " + rangeText(lo, hi))
		}
		return 0, badValue("not an integer")
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, badValue("not within range " + rangeText(lo, hi))
	}
	return int(v), nil
}

func rangeText(lo, hi int) string {
	if hi == maxKernelInt {
		return strconv.Itoa(lo) + "..N"
	}
	return strconv.Itoa(lo) + ".." + strconv.Itoa(hi)
}

func parseIPFamily(text string) (IPFamilies, error) {
	switch text {
	case "":
		return nil, errEmpty
	case "ipv4":
		return IPFamilies{IPv4}, nil
	case "ipv6":
		return IPFamilies{IPv6}, nil
	case "ipv4+ipv6":
		return IPFamilies{IPv4, IPv6}, nil
	case "ipv6+ipv4":
		return IPFamilies{IPv6, IPv4}, nil
	}
	return nil, badValue(`must be "ipv4", "ipv6", "ipv4+ipv6" or "ipv6+ipv4" (case-sensitive)`)
}

func parseScope(text string) (DisconnectScope, error) {
	switch s := DisconnectScope(text); s {
	case ScopeOnlyStasConnections, ScopeAllMatchingTrtypes, ScopeNoDisconnect:
		return s, nil
	case "":
		return "", errEmpty
	}
	return "", badValue(fmt.Sprintf("must be %q, %q or %q", ScopeOnlyStasConnections, ScopeAllMatchingTrtypes, ScopeNoDisconnect))
}

// disconnectTrtypes are the transports disconnect-trtypes may name.
var disconnectTrtypes = []string{"tcp", "rdma", "fc"}

// parseTrtypes splits a '+'-separated transport list; unknown items are dropped with a
// note, duplicates silently, and a list with nothing valid left is refused.
func parseTrtypes(text string) ([]string, []note, error) {
	if text == "" {
		return nil, nil, errEmpty
	}
	var out []string
	var notes []note
	for item := range strings.SplitSeq(text, "+") {
		item = strings.TrimSpace(item)
		switch {
		case slices.Contains(out, item):
		case slices.Contains(disconnectTrtypes, item):
			out = append(out, item)
		default:
			notes = append(notes, note{slog.LevelWarn, fmt.Sprintf("unknown transport %q ignored (tcp, rdma or fc)", item)})
		}
	}
	if len(out) == 0 {
		return nil, nil, badValue("no valid transport (tcp, rdma or fc)")
	}
	return out, notes, nil
}

// parseNCC parses connect-attempts-on-ncc: 0 means never give up, 1 is raised to 2 (the
// minimum, as in nvme-stas). A negative value is refused: nvme-stas then gave up after a
// single attempt (quirk 11).
func parseNCC(text string) (int, []note, error) {
	v, err := parseInt(text, 0, maxKernelInt)
	if err != nil {
		if v, perr := strconv.Atoi(text); perr == nil && v < 0 {
			return 0, nil, badValue("must be 0 (never give up) or a number of attempts")
		}
		return 0, nil, err
	}
	if v == 1 {
		return 2, []note{{slog.LevelInfo, "raised to 2, the minimum number of attempts"}}, nil
	}
	return v, nil, nil
}

// option specs shared by both daemons' tables.

func boolSpec(section, name string, field func(*Config) *bool) *optionSpec {
	return &optionSpec{
		section: section, name: name, typ: "boolean (true, false)",
		set: func(c *Config, text string) ([]note, error) {
			v, err := parseBool(text, "true", "false")
			if err == nil {
				*field(c) = v
			}
			return nil, err
		},
		show: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

func enabledSpec(section, name string, field func(*Config) *bool) *optionSpec {
	return &optionSpec{
		section: section, name: name, typ: "enabled, disabled",
		set: func(c *Config, text string) ([]note, error) {
			v, err := parseBool(text, "enabled", "disabled")
			if err == nil {
				*field(c) = v
			}
			return nil, err
		},
		show: func(c *Config) string {
			if *field(c) {
				return "enabled"
			}
			return "disabled"
		},
	}
}

func connSpec(name string) *optionSpec {
	f, _ := connFieldByName(name)
	return &optionSpec{
		section: SectionGlobal, name: name, typ: f.typ(),
		set:  func(c *Config, text string) ([]note, error) { return nil, f.set(&c.Connection, text) },
		show: func(c *Config) string { return f.show(&c.Connection) },
	}
}

var (
	specTron        = boolSpec(SectionGlobal, "tron", func(c *Config) *bool { return &c.Tron })
	specIgnoreIface = boolSpec(SectionGlobal, "ignore-iface", func(c *Config) *bool { return &c.IgnoreIface })
	specPLEO        = enabledSpec(SectionGlobal, "pleo", func(c *Config) *bool { return &c.PLEO })
	specIPFamily    = &optionSpec{
		section: SectionGlobal, name: "ip-family", typ: "ipv4, ipv6, ipv4+ipv6, ipv6+ipv4",
		set: func(c *Config, text string) ([]note, error) {
			v, err := parseIPFamily(text)
			if err == nil {
				c.IPFamily = v
			}
			return nil, err
		},
		show: func(c *Config) string { return c.IPFamily.String() },
	}
	specZeroconf   = enabledSpec(SectionServiceDiscovery, "zeroconf", func(c *Config) *bool { return &c.Zeroconf })
	specPersistent = boolSpec(SectionDCManagement, "persistent-connections", func(c *Config) *bool { return &c.PersistentConnections })
	specZCPersist  = &optionSpec{
		section: SectionDCManagement, name: "zeroconf-connections-persistence",
		typ: "time span (e.g. 72hours, 3 days 5 hours, 1:30:00), -1 = forever, 0 = immediately",
		set: func(c *Config, text string) ([]note, error) {
			if text == "" {
				return nil, errEmpty
			}
			v, err := ParseTimeSpan(text)
			if err != nil {
				return nil, badValue(`not a time span (e.g. "72hours", "3 days 5 hours", -1 for forever)`)
			}
			c.ZeroconfConnectionsPersistence = v
			return nil, nil
		},
		show: func(c *Config) string {
			if c.ZeroconfConnectionsPersistence.Forever {
				return "-1 (forever)"
			}
			return c.ZeroconfConnectionsPersistence.Duration.String()
		},
	}
	specScope = &optionSpec{
		section: SectionIOCManagement, name: "disconnect-scope",
		typ: "only-stas-connections, all-connections-matching-disconnect-trtypes, no-disconnect",
		set: func(c *Config, text string) ([]note, error) {
			v, err := parseScope(text)
			if err == nil {
				c.DisconnectScope = v
			}
			return nil, err
		},
		show: func(c *Config) string { return string(c.DisconnectScope) },
	}
	specTrtypes = &optionSpec{
		section: SectionIOCManagement, name: "disconnect-trtypes", typ: "'+'-separated subset of tcp, rdma, fc",
		set: func(c *Config, text string) ([]note, error) {
			v, notes, err := parseTrtypes(text)
			if err == nil {
				c.DisconnectTrtypes = v
			}
			return notes, err
		},
		show: func(c *Config) string { return strings.Join(c.DisconnectTrtypes, "+") },
	}
	specNCC = &optionSpec{
		section: SectionIOCManagement, name: "connect-attempts-on-ncc", typ: "integer: 0 = never give up, else >= 2",
		set: func(c *Config, text string) ([]note, error) {
			v, notes, err := parseNCC(text)
			if err == nil {
				c.ConnectAttemptsOnNCC = v
			}
			return notes, err
		},
		show: func(c *Config) string { return strconv.Itoa(c.ConnectAttemptsOnNCC) },
	}
	specController = &optionSpec{section: SectionControllers, name: keyController, typ: "controller entry (key=value;...)", list: true}
	specExclude    = &optionSpec{section: SectionControllers, name: keyExclude, typ: "exclude entry (key=value;...)", list: true}
)

// table is one daemon's set of valid options (§3.3, §3.4).
type table struct {
	daemon Daemon
	specs  []*optionSpec
}

var stafdTable = &table{daemon: Stafd, specs: []*optionSpec{
	specTron,
	connSpec("hdr-digest"), connSpec("data-digest"), connSpec("kato"), connSpec("queue-size"),
	connSpec("reconnect-delay"), connSpec("ctrl-loss-tmo"), connSpec("disable-sqflow"),
	specIgnoreIface, specIPFamily, specPLEO,
	specZeroconf,
	specPersistent, specZCPersist,
	specController, specExclude,
}}

var stacdTable = &table{daemon: Stacd, specs: []*optionSpec{
	specTron,
	connSpec("hdr-digest"), connSpec("data-digest"), connSpec("kato"),
	connSpec("nr-io-queues"), connSpec("nr-write-queues"), connSpec("nr-poll-queues"),
	connSpec("queue-size"), connSpec("reconnect-delay"), connSpec("ctrl-loss-tmo"), connSpec("disable-sqflow"),
	specIgnoreIface, specIPFamily,
	specScope, specTrtypes, specNCC,
	specController, specExclude,
}}

func tableFor(d Daemon) *table {
	if d == Stacd {
		return stacdTable
	}
	return stafdTable
}

func (t *table) hasSection(name string) bool {
	return slices.ContainsFunc(t.specs, func(s *optionSpec) bool { return s.section == name })
}

func (t *table) lookup(section, name string) *optionSpec {
	for _, s := range t.specs {
		if s.section == section && s.name == name {
			return s
		}
	}
	return nil
}

// legacyHints explain options that nvme-stas used to accept (§3.8).
var legacyHints = map[string]string{
	"blacklist":          "replaced by exclude= in nvme-stas 2.0",
	"udev-rule":          "removed in nvme-stas 2.1.3: stafd always overrides nvme-cli's udev rule",
	"sticky-connections": "replaced by disconnect-scope and disconnect-trtypes in [" + SectionIOCManagement + "]",
	"duplicate-connect":  "not supported",
}

// optionHint says where an unknown option probably belongs.
func (t *table) optionHint(section, name string) string {
	if t.daemon == Stafd && section == SectionGlobal && name == "persistent-connections" {
		return "moved to [" + SectionDCManagement + "] in nvme-stas 2.1"
	}
	if h, ok := legacyHints[name]; ok {
		return h
	}
	for _, s := range t.specs {
		if s.name == name {
			return "belongs in [" + s.section + "]"
		}
	}
	other := tableFor(t.daemon.other())
	for _, s := range other.specs {
		if s.name == name {
			return "only used by " + other.daemon.String()
		}
	}
	return ""
}

// sectionHint says what an unknown section name probably meant.
func (t *table) sectionHint(name string) string {
	trimmed := strings.TrimSpace(name)
	for _, s := range t.specs {
		if strings.EqualFold(s.section, trimmed) {
			return "section names are case-sensitive and exact: did you mean [" + s.section + "]?"
		}
	}
	if tableFor(t.daemon.other()).hasSection(name) {
		return "only used by " + t.daemon.other().String()
	}
	return ""
}

func withHint(reason, hint string) string {
	if hint == "" {
		return reason
	}
	return reason + " (" + hint + ")"
}

// checkNames reports unknown sections and options. nvme-stas logs them too, but then
// still honours an unknown option if its code asks for it; here they are ignored.
func (t *table) checkNames(doc *iniDoc, probs *problemList) {
	for _, s := range doc.sections {
		if !t.hasSection(s.name) {
			probs.errorf(s.line, s.name, "", "", "ignored", "%s", withHint("unknown section", t.sectionHint(s.name)))
			continue
		}
		for _, k := range s.keys {
			if t.lookup(s.name, k.name) != nil {
				continue
			}
			hint := t.optionHint(s.name, k.name)
			for _, v := range k.values {
				probs.errorf(v.line, s.name, k.name, v.text, "ignored", "%s%s", withHint("unknown option", hint), continuationHint(v.indented))
			}
		}
	}
}

// apply sets every option of the table from doc: the last occurrence of a scalar wins
// and a bad value leaves the default in place; controller= and exclude= keep every entry
// that is valid.
func (t *table) apply(c *Config, doc *iniDoc, probs *problemList) {
	for _, s := range t.specs {
		if s.list {
			continue
		}
		v, ok := doc.last(s.section, s.name)
		if !ok {
			continue
		}
		notes, err := s.set(c, v.text)
		if err != nil {
			probs.warnf(v.line, s.section, s.name, v.text, usingDefault(s.show(c)), "%v", err)
			continue
		}
		for _, n := range notes {
			probs.add(n.level, v.line, s.section, s.name, v.text, n.reason, "")
		}
	}
	for _, v := range doc.values(SectionControllers, keyController) {
		if ctrl, ok := parseController(t.daemon, v.text, v.line, probs); ok {
			c.Controllers = append(c.Controllers, ctrl)
		}
	}
	for _, v := range doc.values(SectionControllers, keyExclude) {
		if x, ok := parseExclude(v.text, v.line, probs); ok {
			c.Excludes = append(c.Excludes, x)
		}
	}
}

func usingDefault(shown string) string {
	if shown == "" {
		return "using the kernel default"
	}
	return "using default " + shown
}

// OptionInfo describes one row of a daemon's option table.
type OptionInfo struct {
	Section string
	Name    string
	Type    string // accepted values
	Default string // in config syntax; "" when the kernel default applies or there is none
}

// Table returns d's valid options, in nvme-stas's order, with their defaults.
func Table(d Daemon) []OptionInfo {
	def := Defaults(d)
	var out []OptionInfo
	for _, s := range tableFor(d).specs {
		info := OptionInfo{Section: s.section, Name: s.name, Type: s.typ}
		if s.show != nil {
			info.Default = s.show(def)
		}
		out = append(out, info)
	}
	return out
}
