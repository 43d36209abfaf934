// SPDX-License-Identifier: Apache-2.0

package uevent

import (
	"path"
	"strconv"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// Source says which netlink group a message came from.
type Source int

// The two framings.
const (
	// SourceKernel is the kernel's own message (group 1), sent before udev rules run.
	SourceKernel Source = iota + 1
	// SourceUdev is systemd-udevd's rebroadcast (group 2), sent after its rules ran.
	SourceUdev
)

// String names the source.
func (s Source) String() string {
	switch s {
	case SourceKernel:
		return "kernel"
	case SourceUdev:
		return "udev"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Action is a uevent's ACTION.
type Action string

// The kernel's actions (kobject_actions[] in lib/kobject_uevent.c).
const (
	ActionAdd     Action = "add"
	ActionRemove  Action = "remove"
	ActionChange  Action = "change"
	ActionMove    Action = "move"
	ActionOnline  Action = "online"
	ActionOffline Action = "offline"
	ActionBind    Action = "bind"
	ActionUnbind  Action = "unbind"
)

// Event is one parsed uevent.
type Event struct {
	Source    Source
	Action    Action
	DevPath   string // e.g. /devices/virtual/nvme-fabrics/ctl/nvme0
	Subsystem string // e.g. nvme
	// DevName is DEVNAME as sent: "nvme0" from the kernel, "/dev/nvme0" from udevd.
	DevName string
	// Seqnum is SEQNUM, 0 when absent.
	Seqnum uint64
	// Env holds every variable, including the ones above.
	Env map[string]string
}

// NVMeKind says what an event on an NVMe controller means.
type NVMeKind int

// The kinds of NVMe controller events.
const (
	// NVMeOther is an action other than add, remove and change (bind, move, …).
	NVMeOther NVMeKind = iota
	// NVMeAdd: the controller device was registered, during the connect.
	NVMeAdd
	// NVMeRemove: the controller was deleted.
	NVMeRemove
	// NVMeAEN: a change event with NVME_AEN; NVMeEvent.AEN holds the value.
	NVMeAEN
	// NVMeConnected: a change event with NVME_EVENT=connected, after every (re)connect.
	NVMeConnected
	// NVMeRediscover: a change event with NVME_EVENT=rediscover, on a discovery
	// controller's reconnect.
	NVMeRediscover
	// NVMeChange: any other change event.
	NVMeChange
)

// String names the kind.
func (k NVMeKind) String() string {
	switch k {
	case NVMeOther:
		return "other"
	case NVMeAdd:
		return "add"
	case NVMeRemove:
		return "remove"
	case NVMeAEN:
		return "aen"
	case NVMeConnected:
		return "connected"
	case NVMeRediscover:
		return "rediscover"
	case NVMeChange:
		return "change"
	}
	return "NVMeKind(" + strconv.Itoa(int(k)) + ")"
}

// NVMeEvent is the NVMe view of an event on a controller (SUBSYSTEM=nvme).
type NVMeEvent struct {
	// Device is the controller's name, "nvme<Instance>".
	Device   string
	Instance int
	Kind     NVMeKind
	// AEN is the NVME_AEN value when Kind is NVMeAEN.
	AEN nvme.AEN
	// The controller's address from NVME_TRTYPE, NVME_TRADDR, NVME_TRSVCID,
	// NVME_HOST_TRADDR and NVME_HOST_IFACE, with "none" given as "".
	Transport  string
	TrAddr     string
	TrSvcID    string
	HostTrAddr string
	HostIface  string
}

// IsDiscoveryLogChange reports whether the event is the AEN telling that a discovery
// controller's log page changed.
func (n NVMeEvent) IsDiscoveryLogChange() bool {
	return n.Kind == NVMeAEN && n.AEN == nvme.AENDiscoveryLogChanged
}

// NVMe returns the NVMe view of an event on an NVMe controller. ok is false for other
// subsystems and for names that are not "nvme<N>". A change event whose NVME_AEN cannot
// be parsed is NVMeChange.
func (e Event) NVMe() (n NVMeEvent, ok bool) {
	if e.Subsystem != "nvme" {
		return NVMeEvent{}, false
	}
	name := path.Base(e.DevName)
	if e.DevName == "" {
		name = path.Base(e.DevPath)
	}
	instance, ok := nvme.ControllerInstance(name)
	if !ok {
		return NVMeEvent{}, false
	}
	n = NVMeEvent{
		Device:     name,
		Instance:   instance,
		Transport:  noneIsEmpty(e.Env["NVME_TRTYPE"]),
		TrAddr:     noneIsEmpty(e.Env["NVME_TRADDR"]),
		TrSvcID:    noneIsEmpty(e.Env["NVME_TRSVCID"]),
		HostTrAddr: noneIsEmpty(e.Env["NVME_HOST_TRADDR"]),
		HostIface:  noneIsEmpty(e.Env["NVME_HOST_IFACE"]),
	}
	switch e.Action {
	case ActionAdd:
		n.Kind = NVMeAdd
	case ActionRemove:
		n.Kind = NVMeRemove
	case ActionChange:
		n.Kind = NVMeChange
		if s, has := e.Env["NVME_AEN"]; has {
			if aen, err := nvme.ParseAEN(s); err == nil {
				n.Kind, n.AEN = NVMeAEN, aen
			}
		} else {
			switch e.Env["NVME_EVENT"] {
			case "connected":
				n.Kind = NVMeConnected
			case "rediscover":
				n.Kind = NVMeRediscover
			}
		}
	default:
		n.Kind = NVMeOther
	}
	return n, true
}

func noneIsEmpty(s string) string {
	if s == "none" {
		return ""
	}
	return s
}
