// SPDX-License-Identifier: Apache-2.0

package fabricstest

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/fabrics"
)

const (
	hostID  = "3e518ec3-72ec-46a5-a603-2510e3140e29"
	hostNQN = "nqn.2014-08.org.nvmexpress:uuid:" + hostID
	secret  = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:"
)

func ioc(traddr string) fabrics.Options {
	return fabrics.Options{Transport: fabrics.TransportTCP, TrAddr: traddr, SubsysNQN: "nqn.2014-08.org.example:s1",
		HostNQN: hostNQN, HostID: hostID}
}

func TestFakeConnectDisconnect(t *testing.T) {
	f := New()
	ctx := context.Background()
	f.AddLive("nvme0", ioc("192.0.2.9"))
	r1, _, err := f.Connect(ctx, ioc("192.0.2.1"))
	if err != nil || r1.Device() != "nvme1" {
		t.Fatalf("Connect = %+v, %v; want nvme1 (nvme0 is taken)", r1, err)
	}
	o := ioc("192.0.2.2")
	o.DHCHAPSecret = secret
	r2, _, err := f.Connect(ctx, o)
	if err != nil || r2.Device() != "nvme2" {
		t.Fatalf("Connect = %+v, %v", r2, err)
	}
	calls := f.Connects()
	if len(calls) != 2 || calls[1].Reply != r2 || strings.Contains(calls[1].OptionString, "ia6z") ||
		!strings.Contains(calls[1].OptionString, "dhchap_secret=(set)") || !strings.HasPrefix(calls[0].OptionString, "nqn=") {
		t.Errorf("Connects = %+v", calls)
	}
	if err := f.Disconnect(ctx, "nvme1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Disconnect(ctx, "nvme1"); !errors.Is(err, fabrics.ErrNoController) {
		t.Errorf("second Disconnect = %v, want ErrNoController", err)
	}
	if err := f.Disconnect(ctx, "../x"); !errors.Is(err, fabrics.ErrInvalidDevice) {
		t.Errorf("Disconnect(../x) = %v", err)
	}
	if live := f.Live(); len(live) != 2 || live["nvme2"].TrAddr != "192.0.2.2" || live["nvme0"].TrAddr != "192.0.2.9" {
		t.Errorf("Live = %v", live)
	}
	// The lowest free instance is reused, as the kernel's IDA does.
	if r, _, _ := f.Connect(ctx, ioc("192.0.2.3")); r.Device() != "nvme1" {
		t.Errorf("Connect after a disconnect got %s, want nvme1", r.Device())
	}
	if d := f.Disconnects(); len(d) != 3 || d[0] != "nvme1" {
		t.Errorf("Disconnects = %v", d)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Disconnect(cancelled, "nvme2"); !errors.Is(err, context.Canceled) {
		t.Errorf("Disconnect with a cancelled context = %v", err)
	}
	if _, _, err := f.Connect(cancelled, ioc("192.0.2.4")); !errors.Is(err, context.Canceled) {
		t.Errorf("Connect with a cancelled context = %v", err)
	}
}

func TestFakeFailures(t *testing.T) {
	f := New()
	ctx := context.Background()
	f.FailConnect(fabrics.WriteErrno(syscall.ECONNREFUSED))
	_, _, err := f.Connect(ctx, ioc("192.0.2.1"))
	if !errors.Is(err, fabrics.ErrRefused) || !strings.HasPrefix(err.Error(), "connect nvme-tcp 192.0.2.1:4420 (nqn ") {
		t.Errorf("Connect = %v", err)
	}
	f.FailConnectIf(func(o fabrics.Options) error {
		if o.TrAddr == "192.0.2.66" {
			return fabrics.WriteErrno(syscall.EALREADY)
		}
		return nil
	})
	if _, _, err := f.Connect(ctx, ioc("192.0.2.66")); !errors.Is(err, fabrics.ErrDuplicate) {
		t.Errorf("Connect = %v, want ErrDuplicate", err)
	}
	if _, _, err := f.Connect(ctx, ioc("192.0.2.67")); err != nil {
		t.Errorf("Connect = %v", err)
	}
	f.FailConnect(nil)
	bad := ioc("not-an-ip")
	if _, _, err := f.Connect(ctx, bad); !errors.Is(err, fabrics.ErrInvalidOption) {
		t.Errorf("Connect with a bad address = %v", err)
	}
	f.SetSupported(fabrics.DefaultSupported(), nil)
	withSecret := ioc("192.0.2.5")
	withSecret.DHCHAPSecret = secret
	if _, _, err := f.Connect(ctx, withSecret); !errors.Is(err, fabrics.ErrUnsupported) {
		t.Errorf("Connect with a secret on a legacy kernel = %v", err)
	}
	f.SetSupported(fabrics.Supported{}, syscall.ENOENT)
	if _, err := f.SupportedOptions(); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("SupportedOptions = %v", err)
	}
	if _, _, err := f.Connect(ctx, ioc("192.0.2.6")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Connect without supported options = %v", err)
	}
	f.FailDisconnect(syscall.EBUSY)
	if err := f.Disconnect(ctx, "nvme0"); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Disconnect = %v", err)
	}
	if len(f.Live()) != 1 {
		t.Errorf("a failed disconnect removed the controller: %v", f.Live())
	}
	if calls := f.Connects(); len(calls) != 6 || calls[0].Err == nil || calls[2].Err != nil {
		t.Errorf("Connects = %+v", calls)
	}
}

func TestFakeBlock(t *testing.T) {
	f := New()
	release := f.Block()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, _, err := f.Connect(ctx, ioc("192.0.2.1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("blocked Connect = %v, want the deadline", err)
	}
	if o := <-f.Entered(); o.TrAddr != "192.0.2.1" {
		t.Errorf("Entered = %v", o)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := f.Connect(context.Background(), ioc("192.0.2.2"))
		done <- err
	}()
	<-f.Entered()
	select {
	case err := <-done:
		t.Fatalf("Connect returned before release: %v", err)
	default:
	}
	release()
	release() // idempotent
	if err := <-done; err != nil {
		t.Errorf("released Connect = %v", err)
	}
	if live := f.Live(); len(live) != 1 {
		t.Errorf("Live = %v; the abandoned connect must not create a controller", live)
	}
	if _, _, err := f.Connect(context.Background(), ioc("192.0.2.3")); err != nil {
		t.Errorf("Connect after release = %v", err)
	}
}
