// SPDX-License-Identifier: Apache-2.0

// Package fabrics owns the text protocol of the kernel's /dev/nvme-fabrics device: the
// typed, validated option string that creates a controller, the list of options the
// running kernel supports, the reply to a successful write, the meaning of the errno of a
// failed one, and the sysfs "address" attribute of a fabrics controller.
//
// The option string, the reply and the errno mapping are pure logic; Kernel does the I/O.
package fabrics

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// MaxOptionsLen is the longest option string the kernel takes in one write (PAGE_SIZE on
// x86-64; a longer write fails with ENOMEM). Build refuses longer strings.
const MaxOptionsLen = 4096

// Default TCP ports. The kernel's nvme-tcp uses 8009 when trsvcid is left out, for I/O
// controllers too, so Build fills in the right one itself.
const (
	DefaultTCPIOPort        = "4420"
	DefaultTCPDiscoveryPort = "8009"
)

// Transport is the kernel's name of an NVMe-oF transport.
type Transport string

// The transports /dev/nvme-fabrics knows.
const (
	TransportTCP  Transport = "tcp"
	TransportRDMA Transport = "rdma"
	TransportFC   Transport = "fc"
	TransportLoop Transport = "loop"
)

// Kernel option names, as the kernel's option table and its supported-option list spell
// them.
const (
	OptTransport        = "transport"
	OptTrAddr           = "traddr"
	OptTrSvcID          = "trsvcid"
	OptNQN              = "nqn"
	OptQueueSize        = "queue_size"
	OptNrIOQueues       = "nr_io_queues"
	OptReconnectDelay   = "reconnect_delay"
	OptCtrlLossTmo      = "ctrl_loss_tmo"
	OptKeepAliveTmo     = "keep_alive_tmo"
	OptHostNQN          = "hostnqn"
	OptHostTrAddr       = "host_traddr"
	OptHostIface        = "host_iface"
	OptHostID           = "hostid"
	OptDuplicateConnect = "duplicate_connect"
	OptDisableSQFlow    = "disable_sqflow"
	OptHdrDigest        = "hdr_digest"
	OptDataDigest       = "data_digest"
	OptNrWriteQueues    = "nr_write_queues"
	OptNrPollQueues     = "nr_poll_queues"
	OptTOS              = "tos"
	OptKeyring          = "keyring"
	OptTLSKey           = "tls_key"
	OptFastIOFailTmo    = "fast_io_fail_tmo"
	OptDiscovery        = "discovery"
	OptDHCHAPSecret     = "dhchap_secret"
	OptDHCHAPCtrlSecret = "dhchap_ctrl_secret"
	OptTLS              = "tls"
	OptConcat           = "concat"
)

// Int is an integer option that may be unset. The zero value is unset and leaves the
// kernel's default in force, which differs from 0 for several options: keep_alive_tmo=0
// turns keep-alive off, tos=0 is a real type of service, fast_io_fail_tmo=0 fails I/O at
// once.
type Int struct {
	value int
	set   bool
}

// IntOf returns an Int set to v.
func IntOf(v int) Int { return Int{value: v, set: true} }

// Get returns the value and whether it is set.
func (i Int) Get() (int, bool) { return i.value, i.set }

// IsSet reports whether the option is set.
func (i Int) IsSet() bool { return i.set }

// String returns the value in decimal, or "unset".
func (i Int) String() string {
	if !i.set {
		return "unset"
	}
	return strconv.Itoa(i.value)
}

// Options is everything a controller can be created with. Text fields left empty (or set
// to "none", as libnvme treats it) and unset Int fields are left out of the option string.
type Options struct {
	Transport Transport
	// TrAddr is an IP literal for tcp and rdma (no zone: a link-local address takes its
	// interface from HostIface), nn-0x…:pn-0x… for fc, and optional free text for loop.
	TrAddr string
	// TrSvcID is the decimal port for tcp and rdma. Left empty for tcp, Build writes 4420
	// for an I/O controller and 8009 for a discovery controller, because the kernel would
	// use 8009 for both.
	TrSvcID string
	// SubsysNQN is the subsystem NQN (the kernel's "nqn"); always required.
	SubsysNQN string
	HostNQN   string
	// HostID is the host identifier, a UUID.
	HostID string
	// HostTrAddr is the local address to connect from: an IP literal (tcp, rdma) or the
	// local port's nn-0x…:pn-0x… (fc, where it is required).
	HostTrAddr string
	// HostIface is the network interface to bind to (tcp only).
	HostIface string
	// Discovery marks a discovery controller. With the well-known discovery NQN the kernel
	// knows that by itself; with a unique discovery NQN (TP8013) Build adds the
	// "discovery" flag. Build leaves the I/O queue options out of a discovery controller's
	// string, as libnvme does; DH-HMAC-CHAP secrets are kept, because a discovery controller
	// may require authentication too (libnvme sends them as well).
	Discovery bool
	// DHCHAPSecret and DHCHAPCtrlSecret are DH-HMAC-CHAP secrets, "DHHC-1:xx:<base64>:".
	// A controller secret needs a host secret.
	DHCHAPSecret     string
	DHCHAPCtrlSecret string

	QueueSize      Int // 16..1024
	NrIOQueues     Int // ≥ 1
	NrWriteQueues  Int // ≥ 1
	NrPollQueues   Int // ≥ 1
	KeepAliveTmo   Int // seconds, ≥ 0; 0 turns keep-alive off
	ReconnectDelay Int // seconds, ≥ 1
	CtrlLossTmo    Int // seconds, ≥ -1; -1 reconnects forever
	FastIOFailTmo  Int // seconds, ≥ -1; -1 is off
	TOS            Int // 0..255
	Keyring        Int // key serial of the keyring holding TLS keys, ≥ 1
	TLSKey         Int // key serial of the TLS PSK, ≥ 1

	DuplicateConnect bool
	DisableSQFlow    bool
	HdrDigest        bool
	DataDigest       bool
	TLS              bool
	Concat           bool
}

// NewDiscoveryController returns Options for a discovery controller: nqn is its subsystem
// NQN (empty means the well-known discovery NQN) and trsvcid may be empty (8009 for tcp).
func NewDiscoveryController(transport Transport, traddr, trsvcid, subsysNQN string) Options {
	if subsysNQN == "" {
		subsysNQN = nqn.WellKnownDiscovery
	}
	return Options{Transport: transport, TrAddr: traddr, TrSvcID: trsvcid, SubsysNQN: subsysNQN, Discovery: true}
}

// IsDiscovery reports whether these Options create a discovery controller: Discovery is
// set or the subsystem NQN is the well-known discovery NQN.
func (o Options) IsDiscovery() bool {
	return o.Discovery || o.SubsysNQN == nqn.WellKnownDiscovery
}

type optionKind uint8

const (
	kindText optionKind = iota
	kindInt
	kindFlag
)

type transportMask uint8

const (
	maskTCP transportMask = 1 << iota
	maskRDMA
	maskFC
	maskLoop
	maskAll = maskTCP | maskRDMA | maskFC | maskLoop
)

func (t Transport) mask() transportMask {
	switch t {
	case TransportTCP:
		return maskTCP
	case TransportRDMA:
		return maskRDMA
	case TransportFC:
		return maskFC
	case TransportLoop:
		return maskLoop
	}
	return 0
}

// optionSpec is what Build knows about one kernel option.
type optionSpec struct {
	kind optionKind
	// transports that allow the option (nvmf_transport_ops allowed_opts/required_opts plus
	// NVMF_ALLOWED_OPTS); the kernel answers EINVAL to any other.
	transports transportMask
	// droppable options may be left out when the kernel does not list them: the
	// controller still works, only tuned differently. All others are refused with
	// ErrUnsupported, because leaving them out would silently connect something else
	// than asked for (another port, identity or interface, no authentication, an I/O
	// controller instead of a discovery controller, a different keep-alive or loss
	// timeout).
	droppable bool
	// notForDiscovery options are never written for a discovery controller (libnvme).
	notForDiscovery bool
	// min and max bound an integer option; hex writes it as 0x%08x like libnvme.
	min, max int
	hex      bool
}

// The table of options, with the transports allowing them and whether an unsupported one
// may be dropped:
//
//	option             transports        unsupported ⇒
//	transport          all               error (always required)
//	traddr             tcp rdma fc loop  error (always required except loop)
//	trsvcid            tcp rdma          error
//	nqn                all               error (always required)
//	hostnqn, hostid    all               error (host identity, see nvme-protocol §8)
//	host_traddr        tcp rdma fc       error
//	host_iface         tcp               error (binding elsewhere silently is worse)
//	discovery          all               error (the controller would be an I/O controller)
//	dhchap_secret,
//	dhchap_ctrl_secret all               error (no silent loss of authentication)
//	keyring, tls_key,
//	tls, concat        tcp               error (no silent loss of security)
//	keep_alive_tmo     all               error (0 and unset mean different things)
//	reconnect_delay    tcp rdma fc       error
//	ctrl_loss_tmo      tcp rdma fc       error (-1 "forever" must not become 600 s)
//	duplicate_connect  all               error
//	hdr_digest,
//	data_digest        tcp               error (no silent loss of integrity checks)
//	queue_size,
//	nr_io_queues       all               dropped (tuning)
//	nr_write_queues,
//	nr_poll_queues     tcp rdma          dropped (tuning)
//	tos                tcp rdma          dropped (tuning)
//	fast_io_fail_tmo   all               dropped (tuning)
//	disable_sqflow     all               dropped (libnvme drops it too)
var specs = map[string]optionSpec{
	OptTransport:        {kind: kindText, transports: maskAll},
	OptTrAddr:           {kind: kindText, transports: maskAll},
	OptTrSvcID:          {kind: kindText, transports: maskTCP | maskRDMA},
	OptNQN:              {kind: kindText, transports: maskAll},
	OptHostNQN:          {kind: kindText, transports: maskAll},
	OptHostID:           {kind: kindText, transports: maskAll},
	OptHostTrAddr:       {kind: kindText, transports: maskTCP | maskRDMA | maskFC},
	OptHostIface:        {kind: kindText, transports: maskTCP},
	OptDiscovery:        {kind: kindFlag, transports: maskAll},
	OptDHCHAPSecret:     {kind: kindText, transports: maskAll},
	OptDHCHAPCtrlSecret: {kind: kindText, transports: maskAll},
	OptQueueSize:        {kind: kindInt, transports: maskAll, droppable: true, notForDiscovery: true, min: 16, max: 1024},
	OptNrIOQueues:       {kind: kindInt, transports: maskAll, droppable: true, notForDiscovery: true, min: 1, max: math.MaxInt32},
	OptNrWriteQueues:    {kind: kindInt, transports: maskTCP | maskRDMA, droppable: true, notForDiscovery: true, min: 1, max: math.MaxInt32},
	OptNrPollQueues:     {kind: kindInt, transports: maskTCP | maskRDMA, droppable: true, notForDiscovery: true, min: 1, max: math.MaxInt32},
	OptKeepAliveTmo:     {kind: kindInt, transports: maskAll, min: 0, max: math.MaxInt32},
	OptReconnectDelay:   {kind: kindInt, transports: maskTCP | maskRDMA | maskFC, min: 1, max: math.MaxInt32},
	OptCtrlLossTmo:      {kind: kindInt, transports: maskTCP | maskRDMA | maskFC, min: -1, max: math.MaxInt32},
	OptFastIOFailTmo:    {kind: kindInt, transports: maskAll, droppable: true, min: -1, max: math.MaxInt32},
	OptTOS:              {kind: kindInt, transports: maskTCP | maskRDMA, droppable: true, min: 0, max: 255},
	OptKeyring:          {kind: kindInt, transports: maskTCP, min: 1, max: math.MaxInt32, hex: true},
	OptTLSKey:           {kind: kindInt, transports: maskTCP, min: 1, max: math.MaxInt32, hex: true},
	OptDuplicateConnect: {kind: kindFlag, transports: maskAll},
	OptDisableSQFlow:    {kind: kindFlag, transports: maskAll, droppable: true},
	OptHdrDigest:        {kind: kindFlag, transports: maskTCP},
	OptDataDigest:       {kind: kindFlag, transports: maskTCP},
	OptTLS:              {kind: kindFlag, transports: maskTCP},
	OptConcat:           {kind: kindFlag, transports: maskTCP},
}

// field is one option's value taken from Options.
type field struct {
	name string
	text string
	num  Int
	flag bool
}

// fields lists the options in the order libnvme's build_options writes them, with nqn
// first because the kernel ignores nr_io_queues of a discovery controller only when nqn=
// came before it.
func (o Options) fields() []field {
	return []field{
		{name: OptNQN, text: o.SubsysNQN},
		{name: OptTransport, text: string(o.Transport)},
		{name: OptTrAddr, text: o.TrAddr},
		{name: OptHostTrAddr, text: o.HostTrAddr},
		{name: OptHostIface, text: o.HostIface},
		{name: OptTrSvcID, text: o.TrSvcID},
		{name: OptHostNQN, text: o.HostNQN},
		{name: OptHostID, text: o.HostID},
		// The kernel recognises the well-known discovery NQN by itself.
		{name: OptDiscovery, flag: o.Discovery && o.SubsysNQN != nqn.WellKnownDiscovery},
		{name: OptDHCHAPSecret, text: o.DHCHAPSecret},
		{name: OptDHCHAPCtrlSecret, text: o.DHCHAPCtrlSecret},
		{name: OptNrIOQueues, num: o.NrIOQueues},
		{name: OptNrWriteQueues, num: o.NrWriteQueues},
		{name: OptNrPollQueues, num: o.NrPollQueues},
		{name: OptQueueSize, num: o.QueueSize},
		{name: OptKeepAliveTmo, num: o.KeepAliveTmo},
		{name: OptReconnectDelay, num: o.ReconnectDelay},
		{name: OptCtrlLossTmo, num: o.CtrlLossTmo},
		{name: OptFastIOFailTmo, num: o.FastIOFailTmo},
		{name: OptTOS, num: o.TOS},
		{name: OptKeyring, num: o.Keyring},
		{name: OptTLSKey, num: o.TLSKey},
		{name: OptDuplicateConnect, flag: o.DuplicateConnect},
		{name: OptDisableSQFlow, flag: o.DisableSQFlow},
		{name: OptHdrDigest, flag: o.HdrDigest},
		{name: OptDataDigest, flag: o.DataDigest},
		{name: OptTLS, flag: o.TLS},
		{name: OptConcat, flag: o.Concat},
	}
}

// textValue returns a text field's value with libnvme's "none" meaning unset.
func textValue(s string) string {
	if s == "none" {
		return ""
	}
	return s
}

// Build validates the options and returns the string to write to /dev/nvme-fabrics:
// "nqn=…" first, then libnvme's order, only the options that are set.
//
// sup is what the running kernel supports (ParseSupported, SupportedFromRead). An option
// the kernel does not list is left out and its name returned in omitted when that is safe
// (tuning options, see the table at specs); otherwise Build fails with an *OptionError
// wrapping ErrUnsupported. Every invalid value fails with an *OptionError wrapping
// ErrInvalidOption that names the option.
//
// The result holds DH-HMAC-CHAP secrets when they are set: log it through Redact.
func (o Options) Build(sup Supported) (opts string, omitted []string, err error) {
	b := builder{o: &o, sup: sup, mask: o.Transport.mask(), discovery: o.IsDiscovery()}
	if b.mask == 0 {
		err := fmt.Errorf("unknown transport %q (want tcp, rdma, fc or loop)", string(o.Transport))
		if checkSafe(string(o.Transport)) != nil {
			err = errors.New("unknown transport (want tcp, rdma, fc or loop)")
		}
		return "", nil, &OptionError{Option: OptTransport, Kind: ErrInvalidOption, Err: err}
	}
	for _, f := range o.fields() {
		b.add(f)
		if b.err != nil {
			return "", nil, b.err
		}
	}
	opts = b.sb.String()
	if err := checkLen(opts); err != nil {
		return "", nil, err
	}
	return opts, b.omitted, nil
}

// checkLen refuses a string the kernel would refuse with ENOMEM.
func checkLen(opts string) error {
	if len(opts) > MaxOptionsLen {
		return fmt.Errorf("%w: the option string is %d bytes, the kernel takes at most %d", ErrInvalidOption, len(opts), MaxOptionsLen)
	}
	return nil
}

type builder struct {
	o         *Options
	sup       Supported
	mask      transportMask
	discovery bool
	sb        strings.Builder
	omitted   []string
	err       error
}

func (b *builder) fail(name string, kind error, err error) {
	b.err = &OptionError{Option: name, Kind: kind, Err: err}
}

// add validates one option and appends it when it is set.
func (b *builder) add(f field) {
	sp := specs[f.name]
	var value string
	switch sp.kind {
	case kindText:
		value = textValue(f.text)
		if value == "" {
			value = b.defaultText(f.name)
		}
		if value == "" {
			if b.required(f.name) {
				b.fail(f.name, ErrInvalidOption, fmt.Errorf("required for transport %s", b.o.Transport))
			}
			return
		}
	case kindInt:
		if !f.num.set {
			return
		}
	case kindFlag:
		if !f.flag {
			return
		}
	}
	if b.discovery && sp.notForDiscovery {
		return
	}
	if sp.transports&b.mask == 0 {
		b.fail(f.name, ErrInvalidOption, fmt.Errorf("not allowed with transport %s", b.o.Transport))
		return
	}
	switch sp.kind {
	case kindText:
		v, err := b.o.checkText(f.name, value)
		if err != nil {
			b.fail(f.name, ErrInvalidOption, err)
			return
		}
		value = v
	case kindInt:
		n := f.num.value
		if n < sp.min || n > sp.max {
			b.fail(f.name, ErrInvalidOption, fmt.Errorf("%d is outside %d..%d", n, sp.min, sp.max))
			return
		}
		value = strconv.Itoa(n)
		if sp.hex {
			value = fmt.Sprintf("0x%08x", n)
		}
	case kindFlag:
		if err := b.o.checkFlag(f.name); err != nil {
			b.fail(f.name, ErrInvalidOption, err)
			return
		}
	}
	if !b.sup.Has(f.name) {
		if sp.droppable {
			b.omitted = append(b.omitted, f.name)
			return
		}
		b.fail(f.name, ErrUnsupported, errors.New("the running kernel does not support it"))
		return
	}
	if b.sb.Len() > 0 {
		b.sb.WriteByte(',')
	}
	b.sb.WriteString(f.name)
	if sp.kind != kindFlag {
		b.sb.WriteByte('=')
		b.sb.WriteString(value)
	}
}

// required reports whether an unset text option is an error: the kernel requires
// transport and nqn always, traddr for tcp, rdma and fc, and host_traddr for fc.
func (b *builder) required(name string) bool {
	switch name {
	case OptNQN, OptTransport:
		return true
	case OptTrAddr:
		return b.mask != maskLoop
	case OptHostTrAddr:
		return b.mask == maskFC
	}
	return false
}

// defaultText fills in trsvcid for tcp (see Options.TrSvcID).
func (b *builder) defaultText(name string) string {
	if name != OptTrSvcID || b.mask != maskTCP {
		return ""
	}
	if b.discovery {
		return DefaultTCPDiscoveryPort
	}
	return DefaultTCPIOPort
}

// checkText validates and canonicalises one text option.
func (o *Options) checkText(name, v string) (string, error) {
	switch name {
	case OptTransport:
		return v, nil // checked by Build
	case OptNQN:
		return checkSubsysNQN(v)
	case OptHostNQN:
		return checkHostNQN(v)
	case OptHostID:
		return checkUUID(v)
	case OptTrSvcID:
		return checkPort(v)
	case OptHostIface:
		return checkIface(v)
	case OptTrAddr, OptHostTrAddr:
		return o.checkAddr(name, v)
	case OptDHCHAPSecret:
		return v, CheckDHCHAPSecret(v)
	case OptDHCHAPCtrlSecret:
		if err := CheckDHCHAPSecret(v); err != nil {
			return "", err
		}
		if textValue(o.DHCHAPSecret) == "" {
			return "", errors.New("a controller secret needs dhchap_secret (the host secret) as well")
		}
		return v, nil
	}
	return "", fmt.Errorf("no validation rule for option %s", name)
}

// checkAddr validates traddr and host_traddr for the transport.
func (o *Options) checkAddr(name, v string) (string, error) {
	switch o.Transport {
	case TransportFC:
		return checkFCAddr(v)
	case TransportLoop:
		// nvme-loop matches traddr against the nvmet port's address as text.
		return v, checkSafe(v)
	}
	a, canonical, err := checkIP(v)
	if err != nil {
		return "", err
	}
	// Connecting to or binding a link-local address needs an interface; nvme-tcp gets it
	// only from host_iface (SO_BINDTODEVICE), otherwise the kernel answers EINVAL.
	if o.Transport == TransportTCP && a.Is6() && a.IsLinkLocalUnicast() && textValue(o.HostIface) == "" {
		return "", fmt.Errorf("link-local address %s needs host_iface", canonical)
	}
	return canonical, nil
}

// checkFlag applies the kernel's rules for secure concatenation (nvmf_parse_options).
func (o *Options) checkFlag(name string) error {
	if name != OptConcat {
		return nil
	}
	switch {
	case o.TLS:
		return errors.New("secure concatenation cannot be combined with tls")
	case o.TLSKey.set:
		return errors.New("secure concatenation cannot be combined with tls_key")
	case textValue(o.DHCHAPSecret) == "" || o.IsDiscovery():
		return errors.New("secure concatenation needs dhchap_secret")
	}
	return nil
}

// redacted is what secrets are replaced with in logs, as nvme-stas-go shows them on D-Bus.
const redacted = "(set)"

// Redact returns an option string with the values of dhchap_secret and
// dhchap_ctrl_secret replaced by "(set)", for logging.
func Redact(optionString string) string {
	tokens := strings.Split(optionString, ",")
	for i, t := range tokens {
		name, _, ok := strings.Cut(t, "=")
		if ok && (name == OptDHCHAPSecret || name == OptDHCHAPCtrlSecret) {
			tokens[i] = name + "=" + redacted
		}
	}
	return strings.Join(tokens, ",")
}

// String lists the options that are set, with secrets shown as "(set)", for logs. It is
// not the kernel option string (see Build).
func (o Options) String() string {
	var parts []string
	for _, f := range o.fields() {
		switch {
		case f.name == OptDHCHAPSecret || f.name == OptDHCHAPCtrlSecret:
			if f.text != "" {
				parts = append(parts, f.name+"="+redacted)
			}
		case f.text != "":
			q := strconv.Quote(f.text) // escapes control bytes from untrusted text
			parts = append(parts, f.name+"="+q[1:len(q)-1])
		case f.num.set:
			parts = append(parts, f.name+"="+strconv.Itoa(f.num.value))
		case f.flag:
			parts = append(parts, f.name)
		}
	}
	if o.Discovery && o.SubsysNQN == nqn.WellKnownDiscovery {
		parts = append(parts, "(discovery)")
	}
	return strings.Join(parts, ",")
}

// GoString keeps secrets out of %#v as well.
func (o Options) GoString() string { return "fabrics.Options{" + o.String() + "}" }
