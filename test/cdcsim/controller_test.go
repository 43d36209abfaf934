// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

func TestConnect(t *testing.T) {
	const unique = "nqn.2014-08.org.example:cdc-unique"
	s, addr := startSim(t, Config{NQN: unique})
	h := dialHost(t, addr)
	h.initialize(0, 0)

	// Nothing but Connect before Connect.
	expectStatus(t, "property get before connect", h.do(command{sqe: propGetSQE(propCAP, true)}), statusInvalidOpcode)
	expectStatus(t, "identify before connect", h.do(command{sqe: identifySQE(1), readLen: 4096}), statusInvalidOpcode)

	for _, tc := range []struct {
		name   string
		sqe    sqe
		data   []byte
		status nvme.Status
		result uint64
	}{
		{"io queue", connectSQE(1, 31, 0, 0), connectData(testHostID, unique, testHostNQN), statusConnectInvalid, connectSQEQIDOff},
		{"sqsize 0", connectSQE(0, 0, 0, 0), connectData(testHostID, unique, testHostNQN), statusConnectInvalid, connectSQESQSizeOff},
		{"sqsize too big", connectSQE(0, capMQES+1, 0, 0), connectData(testHostID, unique, testHostNQN), statusConnectInvalid, connectSQESQSizeOff},
		{"unknown subsystem", connectSQE(0, 31, 0, 0), connectData(testHostID, "nqn.2014-08.org.example:other", testHostNQN), statusConnectInvalid, 1<<16 | connectDataSubNQNOff},
		{"no host nqn", connectSQE(0, 31, 0, 0), connectData(testHostID, unique, ""), statusConnectInvalid, 1<<16 | connectDataHostNQN},
		{"short data", connectSQE(0, 31, 0, 0), make([]byte, 512), statusSGLLength, 0},
	} {
		c := h.do(command{sqe: tc.sqe, write: tc.data})
		if c.status != tc.status || c.result != tc.result {
			t.Errorf("%s: status %v result %#x, want %v %#x", tc.name, c.status, c.result, tc.status, tc.result)
		}
	}
	unterminated := connectData(testHostID, unique, "")
	copy(unterminated[512:], bytes.Repeat([]byte("n"), 256))
	expectStatus(t, "unterminated host nqn", h.do(command{sqe: connectSQE(0, 31, 0, 0), write: unterminated}), statusConnectInvalid)
	if n := len(s.Hosts()); n != 0 {
		t.Fatalf("%d hosts after rejected connects", n)
	}

	// The unique NQN (TP8013) is accepted, as is the well-known one.
	c := h.connect(unique, 5*time.Second)
	expectStatus(t, "connect", c, statusOK)
	hosts := s.Hosts()
	if len(hosts) != 1 {
		t.Fatalf("hosts %+v", hosts)
	}
	got := hosts[0]
	if uint64(got.CNTLID) != c.result || got.HostNQN != testHostNQN || got.HostID != testHostID || got.SubNQN != unique || got.KATO != 5*time.Second || !got.Remote.Addr().IsLoopback() {
		t.Errorf("host %+v (connect result %#x)", got, c.result)
	}
	expectStatus(t, "second connect", h.connect(unique, 0), statusSequence)
	if e := waitEvent(t, s, 0, EventConnected); e.HostNQN != testHostNQN || e.CNTLID != got.CNTLID {
		t.Errorf("connected event %v", e)
	}

	h2 := dialHost(t, addr)
	h2.initialize(0, 0)
	c2 := h2.connect(nqn.WellKnownDiscovery, 0)
	expectStatus(t, "connect to the well-known NQN", c2, statusOK)
	if c2.result == c.result {
		t.Errorf("two controllers share cntlid %d", c.result)
	}
	hosts = s.Hosts()
	if len(hosts) != 2 || hosts[1].KATO != DefaultDiscoveryKATO {
		t.Errorf("hosts %+v: a host connecting with KATO 0 gets %v", hosts, DefaultDiscoveryKATO)
	}
}

func TestProperties(t *testing.T) {
	_, addr := startSim(t, Config{})
	h := dialHost(t, addr)
	h.initialize(0, 0)
	expectStatus(t, "connect", h.connect(nqn.WellKnownDiscovery, 0), statusOK)
	get := func(off uint32, eight bool) *completion { return h.do(command{sqe: propGetSQE(off, eight)}) }
	set := func(off uint32, v uint64, eight bool) *completion {
		return h.do(command{sqe: propSetSQE(off, v, eight)})
	}

	c := get(propCAP, true)
	expectStatus(t, "CAP", c, statusOK)
	if mqes, to, css := c.result&0xffff, c.result>>24&0xff, c.result>>37&0xff; mqes != capMQES || to != capTimeout || css != 1 {
		t.Errorf("CAP %#x: mqes %d to %d css %#x", c.result, mqes, to, css)
	}
	if c := get(propVS, false); c.result != uint64(controllerVersion) {
		t.Errorf("VS %#x", c.result)
	}
	expectStatus(t, "4-byte CAP", get(propCAP, false), statusInvalidField)
	expectStatus(t, "8-byte VS", get(propVS, true), statusInvalidField)
	expectStatus(t, "unknown property", get(0x20, false), statusInvalidField)
	expectStatus(t, "set VS", set(propVS, 0, false), statusInvalidField)
	expectStatus(t, "8-byte CC", set(propCC, 1, true), statusInvalidField)

	// Admin commands wait for the controller to be ready.
	expectStatus(t, "identify while disabled", h.do(command{sqe: identifySQE(1), readLen: 4096}), statusInvalidOpcode)

	// A page size the controller does not take is a fatal controller status.
	set(propCC, uint64(1<<ccMPSShift|ccEnable), false)
	if c := get(propCSTS, false); c.result != uint64(cstsFatal) {
		t.Errorf("CSTS after a bad CC %#x", c.result)
	}
	set(propCC, 0, false)
	enable := uint64(6<<16 | 4<<20 | ccEnable)
	set(propCC, enable, false)
	if c := get(propCSTS, false); c.result != uint64(cstsReady) {
		t.Errorf("CSTS after enable %#x", c.result)
	}
	if c := get(propCC, false); c.result != enable {
		t.Errorf("CC read back %#x", c.result)
	}
	// Normal shutdown, as the host deletes the controller.
	set(propCC, enable|1<<ccSHNShift, false)
	if c := get(propCSTS, false); c.result != uint64(cstsShstDone) {
		t.Errorf("CSTS after shutdown %#x, want shutdown complete and not ready", c.result)
	}
	// nvmet clears CC on shutdown, so SHST stays until the next enable.
	set(propCC, 0, false)
	if c := get(propCSTS, false); c.result != uint64(cstsShstDone) {
		t.Errorf("CSTS after writing CC 0 %#x", c.result)
	}
	set(propCC, enable, false)
	if c := get(propCSTS, false); c.result != uint64(cstsReady) {
		t.Errorf("CSTS after re-enable %#x", c.result)
	}
	set(propCC, 0, false)
	if c := get(propCSTS, false); c.result != 0 {
		t.Errorf("CSTS after disable %#x", c.result)
	}
}

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"cdc", Config{DCType: nvme.DCTypeCDC}},
		{"ddc unique nqn", Config{DCType: nvme.DCTypeDDC, NQN: "nqn.2014-08.org.example:ddc"}},
		{"no dctype, no notices", Config{NoDiscoveryChangeNotices: true, SerialNumber: "S1", ModelNumber: "M1", FirmwareRevision: "F1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startSim(t, tc.cfg)
			h, cntlid := dial(t, addr, 0)
			id := h.identify()
			want := s.cfg.identify(cntlid)
			if *id != *want {
				t.Errorf("identify\n got %+v\nwant %+v", id, want)
			}
			if id.CNTLID != cntlid || id.CntrlType != nvme.ControllerTypeDiscovery || id.DCType != tc.cfg.DCType || id.SubNQN != s.NQN() {
				t.Errorf("identify: cntlid %d (connect %d) cntrltype %v dctype %v subnqn %q", id.CNTLID, cntlid, id.CntrlType, id.DCType, id.SubNQN)
			}
			if id.SupportsDiscoveryLogChangeNotices() == tc.cfg.NoDiscoveryChangeNotices || !id.SupportsExtendedLogPageData() {
				t.Errorf("identify oaes %#x lpa %#x", id.OAES, id.LPA)
			}
			// What the Linux host insists on: SGL support, icdoff 0, maxcmd, and the
			// in-capsule size of the admin queue.
			if id.SGLS&1 == 0 || id.ICDOFF != 0 || id.MaxCmd == 0 || id.IOCCSZ != (64+8192)/16 || id.IORCSZ != 1 {
				t.Errorf("identify sgls %#x icdoff %d maxcmd %d ioccsz %d iorcsz %d", id.SGLS, id.ICDOFF, id.MaxCmd, id.IOCCSZ, id.IORCSZ)
			}
		})
	}
	_, addr := startSim(t, Config{})
	h, _ := dial(t, addr, 0)
	expectStatus(t, "identify namespace", h.do(command{sqe: identifySQE(0), readLen: 4096}), statusInvalidField)
	expectStatus(t, "identify short buffer", h.do(command{sqe: identifySQE(1), readLen: 1024}), statusSGLLength)
	expectStatus(t, "unknown opcode", h.do(command{sqe: newSQE(0x80)}), statusInvalidOpcode)
	s := newSQE(opFabrics)
	s[4] = 0x08 // Disconnect: I/O queues only
	expectStatus(t, "fabrics disconnect", h.do(command{sqe: s}), statusInvalidOpcode)
}

func TestDiscoveryLogPage(t *testing.T) {
	entries := append(GenerateEntries(5, "192.0.2.2", "4420"), ReferralEntry("198.51.100.2", "8009", 2), CurrentDiscoveryEntry(nqn.WellKnownDiscovery, "192.0.2.2", "8009", 1))
	s, addr := startSim(t, Config{Entries: entries, GenCtr: 41})
	h, _ := dial(t, addr, 0)

	log := h.readLog()
	if log.GenCtr != 41 || !slices.Equal(log.Entries, entries) {
		t.Fatalf("log genctr %d entries %+v", log.GenCtr, log.Entries)
	}
	page := s.snap.Load().page

	// Any dword-aligned window, also past the end (zero-filled).
	c := h.getLog(nvme.LIDDiscovery, 2048+12, 100, true)
	if !bytes.Equal(c.data, page[2060:2160]) {
		t.Errorf("window read differs")
	}
	tail := h.getLog(nvme.LIDDiscovery, uint64(len(page)-8), 24, true)
	if !bytes.Equal(tail.data[:8], page[len(page)-8:]) || !bytes.Equal(tail.data[8:], make([]byte, 16)) {
		t.Errorf("read past the end: %x", tail.data)
	}
	whole := h.getLog(nvme.LIDDiscovery, 0, uint64(len(page)), false)
	if !bytes.Equal(whole.data, page) {
		t.Errorf("one-piece read differs")
	}
	expectStatus(t, "offset past the log", h.getLog(nvme.LIDDiscovery, uint64(len(page)+4), 4, true), statusInvalidField)
	expectStatus(t, "unaligned offset", h.do(command{sqe: func() sqe {
		sq := logSQE(nvme.GetLogPage{LID: nvme.LIDDiscovery, Length: 4})
		sq.setCDW(12, 2)
		return sq
	}(), readLen: 4}), statusInvalidField)
	expectStatus(t, "buffer shorter than NUMD", h.do(command{sqe: logSQE(nvme.GetLogPage{LID: nvme.LIDDiscovery, Length: 1024}), readLen: 512}), statusSGLLength)
	expectStatus(t, "huge read", h.do(command{sqe: logSQE(nvme.GetLogPage{LID: nvme.LIDDiscovery, Length: maxReadData + 4}), readLen: maxReadData + 4}), statusInvalidField)
	expectStatus(t, "SMART log", h.getLog(0x02, 0, 512, false), statusInvalidLogPage)

	e := waitEvent(t, s, 0, EventLogPageRead)
	if e.Log.LID != nvme.LIDDiscovery || e.Log.Length != nvme.LogHeaderSize || !e.Log.RAE || e.GenCtr != 41 || e.HostNQN != testHostNQN {
		t.Errorf("first log read event %v", e)
	}
}

func TestSupportedLogPages(t *testing.T) {
	_, addr := startSim(t, Config{DiscoveryLogOptions: nvme.DiscoveryOptPLEOS | nvme.DiscoveryOptEXTDLPES})
	h, _ := dial(t, addr, 0)
	c := h.getLog(nvme.LIDSupportedLogPages, 0, nvme.SupportedLogPagesSize, false)
	expectStatus(t, "supported log pages", c, statusOK)
	s, err := nvme.DecodeSupportedLogPages(c.data)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Supported(0x00) || !s.Supported(0x70) || s.Supported(0x02) || s.DiscoveryOptions() != nvme.DiscoveryOptPLEOS|nvme.DiscoveryOptEXTDLPES {
		t.Errorf("supported log pages: 0x00 %v 0x70 %v options %v", s.Supported(0), s.Supported(0x70), s.DiscoveryOptions())
	}
	if c := h.getLog(nvme.LIDSupportedLogPages, 0x70*4, 4, false); binary.LittleEndian.Uint32(c.data) != s[0x70] {
		t.Errorf("offset read of LID 0x00: %x", c.data)
	}
	expectStatus(t, "past LID 0x00", h.getLog(nvme.LIDSupportedLogPages, 2048, 4, false), statusInvalidField)
}

// TestLargeLog serves 10,000 entries, read in one command (several C2HData PDUs) and in
// 4 KiB pieces as libnvme does.
func TestLargeLog(t *testing.T) {
	entries := GenerateEntries(10000, "192.0.2.2", "4420")
	s, addr := startSim(t, Config{Entries: entries, Logger: discardLogger()})
	h, _ := dial(t, addr, 0)
	size := uint64(nvme.LogHeaderSize + len(entries)*nvme.LogEntrySize)
	c := h.getLog(nvme.LIDDiscovery, 0, size, false)
	expectStatus(t, "whole log", c, statusOK)
	log, err := nvme.DecodeDiscoveryLog(c.data)
	if err != nil || !slices.Equal(log.Entries, entries) {
		t.Fatalf("whole log: %v (%d entries)", err, len(log.Entries))
	}
	if log := h.readLog(); len(log.Entries) != 10000 || log.Entries[9999].SubNQN != GeneratedNQN(9999) {
		t.Fatalf("piecewise log has %d entries", len(log.Entries))
	}
	if n := len(s.Events()); n < 2400 {
		t.Errorf("%d events for ~2500 reads", n)
	}
}

func TestFeatures(t *testing.T) {
	s, addr := startSim(t, Config{})
	h, _ := dial(t, addr, 3*time.Second)
	get := func(fid uint8) *completion { return h.do(command{sqe: featureSQE(nvme.OpGetFeatures, fid, 0)}) }
	set := func(fid uint8, v uint32) *completion {
		return h.do(command{sqe: featureSQE(nvme.OpSetFeatures, fid, v)})
	}

	if c := get(featKeepAliveTimer); c.result != 3000 {
		t.Errorf("KATO %d ms, want the Connect's 3000", c.result)
	}
	if c := set(featKeepAliveTimer, 2500); c.status != statusOK || c.result != 3 {
		t.Errorf("set KATO: %v result %d (nvmet answers seconds, rounded up)", c.status, c.result)
	}
	if c := get(featKeepAliveTimer); c.result != 2500 {
		t.Errorf("KATO %d ms after set", c.result)
	}
	if hosts := s.Hosts(); len(hosts) != 1 || hosts[0].KATO != 2500*time.Millisecond {
		t.Errorf("hosts after Set Features KATO: %+v", hosts)
	}
	if c := get(featAsyncEventConfig); c.result != 0 {
		t.Errorf("AEC %#x before set", c.result)
	}
	expectStatus(t, "enable an AEN the controller lacks", set(featAsyncEventConfig, 1<<8), statusInvalidField)
	if c := set(featAsyncEventConfig, nvme.OAESDiscoveryLogChange); c.status != statusOK || c.result != uint64(nvme.OAESDiscoveryLogChange) {
		t.Errorf("set AEC: %v %#x", c.status, c.result)
	}
	if c := get(featAsyncEventConfig); c.result != uint64(nvme.OAESDiscoveryLogChange) {
		t.Errorf("AEC %#x after set", c.result)
	}
	expectStatus(t, "get number of queues", get(0x07), statusInvalidField)
	expectStatus(t, "set number of queues", set(0x07, 0), statusInvalidField)
	expectStatus(t, "turn keep-alive off", set(featKeepAliveTimer, 0), statusOK)
}

// TestDiscoveryChangeAEN checks nvmet's rules: an AEN only when enabled, kept for a
// later AER, masked after one until the log is read with RAE clear.
func TestDiscoveryChangeAEN(t *testing.T) {
	s, addr := startSim(t, Config{Entries: GenerateEntries(1, "192.0.2.2", "4420")})
	h, _ := dial(t, addr, 0)

	// Not enabled: a change produces nothing.
	aer := h.send(command{sqe: newSQE(nvme.OpAsyncEventRequest)})
	if _, err := s.AddEntries(SubsystemEntry("nqn.2014-08.org.example:a", "192.0.2.2", "4420", 1)); err != nil {
		t.Fatal(err)
	}
	ka := h.do(command{sqe: newSQE(nvme.OpKeepAlive)})
	expectStatus(t, "keep alive", ka, statusOK)
	if len(h.pending) != 0 {
		t.Fatalf("AER completed before the host enabled the notice")
	}

	h.armAENs()
	mark := s.LastEventSeq()
	gen, err := s.AddEntries(SubsystemEntry("nqn.2014-08.org.example:b", "192.0.2.2", "4420", 1))
	if err != nil || gen != 2 {
		t.Fatalf("add entries: genctr %d, %v", gen, err)
	}
	c := h.wait(aer)
	if c.status != statusOK || nvme.AEN(c.result) != nvme.AENDiscoveryLogChanged || nvme.AEN(c.result).String() != "0x70f002" {
		t.Fatalf("AER completion %v %#x", c.status, c.result)
	}
	waitEvent(t, s, mark, EventAENSent)

	// Masked: further changes do not complete the next AER, not even after a read that
	// keeps RAE set.
	aer = h.send(command{sqe: newSQE(nvme.OpAsyncEventRequest)})
	s.BumpGenCtr()
	expectStatus(t, "read with RAE", h.getLog(nvme.LIDDiscovery, 0, 20, true), statusOK)
	s.BumpGenCtr()
	expectStatus(t, "keep alive", h.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
	if len(h.pending) != 0 {
		t.Fatalf("AER completed while the notice is masked")
	}
	// A read with RAE clear re-arms; the next change completes the waiting AER.
	expectStatus(t, "read without RAE", h.getLog(nvme.LIDDiscovery, 0, 20, false), statusOK)
	if _, _, err := s.RemoveEntries(func(e nvme.Entry) bool { return e.SubNQN == "nqn.2014-08.org.example:a" }); err != nil {
		t.Fatal(err)
	}
	if c := h.wait(aer); nvme.AEN(c.result) != nvme.AENDiscoveryLogChanged {
		t.Fatalf("second AER %#x", c.result)
	}

	// An event with no AER outstanding waits for the next one.
	expectStatus(t, "re-arm", h.getLog(nvme.LIDDiscovery, 0, 20, false), statusOK)
	s.BumpGenCtr()
	expectStatus(t, "keep alive", h.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
	if c := h.do(command{sqe: newSQE(nvme.OpAsyncEventRequest)}); nvme.AEN(c.result) != nvme.AENDiscoveryLogChanged {
		t.Fatalf("queued AEN %#x", c.result)
	}

	// At most four AERs outstanding.
	for range maxOutstandingAERs {
		h.send(command{sqe: newSQE(nvme.OpAsyncEventRequest)})
	}
	expectStatus(t, "fifth AER", h.do(command{sqe: newSQE(nvme.OpAsyncEventRequest)}), statusAERLimit)
	if got := s.Entries(); len(got) != 2 {
		t.Errorf("entries %d", len(got))
	}
}

func TestKeepAlive(t *testing.T) {
	s, addr := startSim(t, Config{})
	h, cntlid := dial(t, addr, 300*time.Millisecond)
	// Keep-alives every 100 ms keep the host connected well past its timeout.
	for range 8 {
		time.Sleep(100 * time.Millisecond)
		expectStatus(t, "keep alive", h.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
	}
	if len(s.Hosts()) != 1 {
		t.Fatalf("host dropped while sending keep-alives")
	}
	// Then silence: dropped after the timeout.
	start := time.Now()
	h.expectClosed()
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("dropped after %v, KATO is 300ms", d)
	}
	e := waitEvent(t, s, 0, EventKeepAliveExpired)
	if e.CNTLID != cntlid || e.HostNQN != testHostNQN {
		t.Errorf("expiry event %v", e)
	}
	waitEvent(t, s, e.Seq, EventDisconnected)
	if len(s.Hosts()) != 0 {
		t.Errorf("hosts after the drop: %+v", s.Hosts())
	}
}

func TestDiscoveryKATO(t *testing.T) {
	s, addr := startSim(t, Config{DiscoveryKATO: 200 * time.Millisecond})
	h, _ := dial(t, addr, 0)
	h.expectClosed()
	waitEvent(t, s, 0, EventKeepAliveExpired)

	// Negative: no timer at all.
	s2, addr2 := startSim(t, Config{DiscoveryKATO: -1})
	h2, _ := dial(t, addr2, 0)
	time.Sleep(300 * time.Millisecond)
	expectStatus(t, "still connected", h2.do(command{sqe: newSQE(nvme.OpKeepAlive)}), statusOK)
	if hosts := s2.Hosts(); len(hosts) != 1 || hosts[0].KATO != 0 {
		t.Errorf("hosts %+v", hosts)
	}
}

func TestDIM(t *testing.T) {
	s, addr := startSim(t, Config{DCType: nvme.DCTypeCDC})
	h, cntlid := dial(t, addr, 0)

	expectStatus(t, "update before register", h.do(command{sqe: dimSQE(nvme.DIMUpdate), write: registration(t, "x")}), statusInvalidDiscInfo)

	before := time.Now()
	expectStatus(t, "register", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: registration(t, "")}), statusOK)
	regs := s.Registrations()
	if len(regs) != 1 {
		t.Fatalf("registrations %+v", regs)
	}
	r := regs[0]
	if r.HostNQN != testHostNQN || r.HostID != testHostID || r.SymbolicName != "" || r.EntityName != "testhost" ||
		r.EntityVersion != "Linux 6.1.0 Test" || r.TrType != nvme.TransportTCP || r.AdrFam != nvme.AddressFamilyIPv4 ||
		r.TrAddr != "127.0.0.1" || !r.Source.Addr().IsLoopback() || r.CNTLID != cntlid || r.Registered.Before(before) {
		t.Errorf("registration %+v", r)
	}

	// Update through R2T, the data split in small H2CData PDUs.
	h.h2cChunk = 512
	expectStatus(t, "update", h.do(command{sqe: dimSQE(nvme.DIMUpdate), write: registration(t, "rack 7 host"), viaR2T: true}), statusOK)
	r2, _ := s.Registration(testHostNQN)
	if r2.SymbolicName != "rack 7 host" || !r2.Registered.Equal(r.Registered) || !r2.Updated.After(r.Registered) || r2.Data.Entry.SymbolicName != "rack 7 host" {
		t.Errorf("after update %+v", r2)
	}

	e := waitEvent(t, s, 0, EventDIM)
	if e.DIMTask != nvme.DIMUpdate || e.Status != statusInvalidDiscInfo {
		t.Errorf("first DIM event %v", e)
	}

	expectStatus(t, "deregister", h.do(command{sqe: dimSQE(nvme.DIMDeregister), write: registration(t, "")}), statusOK)
	if _, ok := s.Registration(testHostNQN); ok || len(s.Registrations()) != 0 {
		t.Errorf("still registered after deregister")
	}
	expectStatus(t, "deregister again", h.do(command{sqe: dimSQE(nvme.DIMDeregister), write: registration(t, "")}), statusOK)

	// Refusals.
	expectStatus(t, "unknown task", h.do(command{sqe: dimSQE(7), write: registration(t, "")}), statusInvalidField)
	bad := registration(t, "")
	bad[0]++ // TDL no longer matches
	expectStatus(t, "malformed payload", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: bad}), statusInvalidDiscInfo)
	expectStatus(t, "no payload", h.do(command{sqe: dimSQE(nvme.DIMRegister)}), statusInvalidDiscInfo)
	other := registration(t, "")
	d, _ := nvme.DecodeDIMData(other)
	d.EntityID = "nqn.2014-08.org.example:someone-else"
	d.Entry.NQN = d.EntityID
	other, _ = d.MarshalBinary()
	expectStatus(t, "another host's registration", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: other}), statusInvalidDiscInfo)
	d.EntityType = nvme.DIMEntityCDC
	d.EntityID, d.Entry.NQN = testHostNQN, testHostNQN
	cdc, _ := d.MarshalBinary()
	expectStatus(t, "a CDC's registration", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: cdc}), statusInvalidDiscInfo)
}

func TestDIMRefusedWithoutDCType(t *testing.T) {
	s, addr := startSim(t, Config{DCType: nvme.DCTypeNone})
	h, _ := dial(t, addr, 0)
	expectStatus(t, "register", h.do(command{sqe: dimSQE(nvme.DIMRegister), write: registration(t, "")}), statusInvalidOpcode)
	if e := waitEvent(t, s, 0, EventDIM); e.Status != statusInvalidOpcode {
		t.Errorf("event %v", e)
	}
	if len(s.Registrations()) != 0 {
		t.Errorf("registered anyway")
	}
}
