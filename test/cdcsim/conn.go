// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

const (
	// maxQueuedBytes bounds what the controller queues for a host that does not read.
	maxQueuedBytes = 256 << 20
	// drainTimeout bounds the flush of a C2HTermReq before the connection closes.
	drainTimeout = time.Second
	// maxOutstandingAERs is how many Asynchronous Event Requests a controller holds
	// (nvmet's NVMET_ASYNC_EVENTS); AERL in Identify is this minus one.
	maxOutstandingAERs = 4
	// adminQueueDepth is the admin queue size assumed before Connect sets it.
	adminQueueDepth = 32
)

// controller is one connection: an NVMe/TCP queue and the discovery controller behind
// it. Its state is owned by the goroutine running run; the reader and writer goroutines
// only move bytes.
type controller struct {
	sim    *Simulator
	cfg    *Config
	nc     net.Conn
	br     *bufio.Reader
	remote netip.AddrPort
	log    *slog.Logger

	rx       chan rxItem
	notify   chan struct{} // one slot: the discovery log changed
	killCh   chan struct{}
	killOnce sync.Once
	killWhy  string // written once, before killCh is closed
	ended    chan struct{}
	bg       sync.WaitGroup
	w        *writer

	lim rxLimits
	tx  txDigests

	// Fabrics state.
	connected    bool
	host         Host
	queueSize    uint32
	sqhd         uint16
	sqhdDisabled bool
	kato         time.Duration
	kaTimer      *time.Timer
	cc, csts     uint32

	// Asynchronous events, as nvmet keeps them: an event is generated only when enabled
	// and not masked, generating it masks it, and a Get Log Page with RAE clear unmasks.
	aenEnabled  uint32
	aenMasked   bool
	pendingAENs []nvme.AEN
	aers        []uint16

	// Host-to-controller transfers waiting for H2CData, by transfer tag.
	xfers    map[uint16]*transfer
	nextTTag uint16
}

type rxItem struct {
	p   *pdu
	err error
}

// transfer is a write command whose data the controller asked for with R2T.
type transfer struct {
	cmd sqe
	buf []byte
	got uint32
	bad error
}

// reply is the outcome of a command.
type reply struct {
	status nvme.Status
	result uint64
	data   []byte // controller-to-host data, exactly the command's transfer length
	hold   bool   // no completion now (an AER kept outstanding, a swallowed command)
}

func newController(s *Simulator, nc net.Conn, remote netip.AddrPort) *controller {
	return &controller{
		sim:       s,
		cfg:       &s.cfg,
		nc:        nc,
		br:        bufio.NewReaderSize(nc, 64<<10),
		remote:    remote,
		log:       s.log.With("remote", remote.String()),
		rx:        make(chan rxItem),
		notify:    make(chan struct{}, 1),
		killCh:    make(chan struct{}),
		ended:     make(chan struct{}),
		queueSize: adminQueueDepth,
		xfers:     map[uint16]*transfer{},
	}
}

// kill ends the connection from another goroutine.
func (c *controller) kill(why string) {
	c.killOnce.Do(func() {
		c.killWhy = why
		close(c.killCh)
	})
}

// notifyLogChange tells the controller the log changed; it never blocks, and several
// changes before the controller looks are one (the notice is masked after the first
// anyway).
func (c *controller) notifyLogChange() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *controller) event(e Event) {
	e.Remote = c.remote
	if c.connected {
		e.CNTLID, e.HostNQN, e.HostID = c.host.CNTLID, c.host.HostNQN, c.host.HostID
	}
	c.sim.record(e)
}

func (c *controller) run() {
	// Closing the socket is what unblocks the reader, the writer and the handshake.
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		select {
		case <-c.killCh:
		case <-c.sim.done:
		case <-c.ended:
			return
		}
		_ = c.nc.Close()
	}()
	reason, drain := c.serve()
	close(c.ended)
	if c.w != nil {
		if drain {
			_ = c.nc.SetWriteDeadline(time.Now().Add(drainTimeout))
			c.w.finish()
			select {
			case <-c.w.done:
			case <-time.After(drainTimeout):
			}
		}
		c.w.abort()
	}
	if drain {
		c.lingerClose()
	}
	_ = c.nc.Close()
	c.bg.Wait()
	if c.kaTimer != nil {
		c.kaTimer.Stop()
	}
	c.sim.removeController(c, c.host.CNTLID)
	c.event(Event{Kind: EventDisconnected, Detail: reason})
	c.log.Info("connection closed", "reason", reason)
}

// serve runs the connection until it must end and says why, and whether queued PDUs
// (a C2HTermReq) must be flushed first.
func (c *controller) serve() (reason string, drain bool) {
	if reason, drain, ok := c.handshake(); !ok {
		return reason, drain
	}
	c.w = newWriter(c.nc)
	c.bg.Add(2)
	go func() {
		defer c.bg.Done()
		c.w.run()
	}()
	go func() {
		defer c.bg.Done()
		c.readLoop()
	}()
	for {
		var kaExpired <-chan time.Time
		if c.kaTimer != nil {
			kaExpired = c.kaTimer.C
		}
		select {
		case it := <-c.rx:
			if it.err != nil {
				if reason, stopped := c.stopped(); stopped {
					return reason, false
				}
				return c.readFailed(it.err)
			}
			if reason, drain, stop := c.handlePDU(it.p); stop {
				return reason, drain
			}
		case <-kaExpired:
			c.event(Event{Kind: EventKeepAliveExpired, Detail: fmt.Sprintf("nothing received for %v", c.kato)})
			return fmt.Sprintf("keep-alive timeout (%v)", c.kato), false
		case <-c.notify:
			c.logChanged()
		case <-c.killCh:
			return c.killWhy, false
		case <-c.sim.done:
			return "simulator closed", false
		case <-c.w.done:
			if reason, stopped := c.stopped(); stopped {
				return reason, false
			}
			return fmt.Sprintf("write failed: %v", c.w.err), false
		}
		if c.w.overflowed() {
			return "host does not read its completions", false
		}
	}
}

// stopped reports whether the connection was ended from outside, which also makes its
// reads and writes fail: the outside reason is the one to report.
func (c *controller) stopped() (string, bool) {
	select {
	case <-c.killCh:
		return c.killWhy, true
	case <-c.sim.done:
		return "simulator closed", true
	default:
		return "", false
	}
}

// handshake reads the ICReq and answers it; when it fails it says why and whether a
// C2HTermReq went out.
func (c *controller) handshake() (reason string, drain, ok bool) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.cfg.ICReqTimeout))
	p, err := readPDU(c.br, &c.lim)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err != nil {
		if reason, stopped := c.stopped(); stopped {
			return reason, false, false
		}
		reason, drain := c.readFailed(err)
		return reason, drain, false
	}
	var te *termError
	switch {
	case p.pfv != 0:
		te = newTermError(fesUnsupportedParameter, offPFV, p.raw, "ICReq PFV %d, only 0 (1.0) is supported", p.pfv)
	case p.hpda > maxHPDA:
		te = newTermError(fesInvalidHeaderField, offHPDA, p.raw, "ICReq HPDA %d out of range", p.hpda)
	}
	if te != nil {
		reason, drain := c.fatal(te)
		return reason, drain, false
	}
	digests := p.digest & (digestHeader | digestData)
	c.lim = rxLimits{
		established:  true,
		hdgst:        digests&digestHeader != 0,
		ddgst:        digests&digestData != 0,
		maxInCapsule: c.cfg.InCapsuleDataSize,
		maxH2CData:   c.cfg.MaxH2CData,
	}
	c.tx = txDigests{hdgst: c.lim.hdgst, ddgst: c.lim.ddgst, dataAlign: (uint32(p.hpda) + 1) * 4}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.ICReqTimeout))
	_, err = c.nc.Write(encodeICResp(digests, c.cfg.MaxH2CData))
	_ = c.nc.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Sprintf("write ICResp: %v", err), false, false
	}
	c.log.Debug("connection initialized", "hdgst", c.lim.hdgst, "ddgst", c.lim.ddgst, "hpda", p.hpda, "maxr2t", p.maxr2t)
	return "", false, true
}

// fatal reports a transport error and sends the C2HTermReq: directly during the
// handshake, through the writer afterwards.
func (c *controller) fatal(te *termError) (string, bool) {
	c.event(Event{Kind: EventProtocolError, Detail: te.Error()})
	c.log.Warn("terminating connection", "err", te.Error())
	frame := encodeC2HTermReq(te)
	if c.w == nil {
		_ = c.nc.SetWriteDeadline(time.Now().Add(drainTimeout))
		_, _ = c.nc.Write(frame)
		return te.Error(), true
	}
	c.w.enqueue(frame1(frame))
	return te.Error(), true
}

// readFailed turns a reader error into the reason the connection ends.
func (c *controller) readFailed(err error) (string, bool) {
	var te *termError
	switch {
	case errors.As(err, &te):
		return c.fatal(te)
	case errors.Is(err, io.EOF):
		return "host closed the connection", false
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.event(Event{Kind: EventProtocolError, Detail: "no ICReq in time"})
		return "no ICReq within " + c.cfg.ICReqTimeout.String(), false
	}
	return fmt.Sprintf("read: %v", err), false
}

// lingerClose ends a connection after a C2HTermReq: it sends FIN and reads what the
// host still sends until it closes too, so that unread data does not turn the close
// into a reset that could destroy the C2HTermReq before the host reads it.
func (c *controller) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	_ = cw.CloseWrite()
	_ = c.nc.SetReadDeadline(time.Now().Add(drainTimeout))
	_, _ = io.Copy(io.Discard, c.nc)
}

func (c *controller) readLoop() {
	for {
		p, err := readPDU(c.br, &c.lim)
		select {
		case c.rx <- rxItem{p, err}:
		case <-c.ended:
			return
		}
		if err != nil {
			return
		}
	}
}

// handlePDU acts on one PDU; stop says the connection must end.
func (c *controller) handlePDU(p *pdu) (reason string, drain, stop bool) {
	switch p.hdr.typ {
	case pduH2CTermReq:
		detail := fmt.Sprintf("host terminated the connection: H2CTermReq fes %#x fei %d", p.fes, p.fei)
		c.event(Event{Kind: EventProtocolError, Detail: detail})
		return detail, false, true
	case pduH2CData:
		if te := c.h2cData(p); te != nil {
			reason, drain := c.fatal(te)
			return reason, drain, true
		}
	default:
		c.command(p)
	}
	return "", false, false
}

// isWrite and isRead give a command's data direction; for Fabrics commands it is in
// the command type (nvme_is_write).
func isWrite(s *sqe) bool {
	if s.opcode() == opFabrics {
		return s.fctype()&1 != 0
	}
	return s.opcode().SendsData()
}

func isRead(s *sqe) bool {
	if s.opcode() == opFabrics {
		return s.fctype()&2 != 0
	}
	return s.opcode().ReceivesData()
}

// command takes a command capsule: it fetches the data a write command did not carry
// in the capsule with R2T, and executes everything else.
func (c *controller) command(p *pdu) {
	cmd := p.sqe
	c.sqhd = uint16((uint32(c.sqhd) + 1) % c.queueSize)
	faults := c.sim.Faults()
	swallowKA := cmd.opcode() == nvme.OpKeepAlive && faults.IgnoreKeepAlive
	if c.kaTimer != nil && !swallowKA {
		// Any command shows the host is alive (nvmet's traffic-based keep-alive).
		c.kaTimer.Reset(c.kato)
	}
	if faults.Unresponsive {
		c.log.Debug("unresponsive: command dropped", "opcode", cmd.opcode().String(), "cid", cmd.cid())
		return
	}
	cid, length, sgl := cmd.cid(), cmd.sglLength(), cmd.sglType()
	switch {
	case p.dataErr != nil:
		c.respond(cid, reply{status: statusTransientTransprt})
	case len(p.data) > 0:
		switch {
		case !isWrite(&cmd):
			c.respond(cid, reply{status: statusInvalidField})
		case sgl != sglInCapsule:
			c.respond(cid, reply{status: statusSGLType})
		case length != uint32(len(p.data)):
			c.respond(cid, reply{status: statusSGLLength})
		default:
			c.execute(cmd, p.data)
		}
	case isRead(&cmd) && length > 0 && sgl != sglTransport:
		// Data for the host needs a transport data block, not an in-capsule offset.
		c.respond(cid, reply{status: statusInvalidField})
	case isWrite(&cmd) && length > 0:
		switch {
		case sgl != sglTransport:
			// An in-capsule descriptor with no data in the capsule.
			c.respond(cid, reply{status: statusSGLLength})
		case length > maxWriteData:
			c.respond(cid, reply{status: statusSGLLength})
		default:
			ttag := c.newTTag()
			c.xfers[ttag] = &transfer{cmd: cmd, buf: make([]byte, length)}
			c.send(c.tx.encodeR2T(cid, ttag, 0, length))
		}
	default:
		c.execute(cmd, nil)
	}
}

// newTTag returns a transfer tag not in use.
func (c *controller) newTTag() uint16 {
	for {
		c.nextTTag++
		if _, used := c.xfers[c.nextTTag]; !used {
			return c.nextTTag
		}
	}
}

// h2cData stores data the host sent after an R2T, and executes the command once all of
// it arrived.
func (c *controller) h2cData(p *pdu) *termError {
	x := c.xfers[p.ttag]
	switch {
	case x == nil:
		return newTermError(fesInvalidHeaderField, offTTag, p.raw, "H2CData for unknown transfer tag %d", p.ttag)
	case p.cid != x.cmd.cid():
		return newTermError(fesInvalidHeaderField, offCCCID, p.raw, "H2CData command id %d, transfer tag %d belongs to %d", p.cid, p.ttag, x.cmd.cid())
	case p.dataOffset != x.got:
		return newTermError(fesInvalidHeaderField, offDataOf, p.raw, "H2CData offset %d, expected %d", p.dataOffset, x.got)
	case uint64(p.dataOffset)+uint64(p.dataLength) > uint64(len(x.buf)):
		return newTermError(fesDataOutOfRange, 0, p.raw, "H2CData ends at %d, the transfer is %d bytes", uint64(p.dataOffset)+uint64(p.dataLength), len(x.buf))
	}
	copy(x.buf[x.got:], p.data)
	x.got += p.dataLength
	if p.dataErr != nil {
		x.bad = p.dataErr
	}
	last := p.hdr.flags&flagLast != 0
	complete := x.got == uint32(len(x.buf))
	if last != complete {
		return newTermError(fesInvalidHeaderField, offFlags, p.raw, "H2CData LAST_PDU %v with %d of %d bytes received", last, x.got, len(x.buf))
	}
	if !complete {
		return nil
	}
	delete(c.xfers, p.ttag)
	if x.bad != nil {
		c.respond(x.cmd.cid(), reply{status: statusTransientTransprt})
		return nil
	}
	if c.sim.Faults().Unresponsive {
		return nil
	}
	c.execute(x.cmd, x.buf)
	return nil
}

// execute runs a command whose data (if any) is complete and answers it.
func (c *controller) execute(cmd sqe, data []byte) {
	r := c.dispatch(&cmd, data)
	if !r.hold && !r.status.OK() {
		c.log.Debug("command failed", "opcode", cmd.opcode().String(), "cid", cmd.cid(), "status", r.status.String())
	}
	c.respond(cmd.cid(), r)
}

// respond sends a command's data and completion.
func (c *controller) respond(cid uint16, r reply) {
	if r.hold {
		return
	}
	if len(r.data) > 0 && r.status.OK() {
		success := c.sqhdDisabled
		for off := 0; off < len(r.data); off += int(c.cfg.MaxC2HData) {
			end := min(off+int(c.cfg.MaxC2HData), len(r.data))
			last := end == len(r.data)
			c.send(c.tx.encodeC2HData(cid, uint32(off), r.data[off:end], last, last && success)...)
		}
		if success {
			// SUCCESS in the last C2HData replaces the response capsule.
			return
		}
	}
	c.send(c.tx.encodeCapsuleResp(newCQE(cid, r.status, r.result, c.sqhd)))
}

// send queues one PDU, delayed when the test asked for slow answers.
func (c *controller) send(parts ...[]byte) {
	f := frame{bufs: parts}
	if d := c.sim.Faults().ResponseDelay; d > 0 {
		f.notBefore = time.Now().Add(d)
	}
	c.w.enqueue(f)
}

// logChanged is the discovery-change AEN logic of nvmet: generate the event when the
// host enabled it and it is not masked, mask it, and complete an outstanding AER with it.
func (c *controller) logChanged() {
	if !c.connected || c.aenEnabled&nvme.OAESDiscoveryLogChange == 0 || c.aenMasked {
		return
	}
	c.aenMasked = true
	c.pendingAENs = append(c.pendingAENs, nvme.AENDiscoveryLogChanged)
	c.deliverAENs()
}

// deliverAENs pairs queued events with outstanding AERs.
func (c *controller) deliverAENs() {
	if c.sim.Faults().Unresponsive {
		return
	}
	for len(c.pendingAENs) > 0 && len(c.aers) > 0 {
		aen, cid := c.pendingAENs[0], c.aers[0]
		c.pendingAENs, c.aers = c.pendingAENs[1:], c.aers[1:]
		c.respond(cid, reply{result: uint64(aen)})
		c.event(Event{Kind: EventAENSent, AEN: aen})
		c.log.Info("AEN sent", "aen", aen.String())
	}
}

// writer sends the frames the controller queues, in order, honouring their release
// times. It never holds its lock while writing.
type writer struct {
	nc net.Conn

	mu       sync.Mutex
	queue    []frame
	queued   int64
	closing  bool
	overflow bool

	wake chan struct{} // one slot
	stop chan struct{}
	done chan struct{}
	err  error // set before done is closed
	once sync.Once
}

type frame struct {
	bufs      net.Buffers
	notBefore time.Time
}

func frame1(b []byte) frame { return frame{bufs: net.Buffers{b}} }

func (f *frame) size() int64 {
	var n int64
	for _, b := range f.bufs {
		n += int64(len(b))
	}
	return n
}

func newWriter(nc net.Conn) *writer {
	return &writer{nc: nc, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// enqueue adds f to the queue; it never blocks. A host that lets more than
// maxQueuedBytes pile up is marked as overflowed and the frame is dropped.
func (w *writer) enqueue(f frame) {
	n := f.size()
	w.mu.Lock()
	if w.closing || w.overflow {
		w.mu.Unlock()
		return
	}
	if w.queued+n > maxQueuedBytes {
		w.overflow = true
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, f)
	w.queued += n
	w.mu.Unlock()
	w.poke()
}

func (w *writer) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *writer) overflowed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.overflow
}

// finish lets the writer send what is queued and then stop.
func (w *writer) finish() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.poke()
}

// abort stops the writer without sending what is left.
func (w *writer) abort() {
	w.once.Do(func() { close(w.stop) })
}

func (w *writer) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			closing := w.closing
			w.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-w.wake:
				continue
			case <-w.stop:
				w.err = ErrClosed
				return
			}
		}
		f := w.queue[0]
		w.queue[0] = frame{}
		w.queue = w.queue[1:]
		w.queued -= f.size()
		w.mu.Unlock()
		if d := time.Until(f.notBefore); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-w.stop:
				t.Stop()
				w.err = ErrClosed
				return
			}
		}
		if _, err := f.bufs.WriteTo(w.nc); err != nil {
			w.err = err
			return
		}
	}
}
