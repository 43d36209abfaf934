// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
)

// Production paths of the kernel interfaces Kernel uses.
const (
	DefaultFabricsDevice = "/dev/nvme-fabrics"
	DefaultClassNVMe     = "/sys/class/nvme"
)

// Kernel is the real Host: it creates controllers by writing option strings to
// /dev/nvme-fabrics and deletes them through sysfs. The zero value uses the production
// paths and logs nothing. Its methods may be called from several goroutines.
//
// The kernel's write blocks, uninterruptibly, until the controller is live or the attempt
// failed (several seconds for an unreachable target), so Connect and Disconnect run the
// system call on a goroutine of their own and return early when their context ends. A
// connect that succeeds after its caller gave up would leave a controller nobody manages;
// Kernel deletes it and logs a warning. Call Wait before the process exits so that no
// such deletion is cut short.
type Kernel struct {
	// FabricsDevice is the fabrics control device; "" means DefaultFabricsDevice. Tests
	// point it at a regular file.
	FabricsDevice string
	// ClassNVMe is the sysfs directory of the controllers; "" means DefaultClassNVMe.
	ClassNVMe string
	// Logger receives the option strings written (with secrets redacted) and the fate of
	// abandoned operations; nil logs nothing.
	Logger *slog.Logger

	// Test seams; nil means the system call implementations of this platform.
	readSupported func(path string) ([]byte, error)
	create        func(path, opts string) (Reply, error)
	remove        func(path string) error

	mu            sync.Mutex
	supported     Supported
	haveSupported bool

	background sync.WaitGroup
}

var _ Host = (*Kernel)(nil)

func (k *Kernel) fabricsDevice() string {
	if k.FabricsDevice == "" {
		return DefaultFabricsDevice
	}
	return k.FabricsDevice
}

func (k *Kernel) classNVMe() string {
	if k.ClassNVMe == "" {
		return DefaultClassNVMe
	}
	return k.ClassNVMe
}

func (k *Kernel) logger() *slog.Logger {
	if k.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Logger
}

// SupportedOptions reads the kernel's option list from a fresh fd of the fabrics device
// the first time and returns the cached set after that. A kernel older than 5.17 cannot
// list its options (the read fails with EINVAL); it gets DefaultSupported. A failure
// (the nvme-fabrics module not loaded, say) is not cached.
func (k *Kernel) SupportedOptions() (Supported, error) {
	k.mu.Lock()
	if k.haveSupported {
		s := k.supported
		k.mu.Unlock()
		return s, nil
	}
	k.mu.Unlock()

	read := k.readSupported
	if read == nil {
		read = readSupportedDevice
	}
	data, err := read(k.fabricsDevice())
	s, err := SupportedFromRead(data, err)
	if err != nil {
		return Supported{}, err
	}
	k.mu.Lock()
	k.supported, k.haveSupported = s, true
	k.mu.Unlock()
	k.logger().Debug("kernel fabrics options", "device", k.fabricsDevice(), "supported", s.String())
	return s, nil
}

// Connect builds the option string for the running kernel and creates the controller:
// one write of the whole string to a fresh fd of the fabrics device, then a read of the
// reply on the same fd. Errors are wrapped as "connect nvme-tcp 192.0.2.1:4420 (nqn …):
// …" (see Describe) and never contain a secret. A refused write wraps a *WriteError, so
// errors.Is finds both its category (ErrDuplicate, ErrRefused, …) and its errno.
//
// If ctx ends before the kernel answers, Connect returns ctx.Err() (wrapped) at once; the
// write goes on in the background, and a controller it creates is deleted.
func (k *Kernel) Connect(ctx context.Context, o Options) (Reply, []string, error) {
	what := Describe(o)
	if err := ctx.Err(); err != nil {
		return Reply{}, nil, fmt.Errorf("connect %s: %w", what, err)
	}
	sup, err := k.SupportedOptions()
	if err != nil {
		return Reply{}, nil, fmt.Errorf("connect %s: %w", what, err)
	}
	opts, omitted, err := o.Build(sup)
	if err != nil {
		return Reply{}, nil, fmt.Errorf("connect %s: %w", what, err)
	}
	log := k.logger()
	if len(omitted) > 0 {
		log.Info("kernel lacks tuning options, leaving them out", "controller", what, "omitted", omitted)
	}
	log.Debug("writing fabrics options", "controller", what, "options", Redact(opts))

	create := k.create
	if create == nil {
		create = createController
	}
	path := k.fabricsDevice()
	type result struct {
		reply Reply
		err   error
	}
	done := make(chan result) // unbuffered: a result is either taken or abandoned
	abandoned := make(chan struct{})
	k.background.Add(1)
	go func() {
		defer k.background.Done()
		reply, err := create(path, opts)
		select {
		case done <- result{reply, err}:
		case <-abandoned:
			k.discardLateConnect(what, reply, err)
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return Reply{}, omitted, fmt.Errorf("connect %s: %w", what, r.err)
		}
		log.Debug("controller created", "controller", what, "device", r.reply.Device(), "cntlid", r.reply.CntlID)
		return r.reply, omitted, nil
	case <-ctx.Done():
		close(abandoned)
		return Reply{}, omitted, fmt.Errorf("connect %s: %w", what, ctx.Err())
	}
}

// discardLateConnect handles the outcome of a connect whose caller gave up: a controller
// it created is deleted, since nobody would manage it.
func (k *Kernel) discardLateConnect(what string, reply Reply, err error) {
	log := k.logger()
	if err != nil {
		log.Info("abandoned connect failed", "controller", what, "error", err)
		return
	}
	dev := reply.Device()
	log.Warn("controller created after its connect was abandoned, deleting it", "controller", what, "device", dev)
	if err := k.deleteController(dev); err != nil && !errors.Is(err, ErrNoController) {
		log.Error("delete controller of abandoned connect", "controller", what, "device", dev, "error", err)
	}
}

// Disconnect deletes the controller device ("nvme3") by writing "1" to its
// delete_controller attribute; the kernel tears the controller down before the write
// returns. If the controller does not exist (or vanishes during the write) the error
// wraps ErrNoController. Other failures wrap the errno, e.g. EBUSY from newer kernels
// for a controller that never finished connecting.
//
// If ctx ends first, Disconnect returns ctx.Err() (wrapped); the deletion still completes
// in the background and its outcome is logged.
func (k *Kernel) Disconnect(ctx context.Context, device string) error {
	if !ValidDevice(device) {
		return fmt.Errorf("disconnect %q: %w", device, ErrInvalidDevice)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("disconnect %s: %w", device, err)
	}
	done := make(chan error)
	abandoned := make(chan struct{})
	k.background.Add(1)
	go func() {
		defer k.background.Done()
		err := k.deleteController(device)
		select {
		case done <- err:
		case <-abandoned:
			if err != nil && !errors.Is(err, ErrNoController) {
				k.logger().Error("abandoned disconnect failed", "device", device, "error", err)
				return
			}
			k.logger().Info("abandoned disconnect completed", "device", device)
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("disconnect %s: %w", device, err)
		}
		return nil
	case <-ctx.Done():
		close(abandoned)
		return fmt.Errorf("disconnect %s: %w", device, ctx.Err())
	}
}

// deleteController writes to the delete_controller attribute of device.
func (k *Kernel) deleteController(device string) error {
	remove := k.remove
	if remove == nil {
		remove = deleteControllerFile
	}
	path := filepath.Join(k.classNVMe(), device, "delete_controller")
	err := remove(path)
	// ENOENT: no such controller; ENODEV: sysfs refuses a write to the attribute of a
	// device being removed.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("%w: %w", ErrNoController, err)
	}
	return err
}

// Wait blocks until every system call started by Connect and Disconnect has returned
// (including those whose callers gave up), or until ctx ends. Call it at shutdown, after
// the last Connect and Disconnect were started.
func (k *Kernel) Wait(ctx context.Context) error {
	idle := make(chan struct{})
	go func() {
		k.background.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for kernel fabrics operations: %w", ctx.Err())
	}
}
