// SPDX-License-Identifier: Apache-2.0

// Package config owns the nvme-stas configuration files: /etc/stas/stafd.conf and
// /etc/stas/stacd.conf (sections, options, per-daemon defaults and ranges, the
// controller= and exclude= entry grammar, exclusion matching, time spans) and
// /etc/stas/sys.conf (host NQN, host ID, host key, symbolic name). It turns text into
// typed values and a list of Problems that name file, line, section and key; it never
// fails because of a bad value, only when a file cannot be read or is not text.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Paths of the configuration files.
const (
	StafdConfPath = "/etc/stas/stafd.conf"
	StacdConfPath = "/etc/stas/stacd.conf"
	SysConfPath   = "/etc/stas/sys.conf"
)

// Section names, exactly as nvme-stas spells them (section names are case-sensitive).
const (
	SectionGlobal           = "Global"
	SectionServiceDiscovery = "Service Discovery"
	SectionDCManagement     = "Discovery controller connection management"
	SectionIOCManagement    = "I/O controller connection management"
	SectionControllers      = "Controllers"
	SectionHost             = "Host"
)

// maxFileSize bounds what is read from a configuration file: these files are a few KiB,
// and reading a runaway file whole would only waste memory.
const maxFileSize = 1 << 20

// ErrSyntax is wrapped by the error Parse and Load return when a file cannot be used at
// all: it is not UTF-8 text, it is too large, or a section header is broken (every line
// after it would land in the wrong section).
var ErrSyntax = errors.New("configuration syntax error")

// Daemon selects whose option table applies: stafd and stacd accept different options
// and have different defaults.
type Daemon int

// The two daemons.
const (
	Stafd Daemon = iota + 1
	Stacd
)

// String returns the program name, "stafd" or "stacd".
func (d Daemon) String() string {
	switch d {
	case Stafd:
		return "stafd"
	case Stacd:
		return "stacd"
	}
	return "Daemon(" + strconv.Itoa(int(d)) + ")"
}

// ConfPath returns the daemon's configuration file path.
func (d Daemon) ConfPath() string {
	if d == Stacd {
		return StacdConfPath
	}
	return StafdConfPath
}

func (d Daemon) valid() bool { return d == Stafd || d == Stacd }

// other returns the other daemon, for hints about options that belong to it.
func (d Daemon) other() Daemon {
	if d == Stafd {
		return Stacd
	}
	return Stafd
}

// Optional is a value that may be absent. Connection options use it so that "not set"
// (the kernel default applies) is distinct from any value.
type Optional[T any] struct {
	Value T
	Set   bool
}

// Some returns a set Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Value: v, Set: true} }

// Get returns the value and whether it is set.
func (o Optional[T]) Get() (T, bool) { return o.Value, o.Set }

// Or returns the value if set, otherwise def.
func (o Optional[T]) Or(def T) T {
	if o.Set {
		return o.Value
	}
	return def
}

// String returns the value in config-file syntax, or "" when not set.
func (o Optional[T]) String() string {
	if !o.Set {
		return ""
	}
	return fmt.Sprint(o.Value)
}

// ConnectionOptions are the fabrics connection parameters that [Global] sets for every
// controller and that a controller= entry may override for itself. Unset fields leave the
// choice to the kernel (or to the fabrics layer's own default).
type ConnectionOptions struct {
	HdrDigest      Optional[bool] // hdr-digest
	DataDigest     Optional[bool] // data-digest
	KATO           Optional[int]  // kato: keep-alive timeout, seconds (0 = none)
	QueueSize      Optional[int]  // queue-size: 16..1024
	ReconnectDelay Optional[int]  // reconnect-delay: seconds
	CtrlLossTmo    Optional[int]  // ctrl-loss-tmo: seconds, -1 = reconnect forever
	DisableSQFlow  Optional[bool] // disable-sqflow
	NrIOQueues     Optional[int]  // nr-io-queues
	NrWriteQueues  Optional[int]  // nr-write-queues
	NrPollQueues   Optional[int]  // nr-poll-queues
}

// Merge returns o with every field that is set in override replaced by override's value.
func (o ConnectionOptions) Merge(override ConnectionOptions) ConnectionOptions {
	for _, f := range connFields {
		f.copyIfSet(&o, &override)
	}
	return o
}

// Map returns the set options keyed by their config-file names, in config-file syntax
// ("true", "30"); unset options are absent.
func (o ConnectionOptions) Map() map[string]string {
	m := make(map[string]string)
	for _, f := range connFields {
		if s := f.show(&o); s != "" {
			m[f.name] = s
		}
	}
	return m
}

// IPFamily is an IP address family allowed by ip-family.
type IPFamily int

// The address families.
const (
	IPv4 IPFamily = 4
	IPv6 IPFamily = 6
)

// String returns "ipv4" or "ipv6".
func (f IPFamily) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return "IPFamily(" + strconv.Itoa(int(f)) + ")"
}

// IPFamilies is the ordered ip-family setting: the first family is preferred (for
// example when a host name resolves to both).
type IPFamilies []IPFamily

// Allows reports whether addr belongs to an allowed family. IPv4-mapped IPv6 addresses
// count as IPv4.
func (fams IPFamilies) Allows(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	want := IPv6
	if addr.Unmap().Is4() {
		want = IPv4
	}
	return slices.Contains(fams, want)
}

// String returns the setting in config-file syntax, e.g. "ipv6+ipv4".
func (fams IPFamilies) String() string {
	s := ""
	for i, f := range fams {
		if i > 0 {
			s += "+"
		}
		s += f.String()
	}
	return s
}

// DisconnectScope is stacd's disconnect-scope setting.
type DisconnectScope string

// The disconnect scopes.
const (
	ScopeOnlyStasConnections = DisconnectScope("only-stas-connections")
	ScopeAllMatchingTrtypes  = DisconnectScope("all-connections-matching-disconnect-trtypes")
	ScopeNoDisconnect        = DisconnectScope("no-disconnect")
)

// TimeSpan is a duration that may be unbounded.
type TimeSpan struct {
	Duration time.Duration
	Forever  bool
}

// String returns "forever" or the duration.
func (t TimeSpan) String() string {
	if t.Forever {
		return "forever"
	}
	return t.Duration.String()
}

// Service types browsed through Avahi when zeroconf is enabled.
var zeroconfServiceTypes = []string{"_nvme-disc._tcp", "_nvme-disc._udp"}

// Config is the typed content of stafd.conf or stacd.conf. Fields that the daemon's table
// does not contain keep their defaults (for example PLEO in a stacd Config).
type Config struct {
	// Daemon is whose table the file was checked against.
	Daemon Daemon
	// Path is the file the configuration came from.
	Path string

	// [Global]
	Tron        bool              // tron
	IgnoreIface bool              // ignore-iface
	IPFamily    IPFamilies        // ip-family, in the order written
	PLEO        bool              // pleo (stafd)
	Connection  ConnectionOptions // hdr-digest, data-digest, kato, queue-size, ...

	// [Service Discovery] (stafd)
	Zeroconf bool // zeroconf

	// [Discovery controller connection management] (stafd)
	PersistentConnections          bool     // persistent-connections
	ZeroconfConnectionsPersistence TimeSpan // zeroconf-connections-persistence

	// [I/O controller connection management] (stacd)
	DisconnectScope      DisconnectScope // disconnect-scope
	DisconnectTrtypes    []string        // disconnect-trtypes, deduplicated, in the order written
	ConnectAttemptsOnNCC int             // connect-attempts-on-ncc: 0 = never give up, else >= 2

	// [Controllers]
	Controllers []Controller // controller=, in file order, invalid entries left out
	Excludes    []Exclude    // exclude=, in file order, invalid entries left out
}

// ServiceTypes returns the DNS-SD service types stafd browses: none when zeroconf is
// disabled.
func (c *Config) ServiceTypes() []string {
	if !c.Zeroconf {
		return []string{}
	}
	return slices.Clone(zeroconfServiceTypes)
}

// Excluded reports whether any exclude= entry matches the controller whose identity
// fields are given (see Exclude.Matches).
func (c *Config) Excluded(fields map[string]string) bool {
	return Excluded(c.Excludes, fields)
}

// Defaults returns the configuration that applies when d's file is absent or empty.
func Defaults(d Daemon) *Config {
	c := &Config{
		Daemon:                         d,
		Path:                           d.ConfPath(),
		IPFamily:                       IPFamilies{IPv4, IPv6},
		PLEO:                           true,
		Zeroconf:                       true,
		PersistentConnections:          true,
		ZeroconfConnectionsPersistence: TimeSpan{Duration: 72 * time.Hour},
		DisconnectScope:                ScopeOnlyStasConnections,
		DisconnectTrtypes:              []string{"tcp"},
		Connection: ConnectionOptions{
			HdrDigest:  Some(false),
			DataDigest: Some(false),
		},
	}
	if d == Stafd {
		c.Connection.KATO = Some(30)
	}
	return c
}

// Load reads and parses d's configuration file at path. A missing file is not an error:
// the defaults apply. On error (unreadable file, not text, broken section header) it
// returns a nil Config so that the caller keeps the configuration it had.
func Load(d Daemon, path string) (*Config, []Problem, error) {
	if !d.valid() {
		return nil, nil, fmt.Errorf("load config %s: unknown daemon %v", path, d)
	}
	data, err := readFileLimited(rootFS(), path)
	if errors.Is(err, fs.ErrNotExist) {
		c := Defaults(d)
		c.Path = path
		return c, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load %s config: %w", d, err)
	}
	return Parse(d, path, data)
}

// Reload loads prev's file again for prev's daemon. On error it returns prev itself with
// the error, so that `cfg, problems, err = config.Reload(cfg)` keeps the last good
// configuration.
func Reload(prev *Config) (*Config, []Problem, error) {
	if prev == nil {
		return nil, nil, errors.New("reload config: no previous configuration")
	}
	c, problems, err := Load(prev.Daemon, prev.Path)
	if err != nil {
		return prev, nil, err
	}
	return c, problems, nil
}

// Parse parses configuration text for daemon d; name is the file name used in problems
// and in Config.Path. It returns an error wrapping ErrSyntax, and a nil Config, only when
// the text cannot be used at all.
func Parse(d Daemon, name string, data []byte) (*Config, []Problem, error) {
	if !d.valid() {
		return nil, nil, fmt.Errorf("parse config %s: unknown daemon %v", name, d)
	}
	probs := &problemList{file: name}
	doc, err := parseINI(name, data, probs)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s config: %w", d, err)
	}
	c := Defaults(d)
	c.Path = name
	t := tableFor(d)
	t.checkNames(doc, probs)
	t.apply(c, doc, probs)
	return c, probs.sorted(), nil
}
