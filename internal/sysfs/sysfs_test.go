// SPDX-License-Identifier: Apache-2.0

package sysfs

import (
	"errors"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nqn"
)

const (
	hostNQN = "nqn.2014-08.org.nvmexpress:uuid:3e518ec3-72ec-46a5-a603-2510e3140e29"
	hostID  = "3e518ec3-72ec-46a5-a603-2510e3140e29"
)

// fixture builds a MapFS rooted at /sys.
type fixture fstest.MapFS

func (f fixture) file(name, data string) { f[name] = &fstest.MapFile{Data: []byte(data), Mode: 0o444} }

func (f fixture) link(name, target string) {
	f[name] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
}

func (f fixture) dir(name string) { f[name] = &fstest.MapFile{Mode: fs.ModeDir | 0o755} }

// attrs writes attributes into dir, each ending in "\n" as the kernel prints them.
func (f fixture) attrs(dir string, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		f.file(dir+"/"+kv[i], kv[i+1]+"\n")
	}
}

// childDevice adds a device directory below a controller, as the driver core creates it.
func (f fixture) childDevice(dir, name string) {
	f.file(dir+"/"+name+"/uevent", "MAJOR=259\nMINOR=1\nDEVNAME="+name+"\nDEVTYPE=disk\n")
	f.file(dir+"/"+name+"/dev", "259:1\n")
	f.dir(dir + "/" + name + "/power")
}

// controllerCommon writes what every 6.1 controller directory holds besides its
// attributes: dev, power/ and the write-only files.
func (f fixture) controllerCommon(dir string, minor string) {
	f.file(dir+"/dev", "241:"+minor+"\n")
	f.file(dir+"/power/control", "auto\n")
	f.file(dir+"/power/runtime_status", "unsupported\n")
	f.file(dir+"/delete_controller", "")
	f.file(dir+"/reset_controller", "")
	f.file(dir+"/rescan_controller", "")
	f.link(dir+"/subsystem", "../../../../../class/nvme")
}

// kernel61 is a Debian 12 (6.1) host with a discovery controller (nvme0), a TCP I/O
// controller with a namespace (nvme1), a PCIe controller (nvme2) and a dangling link left
// by a controller deleted during the listing (nvme5).
func kernel61() fixture {
	f := fixture{}
	const ctl = "devices/virtual/nvme-fabrics/ctl"
	const subsys = "devices/virtual/nvme-subsystem"
	f.file(ctl+"/uevent", "MAJOR=10\nMINOR=122\nDEVNAME=nvme-fabrics\n")

	// nvme0: discovery controller, well-known NQN, its own subsystem.
	dc := ctl + "/nvme0"
	f.controllerCommon(dc, "0")
	f.attrs(dc,
		"transport", "tcp",
		"address", "traddr=192.168.1.10,trsvcid=8009,host_iface=eth0,src_addr=192.168.1.2",
		"subsysnqn", nqn.WellKnownDiscovery,
		"state", "live",
		"cntrltype", "discovery",
		"dctype", "none",
		"hostnqn", hostNQN,
		"hostid", hostID,
		"kato", "30",
		"queue_count", "1",
		"sqsize", "31",
		"cntlid", "1",
		"model", "Linux",
		"serial", "8d22fa96da912fb13f5a",
		"firmware_rev", "6.1.0-18",
		"numa_node", "-1",
		"ctrl_loss_tmo", "600",
		"reconnect_delay", "10",
		"fast_io_fail_tmo", "off",
		"dhchap_secret", "none",
		"dhchap_ctrl_secret", "none",
	)
	f.file(dc+"/uevent", "MAJOR=241\nMINOR=0\nDEVNAME=nvme0\nNVME_TRTYPE=tcp\nNVME_TRADDR=192.168.1.10\n"+
		"NVME_TRSVCID=8009\nNVME_HOST_TRADDR=none\nNVME_HOST_IFACE=eth0\n")
	f.link("class/nvme/nvme0", "../../"+dc)
	f.attrs(subsys+"/nvme-subsys0", "subsysnqn", nqn.WellKnownDiscovery, "subsystype", "discovery",
		"model", "Linux", "serial", "8d22fa96da912fb13f5a", "firmware_rev", "6.1.0-18", "iopolicy", "numa")
	f.file(subsys+"/nvme-subsys0/uevent", "")
	f.link(subsys+"/nvme-subsys0/nvme0", "../../nvme-fabrics/ctl/nvme0")
	f.link("class/nvme-subsystem/nvme-subsys0", "../../"+subsys+"/nvme-subsys0")

	// nvme1: I/O controller with one namespace (native multipath: the path nvme1c1n1 and
	// the generic device ng1n1 below the controller, the head nvme1n1 below the
	// subsystem) and a hwmon device.
	ioc := ctl + "/nvme1"
	f.controllerCommon(ioc, "1")
	f.attrs(ioc,
		"transport", "tcp",
		"address", "traddr=192.168.1.10,trsvcid=4420,host_traddr=192.168.1.2,src_addr=192.168.1.2",
		"subsysnqn", "klingons",
		"state", "live",
		"cntrltype", "io",
		"dctype", "none",
		"hostnqn", hostNQN,
		"hostid", hostID,
		"kato", "5",
		"queue_count", "5",
		"sqsize", "127",
		"cntlid", "2",
		"model", "Linux",
		"serial", "2f1d2c2b3a4d5e6f7a8b",
		"firmware_rev", "6.1.0-18",
		"numa_node", "-1",
		"ctrl_loss_tmo", "off",
		"reconnect_delay", "10",
		"fast_io_fail_tmo", "off",
	)
	f.file(ioc+"/uevent", "MAJOR=241\nMINOR=1\nDEVNAME=nvme1\nNVME_TRTYPE=tcp\nNVME_TRADDR=192.168.1.10\n"+
		"NVME_TRSVCID=4420\nNVME_HOST_TRADDR=192.168.1.2\nNVME_HOST_IFACE=none\n")
	f.childDevice(ioc, "nvme1c1n1")
	f.childDevice(ioc, "ng1n1")
	f.childDevice(ioc, "hwmon2")
	f.link("class/nvme/nvme1", "../../"+ioc)
	f.attrs(subsys+"/nvme-subsys1", "subsysnqn", "klingons", "subsystype", "nvm", "model", "Linux",
		"serial", "2f1d2c2b3a4d5e6f7a8b", "firmware_rev", "6.1.0-18", "iopolicy", "numa")
	f.file(subsys+"/nvme-subsys1/uevent", "")
	f.link(subsys+"/nvme-subsys1/nvme1", "../../nvme-fabrics/ctl/nvme1")
	f.childDevice(subsys+"/nvme-subsys1", "nvme1n1")
	f.link("class/nvme-subsystem/nvme-subsys1", "../../"+subsys+"/nvme-subsys1")

	// nvme2: PCIe controller, no multipath: the namespace sits below the controller.
	pci := "devices/pci0000:00/0000:00:04.0"
	pc := pci + "/nvme/nvme2"
	f.file(pci+"/uevent", "DRIVER=nvme\nPCI_CLASS=10802\n")
	f.controllerCommon(pc, "2")
	f.attrs(pc,
		"transport", "pcie",
		"address", "0000:00:04.0",
		"subsysnqn", "nqn.2019-08.org.qemu:deadbeef",
		"state", "live",
		"cntrltype", "io",
		"dctype", "none",
		"hostnqn", hostNQN,
		"hostid", hostID,
		"kato", "0",
		"queue_count", "3",
		"sqsize", "1023",
		"cntlid", "0",
		"model", "QEMU NVMe Ctrl",
		"serial", "deadbeef",
		"firmware_rev", "8.0.0",
		"numa_node", "-1",
	)
	f.file(pc+"/uevent", "MAJOR=241\nMINOR=2\nDEVNAME=nvme2\nNVME_TRTYPE=pcie\n")
	f.link(pc+"/device", "../../../0000:00:04.0")
	f.childDevice(pc, "nvme2n1")
	f.childDevice(pc, "ng2n1")
	f.link("class/nvme/nvme2", "../../"+pc)
	f.attrs(subsys+"/nvme-subsys2", "subsysnqn", "nqn.2019-08.org.qemu:deadbeef", "subsystype", "nvm", "iopolicy", "numa")
	f.link(subsys+"/nvme-subsys2/nvme2", "../../../pci0000:00/0000:00:04.0/nvme/nvme2")
	f.link("class/nvme-subsystem/nvme-subsys2", "../../"+subsys+"/nvme-subsys2")

	// nvme5: its device directory is gone, the class link not yet.
	f.link("class/nvme/nvme5", "../../"+ctl+"/nvme5")
	// Not controllers.
	f.file("class/nvme/README", "")
	f.dir("class/nvme-subsystem/lost+found")
	return f
}

// kernel510 is a Debian 11 (5.10) host: no cntrltype, dctype, subsystype, src_addr or
// NVME_HOST_IFACE. nvme3 is an I/O controller with a namespace, nvme4 a discovery
// controller with a unique NQN.
func kernel510() fixture {
	f := fixture{}
	const ctl = "devices/virtual/nvme-fabrics/ctl"
	ioc := ctl + "/nvme3"
	f.controllerCommon(ioc, "3")
	f.attrs(ioc, "transport", "tcp", "address", "traddr=10.0.0.5,trsvcid=4420", "subsysnqn", "nqn.2014-08.org.example:vulcans",
		"state", "live", "hostnqn", hostNQN, "hostid", hostID, "kato", "5", "queue_count", "3", "sqsize", "127",
		"cntlid", "1", "model", "Linux", "serial", "0123456789", "firmware_rev", "5.10.0-2", "numa_node", "-1")
	f.file(ioc+"/uevent", "MAJOR=243\nMINOR=3\nDEVNAME=nvme3\nNVME_TRTYPE=tcp\nNVME_TRADDR=10.0.0.5\n"+
		"NVME_TRSVCID=4420\nNVME_HOST_TRADDR=none\n")
	f.childDevice(ioc, "nvme3c3n1")
	f.link("class/nvme/nvme3", "../../"+ioc)

	dc := ctl + "/nvme4"
	f.controllerCommon(dc, "4")
	f.attrs(dc, "transport", "tcp", "address", "traddr=10.0.0.6,trsvcid=8009", "subsysnqn", "nqn.2014-08.org.example:cdc",
		"state", "connecting", "hostnqn", hostNQN, "hostid", hostID, "kato", "30", "queue_count", "1")
	f.file(dc+"/uevent", "MAJOR=243\nMINOR=4\nDEVNAME=nvme4\nNVME_TRTYPE=tcp\nNVME_TRADDR=10.0.0.6\n"+
		"NVME_TRSVCID=8009\nNVME_HOST_TRADDR=none\n")
	f.link("class/nvme/nvme4", "../../"+dc)
	return f
}

func TestReadControllers61(t *testing.T) {
	ctrls, err := ReadControllers(fstest.MapFS(kernel61()))
	if err != nil {
		t.Fatalf("ReadControllers: %v", err)
	}
	var names []string
	for _, c := range ctrls {
		names = append(names, c.Name)
	}
	if want := []string{"nvme0", "nvme1", "nvme2"}; !slices.Equal(names, want) {
		t.Fatalf("controllers = %v, want %v (nvme5 is gone)", names, want)
	}

	dc := ctrls[0]
	wantDC := Controller{
		Name: "nvme0", Instance: 0, Transport: "tcp",
		AddressText: "traddr=192.168.1.10,trsvcid=8009,host_iface=eth0,src_addr=192.168.1.2",
		Address:     fabrics.Address{TrAddr: "192.168.1.10", TrSvcID: "8009", HostIface: "eth0", SrcAddr: "192.168.1.2"},
		SubsysNQN:   nqn.WellKnownDiscovery, State: "live", CntrlType: "discovery", DCType: "none",
		HostNQN: hostNQN, HostID: hostID, Kato: "30", QueueCount: "1", SQSize: "31", CntlID: "1",
		Model: "Linux", Serial: "8d22fa96da912fb13f5a", FirmwareRev: "6.1.0-18", NUMANode: "-1",
		CtrlLossTmo: "600", ReconnectDelay: "10", FastIOFailTmo: "off",
		Subsystem: "nvme-subsys0", SubsysType: "discovery",
	}
	checkController(t, dc, wantDC)
	if want := (UeventAddress{Transport: "tcp", TrAddr: "192.168.1.10", TrSvcID: "8009", HostIface: "eth0"}); dc.UeventAddress() != want {
		t.Errorf("nvme0 UeventAddress = %+v, want %+v", dc.UeventAddress(), want)
	}
	if dc.Uevent["MAJOR"] != "241" || dc.Uevent["DEVNAME"] != "nvme0" || len(dc.Uevent) != 8 {
		t.Errorf("nvme0 Uevent = %v", dc.Uevent)
	}
	if len(dc.Children) != 0 || !dc.IsDiscovery() || dc.IsIO() || !dc.IsFabrics() || !dc.IsLive() {
		t.Errorf("nvme0: children %v, IsDiscovery %v, IsIO %v, IsFabrics %v, IsLive %v",
			dc.Children, dc.IsDiscovery(), dc.IsIO(), dc.IsFabrics(), dc.IsLive())
	}

	ioc := ctrls[1]
	checkController(t, ioc, Controller{
		Name: "nvme1", Instance: 1, Transport: "tcp",
		AddressText: "traddr=192.168.1.10,trsvcid=4420,host_traddr=192.168.1.2,src_addr=192.168.1.2",
		Address:     fabrics.Address{TrAddr: "192.168.1.10", TrSvcID: "4420", HostTrAddr: "192.168.1.2", SrcAddr: "192.168.1.2"},
		SubsysNQN:   "klingons", State: "live", CntrlType: "io", DCType: "none",
		HostNQN: hostNQN, HostID: hostID, Kato: "5", QueueCount: "5", SQSize: "127", CntlID: "2",
		Model: "Linux", Serial: "2f1d2c2b3a4d5e6f7a8b", FirmwareRev: "6.1.0-18", NUMANode: "-1",
		CtrlLossTmo: "off", ReconnectDelay: "10", FastIOFailTmo: "off",
		Children: []string{"hwmon2", "ng1n1", "nvme1c1n1"}, Namespaces: []string{"nvme1c1n1"},
		Subsystem: "nvme-subsys1", SubsysType: "nvm",
	})
	if want := (UeventAddress{Transport: "tcp", TrAddr: "192.168.1.10", TrSvcID: "4420", HostTrAddr: "192.168.1.2"}); ioc.UeventAddress() != want {
		t.Errorf("nvme1 UeventAddress = %+v, want %+v", ioc.UeventAddress(), want)
	}
	if ioc.IsDiscovery() || !ioc.IsIO() {
		t.Errorf("nvme1: IsDiscovery %v, IsIO %v", ioc.IsDiscovery(), ioc.IsIO())
	}

	pc := ctrls[2]
	checkController(t, pc, Controller{
		Name: "nvme2", Instance: 2, Transport: "pcie", AddressText: "0000:00:04.0",
		SubsysNQN: "nqn.2019-08.org.qemu:deadbeef", State: "live", CntrlType: "io", DCType: "none",
		HostNQN: hostNQN, HostID: hostID, Kato: "0", QueueCount: "3", SQSize: "1023", CntlID: "0",
		Model: "QEMU NVMe Ctrl", Serial: "deadbeef", FirmwareRev: "8.0.0", NUMANode: "-1",
		Children: []string{"ng2n1", "nvme2n1"}, Namespaces: []string{"nvme2n1"},
		Subsystem: "nvme-subsys2", SubsysType: "nvm",
	})
	if pc.IsFabrics() || pc.IsDiscovery() || !pc.IsIO() || (pc.UeventAddress() != UeventAddress{Transport: "pcie"}) {
		t.Errorf("nvme2: IsFabrics %v, IsDiscovery %v, IsIO %v, UeventAddress %+v",
			pc.IsFabrics(), pc.IsDiscovery(), pc.IsIO(), pc.UeventAddress())
	}
}

// checkController compares everything but Uevent, which each test checks itself.
func checkController(t *testing.T, got, want Controller) {
	t.Helper()
	if got.Uevent == nil {
		t.Errorf("%s: Uevent is nil", got.Name)
	}
	got.Uevent, want.Uevent = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", got.Name, got, want)
	}
}

func TestReadControllers510(t *testing.T) {
	ctrls, err := ReadControllers(fstest.MapFS(kernel510()))
	if err != nil || len(ctrls) != 2 {
		t.Fatalf("ReadControllers = %d controllers, %v; want 2", len(ctrls), err)
	}
	ioc, dc := ctrls[0], ctrls[1]
	if ioc.Name != "nvme3" || ioc.CntrlType != "" || ioc.DCType != "" || ioc.Subsystem != "" || ioc.SubsysType != "" ||
		ioc.CtrlLossTmo != "" || ioc.Address.SrcAddr != "" || ioc.Address.TrAddr != "10.0.0.5" {
		t.Errorf("nvme3 = %+v", ioc)
	}
	if !ioc.IsIO() || ioc.IsDiscovery() {
		t.Errorf("nvme3 (children %v): IsIO %v, IsDiscovery %v", ioc.Children, ioc.IsIO(), ioc.IsDiscovery())
	}
	if ioc.UeventAddress() != (UeventAddress{Transport: "tcp", TrAddr: "10.0.0.5", TrSvcID: "4420"}) {
		t.Errorf("nvme3 UeventAddress = %+v", ioc.UeventAddress())
	}
	if dc.Name != "nvme4" || dc.State != "connecting" || dc.Model != "" || !dc.IsDiscovery() || dc.IsIO() {
		t.Errorf("nvme4 = %+v, IsDiscovery %v, IsIO %v", dc, dc.IsDiscovery(), dc.IsIO())
	}
}

func TestReadController(t *testing.T) {
	fsys := fstest.MapFS(kernel61())
	c, err := ReadController(fsys, "nvme1")
	if err != nil || c.Name != "nvme1" || c.Subsystem != "nvme-subsys1" || c.SubsysNQN != "klingons" {
		t.Fatalf("ReadController(nvme1) = %+v, %v", c, err)
	}
	for _, name := range []string{"nvme5", "nvme9"} {
		if _, err := ReadController(fsys, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadController(%s) error = %v, want fs.ErrNotExist", name, err)
		}
	}
	for _, name := range []string{"", "nvme", "nvme01", "nvme-1", "nvme1n1", "../nvme1", "nvme1/..", "sda", "nvme12345678"} {
		if _, err := ReadController(fsys, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ReadController(%q) error = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestNoNVMe(t *testing.T) {
	fsys := fstest.MapFS{"class/net/lo/uevent": {Data: []byte("INTERFACE=lo\n")}}
	ctrls, err := ReadControllers(fsys)
	if err != nil || len(ctrls) != 0 {
		t.Errorf("ReadControllers = %v, %v; want none", ctrls, err)
	}
	subs, err := ReadSubsystems(fsys)
	if err != nil || len(subs) != 0 {
		t.Errorf("ReadSubsystems = %v, %v; want none", subs, err)
	}
	if _, err := ReadController(fsys, "nvme0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadController error = %v, want fs.ErrNotExist", err)
	}
}

func TestReadSubsystems(t *testing.T) {
	subs, err := ReadSubsystems(fstest.MapFS(kernel61()))
	if err != nil || len(subs) != 3 {
		t.Fatalf("ReadSubsystems = %+v, %v", subs, err)
	}
	want := Subsystem{Name: "nvme-subsys1", NQN: "klingons", Type: "nvm", Model: "Linux", Serial: "2f1d2c2b3a4d5e6f7a8b",
		FirmwareRev: "6.1.0-18", IOPolicy: "numa", Controllers: []string{"nvme1"}, Namespaces: []string{"nvme1n1"}}
	got := subs[1]
	if !slices.Equal(got.Controllers, want.Controllers) || !slices.Equal(got.Namespaces, want.Namespaces) {
		t.Errorf("subsystem members = %v %v, want %v %v", got.Controllers, got.Namespaces, want.Controllers, want.Namespaces)
	}
	got.Controllers, got.Namespaces, want.Controllers, want.Namespaces = nil, nil, nil, nil
	if got.Name != want.Name || got.NQN != want.NQN || got.Type != want.Type || got.Model != want.Model ||
		got.Serial != want.Serial || got.FirmwareRev != want.FirmwareRev || got.IOPolicy != want.IOPolicy {
		t.Errorf("subsystem = %+v, want %+v", got, want)
	}
	if subs[0].Type != "discovery" || subs[2].Name != "nvme-subsys2" {
		t.Errorf("subsystems = %+v", subs)
	}
}

func TestSubsystemOrderAndMembers(t *testing.T) {
	f := fixture{}
	for _, n := range []string{"nvme-subsys10", "nvme-subsys2", "nvme-subsys02", "nvme-subsysX"} {
		f.attrs("class/nvme-subsystem/"+n, "subsysnqn", "nqn.2014-08.org.example:"+n)
	}
	f.link("class/nvme-subsystem/nvme-subsys10/nvme12", "x")
	f.link("class/nvme-subsystem/nvme-subsys10/nvme3", "x")
	f.link("class/nvme-subsystem/nvme-subsys10/nvme-x", "x")
	subs, err := ReadSubsystems(fstest.MapFS(f))
	if err != nil || len(subs) != 2 || subs[0].Name != "nvme-subsys2" || subs[1].Name != "nvme-subsys10" {
		t.Fatalf("ReadSubsystems = %+v, %v", subs, err)
	}
	if !slices.Equal(subs[1].Controllers, []string{"nvme3", "nvme12"}) {
		t.Errorf("Controllers = %v", subs[1].Controllers)
	}
}

// vanishingFS deletes a controller the moment its state attribute has been read, as if
// the kernel removed it in the middle of the scan. It offers only Open, so every access
// goes through it.
type vanishingFS struct {
	m      fstest.MapFS
	victim string // e.g. "class/nvme/nvme1"
	gone   bool
}

func (v *vanishingFS) Open(name string) (fs.File, error) {
	if v.gone && (name == v.victim || strings.HasPrefix(name, v.victim+"/")) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if name == v.victim+"/state" {
		v.gone = true
	}
	return v.m.Open(name)
}

func TestControllerVanishesMidRead(t *testing.T) {
	v := &vanishingFS{m: fstest.MapFS(kernel61()), victim: "class/nvme/nvme1"}
	ctrls, err := ReadControllers(v)
	if err != nil {
		t.Fatalf("ReadControllers: %v", err)
	}
	if !v.gone {
		t.Fatal("the fixture never deleted nvme1")
	}
	for _, c := range ctrls {
		if c.Name == "nvme1" {
			t.Errorf("nvme1 was deleted during the scan but is listed: %+v", c)
		}
	}
	if len(ctrls) != 2 {
		t.Errorf("got %d controllers, want nvme0 and nvme2", len(ctrls))
	}
	v.gone = false
	if _, err := ReadController(v, "nvme1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadController(nvme1) while it vanishes: %v, want fs.ErrNotExist", err)
	}
}

// failingFS fails every ReadDir of one directory with a permission error.
type failingFS struct {
	fstest.MapFS
	dir string
}

func (f failingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == f.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrPermission}
	}
	return f.MapFS.ReadDir(name)
}

func TestListErrors(t *testing.T) {
	m := fstest.MapFS(kernel61())
	if _, err := ReadControllers(failingFS{m, ClassNVMe}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("ReadControllers with unreadable class/nvme: %v", err)
	}
	if _, err := ReadControllers(failingFS{m, ClassSubsystem}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("ReadControllers with unreadable class/nvme-subsystem: %v", err)
	}
	if _, err := ReadController(failingFS{m, ClassSubsystem}, "nvme0"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("ReadController with unreadable class/nvme-subsystem: %v", err)
	}
	// An unreadable controller directory: attributes still read, children unknown.
	c, err := ReadController(failingFS{m, "class/nvme/nvme1"}, "nvme1")
	if err != nil || c.Children != nil || c.State != "live" {
		t.Errorf("ReadController with unreadable controller directory = %+v, %v", c, err)
	}
	// An unreadable subsystem directory is skipped.
	subs, err := ReadSubsystems(failingFS{m, "class/nvme-subsystem/nvme-subsys1"})
	if err != nil || len(subs) != 2 {
		t.Errorf("ReadSubsystems with one unreadable subsystem = %+v, %v", subs, err)
	}
}

func TestAttributeOddities(t *testing.T) {
	f := fixture{}
	d := "class/nvme/nvme7"
	f.file(d+"/transport", "  tcp \n")
	f.file(d+"/address", "traddr=10.0.0.1,trsvcid=4420,traddr=10.0.0.2\n") // malformed
	f.file(d+"/state", "deleting (no IO)\n")
	f.file(d+"/uevent", "MAJOR=241\r\n\nnoequals\n=empty\nNVME_TRADDR=a=b\n")
	f.dir(d + "/power")         // attribute group, not a device
	f.dir(d + "/nvme7c1n1")     // no uevent: not a device
	f.file(d+"/nvme7n1", "")    // a file, not a device
	f.childDevice(d, "nvme7n2") // a device
	f.file(d+"/model", string(make([]byte, maxAttrLen+10)))
	c, err := ReadController(fstest.MapFS(f), "nvme7")
	if err != nil {
		t.Fatalf("ReadController: %v", err)
	}
	if c.Transport != "tcp" || c.State != "deleting (no IO)" || c.AddressText == "" || c.Address.TrAddr != "" {
		t.Errorf("controller = %+v", c)
	}
	if want := map[string]string{"MAJOR": "241", "NVME_TRADDR": "a=b"}; !maps.Equal(c.Uevent, want) {
		t.Errorf("Uevent = %v, want %v", c.Uevent, want)
	}
	if !slices.Equal(c.Children, []string{"nvme7n2"}) || !slices.Equal(c.Namespaces, []string{"nvme7n2"}) {
		t.Errorf("Children %v Namespaces %v", c.Children, c.Namespaces)
	}
	if len(c.Model) != maxAttrLen {
		t.Errorf("Model is %d bytes, want the first %d", len(c.Model), maxAttrLen)
	}
}

func TestDeviceKind(t *testing.T) {
	// nvme-stas test vectors (test_udev.py "Device kind").
	kids := []string{"a", "b", "c"}
	vectors := []struct {
		name    string
		c       Controller
		dc, ioc bool
	}{
		{"children, no attributes", Controller{Children: kids}, false, true},
		{"well-known subsysnqn", Controller{SubsysNQN: nqn.WellKnownDiscovery}, true, false},
		{"cntrltype discovery", Controller{CntrlType: "discovery"}, true, false},
		{"no attributes, no children", Controller{}, true, false},
		{"cntrltype io", Controller{CntrlType: "io"}, false, true},
		// Deviations: the kernel's word beats the no-children guess.
		{"cntrltype io, no children", Controller{CntrlType: "io", SubsysNQN: "klingons"}, false, true},
		{"cntrltype reserved, no children", Controller{CntrlType: "reserved"}, true, false},
		{"cntrltype admin", Controller{CntrlType: "admin"}, false, false},
		{"subsystype discovery with children", Controller{SubsysType: "discovery", Children: kids}, true, false},
		{"subsystype nvm, no children", Controller{SubsysType: "nvm"}, false, true},
		{"cntrltype discovery with children", Controller{CntrlType: "discovery", Children: kids}, true, false},
	}
	for _, v := range vectors {
		if got := v.c.IsDiscovery(); got != v.dc {
			t.Errorf("%s: IsDiscovery = %v, want %v", v.name, got, v.dc)
		}
		if got := v.c.IsIO(); got != v.ioc {
			t.Errorf("%s: IsIO = %v, want %v", v.name, got, v.ioc)
		}
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"nvme0n1": true, "nvme1c1n1": true, "nvme12c3n45": true, "nvme0": false, "nvme0n": false,
		"nvme0c1": false, "nvme0c1n": false, "ng0n1": false, "hwmon2": false, "nvmen1": false,
		"nvme0n1p1": false, "nvme0cn1": false, "": false,
	} {
		if got := IsNamespaceName(name); got != want {
			t.Errorf("IsNamespaceName(%q) = %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]int{"nvme0": 0, "nvme42": 42, "nvme1048575": 1048575} {
		if got, ok := ControllerInstance(name); !ok || got != want {
			t.Errorf("ControllerInstance(%q) = %d, %v", name, got, ok)
		}
	}
	for _, name := range []string{"nvme", "nvme00", "nvme+1", "nvme1 ", "xnvme1", "nvme99999999"} {
		if _, ok := ControllerInstance(name); ok {
			t.Errorf("ControllerInstance(%q) accepted", name)
		}
	}
	if FS() == nil {
		t.Error("FS() = nil")
	}
}
