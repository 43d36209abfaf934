// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"bytes"
	"fmt"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// dispatch executes one command. Like nvmet, a queue takes only Connect until it is
// connected, and only Fabrics commands until the host enabled the controller.
func (c *controller) dispatch(cmd *sqe, data []byte) reply {
	if cmd.opcode() == opFabrics {
		return c.fabrics(cmd, data)
	}
	if !c.connected || c.csts&cstsReady == 0 {
		return reply{status: statusInvalidOpcode}
	}
	switch cmd.opcode() {
	case nvme.OpIdentify:
		return c.identify(cmd)
	case nvme.OpGetLogPage:
		return c.getLogPage(cmd)
	case nvme.OpSetFeatures:
		return c.setFeatures(cmd)
	case nvme.OpGetFeatures:
		return c.getFeatures(cmd)
	case nvme.OpAsyncEventRequest:
		return c.asyncEventRequest(cmd)
	case nvme.OpKeepAlive:
		return c.keepAlive()
	case nvme.OpDiscoveryInfoMgmt:
		return c.dim(cmd, data)
	}
	return reply{status: statusInvalidOpcode}
}

func (c *controller) fabrics(cmd *sqe, data []byte) reply {
	if cmd.fctype() == fctypeConnect {
		return c.connect(cmd, data)
	}
	if !c.connected {
		return reply{status: statusInvalidOpcode}
	}
	switch cmd.fctype() {
	case fctypePropertyGet:
		return c.propertyGet(cmd)
	case fctypePropertySet:
		return c.propertySet(cmd)
	}
	return reply{status: statusInvalidOpcode}
}

// cString returns the NUL-terminated string at the start of field, and false when the
// field holds no NUL.
func cString(field []byte) (string, bool) {
	i := bytes.IndexByte(field, 0)
	if i < 0 {
		return "", false
	}
	return string(field[:i]), true
}

// connect handles a Fabrics Connect of the admin queue.
func (c *controller) connect(cmd *sqe, data []byte) reply {
	reject := func(status nvme.Status, result uint64, format string, args ...any) reply {
		detail := fmt.Sprintf(format, args...)
		c.event(Event{Kind: EventConnectRejected, Status: status, Detail: detail})
		c.log.Warn("connect rejected", "reason", detail)
		return reply{status: status, result: result}
	}
	if c.connected {
		return reject(statusSequence, 0, "second Connect on a connected queue")
	}
	if len(data) != connectDataLen {
		return reject(statusSGLLength, 0, "connect data is %d bytes, expected %d", len(data), connectDataLen)
	}
	if qid := cmd.connectQID(); qid != 0 {
		return reject(statusConnectInvalid, connectIPO(false, connectSQEQIDOff), "queue %d: a discovery controller has only the admin queue", qid)
	}
	sqsize := cmd.connectSQSize()
	if sqsize == 0 || sqsize > capMQES {
		return reject(statusConnectInvalid, connectIPO(false, connectSQESQSizeOff), "sqsize %d outside 1..%d", sqsize, capMQES)
	}
	subNQN, ok := cString(data[connectDataSubNQNOff:connectDataHostNQN])
	if !ok || (subNQN != nqn.WellKnownDiscovery && subNQN != c.cfg.NQN) {
		return reject(statusConnectInvalid, connectIPO(true, connectDataSubNQNOff), "unknown subsystem NQN %q", subNQN)
	}
	hostNQN, ok := cString(data[connectDataHostNQN : connectDataHostNQN+256])
	if !ok || hostNQN == "" {
		return reject(statusConnectInvalid, connectIPO(true, connectDataHostNQN), "host NQN %q missing or not terminated", hostNQN)
	}
	var hostID [nvme.HostIDLen]byte
	copy(hostID[:], data[connectDataHostIDOff:])
	kato := time.Duration(cmd.connectKATO()) * time.Millisecond
	if kato == 0 && c.cfg.DiscoveryKATO > 0 {
		kato = c.cfg.DiscoveryKATO
	}
	c.host = c.sim.addHost(Host{
		HostNQN:   hostNQN,
		HostID:    formatUUID(hostID),
		SubNQN:    subNQN,
		Remote:    c.remote,
		KATO:      kato,
		Connected: time.Now(),
	})
	c.connected = true
	c.queueSize = uint32(sqsize) + 1
	c.sqhdDisabled = cmd.connectCAttr()&cattrDisableSQFlow != 0
	c.setKATO(kato)
	c.log = c.log.With("cntlid", c.host.CNTLID, "host", hostNQN)
	c.event(Event{Kind: EventConnected, Detail: fmt.Sprintf("subnqn %s, kato %v, sqsize %d", subNQN, kato, sqsize)})
	c.log.Info("host connected", "hostid", c.host.HostID, "subnqn", subNQN, "kato", kato)
	return reply{result: uint64(c.host.CNTLID)}
}

// setKATO starts, restarts or stops the keep-alive timer.
func (c *controller) setKATO(kato time.Duration) {
	c.kato = kato
	if c.kaTimer != nil {
		c.kaTimer.Stop()
		c.kaTimer = nil
	}
	if kato > 0 {
		c.kaTimer = time.NewTimer(kato)
	}
}

func capValue() uint64 {
	return capCSSNVM | capTimeout<<24 | capMQES
}

func (c *controller) propertyGet(cmd *sqe) reply {
	off := cmd.propOffset()
	if cmd.propAttrib()&1 != 0 { // 8 bytes
		if off == propCAP {
			return reply{result: capValue()}
		}
		return reply{status: statusInvalidField}
	}
	switch off {
	case propVS:
		return reply{result: uint64(controllerVersion)}
	case propCC:
		return reply{result: uint64(c.cc)}
	case propCSTS:
		return reply{result: uint64(c.csts)}
	}
	return reply{status: statusInvalidField}
}

func (c *controller) propertySet(cmd *sqe) reply {
	if cmd.propAttrib()&1 != 0 || cmd.propOffset() != propCC {
		return reply{status: statusInvalidField}
	}
	c.updateCC(uint32(cmd.propValue()))
	return reply{}
}

// updateCC is nvmet_update_cc: enabling checks the page size, arbitration and command
// set and sets CSTS to RDY (or CFS); disabling clears RDY and CC; a shutdown request
// does the same and reports the shutdown complete at once.
func (c *controller) updateCC(cc uint32) {
	old := c.cc
	c.cc = cc
	enabled := func(v uint32) bool { return v&ccEnable != 0 }
	shn := func(v uint32) uint32 { return v >> ccSHNShift & ccSHNMask }
	if enabled(cc) && !enabled(old) {
		css := cc >> ccCSSShift & ccCSSMask
		if cc>>ccMPSShift&ccMPSMask != 0 || cc>>ccAMSShift&ccAMSMask != 0 || (css != cssNVM && css != cssCSI) {
			c.csts = cstsFatal
		} else {
			c.csts = cstsReady
		}
	}
	if !enabled(cc) && enabled(old) {
		c.clearController()
	}
	if shn(cc) != 0 && shn(old) == 0 {
		// nvmet also clears SHST when SHN goes back to 0, but since clearing the
		// controller zeroes CC, that never happens; SHST stays until the next enable.
		c.clearController()
		c.csts |= cstsShstDone
	}
}

func (c *controller) clearController() {
	c.csts &^= cstsReady
	c.cc = 0
}

func (c *controller) identify(cmd *sqe) reply {
	if cmd.sglLength() != nvme.IdentifySize {
		return reply{status: statusSGLLength}
	}
	if cns, _ := nvme.ParseIdentifyCDW10(cmd.cdw(10)); cns != nvme.CNSController {
		return reply{status: statusInvalidField}
	}
	b, err := c.cfg.identify(c.host.CNTLID).MarshalBinary()
	if err != nil {
		// Config validation encoded the same structure already.
		return reply{status: statusInternal}
	}
	return reply{data: b}
}

// logSlice returns length bytes of page from offset, zero-filled past its end (as nvmet
// does for a read longer than the log). ok is false when offset is past the end.
func logSlice(page []byte, offset, length uint64) ([]byte, bool) {
	if offset > uint64(len(page)) {
		return nil, false
	}
	end := offset + length
	if end <= uint64(len(page)) {
		return page[offset:end], true
	}
	b := make([]byte, length)
	copy(b, page[offset:])
	return b, true
}

func (c *controller) getLogPage(cmd *sqe) reply {
	g := nvme.ParseGetLogPage(cmd.cdw(10), cmd.cdw(11), cmd.cdw(12), cmd.cdw(13))
	switch {
	case uint64(cmd.sglLength()) != g.Length:
		return reply{status: statusSGLLength}
	case g.Offset%4 != 0, g.Length > maxReadData:
		return reply{status: statusInvalidField}
	}
	switch g.LID {
	case nvme.LIDDiscovery:
		if g.Offset >= nvme.LogHeaderSize && c.sim.takeChurn() {
			c.sim.BumpGenCtr()
		}
		snap := c.sim.snap.Load()
		data, ok := logSlice(snap.page, g.Offset, g.Length)
		if !ok {
			return reply{status: statusInvalidField}
		}
		if !g.RAE {
			c.aenMasked = false
		}
		c.event(Event{Kind: EventLogPageRead, Log: g, GenCtr: snap.genctr})
		return reply{data: data}
	case nvme.LIDSupportedLogPages:
		var s nvme.SupportedLogPages
		s[nvme.LIDSupportedLogPages] = 1
		s[nvme.LIDDiscovery] = 1 | uint32(c.cfg.DiscoveryLogOptions)<<16
		page, _ := s.MarshalBinary()
		data, ok := logSlice(page, g.Offset, g.Length)
		if !ok {
			return reply{status: statusInvalidField}
		}
		c.event(Event{Kind: EventLogPageRead, Log: g})
		return reply{data: data}
	}
	return reply{status: statusInvalidLogPage}
}

func (c *controller) setFeatures(cmd *sqe) reply {
	v := cmd.cdw(11)
	switch uint8(cmd.cdw(10)) {
	case featKeepAliveTimer:
		c.setKATO(time.Duration(v) * time.Millisecond)
		c.host.KATO = c.kato
		c.sim.updateHost(c.host)
		// nvmet answers with the timeout in seconds, rounded up.
		return reply{result: uint64((v + 999) / 1000)}
	case featAsyncEventConfig:
		if v&^c.cfg.oaes() != 0 {
			return reply{status: statusInvalidField}
		}
		c.aenEnabled = v
		return reply{result: uint64(v)}
	}
	return reply{status: statusInvalidField}
}

func (c *controller) getFeatures(cmd *sqe) reply {
	switch uint8(cmd.cdw(10)) {
	case featKeepAliveTimer:
		return reply{result: uint64(c.kato / time.Millisecond)}
	case featAsyncEventConfig:
		return reply{result: uint64(c.aenEnabled)}
	}
	return reply{status: statusInvalidField}
}

// asyncEventRequest keeps the command outstanding until an event needs it.
func (c *controller) asyncEventRequest(cmd *sqe) reply {
	if len(c.aers) >= maxOutstandingAERs {
		return reply{status: statusAERLimit}
	}
	c.aers = append(c.aers, cmd.cid())
	c.deliverAENs()
	return reply{hold: true}
}

func (c *controller) keepAlive() reply {
	if c.sim.Faults().IgnoreKeepAlive {
		c.event(Event{Kind: EventKeepAlive, Detail: "ignored"})
		return reply{hold: true}
	}
	c.event(Event{Kind: EventKeepAlive})
	return reply{}
}

// dim handles Discovery Information Management: a host registers, updates or removes
// itself. A controller that is not a DDC or CDC refuses the opcode, as nvmet does.
func (c *controller) dim(cmd *sqe, data []byte) reply {
	task := nvme.ParseDIMCDW10(cmd.cdw(10))
	fail := func(status nvme.Status, format string, args ...any) reply {
		detail := fmt.Sprintf(format, args...)
		c.event(Event{Kind: EventDIM, DIMTask: task, Status: status, Detail: detail})
		c.log.Warn("DIM refused", "task", task.String(), "reason", detail)
		return reply{status: status}
	}
	if c.cfg.DCType == nvme.DCTypeNone {
		return fail(statusInvalidOpcode, "not a DDC or CDC")
	}
	if task > nvme.DIMUpdate {
		return fail(statusInvalidField, "unknown task %d", task)
	}
	d, err := nvme.DecodeDIMData(data)
	if err != nil {
		return fail(statusInvalidDiscInfo, "%v", err)
	}
	if d.EntityType != nvme.DIMEntityHost {
		return fail(statusInvalidDiscInfo, "entity type %s, only hosts register", d.EntityType)
	}
	if d.EntityID != c.host.HostNQN {
		return fail(statusInvalidDiscInfo, "entity %q is not the connected host %q", d.EntityID, c.host.HostNQN)
	}
	traddr := d.Entry.TrAddr
	if traddr == "" && c.remote.IsValid() {
		traddr = c.remote.Addr().String()
	}
	status := c.sim.applyDIM(task, Registration{
		HostNQN:       d.EntityID,
		HostID:        formatUUID(d.Entry.HostID),
		SymbolicName:  d.Entry.SymbolicName,
		EntityName:    d.EntityName,
		EntityVersion: d.EntityVersion,
		TrType:        d.Entry.TrType,
		AdrFam:        d.Entry.AdrFam,
		TrAddr:        traddr,
		TrSvcID:       d.Entry.TrSvcID,
		Source:        c.remote,
		CNTLID:        c.host.CNTLID,
		Data:          *d,
	})
	detail := ""
	if !status.OK() {
		detail = "not registered"
	}
	c.event(Event{Kind: EventDIM, DIMTask: task, Status: status, Detail: detail})
	c.log.Info("DIM", "task", task.String(), "status", status.String(), "symname", d.Entry.SymbolicName)
	return reply{status: status}
}
