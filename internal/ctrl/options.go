// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/fabrics"
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
