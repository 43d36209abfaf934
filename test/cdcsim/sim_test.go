// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{NQN: strings.Repeat("n", nqn.MaxLen+1)},
		{MaxH2CData: 1024},
		{MaxH2CData: 4098},
		{SerialNumber: strings.Repeat("s", 21)},
		{Entries: []nvme.Entry{{TrAddr: strings.Repeat("a", 257)}}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestEntryChanges(t *testing.T) {
	s, err := New(Config{GenCtr: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := SubsystemEntry("nqn.2014-08.org.example:a", "192.0.2.2", "4420", 1)
	b := SubsystemEntry("nqn.2014-08.org.example:b", "2001:db8::2", "4420", 1)
	if b.AdrFam != nvme.AddressFamilyIPv6 || a.AdrFam != nvme.AddressFamilyIPv4 {
		t.Errorf("families %v %v", a.AdrFam, b.AdrFam)
	}
	if gen, err := s.AddEntries(a, b); err != nil || gen != 8 {
		t.Fatalf("add: %d %v", gen, err)
	}
	if n, gen, err := s.RemoveEntries(func(e nvme.Entry) bool { return e.SubNQN == a.SubNQN }); n != 1 || gen != 9 || err != nil {
		t.Fatalf("remove: %d %d %v", n, gen, err)
	}
	if got := s.Entries(); !slices.Equal(got, []nvme.Entry{b}) || s.GenCtr() != 9 {
		t.Errorf("entries %+v genctr %d", got, s.GenCtr())
	}
	if gen, err := s.SetEntries([]nvme.Entry{{TrAddr: strings.Repeat("x", 300)}}); err == nil || gen != 9 {
		t.Errorf("set with an oversized field: %d %v", gen, err)
	}
	if gen, err := s.SetEntries(nil); err != nil || gen != 10 || len(s.Entries()) != 0 {
		t.Errorf("set nil: %d %v", gen, err)
	}
	if s.BumpGenCtr() != 11 {
		t.Errorf("bump")
	}
}

func TestGenCtrWraps(t *testing.T) {
	s, err := New(Config{GenCtr: ^uint64(0)})
	if err != nil {
		t.Fatal(err)
	}
	if gen := s.BumpGenCtr(); gen != 0 {
		t.Errorf("genctr after the maximum: %d", gen)
	}
}

func TestHostileEntriesServedRaw(t *testing.T) {
	hostile := HostileEntries()
	_, addr := startSim(t, Config{Entries: hostile})
	h, _ := dial(t, addr, 0)
	log := h.readLog()
	if !slices.Equal(log.Entries, hostile) {
		t.Fatalf("hostile entries changed on the way:\n got %+v\nwant %+v", log.Entries, hostile)
	}
	bad := 0
	for _, e := range log.Entries {
		if e.CheckText() != nil {
			bad++
		}
	}
	if bad != 2 { // the NUL and the non-UTF-8 entries; the others are printable
		t.Errorf("%d entries fail CheckText, want 2", bad)
	}
	if log.Entries[0].TrAddr != "192.0.2.9,host_iface=eth9" || len(log.Entries[3].SubNQN) != 256 || len(log.Entries[3].TrSvcID) != 32 {
		t.Errorf("hostile fields: %q, %d, %d", log.Entries[0].TrAddr, len(log.Entries[3].SubNQN), len(log.Entries[3].TrSvcID))
	}
}

func TestFaultRefuseConnections(t *testing.T) {
	s, addr := startSim(t, Config{})
	s.SetFaults(Faults{RefuseConnections: true})
	// The reset may already be there when the dial returns.
	if c, err := net.Dial("tcp", addr); err == nil {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(icReq(0, 0, 0))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("refused connection answered")
		}
	}
	waitEvent(t, s, 0, EventRefused)
	s.SetFaults(Faults{})
	dial(t, addr, 0) // accepted again
}

func TestFaultResponseDelay(t *testing.T) {
	s, addr := startSim(t, Config{})
	h, _ := dial(t, addr, 0)
	s.SetFaults(Faults{ResponseDelay: 300 * time.Millisecond})
	start := time.Now()
	h.identify()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("identify answered after %v, the delay is 300ms", d)
	}
	if s.Faults().ResponseDelay != 300*time.Millisecond {
		t.Errorf("faults %+v", s.Faults())
	}
}

func TestFaultUnresponsive(t *testing.T) {
	s, addr := startSim(t, Config{DCType: nvme.DCTypeCDC})
	h, _ := dial(t, addr, 0)
	h.armAENs()
	aer := h.send(command{sqe: newSQE(nvme.OpAsyncEventRequest)})
	// A round trip makes sure the AER is outstanding before the controller goes quiet.
	expectStatus(t, "keep alive", h.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
	s.SetFaults(Faults{Unresponsive: true})
	h.send(command{sqe: newSQE(nvme.OpKeepAlive)})
	h.send(command{sqe: dimSQE(nvme.DIMRegister), write: registration(t, "")})
	viaR2T := dimSQE(nvme.DIMRegister)
	viaR2T[2] = 100
	viaR2T.setSGL(sglTransport, 2076)
	h.write(h.capsule(viaR2T, nil, 0)...)
	s.BumpGenCtr() // the notice is generated but held back
	_ = h.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if p, err := h.readPDU(); err == nil {
		t.Fatalf("unresponsive controller sent pdu type %#x", p.hdr.typ)
	}
	_ = h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	s.SetFaults(Faults{})
	expectStatus(t, "keep alive", h.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
	// The next AER lets the held-back notice out, on the oldest outstanding AER.
	h.send(command{sqe: newSQE(nvme.OpAsyncEventRequest)})
	if c := h.wait(aer); nvme.AEN(c.result) != nvme.AENDiscoveryLogChanged {
		t.Fatalf("AER %#x", c.result)
	}
	if len(s.Registrations()) != 0 {
		t.Errorf("a swallowed DIM registered")
	}
}

func TestFaultUnresponsiveR2T(t *testing.T) {
	s, addr := startSim(t, Config{DCType: nvme.DCTypeCDC})
	h, _ := dial(t, addr, 0)
	// The command arrives while the controller answers: it asks for the data; the data
	// arrives after the controller stopped answering, so the command is dropped.
	expectStatus(t, "register", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: registration(t, "")}), statusOK)
	data := registration(t, "r2t")
	sq := dimSQE(nvme.DIMRegister)
	sq[2] = 200
	sq.setSGL(sglTransport, uint32(len(data)))
	h.write(h.capsule(sq, nil, 0)...)
	p := h.next()
	if p.hdr.typ != pduR2T {
		t.Fatalf("pdu %#x", p.hdr.typ)
	}
	s.SetFaults(Faults{Unresponsive: true})
	ttag := uint16(p.raw[10]) | uint16(p.raw[11])<<8
	h.write(h.h2cData(200, ttag, 0, data, true)...)
	_ = h.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := h.readPDU(); err == nil {
		t.Fatalf("answered while unresponsive")
	}
	if r, _ := s.Registration(testHostNQN); r.SymbolicName == "r2t" {
		t.Errorf("registration updated by a dropped command")
	}
}

func TestFaultIgnoreKeepAlive(t *testing.T) {
	s, addr := startSim(t, Config{})
	h, _ := dial(t, addr, 400*time.Millisecond)
	s.SetFaults(Faults{IgnoreKeepAlive: true})
	for range 3 {
		h.send(command{sqe: newSQE(nvme.OpKeepAlive)})
		time.Sleep(100 * time.Millisecond)
	}
	h.expectClosed()
	e := waitEvent(t, s, 0, EventKeepAlive)
	if e.Detail != "ignored" {
		t.Errorf("keep-alive event %v", e)
	}
	waitEvent(t, s, 0, EventKeepAliveExpired)
}

func TestFaultGenCtrChurn(t *testing.T) {
	s, addr := startSim(t, Config{Entries: GenerateEntries(8, "192.0.2.2", "4420")})
	h, _ := dial(t, addr, 0)
	s.SetFaults(Faults{GenCtrChurn: 2})
	read := func() uint64 {
		hdr := h.getLog(nvme.LIDDiscovery, 0, 20, true)
		g, _ := nvme.DecodeLogHeader(hdr.data)
		h.getLog(nvme.LIDDiscovery, nvme.LogHeaderSize, 4096, true)
		after := h.getLog(nvme.LIDDiscovery, 0, 20, false)
		g2, _ := nvme.DecodeLogHeader(after.data)
		return g2.GenCtr - g.GenCtr
	}
	if d := read(); d != 1 {
		t.Errorf("first read: genctr moved by %d, want 1", d)
	}
	if d := read(); d != 1 {
		t.Errorf("second read: genctr moved by %d, want 1", d)
	}
	if d := read(); d != 0 {
		t.Errorf("third read: genctr moved by %d, want 0 (churn used up)", d)
	}
	if s.Faults().GenCtrChurn != 0 {
		t.Errorf("churn left: %d", s.Faults().GenCtrChurn)
	}
}

func TestDropConnections(t *testing.T) {
	s, addr := startSim(t, Config{})
	h1, _ := dial(t, addr, 0)
	h2, _ := dial(t, addr, 0)
	if n := s.DropConnections(); n != 2 {
		t.Errorf("dropped %d", n)
	}
	h1.expectClosed()
	h2.expectClosed()
	e := waitEvent(t, s, 0, EventDisconnected)
	if e.Detail != "dropped by the test" {
		t.Errorf("reason %q", e.Detail)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	s, err := New(Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	h, _ := dial(t, l.Addr().String(), 0)
	dialHost(t, l.Addr().String()) // connected, no ICReq yet: Close must not wait for it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	h.expectClosed()
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l2); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve on a closed simulator: %v", err)
	}
	client, server := net.Pipe()
	defer client.Close()
	s.ServeConn(server)
	if _, err := client.Write([]byte{0}); err == nil {
		t.Errorf("ServeConn on a closed simulator kept the connection")
	}
}

func TestServeAcceptError(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if err := s.Serve(l); err == nil || errors.Is(err, ErrClosed) {
		t.Errorf("Serve on a closed listener: %v", err)
	}
}

func TestEvents(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxEvents + 10 {
		s.record(Event{Kind: EventKeepAlive, Detail: strings.Repeat("x", i%3)})
	}
	ev := s.Events()
	if len(ev) != maxEvents || ev[0].Seq != 11 || ev[len(ev)-1].Seq != maxEvents+10 || s.LastEventSeq() != maxEvents+10 {
		t.Fatalf("history: %d events, %d..%d", len(ev), ev[0].Seq, ev[len(ev)-1].Seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitEvent(ctx, s.LastEventSeq(), func(Event) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait with nothing new: %v", err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.record(Event{Kind: EventAENSent, AEN: nvme.AENDiscoveryLogChanged})
	}()
	e, err := s.WaitEvent(context.Background(), s.LastEventSeq(), func(e Event) bool { return e.Kind == EventAENSent })
	if err != nil || e.AEN != nvme.AENDiscoveryLogChanged {
		t.Fatalf("wait: %v %v", e, err)
	}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{e, "aen-sent"},
		{Event{Kind: EventLogPageRead, HostNQN: "h", Log: nvme.GetLogPage{LID: 0x70, Length: 20}}, "lid=0x70 offset=0 length=20 rae=false"},
		{Event{Kind: EventDIM, DIMTask: nvme.DIMUpdate, Status: statusInvalidDiscInfo, Detail: "why"}, "task=update status="},
		{Event{Kind: EventKind(99)}, "event(99)"},
	} {
		if got := tc.e.String(); !strings.Contains(got, tc.want) {
			t.Errorf("%q does not contain %q", got, tc.want)
		}
	}
	for k := EventAccepted; k <= EventDisconnected; k++ {
		if strings.HasPrefix(k.String(), "event(") {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestEntryHelpers(t *testing.T) {
	r := ReferralEntry("198.51.100.2", "8009", 2)
	if r.SubType != nvme.SubsystemReferral || r.SubNQN != nqn.WellKnownDiscovery || r.CNTLID != 0xffff || r.ASQSZ != 32 {
		t.Errorf("referral %+v", r)
	}
	c := CurrentDiscoveryEntry("nqn.2014-08.org.example:dc", "192.0.2.2", "8009", 1)
	if c.SubType != nvme.SubsystemCurrentDiscovery || c.SubNQN != "nqn.2014-08.org.example:dc" {
		t.Errorf("current %+v", c)
	}
	g := GenerateEntries(1001, "192.0.2.2", "4420")
	if len(g) != 1001 || g[1000].PortID != 1 || g[999].PortID != 1000 || g[5].SubNQN != GeneratedNQN(5) {
		t.Errorf("generated %+v", g[999:])
	}
	for _, e := range g[:10] {
		if err := e.CheckText(); err != nil {
			t.Errorf("generated entry: %v", err)
		}
	}
}

func TestAnnounceCommand(t *testing.T) {
	cmd := AnnounceCommand(context.Background(), "CDC sim", 8009, nqn.WellKnownDiscovery)
	want := []string{"avahi-publish", "-s", "CDC sim", "_nvme-disc._tcp", "8009", "nqn=" + nqn.WellKnownDiscovery, "p=tcp"}
	if !slices.Equal(cmd.Args, want) {
		t.Errorf("args %q", cmd.Args)
	}
}
