// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// Sentinel errors of the client; every error a Client returns is an *Error that wraps
// one of them (errors.Is), or the bus's own error for the rest.
var (
	// ErrNotRunning: nothing owns the daemon's bus name.
	ErrNotRunning = errors.New("daemon is not running")
	// ErrAccessDenied: the bus policy or the daemon refused the call.
	ErrAccessDenied = errors.New("permission denied")
	// ErrNoBus: the system bus cannot be reached, or the connection to it was lost.
	ErrNoBus = errors.New("cannot reach the system bus")
	// ErrTimeout: the daemon did not answer in time.
	ErrTimeout = errors.New("no answer in time")
	// ErrFailed: the daemon answered with another error.
	ErrFailed = errors.New("call failed")
)

// Error is a failed call to a daemon, with a one-line message for people:
// "stafd is not running", "permission denied: tron needs root",
// "cannot reach the system bus: …".
type Error struct {
	Daemon string // "stafd" or "stacd"
	Member string // the method or property, "" for the connection itself
	Kind   error  // one of the sentinel errors above
	Err    error  // the cause
}

// Error returns the one-line message.
func (e *Error) Error() string {
	cause := e.Err
	if cause == nil {
		cause = e.Kind
	}
	if cause == nil {
		cause = ErrFailed
	}
	switch e.Kind {
	case ErrNotRunning:
		return e.Daemon + " is not running"
	case ErrAccessDenied:
		if e.Member == PropertyTron {
			return "permission denied: tron needs root"
		}
		return fmt.Sprintf("permission denied: %s refused %s: %s", e.Daemon, e.Member, cause)
	case ErrNoBus:
		return "cannot reach the system bus: " + cause.Error()
	case ErrTimeout:
		return fmt.Sprintf("%s did not answer %s in time", e.Daemon, e.Member)
	}
	return fmt.Sprintf("%s %s failed: %s", e.Daemon, e.Member, describe(cause))
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func describe(err error) string {
	var de dbus.Error
	if errors.As(err, &de) && de.Error() != de.Name {
		return de.Name + ": " + de.Error()
	}
	return err.Error()
}

// classify maps a bus error to the kind of failure.
func classify(ctx context.Context, err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		switch de.Name {
		case ErrorServiceUnknown, ErrorNameHasNoOwner:
			return ErrNotRunning
		case ErrorAccessDenied:
			return ErrAccessDenied
		case ErrorNoReply, ErrorTimeout, ErrorTimedOut:
			return ErrTimeout
		case ErrorDisconnected:
			return ErrNoBus
		}
		return ErrFailed
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		return ErrTimeout
	case errors.Is(err, dbus.ErrClosed):
		return ErrNoBus
	}
	return ErrFailed
}

// Client calls one daemon over D-Bus. Its methods are safe for concurrent use.
type Client struct {
	conn *dbus.Conn
	own  bool
	svc  Service
	obj  dbus.BusObject
}

// Dial connects to the system bus (at $DBUS_SYSTEM_BUS_ADDRESS when set, which is how
// tests point it at a private bus) and returns a client of svc's daemon. ctx bounds the
// connection's whole life: when it ends, the connection closes. A failure is an *Error
// wrapping ErrNoBus.
func Dial(ctx context.Context, svc Service) (*Client, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, &Error{Daemon: svc.Daemon, Kind: ErrNoBus, Err: err}
	}
	c := NewClient(conn, svc)
	c.own = true
	return c, nil
}

// NewClient returns a client of svc's daemon on conn, which stays the caller's to close
// (stacd shares its connection between its own service and its client of stafd).
func NewClient(conn *dbus.Conn, svc Service) *Client {
	return &Client{conn: conn, svc: svc, obj: conn.Object(svc.BusName, svc.Path)}
}

// Close closes the connection if Dial made it.
func (c *Client) Close() error {
	if !c.own {
		return nil
	}
	return c.conn.Close()
}

// Service returns the contract of the daemon the client calls.
func (c *Client) Service() Service { return c.svc }

func (c *Client) call(ctx context.Context, iface, member string, out []any, args ...any) error {
	err := c.obj.CallWithContext(ctx, iface+"."+member, 0, args...).Store(out...)
	if err != nil {
		return &Error{Daemon: c.svc.Daemon, Member: member, Kind: classify(ctx, err), Err: err}
	}
	return nil
}

func tidArgValues(t tid.TID) []any {
	return []any{t.Transport, t.Traddr, t.Trsvcid, t.SubsysNQN, t.HostTraddr, t.HostIface, t.HostNQN}
}

// ListControllers calls list_controllers.
func (c *Client) ListControllers(ctx context.Context, detailed bool) ([]map[string]string, error) {
	var out []map[string]string
	err := c.call(ctx, c.svc.Interface, MethodListControllers, []any{&out}, detailed)
	return out, err
}

// GetLogPages calls stafd's get_log_pages for the DC t names (its fields are sent as they
// are; stafd applies the defaults).
func (c *Client) GetLogPages(ctx context.Context, t tid.TID) ([]map[string]string, error) {
	if err := c.need(MethodGetLogPages); err != nil {
		return nil, err
	}
	var out []map[string]string
	err := c.call(ctx, c.svc.Interface, MethodGetLogPages, []any{&out}, tidArgValues(t)...)
	return out, err
}

// GetAllLogPages calls stafd's get_all_log_pages and returns its JSON text.
func (c *Client) GetAllLogPages(ctx context.Context, detailed bool) (string, error) {
	if err := c.need(MethodGetAllLogPages); err != nil {
		return "", err
	}
	var out string
	err := c.call(ctx, c.svc.Interface, MethodGetAllLogPages, []any{&out}, detailed)
	return out, err
}

// ProcessInfo calls process_info and returns its JSON text.
func (c *Client) ProcessInfo(ctx context.Context) (string, error) {
	var out string
	err := c.call(ctx, c.svc.DebugInterface, MethodProcessInfo, []any{&out})
	return out, err
}

// ControllerInfo calls controller_info and returns its JSON text ("{}" for an unknown
// controller).
func (c *Client) ControllerInfo(ctx context.Context, t tid.TID) (string, error) {
	var out string
	err := c.call(ctx, c.svc.DebugInterface, MethodControllerInfo, []any{&out}, tidArgValues(t)...)
	return out, err
}

// Tron reads the tron property.
func (c *Client) Tron(ctx context.Context) (bool, error) {
	var v dbus.Variant
	if err := c.getProperty(ctx, PropertyTron, &v); err != nil {
		return false, err
	}
	on, ok := v.Value().(bool)
	if !ok {
		return false, c.badType(PropertyTron, v)
	}
	return on, nil
}

// SetTron sets the tron property; only root may (ErrAccessDenied otherwise).
func (c *Client) SetTron(ctx context.Context, on bool) error {
	err := c.obj.CallWithContext(ctx, PropertiesInterface+".Set", 0, c.svc.DebugInterface, PropertyTron, dbus.MakeVariant(on)).Err
	if err != nil {
		return &Error{Daemon: c.svc.Daemon, Member: PropertyTron, Kind: classify(ctx, err), Err: err}
	}
	return nil
}

// LogLevel reads the log_level property.
func (c *Client) LogLevel(ctx context.Context) (string, error) {
	var v dbus.Variant
	if err := c.getProperty(ctx, PropertyLogLevel, &v); err != nil {
		return "", err
	}
	s, ok := v.Value().(string)
	if !ok {
		return "", c.badType(PropertyLogLevel, v)
	}
	return s, nil
}

func (c *Client) getProperty(ctx context.Context, name string, v *dbus.Variant) error {
	err := c.obj.CallWithContext(ctx, PropertiesInterface+".Get", 0, c.svc.DebugInterface, name).Store(v)
	if err != nil {
		return &Error{Daemon: c.svc.Daemon, Member: name, Kind: classify(ctx, err), Err: err}
	}
	return nil
}

func (c *Client) badType(name string, v dbus.Variant) error {
	return &Error{Daemon: c.svc.Daemon, Member: name, Kind: ErrFailed,
		Err: fmt.Errorf("property %s has type %s", name, v.Signature())}
}

// need refuses a method the daemon does not have (get_log_pages of stacd) without a call.
func (c *Client) need(member string) error {
	if _, ok := c.svc.Method(c.svc.Interface, member); ok {
		return nil
	}
	return &Error{Daemon: c.svc.Daemon, Member: member, Kind: ErrFailed,
		Err: fmt.Errorf("%s has no method %s", c.svc.Daemon, member)}
}

// StafdSignal is a decoded signal of stafd.
type StafdSignal struct {
	// Member is SignalLogPagesChanged or SignalDCRemoved.
	Member string
	// TID and Device are log_pages_changed's arguments, as sent.
	TID    tid.TID
	Device string
}

// AddStafdMatches subscribes conn to stafd's two signals and to the changes of owner of
// stafd's name (org.freedesktop.DBus.NameOwnerChanged with arg0 org.nvmexpress.staf), as
// stacd needs to follow stafd. Receive them with conn.Signal; decode with
// ParseStafdSignal.
func AddStafdMatches(ctx context.Context, conn *dbus.Conn) error {
	for _, member := range []string{SignalLogPagesChanged, SignalDCRemoved} {
		if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(StafdPath),
			dbus.WithMatchInterface(StafdInterface), dbus.WithMatchMember(member)); err != nil {
			return fmt.Errorf("subscribe to %s.%s: %w", StafdInterface, member, err)
		}
	}
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, StafdBusName)); err != nil {
		return fmt.Errorf("subscribe to owner changes of %s: %w", StafdBusName, err)
	}
	return nil
}

// ParseStafdSignal decodes one of stafd's signals; ok is false for any other signal or a
// malformed one.
func ParseStafdSignal(sig *dbus.Signal) (s StafdSignal, ok bool) {
	if sig == nil || sig.Path != StafdPath {
		return StafdSignal{}, false
	}
	switch sig.Name {
	case StafdInterface + "." + SignalLogPagesChanged:
		var t tid.TID
		var dev string
		if err := dbus.Store(sig.Body, &t.Transport, &t.Traddr, &t.Trsvcid, &t.SubsysNQN,
			&t.HostTraddr, &t.HostIface, &t.HostNQN, &dev); err != nil {
			return StafdSignal{}, false
		}
		return StafdSignal{Member: SignalLogPagesChanged, TID: t, Device: dev}, true
	case StafdInterface + "." + SignalDCRemoved:
		if len(sig.Body) != 0 {
			return StafdSignal{}, false
		}
		return StafdSignal{Member: SignalDCRemoved}, true
	}
	return StafdSignal{}, false
}

// ParseNameOwnerChanged decodes org.freedesktop.DBus.NameOwnerChanged for name: present
// says whether the name has an owner now.
func ParseNameOwnerChanged(sig *dbus.Signal, name string) (present, ok bool) {
	// Only the bus itself says who owns a name: anyone may send a signal of that name.
	if sig == nil || sig.Name != "org.freedesktop.DBus.NameOwnerChanged" || sig.Sender != "org.freedesktop.DBus" {
		return false, false
	}
	var n, oldOwner, newOwner string
	if err := dbus.Store(sig.Body, &n, &oldOwner, &newOwner); err != nil || n != name {
		return false, false
	}
	return newOwner != "", true
}
