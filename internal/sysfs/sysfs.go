// SPDX-License-Identifier: Apache-2.0

// Package sysfs owns the kernel's sysfs view of NVMe controllers and subsystems
// (/sys/class/nvme, /sys/class/nvme-subsystem): their attributes, the variables of their
// uevent files, the devices below them, and the rules that tell a discovery controller
// from an I/O controller. It reads through an fs.FS rooted at /sys, so tests use fixtures;
// production code passes os.DirFS(Root).
//
// sysfs changes under the reader's feet: a controller may disappear between listing and
// reading. Attributes an older kernel lacks, or that cannot be read, are empty strings;
// a controller whose directory is gone is skipped by ReadControllers.
package sysfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/nvme"
)

// Root is where sysfs is mounted.
const Root = "/sys"

// Directories below Root.
const (
	ClassNVMe      = "class/nvme"
	ClassSubsystem = "class/nvme-subsystem"
)

// maxAttrLen bounds one read; sysfs attributes are at most a page.
const maxAttrLen = 64 << 10

// ErrInvalidName is returned for a controller name that is not "nvme<N>".
var ErrInvalidName = errors.New("not an NVMe controller name")

// FS returns the production file system, os.DirFS(Root).
func FS() fs.FS { return os.DirFS(Root) }

// Controller is what sysfs says about one NVMe controller (/sys/class/nvme/nvmeN). Text
// attributes are trimmed of surrounding white space; an attribute the kernel does not
// have (cntrltype and dctype before 5.18, for example) or that could not be read is "".
// DH-HMAC-CHAP and TLS key attributes are never read.
type Controller struct {
	// Name is the device name, "nvme<Instance>".
	Name     string
	Instance int
	// Transport is "tcp", "rdma", "fc", "loop" or "pcie" (or another driver's name).
	Transport string
	// AddressText is the address attribute as read: the fabrics form
	// "traddr=…,trsvcid=…[,host_traddr=…][,host_iface=…][,src_addr=…]", or a PCIe bus
	// address.
	AddressText string
	// Address is AddressText parsed, for a fabrics controller; the zero value for a PCIe
	// controller or when the attribute is missing or malformed.
	Address fabrics.Address
	// SubsysNQN is the NQN the controller reported (a discovery controller's unique NQN
	// when it has one).
	SubsysNQN string
	// State is "new", "live", "resetting", "connecting", "deleting", "deleting (no IO)" or
	// "dead".
	State string
	// CntrlType is "io", "discovery", "admin" or "reserved" (kernel 5.18 and later).
	CntrlType string
	// DCType is "none", "ddc", "cdc" or "reserved" (kernel 5.18 and later).
	DCType  string
	HostNQN string
	// HostID is the host identifier, lower-case 8-4-4-4-12.
	HostID string
	// Kato is the keep-alive timeout in seconds.
	Kato string
	// QueueCount is 1 + the number of I/O queues.
	QueueCount     string
	SQSize         string
	CntlID         string
	Model          string
	Serial         string
	FirmwareRev    string
	NUMANode       string
	CtrlLossTmo    string
	ReconnectDelay string
	FastIOFailTmo  string
	// Uevent holds the variables of the controller's uevent file: MAJOR, MINOR, DEVNAME
	// and, for fabrics controllers, NVME_TRTYPE, NVME_TRADDR, NVME_TRSVCID,
	// NVME_HOST_TRADDR and NVME_HOST_IFACE. Never nil.
	Uevent map[string]string
	// Children names the devices directly below the controller, sorted: its namespace
	// paths (nvme0c0n1 with native multipath, nvme0n1 without), their generic character
	// devices (ng0n1) and its hwmon device. A discovery controller has none.
	Children []string
	// Namespaces is the subset of Children that are namespace block devices.
	Namespaces []string
	// Subsystem is the name of the nvme-subsystem the controller belongs to
	// ("nvme-subsys0"), "" if none lists it.
	Subsystem string
	// SubsysType is that subsystem's subsystype: "nvm" or "discovery" (kernel 5.16 and
	// later).
	SubsysType string
}

// UeventAddress is a controller's address as its uevent variables give it, with the
// kernel's "none" given as "".
type UeventAddress struct {
	Transport  string
	TrAddr     string
	TrSvcID    string
	HostTrAddr string
	HostIface  string
}

// UeventAddress returns the NVME_* address variables of the uevent file.
func (c Controller) UeventAddress() UeventAddress {
	return UeventAddress{
		Transport:  noneIsEmpty(c.Uevent["NVME_TRTYPE"]),
		TrAddr:     noneIsEmpty(c.Uevent["NVME_TRADDR"]),
		TrSvcID:    noneIsEmpty(c.Uevent["NVME_TRSVCID"]),
		HostTrAddr: noneIsEmpty(c.Uevent["NVME_HOST_TRADDR"]),
		HostIface:  noneIsEmpty(c.Uevent["NVME_HOST_IFACE"]),
	}
}

func noneIsEmpty(s string) string {
	if s == "none" {
		return ""
	}
	return s
}

// IsFabrics reports whether the controller was created through /dev/nvme-fabrics.
func (c Controller) IsFabrics() bool {
	switch fabrics.Transport(c.Transport) {
	case fabrics.TransportTCP, fabrics.TransportRDMA, fabrics.TransportFC, fabrics.TransportLoop:
		return true
	}
	return false
}

// IsLive reports whether the controller's state is "live".
func (c Controller) IsLive() bool { return c.State == "live" }

// IsDiscovery reports whether the controller is a discovery controller. nvme-stas's rule
// ("Is DC device") is: the subsystem NQN is the well-known discovery NQN, or cntrltype is
// "discovery", or the controller has no child devices. The last, a guess for kernels
// before 5.18, is applied here only when the kernel gives no better answer: a cntrltype of
// "io" or "admin", or a subsystype, is believed, so that an I/O controller without
// namespaces (and without hwmon) is not taken for a discovery controller listening on the
// same port.
func (c Controller) IsDiscovery() bool {
	if c.SubsysNQN == nqn.WellKnownDiscovery {
		return true
	}
	switch c.CntrlType {
	case "discovery":
		return true
	case "io", "admin":
		return false
	}
	// cntrltype is missing (before 5.18) or "reserved" (the target did not report it, or
	// Identify has not run yet).
	switch c.SubsysType {
	case "discovery":
		return true
	case "nvm":
		return false
	}
	return len(c.Children) == 0
}

// IsIO reports whether the controller is an I/O controller. nvme-stas's rule ("Is IOC
// device") is: cntrltype is "io", or the controller has child devices. Here it is the
// opposite of IsDiscovery, except that an administrative controller is neither.
func (c Controller) IsIO() bool {
	return c.CntrlType != "admin" && !c.IsDiscovery()
}

// ControllerInstance returns N of a controller name "nvme<N>" (decimal, no leading zero).
func ControllerInstance(name string) (int, bool) { return nvme.ControllerInstance(name) }

// attributes maps Controller fields to sysfs attribute names.
func (c *Controller) attributes() []struct {
	name string
	dst  *string
} {
	return []struct {
		name string
		dst  *string
	}{
		{"transport", &c.Transport},
		{"address", &c.AddressText},
		{"subsysnqn", &c.SubsysNQN},
		{"state", &c.State},
		{"cntrltype", &c.CntrlType},
		{"dctype", &c.DCType},
		{"hostnqn", &c.HostNQN},
		{"hostid", &c.HostID},
		{"kato", &c.Kato},
		{"queue_count", &c.QueueCount},
		{"sqsize", &c.SQSize},
		{"cntlid", &c.CntlID},
		{"model", &c.Model},
		{"serial", &c.Serial},
		{"firmware_rev", &c.FirmwareRev},
		{"numa_node", &c.NUMANode},
		{"ctrl_loss_tmo", &c.CtrlLossTmo},
		{"reconnect_delay", &c.ReconnectDelay},
		{"fast_io_fail_tmo", &c.FastIOFailTmo},
	}
}

// ReadController reads one controller by name ("nvme3"). If the controller does not
// exist, or disappears while it is read, the error wraps fs.ErrNotExist.
func ReadController(fsys fs.FS, name string) (Controller, error) {
	if _, ok := ControllerInstance(name); !ok {
		return Controller{}, fmt.Errorf("read controller %q: %w", name, ErrInvalidName)
	}
	subsystems, err := ReadSubsystems(fsys)
	if err != nil {
		return Controller{}, fmt.Errorf("read controller %s: %w", name, err)
	}
	return readController(fsys, name, subsystemIndex(subsystems))
}

// ReadControllers reads every controller, sorted by instance. Controllers that disappear
// during the scan are left out. No nvme module loaded (no class/nvme) gives an empty list.
func ReadControllers(fsys fs.FS) ([]Controller, error) {
	entries, err := fs.ReadDir(fsys, ClassNVMe)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list NVMe controllers: %w", err)
	}
	subsystems, err := ReadSubsystems(fsys)
	if err != nil {
		return nil, fmt.Errorf("list NVMe controllers: %w", err)
	}
	index := subsystemIndex(subsystems)
	var ctrls []Controller
	for _, e := range entries {
		// Entries are symbolic links into /sys/devices; don't filter on the type.
		if _, ok := ControllerInstance(e.Name()); !ok {
			continue
		}
		c, err := readController(fsys, e.Name(), index)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		ctrls = append(ctrls, c)
	}
	slices.SortFunc(ctrls, func(a, b Controller) int { return a.Instance - b.Instance })
	return ctrls, nil
}

// readController reads name, which must be valid; index maps controller names to their
// subsystems.
func readController(fsys fs.FS, name string, index map[string]*Subsystem) (Controller, error) {
	dir := path.Join(ClassNVMe, name)
	if _, err := fs.Stat(fsys, dir); err != nil {
		return Controller{}, fmt.Errorf("read controller %s: %w", name, err)
	}
	c := Controller{Name: name}
	c.Instance, _ = ControllerInstance(name)
	for _, a := range c.attributes() {
		*a.dst = readAttr(fsys, dir, a.name)
	}
	if a, err := fabrics.ParseAddress(c.AddressText); err == nil && c.IsFabrics() {
		c.Address = a
	}
	c.Uevent = parseUeventFile(readRaw(fsys, path.Join(dir, "uevent")))
	c.Children, c.Namespaces = children(fsys, dir)
	if s := index[name]; s != nil {
		c.Subsystem, c.SubsysType = s.Name, s.Type
	}
	// A controller deleted while it was read leaves empty attributes behind; say it is
	// gone rather than return them.
	if _, err := fs.Stat(fsys, dir); err != nil {
		return Controller{}, fmt.Errorf("read controller %s: %w", name, err)
	}
	return c, nil
}

// readRaw reads a file, or returns nil if it cannot.
func readRaw(fsys fs.FS, name string) []byte {
	f, err := fsys.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAttrLen))
	if err != nil {
		return nil
	}
	return b
}

// readAttr reads one attribute, trimmed; "" if it is missing or unreadable.
func readAttr(fsys fs.FS, dir, attr string) string {
	return string(bytes.TrimSpace(readRaw(fsys, path.Join(dir, attr))))
}

// parseUeventFile parses the "KEY=VALUE" lines of a sysfs uevent file.
func parseUeventFile(b []byte) map[string]string {
	env := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r"), "=")
		if !ok || key == "" {
			continue
		}
		env[key] = value
	}
	return env
}

// children lists the device directories (those with a uevent file) directly below dir,
// and which of them are namespace block devices. Attribute groups such as power/ have no
// uevent file; links such as device and subsystem point elsewhere.
func children(fsys fs.FS, dir string) (all, namespaces []string) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(dir, e.Name(), "uevent")); err != nil {
			continue
		}
		all = append(all, e.Name())
		if IsNamespaceName(e.Name()) {
			namespaces = append(namespaces, e.Name())
		}
	}
	return all, namespaces
}

// IsNamespaceName reports whether name is a namespace block device: "nvme<N>n<M>" (a
// namespace, or a multipath head) or "nvme<N>c<C>n<M>" (one path of a multipath
// namespace).
func IsNamespaceName(name string) bool {
	rest, ok := strings.CutPrefix(name, "nvme")
	if !ok {
		return false
	}
	rest, ok = cutNumber(rest)
	if !ok {
		return false
	}
	if r, ok := strings.CutPrefix(rest, "c"); ok {
		if rest, ok = cutNumber(r); !ok {
			return false
		}
	}
	rest, ok = strings.CutPrefix(rest, "n")
	if !ok {
		return false
	}
	rest, ok = cutNumber(rest)
	return ok && rest == ""
}

// cutNumber removes a leading decimal number.
func cutNumber(s string) (rest string, ok bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[i:], i > 0
}
