// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	rtdebug "runtime/debug"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// Debug is what both daemons serve on their .debug interface. godbus runs every incoming
// call in a goroutine of its own, so these methods are called concurrently; they must
// answer from a snapshot (or an atomic) and never wait long for the daemon's owner
// goroutine, or every D-Bus client waits with it.
type Debug interface {
	// ProcessInfo returns process_info's JSON (see ProcessInfo.JSON).
	ProcessInfo() string
	// ControllerInfo returns the info dict JSON of the controller t names, "{}" if none
	// (see Controller.InfoJSON). t is already defaulted and normalised.
	ControllerInfo(t tid.TID) string
	// Tron reports whether tracing is on.
	Tron() bool
	// SetTron switches tracing; the server has checked that the caller is root.
	SetTron(on bool)
	// LogLevel returns the log level's Python name (DEBUG, INFO, …).
	LogLevel() string
}

// Stafd is what stafd serves (behaviour reference §4.2).
type Stafd interface {
	Debug
	// ListControllers returns one id dict (or details dict when detailed) per DC.
	ListControllers(detailed bool) []map[string]string
	// GetLogPages returns the cached log page entries of the DC t names, none if unknown.
	GetLogPages(t tid.TID) []map[string]string
	// GetAllLogPages returns get_all_log_pages' JSON (see AllLogPagesJSON).
	GetAllLogPages(detailed bool) string
}

// Stacd is what stacd serves (behaviour reference §4.4).
type Stacd interface {
	Debug
	// ListControllers returns one id dict (or details dict when detailed) per I/O
	// controller.
	ListControllers(detailed bool) []map[string]string
}

// D-Bus error names the server answers with.
const (
	ErrorAccessDenied     = "org.freedesktop.DBus.Error.AccessDenied"
	ErrorInvalidArgs      = "org.freedesktop.DBus.Error.InvalidArgs"
	ErrorUnknownProperty  = "org.freedesktop.DBus.Error.UnknownProperty"
	ErrorUnknownInterface = "org.freedesktop.DBus.Error.UnknownInterface"
	ErrorPropertyReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly"
	ErrorServiceUnknown   = "org.freedesktop.DBus.Error.ServiceUnknown"
	ErrorNameHasNoOwner   = "org.freedesktop.DBus.Error.NameHasNoOwner"
	ErrorNoReply          = "org.freedesktop.DBus.Error.NoReply"
	ErrorTimeout          = "org.freedesktop.DBus.Error.Timeout"
	ErrorTimedOut         = "org.freedesktop.DBus.Error.TimedOut"
	ErrorDisconnected     = "org.freedesktop.DBus.Error.Disconnected"
	ErrorFailed           = "org.freedesktop.DBus.Error.Failed"
)

// ErrNameTaken is wrapped by RequestName's error when another process owns the name.
var ErrNameTaken = errors.New("bus name already owned")

// ErrNoSuchSignal is returned when emitting a signal the daemon does not have (stacd has
// no signals).
var ErrNoSuchSignal = errors.New("no such signal")

// Options tune a Server.
type Options struct {
	// IgnoreIface reports the daemon's current ignore-iface setting: when it is true, the
	// host_iface argument of get_log_pages and controller_info is dropped, as nvme-stas
	// does when it builds the TID. It is asked at every call, so a reload applies at
	// once. Nil means false.
	IgnoreIface func() bool
	// Logger receives a line for every change of tron and every refused attempt. Nil
	// discards.
	Logger *slog.Logger
	// CallerUID returns the Unix user id of the bus connection sender. Nil asks the bus
	// (org.freedesktop.DBus.GetConnectionUnixUser); tests substitute a fake.
	CallerUID func(sender string) (uint32, error)
}

// Server is a daemon exported on a bus connection.
type Server struct {
	conn  *dbus.Conn
	svc   Service
	debug Debug
	opts  Options
	log   *slog.Logger
}

// ExportStafd exports d on conn at /org/nvmexpress/staf with its two interfaces,
// org.freedesktop.DBus.Properties (tron, log_level) and introspection. It does not
// request the bus name: call RequestName once the daemon is ready to answer.
func ExportStafd(conn *dbus.Conn, d Stafd, opts Options) (*Server, error) {
	s := newServer(conn, StafService, d, opts)
	main := map[string]any{
		MethodListControllers: func(detailed bool) (_ []map[string]string, err *dbus.Error) {
			defer s.recoverPanic(MethodListControllers, &err)
			return cleanDicts(d.ListControllers(detailed)), nil
		},
		MethodGetLogPages: func(transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNQN string) (_ []map[string]string, err *dbus.Error) {
			defer s.recoverPanic(MethodGetLogPages, &err)
			t := s.tid(transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNQN)
			return cleanDicts(d.GetLogPages(t)), nil
		},
		MethodGetAllLogPages: func(detailed bool) (_ string, err *dbus.Error) {
			defer s.recoverPanic(MethodGetAllLogPages, &err)
			return cleanString(d.GetAllLogPages(detailed)), nil
		},
	}
	if err := s.export(main); err != nil {
		return nil, err
	}
	return s, nil
}

// ExportStacd exports d on conn at /org/nvmexpress/stac, as ExportStafd does for stafd.
func ExportStacd(conn *dbus.Conn, d Stacd, opts Options) (*Server, error) {
	s := newServer(conn, StacService, d, opts)
	main := map[string]any{
		MethodListControllers: func(detailed bool) (_ []map[string]string, err *dbus.Error) {
			defer s.recoverPanic(MethodListControllers, &err)
			return cleanDicts(d.ListControllers(detailed)), nil
		},
	}
	if err := s.export(main); err != nil {
		return nil, err
	}
	return s, nil
}

func newServer(conn *dbus.Conn, svc Service, d Debug, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{conn: conn, svc: svc, debug: d, opts: opts, log: log}
}

// export checks every handler against the member table and exports all interfaces.
// ExportMethodTable silently drops a function whose last result is not *dbus.Error (the
// caller would get UnknownMethod), so a mismatch is an error here instead.
func (s *Server) export(main map[string]any) error {
	debug := map[string]any{
		MethodProcessInfo: func() (_ string, err *dbus.Error) {
			defer s.recoverPanic(MethodProcessInfo, &err)
			return cleanString(s.debug.ProcessInfo()), nil
		},
		MethodControllerInfo: func(transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNQN string) (_ string, err *dbus.Error) {
			defer s.recoverPanic(MethodControllerInfo, &err)
			t := s.tid(transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNQN)
			return cleanString(s.debug.ControllerInfo(t)), nil
		},
	}
	props := map[string]any{
		"Get":    s.getProperty,
		"GetAll": s.getAllProperties,
		"Set":    s.setProperty,
	}
	xml := s.svc.IntrospectionXML()
	introspectable := map[string]any{
		"Introspect": func() (string, *dbus.Error) { return xml, nil },
	}
	tables := []struct {
		iface    Interface
		handlers map[string]any
	}{
		{lookupInterface(s.svc, s.svc.DebugInterface), debug},
		{lookupInterface(s.svc, s.svc.Interface), main},
		{propertiesInterface, props},
		{introspectableInterface, introspectable},
	}
	for _, t := range tables {
		if err := checkHandlers(t.iface, t.handlers); err != nil {
			return fmt.Errorf("export %s on %s: %w", t.iface.Name, s.svc.Path, err)
		}
	}
	for _, t := range tables {
		if err := s.conn.ExportMethodTable(t.handlers, s.svc.Path, t.iface.Name); err != nil {
			s.Unexport()
			return fmt.Errorf("export %s on %s: %w", t.iface.Name, s.svc.Path, err)
		}
	}
	return nil
}

func lookupInterface(svc Service, name string) Interface {
	i, _ := svc.Lookup(name) // the tables above always hold both interfaces
	return i
}

// checkHandlers reports any difference between an interface's methods and handlers: a
// missing or extra handler, a handler that godbus would drop, or a signature mismatch.
func checkHandlers(iface Interface, handlers map[string]any) error {
	for _, m := range iface.Methods {
		h, ok := handlers[m.Name]
		if !ok {
			return fmt.Errorf("method %s has no handler", m.Name)
		}
		in, out, err := handlerSignature(h)
		if err != nil {
			return fmt.Errorf("method %s: %w", m.Name, err)
		}
		if in != m.InSignature() || out != m.OutSignature() {
			return fmt.Errorf("method %s: handler signature (%s)→(%s), the table says (%s)→(%s)",
				m.Name, in, out, m.InSignature(), m.OutSignature())
		}
	}
	for name := range handlers {
		if _, ok := iface.Method(name); !ok {
			return fmt.Errorf("handler %s is not a method of the interface", name)
		}
	}
	return nil
}

var (
	senderType  = reflect.TypeFor[dbus.Sender]()
	messageType = reflect.TypeFor[dbus.Message]()
	errorType   = reflect.TypeFor[*dbus.Error]()
)

// handlerSignature returns the D-Bus signatures of a handler's arguments (without the
// Sender and Message ones godbus fills in) and results (without the final *dbus.Error).
func handlerSignature(h any) (in, out string, err error) {
	t := reflect.TypeOf(h)
	if t == nil || t.Kind() != reflect.Func {
		return "", "", fmt.Errorf("handler is a %T, not a function", h)
	}
	if t.NumOut() == 0 || t.Out(t.NumOut()-1) != errorType {
		return "", "", errors.New("handler's last result is not *dbus.Error (godbus would drop it)")
	}
	defer func() {
		if r := recover(); r != nil { // SignatureOfType panics on types D-Bus cannot carry
			err = fmt.Errorf("handler type %s: %v", t, r)
		}
	}()
	var b strings.Builder
	for i := range t.NumIn() {
		if a := t.In(i); a != senderType && a != messageType {
			b.WriteString(dbus.SignatureOfType(a).String())
		}
	}
	in = b.String()
	b.Reset()
	for i := range t.NumOut() - 1 {
		b.WriteString(dbus.SignatureOfType(t.Out(i)).String())
	}
	return in, b.String(), nil
}

// Unexport removes every interface of the object from the connection.
func (s *Server) Unexport() {
	for _, name := range []string{s.svc.DebugInterface, s.svc.Interface, PropertiesInterface, IntrospectableInterface} {
		_ = s.conn.Export(nil, s.svc.Path, name) // exporting nil removes; it cannot fail for a valid path
	}
}

// Service returns the contract the server implements.
func (s *Server) Service() Service { return s.svc }

// RequestName takes the daemon's well-known name without queueing. If another process
// owns it the error wraps ErrNameTaken and says so:
// "org.nvmexpress.staf is already owned: is another stafd running?".
func (s *Server) RequestName() error {
	reply, err := s.conn.RequestName(s.svc.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == ErrorAccessDenied {
			return fmt.Errorf("request bus name %s: %w (the D-Bus policy file org.nvmexpress.%s.conf must be installed, and %s run as root)",
				s.svc.BusName, err, strings.TrimSuffix(s.svc.Daemon, "d"), s.svc.Daemon)
		}
		return fmt.Errorf("request bus name %s: %w", s.svc.BusName, err)
	}
	switch reply {
	case dbus.RequestNameReplyPrimaryOwner, dbus.RequestNameReplyAlreadyOwner:
		return nil
	case dbus.RequestNameReplyInQueue: // not with DoNotQueue, but never stay queued
		_, _ = s.conn.ReleaseName(s.svc.BusName)
	}
	return &nameTakenError{name: s.svc.BusName, daemon: s.svc.Daemon}
}

// nameTakenError says who holds the name in the words an administrator needs; it wraps
// ErrNameTaken.
type nameTakenError struct{ name, daemon string }

// Error returns the message for administrators.
func (e *nameTakenError) Error() string {
	return e.name + " is already owned: is another " + e.daemon + " running?"
}

// Unwrap returns ErrNameTaken.
func (e *nameTakenError) Unwrap() error { return ErrNameTaken }

// ReleaseName gives the well-known name up (at shutdown, before unexporting).
func (s *Server) ReleaseName() error {
	if _, err := s.conn.ReleaseName(s.svc.BusName); err != nil {
		return fmt.Errorf("release bus name %s: %w", s.svc.BusName, err)
	}
	return nil
}

// EmitLogPagesChanged broadcasts stafd's log_pages_changed for the DC t, whose kernel
// device is device.
func (s *Server) EmitLogPagesChanged(t tid.TID, device string) error {
	return s.emit(SignalLogPagesChanged, t.Transport, t.Traddr, t.Trsvcid, t.SubsysNQN,
		t.HostTraddr, t.HostIface, t.HostNQN, device)
}

// EmitDCRemoved broadcasts stafd's dc_removed.
func (s *Server) EmitDCRemoved() error { return s.emit(SignalDCRemoved) }

func (s *Server) emit(member string, args ...string) error {
	iface, _ := s.svc.Lookup(s.svc.Interface)
	if !slices.ContainsFunc(iface.Signals, func(sig Signal) bool { return sig.Name == member }) {
		return fmt.Errorf("emit %s.%s: %w", s.svc.Interface, member, ErrNoSuchSignal)
	}
	values := make([]any, len(args))
	for i, a := range args {
		values[i] = cleanString(a)
	}
	if err := s.conn.Emit(s.svc.Path, s.svc.Interface+"."+member, values...); err != nil {
		return fmt.Errorf("emit %s.%s: %w", s.svc.Interface, member, err)
	}
	return nil
}

// tid builds the TID of a get_log_pages or controller_info call with nvme-stas's
// defaulting rules (tcp port by the daemon's kind, host_iface dropped under ignore-iface).
// host_nqn is taken as given, even empty, as nvme-stas does when the key is present.
func (s *Server) tid(transport, traddr, trsvcid, subsysnqn, hostTraddr, hostIface, hostNQN string) tid.TID {
	ignore := s.opts.IgnoreIface != nil && s.opts.IgnoreIface()
	return tid.New(tid.TID{
		Transport: transport, Traddr: traddr, Trsvcid: trsvcid, SubsysNQN: subsysnqn,
		HostTraddr: hostTraddr, HostIface: hostIface, HostNQN: hostNQN,
	}, s.svc.Kind, ignore)
}

// recoverPanic turns a panic in the daemon's code into a failed call: godbus runs each
// call in its own goroutine, where a panic would end the whole daemon.
func (s *Server) recoverPanic(member string, err **dbus.Error) {
	if r := recover(); r != nil {
		s.log.Error("D-Bus call failed: internal error", "member", member, "panic", r, "stack", string(rtdebug.Stack()))
		*err = dbus.NewError(ErrorFailed, []any{member + " failed: internal error in " + s.svc.Daemon})
	}
}

func (s *Server) getProperty(iface, name string) (_ dbus.Variant, err *dbus.Error) {
	defer s.recoverPanic("Get", &err)
	if err := s.checkPropertyInterface(iface); err != nil {
		return dbus.Variant{}, err
	}
	if iface == s.svc.Interface {
		return dbus.Variant{}, unknownProperty(iface, name)
	}
	switch name {
	case PropertyTron:
		return dbus.MakeVariant(s.debug.Tron()), nil
	case PropertyLogLevel:
		return dbus.MakeVariant(cleanString(s.debug.LogLevel())), nil
	}
	return dbus.Variant{}, unknownProperty(iface, name)
}

func (s *Server) getAllProperties(iface string) (_ map[string]dbus.Variant, err *dbus.Error) {
	defer s.recoverPanic("GetAll", &err)
	if err := s.checkPropertyInterface(iface); err != nil {
		return nil, err
	}
	if iface == s.svc.Interface {
		return map[string]dbus.Variant{}, nil // the main interface has no properties
	}
	return map[string]dbus.Variant{
		PropertyTron:     dbus.MakeVariant(s.debug.Tron()),
		PropertyLogLevel: dbus.MakeVariant(cleanString(s.debug.LogLevel())),
	}, nil
}

// setProperty lets root switch tron. The bus policy already refuses Set to anyone but
// root; the uid check is the second line of defence (a lax or missing policy file).
func (s *Server) setProperty(sender dbus.Sender, iface, name string, value dbus.Variant) (err *dbus.Error) {
	defer s.recoverPanic("Set", &err)
	if err := s.checkPropertyInterface(iface); err != nil {
		return err
	}
	switch {
	case iface == s.svc.Interface:
		return unknownProperty(iface, name)
	case name == PropertyLogLevel:
		return dbus.NewError(ErrorPropertyReadOnly, []any{"property log_level is read-only"})
	case name != PropertyTron:
		return unknownProperty(iface, name)
	}
	uid, uidErr := s.callerUID(string(sender))
	if uidErr != nil {
		s.log.Warn("refused to set tron: cannot tell who is asking", "sender", string(sender), "err", uidErr)
		return dbus.NewError(ErrorAccessDenied, []any{"setting tron needs root: cannot identify the caller"})
	}
	if uid != 0 {
		s.log.Warn("refused to set tron: caller is not root", "sender", string(sender), "uid", uid)
		return dbus.NewError(ErrorAccessDenied, []any{"setting tron needs root"})
	}
	on, ok := value.Value().(bool)
	if !ok {
		return dbus.NewError(ErrorInvalidArgs, []any{fmt.Sprintf("tron takes a boolean (b), not %s", value.Signature())})
	}
	s.debug.SetTron(on)
	s.log.Info("tron set over D-Bus", "tron", on, "sender", string(sender))
	return nil
}

// checkPropertyInterface accepts the object's own two interfaces and "" (which the
// D-Bus specification lets a caller use to mean any).
func (s *Server) checkPropertyInterface(iface string) *dbus.Error {
	if iface == "" || iface == s.svc.DebugInterface || iface == s.svc.Interface {
		return nil
	}
	return dbus.NewError(ErrorUnknownInterface, []any{fmt.Sprintf("object %s has no interface %s", s.svc.Path, iface)})
}

func unknownProperty(iface, name string) *dbus.Error {
	return dbus.NewError(ErrorUnknownProperty, []any{fmt.Sprintf("no property %q on interface %s", name, iface)})
}

func (s *Server) callerUID(sender string) (uint32, error) {
	if s.opts.CallerUID != nil {
		return s.opts.CallerUID(sender)
	}
	var uid uint32
	err := s.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, sender).Store(&uid)
	if err != nil {
		return 0, fmt.Errorf("get uid of %s: %w", sender, err)
	}
	return uid, nil
}

// cleanString makes s valid to send: D-Bus strings are UTF-8 without NUL, and a message
// that breaks this makes the bus drop our connection. Bad bytes become U+FFFD.
func cleanString(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// cleanDicts applies cleanString to every key and value, and never returns nil.
func cleanDicts(in []map[string]string) []map[string]string {
	out := make([]map[string]string, 0, len(in))
	for _, m := range in {
		c := make(map[string]string, len(m))
		for k, v := range m {
			c[cleanString(k)] = cleanString(v)
		}
		out = append(out, c)
	}
	return out
}
