// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/avahi"
	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/ctrl"
	"github.com/nvme-stas-go/stas/internal/daemon"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nbft"
	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/stafd"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/uevent"
	"github.com/nvme-stas-go/stas/internal/version"
)

const prog = "stafd"

var usage = daemon.Usage(prog, `STorage Appliance Finder (STAF): finds NVMe-oF discovery controllers, connects to them,
registers with them and publishes their discovery log pages on D-Bus (org.nvmexpress.staf).`, config.StafdConfPath)

// run returns the exit code and the error to print.
func run(ctx context.Context, args []string) (int, error) {
	f, err := daemon.ParseFlags(prog, usage, config.StafdConfPath, args, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, nil
	case err != nil:
		return 2, err
	case f.Version:
		fmt.Println(version.String())
		return 0, nil
	}
	if err := daemon.CheckRoot(prog, os.Geteuid()); err != nil {
		return 1, err
	}
	if err := daemon.CheckFabrics(daemon.DefaultFabricsDevice); err != nil {
		return 1, err
	}
	log, level := daemon.NewLogger(prog, f.Syslog, f.Tron)
	notify := &daemon.Notifier{Logger: log}

	sys, problems, err := config.LoadSysConf(config.SysConfPath)
	config.LogProblems(log, problems)
	if err != nil {
		return 1, err
	}

	// NBFT tables are read once per process, as nvme-stas does.
	nbftDCs, _, nbftErrs := nbft.Controllers(nbft.ReadAll(os.DirFS(nbft.Dir), log), netif.InterfaceByMACVLAN)
	for _, err := range nbftErrs {
		log.Warn("NBFT entry not used", "err", err)
	}

	mon, err := uevent.NewMonitor(uevent.MonitorOptions{Logger: log})
	if err != nil {
		return 1, fmt.Errorf("listen for kernel events: %w", err)
	}
	defer mon.Close()

	kernel := &fabrics.Kernel{Logger: log}
	defer func() { _ = kernel.Wait(context.Background()) }()

	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return 1, fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()

	sup, err := kernel.SupportedOptions()
	if err != nil {
		log.Warn("Cannot determine which NVMe options the kernel supports", "err", err)
	}
	mdns := avahi.New(avahi.Options{TP8013: sup.Has(fabrics.OptDiscovery), Logger: log})
	go func() { _ = mdns.Run(ctx) }()

	systemctl, err := exec.LookPath("systemctl")
	if err != nil {
		log.Info("systemctl not found: events of discovery controllers stafd does not own are not handed to nvme-cli")
		systemctl = ""
	}

	var server *dbusapi.Server
	svc, err := stafd.New(stafd.Options{
		Prog:      prog,
		ConfPath:  f.ConfFile,
		Tron:      f.Tron,
		Logger:    log,
		Level:     level,
		Host:      kernel,
		OpenAdmin: ctrl.OpenAdminDevice,
		Sysfs:     sysfs.FS(),
		Uevents:   mon.Updates(),
		SysConf:   sys,
		NBFT:      func() []tid.TID { return nbftDCs },
		MDNS:      mdns,
		Chooser:   netif.NewChooser(false),
		RuleDir:   "/run/udev/rules.d",
		Systemctl: systemctl,
		StatePath: filepath.Join(daemon.RuntimeDir(prog), "last-known-config.json"),
		Emit:      emitter{&server},
		Ready:     notify.Ready,
	})
	if err != nil {
		return 1, err
	}
	server, err = dbusapi.ExportStafd(conn, svc, dbusapi.Options{IgnoreIface: svc.IgnoreIface, Logger: log})
	if err != nil {
		return 1, err
	}
	if err := server.RequestName(); err != nil {
		return 1, err
	}

	notify.ReloadOnHUP(ctx, svc.Reload)
	go notify.Watchdog(ctx, svc.Alive)

	log.Info("stafd started", "version", version.Version)
	err = svc.Run(ctx)
	notify.Stopping()
	log.Info("stafd stopped")
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// emitter sends the service's signals through the D-Bus server once it exists.
type emitter struct{ server **dbusapi.Server }

func (e emitter) EmitLogPagesChanged(t tid.TID, device string) error {
	if *e.server == nil {
		return nil
	}
	return (*e.server).EmitLogPagesChanged(t, device)
}

func (e emitter) EmitDCRemoved() error {
	if *e.server == nil {
		return nil
	}
	return (*e.server).EmitDCRemoved()
}
