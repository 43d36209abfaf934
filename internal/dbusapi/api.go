// SPDX-License-Identifier: Apache-2.0

// Package dbusapi owns the D-Bus contract of stafd and stacd, shared by the daemons and by
// stafctl/stacctl: the bus names, object paths, interfaces and members with their exact
// signatures (one table from which the introspection XML is generated), the server side
// that exports a daemon on a connection, the client side used by the tools and by stacd,
// the shapes of the dictionaries and JSON documents the members return, and the Python
// text formats (json.dumps, repr) those documents are written in, so that nvme-stas's own
// clients and daemons interoperate with ours unchanged.
//
// The member table follows nvme-stas's IDL files, staslib/stafd.idl and staslib/stacd.idl
// (github.com/linux-nvme/nvme-stas, commit f5eb1695f75aee365a8456259863c1544912ca53):
// the same member and argument names, directions and types.
package dbusapi

import (
	"encoding/xml"
	"strings"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// Bus names, object paths and interfaces of the two daemons (behaviour reference §4.1).
const (
	StafdBusName                   = "org.nvmexpress.staf"
	StafdPath      dbus.ObjectPath = "/org/nvmexpress/staf"
	StafdInterface                 = "org.nvmexpress.staf"
	StafdDebug                     = StafdInterface + ".debug"

	StacdBusName                   = "org.nvmexpress.stac"
	StacdPath      dbus.ObjectPath = "/org/nvmexpress/stac"
	StacdInterface                 = "org.nvmexpress.stac"
	StacdDebug                     = StacdInterface + ".debug"
)

// Member names, as nvme-stas spells them (snake_case).
const (
	MethodListControllers = "list_controllers"
	MethodGetLogPages     = "get_log_pages"
	MethodGetAllLogPages  = "get_all_log_pages"
	MethodProcessInfo     = "process_info"
	MethodControllerInfo  = "controller_info"

	SignalLogPagesChanged = "log_pages_changed"
	SignalDCRemoved       = "dc_removed"

	PropertyTron     = "tron"
	PropertyLogLevel = "log_level"
)

// Standard interfaces every exported object also carries.
const (
	PropertiesInterface     = "org.freedesktop.DBus.Properties"
	IntrospectableInterface = "org.freedesktop.DBus.Introspectable"
	PeerInterface           = "org.freedesktop.DBus.Peer"
)

// Arg is one argument of a method or signal: its name and D-Bus type signature.
type Arg struct {
	Name string
	Type string
}

// Method is a D-Bus method with its input and output arguments.
type Method struct {
	Name string
	In   []Arg
	Out  []Arg
}

// InSignature returns the concatenated types of m's input arguments.
func (m Method) InSignature() string { return signature(m.In) }

// OutSignature returns the concatenated types of m's output arguments.
func (m Method) OutSignature() string { return signature(m.Out) }

// Signal is a D-Bus signal with its arguments.
type Signal struct {
	Name string
	Args []Arg
}

// Signature returns the concatenated types of s's arguments.
func (s Signal) Signature() string { return signature(s.Args) }

// Property is a D-Bus property. None of ours emits PropertiesChanged (nvme-stas emits
// none), which the introspection data says with the EmitsChangedSignal annotation.
type Property struct {
	Name     string
	Type     string
	Writable bool
}

// Interface is one D-Bus interface of an object: its properties, methods and signals.
type Interface struct {
	Name       string
	Properties []Property
	Methods    []Method
	Signals    []Signal
}

// Method returns the method called name.
func (i Interface) Method(name string) (Method, bool) {
	for _, m := range i.Methods {
		if m.Name == name {
			return m, true
		}
	}
	return Method{}, false
}

// Service describes one daemon on the bus: where it lives and the interfaces it exports
// (its own two; the standard Properties, Introspectable and Peer interfaces are added by
// Node). The values in StafService and StacService are the contract; treat them as
// read-only.
type Service struct {
	// Daemon is the program's name as users know it ("stafd"), used in messages.
	Daemon         string
	BusName        string
	Path           dbus.ObjectPath
	Interface      string
	DebugInterface string
	// Kind is how a TID given to this daemon is defaulted (tcp port 8009 for discovery
	// controllers, 4420 for I/O controllers).
	Kind       tid.Kind
	Interfaces []Interface
}

// Lookup returns the interface of s called name.
func (s Service) Lookup(name string) (Interface, bool) {
	for _, i := range s.Interfaces {
		if i.Name == name {
			return i, true
		}
	}
	return Interface{}, false
}

// Method returns the method name of interface iface.
func (s Service) Method(iface, name string) (Method, bool) {
	i, ok := s.Lookup(iface)
	if !ok {
		return Method{}, false
	}
	return i.Method(name)
}

func signature(args []Arg) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a.Type)
	}
	return b.String()
}

// tidArgs are the seven arguments that name a controller, in nvme-stas's order.
var tidArgs = []Arg{
	{"transport", "s"}, {"traddr", "s"}, {"trsvcid", "s"}, {"subsysnqn", "s"},
	{"host_traddr", "s"}, {"host_iface", "s"}, {"host_nqn", "s"},
}

func tidArgsPlus(extra ...Arg) []Arg {
	return append(append([]Arg(nil), tidArgs...), extra...)
}

func debugInterface(name string) Interface {
	return Interface{
		Name: name,
		Properties: []Property{
			{Name: PropertyTron, Type: "b", Writable: true},
			{Name: PropertyLogLevel, Type: "s"},
		},
		Methods: []Method{
			{Name: MethodProcessInfo, Out: []Arg{{"info_json", "s"}}},
			{Name: MethodControllerInfo, In: tidArgsPlus(), Out: []Arg{{"info_json", "s"}}},
		},
	}
}

var listControllers = Method{Name: MethodListControllers, In: []Arg{{"detailed", "b"}}, Out: []Arg{{"controller_list", "aa{ss}"}}}

// StafService is stafd's D-Bus contract (behaviour reference §4.2, §4.3).
var StafService = Service{
	Daemon:         "stafd",
	BusName:        StafdBusName,
	Path:           StafdPath,
	Interface:      StafdInterface,
	DebugInterface: StafdDebug,
	Kind:           tid.Discovery,
	Interfaces: []Interface{
		debugInterface(StafdDebug),
		{
			Name: StafdInterface,
			Methods: []Method{
				listControllers,
				{Name: MethodGetLogPages, In: tidArgsPlus(), Out: []Arg{{"log_pages", "aa{ss}"}}},
				{Name: MethodGetAllLogPages, In: []Arg{{"detailed", "b"}}, Out: []Arg{{"log_pages_json", "s"}}},
			},
			Signals: []Signal{
				{Name: SignalLogPagesChanged, Args: tidArgsPlus(Arg{"device", "s"})},
				{Name: SignalDCRemoved},
			},
		},
	},
}

// StacService is stacd's D-Bus contract (behaviour reference §4.3, §4.4).
var StacService = Service{
	Daemon:         "stacd",
	BusName:        StacdBusName,
	Path:           StacdPath,
	Interface:      StacdInterface,
	DebugInterface: StacdDebug,
	Kind:           tid.IO,
	Interfaces: []Interface{
		debugInterface(StacdDebug),
		{Name: StacdInterface, Methods: []Method{listControllers}},
	},
}

// propertiesInterface is org.freedesktop.DBus.Properties as the server implements it.
var propertiesInterface = Interface{
	Name: PropertiesInterface,
	Methods: []Method{
		{Name: "Get", In: []Arg{{"interface", "s"}, {"property", "s"}}, Out: []Arg{{"value", "v"}}},
		{Name: "GetAll", In: []Arg{{"interface", "s"}}, Out: []Arg{{"props", "a{sv}"}}},
		{Name: "Set", In: []Arg{{"interface", "s"}, {"property", "s"}, {"value", "v"}}},
	},
	Signals: []Signal{{Name: "PropertiesChanged", Args: []Arg{
		{"interface", "s"}, {"changed_properties", "a{sv}"}, {"invalidated_properties", "as"},
	}}},
}

// introspectableInterface is org.freedesktop.DBus.Introspectable.
var introspectableInterface = Interface{
	Name:    IntrospectableInterface,
	Methods: []Method{{Name: "Introspect", Out: []Arg{{"xml_data", "s"}}}},
}

// emitsChangedSignal is the standard annotation saying whether PropertiesChanged is sent.
const emitsChangedSignal = "org.freedesktop.DBus.Property.EmitsChangedSignal"

// Node returns the introspection data of s's object: the standard interfaces first, then
// s's own in the table's order.
func (s Service) Node() *introspect.Node {
	n := &introspect.Node{Name: string(s.Path)}
	n.Interfaces = append(n.Interfaces,
		introspectInterface(introspectableInterface), introspect.PeerData, introspectInterface(propertiesInterface))
	for _, i := range s.Interfaces {
		n.Interfaces = append(n.Interfaces, introspectInterface(i))
	}
	return n
}

// IntrospectionXML returns what Introspect answers on s's object. (It is marshalled here
// rather than by introspect.NewIntrospectable, which lists Peer a second time when the
// node already has Introspectable.)
func (s Service) IntrospectionXML() string {
	b, err := xml.MarshalIndent(s.Node(), "", "  ")
	if err != nil { // static data of known types: cannot happen
		return strings.TrimSpace(introspect.IntrospectDeclarationString) + "<node/>"
	}
	return strings.TrimSpace(introspect.IntrospectDeclarationString) + "\n" + string(b) + "\n"
}

func introspectInterface(i Interface) introspect.Interface {
	out := introspect.Interface{Name: i.Name}
	for _, p := range i.Properties {
		access := "read"
		if p.Writable {
			access = "readwrite"
		}
		out.Properties = append(out.Properties, introspect.Property{
			Name: p.Name, Type: p.Type, Access: access,
			Annotations: []introspect.Annotation{{Name: emitsChangedSignal, Value: "false"}},
		})
	}
	for _, m := range i.Methods {
		im := introspect.Method{Name: m.Name}
		for _, a := range m.In {
			im.Args = append(im.Args, introspect.Arg{Name: a.Name, Type: a.Type, Direction: "in"})
		}
		for _, a := range m.Out {
			im.Args = append(im.Args, introspect.Arg{Name: a.Name, Type: a.Type, Direction: "out"})
		}
		out.Methods = append(out.Methods, im)
	}
	for _, sig := range i.Signals {
		is := introspect.Signal{Name: sig.Name}
		for _, a := range sig.Args {
			is.Args = append(is.Args, introspect.Arg{Name: a.Name, Type: a.Type, Direction: "out"})
		}
		out.Signals = append(out.Signals, is)
	}
	return out
}
