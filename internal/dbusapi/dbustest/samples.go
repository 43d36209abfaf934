// SPDX-License-Identifier: Apache-2.0

package dbustest

import (
	"time"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Values used by the samples, for tests that need to name them.
const (
	SampleHostNQN  = "nqn.2014-08.org.nvmexpress:uuid:3e518ec3-72ec-46a5-a603-2510e3140e29"
	SampleHostID   = "3e518ec3-72ec-46a5-a603-2510e3140e29"
	SampleSubNQN   = "klingons"
	SampleDellNQN  = "nqn.1988-11.com.dell:SFSS:2:20220208134025e8"
	SampleSecret   = "DHHC-1:00:3ePtWGR0rLHpfpakc+TzRwpxV2wDfp9lKSvUtCklvSvQWsrX:"
	SampleSymname  = "Bart-Simpson"
	SampleDCDevice = "nvme0"
)

// SampleDC1 is a DC found by mDNS on ::1 (nvme-stas's §5.2 example), connected as nvme0.
var SampleDC1 = tid.New(tid.TID{Transport: tid.TCP, Traddr: "::1", SubsysNQN: "nqn.2014-08.org.nvmexpress.discovery",
	HostNQN: SampleHostNQN}, tid.Discovery, false)

// SampleDC2 is a configured DC that is not connected, with a kato and a DH-HMAC-CHAP
// secret from its controller= entry.
var SampleDC2 = tid.New(tid.TID{Transport: tid.TCP, Traddr: "10.10.10.10", SubsysNQN: SampleDellNQN,
	HostTraddr: "1.2.3.4", HostIface: "wlp0s20f3", HostNQN: SampleHostNQN}, tid.Discovery, false)

// SampleLogPageEntry is the log page entry of nvme-stas's `stafctl dlp` example.
func SampleLogPageEntry() map[string]string {
	return map[string]string{
		"adrfam": "ipv6", "asqsz": "32", "cntlid": "65535", "eflags": "0", "portid": "1", "subnqn": SampleSubNQN,
		"subtype": "nvme", "traddr": "::1", "treq": "disable sqflow", "trsvcid": "8009", "trtype": "tcp",
		"tsas": "{'sectype': 'none'}",
	}
}

func sampleReferral() map[string]string {
	return map[string]string{
		"adrfam": "ipv4", "asqsz": "32", "cntlid": "65535", "eflags": "0", "portid": "2",
		"subnqn": "nqn.2014-08.org.nvmexpress.discovery", "subtype": "referral", "traddr": "10.10.10.10",
		"treq": "not specified", "trsvcid": "8009", "trtype": "tcp", "tsas": "{'sectype': 'none'}",
	}
}

func sampleProcessInfo(avahi bool) dbusapi.ProcessInfo {
	sym := SampleSymname
	p := dbusapi.ProcessInfo{
		HostNQN: SampleHostNQN, HostID: SampleHostID, HostKeySet: true, Symname: &sym,
		LastKnownConfigFile:  "/run/stafd/last-known-config.json",
		ConfigSoakTimer:      dbusapi.TimerString(1500*time.Millisecond, false, 0),
		KernelTP8013:         true,
		KernelHostIface:      true,
		TerminatorAuditTimer: dbusapi.TimerString(30*time.Second, false, 0),
	}
	if avahi {
		p.Avahi = &dbusapi.AvahiState{
			WakeUpTimer:  dbusapi.TimerString(60*time.Second, false, 0),
			ServiceTypes: []string{"_nvme-disc._tcp", "_nvme-disc._udp"},
			Services: []dbusapi.AvahiService{{
				Interface: "lo", Protocol: "IPv6", Name: "nvmet", Domain: "local", Type: "_nvme-disc._tcp",
				Transport: "tcp", Traddr: "::1", Trsvcid: "8009", HostIface: "lo",
				SubsysNQN: "nqn.2014-08.org.nvmexpress.discovery", Reachable: true,
			}},
		}
	} else {
		p.Symname = nil
		p.HostKeySet = false
		p.LastKnownConfigFile = "/run/stacd/last-known-config.json"
	}
	return p
}

// SampleStafd returns a fake stafd with two DCs: SampleDC1 (discovered, connected, one
// I/O subsystem and one referral in its log page) and SampleDC2 (configured, trying to
// connect, no log page).
func SampleStafd() *FakeStafd {
	done := false
	dc1 := dbusapi.Controller{
		TID: SampleDC1, Device: SampleDCDevice,
		RetryConnectTimer: dbusapi.TimerString(60*time.Second, false, 0),
		DC: &dbusapi.DCState{
			Origin:              dbusapi.OriginDiscovered,
			UnresponsiveTimer:   dbusapi.TimerString(0, false, 0),
			UnresponsiveTimeout: dbusapi.UnresponsiveTimeout(72 * time.Hour),
			UnresponsiveTime:    dbusapi.UnresponsiveSince(time.Time{}),
			GetLogPage:          &dbusapi.Operation{Completed: &done, Alive: true},
		},
		Sysfs: dbusapi.SysfsAttributes{HostID: SampleHostID, HostNQN: SampleHostNQN, Model: "Linux",
			Serial: "8d22fa96da912fb13f5a", DCType: "ddc", CntrlType: "discovery"},
		Connected: true,
	}
	dc2 := dbusapi.Controller{
		TID:               SampleDC2,
		Config:            []dbusapi.Option{{Key: "kato", Value: "30"}, {Key: "dhchap-secret", Value: SampleSecret}},
		ConnectAttempts:   1,
		RetryConnectTimer: dbusapi.TimerString(60*time.Second, false, 0),
		Connect:           &dbusapi.Operation{Completed: &done, Alive: true},
		DC:                &dbusapi.DCState{Origin: dbusapi.OriginConfigured},
	}
	return NewFakeStafd([]dbusapi.DCLogPages{
		{Controller: dc1, LogPages: []map[string]string{SampleLogPageEntry(), sampleReferral()}},
		{Controller: dc2},
	}, sampleProcessInfo(true))
}

// SampleIOC1 is an I/O controller from SampleDC1's log page, connected as nvme1.
var SampleIOC1 = tid.New(tid.TID{Transport: tid.TCP, Traddr: "::1", Trsvcid: "8009", SubsysNQN: SampleSubNQN,
	HostNQN: SampleHostNQN}, tid.IO, false)

// SampleIOC2 is a configured I/O controller that is not connected, with a controller
// secret.
var SampleIOC2 = tid.New(tid.TID{Transport: tid.TCP, Traddr: "192.168.1.50", SubsysNQN: "nqn.2014-08.org.example:storage",
	HostNQN: SampleHostNQN}, tid.IO, false)

// SampleStacd returns a fake stacd with SampleIOC1 and SampleIOC2.
func SampleStacd() *FakeStacd {
	failed := false
	ioc1 := dbusapi.Controller{
		TID: SampleIOC1, Device: "nvme1",
		RetryConnectTimer: dbusapi.TimerString(60*time.Second, false, 0),
		IOC:               &dbusapi.IOCState{DLPE: SampleLogPageEntry()},
		Sysfs: dbusapi.SysfsAttributes{HostID: SampleHostID, HostNQN: SampleHostNQN, Model: "Linux",
			Serial: "8d22fa96da912fb13f5a", DCType: "none", CntrlType: "io"},
		Connected: true,
	}
	ioc2 := dbusapi.Controller{
		TID:               SampleIOC2,
		Config:            []dbusapi.Option{{Key: "dhchap-ctrl-secret", Value: SampleSecret}},
		ConnectAttempts:   2,
		RetryConnectTimer: dbusapi.TimerString(60*time.Second, true, 42500*time.Millisecond),
		Connect:           &dbusapi.Operation{FailCount: 2, Completed: &failed, Alive: true, Error: "Connection refused"},
		IOC:               &dbusapi.IOCState{},
	}
	return NewFakeStacd([]dbusapi.Controller{ioc1, ioc2}, sampleProcessInfo(false))
}
