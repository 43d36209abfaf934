// SPDX-License-Identifier: Apache-2.0

// Package ctl owns stafctl and stacctl, the command-line tools that query and control the
// daemons over D-Bus: their command lines (nvme-stas's, parsed as argparse does, with exit
// code 2 for usage errors), their commands, and their three output formats: by default the
// text nvme-stas prints (Python's pprint of the answers, so scripts that parse it keep
// working), --json for programs and jq, and --table for people.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nvme-stas-go/stas/internal/config"
	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/version"
)

// Exit codes (behaviour reference §5.5).
const (
	ExitOK      = 0
	ExitFailure = 1 // a D-Bus failure, no command, an unreadable host NQN
	ExitUsage   = 2 // a command line that does not parse
)

// PrettyWidth is the width nvme-stas gives pprint.
const PrettyWidth = 120

// DefaultTimeout bounds one run of a tool, all its D-Bus calls together.
const DefaultTimeout = 20 * time.Second

// Env is what a run of a tool takes from its surroundings; main fills it from the process,
// tests with buffers and a private bus.
type Env struct {
	Stdout, Stderr io.Writer
	// Dial connects to the daemon; nil means dbusapi.Dial (the system bus, or
	// $DBUS_SYSTEM_BUS_ADDRESS).
	Dial func(ctx context.Context, svc dbusapi.Service) (*dbusapi.Client, error)
	// SysConf is the sys.conf stafctl dlp reads the default host NQN from; ""
	// means config.SysConfPath.
	SysConf string
	// Timeout bounds the run; 0 means DefaultTimeout.
	Timeout time.Duration
}

// outputMode is how a result is printed.
type outputMode int

const (
	outputPretty outputMode = iota
	outputJSON
	outputTable
)

// result is what a command produced.
type result struct {
	// value is printed by pprint (default) and as JSON (--json).
	value any
	// text, when set, replaces the pprint text (tron's "tron = True").
	text string
	// table writes the --table view; nil prints the default text instead.
	table func(w io.Writer) error
}

// session is one run of a command.
type session struct {
	tool   *tool
	env    Env
	args   parsedArgs
	client *dbusapi.Client
}

// command is one sub-command.
type command struct {
	name, help string
	opts       []option
	run        func(ctx context.Context, s *session) (result, error)
}

// tool is stafctl or stacctl.
type tool struct {
	name, description string
	svc               dbusapi.Service
	commands          []command
}

var (
	helpOption    = option{short: "-h", long: "--help", help: "show this help message and exit"}
	versionOption = option{short: "-v", long: "--version", help: "Print version, then exit"}
	jsonOption    = option{long: "--json", help: "print the answer as JSON"}
	tableOption   = option{long: "--table", help: "print the answer as a table"}
	detailOption  = option{short: "-d", long: "--detailed", help: `Print detailed info (default: "False")`}
)

// Stafctl runs stafctl with args (without the program name) and returns its exit code.
func Stafctl(ctx context.Context, args []string, env Env) int { return stafctl.main(ctx, args, env) }

// Stacctl runs stacctl with args (without the program name) and returns its exit code.
func Stacctl(ctx context.Context, args []string, env Env) int { return stacctl.main(ctx, args, env) }

func (t *tool) commandNames() string {
	names := make([]string, len(t.commands))
	for i, c := range t.commands {
		names[i] = c.name
	}
	return "{" + strings.Join(names, ",") + "}"
}

func (t *tool) usage() string {
	return fmt.Sprintf("usage: %s [-h] [-v] [--json | --table] %s ...\n", t.name, t.commandNames())
}

func (t *tool) helpText() string {
	var b strings.Builder
	b.WriteString(t.usage())
	fmt.Fprintf(&b, "\n%s\n\noptions:\n", t.description)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, o := range []option{helpOption, versionOption, jsonOption, tableOption} {
		names, help := o.helpLine()
		fmt.Fprintf(tw, "  %s\t%s\n", names, help)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nCommands:\n  %s\n", t.commandNames())
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range t.commands {
		fmt.Fprintf(tw, "    %s\t%s\n", c.name, c.help)
	}
	tw.Flush()
	return b.String()
}

func (c *command) allOptions() []option {
	opts := append([]option{helpOption}, c.opts...)
	if c.name != "tron" && c.name != "troff" {
		opts = append(opts, jsonOption, tableOption)
	}
	return opts
}

func (c *command) usage(t *tool) string {
	var parts []string
	for _, o := range c.allOptions() {
		if o.long == "--json" || o.long == "--table" {
			continue
		}
		parts = append(parts, o.usage())
	}
	if c.name != "tron" && c.name != "troff" {
		parts = append(parts, "[--json | --table]")
	}
	return fmt.Sprintf("usage: %s %s %s\n", t.name, c.name, strings.Join(parts, " "))
}

func (c *command) helpText(t *tool) string {
	var b strings.Builder
	b.WriteString(c.usage(t))
	fmt.Fprintf(&b, "\n%s\n\noptions:\n", c.help)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, o := range c.allOptions() {
		names, help := o.helpLine()
		fmt.Fprintf(tw, "  %s\t%s\n", names, help)
	}
	tw.Flush()
	return b.String()
}

// main parses the command line, runs the command and prints its result.
func (t *tool) main(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	usageFail := func(usage, prog string, err error) int {
		fmt.Fprintf(env.Stderr, "%s%s: error: %s\n", usage, prog, err)
		return ExitUsage
	}
	global, rest, err := parseArgs([]option{helpOption, versionOption, jsonOption, tableOption}, args, true)
	if err != nil {
		return usageFail(t.usage(), t.name, err)
	}
	if global.flag("--help") {
		fmt.Fprint(env.Stdout, t.helpText())
		return ExitOK
	}
	if global.flag("--version") {
		fmt.Fprintln(env.Stdout, version.String())
		return ExitOK
	}
	if len(rest) == 0 {
		fmt.Fprint(env.Stderr, t.usage())
		fmt.Fprintf(env.Stderr, "%s: error: a command is required\n", t.name)
		return ExitFailure
	}
	var cmd *command
	for i := range t.commands {
		if t.commands[i].name == rest[0] {
			cmd = &t.commands[i]
		}
	}
	if cmd == nil {
		names := make([]string, len(t.commands))
		for i, c := range t.commands {
			names[i] = "'" + c.name + "'"
		}
		return usageFail(t.usage(), t.name, usageErrorf("argument command: invalid choice: '%s' (choose from %s)", rest[0], strings.Join(names, ", ")))
	}
	prog := t.name + " " + cmd.name
	local, _, err := parseArgs(cmd.allOptions(), rest[1:], false)
	if err != nil {
		if slices.Contains(rest[1:], "-h") || slices.Contains(rest[1:], "--help") {
			fmt.Fprint(env.Stdout, cmd.helpText(t))
			return ExitOK
		}
		return usageFail(cmd.usage(t), prog, err)
	}
	if local.flag("--help") {
		fmt.Fprint(env.Stdout, cmd.helpText(t))
		return ExitOK
	}
	asJSON := global.flag("--json") || local.flag("--json")
	asTable := global.flag("--table") || local.flag("--table")
	if asJSON && asTable {
		return usageFail(t.usage(), t.name, usageErrorf("argument --table: not allowed with argument --json"))
	}
	mode := outputPretty
	switch {
	case asJSON:
		mode = outputJSON
	case asTable:
		mode = outputTable
	}

	timeout := env.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := &session{tool: t, env: env, args: local}
	res, err := t.run(ctx, s, cmd)
	if err != nil {
		fmt.Fprintln(env.Stderr, oneLine(err))
		return ExitFailure
	}
	if err := res.print(env.Stdout, mode); err != nil {
		fmt.Fprintf(env.Stderr, "%s: write output: %s\n", t.name, err)
		return ExitFailure
	}
	return ExitOK
}

// run dials the daemon and runs cmd.
func (t *tool) run(ctx context.Context, s *session, cmd *command) (result, error) {
	if cmd.name == "dlp" {
		// The host NQN is read only here, and only when -q is not given (nvme-stas reads
		// it for every command and fails without one: quirk 21, fixed).
		if err := s.resolveHostNQN(); err != nil {
			return result{}, err
		}
	}
	dial := s.env.Dial
	if dial == nil {
		dial = dbusapi.Dial
	}
	client, err := dial(ctx, t.svc)
	if err != nil {
		return result{}, err
	}
	defer client.Close()
	s.client = client
	return cmd.run(ctx, s)
}

func (s *session) resolveHostNQN() error {
	if _, ok := s.args.value("--host-nqn"); ok {
		return nil
	}
	path := s.env.SysConf
	if path == "" {
		path = config.SysConfPath
	}
	sys, _, err := config.LoadSysConf(path)
	if err == nil {
		var hostNQN string
		if hostNQN, err = sys.HostNQN(); err == nil {
			s.args.values["--host-nqn"] = hostNQN
			return nil
		}
	}
	return fmt.Errorf("cannot read the host NQN (from %s): %w; pass it with -q/--host-nqn", path, err)
}

// oneLine keeps an error message to one line.
func oneLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func (r result) print(w io.Writer, mode outputMode) error {
	switch {
	case mode == outputJSON:
		return WriteJSON(w, r.value)
	case mode == outputTable && r.table != nil:
		return r.table(w)
	case r.text != "":
		_, err := fmt.Fprintln(w, r.text)
		return err
	}
	_, err := fmt.Fprintln(w, PFormat(r.value, PrettyWidth))
	return err
}

// Errors of a daemon's JSON that is not the document the member promises.
var (
	errNotObject = errors.New("not a JSON object")
	errNotList   = errors.New("not a JSON array")
)

// decodeObject decodes a JSON object answered by member.
func (s *session) decodeObject(member, text string) (*dbusapi.Dict, error) {
	v, err := DecodeJSON(text)
	if err == nil {
		if d, ok := v.(*dbusapi.Dict); ok {
			return d, nil
		}
		err = errNotObject
	}
	return nil, s.badAnswer(member, err)
}

func (s *session) badAnswer(member string, err error) error {
	return fmt.Errorf("%s sent a %s answer that cannot be read: %w", s.tool.svc.Daemon, member, err)
}
