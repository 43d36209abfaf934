// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/tid"
)

const dellNQN = "nqn.1988-11.com.dell:SFSS:2:20220208134025e8"

// The details dict of nvme-stas's test vector (behaviour reference §4.5: a controller not
// yet connected).
func TestDetailsDictTestVector(t *testing.T) {
	notDone := false
	c := Controller{
		TID: tid.TID{Transport: "tcp", Traddr: "10.10.10.10", Trsvcid: "8009", SubsysNQN: dellNQN,
			HostTraddr: "1.2.3.4", HostIface: "wlp0s20f3", HostNQN: "nqn.1988-11.com.dell:poweredge:1234"},
		ConnectAttempts:   1,
		RetryConnectTimer: TimerString(60*time.Second, false, 0),
		Connect:           &Operation{FailCount: 0, Completed: &notDone, Alive: true},
	}
	want := map[string]string{
		"transport": "tcp", "traddr": "10.10.10.10", "trsvcid": "8009", "host-traddr": "1.2.3.4",
		"host-iface": "wlp0s20f3", "subsysnqn": dellNQN,
		"host-nqn": "nqn.1988-11.com.dell:poweredge:1234", "device": "nvme?", "connect attempts": "1",
		"retry connect timer": "60.0s [off]",
		"connect operation":   "{'fail count': 0, 'completed': False, 'alive': True}",
		"hostid":              "", "hostnqn": "", "model": "", "serial": "", "dctype": "", "cntrltype": "", "connected": "False",
	}
	if got := c.DetailsDict().StringMap(); !maps.Equal(got, want) {
		t.Errorf("DetailsDict =\n%v\nwant\n%v", got, want)
	}
	// The id dict is the TID's seven keys plus device, in the documented order.
	if got, want := c.IDDict().Keys(), []string{"transport", "traddr", "trsvcid", "subsysnqn", "host-iface",
		"host-traddr", "host-nqn", "device"}; !slices.Equal(got, want) {
		t.Errorf("IDDict keys = %v, want %v", got, want)
	}
	info := c.InfoDict().StringMap()
	if len(info) != 11 || info["connect attempts"] != "1" || info["hostid"] != "" {
		t.Errorf("InfoDict = %v", info)
	}
	var decoded map[string]string
	if err := json.Unmarshal([]byte(c.InfoJSON()), &decoded); err != nil || !maps.Equal(decoded, info) {
		t.Errorf("InfoJSON = %s (%v)", c.InfoJSON(), err)
	}
}

func TestSecretsAreNeverSent(t *testing.T) {
	c := Controller{
		TID: tid.TID{Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "4420", SubsysNQN: "nqn.x"},
		Config: []Option{
			{"kato", "30"}, {"dhchap-secret", "DHHC-1:00:c2VjcmV0:"}, {"dhchap-ctrl-secret", "DHHC-1:01:b3RoZXI=:"},
			{"kxchap-secret", "s3"}, {"hostkey", "k"}, {"empty-secret", ""}, {"traddr", "ignored"},
		},
		Extra: []Option{{"tls-key", "k2"}, {"note", "visible"}},
		IOC:   &IOCState{DLPE: map[string]string{"trtype": "tcp", "eflags": "4"}, NCC: true},
	}
	d := c.DetailsDict().StringMap()
	for _, k := range []string{"dhchap-secret", "dhchap-ctrl-secret", "kxchap-secret", "hostkey", "tls-key"} {
		if d[k] != "(set)" {
			t.Errorf("%s = %q, want (set)", k, d[k])
		}
	}
	if d["empty-secret"] != "" || d["kato"] != "30" || d["note"] != "visible" || d["traddr"] != "192.0.2.1" {
		t.Errorf("details = %v", d)
	}
	if d["dlpe"] != "{'eflags': '4', 'trtype': 'tcp'}" || d["dlpe.eflags.ncc"] != "True" {
		t.Errorf("dlpe = %q, ncc = %q", d["dlpe"], d["dlpe.eflags.ncc"])
	}
	all := PyJSON(ControllerList([]Controller{c}, true)) + AllLogPagesJSON([]DCLogPages{{Controller: c}}, true) +
		PyJSON(ControllerList([]Controller{c}, false))
	if strings.Contains(all, "c2VjcmV0") || strings.Contains(all, "b3RoZXI") || strings.Contains(all, `"s3"`) {
		t.Errorf("a secret leaked: %s", all)
	}
	if got := config.RedactedSecret; got != "(set)" {
		t.Errorf("config.RedactedSecret = %q", got)
	}
	c.IOC.DLPE = nil
	if got := c.DetailsDict().StringMap()["dlpe"]; got != "None" {
		t.Errorf("no DLPE: dlpe = %q", got)
	}
}

func TestDCInfoDict(t *testing.T) {
	failed := false
	c := Controller{
		TID:    tid.TID{Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "8009", SubsysNQN: "nqn.2014-08.org.nvmexpress.discovery"},
		Device: "nvme4",
		DC: &DCState{
			Origin:              OriginDiscovered,
			UnresponsiveTimer:   TimerString(259200*time.Second, true, 1500*time.Millisecond),
			UnresponsiveTimeout: UnresponsiveTimeout(259200 * time.Second),
			UnresponsiveTime:    UnresponsiveSince(time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)),
			GetLogPage:          &Operation{FailCount: 2, Completed: &failed, Alive: true, RetryTimer: "20.0s [19.5s]", Error: "it's down"},
			Register:            &Operation{Alive: false},
			GetSupportedLogPage: &Operation{FailCount: 1, Completed: &failed},
		},
	}
	d := c.InfoDict()
	want := []string{"transport", "traddr", "trsvcid", "subsysnqn", "host-iface", "host-traddr", "host-nqn", "device",
		"connect attempts", "retry connect timer", "origin", "unresponsive timer", "unresponsive timeout",
		"unresponsive time", "get log page operation", "register operation", "get supported log page operation"}
	if got := d.Keys(); !slices.Equal(got, want) {
		t.Errorf("keys = %v\nwant %v", got, want)
	}
	m := d.StringMap()
	for k, v := range map[string]string{
		"device":                 "nvme4",
		"unresponsive timer":     "259200.0s [1.5s]",
		"unresponsive timeout":   "259200 sec",
		"unresponsive time":      "Tue Mar  5 07:08:09 2024",
		"get log page operation": `{'fail count': 2, 'completed': False, 'alive': True, 'retry timer': '20.0s [19.5s]', 'error': "it's down"}`,
		"register operation":     "{'fail count': 0, 'completed': None, 'alive': False}",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	c.DC = &DCState{Origin: OriginConfigured}
	if _, ok := c.InfoDict().Get("unresponsive timer"); ok {
		t.Error("a configured DC shows the unresponsive timer")
	}
	c.DC = &DCState{}
	if _, ok := c.InfoDict().Get("origin"); ok {
		t.Error("an unknown origin is shown")
	}
	if UnresponsiveTimeout(-time.Second) != "forever" || UnresponsiveSince(time.Time{}) != "---" {
		t.Error("forever / --- wrong")
	}
}

func TestTimerString(t *testing.T) {
	for _, tc := range []struct {
		interval  time.Duration
		running   bool
		remaining time.Duration
		want      string
	}{
		{60 * time.Second, false, 0, "60.0s [off]"},
		{1500 * time.Millisecond, true, 973 * time.Millisecond, "1.5s [0.973s]"},
		{3 * time.Second, true, 2510 * time.Millisecond, "3.0s [2.51s]"},
		{3 * time.Second, true, 0, "3.0s [0s]"},
		{3 * time.Second, true, -time.Second, "3.0s [0s]"},
		{0, false, 0, "0.0s [off]"},
		{5 * time.Second, false, 0, "5.0s [off]"},
		{60 * time.Second, true, 59999873 * time.Microsecond, "60.0s [59.999873s]"},
		{60 * time.Second, true, 50 * time.Microsecond, "60.0s [5e-05s]"},
		{60 * time.Second, true, 400 * time.Nanosecond, "60.0s [0s]"}, // under a microsecond
		{259200 * time.Second, false, 0, "259200.0s [off]"},
		{30 * time.Millisecond, false, 0, "0.03s [off]"},
	} {
		if got := TimerString(tc.interval, tc.running, tc.remaining); got != tc.want {
			t.Errorf("TimerString(%v, %v, %v) = %q, want %q", tc.interval, tc.running, tc.remaining, got, tc.want)
		}
	}
}

// The expected document is CPython's json.dumps of the same dict.
func TestProcessInfoJSON(t *testing.T) {
	term := NewDict("transport", "tcp", "traddr", "1.2.3.4", "trsvcid", "8009", "subsysnqn", "x", "host-iface", "",
		"host-traddr", "", "host-nqn", "nqn.h", "device", "nvme?", "connect attempts", "0", "retry connect timer", "60.0s [off]")
	p := ProcessInfo{
		Tron: true, LogLevel: "DEBUG", HostNQN: "nqn.h", HostID: "id",
		LastKnownConfigFile:   "/run/stafd/last-known-config.json",
		ConfigSoakTimer:       TimerString(1500*time.Millisecond, true, 973*time.Millisecond),
		KernelTP8013:          true,
		TerminatorAuditTimer:  TimerString(30*time.Second, false, 0),
		TerminatorControllers: []TerminatorEntry{{TID: tid.TID{Transport: "tcp", Traddr: "1.2.3.4", Trsvcid: "8009", SubsysNQN: "x"}, Info: term}},
		Avahi: &AvahiState{
			WakeUpTimer:  "60.0s [off]",
			ServiceTypes: []string{"_nvme-disc._tcp"},
			Services: []AvahiService{{Interface: "eth0", Protocol: "IPv4", Name: "nvmet", Domain: "local", Type: "_nvme-disc._tcp",
				Transport: "tcp", Traddr: "192.0.2.1", Trsvcid: "8009", HostIface: "eth0", SubsysNQN: "nqn.2014-08.org.nvmexpress.discovery"}},
		},
		Extra: NewDict("extra", "é"),
	}
	want := `{"tron": true, "log-level": "DEBUG", "hostnqn": "nqn.h", "hostid": "id", "hostkey": null, "symname": null, ` +
		`"last known config file": "/run/stafd/last-known-config.json", "config soak timer": "1.5s [0.973s]", ` +
		`"kernel support.TP8013": "True", "kernel support.host_iface": "False", "terminator.audit timer": "30.0s [off]", ` +
		`"terminator.controller.(tcp, 1.2.3.4, 8009, x)": "{'transport': 'tcp', 'traddr': '1.2.3.4', 'trsvcid': '8009', ` +
		`'subsysnqn': 'x', 'host-iface': '', 'host-traddr': '', 'host-nqn': 'nqn.h', 'device': 'nvme?', 'connect attempts': '0', ` +
		`'retry connect timer': '60.0s [off]'}", "avahi": {"avahi wake up timer": "60.0s [off]", "service types": ["_nvme-disc._tcp"], ` +
		`"services": {"(eth0, IPv4, nvmet.local, _nvme-disc._tcp)": {"transport": "tcp", "traddr": "192.0.2.1", "trsvcid": "8009", ` +
		`"host-iface": "eth0", "subsysnqn": "nqn.2014-08.org.nvmexpress.discovery", "reachable": "False"}}}, "extra": "\u00e9"}`
	if got := p.JSON(); got != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
	sym := "Bart"
	p = ProcessInfo{HostKeySet: true, Symname: &sym, Avahi: &AvahiState{}}
	d := p.Dict()
	if v, _ := d.Get("hostkey"); v != "(set)" {
		t.Errorf("hostkey = %v, want (set)", v)
	}
	if v, _ := d.Get("symname"); v != "Bart" {
		t.Errorf("symname = %v", v)
	}
	if !strings.Contains(p.JSON(), `"service types": [], "services": {}`) {
		t.Errorf("empty avahi: %s", p.JSON())
	}
	p.Avahi = nil
	if _, ok := p.Dict().Get("avahi"); ok {
		t.Error("stacd's process info has avahi")
	}
}

func TestAllLogPagesJSON(t *testing.T) {
	dc := Controller{TID: tid.TID{Transport: "tcp", Traddr: "::1", Trsvcid: "8009", SubsysNQN: "nqn.d", HostNQN: "nqn.h"}, Device: "nvme0"}
	got := AllLogPagesJSON([]DCLogPages{
		{Controller: dc, LogPages: []map[string]string{{"trtype": "tcp", "subnqn": "s"}}},
		{Controller: dc},
	}, false)
	want := `[{"discovery-controller": {"transport": "tcp", "traddr": "::1", "trsvcid": "8009", "subsysnqn": "nqn.d", ` +
		`"host-iface": "", "host-traddr": "", "host-nqn": "nqn.h", "device": "nvme0"}, "log-pages": [{"subnqn": "s", "trtype": "tcp"}]}, ` +
		`{"discovery-controller": {"transport": "tcp", "traddr": "::1", "trsvcid": "8009", "subsysnqn": "nqn.d", ` +
		`"host-iface": "", "host-traddr": "", "host-nqn": "nqn.h", "device": "nvme0"}, "log-pages": []}]`
	if got != want {
		t.Errorf("AllLogPagesJSON =\n%s\nwant\n%s", got, want)
	}
	if got := AllLogPagesJSON(nil, true); got != "[]" {
		t.Errorf("no DCs: %s", got)
	}
	detailed := AllLogPagesJSON([]DCLogPages{{Controller: dc}}, true)
	if !strings.Contains(detailed, `"connected": "False"`) {
		t.Errorf("detailed lacks the details: %s", detailed)
	}
	if l := ControllerList(nil, false); l == nil || len(l) != 0 {
		t.Errorf("ControllerList(nil) = %#v", l)
	}
}
