// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/match"
	"github.com/nvme-stas-go/stas/internal/nbft"
	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
)

const auditConf = `[I/O controller connection management]
disconnect-scope = all-connections-matching-disconnect-trtypes
disconnect-trtypes = tcp
`

// foreign is a connection stacd did not make, to traddr.
func foreign(traddr, subnqn string) fabrics.Options {
	return fabrics.Options{Transport: fabrics.TransportTCP, TrAddr: traddr, TrSvcID: "4420", SubsysNQN: subnqn,
		HostNQN: testHostNQN, HostID: testHostID}
}

// hostTable has eth1 with 192.0.2.100/24.
func hostTable() (match.Interfaces, error) {
	return &netif.Table{Interfaces: []netif.Interface{
		{Index: 1, Name: "lo", Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Index: 2, Name: "eth1", Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}},
	}}, nil
}

func TestAuditDeletesOnlyUnwantedForeignConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernel()
		a := iocOf("192.0.2.10", subA)
		// nvme13 is a's connection, made without host_iface but from eth1's address: the
		// wanted controller adopts it (nvme-stas's audit deleted it, then reconnected).
		o := optionsOf(a)
		o.HostIface = ""
		k.existing("nvme13", o, "address", "traddr=192.0.2.10,trsvcid=4420,src_addr=192.0.2.100")
		k.existing("nvme10", foreign("203.0.113.50", subC))                          // nobody wants it
		k.existing("nvme11", foreign("203.0.113.51", subC))                          // the firmware's
		k.existing("nvme12", foreign("203.0.113.52", subC), "hostnqn", otherHostNQN) // another host NQN
		rdma := foreign("203.0.113.53", subC)
		rdma.Transport = fabrics.TransportRDMA
		k.existing("nvme14", rdma)                                                // not in disconnect-trtypes
		k.existing("nvme15", foreign("203.0.113.55", subC), "state", "deleting")  // on its way out
		k.existing("nvme16", foreign("203.0.113.56", nqn.WellKnownDiscovery))     // a discovery controller
		k.existing("nvme17", foreign("203.0.113.57", subC), "cntrltype", "admin") // not an I/O controller
		boot := []nbft.IOController{{TID: tid.TID{Transport: "tcp", Traddr: "203.0.113.51", Trsvcid: "4420", SubsysNQN: subC}}}
		r := newRigOn(t, k, auditConf, func(o *Options) { o.Boot = boot; o.Interfaces = hostTable })
		defer r.stop()

		// stafd is there but cannot answer: nothing is judged.
		r.staf.set("", errors.New("org.freedesktop.DBus.Error.NoReply"))
		r.run()
		r.staf.events <- StafdAppeared
		stepFor(time.Minute)
		r.noDisconnects("stafd not answering")
		// stafd leaves; a SIGHUP re-arms the audit: still nothing.
		r.staf.events <- StafdVanished
		r.svc.Reload()
		stepFor(time.Minute)
		r.noDisconnects("stafd absent")

		// stafd answers: only the unwanted foreign connection goes; a is adopted.
		r.staf.set(answer(known(dcTID, dlpe("192.0.2.10", subA))), nil)
		r.staf.events <- StafdAppeared
		stepFor(SettleDelay + 2*time.Second)
		if d := r.k.Disconnects(); !slices.Equal(d, []string{"nvme10"}) {
			t.Errorf("the audit deleted %v, want only nvme10", d)
		}
		if dev := r.deviceOf(a); dev != "nvme13" || len(r.k.Connects()) != 0 {
			t.Errorf("a on %q after %d connects; want nvme13 adopted", dev, len(r.k.Connects()))
		}

		// A connection made by someone else later goes after its "add" event.
		r.k.existing("nvme18", foreign("203.0.113.58", subC))
		r.k.event(uevent.ActionAdd, "nvme18")
		stepFor(AuditDelay + 2*time.Second)
		if d := r.k.Disconnects(); !slices.Equal(d, []string{"nvme10", "nvme18"}) {
			t.Errorf("after the add event the audit deleted %v", d)
		}

		// While a DC stafd lists is not known, the audit waits; its answer ends the wait.
		r.staf.answerAndSignal(answer(dcAnswer{tid: dcTID, connected: false}))
		step()
		r.k.existing("nvme19", foreign("203.0.113.59", subC))
		r.k.event(uevent.ActionAdd, "nvme19")
		stepFor(time.Minute)
		if d := r.k.Disconnects(); len(d) != 2 {
			t.Errorf("with a DC not known the audit deleted %v", d)
		}
		r.staf.answerAndSignal(answer(known(dcTID, dlpe("192.0.2.10", subA))))
		step()
		if d := r.k.Disconnects(); !slices.Equal(d, []string{"nvme10", "nvme18", "nvme19"}) {
			t.Errorf("after stafd's fresh answer the audit deleted %v", d)
		}
		for _, dev := range []string{"nvme11", "nvme12", "nvme13", "nvme14", "nvme15", "nvme16", "nvme17"} {
			if _, ok := r.k.Live()[dev]; !ok {
				t.Errorf("%s is gone", dev)
			}
		}
	})
}

// Without stafd, stacd's configuration is all there is to know: the audit runs at once.
func TestAuditWithoutStafd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernel()
		k.existing("nvme10", foreign("203.0.113.50", subC))
		k.existing("nvme11", foreign("198.51.100.20", subC))
		conf := auditConf + "[Controllers]\ncontroller = transport=tcp;traddr=198.51.100.20;nqn=" + subC + "\n"
		r := newRigOn(t, k, conf, func(o *Options) { o.Stafd = nil })
		r.run()
		step()
		if d := r.k.Disconnects(); !slices.Equal(d, []string{"nvme10"}) {
			t.Errorf("deleted %v, want nvme10", d)
		}
		if len(r.k.Connects()) != 0 {
			t.Errorf("connects %v; want the configured controller to adopt nvme11", r.k.Connects())
		}
		// A delete the kernel refuses is logged; the service goes on.
		k.existing("nvme12", foreign("203.0.113.52", subC))
		k.FailDisconnect(errors.New("resource busy"))
		k.event(uevent.ActionAdd, "nvme12")
		stepFor(AuditDelay + 2*time.Second)
		if d := r.k.Disconnects(); len(d) != 2 {
			t.Errorf("disconnects %v", d)
		}
		r.stop()
	})
}

func TestScannerAndSysAttrs(t *testing.T) {
	// No sysfs: nothing to adopt, no audit.
	sc := newScanner(nil, nil)
	if _, ok := sc.finder(iocOf("192.0.2.10", subA))(t.Context()); ok {
		t.Error("adopted something without sysfs")
	}
	// An unreadable class/nvme is an error, not an empty kernel.
	bad := fstest.MapFS{"class/nvme": &fstest.MapFile{Data: []byte("not a directory")}}
	if _, _, err := newScanner(bad, nil).controllers(); err == nil {
		t.Error("a broken sysfs read as a kernel without controllers")
	}
	// An interface table that cannot be read fails the scan (the audit must not judge
	// without it) and is read again next time.
	k := newKernel()
	o := optionsOf(iocOf("192.0.2.10", subA))
	k.existing("nvme3", o)
	tableErr := errors.New("netlink refused")
	sc = newScanner(k, func() (match.Interfaces, error) { return nil, tableErr })
	if _, _, err := sc.controllers(); !errors.Is(err, tableErr) {
		t.Errorf("scan without the interface table: %v", err)
	}
	tableErr = nil
	sc.interfaces = func() (match.Interfaces, error) { return &netif.Table{}, nil }
	if dev, ok := sc.finder(iocOf("192.0.2.10", subA))(t.Context()); !ok || dev != "nvme3" {
		t.Errorf("finder = %q %v", dev, ok)
	}
	// A device one controller owns is not adopted by another that also matches it
	// (without host fields on either side, nvme-stas's rules assume a match).
	other := iocOf("192.0.2.10", subA)
	other.HostIface = ""
	if dev, ok := newScanner(k, nil).finder(other)(t.Context()); !ok || dev != "nvme3" {
		t.Fatalf("the second identity does not match the device on its own: %q %v", dev, ok)
	}
	if dev, ok := sc.finder(other)(t.Context()); ok {
		t.Errorf("a second controller adopted %s, owned by the first", dev)
	}
	sc.release("nvme3", iocOf("192.0.2.10", subA))
	if dev, ok := sc.finder(other)(t.Context()); !ok || dev != "nvme3" {
		t.Errorf("after release: finder = %q %v", dev, ok)
	}
	// The legacy uevent address is used when the address attribute is missing.
	fsys := fstest.MapFS{
		"class/nvme/nvme5/transport": {Data: []byte("tcp\n")},
		"class/nvme/nvme5/subsysnqn": {Data: []byte(subA + "\n")},
		"class/nvme/nvme5/cntrltype": {Data: []byte("io\n")},
		"class/nvme/nvme5/hostnqn":   {Data: []byte(testHostNQN + "\n")},
		"class/nvme/nvme5/uevent": {Data: []byte("MAJOR=241\nMINOR=5\nDEVNAME=nvme5\nNVME_TRTYPE=tcp\nNVME_TRADDR=192.0.2.10\n" +
			"NVME_TRSVCID=4420\nNVME_HOST_TRADDR=none\nNVME_HOST_IFACE=eth1\n")},
		"class/nvme/nvme5/model":  {Data: []byte("bad\x01model\n")},
		"class/nvme/nvme5/serial": {Data: []byte("(efault)\n")},
	}
	if dev, ok := newScanner(fsys, nil).finder(iocOf("192.0.2.10", subA))(t.Context()); !ok || dev != "nvme5" {
		t.Errorf("legacy finder = %q %v", dev, ok)
	}
	ctrls, _, _ := newScanner(fsys, nil).controllers()
	if len(ctrls) != 1 {
		t.Fatalf("%d controllers", len(ctrls))
	}
	if got := tidOf(ctrls[0], nil); got.HostIface != "eth1" || got.Traddr != "192.0.2.10" {
		t.Errorf("tidOf = %v", got)
	}
	// A src_addr without host_iface names the interface through the table.
	ifs, _ := hostTable()
	c := ctrls[0]
	c.Uevent = map[string]string{}
	c.Address = fabrics.Address{TrAddr: "192.0.2.10", TrSvcID: "4420", SrcAddr: "192.0.2.100"}
	if got := tidOf(c, ifs); got.HostIface != "eth1" {
		t.Errorf("tidOf with src_addr = %v", got)
	}
	attrs := readSysAttrs(fsys, "nvme5")
	if attrs.model != "" || attrs.serial != "" || attrs.cntrlType != "io" || attrs.hostNQN != testHostNQN {
		t.Errorf("sysfs attributes = %+v; want unprintable and (efault) values empty", attrs)
	}
	if got := readSysAttrs(nil, "nvme5"); got != (sysAttrs{}) {
		t.Errorf("attributes without sysfs = %+v", got)
	}
}
