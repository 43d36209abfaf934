// SPDX-License-Identifier: Apache-2.0

// Package fabricstest owns Fake, an in-memory fabrics.Host for unit tests of the daemons:
// it records every call, validates options exactly as the kernel path does (with
// fabrics.Options.Build), keeps a table of live controllers, and can be told to fail or
// to block.
package fabricstest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/nvme-stas-go/stas/internal/fabrics"
)

// ConnectCall is one recorded Connect.
type ConnectCall struct {
	Options fabrics.Options
	// OptionString is what the kernel would have been given, secrets redacted; "" if the
	// options did not build.
	OptionString string
	Reply        fabrics.Reply
	Err          error
}

// Fake is an in-memory fabrics.Host. The zero value is not ready; use New. Its methods
// may be called from several goroutines.
type Fake struct {
	mu            sync.Mutex
	supported     fabrics.Supported
	supportedErr  error
	connectErr    func(fabrics.Options) error
	disconnectErr error
	gate          chan struct{}
	live          map[string]fabrics.Options
	connects      []ConnectCall
	disconnects   []string
	entered       chan fabrics.Options
}

var _ fabrics.Host = (*Fake)(nil)

// New returns a Fake whose kernel supports every option (fabrics.AllKnown) and has no
// controllers.
func New() *Fake {
	return &Fake{supported: fabrics.AllKnown(), live: map[string]fabrics.Options{}}
}

// SetSupported sets what SupportedOptions returns and what Connect builds with.
func (f *Fake) SetSupported(s fabrics.Supported, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.supported, f.supportedErr = s, err
}

// FailConnect makes every later Connect fail with err (nil: succeed again). Use
// fabrics.WriteErrno to get the errors the kernel path returns, e.g.
// fabrics.WriteErrno(syscall.ECONNREFUSED).
func (f *Fake) FailConnect(err error) {
	f.FailConnectIf(func(fabrics.Options) error { return err })
}

// FailConnectIf makes each later Connect fail with whatever fn returns for its options
// (nil: succeed). A nil fn clears it.
func (f *Fake) FailConnectIf(fn func(fabrics.Options) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connectErr = fn
}

// FailDisconnect makes every later Disconnect of a live controller fail with err (nil:
// succeed again); the controller stays live.
func (f *Fake) FailDisconnect(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnectErr = err
}

// Block makes later Connects wait, like the kernel's blocking write, until release is
// called or their context ends. Each blocked Connect is announced on Entered.
func (f *Fake) Block() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	if f.entered == nil {
		f.entered = make(chan fabrics.Options, 64)
	}
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.gate == gate {
				f.gate = nil
			}
			f.mu.Unlock()
			close(gate)
		})
	}
}

// Entered receives the options of each Connect that blocks (after Block); it holds up to
// 64 that nobody has taken.
func (f *Fake) Entered() <-chan fabrics.Options {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entered == nil {
		f.entered = make(chan fabrics.Options, 64)
	}
	return f.entered
}

// AddLive registers a controller as if it existed before the test, e.g. one to adopt.
func (f *Fake) AddLive(device string, o fabrics.Options) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[device] = o
}

// Live returns the controllers that exist, by device name.
func (f *Fake) Live() map[string]fabrics.Options {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.live)
}

// Connects returns the recorded Connect calls, oldest first.
func (f *Fake) Connects() []ConnectCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.connects)
}

// Disconnects returns the device names of the recorded Disconnect calls, oldest first.
func (f *Fake) Disconnects() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.disconnects)
}

// SupportedOptions implements fabrics.Host.
func (f *Fake) SupportedOptions() (fabrics.Supported, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.supported, f.supportedErr
}

// Connect implements fabrics.Host. It builds the option string as the kernel path does,
// then blocks if told to, then fails if told to, and otherwise creates a controller with
// the lowest free instance, as the kernel does. Errors are wrapped like Kernel's.
func (f *Fake) Connect(ctx context.Context, o fabrics.Options) (fabrics.Reply, []string, error) {
	what := fabrics.Describe(o)
	f.mu.Lock()
	call := ConnectCall{Options: o}
	sup, supErr := f.supported, f.supportedErr
	gate, entered := f.gate, f.entered
	f.mu.Unlock()

	record := func(call ConnectCall) {
		f.mu.Lock()
		f.connects = append(f.connects, call)
		f.mu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		call.Err = fmt.Errorf("connect %s: %w", what, err)
		record(call)
		return fabrics.Reply{}, nil, call.Err
	}
	if supErr != nil {
		call.Err = fmt.Errorf("connect %s: %w", what, supErr)
		record(call)
		return fabrics.Reply{}, nil, call.Err
	}
	opts, omitted, err := o.Build(sup)
	if err != nil {
		call.Err = fmt.Errorf("connect %s: %w", what, err)
		record(call)
		return fabrics.Reply{}, nil, call.Err
	}
	call.OptionString = fabrics.Redact(opts)
	if gate != nil {
		select {
		case entered <- o:
		default: // nobody watches; don't block on it
		}
		select {
		case <-gate:
		case <-ctx.Done():
			call.Err = fmt.Errorf("connect %s: %w", what, ctx.Err())
			record(call)
			return fabrics.Reply{}, omitted, call.Err
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connectErr != nil {
		if err := f.connectErr(o); err != nil {
			call.Err = fmt.Errorf("connect %s: %w", what, err)
			f.connects = append(f.connects, call)
			return fabrics.Reply{}, omitted, call.Err
		}
	}
	instance := 0
	for {
		if _, used := f.live[fabrics.Reply{Instance: instance}.Device()]; !used {
			break
		}
		instance++
	}
	call.Reply = fabrics.Reply{Instance: instance, CntlID: instance + 1}
	f.live[call.Reply.Device()] = o
	f.connects = append(f.connects, call)
	return call.Reply, omitted, nil
}

// Disconnect implements fabrics.Host: it removes a live controller, or fails with
// fabrics.ErrNoController (or fabrics.ErrInvalidDevice), as Kernel does.
func (f *Fake) Disconnect(ctx context.Context, device string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnects = append(f.disconnects, device)
	if !fabrics.ValidDevice(device) {
		return fmt.Errorf("disconnect %q: %w", device, fabrics.ErrInvalidDevice)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("disconnect %s: %w", device, err)
	}
	if _, ok := f.live[device]; !ok {
		return fmt.Errorf("disconnect %s: %w", device, fabrics.ErrNoController)
	}
	if f.disconnectErr != nil {
		return fmt.Errorf("disconnect %s: %w", device, f.disconnectErr)
	}
	delete(f.live, device)
	return nil
}
