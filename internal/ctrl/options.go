// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// ApplyConnectionOptions copies the configured connection options (the [Global] ones,
// already merged with a controller= entry's own) into o. Unset options stay unset, so the
// kernel's defaults apply; digests and disable-sqflow are off unless set.
func ApplyConnectionOptions(o *fabrics.Options, c config.ConnectionOptions) {
	ints := []struct {
		from config.Optional[int]
		to   *fabrics.Int
	}{
		{c.KATO, &o.KeepAliveTmo},
		{c.ReconnectDelay, &o.ReconnectDelay},
		{c.CtrlLossTmo, &o.CtrlLossTmo},
		{c.QueueSize, &o.QueueSize},
		{c.NrIOQueues, &o.NrIOQueues},
		{c.NrWriteQueues, &o.NrWriteQueues},
		{c.NrPollQueues, &o.NrPollQueues},
	}
	for _, f := range ints {
		if v, ok := f.from.Get(); ok {
			*f.to = fabrics.IntOf(v)
		}
	}
	o.HdrDigest = c.HdrDigest.Or(false)
	o.DataDigest = c.DataDigest.Or(false)
	o.DisableSQFlow = c.DisableSQFlow.Or(false)
}

// ConnectOptions completes o (a controller's transport, address, port and subsystem) for
// the controller t: its host fields, the host identity (t's own host NQN when it has one,
// without the system's host ID and key, which belong to the system's NQN), the
// controller= entry's secrets and options over the [Global] ones, and the system host
// key when the entry has no secret of its own.
func ConnectOptions(o fabrics.Options, t tid.TID, host config.HostIdentity, conf *config.Controller,
	global config.ConnectionOptions, sup fabrics.Supported) fabrics.Options {
	o.HostTrAddr = t.HostTraddr
	if sup.Has(fabrics.OptHostIface) {
		o.HostIface = t.HostIface
	}
	o.HostNQN = t.HostNQN
	own := t.HostNQN == host.NQN
	if own {
		// A different host NQN with the system's host ID is refused by newer kernels.
		o.HostID = host.ID
	}
	opts := global
	if conf != nil {
		opts = conf.EffectiveOptions(global)
		if conf.DHCHAPSecret.IsSet() {
			o.DHCHAPSecret = conf.DHCHAPSecret.Reveal()
		}
		if conf.DHCHAPCtrlSecret.IsSet() {
			o.DHCHAPCtrlSecret = conf.DHCHAPCtrlSecret.Reveal()
		}
	}
	if o.DHCHAPSecret == "" && own && host.Key.IsSet() && sup.Has(fabrics.OptDHCHAPSecret) {
		o.DHCHAPSecret = host.Key.Reveal()
	}
	ApplyConnectionOptions(&o, opts)
	return o
}
