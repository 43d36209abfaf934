// SPDX-License-Identifier: Apache-2.0

package cdcsim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/version"
)

// Defaults of a Config.
const (
	// DefaultInCapsuleDataSize is the in-capsule data an admin queue takes: NVMe/TCP
	// fixes the admin queue's command capsule at 8 KiB of data (NVME_TCP_ADMIN_CCSZ),
	// which is what the Linux host assumes whatever IOCCSZ says.
	DefaultInCapsuleDataSize = 8192
	// DefaultMaxH2CData is the MAXH2CDATA of the ICResp, nvmet-tcp's value (4 MiB).
	DefaultMaxH2CData = 0x400000
	// DefaultMaxC2HData is the largest C2HData PDU the simulator sends; longer
	// transfers are split (nvmet sends one PDU, which the host handles either way).
	DefaultMaxC2HData = 1 << 20
	// DefaultDiscoveryKATO is the keep-alive timeout of a host that connects with KATO 0:
	// nvmet's NVMET_DISC_KATO_MS, so an idle one-shot discovery connection is dropped.
	DefaultDiscoveryKATO = 120 * time.Second
	// DefaultICReqTimeout bounds the wait for a new connection's ICReq.
	DefaultICReqTimeout = 10 * time.Second
	// DefaultModelNumber is the Identify model number.
	DefaultModelNumber = "nvme-stas-go cdcsim"
	// DefaultSerialNumber is the Identify serial number.
	DefaultSerialNumber = "CDCSIM0001"
	// maxWriteData bounds host-to-controller data fetched with R2T (DIM needs ~2 KiB).
	maxWriteData = 1 << 20
	// maxReadData bounds one controller-to-host transfer (a 10,000-entry log is ~10 MiB).
	maxReadData = 64 << 20
)

// Errors returned by New and the controls.
var (
	// ErrInvalidConfig means a Config or configuration file cannot be used.
	ErrInvalidConfig = errors.New("invalid simulator configuration")
	// ErrClosed means the simulator was closed.
	ErrClosed = errors.New("simulator closed")
)

// Config describes a simulated discovery controller. The zero value (with entries added
// later) is a CDC answering to the well-known discovery NQN.
type Config struct {
	// NQN is the controller's subsystem NQN, reported by Identify (TP8013 unique
	// discovery NQN). Connect accepts it and the well-known discovery NQN. Empty means
	// the well-known discovery NQN.
	NQN string
	// DCType is reported by Identify; nvme.DCTypeNone also makes the controller refuse
	// DIM with Invalid Command Opcode, as nvmet does. The zero value is DCTypeNone, so
	// set it to nvme.DCTypeCDC for a CDC.
	DCType nvme.DiscoveryControllerType
	// Entries is the initial content of the discovery log. The simulator serves them
	// byte for byte as nvme.Entry encodes them, hostile text included.
	Entries []nvme.Entry
	// GenCtr is the initial generation counter.
	GenCtr uint64
	// SerialNumber, ModelNumber and FirmwareRevision fill Identify (defaults above and
	// the first 8 bytes of internal/version).
	SerialNumber, ModelNumber, FirmwareRevision string
	// NoDiscoveryChangeNotices clears OAES bit 31: the host will not enable, and the
	// simulator will not send, discovery-change AENs.
	NoDiscoveryChangeNotices bool
	// DiscoveryLogOptions is the LIDSP of LID 0x70 in the Supported Log Pages log.
	DiscoveryLogOptions nvme.DiscoveryLogOptions
	// InCapsuleDataSize is the most in-capsule data a command capsule may carry
	// (0: DefaultInCapsuleDataSize); it also sets Identify IOCCSZ. More data must come
	// through R2T. The Linux host sends up to 8 KiB in the capsule on the admin queue
	// whatever IOCCSZ says (NVMe/TCP fixes the admin capsule size), so a smaller value
	// makes the simulator refuse such capsules with a C2HTermReq (Data Transfer Limit
	// Exceeded): a way to test that, not to force R2T.
	InCapsuleDataSize uint32
	// MaxH2CData is the ICResp MAXH2CDATA (0: DefaultMaxH2CData; at least 4096, a
	// multiple of 4).
	MaxH2CData uint32
	// MaxC2HData is the largest C2HData PDU (0: DefaultMaxC2HData).
	MaxC2HData uint32
	// DiscoveryKATO is the keep-alive timeout of hosts that connect with KATO 0
	// (0: DefaultDiscoveryKATO; negative: none).
	DiscoveryKATO time.Duration
	// ICReqTimeout bounds the wait for the ICReq (0: DefaultICReqTimeout).
	ICReqTimeout time.Duration
	// Logger receives the simulator's log; nil discards it.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.NQN == "" {
		d.NQN = nqn.WellKnownDiscovery
	}
	if len(d.NQN) > nqn.MaxLen {
		return d, fmt.Errorf("%w: nqn %q is longer than %d bytes", ErrInvalidConfig, d.NQN, nqn.MaxLen)
	}
	if d.InCapsuleDataSize == 0 {
		d.InCapsuleDataSize = DefaultInCapsuleDataSize
	}
	if d.MaxH2CData == 0 {
		d.MaxH2CData = DefaultMaxH2CData
	}
	if d.MaxH2CData < minMaxH2CData || d.MaxH2CData%4 != 0 {
		return d, fmt.Errorf("%w: MaxH2CData %d must be a multiple of 4 of at least %d", ErrInvalidConfig, d.MaxH2CData, minMaxH2CData)
	}
	if d.MaxC2HData == 0 {
		d.MaxC2HData = DefaultMaxC2HData
	}
	if d.DiscoveryKATO == 0 {
		d.DiscoveryKATO = DefaultDiscoveryKATO
	}
	if d.ICReqTimeout <= 0 {
		d.ICReqTimeout = DefaultICReqTimeout
	}
	if d.SerialNumber == "" {
		d.SerialNumber = DefaultSerialNumber
	}
	if d.ModelNumber == "" {
		d.ModelNumber = DefaultModelNumber
	}
	if d.FirmwareRevision == "" {
		d.FirmwareRevision = firmwareRevision()
	}
	id := d.identify(0)
	if _, err := id.MarshalBinary(); err != nil {
		return d, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return d, nil
}

// Identify values (nvmet's where it has one).
const (
	controllerVersion    = nvme.Version(0x00010300) // 1.3, nvmet's discovery subsystem
	keepAliveGranularity = 10                       // KAS: 1 s, in 100 ms units
	maxCmd               = 1024                     // MAXCMD, nvmet's queue size
	capMQES              = maxCmd - 1               // CAP.MQES, 0's based
	capTimeout           = 15                       // CAP.TO: 7.5 s, in 500 ms units (nvmet)
	capCSSNVM            = 1 << 37                  // CAP.CSS: NVM command set
)

// oaes returns the asynchronous events the controller supports.
func (c *Config) oaes() uint32 {
	if c.NoDiscoveryChangeNotices {
		return 0
	}
	return nvme.OAESDiscoveryLogChange
}

// identify returns the Identify Controller data of controller cntlid.
func (c *Config) identify(cntlid uint16) *nvme.IdentifyController {
	return &nvme.IdentifyController{
		SerialNumber:     c.SerialNumber,
		ModelNumber:      c.ModelNumber,
		FirmwareRevision: c.FirmwareRevision,
		MDTS:             0, // no limit, as nvmet
		CNTLID:           cntlid,
		Version:          controllerVersion,
		OAES:             c.oaes(),
		CntrlType:        nvme.ControllerTypeDiscovery,
		LPA:              nvme.LPAExtendedData,
		KAS:              keepAliveGranularity,
		MaxCmd:           maxCmd,
		// SGLs supported, and in-capsule data addressed by offset (as nvmet).
		SGLS:   1<<0 | 1<<20,
		SubNQN: c.NQN,
		IOCCSZ: (sqeLen + c.InCapsuleDataSize) / 16,
		IORCSZ: cqeLen / 16,
		MSDBD:  1,
		DCType: c.DCType,
	}
}

// firmwareRevision is the product version cut to the 8-byte FR field.
func firmwareRevision() string {
	v := version.Version
	if len(v) > 8 {
		v = v[:8]
	}
	return v
}

// Faults make the simulator misbehave. They apply to commands and connections from the
// moment they are set.
type Faults struct {
	// RefuseConnections resets new TCP connections as soon as they are accepted, before
	// the ICReq (the host sees the connection reset).
	RefuseConnections bool
	// ResponseDelay holds every PDU the controller sends for this long.
	ResponseDelay time.Duration
	// Unresponsive makes the controller read commands but never complete them, keep-alives
	// included ("never answer").
	Unresponsive bool
	// IgnoreKeepAlive swallows Keep Alive commands: no completion, and the keep-alive
	// timer is not reset, so the host is dropped after its KATO unless it sends other
	// commands.
	IgnoreKeepAlive bool
	// GenCtrChurn is the number of upcoming entry reads (Get Log Page of LID 0x70 at an
	// offset past the header) that each bump the generation counter, as if the log
	// changed while the host reads it in pieces. Each bump is a log change (an AEN may
	// follow).
	GenCtrChurn int
}

// Registration is what a host registered with DIM (TP8010).
type Registration struct {
	HostNQN string
	// HostID is the HOSTID attribute, as a lower-case UUID.
	HostID        string
	SymbolicName  string
	EntityName    string
	EntityVersion string
	TrType        nvme.TransportType
	AdrFam        nvme.AddressFamily
	// TrAddr is the address the host registered: the DIM entry's traddr, or, when that
	// is empty (libnvme leaves it empty), the host's address as seen on the socket.
	TrAddr  string
	TrSvcID string
	// Source is the host's address and port on the connection that registered.
	Source     netip.AddrPort
	CNTLID     uint16
	Registered time.Time
	Updated    time.Time
	// Data is the payload of the last register or update.
	Data nvme.DIMData
}

// Host is a host connected to the simulator (a Fabrics Connect that succeeded).
type Host struct {
	CNTLID  uint16
	HostNQN string
	// HostID is the host identifier of the connect data, as a lower-case UUID.
	HostID string
	// SubNQN is the NQN the host connected to.
	SubNQN string
	Remote netip.AddrPort
	// KATO is the keep-alive timeout in force (the Connect's, or DiscoveryKATO).
	KATO      time.Duration
	Connected time.Time
}

// logSnapshot is one version of the discovery log; never modified once published.
type logSnapshot struct {
	genctr  uint64
	entries []nvme.Entry
	page    []byte // header and entries, encoded
}

func newSnapshot(genctr uint64, entries []nvme.Entry) (*logSnapshot, error) {
	l := nvme.DiscoveryLog{GenCtr: genctr, Entries: entries}
	page, err := l.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &logSnapshot{genctr: genctr, entries: entries, page: page}, nil
}

// Simulator is a discovery controller serving any number of listeners and connections.
// Its methods are safe for concurrent use.
type Simulator struct {
	cfg Config
	log *slog.Logger

	snap     atomic.Pointer[logSnapshot]
	changeMu sync.Mutex // serializes log changes; held while encoding, never by readers

	mu         sync.Mutex // guards the fields below; never held across I/O or a blocking send
	regs       map[string]Registration
	hosts      map[uint16]Host
	ctrls      map[*controller]struct{}
	listeners  map[net.Listener]struct{}
	faults     Faults
	nextCNTLID uint16
	closed     bool
	events     []Event
	evStart    int
	evSeq      uint64
	evWake     chan struct{}

	done chan struct{} // closed by Close
	wg   sync.WaitGroup
}

// New returns a simulator for cfg. Serve it on a listener.
func New(cfg Config) (*Simulator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	snap, err := newSnapshot(c.GenCtr, slices.Clone(c.Entries))
	if err != nil {
		return nil, err
	}
	s := &Simulator{
		cfg:       c,
		log:       c.Logger,
		regs:      map[string]Registration{},
		hosts:     map[uint16]Host{},
		ctrls:     map[*controller]struct{}{},
		listeners: map[net.Listener]struct{}{},
		evWake:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.snap.Store(snap)
	return s, nil
}

// NQN returns the controller's subsystem NQN.
func (s *Simulator) NQN() string { return s.cfg.NQN }

// Serve accepts connections on l and serves each until Close. It returns nil after
// Close, or the accept error that stopped it. Several listeners may be served at once.
func (s *Simulator) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	s.log.Info("serving", "addr", l.Addr().String(), "nqn", s.cfg.NQN, "dctype", s.cfg.DCType.String())
	for {
		nc, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept on %s: %w", l.Addr(), err)
		}
		s.ServeConn(nc)
	}
}

// ServeConn serves one established connection (for example one end of a net.Pipe) in
// the background; it returns at once.
func (s *Simulator) ServeConn(nc net.Conn) {
	remote := addrPortOf(nc.RemoteAddr())
	if s.Faults().RefuseConnections {
		s.record(Event{Kind: EventRefused, Remote: remote})
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with a reset
		}
		_ = nc.Close()
		return
	}
	c := newController(s, nc, remote)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.ctrls[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.record(Event{Kind: EventAccepted, Remote: remote})
	go func() {
		defer s.wg.Done()
		c.run()
	}()
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// Close stops every listener and connection and waits for them to finish.
func (s *Simulator) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var ls []net.Listener
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		_ = l.Close()
	}
	s.wg.Wait()
	return nil
}

// DropConnections closes every current connection at once, without a word to the
// hosts, and returns how many there were.
func (s *Simulator) DropConnections() int {
	s.mu.Lock()
	cs := make([]*controller, 0, len(s.ctrls))
	for c := range s.ctrls {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.kill("dropped by the test")
	}
	return len(cs)
}

// SetFaults replaces the faults in force.
func (s *Simulator) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the faults in force.
func (s *Simulator) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// takeChurn consumes one GenCtrChurn unit and reports whether there was one.
func (s *Simulator) takeChurn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.GenCtrChurn <= 0 {
		return false
	}
	s.faults.GenCtrChurn--
	return true
}

// GenCtr returns the current generation counter.
func (s *Simulator) GenCtr() uint64 { return s.snap.Load().genctr }

// Entries returns a copy of the current log entries.
func (s *Simulator) Entries() []nvme.Entry { return slices.Clone(s.snap.Load().entries) }

// SetEntries replaces the log entries; like every change it bumps the generation counter
// and sends the discovery-change AEN to the hosts that armed it. It returns the new
// generation counter. An entry whose text does not fit its field is an error and
// changes nothing.
func (s *Simulator) SetEntries(entries []nvme.Entry) (uint64, error) {
	return s.change(func([]nvme.Entry) []nvme.Entry { return slices.Clone(entries) })
}

// AddEntries appends entries to the log (see SetEntries).
func (s *Simulator) AddEntries(entries ...nvme.Entry) (uint64, error) {
	return s.change(func(cur []nvme.Entry) []nvme.Entry { return append(cur, entries...) })
}

// RemoveEntries removes the entries match accepts (see SetEntries) and returns how many
// it removed.
func (s *Simulator) RemoveEntries(match func(nvme.Entry) bool) (int, uint64, error) {
	removed := 0
	gen, err := s.change(func(cur []nvme.Entry) []nvme.Entry {
		out := cur[:0]
		for _, e := range cur {
			if match(e) {
				removed++
				continue
			}
			out = append(out, e)
		}
		return out
	})
	return removed, gen, err
}

// BumpGenCtr bumps the generation counter without changing the entries (a log change
// as far as hosts can tell).
func (s *Simulator) BumpGenCtr() uint64 {
	gen, _ := s.change(func(cur []nvme.Entry) []nvme.Entry { return cur })
	return gen
}

// change publishes a new snapshot made by mutate from a copy of the current entries,
// with the next generation counter, and tells every controller.
func (s *Simulator) change(mutate func([]nvme.Entry) []nvme.Entry) (uint64, error) {
	s.changeMu.Lock()
	old := s.snap.Load()
	snap, err := newSnapshot(old.genctr+1, mutate(slices.Clone(old.entries)))
	if err != nil {
		s.changeMu.Unlock()
		return old.genctr, err
	}
	s.snap.Store(snap)
	s.changeMu.Unlock()
	s.log.Info("discovery log changed", "genctr", snap.genctr, "entries", len(snap.entries))
	s.mu.Lock()
	for c := range s.ctrls {
		c.notifyLogChange()
	}
	s.mu.Unlock()
	return snap.genctr, nil
}

// Registrations returns the hosts registered with DIM, sorted by host NQN.
func (s *Simulator) Registrations() []Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Registration, 0, len(s.regs))
	for _, r := range s.regs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Registration) int { return strings.Compare(a.HostNQN, b.HostNQN) })
	return out
}

// Registration returns the registration of hostNQN.
func (s *Simulator) Registration(hostNQN string) (Registration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.regs[hostNQN]
	return r, ok
}

// Hosts returns the connected hosts, sorted by controller ID.
func (s *Simulator) Hosts() []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Host, 0, len(s.hosts))
	for _, h := range s.hosts {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Host) int { return int(a.CNTLID) - int(b.CNTLID) })
	return out
}

// addHost records a connected host under a new controller ID and returns it.
func (s *Simulator) addHost(h Host) Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		// Controller IDs 1..0xffef; 0xfff0 and up are reserved.
		s.nextCNTLID = s.nextCNTLID%0xffef + 1
		if _, used := s.hosts[s.nextCNTLID]; !used {
			break
		}
	}
	h.CNTLID = s.nextCNTLID
	s.hosts[h.CNTLID] = h
	return h
}

// updateHost replaces the record of a connected host.
func (s *Simulator) updateHost(h Host) {
	s.mu.Lock()
	if _, ok := s.hosts[h.CNTLID]; ok {
		s.hosts[h.CNTLID] = h
	}
	s.mu.Unlock()
}

// removeController forgets a finished connection and its host.
func (s *Simulator) removeController(c *controller, cntlid uint16) {
	s.mu.Lock()
	delete(s.ctrls, c)
	if cntlid != 0 {
		delete(s.hosts, cntlid)
	}
	s.mu.Unlock()
}

// applyDIM performs a DIM task for a host and returns the completion status.
func (s *Simulator) applyDIM(task nvme.DIMTask, r Registration) nvme.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.regs[r.HostNQN]
	switch task {
	case nvme.DIMRegister:
		r.Registered, r.Updated = time.Now(), time.Now()
		s.regs[r.HostNQN] = r
	case nvme.DIMUpdate:
		if !exists {
			return statusInvalidDiscInfo
		}
		r.Registered, r.Updated = old.Registered, time.Now()
		s.regs[r.HostNQN] = r
	case nvme.DIMDeregister:
		// Deregistering a host that is not registered is not an error: the result
		// is what the host asked for.
		delete(s.regs, r.HostNQN)
	default:
		return statusInvalidField
	}
	return statusOK
}
