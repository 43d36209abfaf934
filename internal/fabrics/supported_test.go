// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// kernelLine is the read from a fresh /dev/nvme-fabrics of a 6.x kernel without TLS
// (nvme-protocol.md §1.3), verbatim.
const kernelLine = "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,duplicate_connect,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s\n"

// stasFixture is the nvme-stas test fixture (nvme-stas-behaviour.md §14), which lacks
// duplicate_connect.
const stasFixture = "instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s"

func mustParseSupported(t testing.TB, line string) Supported {
	t.Helper()
	s, err := ParseSupported([]byte(line))
	if err != nil {
		t.Fatalf("ParseSupported(%q): %v", line, err)
	}
	return s
}

func TestParseSupportedKernelLine(t *testing.T) {
	s := mustParseSupported(t, kernelLine)
	want := []string{
		"ctrl_loss_tmo", "data_digest", "dhchap_ctrl_secret", "dhchap_secret", "disable_sqflow", "discovery",
		"duplicate_connect", "fast_io_fail_tmo", "hdr_digest", "host_iface", "host_traddr", "hostid", "hostnqn",
		"keep_alive_tmo", "nqn", "nr_io_queues", "nr_poll_queues", "nr_write_queues", "queue_size",
		"reconnect_delay", "tos", "traddr", "transport", "trsvcid",
	}
	if got := s.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v\nwant %v", got, want)
	}
	for _, absent := range []string{"instance", "cntlid", "tls", "concat", "keyring", "tls_key", ""} {
		if s.Has(absent) {
			t.Errorf("Has(%q) = true", absent)
		}
	}
	if s.Legacy() {
		t.Error("Legacy() = true for a parsed line")
	}
	if s.String() != strings.Join(want, ",") {
		t.Errorf("String() = %s", s.String())
	}

	fixture := mustParseSupported(t, stasFixture)
	for _, n := range []string{OptHostIface, OptDiscovery, OptDHCHAPSecret, OptDHCHAPCtrlSecret} {
		if !fixture.Has(n) {
			t.Errorf("nvme-stas fixture: Has(%s) = false", n)
		}
	}
	if fixture.Has(OptDuplicateConnect) {
		t.Error("nvme-stas fixture: Has(duplicate_connect) = true")
	}
	// nvme-stas: "host_iface=%s,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s" ⇒ all four.
	short := mustParseSupported(t, "host_iface=%s,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s")
	if got := short.Names(); !slices.Equal(got, []string{"dhchap_ctrl_secret", "dhchap_secret", "discovery", "host_iface"}) {
		t.Errorf("short Names() = %v", got)
	}
	// libnvme cuts at ' ' as well as '='.
	if !mustParseSupported(t, "transport %s,,\n\nnqn").Has(OptTransport) {
		t.Error("item cut at space not recognised")
	}
}

func TestParseSupportedGarbage(t *testing.T) {
	for _, in := range []string{
		"", "\n", ",,,", "instance=-1,cntlid=-1\n",
		"transport=%s,Traddr=%s", "transport=%s,=%s", "transport=%s,tr\x00addr",
		"transport=%s,trädr", strings.Repeat("a", 65) + "=%s",
		strings.Repeat("x,", maxSupportedLen),
	} {
		if _, err := ParseSupported([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSupported(%.40q) err = %v, want ErrMalformed", in, err)
		}
	}
}

func TestSupportedFromRead(t *testing.T) {
	s, err := SupportedFromRead(nil, &fs.PathError{Op: "read", Path: "/dev/nvme-fabrics", Err: syscall.EINVAL})
	if err != nil || !s.Legacy() {
		t.Fatalf("EINVAL: %v, legacy=%v", err, s.Legacy())
	}
	if !slices.Equal(s.Names(), DefaultSupported().Names()) {
		t.Errorf("EINVAL gives %v", s.Names())
	}
	if !strings.HasPrefix(s.String(), "default set of kernels before 5.17: ") {
		t.Errorf("String() = %s", s.String())
	}
	for _, n := range []string{OptHostIface, OptDiscovery, OptTOS, OptFastIOFailTmo} {
		if !s.Has(n) {
			t.Errorf("default set lacks %s", n)
		}
	}
	for _, n := range []string{OptDHCHAPSecret, OptDHCHAPCtrlSecret, OptTLS, OptKeyring, OptTLSKey, OptConcat} {
		if s.Has(n) {
			t.Errorf("default set has %s", n)
		}
	}
	if _, err := SupportedFromRead(nil, syscall.EIO); !errors.Is(err, syscall.EIO) {
		t.Errorf("EIO: err = %v", err)
	}
	s, err = SupportedFromRead([]byte(kernelLine), nil)
	if err != nil || !s.Has(OptDHCHAPSecret) {
		t.Errorf("line: %v, %v", s, err)
	}
	if len(AllKnown().Names()) != len(specs) {
		t.Errorf("AllKnown has %d names, want %d", len(AllKnown().Names()), len(specs))
	}
}
