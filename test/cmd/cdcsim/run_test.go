// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/test/cdcsim"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelpExplainsEveryOption(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, nil, nil); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	for _, want := range []string{"-config", "-listen", "-nqn", "-dctype", "-subsystem", "-referral", "-generate", "-hostile",
		"-no-aen", "-discovery-kato", "-mdns", "-v", "-version", "SIGHUP", "\"entries\"", "sectype"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help does not mention %s", want)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"dctype": "huge"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-nosuch"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-config", filepath.Join(dir, "missing.json")}, 1},
		{[]string{"-config", bad}, 1},
		{[]string{"-dctype", "x"}, 1},
		{[]string{"-subsystem", "no-at-sign"}, 1},
		{[]string{"-subsystem", "nqn@192.0.2.2:port"}, 1},
		{[]string{"-referral", "192.0.2.2:1:2"}, 1},
		{[]string{"-listen", "nonsense"}, 1},
		{[]string{"-generate", "-1"}, 1},
		{[]string{"-nqn", strings.Repeat("n", 300)}, 1},
		{[]string{"-listen", "192.0.2.250:8009"}, 1}, // not a local address
	} {
		var out bytes.Buffer
		if code := run(context.Background(), tc.args, &out, nil, nil); code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, out.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-version"}, &out, nil, nil); code != 0 || !strings.Contains(out.String(), "cdcsim") {
		t.Errorf("-version: %d %q", code, out.String())
	}
}

func TestBuildConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sim.json")
	if err := os.WriteFile(file, []byte(`{"listen": "192.0.2.2:8010", "nqn": "nqn.2014-08.org.example:file", "dctype": "ddc",
		"discovery_kato": "5s", "entries": [{"subnqn": "nqn.2014-08.org.example:f", "traddr": "192.0.2.2"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-config", file, "-subsystem", "nqn.2014-08.org.example:s@[2001:db8::2]:4421",
		"-subsystem", "nqn.2014-08.org.example:t@198.51.100.2", "-referral", "2001:db8::3", "-generate", "2", "-hostile", "-no-aen"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, listen, err := buildConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if listen != "192.0.2.2:8010" || cfg.NQN != "nqn.2014-08.org.example:file" || cfg.DCType != nvme.DCTypeDDC || cfg.DiscoveryKATO != 5*time.Second || !cfg.NoDiscoveryChangeNotices {
		t.Errorf("file settings lost: listen %q %+v", listen, cfg)
	}
	e := cfg.Entries
	if len(e) != 1+2+1+2+len(cdcsim.HostileEntries()) {
		t.Fatalf("%d entries", len(e))
	}
	if e[1].TrAddr != "2001:db8::2" || e[1].TrSvcID != "4421" || e[1].AdrFam != nvme.AddressFamilyIPv6 || e[2].TrSvcID != "4420" {
		t.Errorf("subsystems %+v %+v", e[1], e[2])
	}
	if e[3].SubType != nvme.SubsystemReferral || e[3].TrSvcID != "8009" || e[3].SubNQN != nqn.WellKnownDiscovery {
		t.Errorf("referral %+v", e[3])
	}
	if e[4].TrAddr != "192.0.2.2" || e[4].SubNQN != cdcsim.GeneratedNQN(0) {
		t.Errorf("generated entries use the listen address: %+v", e[4])
	}

	// Flags win over the file.
	o, _ = parseFlags([]string{"-config", file, "-listen", "127.0.0.1:0", "-nqn", "nqn.2014-08.org.example:flag", "-dctype", "none", "-discovery-kato", "0"}, io.Discard)
	cfg, listen, err = buildConfig(o)
	if err != nil || listen != "127.0.0.1:0" || cfg.NQN != "nqn.2014-08.org.example:flag" || cfg.DCType != nvme.DCTypeNone || cfg.DiscoveryKATO != -1 {
		t.Errorf("flags over file: %q %+v %v", listen, cfg, err)
	}
}

// TestServeAndReload runs the command, talks NVMe/TCP to it, reloads on SIGHUP and
// stops it.
func TestServeAndReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sim.json")
	write := func(entries string) {
		if err := os.WriteFile(file, []byte(`{"entries": [`+entries+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"subnqn": "nqn.2014-08.org.example:one", "traddr": "192.0.2.2"}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	readyc := make(chan *cdcsim.Simulator, 1)
	addrc := make(chan net.Addr, 1)
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-config", file, "-listen", "127.0.0.1:0", "-v"}, &out, hup, func(s *cdcsim.Simulator, a net.Addr) {
			readyc <- s
			addrc <- a
		})
	}()
	var sim *cdcsim.Simulator
	select {
	case sim = <-readyc:
	case code := <-done:
		t.Fatalf("exited %d before listening:\n%s", code, out.String())
	}
	addr := <-addrc

	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	icreq := make([]byte, 128)
	icreq[2] = 128
	binary.LittleEndian.PutUint32(icreq[4:], 128)
	if _, err := c.Write(icreq); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 128)
	if _, err := io.ReadFull(c, resp); err != nil || resp[0] != 0x01 {
		t.Fatalf("ICResp: %v %x", err, resp[:8])
	}

	gen := sim.GenCtr()
	write(`{"subnqn": "nqn.2014-08.org.example:one", "traddr": "192.0.2.2"}, {"subnqn": "nqn.2014-08.org.example:two", "traddr": "192.0.2.2"}`)
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for len(sim.Entries()) != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(sim.Entries()) != 2 || sim.GenCtr() != gen+1 {
		t.Fatalf("after SIGHUP: %d entries, genctr %d (was %d)", len(sim.Entries()), sim.GenCtr(), gen)
	}
	// A broken file leaves the log alone.
	write(`{"subnqn": ""}`)
	hup <- syscall.SIGHUP
	for !strings.Contains(out.String(), "reload failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(sim.Entries()) != 2 {
		t.Errorf("a failed reload changed the log")
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	for _, want := range []string{"serving", "reloaded", "reload failed", "stopping", "connection closed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAnnounceNeedsTCP(t *testing.T) {
	if err := announce(context.Background(), "x", &net.UnixAddr{Name: "/x"}, nqn.WellKnownDiscovery, nil); err == nil {
		t.Errorf("announce on a unix address")
	}
}
