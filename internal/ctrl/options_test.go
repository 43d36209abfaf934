// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"testing"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/tid"
)

func TestConnectOptions(t *testing.T) {
	const (
		systemNQN = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"
		otherNQN  = "nqn.2014-08.org.example:boot"
		hostKey   = "DHHC-1:00:aG9zdGtleWhvc3RrZXlob3N0a2V5aG9zdGtleWhvc3Q=:"
		ownKey    = "DHHC-1:00:b3dua2V5b3dua2V5b3dua2V5b3dua2V5b3dua2V5b3c=:"
	)
	host := config.HostIdentity{NQN: systemNQN, ID: "00000000-0000-0000-0000-000000000001", Key: config.Secret(hostKey)}
	all, err := fabrics.ParseSupported([]byte("instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,hdr_digest,data_digest,dhchap_secret=%s,dhchap_ctrl_secret=%s\n"))
	if err != nil {
		t.Fatal(err)
	}
	global := config.ConnectionOptions{KATO: config.Some(30), HdrDigest: config.Some(true), QueueSize: config.Some(64)}
	base := fabrics.Options{Transport: fabrics.TransportTCP, TrAddr: "192.0.2.2", TrSvcID: "4420", SubsysNQN: "nqn.2014-08.org.example:a"}

	t.Run("system host", func(t *testing.T) {
		tt := tid.TID{Transport: "tcp", HostTraddr: "192.0.2.1", HostIface: "eth0", HostNQN: systemNQN}
		o := ConnectOptions(base, tt, host, nil, global, all)
		if o.HostNQN != systemNQN || o.HostID != host.ID || o.DHCHAPSecret != hostKey || o.HostIface != "eth0" || o.HostTrAddr != "192.0.2.1" {
			t.Errorf("host fields: %+v", o)
		}
		if v, _ := o.KeepAliveTmo.Get(); v != 30 || !o.HdrDigest || o.DataDigest {
			t.Errorf("options: %+v", o)
		}
		if v, _ := o.QueueSize.Get(); v != 64 {
			t.Errorf("queue size %v", o.QueueSize)
		}
	})
	t.Run("own host NQN", func(t *testing.T) {
		o := ConnectOptions(base, tid.TID{Transport: "tcp", HostNQN: otherNQN}, host, nil, global, all)
		if o.HostNQN != otherNQN || o.HostID != "" || o.DHCHAPSecret != "" {
			t.Errorf("a controller's own host NQN took the system's ID or key: %+v", o)
		}
	})
	t.Run("entry overrides", func(t *testing.T) {
		conf := &config.Controller{Options: config.ConnectionOptions{KATO: config.Some(5), NrIOQueues: config.Some(2)},
			DHCHAPSecret: config.Secret(ownKey)}
		o := ConnectOptions(base, tid.TID{Transport: "tcp", HostNQN: systemNQN}, host, conf, global, all)
		if v, _ := o.KeepAliveTmo.Get(); v != 5 {
			t.Errorf("kato %v, want the entry's 5", o.KeepAliveTmo)
		}
		if v, _ := o.NrIOQueues.Get(); v != 2 || o.DHCHAPSecret != ownKey {
			t.Errorf("entry options: %+v", o)
		}
	})
	t.Run("old kernel", func(t *testing.T) {
		var none fabrics.Supported
		o := ConnectOptions(base, tid.TID{Transport: "tcp", HostIface: "eth0", HostNQN: systemNQN}, host, nil, global, none)
		if o.HostIface != "" || o.DHCHAPSecret != "" {
			t.Errorf("options the kernel lacks were set: %+v", o)
		}
	})
}
