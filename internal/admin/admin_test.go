// SPDX-License-Identifier: Apache-2.0

package admin

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

const testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964"

// contexts runs f with a context that cannot be cancelled (the synchronous path) and
// with one that can (the background path).
func contexts(t *testing.T, f func(t *testing.T, ctx context.Context)) {
	t.Run("background", func(t *testing.T) { f(t, context.Background()) })
	t.Run("cancellable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f(t, ctx)
	})
}

// checkRAE asserts the RAE rule of a successful discovery log read: the last command
// clears RAE, every earlier one sets it.
func checkRAE(t *testing.T, cmds []fakeCmd) {
	t.Helper()
	for i, c := range cmds {
		if c.Opcode != nvme.OpGetLogPage || c.Log.LID != nvme.LIDDiscovery {
			t.Fatalf("command %d is %+v, want a discovery Get Log Page", i, c)
		}
		if last := i == len(cmds)-1; c.Log.RAE == last {
			t.Errorf("command %d of %d (offset %d, %d bytes): RAE=%v", i+1, len(cmds), c.Log.Offset, c.Log.Length, c.Log.RAE)
		}
	}
	if last := cmds[len(cmds)-1]; !last.isHeaderRead() || last.Log.Length != nvme.LogHeaderReadLen {
		t.Errorf("last command %+v is not a 20-byte header read", last)
	}
}

func TestDiscoveryLog(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 1000} {
		contexts(t, func(t *testing.T, ctx context.Context) {
			want := testLog(n, 42)
			f := newFakeDC(t, want)
			d := NewDevice("fake0", f)
			got, err := d.DiscoveryLog(ctx, nvme.LSPDiscoveryPLEO)
			if err != nil {
				t.Fatalf("%d entries: %v", n, err)
			}
			if !equalLogs(got, want) {
				t.Fatalf("%d entries: log differs", n)
			}
			cmds := f.commands()
			checkRAE(t, cmds)
			// Header, the entries in 4 KiB pieces, header again.
			pieces := (n*nvme.LogEntrySize + LogPieceSize - 1) / LogPieceSize
			if len(cmds) != pieces+2 {
				t.Errorf("%d entries: %d commands, want %d", n, len(cmds), pieces+2)
			}
			next := uint64(nvme.LogHeaderSize)
			for i, c := range cmds {
				if c.Log.LSP != nvme.LSPDiscoveryPLEO || c.NSID != 0 {
					t.Errorf("command %d: lsp %d nsid %d", i, c.Log.LSP, c.NSID)
				}
				if c.Log.Length > LogPieceSize || c.Log.Length%4 != 0 {
					t.Errorf("command %d: length %d", i, c.Log.Length)
				}
				if c.isHeaderRead() {
					continue
				}
				if c.Log.Offset != next {
					t.Errorf("command %d: offset %d, want %d", i, c.Log.Offset, next)
				}
				next += c.Log.Length
			}
			if next != uint64(nvme.LogHeaderSize+n*nvme.LogEntrySize) {
				t.Errorf("entries read up to %d", next)
			}
		})
	}
}

func TestDiscoveryLogGenCtrChangesOnce(t *testing.T) {
	before, after := testLog(10, 7), testLog(12, 8)
	after.Entries[3].TrAddr = "203.0.113.9"
	f := newFakeDC(t, before)
	entryReads := 0
	f.after = func(f *fakeDC, c fakeCmd) {
		if !c.isHeaderRead() {
			if entryReads++; entryReads == 1 {
				f.setLog(t, after) // the log changes in the middle of the first read
			}
		}
	}
	got, err := NewDevice("fake0", f).DiscoveryLog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !equalLogs(got, after) {
		t.Fatalf("got genctr %d with %d entries, want the changed log", got.GenCtr, len(got.Entries))
	}
	cmds := f.commands()
	// header, 3 pieces (torn), header (moved), 3 pieces, header (same).
	if len(cmds) != 1+3+1+3+1 {
		t.Fatalf("%d commands", len(cmds))
	}
	if last := cmds[len(cmds)-1]; last.Log.RAE || !last.isHeaderRead() {
		t.Errorf("last command %+v", last)
	}
	for i, c := range cmds[:len(cmds)-1] {
		// Only the re-read that saw the counter move may have cleared RAE.
		if !c.Log.RAE && i != 4 {
			t.Errorf("command %d %+v cleared RAE", i, c)
		}
	}
}

func TestDiscoveryLogEmptyThenChanged(t *testing.T) {
	// An empty log that gains entries between the two header reads is read again.
	f := newFakeDC(t, testLog(0, 1))
	headers := 0
	f.after = func(f *fakeDC, c fakeCmd) {
		if c.isHeaderRead() {
			if headers++; headers == 1 {
				f.setLog(t, testLog(2, 2))
			}
		}
	}
	got, err := NewDevice("fake0", f).DiscoveryLog(context.Background(), 0)
	if err != nil || got.GenCtr != 2 || len(got.Entries) != 2 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestDiscoveryLogUnstable(t *testing.T) {
	for _, maxRetries := range []int{0, 1, 3} {
		f := newFakeDC(t, testLog(5, 100))
		f.after = func(f *fakeDC, c fakeCmd) {
			if c.isHeaderRead() {
				f.setGenCtr(f.header().GenCtr + 1)
			}
		}
		d := NewDevice("fake0", f)
		d.MaxRetries = maxRetries
		_, err := d.DiscoveryLog(context.Background(), 0)
		if !errors.Is(err, ErrUnstableLog) {
			t.Fatalf("MaxRetries %d: err = %v, want ErrUnstableLog", maxRetries, err)
		}
		want := maxRetries
		if want == 0 {
			want = DefaultMaxRetries
		}
		entryReads := 0
		for _, c := range f.commands() {
			if c.Log.Offset == nvme.LogHeaderSize {
				entryReads++
			}
		}
		if entryReads != want {
			t.Errorf("MaxRetries %d: %d entry reads, want %d", maxRetries, entryReads, want)
		}
		if !strings.Contains(err.Error(), "fake0") {
			t.Errorf("error %q does not name the device", err)
		}
	}
}

func TestDiscoveryLogNumRecChanged(t *testing.T) {
	f := newFakeDC(t, testLog(5, 9))
	f.after = func(f *fakeDC, c fakeCmd) {
		if !c.isHeaderRead() {
			f.setNumRec(4) // genctr untouched: a broken controller
		}
	}
	_, err := NewDevice("fake0", f).DiscoveryLog(context.Background(), 0)
	if !errors.Is(err, ErrInconsistentLog) {
		t.Fatalf("err = %v, want ErrInconsistentLog", err)
	}
}

func TestDiscoveryLogHugeNumRec(t *testing.T) {
	for _, numrec := range []uint64{nvme.MaxLogRecords + 1, 1 << 40, ^uint64(0)} {
		f := newFakeDC(t, testLog(1, 1))
		f.setNumRec(numrec)
		d := NewDevice("fake0", f)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		_, err := d.DiscoveryLog(context.Background(), 0)
		runtime.ReadMemStats(&ms1)
		if !errors.Is(err, nvme.ErrMalformed) {
			t.Errorf("numrec %d: err = %v, want nvme.ErrMalformed", numrec, err)
		}
		if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 1<<20 {
			t.Errorf("numrec %d: allocated %d bytes", numrec, grew)
		}
		if cmds := f.commands(); len(cmds) != 1 {
			t.Errorf("numrec %d: %d commands after the header", numrec, len(cmds)-1)
		}
	}
}

func TestDiscoveryLogErrors(t *testing.T) {
	// A failure at each step is reported with the step and stops the read.
	for fail := range 3 {
		f := newFakeDC(t, testLog(2, 1))
		n := 0
		f.after = func(f *fakeDC, c fakeCmd) {
			if n++; n == fail {
				f.fail[nvme.OpGetLogPage] = syscall.EIO
			}
		}
		if fail == 0 {
			f.fail[nvme.OpGetLogPage] = syscall.EIO
		}
		_, err := NewDevice("fake0", f).DiscoveryLog(context.Background(), 0)
		if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "read discovery log on fake0") {
			t.Errorf("failure at command %d: err = %v", fail+1, err)
		}
	}
	// An LSP that does not fit its 7 bits is refused before anything is sent.
	f := newFakeDC(t, testLog(2, 1))
	if _, err := NewDevice("fake0", f).DiscoveryLog(context.Background(), 0x80); !errors.Is(err, nvme.ErrInvalidValue) {
		t.Errorf("lsp 0x80: err = %v", err)
	}
	if len(f.commands()) != 0 {
		t.Error("a command was sent with a bad lsp")
	}
}

func TestGetLogPagePieces(t *testing.T) {
	for _, rae := range []bool{false, true} {
		f := newFakeDC(t, testLog(12, 5))
		page, _ := testLog(12, 5).MarshalBinary()
		d := NewDevice("fake0", f)
		buf := make([]byte, 10000)
		p := nvme.GetLogPage{LID: nvme.LIDDiscovery, Offset: 8, RAE: rae}
		if err := d.GetLogPage(context.Background(), p, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != string(page[8:10008]) {
			t.Error("data differs")
		}
		want := []nvme.GetLogPage{
			{LID: nvme.LIDDiscovery, Offset: 8, Length: 4096, RAE: true},
			{LID: nvme.LIDDiscovery, Offset: 4104, Length: 4096, RAE: true},
			{LID: nvme.LIDDiscovery, Offset: 8200, Length: 1808, RAE: rae},
		}
		var got []nvme.GetLogPage
		for _, c := range f.commands() {
			got = append(got, c.Log)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("RAE %v: pieces\n%+v\nwant\n%+v", rae, got, want)
		}
	}
}

func TestGetLogPageInvalid(t *testing.T) {
	f := newFakeDC(t, testLog(1, 1))
	d := NewDevice("fake0", f)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    nvme.GetLogPage
		n    int
	}{
		{"length mismatch", nvme.GetLogPage{LID: 0x70, Length: 8}, 4},
		{"empty buffer", nvme.GetLogPage{LID: 0x70}, 0},
		{"odd length", nvme.GetLogPage{LID: 0x70}, 6},
		{"offset overflow", nvme.GetLogPage{LID: 0x70, Offset: ^uint64(0) - 3}, 8},
	} {
		if err := d.GetLogPage(ctx, tc.p, make([]byte, tc.n)); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if err := d.GetLogPage(ctx, nvme.GetLogPage{LID: 0x70, Offset: 2}, make([]byte, 4)); !errors.Is(err, nvme.ErrInvalidValue) {
		t.Errorf("unaligned offset: err = %v", err)
	}
	if len(f.commands()) != 0 {
		t.Error("an invalid request reached the controller")
	}
	// A log page the controller does not have.
	err := d.GetLogPage(ctx, nvme.GetLogPage{LID: 0x42}, make([]byte, 512))
	var st nvme.Status
	if !errors.Is(err, ErrNotSupported) || !errors.As(err, &st) || st != statusInvalidLogPage {
		t.Errorf("LID 0x42: err = %v", err)
	}
}

func TestIdentifyController(t *testing.T) {
	contexts(t, func(t *testing.T, ctx context.Context) {
		f := newFakeDC(t, testLog(1, 1))
		id, err := NewDevice("fake0", f).IdentifyController(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id.SerialNumber != "fake-sn" || id.DCType != nvme.DCTypeDDC || !id.SupportsRegistration() ||
			!id.SupportsDiscoveryLogChangeNotices() || !id.SupportsExtendedLogPageData() {
			t.Errorf("identify = %+v", id)
		}
		cmds := f.commands()
		if len(cmds) != 1 || cmds[0].Opcode != nvme.OpIdentify || cmds[0].CDW10 != 1 || cmds[0].NSID != 0 || cmds[0].Len != 4096 {
			t.Errorf("commands %+v", cmds)
		}
	})
}

func TestIdentifyControllerErrors(t *testing.T) {
	f := newFakeDC(t, testLog(1, 1))
	f.fail[nvme.OpIdentify] = nvme.NewStatus(nvme.SCTGeneric, nvme.SCInternalError, false)
	d := NewDevice("nvme7", f)
	_, err := d.IdentifyController(context.Background())
	var st nvme.Status
	if !errors.As(err, &st) || st.SC() != nvme.SCInternalError || errors.Is(err, ErrNotSupported) {
		t.Errorf("internal error: err = %v", err)
	}
	if want := "identify controller on nvme7: nvme status: Internal Error"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}

	f.fail[nvme.OpIdentify] = syscall.EPERM
	if _, err := d.IdentifyController(context.Background()); !errors.Is(err, syscall.EPERM) || errors.As(err, &st) {
		t.Errorf("EPERM: err = %v", err)
	}

	delete(f.fail, nvme.OpIdentify)
	f.identify = f.identify[:100] // the fake then leaves the rest zero: still decodes
	if _, err := d.IdentifyController(context.Background()); err != nil {
		t.Errorf("short identify: %v", err)
	}
}

func TestSupportedLogPages(t *testing.T) {
	f := newFakeDC(t, testLog(1, 1))
	var s nvme.SupportedLogPages
	s[nvme.LIDSupportedLogPages] = 1
	s[nvme.LIDDiscovery] = 1 | uint32(nvme.DiscoveryOptPLEOS|nvme.DiscoveryOptEXTDLPES)<<16
	f.supported = &s
	d := NewDevice("fake0", f)
	got, err := d.SupportedLogPages(context.Background())
	if err != nil || got != s {
		t.Fatalf("got %v, %v", got.DiscoveryOptions(), err)
	}
	if got.DiscoveryOptions().DiscoveryLSP() != nvme.LSPDiscoveryPLEO {
		t.Errorf("options %v", got.DiscoveryOptions())
	}
	c := f.commands()[0]
	if c.Log.LID != 0 || !c.Log.RAE || c.Log.Length != 1024 || c.NSID != nsidAll {
		t.Errorf("command %+v", c)
	}

	// nvmet (Invalid Field) and a controller that follows the specification (Invalid
	// Log Page) both say "not supported"; the status stays reachable.
	for _, reject := range []nvme.Status{0, statusInvalidLogPage, statusInvalidOpcode} {
		f.supported, f.rejectLID0 = nil, reject
		_, err := d.SupportedLogPages(context.Background())
		var st nvme.Status
		if !errors.Is(err, ErrNotSupported) || !errors.As(err, &st) {
			t.Errorf("reject %v: err = %v", reject, err)
		}
		if !strings.Contains(err.Error(), "get supported log pages on fake0") {
			t.Errorf("error %q", err)
		}
	}
	// Other failures are not "not supported".
	f.rejectLID0 = nvme.NewStatus(nvme.SCTPathRelated, 0x70, false)
	if _, err := d.SupportedLogPages(context.Background()); err == nil || errors.Is(err, ErrNotSupported) {
		t.Errorf("path error: err = %v", err)
	}
}

func TestDIM(t *testing.T) {
	data, err := nvme.NewHostRegistration(nvme.HostRegistration{
		HostNQN: testHostNQN, HostID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SymbolicName: "Bart-Simpson", EntityName: "host1",
		EntityVersion: "Linux 6.1.0-18-amd64 Debian GNU/Linux 12", AdrFam: nvme.AddressFamilyIPv4,
	})
	if err != nil {
		t.Fatal(err)
	}
	contexts(t, func(t *testing.T, ctx context.Context) {
		f := newFakeDC(t, testLog(1, 1))
		f.dimResult = 0x1234
		d := NewDevice("fake0", f)
		for _, task := range []nvme.DIMTask{nvme.DIMRegister, nvme.DIMDeregister, nvme.DIMUpdate} {
			res, err := d.DIM(ctx, task, data)
			if err != nil || res != 0x1234 {
				t.Fatalf("%s: %#x, %v", task, res, err)
			}
		}
		cmds := f.commands()
		for i, c := range cmds {
			if c.Opcode != nvme.OpDiscoveryInfoMgmt || nvme.ParseDIMCDW10(c.CDW10) != nvme.DIMTask(i) || c.Len != data.TDL() {
				t.Errorf("command %d: %+v", i, c)
			}
		}
		for i, payload := range f.dims {
			got, err := nvme.DecodeDIMData(payload)
			if err != nil || !reflect.DeepEqual(got, data) {
				t.Errorf("payload %d: %+v, %v", i, got, err)
			}
		}
	})

	f := newFakeDC(t, testLog(1, 1))
	d := NewDevice("fake0", f)
	// nvmet rejects the opcode.
	f.fail[nvme.OpDiscoveryInfoMgmt] = statusInvalidOpcode
	if _, err := d.DIM(context.Background(), nvme.DIMRegister, data); !errors.Is(err, ErrNotSupported) {
		t.Errorf("nvmet: err = %v", err)
	}
	delete(f.fail, nvme.OpDiscoveryInfoMgmt)
	// A command-specific failure keeps its result dword.
	f.dimResult, f.dimStatus = 0xbeef, nvme.NewStatus(nvme.SCTCommandSpecific, 0x2b, true)
	res, err := d.DIM(context.Background(), nvme.DIMRegister, data)
	var st nvme.Status
	if res != 0xbeef || !errors.As(err, &st) || st != f.dimStatus || errors.Is(err, ErrNotSupported) {
		t.Errorf("failed DIM: %#x, %v", res, err)
	}
	// Invalid arguments never reach the controller.
	n := len(f.commands())
	if _, err := d.DIM(context.Background(), nvme.DIMTask(3), data); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("task 3: %v", err)
	}
	if _, err := d.DIM(context.Background(), nvme.DIMRegister, nil); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("nil data: %v", err)
	}
	bad := *data
	bad.EntityID = "not an nqn"
	if _, err := d.DIM(context.Background(), nvme.DIMRegister, &bad); err == nil {
		t.Error("bad data accepted")
	}
	if len(f.commands()) != n {
		t.Error("an invalid DIM was sent")
	}
}

func TestSubmitValidation(t *testing.T) {
	f := newFakeDC(t, testLog(1, 1))
	d := NewDevice("fake0", f)
	for _, c := range []Command{
		{Opcode: nvme.OpKeepAlive, Data: make([]byte, 4)},
		{Opcode: nvme.OpDiscoveryInfoMgmt, Data: make([]byte, 4), Direction: DataFromController},
		{Opcode: nvme.OpIdentify, Data: make([]byte, 4), Direction: DataToController},
		{Opcode: nvme.OpIdentify, Direction: DataFromController},
		{Opcode: nvme.OpIdentify, Data: make([]byte, 4), Direction: Direction(7)},
	} {
		if _, err := d.Submit(context.Background(), &c); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s %s: err = %v", c.Opcode, c.Direction, err)
		}
	}
	if len(f.commands()) != 0 {
		t.Error("an invalid command was sent")
	}
	// A command without data; the fake does not implement Keep Alive.
	contexts(t, func(t *testing.T, ctx context.Context) {
		_, err := d.Submit(ctx, &Command{Opcode: nvme.OpKeepAlive})
		if !errors.Is(err, ErrNotSupported) || !strings.HasPrefix(err.Error(), "Keep Alive on fake0: ") {
			t.Errorf("keep alive: err = %v", err)
		}
	})
	// A large command goes through an unpooled private buffer.
	big := make([]byte, 3*LogPieceSize)
	f.fail[nvme.OpDiscoveryInfoMgmt] = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := d.Submit(ctx, &Command{Opcode: nvme.OpDiscoveryInfoMgmt, Data: big, Direction: DataToController}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.dims[0]); n != len(big) {
		t.Errorf("DIM payload %d bytes", n)
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[Direction]string{
		DataNone: "none", DataFromController: "from-controller", DataToController: "to-controller", 9: "direction(9)",
	} {
		if d.String() != want {
			t.Errorf("%d: %q", d, d.String())
		}
	}
}

func TestKernelTimeout(t *testing.T) {
	f := newFakeDC(t, testLog(1, 1))
	d := NewDevice("fake0", f)
	last := func() time.Duration { c := f.commands(); return c[len(c)-1].Timeout }
	identify := func(ctx context.Context, limit time.Duration) time.Duration {
		t.Helper()
		c := &Command{Opcode: nvme.OpIdentify, CDW10: 1, Data: make([]byte, 4096), Direction: DataFromController, Timeout: limit}
		if _, err := d.Submit(ctx, c); err != nil {
			t.Fatal(err)
		}
		if c.Timeout != limit {
			t.Error("Submit changed the caller's command")
		}
		return last()
	}

	if got := identify(context.Background(), 0); got != DefaultTimeout {
		t.Errorf("no deadline: %v", got)
	}
	d.Timeout = 5 * time.Second
	if got := identify(context.Background(), 0); got != 5*time.Second {
		t.Errorf("configured: %v", got)
	}
	if got := identify(context.Background(), 2*time.Second); got != 2*time.Second {
		t.Errorf("command limit: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := identify(ctx, 0); got <= 9*time.Second || got > 10*time.Second {
		t.Errorf("10 s deadline: %v", got)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if got := identify(ctx, 0); got != MinTimeout {
		t.Errorf("near deadline: %v", got)
	}

	for in, want := range map[time.Duration]uint32{
		0: 0, -time.Second: 0, time.Nanosecond: 1, time.Millisecond: 1, 1500 * time.Microsecond: 2,
		30 * time.Second: 30000, 2000 * time.Hour: 0xffffffff,
	} {
		if got := timeoutMillis(in); got != want {
			t.Errorf("timeoutMillis(%v) = %d, want %d", in, got, want)
		}
	}
}

func TestContextDoneBeforeSubmit(t *testing.T) {
	f := newFakeDC(t, testLog(3, 1))
	d := NewDevice("fake0", f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.DiscoveryLog(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if len(f.commands()) != 0 {
		t.Error("a command was sent under a cancelled context")
	}
}

// blockingFake returns a fake whose commands wait until release is called.
func blockingFake(t *testing.T) (f *fakeDC, release func()) {
	f = newFakeDC(t, testLog(3, 1))
	f.block = make(chan struct{})
	f.started = make(chan *Command, 2*maxInFlight)
	f.finished = make(chan struct{}, 2*maxInFlight)
	return f, func() { close(f.block) }
}

func TestCancelReturnsPromptly(t *testing.T) {
	f, release := blockingFake(t)
	d := NewDevice("fake0", f)
	ctx, cancel := context.WithCancel(context.Background())
	buf := make([]byte, 2048)
	errc := make(chan error, 1)
	go func() { errc <- d.GetLogPage(ctx, nvme.GetLogPage{LID: nvme.LIDDiscovery}, buf) }()

	sent := <-f.started
	if &sent.Data[0] == &buf[0] {
		t.Fatal("the controller was given the caller's buffer")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "fake0") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GetLogPage did not return after cancel")
	}

	// The caller reuses its buffer while the command is still running; the race
	// detector reports it if the late completion writes into it.
	for i := range buf {
		buf[i] = 0xaa
	}
	release()
	select {
	case <-f.finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the fake did not finish")
	}
	for i, b := range buf {
		if b != 0xaa {
			t.Fatalf("byte %d of the caller's buffer changed to %#x after it returned", i, b)
		}
	}
	// The answer went to the private buffer instead: the header of a log with genctr 1.
	if h, err := nvme.DecodeLogHeader(sent.Data); err != nil || h.GenCtr != 1 || h.NumRec != 3 {
		t.Errorf("private buffer holds %+v, %v", h, err)
	}
}

func TestDeadlineWhileBlocked(t *testing.T) {
	f, release := blockingFake(t)
	defer release()
	d := NewDevice("fake0", f)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.IdentifyController(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("returned after %v", el)
	}
}

func TestInFlightBound(t *testing.T) {
	f, release := blockingFake(t)
	d := NewDevice("fake0", f)
	// Abandon maxInFlight commands on a hung controller.
	for range maxInFlight {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, err := d.IdentifyController(ctx); errc <- err }()
		<-f.started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	}
	// The next caller waits for a slot within its own deadline; nothing reaches the
	// controller.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.IdentifyController(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("err = %v", err)
	}
	if n := len(f.started); n != 0 {
		t.Errorf("%d more commands reached the controller", n)
	}
	// Once the controller answers, the slots free up.
	release()
	for range maxInFlight {
		<-f.finished
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { <-f.started }()
	if _, err := d.IdentifyController(ctx); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// lateFake completes each command just as its context is cancelled.
type lateFake struct {
	*fakeDC
	cancel context.CancelFunc
}

func (l lateFake) Submit(ctx context.Context, c *Command) (uint32, error) {
	res, err := l.fakeDC.Submit(ctx, c)
	l.cancel()
	<-ctx.Done()
	return res, err
}

func TestCompletionRacingCancel(t *testing.T) {
	// Whichever the select sees first, a command that completed is never reported
	// with data missing: either the data and nil, or the context's error.
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		f := lateFake{newFakeDC(t, testLog(1, 1)), cancel}
		id, err := NewDevice("fake0", f).IdentifyController(ctx)
		switch {
		case err == nil && id.SerialNumber != "fake-sn":
			t.Fatalf("identify = %+v", id)
		case err != nil && !errors.Is(err, context.Canceled):
			t.Fatalf("err = %v", err)
		}
	}
}

func TestOpenNames(t *testing.T) {
	for _, name := range []string{"", "a/b", ".", ".."} {
		if _, err := Open(name); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("Open(%q) err = %v", name, err)
		}
	}
	for _, name := range []string{"nvme-no-such-device", "/nonexistent/nvme9"} {
		if d, err := Open(name); err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded", name)
		}
	}
}

type closer struct {
	Submitter
	err error
}

func (c closer) Close() error { return c.err }

func TestClose(t *testing.T) {
	if err := NewDevice("fake0", newFakeDC(t, testLog(1, 1))).Close(); err != nil {
		t.Errorf("not a closer: %v", err)
	}
	d := NewDevice("fake0", closer{newFakeDC(t, testLog(1, 1)), syscall.EBADF})
	if err := d.Close(); !errors.Is(err, syscall.EBADF) || !strings.Contains(err.Error(), "fake0") {
		t.Errorf("err = %v", err)
	}
	var zero Device
	if _, err := zero.IdentifyController(context.Background()); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("zero Device: %v", err)
	}
	if d.Name() != "fake0" {
		t.Errorf("Name() = %q", d.Name())
	}
}

func benchmarkDiscoveryLog(b *testing.B, ctx context.Context, n int) {
	f := newFakeDC(b, testLog(n, 1))
	d := NewDevice("fake0", f)
	b.SetBytes(int64(nvme.LogHeaderSize + n*nvme.LogEntrySize))
	b.ReportAllocs()
	for b.Loop() {
		l, err := d.DiscoveryLog(ctx, 0)
		if err != nil || len(l.Entries) != n {
			b.Fatal(err)
		}
		f.mu.Lock()
		f.cmds = f.cmds[:0]
		f.mu.Unlock()
	}
}

func BenchmarkDiscoveryLog1000(b *testing.B) {
	b.Run("background", func(b *testing.B) { benchmarkDiscoveryLog(b, context.Background(), 1000) })
	b.Run("cancellable", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		benchmarkDiscoveryLog(b, ctx, 1000)
	})
}
