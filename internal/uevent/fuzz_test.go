// SPDX-License-Identifier: Apache-2.0

package uevent

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

func FuzzParseUevent(f *testing.F) {
	f.Add(kernelMsg("change", "/devices/virtual/nvme-fabrics/ctl/nvme0", aenVars...))
	f.Add(udevMsg(aenVars...))
	f.Add(kernelMsg("bind", "/devices/platform/soc@0/x", "ACTION=bind", "K=a=b"))
	f.Add(udevMsg("ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=nvme", "DEVNAME=/dev/nvme7", "NVME_EVENT=connected"))
	f.Add([]byte("libudev\x00"))
	f.Add([]byte("add@/x\x00\x00=\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		ev, err := Parse(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !validAction(string(ev.Action)) || ev.DevPath == "" || ev.DevPath[0] != '/' {
			t.Fatalf("Parse(%q) = %+v", msg, ev)
		}
		if ev.Env["ACTION"] != string(ev.Action) || ev.Env["DEVPATH"] != ev.DevPath ||
			ev.Env["SUBSYSTEM"] != ev.Subsystem || ev.Env["DEVNAME"] != ev.DevName {
			t.Fatalf("typed fields disagree with Env: %+v", ev)
		}
		if s, ok := ev.Env["SEQNUM"]; ok {
			if n, err := strconv.ParseUint(s, 10, 64); err != nil || n != ev.Seqnum {
				t.Fatalf("Seqnum %d from %q", ev.Seqnum, s)
			}
		}
		if len(ev.Env) > MaxVariables {
			t.Fatalf("%d variables", len(ev.Env))
		}
		for k, v := range ev.Env {
			if k == "" || bytes.IndexByte([]byte(k), '=') >= 0 || bytes.IndexByte([]byte(k+v), 0) >= 0 {
				t.Fatalf("variable %q=%q", k, v)
			}
			// Every variable is in the message, split at its first '=' (the kernel header
			// supplies ACTION and DEVPATH when the variables lack them).
			fromHeader := ev.Source == SourceKernel && (k == "ACTION" || k == "DEVPATH")
			if !fromHeader && !bytes.Contains(msg, []byte(k+"="+v)) {
				t.Fatalf("variable %q=%q not in the message", k, v)
			}
		}
		if ev.Source == SourceKernel && !bytes.HasPrefix(msg, []byte(string(ev.Action)+"@"+ev.DevPath+"\x00")) {
			t.Fatalf("kernel header does not match %+v", ev)
		}
		if n, ok := ev.NVMe(); ok {
			if ev.Subsystem != "nvme" || n.Device != "nvme"+strconv.Itoa(n.Instance) {
				t.Fatalf("NVMe() = %+v from %+v", n, ev)
			}
			if n.Kind == NVMeAEN {
				if aen, err := nvme.ParseAEN(ev.Env["NVME_AEN"]); err != nil || aen != n.AEN {
					t.Fatalf("AEN %#x from %q", n.AEN, ev.Env["NVME_AEN"])
				}
			}
			for _, v := range []string{n.Transport, n.TrAddr, n.TrSvcID, n.HostTrAddr, n.HostIface} {
				if v == "none" {
					t.Fatalf("\"none\" not mapped to \"\": %+v", n)
				}
			}
		}
	})
}
