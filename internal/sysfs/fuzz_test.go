// SPDX-License-Identifier: Apache-2.0

package sysfs

import (
	"testing"
	"testing/fstest"
)

// FuzzReadController feeds arbitrary attribute and uevent contents and child names
// through ReadController: it must not panic, and what it reports must hang together.
func FuzzReadController(f *testing.F) {
	f.Add("tcp\n", "traddr=192.168.1.10,trsvcid=8009,src_addr=192.168.1.2\n", "discovery\n",
		"MAJOR=241\nNVME_TRADDR=192.168.1.10\nNVME_HOST_IFACE=none\n", "nvme0c0n1")
	f.Add("pcie\n", "0000:00:04.0\n", "io\n", "DEVNAME=nvme0\n", "nvme0n1")
	f.Add("tcp", "traddr=a,traddr=b", "", "=\n\n==\r\n", "hwmon1")
	f.Fuzz(func(t *testing.T, transport, address, cntrltype, uevent, child string) {
		fsys := fstest.MapFS{
			"class/nvme/nvme0/transport": {Data: []byte(transport)},
			"class/nvme/nvme0/address":   {Data: []byte(address)},
			"class/nvme/nvme0/cntrltype": {Data: []byte(cntrltype)},
			"class/nvme/nvme0/uevent":    {Data: []byte(uevent)},
		}
		if fstestValidName(child) {
			fsys["class/nvme/nvme0/"+child+"/uevent"] = &fstest.MapFile{}
		}
		c, err := ReadController(fsys, "nvme0")
		if err != nil {
			t.Fatalf("ReadController: %v", err)
		}
		if c.IsDiscovery() && c.IsIO() {
			t.Errorf("both a discovery and an I/O controller: %+v", c)
		}
		if !c.IsFabrics() && (c.Address.TrAddr != "" || c.Address.Extra != nil) {
			t.Errorf("address parsed for transport %q", c.Transport)
		}
		if len(c.Namespaces) > len(c.Children) {
			t.Errorf("namespaces %v not among children %v", c.Namespaces, c.Children)
		}
		_ = c.UeventAddress()
	})
}

// fstestValidName accepts one path element MapFS can hold.
func fstestValidName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == 0 {
			return false
		}
	}
	return true
}
