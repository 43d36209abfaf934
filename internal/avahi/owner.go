// SPDX-License-Identifier: Apache-2.0

package avahi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	goavahi "github.com/holoplot/go-avahi"

	"github.com/nvme-stas-go/stas/internal/tid"
)

// D-Bus names of avahi-daemon and of the bus.
const (
	avahiName     = "org.freedesktop.Avahi"
	ifaceServer   = avahiName + ".Server"
	ifaceBrowser  = avahiName + ".ServiceBrowser"
	ifaceResolver = avahiName + ".ServiceResolver"
	busName       = "org.freedesktop.DBus"
	domainLocal   = "local"

	sigNameOwnerChanged = busName + ".NameOwnerChanged"
	sigItemNew          = ifaceBrowser + ".ItemNew"
	sigItemRemove       = ifaceBrowser + ".ItemRemove"
	sigBrowserFailure   = ifaceBrowser + ".Failure"
	sigFound            = ifaceResolver + ".Found"
	sigResolverFailure  = ifaceResolver + ".Failure"
)

// owner is the state of one Run; only Run's goroutine touches it.
type owner struct {
	ctx     context.Context
	c       *Client
	log     *slog.Logger
	limit   *logLimiter
	stypes  []string
	records map[Key]*record

	avahiUp    bool // avahi-daemon has an owner on the bus, as last seen
	avahiKnown bool // whether avahiUp has been logged yet

	kickTimer    *time.Timer // nil: wake-up timer off
	kickDeadline time.Time

	results chan probeEvent
	probes  sync.WaitGroup
	seq     uint64
	dirty   bool // the services changed: notify on the next publish
}

// record is one service avahi-daemon reported.
type record struct {
	key        Key
	ifname     string
	resolver   dbus.ObjectPath // "" if it could not be created
	identified bool
	id         identity
	reachable  bool
	cancel     context.CancelFunc // of the running reachability check
	seq        uint64             // names the running reachability check
}

// generation is one bus connection and everything built on it; a loss or restart of
// avahi-daemon or of the bus ends it, and a new one is built.
type generation struct {
	conn     *dbus.Conn
	signals  chan *dbus.Signal
	server   *goavahi.Server
	avahi    string // avahi-daemon's unique name; "" while it is absent
	browsers map[string]*goavahi.ServiceBrowser
	stop     chan struct{} // stops the drainers
	drainers sync.WaitGroup
}

func newOwner(ctx context.Context, c *Client) *owner {
	return &owner{
		ctx:     ctx,
		c:       c,
		log:     c.log,
		limit:   newLogLimiter(c.logEvery),
		stypes:  c.initialTypes,
		records: make(map[Key]*record),
		results: make(chan probeEvent),
	}
}

// run connects, serves and rebuilds until the context is done.
func (o *owner) run() {
	failures := 0
	for o.ctx.Err() == nil {
		o.takeTypes()
		g, err := o.open()
		if err != nil {
			if o.ctx.Err() != nil {
				return
			}
			delay := delayAt(o.c.reconnectDelays, failures)
			if failures == 0 {
				o.log.Warn("cannot reach avahi-daemon's bus, mDNS discovery paused", "error", err, "retry_in", delay)
			} else {
				o.log.Debug("cannot reach avahi-daemon's bus", "error", err, "retry_in", delay)
			}
			failures++
			o.publish()
			o.wait(delay)
			continue
		}
		if failures > 0 {
			o.log.Info("reconnected to the system bus for mDNS discovery")
		}
		failures = 0
		o.serve(g)
		o.close(g)
	}
}

// shutdown frees what a Run leaves.
func (o *owner) shutdown() {
	o.forgetAll()
	o.stopKick()
	o.probes.Wait()
	o.publish()
}

// takeTypes applies a SetServiceTypes that came while no connection was up.
func (o *owner) takeTypes() {
	select {
	case types := <-o.c.stypes:
		o.stypes = cleanTypes(o.log, types)
	default:
	}
}

// wait sleeps before a reconnection; Kick cuts it short.
func (o *owner) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-t.C:
			return
		case <-o.c.kick:
			return
		case types := <-o.c.stypes:
			o.stypes = cleanTypes(o.log, types)
			o.publish()
		}
	}
}

// open starts a generation: a connection, the signal subscriptions (made before any
// browser exists, so that no event is missed), go-avahi's Server, and a look at whether
// avahi-daemon is there.
func (o *owner) open() (*generation, error) {
	conn, err := o.c.connect()
	if err == nil && conn == nil {
		err = errors.New("no connection returned")
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	g := &generation{
		conn:     conn,
		signals:  make(chan *dbus.Signal, 64),
		browsers: make(map[string]*goavahi.ServiceBrowser),
		stop:     make(chan struct{}),
	}
	conn.Signal(g.signals)
	fail := func(err error) (*generation, error) {
		conn.Close()
		return nil, err
	}
	rules := [][]dbus.MatchOption{
		{dbus.WithMatchSender(busName), dbus.WithMatchInterface(busName), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, avahiName)},
		{dbus.WithMatchSender(avahiName), dbus.WithMatchInterface(ifaceBrowser)},
		{dbus.WithMatchSender(avahiName), dbus.WithMatchInterface(ifaceResolver)},
	}
	for _, rule := range rules {
		ctx, cancel := context.WithTimeout(o.ctx, o.c.callTimeout)
		err := conn.AddMatchSignalContext(ctx, rule...)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("subscribe to avahi-daemon's signals: %w", err))
		}
	}
	o.guard(g, func() { g.server, err = goavahi.ServerNew(conn) })
	if err != nil {
		return fail(fmt.Errorf("create the avahi server object: %w", err))
	}
	owner, err := g.nameOwner(o.ctx, o.c.callTimeout)
	if err != nil {
		g.server.Close() // also closes conn
		return nil, fmt.Errorf("look up avahi-daemon on the bus: %w", err)
	}
	if owner == "" {
		o.avahiGone()
	} else {
		o.avahiAppeared(g, owner)
	}
	return g, nil
}

// nameOwner returns avahi-daemon's unique name, or "" if it has none.
func (g *generation) nameOwner(ctx context.Context, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var owner string
	err := g.conn.BusObject().CallWithContext(ctx, busName+".GetNameOwner", 0, avahiName).Store(&owner)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" {
		return "", nil
	}
	return owner, err
}

// close ends a generation. go-avahi's Close stops its dispatcher before freeing its
// browsers, so no signal can reach a freed browser; the drainers stop only after it, since
// the dispatcher may be sending to one of them until then. Closing the connection makes
// avahi-daemon free the resolvers too.
func (o *owner) close(g *generation) {
	o.forgetAll()
	o.guard(g, g.server.Close)
	close(g.stop)
	g.drainers.Wait()
	g.conn.Close()
	o.publish()
}

// guard runs f, a call into go-avahi, which takes no context: if f overruns the call
// timeout, or Run is stopped meanwhile, the connection is closed, which makes f return
// and the generation end.
func (o *owner) guard(g *generation, f func()) {
	t := time.AfterFunc(o.c.callTimeout, func() {
		o.log.Warn("avahi-daemon or the bus did not answer in time, reconnecting", "timeout", o.c.callTimeout)
		g.conn.Close()
	})
	defer t.Stop()
	stop := context.AfterFunc(o.ctx, func() { g.conn.Close() })
	defer stop()
	f()
}

// serve handles a generation's events until it must end.
func (o *owner) serve(g *generation) {
	for {
		o.publish()
		select {
		case <-o.ctx.Done():
			return
		case <-g.conn.Context().Done():
			o.log.Warn("lost the connection to the system bus, mDNS services forgotten; reconnecting")
			return
		case sig, ok := <-g.signals:
			if !ok {
				o.log.Warn("lost the connection to the system bus, mDNS services forgotten; reconnecting")
				return
			}
			if o.handleSignal(g, sig) {
				return
			}
		case ev := <-o.results:
			o.handleProbe(ev)
		case types := <-o.c.stypes:
			if o.setTypes(g, types) {
				return
			}
		case <-o.c.kick:
			if o.kickTimer != nil {
				o.fireKick(g)
			}
		case <-o.kickC():
			o.fireKick(g)
		}
	}
}

// handleSignal acts on one signal; it reports whether the generation must end.
func (o *owner) handleSignal(g *generation, sig *dbus.Signal) bool {
	if sig.Name == sigNameOwnerChanged {
		return o.ownerChanged(g, sig)
	}
	if !strings.HasPrefix(sig.Name, avahiName+".") {
		return false
	}
	// Any local process may send a directed signal to us on the system bus; only
	// avahi-daemon's are believed.
	if g.avahi == "" || sig.Sender != g.avahi {
		o.logLimited(slog.LevelWarn, "sender "+sig.Sender, fmt.Sprintf("ignored %s signal not sent by avahi-daemon (sender %s)", clean(sig.Name), clean(sig.Sender)))
		return false
	}
	switch sig.Name {
	case sigItemNew:
		o.itemNew(g, sig)
	case sigItemRemove:
		o.itemRemove(g, sig)
	case sigFound:
		o.found(sig)
	case sigBrowserFailure, sigResolverFailure:
		o.failure(sig)
	}
	return false
}

// ownerChanged follows avahi-daemon coming, going and being replaced.
func (o *owner) ownerChanged(g *generation, sig *dbus.Signal) bool {
	var name, oldOwner, newOwner string
	if sig.Sender != busName || dbus.Store(sig.Body, &name, &oldOwner, &newOwner) != nil || name != avahiName {
		return false
	}
	switch {
	case newOwner == "":
		if g.avahi == "" {
			return false
		}
		o.avahiGone()
		return true
	case g.avahi == "":
		o.avahiAppeared(g, newOwner)
	case newOwner != g.avahi:
		o.log.Info("avahi-daemon restarted, rebuilding mDNS discovery")
		return true
	}
	return false
}

func (o *owner) avahiGone() {
	if o.avahiUp || !o.avahiKnown {
		o.log.Warn("avahi-daemon not available, zeroconf not supported.")
	}
	o.avahiUp, o.avahiKnown = false, true
	o.startKick()
}

func (o *owner) avahiAppeared(g *generation, owner string) {
	g.avahi = owner
	if !o.avahiUp {
		o.log.Info("avahi-daemon service available, zeroconf supported.")
	}
	o.avahiUp, o.avahiKnown = true, true
	o.stopKick()
	o.configureBrowsers(g)
}

// configureBrowsers creates the missing browsers.
func (o *owner) configureBrowsers(g *generation) {
	for _, stype := range o.stypes {
		if _, ok := g.browsers[stype]; ok {
			continue
		}
		var b *goavahi.ServiceBrowser
		var err error
		o.guard(g, func() {
			b, err = g.server.ServiceBrowserNew(goavahi.InterfaceUnspec, goavahi.ProtoUnspec, stype, domainLocal, goavahi.LookupUseMulticast)
		})
		if err != nil {
			o.log.Debug("create service browser", "stype", stype, "error", err)
			o.log.Warn("avahi-daemon not available, operating w/o mDNS discovery.")
			o.startKick()
			return
		}
		o.log.Debug("browsing mDNS services", "stype", stype)
		g.browsers[stype] = b
		g.drain(b)
	}
}

// drain empties b's channels so that go-avahi's dispatcher never blocks on them (it
// holds its lock while it sends). The values are dropped: the events are read from this
// package's own sender-checked subscription instead.
func (g *generation) drain(b *goavahi.ServiceBrowser) {
	g.drainers.Add(1)
	go func() {
		defer g.drainers.Done()
		for {
			select {
			case _, ok := <-b.AddChannel:
				if !ok {
					return
				}
			case _, ok := <-b.RemoveChannel:
				if !ok {
					return
				}
			case <-g.stop:
				return
			}
		}
	}()
}

// setTypes applies SetServiceTypes; it reports whether the generation must be rebuilt,
// which is how a browser is freed (go-avahi's ServiceBrowserFree has the same race as its
// resolver free; its Close has not).
func (o *owner) setTypes(g *generation, types []string) bool {
	o.stypes = cleanTypes(o.log, types)
	for stype := range g.browsers {
		if !slices.Contains(o.stypes, stype) {
			o.log.Debug("mDNS service type removed, rebuilding", "stype", stype)
			return true
		}
	}
	if g.avahi != "" {
		o.configureBrowsers(g)
	}
	return false
}

// cleanTypes drops empty, duplicate and malformed service types (log may be nil).
func cleanTypes(log *slog.Logger, types []string) []string {
	out := []string{}
	for _, t := range types {
		ok := len(t) <= 63 && strings.HasPrefix(t, "_") && (strings.HasSuffix(t, "._tcp") || strings.HasSuffix(t, "._udp")) &&
			printableASCII([]byte(t)) && !strings.ContainsAny(t, " ,")
		if !ok {
			if log != nil {
				log.Warn("invalid mDNS service type ignored", "stype", clean(t))
			}
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (o *owner) kickC() <-chan time.Time {
	if o.kickTimer == nil {
		return nil
	}
	return o.kickTimer.C
}

func (o *owner) startKick() {
	if o.kickTimer != nil {
		return
	}
	o.kickTimer = time.NewTimer(o.c.kickInterval)
	o.kickDeadline = time.Now().Add(o.c.kickInterval)
}

func (o *owner) stopKick() {
	if o.kickTimer != nil {
		o.kickTimer.Stop()
		o.kickTimer = nil
	}
}

// fireKick is the wake-up call: GetVersionString makes the bus start avahi-daemon if it
// is activatable. The timer repeats until the call succeeds.
func (o *owner) fireKick(g *generation) {
	o.kickTimer.Stop()
	var err error
	o.guard(g, func() { _, err = g.server.GetVersionString() })
	if err != nil {
		o.log.Debug("avahi-daemon wake-up call failed", "error", err)
		o.kickTimer.Reset(o.c.kickInterval)
		o.kickDeadline = time.Now().Add(o.c.kickInterval)
		return
	}
	o.log.Debug("avahi-daemon answered the wake-up call")
	o.stopKick()
	if g.avahi != "" {
		o.configureBrowsers(g) // retry the browsers that failed
	}
}

// itemNew starts following a service: a resolver, kept until the service is removed, so
// that later changes of address or TXT arrive as more Found signals.
func (o *owner) itemNew(g *generation, sig *dbus.Signal) {
	var k Key
	var flags uint32
	if err := dbus.Store(sig.Body, &k.Interface, &k.Protocol, &k.Name, &k.Type, &k.Domain, &flags); err != nil {
		o.log.Debug("malformed ItemNew ignored", "error", err)
		return
	}
	if _, ok := g.browsers[k.Type]; !ok {
		return
	}
	if _, ok := o.records[k]; ok {
		return
	}
	subject := serviceSubject(k)
	if len(o.records) >= maxServices {
		o.logLimited(slog.LevelWarn, "too many", fmt.Sprintf("more than %d mDNS services, ignoring more", maxServices))
		return
	}
	ifname, err := o.c.ifaceName(int(k.Interface))
	if err == nil && !validIfname(ifname) {
		err = fmt.Errorf("unusable interface name %s", clean(ifname))
	}
	if err != nil {
		o.logLimited(slog.LevelWarn, subject, fmt.Sprintf("mDNS service on unknown interface %d ignored: %s: %v", k.Interface, subject, err))
		return
	}
	rec := &record{key: k, ifname: ifname}
	o.log.Debug("mDNS service discovered", "service", infoKey(ifname, k), "flags", flags)
	path, err := g.newResolver(o.ctx, o.c.callTimeout, k)
	if err != nil {
		// Kept, as nvme-stas does, so that its ItemRemove is recognised.
		o.logLimited(slog.LevelWarn, subject, fmt.Sprintf("Failed to create resolver - %s: %v", infoKey(ifname, k), err))
	} else {
		rec.resolver = path
	}
	o.records[k] = rec
}

// newResolver creates a resolver for k at avahi-daemon's unique name, so that a
// different avahi-daemon instance is never asked.
func (g *generation) newResolver(ctx context.Context, timeout time.Duration, k Key) (dbus.ObjectPath, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var path dbus.ObjectPath
	err := g.conn.Object(g.avahi, "/").CallWithContext(ctx, ifaceServer+".ServiceResolverNew", 0,
		k.Interface, k.Protocol, k.Name, k.Type, k.Domain, int32(goavahi.ProtoUnspec), uint32(goavahi.LookupUseMulticast)).Store(&path)
	return path, err
}

// freeResolver frees a resolver; a failure only costs avahi-daemon an object until this
// connection closes.
func (g *generation) freeResolver(ctx context.Context, timeout time.Duration, path dbus.ObjectPath, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := g.conn.Object(g.avahi, path).CallWithContext(ctx, ifaceResolver+".Free", 0).Err; err != nil {
		log.Debug("free resolver", "path", path, "error", err)
	}
}

// itemRemove forgets a withdrawn service.
func (o *owner) itemRemove(g *generation, sig *dbus.Signal) {
	var k Key
	var flags uint32
	if err := dbus.Store(sig.Body, &k.Interface, &k.Protocol, &k.Name, &k.Type, &k.Domain, &flags); err != nil {
		o.log.Debug("malformed ItemRemove ignored", "error", err)
		return
	}
	rec, ok := o.records[k]
	if !ok {
		return
	}
	o.log.Debug("mDNS service removed", "service", infoKey(rec.ifname, k))
	o.stopProbe(rec)
	delete(o.records, k)
	if rec.resolver != "" {
		g.freeResolver(o.ctx, o.c.callTimeout, rec.resolver, o.log)
	}
	o.dirty = true
}

// found identifies a resolved service and starts its reachability check.
func (o *owner) found(sig *dbus.Signal) {
	var r resolved
	if err := dbus.Store(sig.Body, &r.Interface, &r.Protocol, &r.Name, &r.Type, &r.Domain, &r.Host,
		&r.Aprotocol, &r.Address, &r.Port, &r.TXT, &r.Flags); err != nil {
		o.log.Debug("malformed Found ignored", "error", err)
		return
	}
	k := Key{r.Interface, r.Protocol, r.Name, r.Type, r.Domain}
	rec, ok := o.records[k]
	if !ok || rec.resolver == "" || rec.resolver != sig.Path {
		return // a resolver freed meanwhile, or not ours
	}
	id, err := identify(r, rec.ifname, o.c.tp8013)
	if err != nil {
		o.logLimited(slog.LevelError, serviceSubject(k), err.Error())
		if rec.identified {
			// The announcement is no longer usable: the service is no longer a DC.
			if rec.reachable {
				o.dirty = true
			}
			o.stopProbe(rec)
			rec.identified, rec.reachable, rec.id = false, false, identity{}
		}
		return
	}
	o.log.Debug("mDNS service identified", "service", infoKey(rec.ifname, k), "controller", id.tid.String(), "host", clean(r.Host))
	if rec.identified && rec.id == id {
		return // a refresh: keep the reachability state
	}
	if rec.reachable {
		o.dirty = true
	}
	o.stopProbe(rec)
	rec.identified, rec.id, rec.reachable = true, id, false
	if id.tid.Transport == tid.TCP {
		o.startProbe(rec)
	} else {
		rec.reachable = true
		o.dirty = true
	}
	o.checkDuplicateIP(rec)
}

// checkDuplicateIP flags a misconfigured network where rec's address is seen on several
// interfaces (each interface named once, unlike nvme-stas, which repeats an interface
// seen over both IPv4 and IPv6).
func (o *owner) checkDuplicateIP(rec *record) {
	addr := rec.id.addr.Addr()
	var ifnames []string
	for _, r := range o.records {
		if r.identified && r.id.addr.Addr() == addr && !slices.Contains(ifnames, r.ifname) {
			ifnames = append(ifnames, r.ifname)
		}
	}
	if len(ifnames) > 1 {
		slices.Sort(ifnames)
		o.logLimited(slog.LevelError, "ip "+addr.String(),
			fmt.Sprintf("IP address %s was found on multiple interfaces: %s", addr, strings.Join(ifnames, ",")))
	}
}

// failure logs a browser or resolver failure. A resolver timeout is routine (it also
// comes after a Free) and, as in nvme-stas, not logged.
func (o *owner) failure(sig *dbus.Signal) {
	var text string
	if err := dbus.Store(sig.Body, &text); err != nil {
		o.log.Debug("malformed Failure ignored", "error", err)
		return
	}
	iface := strings.TrimSuffix(sig.Name, ".Failure")
	if iface == ifaceResolver && strings.Contains(text, "TimeoutError") {
		return
	}
	o.logLimited(slog.LevelError, "path "+string(sig.Path),
		fmt.Sprintf("Avahi failure - name=%s, path=%s, error=%s", iface, clean(string(sig.Path)), clean(text)))
}

// startProbe starts rec's reachability check.
func (o *owner) startProbe(rec *record) {
	o.seq++
	rec.seq = o.seq
	ctx, cancel := context.WithCancel(o.ctx)
	rec.cancel = cancel
	k, seq, iface, addr := rec.key, rec.seq, rec.id.tid.HostIface, rec.id.addr
	o.probes.Add(1)
	go func() {
		defer o.probes.Done()
		probe(ctx, o.c.dial, o.c.probeDelays, iface, addr, func(err error) {
			select {
			case o.results <- probeEvent{key: k, seq: seq, err: err}:
			case <-ctx.Done():
			}
		})
	}()
}

func (o *owner) stopProbe(rec *record) {
	if rec.cancel != nil {
		rec.cancel()
		rec.cancel = nil
	}
}

// handleProbe takes a reachability check's report.
func (o *owner) handleProbe(ev probeEvent) {
	rec, ok := o.records[ev.key]
	if !ok || rec.cancel == nil || rec.seq != ev.seq {
		return // the check was cancelled meanwhile
	}
	if ev.err != nil {
		a := rec.id.addr
		o.logLimited(slog.LevelInfo, serviceSubject(rec.key),
			fmt.Sprintf("Unable to verify TCP connectivity - (%s, %s, %d): %v", rec.id.tid.HostIface, a.Addr(), a.Port(), ev.err))
		return
	}
	o.log.Debug("mDNS service reachable", "controller", rec.id.tid.String())
	o.stopProbe(rec)
	rec.reachable = true
	o.dirty = true
}

// forgetAll drops every service, without a change notification (see Changes).
func (o *owner) forgetAll() {
	for _, rec := range o.records {
		o.stopProbe(rec)
	}
	clear(o.records)
}

// logLimited logs text about subject unless the same line was logged recently.
func (o *owner) logLimited(level slog.Level, subject, text string) {
	if o.limit.allow(subject, text) {
		o.log.Log(context.Background(), level, text)
	}
}

// publish stores a snapshot for the other methods, and notifies a change if there is one.
func (o *owner) publish() {
	s := &snapshot{
		stypes:       slices.Clone(o.stypes),
		info:         make(map[string]map[string]string, len(o.records)),
		kickInterval: o.c.kickInterval,
		kickRunning:  o.kickTimer != nil,
		kickDeadline: o.kickDeadline,
	}
	for k, rec := range o.records {
		entry := map[string]string{"reachable": pyBool(rec.reachable)}
		if rec.identified {
			t := rec.id.tid
			entry[tid.KeyTransport] = t.Transport
			entry[tid.KeyTraddr] = t.Traddr
			entry[tid.KeyTrsvcid] = t.Trsvcid
			entry[tid.KeyHostIface] = t.HostIface
			entry[tid.KeySubsysNQN] = t.SubsysNQN
			if rec.reachable {
				s.services = append(s.services, Service{Key: k, Iface: rec.ifname, TID: t})
			}
		}
		s.info[infoKey(rec.ifname, k)] = entry
	}
	slices.SortFunc(s.services, func(a, b Service) int { return compareKeys(a.Key, b.Key) })
	o.c.snap.Store(s)
	if o.dirty {
		o.dirty = false
		select {
		case o.c.changes <- struct{}{}:
		default:
		}
	}
}

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Domain, b.Domain))
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// protocolName spells an avahi protocol as nvme-stas does (with "unspecified" for its
// "uspecified" typo; avahi never reports a service over it).
func protocolName(p int32) string {
	switch p {
	case goavahi.ProtoInet:
		return "IPv4"
	case goavahi.ProtoInet6:
		return "IPv6"
	case goavahi.ProtoUnspec:
		return "unspecified"
	}
	return "unknown"
}

// infoKey is nvme-stas's name of a service in process_info:
// "(<iface>, IPv4|IPv6, <name>.<domain>, <stype>)".
func infoKey(ifname string, k Key) string {
	return fmt.Sprintf("(%s, %s, %s.%s, %s)", ifname, protocolName(k.Protocol), k.Name, k.Domain, k.Type)
}

// serviceSubject names a service for the log limiter and in log lines, escaped.
func serviceSubject(k Key) string {
	return fmt.Sprintf("(%d, %s, %s.%s, %s)", k.Interface, protocolName(k.Protocol), clean(k.Name), clean(k.Domain), clean(k.Type))
}
