// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// testSecret must never show up in an error or a log line.
const testSecret = specSecret

// kernel61Line is the supported-option line of a 6.x kernel without TLS
// (nvme-protocol.md §1.3).
const kernel61Line = "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,duplicate_connect,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s\n"

// stafdDC is the discovery controller of the stafd example in nvme-protocol.md §1.6.
func stafdDC() Options {
	o := NewDiscoveryController(TransportTCP, "192.168.1.10", "8009", "")
	o.HostIface, o.HostNQN, o.HostID = "eth0", testHostNQN, testHostID
	o.KeepAliveTmo, o.CtrlLossTmo = IntOf(30), IntOf(600)
	return o
}

const stafdDCString = "nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=192.168.1.10,host_iface=eth0,trsvcid=8009,hostnqn=" +
	testHostNQN + ",hostid=" + testHostID + ",keep_alive_tmo=30,ctrl_loss_tmo=600"

// fakeKernel records what Kernel asks of the system.
type fakeKernel struct {
	mu           sync.Mutex
	supportedErr error
	reads        int
	written      []string // option strings
	deleted      []string // delete_controller paths
	createGate   chan struct{}
	createReply  Reply
	createErr    error
	removeGate   chan struct{}
	removeErr    error
	entered      chan struct{} // receives once per blocked call
	log          bytes.Buffer
}

func newFakeKernel() (*fakeKernel, *Kernel) {
	f := &fakeKernel{entered: make(chan struct{}, 10)}
	k := &Kernel{
		FabricsDevice: "/test/nvme-fabrics",
		ClassNVMe:     "/test/class/nvme",
		Logger:        slog.New(slog.NewTextHandler(&syncWriter{w: &f.log, mu: &f.mu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	k.readSupported = func(path string) ([]byte, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reads++
		if path != "/test/nvme-fabrics" {
			return nil, fmt.Errorf("unexpected path %s", path)
		}
		if f.supportedErr != nil {
			return nil, f.supportedErr
		}
		return []byte(kernel61Line), nil
	}
	k.create = func(path, opts string) (Reply, error) {
		f.mu.Lock()
		f.written = append(f.written, opts)
		gate, reply, err := f.createGate, f.createReply, f.createErr
		f.mu.Unlock()
		if gate != nil {
			f.entered <- struct{}{}
			<-gate
		}
		return reply, err
	}
	k.remove = func(path string) error {
		f.mu.Lock()
		f.deleted = append(f.deleted, path)
		gate, err := f.removeGate, f.removeErr
		f.mu.Unlock()
		if gate != nil {
			f.entered <- struct{}{}
			<-gate
		}
		return err
	}
	return f, k
}

func (f *fakeKernel) snapshot() (written, deleted []string, log string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.written...), append([]string(nil), f.deleted...), f.log.String()
}

type syncWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestKernelSupportedOptions(t *testing.T) {
	f, k := newFakeKernel()
	for range 3 {
		s, err := k.SupportedOptions()
		if err != nil || !s.Has(OptDHCHAPSecret) || s.Legacy() || s.Has("instance") {
			t.Fatalf("SupportedOptions = %v, %v", s, err)
		}
	}
	if f.reads != 1 {
		t.Errorf("the device was read %d times, want once (cached)", f.reads)
	}

	f, k = newFakeKernel()
	f.supportedErr = &fs.PathError{Op: "read", Path: "/test/nvme-fabrics", Err: syscall.EINVAL}
	s, err := k.SupportedOptions()
	if err != nil || !s.Legacy() || !s.Has(OptHostIface) || s.Has(OptDHCHAPSecret) {
		t.Errorf("SupportedOptions on a 5.15 kernel = %v, %v; want the legacy set", s, err)
	}

	f, k = newFakeKernel()
	f.supportedErr = &fs.PathError{Op: "open", Path: "/test/nvme-fabrics", Err: syscall.ENOENT}
	if _, err := k.SupportedOptions(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SupportedOptions without the module = %v, want ENOENT", err)
	}
	f.supportedErr = nil
	if _, err := k.SupportedOptions(); err != nil || f.reads != 2 {
		t.Errorf("after loading the module: %v, %d reads; a failure must not be cached", err, f.reads)
	}
}

func TestKernelConnect(t *testing.T) {
	f, k := newFakeKernel()
	f.createReply = Reply{Instance: 3, CntlID: 1}
	reply, omitted, err := k.Connect(context.Background(), stafdDC())
	if err != nil || reply != (Reply{Instance: 3, CntlID: 1}) || len(omitted) != 0 {
		t.Fatalf("Connect = %+v, %v, %v", reply, omitted, err)
	}
	written, deleted, _ := f.snapshot()
	if len(written) != 1 || written[0] != stafdDCString {
		t.Errorf("wrote %q\nwant %q", written, stafdDCString)
	}
	if len(deleted) != 0 {
		t.Errorf("deleted %v", deleted)
	}
}

func TestKernelConnectOmitted(t *testing.T) {
	f, k := newFakeKernel()
	o := Options{Transport: TransportTCP, TrAddr: "192.0.2.1", SubsysNQN: "nqn.2014-08.org.example:s1",
		HostNQN: testHostNQN, HostID: testHostID, NrIOQueues: IntOf(4), TOS: IntOf(0)}
	// A kernel that does not list nr_io_queues (a tuning option: left out, not refused).
	k.readSupported = func(string) ([]byte, error) {
		return []byte(strings.Replace(kernel61Line, "nr_io_queues=%d,", "", 1)), nil
	}
	_, omitted, err := k.Connect(context.Background(), o)
	if err != nil || len(omitted) != 1 || omitted[0] != OptNrIOQueues {
		t.Fatalf("Connect = %v, %v; want nr_io_queues omitted", omitted, err)
	}
	written, _, log := f.snapshot()
	if want := "nqn=nqn.2014-08.org.example:s1,transport=tcp,traddr=192.0.2.1,trsvcid=4420,hostnqn=" + testHostNQN +
		",hostid=" + testHostID + ",tos=0"; written[0] != want {
		t.Errorf("wrote %q\nwant %q", written[0], want)
	}
	if !strings.Contains(log, "omitted") {
		t.Errorf("no log line about the omitted option:\n%s", log)
	}
}

func TestKernelConnectErrors(t *testing.T) {
	f, k := newFakeKernel()
	f.createErr = WriteErrno(syscall.ECONNREFUSED)
	_, _, err := k.Connect(context.Background(), stafdDC())
	const prefix = "connect nvme-tcp 192.168.1.10:8009 (nqn nqn.2014-08.org.nvmexpress.discovery, iface eth0): "
	if !errors.Is(err, ErrRefused) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("Connect error = %v; want ErrRefused with prefix %q", err, prefix)
	}

	// Secrets stay out of errors and logs, whatever fails.
	o := Options{Transport: TransportTCP, TrAddr: "2001:db8::1", TrSvcID: "4420", SubsysNQN: "nqn.2014-08.org.example:s1",
		HostNQN: testHostNQN, HostID: testHostID, DHCHAPSecret: testSecret}
	f.createErr = WriteErrno(syscall.EINVAL)
	_, _, err = k.Connect(context.Background(), o)
	if !errors.Is(err, ErrInvalidOption) || !strings.HasPrefix(err.Error(), "connect nvme-tcp [2001:db8::1]:4420 (nqn nqn.2014-08.org.example:s1): ") {
		t.Errorf("Connect error = %v", err)
	}
	written, _, log := f.snapshot()
	if !strings.Contains(written[len(written)-1], testSecret) {
		t.Errorf("the kernel did not get the secret: %q", written[len(written)-1])
	}
	if strings.Contains(err.Error(), "ia6zGodOr4") || strings.Contains(log, "ia6zGodOr4") {
		t.Errorf("secret leaked:\nerror %v\nlog %s", err, log)
	}
	if !strings.Contains(log, "dhchap_secret=(set)") {
		t.Errorf("log does not show the redacted option string:\n%s", log)
	}

	// An invalid option never reaches the kernel.
	bad := o
	bad.DHCHAPSecret = "DHHC-1:00:broken" + testSecret[20:]
	n := len(written)
	_, _, err = k.Connect(context.Background(), bad)
	written, _, _ = f.snapshot()
	if !errors.Is(err, ErrInvalidOption) || len(written) != n || strings.Contains(err.Error(), "broken") {
		t.Errorf("Connect with a bad secret = %v (writes %d → %d)", err, n, len(written))
	}

	// No supported options, no connect.
	f2, k2 := newFakeKernel()
	f2.supportedErr = &fs.PathError{Op: "open", Path: "/test/nvme-fabrics", Err: syscall.ENOENT}
	if _, _, err := k2.Connect(context.Background(), stafdDC()); !errors.Is(err, fs.ErrNotExist) || len(f2.written) != 0 {
		t.Errorf("Connect without /dev/nvme-fabrics = %v", err)
	}

	// A context that has ended already: nothing is written.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n = len(written)
	if _, _, err := k.Connect(ctx, stafdDC()); !errors.Is(err, context.Canceled) {
		t.Errorf("Connect with a cancelled context = %v", err)
	}
	if written, _, _ = f.snapshot(); len(written) != n {
		t.Error("Connect with a cancelled context wrote to the kernel")
	}
}

// TestKernelConnectAbandoned: the caller gives up while the kernel is still connecting;
// the controller created later is deleted, not leaked.
func TestKernelConnectAbandoned(t *testing.T) {
	for _, tc := range []struct {
		name       string
		createErr  error
		wantDelete bool
	}{
		{"late success is deleted", nil, true},
		{"late failure needs nothing", WriteErrno(syscall.ETIMEDOUT), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, k := newFakeKernel()
			f.createGate = make(chan struct{})
			f.createReply, f.createErr = Reply{Instance: 7, CntlID: 2}, tc.createErr
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, _, err := k.Connect(ctx, stafdDC())
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
				t.Fatalf("Connect = %v after %v; want the deadline, promptly", err, time.Since(start))
			}
			<-f.entered
			if _, deleted, _ := f.snapshot(); len(deleted) != 0 {
				t.Fatalf("deleted %v before the kernel answered", deleted)
			}
			close(f.createGate)
			if err := k.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, deleted, log := f.snapshot()
			if tc.wantDelete {
				if len(deleted) != 1 || deleted[0] != filepath.Join("/test/class/nvme", "nvme7", "delete_controller") {
					t.Errorf("deleted %v; want nvme7's delete_controller", deleted)
				}
				if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "device=nvme7") {
					t.Errorf("no warning about the deleted controller:\n%s", log)
				}
			} else if len(deleted) != 0 {
				t.Errorf("deleted %v after a failed connect", deleted)
			}
		})
	}
}

func TestKernelConnectAbandonedDeleteFails(t *testing.T) {
	f, k := newFakeKernel()
	f.createGate = make(chan struct{})
	f.createReply = Reply{Instance: 8}
	f.removeErr = &fs.PathError{Op: "write", Path: "x", Err: syscall.EBUSY}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.entered; cancel() }()
	if _, _, err := k.Connect(ctx, stafdDC()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect = %v", err)
	}
	close(f.createGate)
	if err := k.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, log := f.snapshot(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "resource busy") {
		t.Errorf("failed deletion not logged:\n%s", log)
	}
}

func TestKernelDisconnect(t *testing.T) {
	f, k := newFakeKernel()
	if err := k.Disconnect(context.Background(), "nvme12"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if _, deleted, _ := f.snapshot(); len(deleted) != 1 || deleted[0] != filepath.Join("/test/class/nvme", "nvme12", "delete_controller") {
		t.Errorf("deleted %v", deleted)
	}
	for _, name := range []string{"", "nvme", "nvme01", "../nvme1", "nvme1/../../x", "nvme1n1", "sda", "nvme-fabrics"} {
		if err := k.Disconnect(context.Background(), name); !errors.Is(err, ErrInvalidDevice) {
			t.Errorf("Disconnect(%q) = %v, want ErrInvalidDevice", name, err)
		}
	}
	for errno, want := range map[syscall.Errno]error{
		syscall.ENOENT: ErrNoController,
		syscall.ENODEV: ErrNoController,
		syscall.EBUSY:  syscall.EBUSY,
	} {
		f.removeErr = &fs.PathError{Op: "write", Path: "delete_controller", Err: errno}
		err := k.Disconnect(context.Background(), "nvme3")
		if !errors.Is(err, want) || !errors.Is(err, errno) || !strings.HasPrefix(err.Error(), "disconnect nvme3: ") {
			t.Errorf("Disconnect with %v = %v, want %v", errno, err, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.removeErr = nil
	n := len(f.deleted)
	if err := k.Disconnect(ctx, "nvme3"); !errors.Is(err, context.Canceled) || len(f.deleted) != n {
		t.Errorf("Disconnect with a cancelled context = %v", err)
	}
}

func TestKernelDisconnectAbandoned(t *testing.T) {
	for _, removeErr := range []error{nil, syscall.EBUSY} {
		f, k := newFakeKernel()
		f.removeGate = make(chan struct{})
		f.removeErr = removeErr
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-f.entered; cancel() }()
		if err := k.Disconnect(ctx, "nvme4"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Disconnect = %v", err)
		}
		waitCtx, waitCancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if err := k.Wait(waitCtx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait while the kernel is busy = %v", err)
		}
		waitCancel()
		close(f.removeGate)
		if err := k.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, _, log := f.snapshot()
		want := "abandoned disconnect completed"
		if removeErr != nil {
			want = "abandoned disconnect failed"
		}
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestKernelDefaults(t *testing.T) {
	var k Kernel
	if k.fabricsDevice() != "/dev/nvme-fabrics" || k.classNVMe() != "/sys/class/nvme" || k.logger() == nil {
		t.Errorf("defaults: %q %q", k.fabricsDevice(), k.classNVMe())
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{stafdDC(), "nvme-tcp 192.168.1.10:8009 (nqn nqn.2014-08.org.nvmexpress.discovery, iface eth0)"},
		{Options{Transport: TransportTCP, TrAddr: "192.0.2.1", SubsysNQN: "nqn.x:y"}, "nvme-tcp 192.0.2.1:4420 (nqn nqn.x:y)"},
		{Options{Transport: TransportTCP, TrAddr: "192.0.2.1", SubsysNQN: "nqn.x:y", Discovery: true}, "nvme-tcp 192.0.2.1:8009 (nqn nqn.x:y)"},
		{Options{Transport: TransportTCP, TrAddr: "fe80::1", TrSvcID: "none", HostIface: "none", SubsysNQN: nqn.WellKnownDiscovery},
			"nvme-tcp [fe80::1]:8009 (nqn nqn.2014-08.org.nvmexpress.discovery)"},
		{Options{Transport: TransportRDMA, TrAddr: "192.0.2.1", TrSvcID: "4420", HostTrAddr: "192.0.2.2", SubsysNQN: "s"},
			"nvme-rdma 192.0.2.1:4420 (nqn s, from 192.0.2.2)"},
		{Options{Transport: TransportFC, TrAddr: "nn-0x1000000000000001:pn-0x2000000000000001", SubsysNQN: "s"},
			"nvme-fc nn-0x1000000000000001:pn-0x2000000000000001 (nqn s)"},
		{Options{Transport: TransportLoop, SubsysNQN: "s"}, "nvme-loop (nqn s)"},
		{Options{Transport: "tcp\n", TrAddr: "1.2.3.4,\x00", TrSvcID: "1", SubsysNQN: "a\x1bb"}, `nvme-tcp\n 1.2.3.4,\x00:1 (nqn a\x1bb)`},
	} {
		if got := Describe(tc.o); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestValidDevice(t *testing.T) {
	for name, want := range map[string]bool{
		"nvme0": true, "nvme12": true, "nvme1048575": true, "nvme": false, "nvme00": false, "nvme-1": false,
		"nvme1n1": false, "nvme 1": false, "../nvme1": false, "nvme12345678": false, "NVME1": false,
	} {
		if got := ValidDevice(name); got != want {
			t.Errorf("ValidDevice(%q) = %v, want %v", name, got, want)
		}
	}
}
