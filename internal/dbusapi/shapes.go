// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Redacted is what a secret shows as on D-Bus: DH-HMAC-CHAP secrets and the host key are
// never sent (nvme-stas sends them to anyone who asks; design.md fixes that).
const Redacted = config.RedactedSecret

// UnknownDevice is the device name of a controller that has no kernel device yet.
const UnknownDevice = "nvme?"

// Keys of the dictionaries (behaviour reference §4.5) beyond the TID keys of package tid.
const (
	KeyDevice                       = "device"
	KeyConnectAttempts              = "connect attempts"
	KeyRetryConnectTimer            = "retry connect timer"
	KeyConnectOperation             = "connect operation"
	KeyOrigin                       = "origin"
	KeyUnresponsiveTimer            = "unresponsive timer"
	KeyUnresponsiveTimeout          = "unresponsive timeout"
	KeyUnresponsiveTime             = "unresponsive time"
	KeyGetLogPageOperation          = "get log page operation"
	KeyRegisterOperation            = "register operation"
	KeyGetSupportedLogPageOperation = "get supported log page operation"
	KeyHostID                       = "hostid"
	KeyHostNQN                      = "hostnqn"
	KeyModel                        = "model"
	KeySerial                       = "serial"
	KeyDCType                       = "dctype"
	KeyCntrlType                    = "cntrltype"
	KeyConnected                    = "connected"
	KeyDLPE                         = "dlpe"
	KeyDLPENCC                      = "dlpe.eflags.ncc"
	KeySrcAddr                      = "src-addr"

	KeyDiscoveryController = "discovery-controller"
	KeyLogPages            = "log-pages"
)

// DC origins.
const (
	OriginConfigured = "configured"
	OriginDiscovered = "discovered"
	OriginReferral   = "referral"
)

// IsSecretKey reports whether a configuration key holds a secret that must be shown as
// Redacted: any key naming a secret (dhchap-secret, dhchap-ctrl-secret, and whatever
// *-secret option comes next) or a key (hostkey).
func IsSecretKey(key string) bool {
	return strings.Contains(key, "secret") || strings.HasSuffix(key, "key")
}

// RedactValue returns value, or Redacted when key holds a secret and value is set.
func RedactValue(key, value string) string {
	if value != "" && IsSecretKey(key) {
		return Redacted
	}
	return value
}

// Option is one configuration entry of a controller (a cfg key of its TID: connection
// options from a controller= entry such as kato or dhchap-secret, or src-addr for a
// connection stacd's audit found).
type Option struct {
	Key   string
	Value string
}

// Operation is the state of an asynchronous operation on a controller (connect, get log
// page, register, get supported log pages), shown as Python's repr of nvme-stas's
// dict: {'fail count': N, 'completed': …, 'alive': …[, 'retry timer': …][, 'error': …]}.
type Operation struct {
	FailCount int
	// Completed is nil while the operation has not been started (Python None).
	Completed *bool
	Alive     bool
	// RetryTimer is the retry timer's string (see TimerString), "" when there is none.
	RetryTimer string
	// Error is the last failure, "" when none.
	Error string
}

// String returns the operation as nvme-stas shows it.
func (o Operation) String() string {
	d := NewDict("fail count", o.FailCount)
	if o.Completed == nil {
		d.Set("completed", nil)
	} else {
		d.Set("completed", *o.Completed)
	}
	d.Set("alive", o.Alive)
	if o.RetryTimer != "" {
		d.Set("retry timer", o.RetryTimer)
	}
	if o.Error != "" {
		d.Set("error", o.Error)
	}
	return PyRepr(d)
}

// TimerString formats a timer as nvme-stas does: "<interval>s [off]" when stopped, else
// "<interval>s [<remaining>s]", both numbers as Python floats ("60.0s [off]",
// "3.0s [2.51s]"); a running timer that is due shows "[0s]".
func TimerString(interval time.Duration, running bool, remaining time.Duration) string {
	s := pyFloat(interval.Seconds(), false) + "s ["
	switch {
	case !running:
		return s + "off]"
	case remaining.Microseconds() <= 0:
		return s + "0s]"
	default:
		return s + pyFloat(float64(remaining.Microseconds())/1e6, false) + "s]"
	}
}

// DCState is what only a discovery controller shows in its info dict.
type DCState struct {
	// Origin is OriginConfigured, OriginDiscovered or OriginReferral ("" omits the key:
	// nvme-stas's transient None origin could not be sent at all).
	Origin string
	// The unresponsive fields are shown for discovered DCs only.
	UnresponsiveTimer   string // TimerString
	UnresponsiveTimeout string // "<n> sec" or "forever"; see UnresponsiveTimeout
	UnresponsiveTime    string // time.asctime() of the loss, or "---"; see UnresponsiveSince
	GetLogPage          *Operation
	Register            *Operation
	GetSupportedLogPage *Operation
}

// UnresponsiveTimeout formats zeroconf-connections-persistence as nvme-stas shows it:
// "<seconds> sec", or "forever" when negative.
func UnresponsiveTimeout(d time.Duration) string {
	if d < 0 {
		return "forever"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " sec"
}

// UnresponsiveSince formats the moment a DC stopped answering as Python's time.asctime
// ("Mon Jan  2 15:04:05 2006"), or "---" for the zero time.
func UnresponsiveSince(t time.Time) string {
	if t.IsZero() {
		return "---"
	}
	return t.Format("Mon Jan _2 15:04:05 2006")
}

// IOCState is what only an I/O controller shows in its details dict.
type IOCState struct {
	// DLPE is the discovery log page entry the controller came from, nil for one that
	// comes from the configuration only (shown as None).
	DLPE map[string]string
	// NCC is the entry's Not Connected to CDC flag.
	NCC bool
}

// SysfsAttributes are the kernel's attributes of the controller's device, "" when not
// available.
type SysfsAttributes struct {
	HostID, HostNQN, Model, Serial, DCType, CntrlType string
}

// Controller is a snapshot of one controller as the D-Bus API publishes it. The daemons
// fill one per controller from their state and build the three dictionaries from it, so
// that every member shows the same controller the same way.
type Controller struct {
	TID tid.TID
	// Device is the kernel name ("nvme3"), "" when there is none (shown as "nvme?").
	Device string
	// Config are the TID's cfg entries other than host-nqn, in the order to show them.
	// Secret values are replaced by Redacted here, whatever the caller passes.
	Config            []Option
	ConnectAttempts   int
	RetryConnectTimer string // TimerString
	Connect           *Operation
	// DC is set for discovery controllers (stafd), IOC for I/O controllers (stacd).
	DC        *DCState
	IOC       *IOCState
	Sysfs     SysfsAttributes
	Connected bool
	// Extra are entries added at the end of the details dict (for example the reason an
	// interface was chosen).
	Extra []Option
}

// IDDict returns the controller id dict (list_controllers(false)): transport, traddr,
// trsvcid, subsysnqn, host-iface, host-traddr, host-nqn, device, then the cfg entries.
func (c *Controller) IDDict() *Dict {
	d := NewDict(
		tid.KeyTransport, c.TID.Transport,
		tid.KeyTraddr, c.TID.Traddr,
		tid.KeyTrsvcid, c.TID.Trsvcid,
		tid.KeySubsysNQN, c.TID.SubsysNQN,
		tid.KeyHostIface, c.TID.HostIface,
		tid.KeyHostTraddr, c.TID.HostTraddr,
		tid.KeyHostNQN, c.TID.HostNQN,
	)
	dev := c.Device
	if dev == "" {
		dev = UnknownDevice
	}
	d.Set(KeyDevice, dev)
	for _, o := range c.Config {
		if _, taken := d.Get(o.Key); taken {
			continue // the TID's own fields win over a cfg entry of the same name
		}
		d.Set(o.Key, RedactValue(o.Key, o.Value))
	}
	return d
}

// InfoDict returns the info dict (controller_info): the id dict, the connection state and,
// for a DC, its origin, unresponsive state and operations.
func (c *Controller) InfoDict() *Dict {
	d := c.IDDict()
	d.Set(KeyConnectAttempts, strconv.Itoa(c.ConnectAttempts))
	d.Set(KeyRetryConnectTimer, c.RetryConnectTimer)
	if c.Connect != nil {
		d.Set(KeyConnectOperation, c.Connect.String())
	}
	if dc := c.DC; dc != nil {
		if dc.Origin != "" {
			d.Set(KeyOrigin, dc.Origin)
		}
		if dc.Origin == OriginDiscovered {
			d.Set(KeyUnresponsiveTimer, dc.UnresponsiveTimer)
			d.Set(KeyUnresponsiveTimeout, dc.UnresponsiveTimeout)
			d.Set(KeyUnresponsiveTime, dc.UnresponsiveTime)
		}
		for _, op := range []struct {
			key string
			op  *Operation
		}{{KeyGetLogPageOperation, dc.GetLogPage}, {KeyRegisterOperation, dc.Register}, {KeyGetSupportedLogPageOperation, dc.GetSupportedLogPage}} {
			if op.op != nil {
				d.Set(op.key, op.op.String())
			}
		}
	}
	return d
}

// DetailsDict returns the details dict (list_controllers(true), get_all_log_pages(true)):
// the info dict, the device's sysfs attributes, connected, and for an I/O controller its
// log page entry and NCC flag.
func (c *Controller) DetailsDict() *Dict {
	d := c.InfoDict()
	d.Set(KeyHostID, c.Sysfs.HostID)
	d.Set(KeyHostNQN, c.Sysfs.HostNQN)
	d.Set(KeyModel, c.Sysfs.Model)
	d.Set(KeySerial, c.Sysfs.Serial)
	d.Set(KeyDCType, c.Sysfs.DCType)
	d.Set(KeyCntrlType, c.Sysfs.CntrlType)
	d.Set(KeyConnected, PyRepr(c.Connected))
	if c.IOC != nil {
		if c.IOC.DLPE == nil {
			d.Set(KeyDLPE, "None")
		} else {
			d.Set(KeyDLPE, PyRepr(c.IOC.DLPE))
		}
		d.Set(KeyDLPENCC, PyRepr(c.IOC.NCC))
	}
	for _, o := range c.Extra {
		d.Set(o.Key, RedactValue(o.Key, o.Value))
	}
	return d
}

// InfoJSON returns controller_info's answer for c.
func (c *Controller) InfoJSON() string { return c.InfoDict().JSON() }

// ControllerList returns list_controllers' answer: id dicts, or details dicts when
// detailed. It never returns nil.
func ControllerList(cs []Controller, detailed bool) []map[string]string {
	out := make([]map[string]string, 0, len(cs))
	for i := range cs {
		if detailed {
			out = append(out, cs[i].DetailsDict().StringMap())
		} else {
			out = append(out, cs[i].IDDict().StringMap())
		}
	}
	return out
}

// DCLogPages is one discovery controller with its cached log page entries.
type DCLogPages struct {
	Controller Controller
	LogPages   []map[string]string
}

// AllLogPagesJSON returns get_all_log_pages' answer: a JSON array of
// {"discovery-controller": <id or details dict>, "log-pages": [<entry>, …]}.
func AllLogPagesJSON(dcs []DCLogPages, detailed bool) string {
	list := make([]*Dict, 0, len(dcs))
	for i := range dcs {
		var id *Dict
		if detailed {
			id = dcs[i].Controller.DetailsDict()
		} else {
			id = dcs[i].Controller.IDDict()
		}
		pages := dcs[i].LogPages
		if pages == nil {
			pages = []map[string]string{}
		}
		list = append(list, NewDict(KeyDiscoveryController, id, KeyLogPages, pages))
	}
	return PyJSON(list)
}

// AvahiService is one mDNS service stafd has found.
type AvahiService struct {
	// Interface, Protocol ("IPv4" or "IPv6"), Name, Domain and Type identify the service.
	Interface, Protocol, Name, Domain, Type          string
	Transport, Traddr, Trsvcid, HostIface, SubsysNQN string
	Reachable                                        bool
}

// Key returns the service's key in process_info: "(<iface>, <IPv4|IPv6>, <name>.<domain>, <type>)".
func (s AvahiService) Key() string {
	return "(" + s.Interface + ", " + s.Protocol + ", " + s.Name + "." + s.Domain + ", " + s.Type + ")"
}

// AvahiState is stafd's mDNS client state in process_info.
type AvahiState struct {
	WakeUpTimer  string // TimerString
	ServiceTypes []string
	Services     []AvahiService
}

// TerminatorEntry is a controller awaiting disposal.
type TerminatorEntry struct {
	TID  tid.TID
	Info *Dict // the controller's info dict
}

// ProcessInfo is process_info's answer (behaviour reference §4.5).
type ProcessInfo struct {
	Tron     bool
	LogLevel string
	HostNQN  string
	HostID   string
	// HostKeySet says whether a host key is configured; it is shown as Redacted, or null.
	HostKeySet bool
	// Symname is the host symbolic name, nil for none (null).
	Symname               *string
	LastKnownConfigFile   string
	ConfigSoakTimer       string // TimerString
	KernelTP8013          bool
	KernelHostIface       bool
	TerminatorAuditTimer  string // TimerString
	TerminatorControllers []TerminatorEntry
	Avahi                 *AvahiState // stafd only
	Extra                 *Dict       // further entries, appended last
}

// Dict returns the document in nvme-stas's key order.
func (p *ProcessInfo) Dict() *Dict {
	d := NewDict("tron", p.Tron, "log-level", p.LogLevel, "hostnqn", p.HostNQN, "hostid", p.HostID)
	if p.HostKeySet {
		d.Set("hostkey", Redacted)
	} else {
		d.Set("hostkey", nil)
	}
	if p.Symname != nil {
		d.Set("symname", *p.Symname)
	} else {
		d.Set("symname", nil)
	}
	d.Set("last known config file", p.LastKnownConfigFile)
	d.Set("config soak timer", p.ConfigSoakTimer)
	d.Set("kernel support.TP8013", PyRepr(p.KernelTP8013))
	d.Set("kernel support.host_iface", PyRepr(p.KernelHostIface))
	d.Set("terminator.audit timer", p.TerminatorAuditTimer)
	for _, e := range p.TerminatorControllers {
		d.Set("terminator.controller."+e.TID.String(), PyRepr(e.Info))
	}
	if a := p.Avahi; a != nil {
		services := &Dict{}
		for _, s := range a.Services {
			services.Set(s.Key(), NewDict(
				tid.KeyTransport, s.Transport,
				tid.KeyTraddr, s.Traddr,
				tid.KeyTrsvcid, s.Trsvcid,
				tid.KeyHostIface, s.HostIface,
				tid.KeySubsysNQN, s.SubsysNQN,
				"reachable", PyRepr(s.Reachable),
			))
		}
		types := a.ServiceTypes
		if types == nil {
			types = []string{}
		}
		d.Set("avahi", NewDict("avahi wake up timer", a.WakeUpTimer, "service types", types, "services", services))
	}
	d.Update(p.Extra)
	return d
}

// JSON returns process_info's answer.
func (p *ProcessInfo) JSON() string { return p.Dict().JSON() }
