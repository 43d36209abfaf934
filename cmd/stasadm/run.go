// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/nvme-stas-go/stas/internal/hostid"
	"github.com/nvme-stas-go/stas/internal/version"
)

// Exit codes, as nvme-stas's (argparse's) are.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const defaultConfFile = "/etc/stas/sys.conf"

// notRootMessage is nvme-stas's exact text, kept because logs and scripts may look for it.
const notRootMessage = "Permission denied. Root privileges required."

const mainUsage = "usage: stasadm [-h] [-v] [-c FILE] {hostnqn,hostid,set-symname,clear-symname} ...\n"

const mainHelp = mainUsage + `
Configuration utility for STAS.

options:
  -h, --help            show this help message and exit
  -v, --version         Print version, then exit
  -c FILE, --conf-file FILE
                        Configuration file. Default /etc/stas/sys.conf.
                        An empty FILE ('') leaves every configuration file alone.

Commands:
  {hostnqn,hostid,set-symname,clear-symname}
    hostnqn             Configure the host NQN. The NQN is auto-generated.
    hostid              Configure the host ID. The ID is auto-generated.
    set-symname         Set the host symbolic name
    clear-symname       Clear the host symbolic name
`

// identity generates the values stasadm saves; hostid.System in production.
type identity interface {
	HostNQN() (string, error)
	HostID() (string, error)
}

// command describes one sub-command.
type command struct {
	name     string
	usage    string // argparse-style usage line
	fileHelp string // help of -f; empty when the command has no -f
	args     []string
	// save generates or takes the value and stores it; file is -f's value, positional the
	// positional arguments.
	save func(ids identity, confFile, file string, positional []string) error
}

var commands = []command{
	{
		name:     "hostnqn",
		usage:    "usage: stasadm hostnqn [-h] [-f FILE]\n",
		fileHelp: "Optional file where to save the NQN.",
		save: func(ids identity, confFile, file string, _ []string) error {
			value, err := ids.HostNQN()
			if err != nil {
				return fmt.Errorf("generate host NQN: %w", err)
			}
			return save(hostid.OptionNQN, "host NQN", value, confFile, file)
		},
	},
	{
		name:     "hostid",
		usage:    "usage: stasadm hostid [-h] [-f FILE]\n",
		fileHelp: "Optional file where to save the ID.",
		save: func(ids identity, confFile, file string, _ []string) error {
			value, err := ids.HostID()
			if err != nil {
				return fmt.Errorf("generate host ID: %w", err)
			}
			return save(hostid.OptionID, "host ID", value, confFile, file)
		},
	},
	{
		name:     "set-symname",
		usage:    "usage: stasadm set-symname [-h] [-f FILE] SYMNAME\n",
		fileHelp: "Optional file where to save the symbolic name.",
		args:     []string{"SYMNAME"},
		save: func(_ identity, confFile, file string, positional []string) error {
			return save(hostid.OptionSymname, "host symbolic name", positional[0], confFile, file)
		},
	},
	{
		name:  "clear-symname",
		usage: "usage: stasadm clear-symname [-h]\n",
		save: func(_ identity, confFile, _ string, _ []string) error {
			if confFile == "" {
				return nil
			}
			if err := hostid.ClearHostOption(confFile, hostid.OptionSymname); err != nil {
				return fmt.Errorf("clear host symbolic name: %w", err)
			}
			return nil
		},
	},
}

// run is stasadm without the process around it: it parses args, does the work and returns
// the exit code. Results go to files only; messages go to stdout (help, version) or stderr.
func run(args []string, stdout, stderr io.Writer, ids identity) int {
	top := flag.NewFlagSet("stasadm", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	var showVersion bool
	var confFile string
	top.BoolVar(&showVersion, "v", false, "")
	top.BoolVar(&showVersion, "version", false, "")
	top.StringVar(&confFile, "c", defaultConfFile, "")
	top.StringVar(&confFile, "conf-file", defaultConfFile, "")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, mainHelp)
			return exitOK
		}
		return usageError(stderr, mainUsage, "stasadm", err.Error())
	}
	if showVersion {
		fmt.Fprintln(stdout, version.String())
		return exitOK
	}
	rest := top.Args()
	if len(rest) == 0 {
		// nvme-stas printed the usage and exited; scripts see a failure either way.
		fmt.Fprint(stderr, mainUsage)
		fmt.Fprintln(stderr, "stasadm: error: a command is required")
		return exitError
	}

	var cmd *command
	for i := range commands {
		if commands[i].name == rest[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		return usageError(stderr, mainUsage, "stasadm", fmt.Sprintf(
			"argument command: invalid choice: '%s' (choose from 'hostnqn', 'hostid', 'set-symname', 'clear-symname')", rest[0]))
	}

	sub := flag.NewFlagSet("stasadm "+cmd.name, flag.ContinueOnError)
	sub.SetOutput(io.Discard)
	var file string
	if cmd.fileHelp != "" {
		sub.StringVar(&file, "f", "", "")
		sub.StringVar(&file, "file", "", "")
	}
	if err := sub.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, cmd.helpText())
			return exitOK
		}
		return usageError(stderr, cmd.usage, sub.Name(), err.Error())
	}
	positional := sub.Args()
	switch {
	case len(positional) < len(cmd.args):
		return usageError(stderr, cmd.usage, sub.Name(),
			"the following arguments are required: "+cmd.args[len(positional)])
	case len(positional) > len(cmd.args):
		return usageError(stderr, cmd.usage, sub.Name(),
			"unrecognized arguments: "+strings.Join(positional[len(cmd.args):], " "))
	}

	if err := cmd.save(ids, confFile, file, positional); err != nil {
		if errors.Is(err, hostid.ErrNotRoot) {
			fmt.Fprintln(stderr, notRootMessage)
		} else {
			fmt.Fprintf(stderr, "stasadm: %v\n", err)
		}
		return exitError
	}
	return exitOK
}

// helpText is the -h output of a sub-command.
func (c *command) helpText() string {
	text := c.usage
	if len(c.args) > 0 {
		text += "\npositional arguments:\n  SYMNAME               Symbolic name\n"
	}
	text += "\noptions:\n  -h, --help            show this help message and exit\n"
	if c.fileHelp != "" {
		text += "  -f FILE, --file FILE  " + c.fileHelp + "\n"
	}
	return text
}

// usageError prints the usage and the error as argparse does and returns its exit code.
func usageError(stderr io.Writer, usage, prog, msg string) int {
	fmt.Fprint(stderr, usage)
	fmt.Fprintf(stderr, "%s: error: %s\n", prog, msg)
	return exitUsage
}

// save stores value the nvme-stas way: with -f FILE, the value and a newline go to FILE and
// sys.conf gets file://FILE (made absolute: the daemons do not run in the caller's
// directory); without it, sys.conf gets the value itself. An empty confFile (-c "") leaves
// sys.conf alone. Everything is checked before anything is written, so a refused value
// leaves both files untouched.
func save(option, what, value, confFile, file string) error {
	if err := hostid.CheckValue(value); err != nil {
		return fmt.Errorf("save %s: %w", what, err)
	}
	confValue := value
	if file != "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			return fmt.Errorf("save %s: locate %s: %w", what, file, err)
		}
		confValue = hostid.FilePrefix + abs
		if confFile != "" {
			if err := hostid.CheckValue(confValue); err != nil {
				return fmt.Errorf("save %s: file name %s: %w", what, file, err)
			}
		}
		if err := hostid.WriteFile(file, []byte(value+"\n"), 0o644); err != nil {
			return fmt.Errorf("save %s: %w", what, err)
		}
	}
	if confFile == "" {
		return nil
	}
	if err := hostid.SetHostOption(confFile, option, confValue); err != nil {
		return fmt.Errorf("save %s: %w", what, err)
	}
	return nil
}
