// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/godbus/dbus/v5"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/daemon"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/fabrics"
	"github.com/nvme-stas-go/stas/internal/nbft"
	"github.com/nvme-stas-go/stas/internal/netif"
	"github.com/nvme-stas-go/stas/internal/stacd"
	"github.com/nvme-stas-go/stas/internal/sysfs"
	"github.com/nvme-stas-go/stas/internal/uevent"
	"github.com/nvme-stas-go/stas/internal/version"
)

const prog = "stacd"

var usage = daemon.Usage(prog, `STorage Appliance Connector (STAC): keeps the NVMe-oF I/O controller connections the host
should have (stacd.conf and the log pages stafd publishes) and publishes them on D-Bus
(org.nvmexpress.stac).`, config.StacdConfPath)

// run returns the exit code and the error to print.
func run(ctx context.Context, args []string) (int, error) {
	f, err := daemon.ParseFlags(prog, usage, config.StacdConfPath, args, os.Stderr)
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

	// The firmware's boot connections are never disconnected; the tables are read once.
	_, boot, nbftErrs := nbft.Controllers(nbft.ReadAll(os.DirFS(nbft.Dir), log), netif.InterfaceByMACVLAN)
	for _, err := range nbftErrs {
		log.Debug("NBFT entry not used", "err", err)
	}

	mon, err := uevent.NewMonitor(uevent.MonitorOptions{Logger: log})
	if err != nil {
		return 1, fmt.Errorf("listen for kernel events: %w", err)
	}
	defer mon.Close()

	kernel := &fabrics.Kernel{Logger: log}
	defer func() { _ = kernel.Wait(context.Background()) }()

	// Signals in order: a vanish and an appear of stafd must not swap places.
	conn, err := dbus.ConnectSystemBus(dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		return 1, fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()
	// Without the bus stacd can neither follow stafd nor answer: end, and let systemd
	// restart it (nothing is disconnected on the way out).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-conn.Context().Done():
			cancel(errBusLost)
		case <-ctx.Done():
		}
	}()

	staf, err := stacd.NewBusStafd(ctx, conn, log)
	if err != nil {
		return 1, fmt.Errorf("follow stafd on the bus: %w", err)
	}
	defer staf.Close()

	svc, err := stacd.New(stacd.Options{
		Prog:       prog,
		ConfPath:   f.ConfFile,
		Tron:       f.Tron,
		Logger:     log,
		Level:      level,
		Host:       kernel,
		Sysfs:      sysfs.FS(),
		Uevents:    mon.Updates(),
		Interfaces: stacd.ReadInterfaces,
		SysConf:    sys,
		Stafd:      staf,
		Chooser:    netif.NewChooser(false),
		Boot:       boot,
		StatePath:  filepath.Join(daemon.RuntimeDir(prog), "last-known-config.json"),
		Ready:      notify.Ready,
	})
	if err != nil {
		return 1, err
	}
	server, err := dbusapi.ExportStacd(conn, svc, dbusapi.Options{IgnoreIface: svc.IgnoreIface, Logger: log})
	if err != nil {
		return 1, err
	}
	if err := server.RequestName(); err != nil {
		return 1, err
	}

	notify.ReloadOnHUP(ctx, svc.Reload)
	go notify.Watchdog(ctx, svc.Alive)

	log.Info("stacd started", "version", version.Version)
	err = svc.Run(ctx)
	notify.Stopping()
	log.Info("stacd stopped")
	if err != nil {
		return 1, err
	}
	if cause := context.Cause(ctx); errors.Is(cause, errBusLost) {
		return 1, cause
	}
	return 0, nil
}

var errBusLost = errors.New("lost the connection to the system bus")
