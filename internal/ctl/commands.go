// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"context"
	"io"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

var stafctl = &tool{
	name:        "stafctl",
	description: "STorage Appliance Finder (STAF)",
	svc:         dbusapi.StafService,
	commands: []command{
		{name: "tron", help: "Trace ON", run: traceCommand(true)},
		{name: "troff", help: "Trace OFF", run: traceCommand(false)},
		{name: "status", help: "Show runtime status information about stafd", run: statusCommand(true)},
		{name: "ls", help: "List discovery controllers", opts: []option{detailOption}, run: lsCommand},
		{name: "dlp", help: "Show discovery log pages", opts: dlpOptions, run: dlpCommand},
		{name: "adlp", help: "Show all discovery log pages", opts: []option{detailOption}, run: adlpCommand},
	},
}

var stacctl = &tool{
	name:        "stacctl",
	description: "STorage Appliance Connector (STAC)",
	svc:         dbusapi.StacService,
	commands: []command{
		{name: "tron", help: "Trace ON", run: traceCommand(true)},
		{name: "troff", help: "Trace OFF", run: traceCommand(false)},
		{name: "status", help: "Show runtime status information about stacd", run: statusCommand(false)},
		{name: "ls", help: "List I/O controllers", opts: []option{detailOption}, run: lsCommand},
	},
}

var dlpOptions = []option{
	{short: "-t", long: "--transport", metavar: "<trtype>", def: tid.TCP, choices: []string{tid.TCP, tid.RDMA, tid.FC, tid.Loop},
		help: `NVMe-over-Fabrics fabric type (default: "tcp")`},
	{short: "-a", long: "--traddr", metavar: "<traddr>", required: true, help: "Discovery Controller's network address"},
	{short: "-s", long: "--trsvcid", metavar: "<trsvcid>", required: true,
		help: "Transport service id (for IP addressing, e.g. tcp, rdma, this field is the port number)"},
	{short: "-w", long: "--host-traddr", metavar: "<traddr>",
		help: `Network address used on the host to connect to the Controller (default: "")`},
	{short: "-f", long: "--host-iface", metavar: "<iface>",
		help: `This field specifies the network interface used on the host to connect to the Controller (default: "")`},
	{short: "-q", long: "--host-nqn", metavar: "<nqn>",
		help: "This field specifies the host NQN (default: the host NQN from /etc/stas/sys.conf)"},
	{short: "-n", long: "--nqn", metavar: "<nqn>", def: nqn.WellKnownDiscovery,
		help: `This field specifies the discovery controller's NQN. When not specified this option defaults to "` + nqn.WellKnownDiscovery + `"`},
}

// traceCommand sets tron, reads it back and prints it as nvme-stas does.
func traceCommand(on bool) func(ctx context.Context, s *session) (result, error) {
	return func(ctx context.Context, s *session) (result, error) {
		if err := s.client.SetTron(ctx, on); err != nil {
			return result{}, err
		}
		got, err := s.client.Tron(ctx)
		if err != nil {
			return result{}, err
		}
		return result{value: dbusapi.NewDict("tron", got), text: "tron = " + dbusapi.PyRepr(got)}, nil
	}
}

// controllerTID is the TID a controller dict names, its fields as the daemon sent them.
func controllerTID(d *dbusapi.Dict) tid.TID {
	get := func(k string) string { s, _ := d.GetString(k); return s }
	return tid.TID{
		Transport: get(tid.KeyTransport), Traddr: get(tid.KeyTraddr), Trsvcid: get(tid.KeyTrsvcid),
		SubsysNQN: get(tid.KeySubsysNQN), HostTraddr: get(tid.KeyHostTraddr), HostIface: get(tid.KeyHostIface),
		HostNQN: get(tid.KeyHostNQN),
	}
}

// statusCommand is process_info plus "controllers": every controller's details, with
// (stafd) its "log_pages" and its info dict merged in, as nvme-stas's status builds it.
func statusCommand(withLogPages bool) func(ctx context.Context, s *session) (result, error) {
	return func(ctx context.Context, s *session) (result, error) {
		text, err := s.client.ProcessInfo(ctx)
		if err != nil {
			return result{}, err
		}
		info, err := s.decodeObject(dbusapi.MethodProcessInfo, text)
		if err != nil {
			return result{}, err
		}
		list, err := s.client.ListControllers(ctx, true)
		if err != nil {
			return result{}, err
		}
		ctrls := make([]*dbusapi.Dict, 0, len(list))
		for _, m := range list {
			d := dbusapi.DictFromMap(m)
			t := controllerTID(d)
			if withLogPages {
				pages, err := s.client.GetLogPages(ctx, t)
				if err != nil {
					return result{}, err
				}
				d.Set("log_pages", nonNil(pages))
			}
			text, err := s.client.ControllerInfo(ctx, t)
			if err != nil {
				return result{}, err
			}
			ci, err := s.decodeObject(dbusapi.MethodControllerInfo, text)
			if err != nil {
				return result{}, err
			}
			ctrls = append(ctrls, d.Update(ci))
		}
		info.Set("controllers", ctrls)
		return result{value: info, table: func(w io.Writer) error { return statusTable(w, info, ctrls) }}, nil
	}
}

func lsCommand(ctx context.Context, s *session) (result, error) {
	detailed := s.args.flag("--detailed")
	list, err := s.client.ListControllers(ctx, detailed)
	if err != nil {
		return result{}, err
	}
	list = nonNil(list)
	return result{value: list, table: func(w io.Writer) error {
		return controllersTable(w, dictsOf(list))
	}}, nil
}

func dlpCommand(ctx context.Context, s *session) (result, error) {
	arg := func(name string) string { v, _ := s.args.value(name); return v }
	t := tid.TID{
		Transport:  arg("--transport"),
		Traddr:     arg("--traddr"),
		Trsvcid:    arg("--trsvcid"),
		SubsysNQN:  arg("--nqn"),
		HostTraddr: arg("--host-traddr"),
		HostIface:  arg("--host-iface"),
		HostNQN:    arg("--host-nqn"), // set from sys.conf by resolveHostNQN when not given
	}
	pages, err := s.client.GetLogPages(ctx, t)
	if err != nil {
		return result{}, err
	}
	pages = nonNil(pages)
	return result{value: pages, table: func(w io.Writer) error { return logPagesTable(w, dictsOf(pages)) }}, nil
}

func adlpCommand(ctx context.Context, s *session) (result, error) {
	text, err := s.client.GetAllLogPages(ctx, s.args.flag("--detailed"))
	if err != nil {
		return result{}, err
	}
	v, err := DecodeJSON(text)
	if err == nil {
		if _, ok := v.([]any); !ok {
			err = errNotList
		}
	}
	if err != nil {
		return result{}, s.badAnswer(dbusapi.MethodGetAllLogPages, err)
	}
	return result{value: v, table: func(w io.Writer) error { return allLogPagesTable(w, v.([]any)) }}, nil
}

func nonNil(list []map[string]string) []map[string]string {
	if list == nil {
		return []map[string]string{}
	}
	return list
}

func dictsOf(list []map[string]string) []*dbusapi.Dict {
	out := make([]*dbusapi.Dict, len(list))
	for i, m := range list {
		out[i] = dbusapi.DictFromMap(m)
	}
	return out
}
