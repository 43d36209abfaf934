// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nvme-stas-go/stas/internal/admin"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// task is a kernel operation a controller runs, one at a time, on a goroutine of its
// own; the DC's steps are tasks too, in chain order.
type task int

const (
	taskNone task = iota
	taskConnect
	taskIdentify
	taskRegister
	taskSupported
	taskLog
	// taskIdle is the DC stage after a successful log read: wait for events.
	taskIdle
)

func (t task) String() string {
	switch t {
	case taskConnect:
		return "connect"
	case taskIdentify:
		return "identify"
	case taskRegister:
		return "register"
	case taskSupported:
		return "get supported log pages"
	case taskLog:
		return "get log page"
	case taskIdle:
		return "idle"
	}
	return "none"
}

// result is what a task's goroutine hands back to the loop.
type result struct {
	task  task
	epoch uint64
	err   error
	// aborted: the task gave up before touching the kernel (stop or ctx end).
	aborted bool

	// taskConnect
	device  string
	adopted bool
	omitted []string

	// DC steps: adm is the admin device the step used (opened by it if it was nil).
	adm       Admin
	ident     *nvme.IdentifyController
	supported nvme.DiscoveryLogOptions
	log       *nvme.DiscoveryLog
}

// machine is the controller's state, owned by its goroutine (run).
type machine struct {
	c       *Controller
	ctx     context.Context
	deps    Deps
	log     *slog.Logger
	updates chan<- Update
	id      string // the TID's text, for log lines

	// stopCtx ends at Stop or when ctx ends: it aborts what may be abandoned (the
	// adoption search and the wait for the limiter), never a kernel connect.
	stopCtx    context.Context
	stopCancel context.CancelFunc

	dimData *nvme.DIMData
	dimErr  error

	results chan result // capacity 1: one task at a time
	running task
	// opCancel cancels the running DC step (on removal and on stop).
	opCancel context.CancelFunc
	// epoch changes when the device is removed, so that a late step result for the old
	// device is dropped.
	epoch uint64

	timer     *time.Timer
	timerC    <-chan time.Time
	timerTask task
	timerAt   time.Time

	stopping bool
	stop     stopRequest
	ctxEnded bool
	stopped  bool

	// Connection.
	device          string
	adopted         bool
	attempts        int
	connectInterval time.Duration
	connectDue      bool
	gaveUp          bool
	lastError       string
	lastErrorLog    time.Time
	ncc             bool

	// DC.
	admin      Admin
	stage      task
	stepDue    bool
	needLog    bool
	needResync bool
	steps      [taskIdle]StepState
	identified bool
	identity   Identity
	registered bool
	dlpOptions nvme.DiscoveryLogOptions
	lsp        uint8
	logPages   []nvme.Entry
	genCtr     uint64
	logFetched uint64

	dirty bool
}

func newMachine(ctx context.Context, c *Controller, d Deps, updates chan<- Update) *machine {
	if d.OpenAdmin == nil {
		d.OpenAdmin = OpenAdminDevice
	}
	if d.ConnectTimeout <= 0 {
		d.ConnectTimeout = DefaultConnectTimeout
	}
	if d.AdminTimeout <= 0 {
		d.AdminTimeout = DefaultAdminTimeout
	}
	if d.DisconnectTimeout <= 0 {
		d.DisconnectTimeout = DefaultDisconnectTimeout
	}
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &machine{
		c:               c,
		ctx:             ctx,
		deps:            d,
		log:             logger,
		updates:         updates,
		id:              c.params.TID.String(),
		results:         make(chan result, 1),
		connectInterval: ConnectRetryInterval,
		connectDue:      true,
		ncc:             c.params.NCC,
		dirty:           true,
	}
	m.stopCtx, m.stopCancel = context.WithCancel(ctx)
	if c.params.Role == Discovery && c.params.Registration != nil {
		m.dimData, m.dimErr = nvme.NewHostRegistration(*c.params.Registration)
	}
	return m
}

// dev is the device as nvme-stas names it in log lines.
func (m *machine) dev() string {
	if m.device == "" {
		return "nvme?"
	}
	return m.device
}

func (m *machine) isDC() bool { return m.c.params.Role == Discovery }

// run is the controller's goroutine.
func (m *machine) run() {
	ctxDone := m.ctx.Done()
	for {
		if m.running == taskNone {
			if m.stopping {
				m.dispose()
				return
			}
			m.startDue()
		}
		var out chan<- Update
		var u Update
		if m.dirty && m.updates != nil {
			out, u = m.updates, m.snapshot()
		}
		select {
		case <-m.c.wake:
			m.takeInbox()
		case r := <-m.results:
			m.finish(r)
		case <-m.timerC:
			m.fire()
		case out <- u:
			m.dirty = false
		case <-ctxDone:
			ctxDone = nil
			m.ctxEnded = true
			m.beginStop(stopRequest{keepConnection: true})
		}
	}
}

func (m *machine) takeInbox() {
	events, stop := m.c.take()
	for _, e := range events {
		switch e.kind {
		case evRemoved:
			m.removed(e.device)
		case evAEN:
			m.aen(e.device, e.aen)
		case evRediscover:
			m.rediscover(e.device)
		case evReload:
			m.reload()
		case evNCC:
			m.setNCC(e.ncc)
		}
	}
	if stop != nil {
		m.beginStop(*stop)
	}
}

// startDue starts the connect or the DC step that is due, if any. Only called when no
// task is running.
func (m *machine) startDue() {
	if m.device == "" {
		if m.connectDue {
			m.startConnect()
		}
		return
	}
	if m.isDC() && m.stepDue {
		m.stepDue = false
		m.startStep(m.stage)
	}
}

// --- timer -----------------------------------------------------------------------------

// arm (re)starts the one retry timer for t, which is taskConnect or the DC stage.
func (m *machine) arm(t task, d time.Duration) {
	m.disarm()
	if m.timer == nil {
		m.timer = time.NewTimer(d)
	} else {
		m.timer.Reset(d)
	}
	m.timerC, m.timerTask, m.timerAt = m.timer.C, t, time.Now().Add(d)
	if t != taskConnect {
		m.steps[t].RetryInterval, m.steps[t].RetryAt = d, m.timerAt
	}
	m.dirty = true
}

func (m *machine) disarm() {
	if m.timerC == nil {
		return
	}
	m.timer.Stop()
	m.timerC = nil
	if m.timerTask != taskConnect {
		m.steps[m.timerTask].RetryAt = time.Time{}
	}
	m.timerTask, m.timerAt = taskNone, time.Time{}
	m.dirty = true
}

func (m *machine) fire() {
	t := m.timerTask
	m.timerC = nil
	m.disarmed(t)
	switch {
	case t == taskConnect && m.device == "":
		m.connectDue = true
	case t != taskConnect && t == m.stage && m.device != "":
		m.stepDue = true
	}
}

// disarmed clears the record of a timer that has fired.
func (m *machine) disarmed(t task) {
	if t != taskConnect && t != taskNone {
		m.steps[t].RetryAt = time.Time{}
	}
	m.timerTask, m.timerAt = taskNone, time.Time{}
	m.dirty = true
}

// --- connect ---------------------------------------------------------------------------

func (m *machine) startConnect() {
	m.connectDue = false
	if m.timerTask == taskConnect {
		m.disarm()
	}
	m.attempts++
	m.running = taskConnect
	m.dirty = true
	p, d := m.c.params, m.deps
	stopCtx, ctx := m.stopCtx, m.ctx
	go func() {
		m.results <- connect(stopCtx, ctx, p, d)
	}()
}

// connect is the connect task: adopt an existing kernel connection, or create one
// within the limiter's bound.
func connect(stopCtx, ctx context.Context, p Params, d Deps) result {
	r := result{task: taskConnect}
	if d.FindExisting != nil {
		if dev, ok := d.FindExisting(stopCtx); ok && dev != "" {
			r.device, r.adopted = dev, true
			return r
		}
	}
	if stopCtx.Err() != nil {
		r.aborted = true
		return r
	}
	if d.Host == nil {
		r.err = fmt.Errorf("connect %s: %w", fabrics.Describe(p.Options), errNoHost)
		return r
	}
	release, err := d.Limiter.Acquire(stopCtx)
	if err != nil {
		r.aborted = true
		return r
	}
	defer release()
	cctx, cancel := context.WithTimeout(ctx, d.ConnectTimeout)
	defer cancel()
	reply, omitted, err := d.Host.Connect(cctx, p.Options)
	if err != nil {
		r.err = err
		return r
	}
	r.device, r.omitted = reply.Device(), omitted
	return r
}

func (m *machine) finishConnect(r result) {
	if r.aborted {
		return
	}
	if r.err == nil {
		m.connected(r)
		return
	}
	m.lastError = r.err.Error()
	if m.stopping {
		return
	}
	m.connectFailed(r.err)
}

func (m *machine) connected(r result) {
	m.device, m.adopted = r.device, r.adopted
	m.attempts, m.lastError, m.gaveUp, m.connectDue = 0, "", false, false
	if r.adopted {
		m.log.Info(fmt.Sprintf("%s | %s - Connection established! (adopted existing kernel connection)", m.id, m.device))
	} else {
		m.log.Info(fmt.Sprintf("%s | %s - Connection established!", m.id, m.device))
	}
	if len(r.omitted) > 0 {
		m.log.Info(fmt.Sprintf("%s | %s - Options not supported by the kernel were left out: %s",
			m.id, m.device, strings.Join(r.omitted, ", ")))
	}
	if m.stopping || !m.isDC() {
		return
	}
	m.steps = [taskIdle]StepState{}
	m.advance(taskIdentify)
}

func (m *machine) connectFailed(err error) {
	now := time.Now()
	switch m.attempts {
	case 1:
		m.connectInterval = FastRetryInterval
		m.log.Debug(fmt.Sprintf("%s Failed to connect to controller. %v", m.id, err))
	case 2:
		m.connectInterval = ConnectRetryInterval
		m.log.Error(fmt.Sprintf("%s Failed to connect to controller. %v", m.id, err))
		m.lastErrorLog = now
	default:
		if m.attempts > 2 && now.Sub(m.lastErrorLog) >= ErrorRepeatInterval {
			m.log.Error(fmt.Sprintf("%s Still failing to connect to controller after %d attempts. %v", m.id, m.attempts, err))
			m.lastErrorLog = now
		} else {
			m.log.Debug(fmt.Sprintf("%s Failed to connect to controller (attempt %d). %v", m.id, m.attempts, err))
		}
	}
	if m.mayRetry() {
		m.arm(taskConnect, m.connectInterval)
		return
	}
	m.gaveUp = true
	m.log.Info(fmt.Sprintf("%s Not connected to CDC (NCC): giving up after %d attempts until NCC clears or a reload",
		m.id, m.attempts))
}

// mayRetry is nvme-stas's retry rule: DCs always; IOCs while limit == 0 or attempts <
// limit, the limit being connect-attempts-on-ncc while NCC is set and 0 otherwise.
func (m *machine) mayRetry() bool {
	if m.isDC() {
		return true
	}
	limit := 0
	if m.ncc {
		limit = m.c.params.ConnectAttemptsOnNCC
	}
	return limit == 0 || m.attempts < limit
}

// --- DC steps --------------------------------------------------------------------------

// advance makes t the DC stage, to run as soon as no task is running.
func (m *machine) advance(t task) {
	if m.timerC != nil && m.timerTask != taskConnect {
		m.disarm()
	}
	m.stage, m.stepDue = t, t != taskIdle
	m.dirty = true
}

func (m *machine) startStep(t task) {
	st := &m.steps[t]
	st.Started, st.Running = true, true
	m.running = t
	m.dirty = true
	ctx, cancel := context.WithTimeout(m.ctx, m.deps.AdminTimeout)
	m.opCancel = cancel
	in := stepInput{
		task: t, epoch: m.epoch, device: m.device, adm: m.admin, open: m.deps.OpenAdmin,
		dim: m.dimData, lsp: m.lsp,
	}
	go func() {
		r := runStep(ctx, in)
		cancel()
		m.results <- r
	}()
}

type stepInput struct {
	task   task
	epoch  uint64
	device string
	adm    Admin
	open   func(string) (Admin, error)
	dim    *nvme.DIMData
	lsp    uint8
}

// runStep is the task of one DC step on its own goroutine.
func runStep(ctx context.Context, in stepInput) result {
	r := result{task: in.task, epoch: in.epoch, adm: in.adm}
	if r.adm == nil {
		adm, err := in.open(in.device)
		if err != nil {
			r.err = fmt.Errorf("open %s for admin commands: %w", in.device, err)
			return r
		}
		r.adm = adm
	}
	switch in.task {
	case taskIdentify:
		r.ident, r.err = r.adm.IdentifyController(ctx)
		if r.err == nil && r.ident == nil {
			r.err = fmt.Errorf("identify %s: no data", in.device)
		}
	case taskRegister:
		_, r.err = r.adm.DIM(ctx, nvme.DIMRegister, in.dim)
	case taskSupported:
		var s nvme.SupportedLogPages
		s, r.err = r.adm.SupportedLogPages(ctx)
		r.supported = s.DiscoveryOptions()
	case taskLog:
		r.log, r.err = r.adm.DiscoveryLog(ctx, in.lsp)
		if r.err == nil && r.log == nil {
			r.err = fmt.Errorf("get discovery log page of %s: no data", in.device)
		}
	}
	return r
}

// refused reports an error by which the controller said it does not do the command
// (an NVMe status), as opposed to one the command did not complete with.
func refused(err error) bool {
	var st nvme.Status
	return errors.Is(err, admin.ErrNotSupported) || errors.As(err, &st)
}

func (m *machine) finishStep(r result) {
	m.opCancel = nil
	st := &m.steps[r.task]
	st.Running = false
	if r.epoch != m.epoch {
		// The device was removed meanwhile; this admin device belongs to it.
		if r.adm != nil {
			_ = r.adm.Close()
		}
		return
	}
	m.admin = r.adm
	if m.stopping {
		if r.task == taskRegister && r.err == nil {
			m.registered = true // so that Stop deregisters it
		}
		return
	}
	switch r.task {
	case taskIdentify:
		m.finishIdentify(r)
	case taskRegister:
		m.finishRegister(r)
	case taskSupported:
		m.finishSupported(r)
	case taskLog:
		m.finishLog(r)
	}
	if m.needResync {
		m.needResync, m.needLog = false, false
		m.advance(taskIdentify)
	}
}

func (m *machine) stepOK(t task) {
	m.steps[t].Failures, m.steps[t].Error = 0, ""
}

func (m *machine) stepFailed(t task, err error, interval time.Duration, what string) {
	st := &m.steps[t]
	st.Failures++
	st.Error = err.Error()
	if st.Failures == 1 {
		m.log.Error(fmt.Sprintf("%s | %s - %s. %v", m.id, m.dev(), what, err))
	} else {
		m.log.Debug(fmt.Sprintf("%s | %s - %s (failure %d). %v", m.id, m.dev(), what, st.Failures, err))
	}
	m.stage = t
	m.arm(t, interval)
}

func (m *machine) finishIdentify(r result) {
	if r.err != nil {
		m.stepFailed(taskIdentify, r.err, IdentifyRetryInterval, "Failed to identify Discovery Controller")
		return
	}
	m.stepOK(taskIdentify)
	id := r.ident
	m.identified = true
	m.identity = Identity{
		DCType: id.DCType, CntrlType: id.CntrlType, SubNQN: id.SubNQN,
		Model: id.ModelNumber, Serial: id.SerialNumber, Firmware: id.FirmwareRevision,
	}
	m.log.Debug(fmt.Sprintf("%s | %s - Identified: dctype=%s cntrltype=%s", m.id, m.device, id.DCType, id.CntrlType))
	switch {
	case !id.SupportsRegistration():
		m.log.Debug(fmt.Sprintf("%s | %s - dctype %s does not support registration; not registering",
			m.id, m.device, id.DCType))
	case m.c.params.Registration == nil:
		m.log.Debug(fmt.Sprintf("%s | %s - no host registration data; not registering", m.id, m.device))
	case m.dimErr != nil:
		if !m.steps[taskRegister].Started {
			m.log.Error(fmt.Sprintf("%s | %s - Cannot register with Discovery Controller: %v", m.id, m.device, m.dimErr))
		}
	default:
		m.advance(taskRegister)
		return
	}
	m.afterRegistration()
}

func (m *machine) afterRegistration() {
	if m.c.params.PLEO && m.identity.DCType != nvme.DCTypeCDC {
		m.advance(taskSupported)
		return
	}
	m.lsp, m.dlpOptions = 0, 0
	m.advance(taskLog)
}

func (m *machine) finishRegister(r result) {
	switch {
	case r.err == nil:
		m.stepOK(taskRegister)
		m.registered = true
		m.log.Info(fmt.Sprintf("%s | %s - Registered with Discovery Controller", m.id, m.device))
	case refused(r.err):
		// nvme-stas: an NVMe status is a registration error, logged, not retried.
		m.stepOK(taskRegister)
		m.registered = false
		m.log.Warn(fmt.Sprintf("%s | %s - Registration error. %v.", m.id, m.device, r.err))
	default:
		m.stepFailed(taskRegister, r.err, RegisterRetryInterval, "Failed to register with Discovery Controller")
		return
	}
	m.afterRegistration()
}

func (m *machine) finishSupported(r result) {
	switch {
	case r.err == nil:
		m.stepOK(taskSupported)
		m.dlpOptions, m.lsp = r.supported, r.supported.DiscoveryLSP()
		m.log.Debug(fmt.Sprintf("%s | %s - Supported discovery log options: %s", m.id, m.device, r.supported))
	case refused(r.err):
		// nvmet rejects LID 0x00: read the log without options, no retry.
		m.stepOK(taskSupported)
		m.dlpOptions, m.lsp = 0, 0
		m.log.Debug(fmt.Sprintf("%s | %s - No Supported Log Pages (%v); reading the log without options",
			m.id, m.device, r.err))
	default:
		m.stepFailed(taskSupported, r.err, SupportedRetryInterval,
			"Failed to Get supported log pages from Discovery Controller")
		return
	}
	m.advance(taskLog)
}

func (m *machine) finishLog(r result) {
	if r.err != nil {
		if m.needLog {
			// A change notice arrived during the failed read: try again now.
			m.needLog = false
			m.stepFailed(taskLog, r.err, LogPageRetryInterval, "Failed to retrieve log pages")
			m.advance(taskLog)
			return
		}
		m.stepFailed(taskLog, r.err, LogPageRetryInterval, "Failed to retrieve log pages")
		return
	}
	m.stepOK(taskLog)
	m.logPages, m.genCtr = r.log.Entries, r.log.GenCtr
	m.logFetched++
	m.log.Info(fmt.Sprintf("%s | %s - Received discovery log pages (num records=%d).", m.id, m.device, len(r.log.Entries)))
	if m.needLog {
		m.needLog = false
		m.advance(taskLog)
		return
	}
	m.advance(taskIdle)
}

// --- events ----------------------------------------------------------------------------

func (m *machine) finish(r result) {
	m.running = taskNone
	m.dirty = true
	if r.task == taskConnect {
		m.finishConnect(r)
		return
	}
	m.finishStep(r)
}

func (m *machine) removed(device string) {
	if device == "" || device != m.device {
		m.log.Debug(fmt.Sprintf("%s | %s - Ignoring removal of %s", m.id, m.dev(), device))
		return
	}
	if m.stopping {
		m.log.Info(fmt.Sprintf("%s | %s - Device removed", m.id, m.device))
		m.forgetDevice()
		return
	}
	m.log.Info(fmt.Sprintf("%s | %s - Device removed; reconnecting", m.id, m.device))
	m.forgetDevice()
	m.attempts, m.gaveUp = 0, false
	m.connectInterval = FastRetryInterval
	m.arm(taskConnect, FastRetryInterval)
}

// forgetDevice drops everything tied to the kernel device; the cached log pages stay.
func (m *machine) forgetDevice() {
	m.device, m.adopted, m.registered = "", false, false
	m.identified, m.identity = false, Identity{}
	m.epoch++
	if m.timerC != nil && m.timerTask != taskConnect {
		m.disarm()
	}
	m.stage, m.stepDue, m.needLog, m.needResync = taskNone, false, false, false
	m.steps = [taskIdle]StepState{}
	if m.running != taskNone && m.running != taskConnect {
		m.opCancel() // the step's result closes the admin device
	} else if m.admin != nil {
		_ = m.admin.Close()
	}
	m.admin = nil
	m.dirty = true
}

func (m *machine) aen(device string, aen nvme.AEN) {
	if device == "" || device != m.device {
		m.log.Debug(fmt.Sprintf("%s | %s - Ignoring AEN %s for %s", m.id, m.dev(), aen, device))
		return
	}
	m.log.Info(fmt.Sprintf("%s | %s - Received AEN: %s", m.id, m.device, aen))
	if !m.isDC() || aen != nvme.AENDiscoveryLogChanged || m.stopping || !m.steps[taskLog].Started {
		// Before the first read the chain reads the log anyway.
		return
	}
	switch {
	case m.running == taskLog:
		m.needLog = true // coalesced: one more read after this one
	case m.running != taskNone:
		// An earlier step runs (a resync): the chain reads the log after it.
	case m.stage == taskLog || m.stage == taskIdle:
		m.advance(taskLog)
	}
}

func (m *machine) rediscover(device string) {
	if device == "" || device != m.device {
		m.log.Debug(fmt.Sprintf("%s | %s - Ignoring event for %s", m.id, m.dev(), device))
		return
	}
	if !m.isDC() {
		return
	}
	m.log.Debug(fmt.Sprintf("%s | %s - Kernel (re)connected; resynchronising", m.id, m.device))
	m.resync()
}

func (m *machine) resync() {
	if m.stopping || m.device == "" {
		return
	}
	if m.running != taskNone {
		m.needResync = true
		return
	}
	m.needLog = false
	m.advance(taskIdentify)
}

func (m *machine) reload() {
	if m.stopping {
		return
	}
	if m.isDC() {
		m.resync()
		return
	}
	if m.device != "" || m.running != taskNone {
		return
	}
	m.log.Debug(fmt.Sprintf("%s Reload: connecting now", m.id))
	m.gaveUp = false
	m.connectDue = true
	m.dirty = true
}

func (m *machine) setNCC(ncc bool) {
	was := m.ncc
	m.ncc = ncc
	m.dirty = true
	if m.isDC() || m.stopping || !was || ncc || m.device != "" {
		return
	}
	m.log.Info(fmt.Sprintf("%s NCC cleared; connecting", m.id))
	m.attempts, m.gaveUp = 0, false
	m.connectDue = true
}

// --- stop ------------------------------------------------------------------------------

func (m *machine) beginStop(req stopRequest) {
	if m.stopping {
		return
	}
	m.stopping, m.stop = true, req
	m.disarm()
	m.connectDue, m.stepDue, m.needLog, m.needResync = false, false, false, false
	m.stopCancel()
	if m.opCancel != nil {
		m.opCancel()
	}
}

// dispose ends the controller once no task runs: deregister, delete, final Update.
func (m *machine) dispose() {
	defer close(m.c.done)
	defer m.stopCancel()
	if m.timer != nil {
		m.timer.Stop()
	}
	if !m.ctxEnded {
		if m.stop.deregister && m.registered && m.admin != nil && m.dimData != nil {
			m.deregister()
		}
	}
	if m.admin != nil {
		_ = m.admin.Close()
		m.admin = nil
	}
	if !m.ctxEnded && !m.stop.keepConnection && m.device != "" {
		m.disconnect()
	}
	m.stopped = true
	if m.updates == nil {
		return
	}
	u := m.snapshot()
	if m.ctxEnded {
		select {
		case m.updates <- u:
		default:
		}
		return
	}
	select {
	case m.updates <- u:
	case <-m.ctx.Done():
	}
}

func (m *machine) deregister() {
	ctx, cancel := context.WithTimeout(m.ctx, m.deps.DisconnectTimeout)
	defer cancel()
	if _, err := m.admin.DIM(ctx, nvme.DIMDeregister, m.dimData); err != nil {
		m.log.Warn(fmt.Sprintf("%s | %s - Failed to deregister from Discovery Controller. %v", m.id, m.device, err))
		return
	}
	m.registered = false
	m.log.Info(fmt.Sprintf("%s | %s - Deregistered from Discovery Controller", m.id, m.device))
}

func (m *machine) disconnect() {
	m.log.Info(fmt.Sprintf("%s | %s - Disconnect initiated", m.id, m.device))
	if m.deps.Host == nil {
		m.lastError = errNoHost.Error()
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.deps.DisconnectTimeout)
	defer cancel()
	err := m.deps.Host.Disconnect(ctx, m.device)
	switch {
	case err == nil:
	case errors.Is(err, fabrics.ErrNoController):
		m.log.Debug(fmt.Sprintf("%s | %s - Already gone", m.id, m.device))
	default:
		m.lastError = err.Error()
		m.log.Error(fmt.Sprintf("%s | %s - Failed to disconnect. %v", m.id, m.device, err))
		return
	}
	m.device, m.adopted = "", false
}

// --- snapshot --------------------------------------------------------------------------

func (m *machine) snapshot() Update {
	p := m.c.params
	u := Update{
		From:          m.c,
		TID:           p.TID,
		Role:          p.Role,
		Device:        m.device,
		Connected:     m.device != "",
		Adopted:       m.adopted,
		Connecting:    m.running == taskConnect,
		Attempts:      m.attempts,
		RetryInterval: m.connectInterval,
		GaveUp:        m.gaveUp,
		LastError:     m.lastError,
		Stopped:       m.stopped,
	}
	if m.timerC != nil && m.timerTask == taskConnect {
		u.RetryAt = m.timerAt
	}
	if !m.isDC() {
		u.NCC = m.ncc
		return u
	}
	u.Identified, u.Identity = m.identified, m.identity
	u.Registered = m.registered
	u.DiscoveryOptions, u.LSP = m.dlpOptions, m.lsp
	u.Identify = m.steps[taskIdentify]
	u.Register = m.steps[taskRegister]
	u.Supported = m.steps[taskSupported]
	u.LogPage = m.steps[taskLog]
	u.LogPages, u.GenCtr, u.LogFetched = m.logPages, m.genCtr, m.logFetched
	return u
}
