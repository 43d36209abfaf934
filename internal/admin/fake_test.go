// SPDX-License-Identifier: Apache-2.0

package admin

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// fakeCmd is what the fake controller records of each command it receives.
type fakeCmd struct {
	Opcode  nvme.Opcode
	NSID    uint32
	CDW10   uint32
	Log     nvme.GetLogPage // decoded dwords 10-13 of a Get Log Page
	Len     int
	Timeout time.Duration
}

// isHeaderRead reports a Get Log Page of the discovery log header.
func (c fakeCmd) isHeaderRead() bool {
	return c.Opcode == nvme.OpGetLogPage && c.Log.LID == nvme.LIDDiscovery && c.Log.Offset == 0
}

// fakeDC emulates a discovery controller as the kernel would expose it: it answers Get Log
// Page by offset and length from a Discovery Log Page, Identify with one structure,
// Supported Log Pages (or rejects it as nvmet does) and DIM (storing the payload).
type fakeDC struct {
	mu        sync.Mutex
	page      []byte                  // wire form of the discovery log
	identify  []byte                  // Identify Controller data
	supported *nvme.SupportedLogPages // nil: reject LID 0x00
	// rejectLID0 is the status for LID 0x00 when supported is nil; nvmet's Invalid
	// Field with DNR unless set.
	rejectLID0 nvme.Status
	dims       [][]byte
	dimResult  uint32
	dimStatus  nvme.Status
	fail       map[nvme.Opcode]error
	cmds       []fakeCmd
	// after runs, under mu, after each command has been answered.
	after func(f *fakeDC, c fakeCmd)

	// When block is non-nil, each command is sent on started, waits for block to close,
	// is then answered (writing the buffer it was given) and signals finished.
	block    chan struct{}
	started  chan *Command
	finished chan struct{}
}

func newFakeDC(t testing.TB, l *nvme.DiscoveryLog) *fakeDC {
	t.Helper()
	f := &fakeDC{fail: map[nvme.Opcode]error{}}
	f.setLog(t, l)
	id := &nvme.IdentifyController{
		SerialNumber: "fake-sn", ModelNumber: "Linux", FirmwareRevision: "6.1.0",
		CNTLID: 1, CntrlType: nvme.ControllerTypeDiscovery, OAES: nvme.OAESDiscoveryLogChange,
		LPA: nvme.LPAExtendedData, SubNQN: nqn.WellKnownDiscovery, DCType: nvme.DCTypeDDC,
	}
	b, err := id.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f.identify = b
	return f
}

// setLog replaces the log page; call it with mu held from an after hook.
func (f *fakeDC) setLog(t testing.TB, l *nvme.DiscoveryLog) {
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal log: %v", err)
	}
	f.page = b
}

func (f *fakeDC) header() nvme.LogHeader {
	h, _ := nvme.DecodeLogHeader(f.page)
	return h
}

func (f *fakeDC) setGenCtr(g uint64) { binary.LittleEndian.PutUint64(f.page[0:], g) }
func (f *fakeDC) setNumRec(n uint64) { binary.LittleEndian.PutUint64(f.page[8:], n) }

func (f *fakeDC) commands() []fakeCmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCmd(nil), f.cmds...)
}

func (f *fakeDC) Submit(_ context.Context, c *Command) (uint32, error) {
	if f.block != nil {
		f.started <- c
		<-f.block
		defer func() { f.finished <- struct{}{} }()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := fakeCmd{Opcode: c.Opcode, NSID: c.NSID, CDW10: c.CDW10, Len: len(c.Data), Timeout: c.Timeout}
	if c.Opcode == nvme.OpGetLogPage {
		rec.Log = nvme.ParseGetLogPage(c.CDW10, c.CDW11, c.CDW12, c.CDW13)
	}
	f.cmds = append(f.cmds, rec)
	res, err := f.answer(c, rec)
	if f.after != nil {
		f.after(f, rec)
	}
	return res, err
}

var (
	statusInvalidField   = nvme.NewStatus(nvme.SCTGeneric, nvme.SCInvalidField, true)
	statusInvalidOpcode  = nvme.NewStatus(nvme.SCTGeneric, nvme.SCInvalidOpcode, true)
	statusInvalidLogPage = nvme.NewStatus(nvme.SCTCommandSpecific, nvme.SCInvalidLogPage, true)
)

func (f *fakeDC) answer(c *Command, rec fakeCmd) (uint32, error) {
	if err := f.fail[c.Opcode]; err != nil {
		return 0, err
	}
	switch c.Opcode {
	case nvme.OpIdentify:
		if cns, _ := nvme.ParseIdentifyCDW10(c.CDW10); cns != nvme.CNSController || len(c.Data) != nvme.IdentifySize {
			return 0, statusInvalidField
		}
		copy(c.Data, f.identify)
		return 0, nil
	case nvme.OpGetLogPage:
		p := rec.Log
		if p.Length != uint64(len(c.Data)) || p.Offset%4 != 0 {
			return 0, statusInvalidField
		}
		var src []byte
		switch p.LID {
		case nvme.LIDDiscovery:
			src = f.page
		case nvme.LIDSupportedLogPages:
			if f.supported == nil {
				if f.rejectLID0 != 0 {
					return 0, f.rejectLID0
				}
				return 0, statusInvalidField
			}
			src, _ = f.supported.MarshalBinary()
		default:
			return 0, statusInvalidLogPage
		}
		clear(c.Data)
		if p.Offset < uint64(len(src)) {
			copy(c.Data, src[p.Offset:])
		}
		return 0, nil
	case nvme.OpDiscoveryInfoMgmt:
		f.dims = append(f.dims, append([]byte(nil), c.Data...))
		if f.dimStatus != 0 {
			return f.dimResult, f.dimStatus
		}
		return f.dimResult, nil
	}
	return 0, statusInvalidOpcode
}

// testLog returns a log of n entries, each distinct, cycling through the entry kinds a
// Linux target serves.
func testLog(n int, genctr uint64) *nvme.DiscoveryLog {
	l := &nvme.DiscoveryLog{GenCtr: genctr, Entries: make([]nvme.Entry, 0, n)}
	for i := range n {
		e := nvme.Entry{
			TrType: nvme.TransportTCP, AdrFam: nvme.AddressFamilyIPv4, TReq: nvme.TReqSQFlowDisableSupp,
			PortID: uint16(i % 7), CNTLID: 0xffff, ASQSZ: 32, TrSvcID: "4420",
			SubType: nvme.SubsystemNVMe, SubNQN: fmt.Sprintf("nqn.2024-01.io.example:subsys%05d", i),
			TrAddr: fmt.Sprintf("192.0.%d.%d", 2+i/250, 1+i%250), TSAS: nvme.NewTCPTSAS(nvme.TCPSecTypeNone),
		}
		switch i % 10 {
		case 0:
			e.SubType, e.SubNQN, e.TrSvcID = nvme.SubsystemCurrentDiscovery, nqn.WellKnownDiscovery, "8009"
		case 9:
			e.SubType, e.SubNQN, e.TrSvcID, e.TReq = nvme.SubsystemReferral, nqn.WellKnownDiscovery, "8009", 0
			e.TSAS = nvme.TSAS{}
		}
		l.Entries = append(l.Entries, e)
	}
	return l
}

func equalLogs(a, b *nvme.DiscoveryLog) bool {
	if a.GenCtr != b.GenCtr || a.RecFmt != b.RecFmt || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}
