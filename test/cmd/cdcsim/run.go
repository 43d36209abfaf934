// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/version"
	"github.com/nvme-stas-go/stas/test/cdcsim"
)

const usageText = `Usage: cdcsim [options]

Runs a userspace NVMe/TCP discovery controller (the CDC simulator) until SIGTERM or
SIGINT. The kernel host, nvme-cli and stafd connect to it like to any array:

  cdcsim -listen 192.0.2.2:8009 -subsystem nqn.2014-08.org.example:sub1@192.0.2.2
  nvme discover -t tcp -a 192.0.2.2 -s 8009

It logs every connection, keep-alive timeout, AEN and DIM registration. SIGHUP re-reads
the entries (configuration file and flags): a log change, so the generation counter goes
up and connected hosts that armed it get the discovery-change AEN (NVME_AEN=0x70f002).

Options:
`

const configHelp = `
The configuration file is JSON; every key is optional and flags override it:

  {
    "listen": "192.0.2.2:8009",
    "nqn": "nqn.2014-08.org.nvmexpress.discovery",
    "dctype": "cdc",                      // cdc, ddc or none (none refuses DIM)
    "genctr": 1,                          // initial generation counter
    "serial": "CDCSIM0001", "model": "nvme-stas-go cdcsim",
    "discovery_change_notices": true,     // false clears OAES bit 31
    "log_options": ["PLEOS"],             // LID 0x70 options shown in LID 0x00
    "discovery_kato": "120s",             // KATO of hosts connecting with 0; "0s": none
    "entries": [
      {"subnqn": "nqn.2014-08.org.example:sub1", "traddr": "192.0.2.2", "trsvcid": "4420"},
      {"subtype": "referral", "traddr": "198.51.100.2", "trsvcid": "8009", "portid": 2}
    ],
    "generate": {"count": 10000, "traddr": "192.0.2.2", "trsvcid": "4420"},
    "hostile": true
  }

Entry keys: trtype (tcp, rdma, fc, loop or a number), adrfam (ipv4, ipv6, ib, fc, pci,
loop or a number; default from traddr), subtype (nvme, referral, discovery or a number),
treq ("not specified", "required", "not required" or a number; default 4), portid,
cntlid (default 65535), asqsz (default 32), eflags, trsvcid (default 4420, 8009 for
referrals), subnqn, traddr, sectype (none, tls1.2, tls1.3 or a number). Comments are
not allowed in the real file.
`

// options are the command line, before the configuration file is merged in.
type options struct {
	config        string
	listen        string
	nqn           string
	dctype        string
	subsystems    multiFlag
	referrals     multiFlag
	generate      int
	hostile       bool
	noAEN         bool
	discoveryKATO time.Duration
	mdns          string
	verbose       bool
	version       bool
	set           map[string]bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("cdcsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "read the `FILE`: JSON, see below; flags override it")
	fs.StringVar(&o.listen, "listen", "0.0.0.0:8009", "listen on `ADDR`ESS:PORT")
	fs.StringVar(&o.nqn, "nqn", nqn.WellKnownDiscovery, "the controller's `NQN` (Identify subnqn; Connect also takes the well-known one)")
	fs.StringVar(&o.dctype, "dctype", "cdc", "discovery controller `TYPE` Identify reports: cdc, ddc or none (none refuses DIM)")
	fs.Var(&o.subsystems, "subsystem", "add an NVM subsystem entry `NQN@ADDR[:PORT]` (port 4420; repeatable)")
	fs.Var(&o.referrals, "referral", "add a referral to the discovery controller at `ADDR[:PORT]` (port 8009; repeatable)")
	fs.IntVar(&o.generate, "generate", 0, "add `N` synthetic subsystem entries on the listen address, port 4420 (10000 for a ~10 MiB log)")
	fs.BoolVar(&o.hostile, "hostile", false, "add hostile entries: a traddr smuggling host_iface, an embedded NUL, non-UTF-8, unterminated 256-byte fields, unknown enumerations")
	fs.BoolVar(&o.noAEN, "no-aen", false, "do not advertise discovery-change notices (OAES bit 31 clear)")
	fs.DurationVar(&o.discoveryKATO, "discovery-kato", cdcsim.DefaultDiscoveryKATO, "keep-alive timeout of hosts that connect with KATO 0 (`DURATION`; 0 means none)")
	fs.StringVar(&o.mdns, "mdns", "", "announce the controller as _nvme-disc._tcp service `NAME` with avahi-publish (needs avahi-daemon)")
	fs.BoolVar(&o.verbose, "v", false, "log every PDU-level event (debug)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, configHelp)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return o, nil
}

// splitHostPort takes ADDR or ADDR:PORT ([v6]:PORT) and fills in the default port.
func splitHostPort(s, defPort string) (string, string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), defPort, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", s, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", fmt.Errorf("address %q: bad port %q", s, port)
	}
	return host, port, nil
}

// buildConfig merges the configuration file and the flags.
func buildConfig(o *options) (cdcsim.Config, string, error) {
	file := &cdcsim.File{}
	if o.config != "" {
		f, err := os.Open(o.config)
		if err != nil {
			return cdcsim.Config{}, "", fmt.Errorf("open configuration: %w", err)
		}
		file, err = cdcsim.LoadFile(f)
		_ = f.Close()
		if err != nil {
			return cdcsim.Config{}, "", fmt.Errorf("%s: %w", o.config, err)
		}
	}
	cfg, err := file.Config()
	if err != nil {
		return cfg, "", fmt.Errorf("%s: %w", o.config, err)
	}
	listen := o.listen
	if file.Listen != "" && !o.set["listen"] {
		listen = file.Listen
	}
	if o.set["nqn"] || cfg.NQN == "" {
		cfg.NQN = o.nqn
	}
	if o.set["dctype"] || file.DCType == "" {
		t, err := cdcsim.ParseDCType(o.dctype)
		if err != nil {
			return cfg, "", err
		}
		cfg.DCType = t
	}
	if o.noAEN {
		cfg.NoDiscoveryChangeNotices = true
	}
	if o.set["discovery-kato"] || file.DiscoveryKATO == "" {
		cfg.DiscoveryKATO = o.discoveryKATO
		if o.discoveryKATO == 0 {
			cfg.DiscoveryKATO = -1
		}
	}
	listenHost, _, err := splitHostPort(listen, "8009")
	if err != nil {
		return cfg, "", fmt.Errorf("-listen: %w", err)
	}
	for _, s := range o.subsystems {
		i := strings.LastIndexByte(s, '@')
		if i <= 0 {
			return cfg, "", fmt.Errorf("-subsystem %q: want NQN@ADDR[:PORT]", s)
		}
		host, port, err := splitHostPort(s[i+1:], "4420")
		if err != nil {
			return cfg, "", fmt.Errorf("-subsystem: %w", err)
		}
		cfg.Entries = append(cfg.Entries, cdcsim.SubsystemEntry(s[:i], host, port, 1))
	}
	for i, r := range o.referrals {
		host, port, err := splitHostPort(r, "8009")
		if err != nil {
			return cfg, "", fmt.Errorf("-referral: %w", err)
		}
		cfg.Entries = append(cfg.Entries, cdcsim.ReferralEntry(host, port, uint16(i+2)))
	}
	if o.generate < 0 || o.generate > nvme.MaxLogRecords {
		return cfg, "", fmt.Errorf("-generate %d: outside 0..%d", o.generate, nvme.MaxLogRecords)
	}
	cfg.Entries = append(cfg.Entries, cdcsim.GenerateEntries(o.generate, listenHost, "4420")...)
	if o.hostile {
		cfg.Entries = append(cfg.Entries, cdcsim.HostileEntries()...)
	}
	return cfg, listen, nil
}

// run is the command; ready, when set, is told the simulator and its address once it
// listens (for tests). It returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer, hup <-chan os.Signal, ready func(*cdcsim.Simulator, net.Addr)) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cdcsim:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stderr, "cdcsim", version.String())
		return 0
	}
	cfg, listen, err := buildConfig(o)
	if err != nil {
		fmt.Fprintln(stderr, "cdcsim:", err)
		return 1
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log
	sim, err := cdcsim.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "cdcsim:", err)
		return 1
	}
	defer sim.Close()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(stderr, "cdcsim:", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- sim.Serve(l) }()
	if o.mdns != "" {
		if err := announce(ctx, o.mdns, l.Addr(), sim.NQN(), log); err != nil {
			fmt.Fprintln(stderr, "cdcsim:", err)
			return 1
		}
	}
	if ready != nil {
		ready(sim, l.Addr())
	}
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping")
			_ = sim.Close()
			<-served
			return 0
		case err := <-served:
			fmt.Fprintln(stderr, "cdcsim:", err)
			return 1
		case <-hup:
			reload(o, sim, log)
		}
	}
}

// reload re-reads the entries and publishes them as one log change.
func reload(o *options, sim *cdcsim.Simulator, log *slog.Logger) {
	cfg, _, err := buildConfig(o)
	if err != nil {
		log.Error("reload failed; the log is unchanged", "err", err)
		return
	}
	gen, err := sim.SetEntries(cfg.Entries)
	if err != nil {
		log.Error("reload failed; the log is unchanged", "err", err)
		return
	}
	log.Info("reloaded", "entries", len(cfg.Entries), "genctr", gen)
}

// announce runs avahi-publish for the lifetime of ctx.
func announce(ctx context.Context, name string, addr net.Addr, dcNQN string, log *slog.Logger) error {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("announce %s: not a TCP address", addr)
	}
	cmd := cdcsim.AnnounceCommand(ctx, name, ta.Port, dcNQN)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("announce with avahi-publish: %w", err)
	}
	log.Info("announced with mDNS", "name", name, "port", ta.Port)
	go func() {
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			log.Error("avahi-publish stopped", "err", err)
		}
	}()
	return nil
}
