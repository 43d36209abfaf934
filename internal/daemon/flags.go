// SPDX-License-Identifier: Apache-2.0

package daemon

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Flags are the daemons' command line (behaviour reference §5.1):
// prog [-h] [-f FILE] [-s] [--tron] [-v].
type Flags struct {
	ConfFile string
	Syslog   bool
	Tron     bool
	Version  bool
}

// Usage returns the daemon's help text.
func Usage(prog, description, defaultConf string) string {
	return fmt.Sprintf(`usage: %s [-h] [-f FILE] [-s] [--tron] [-v]

%s

options:
  -h, --help            show this help message and exit
  -f FILE, --conf-file FILE
                        Configuration file (default: %s)
  -s, --syslog          Send messages to syslog (the journal) instead of stdout
  --tron                Trace ON (debug messages)
  -v, --version         Print version, then exit
`, prog, description, defaultConf)
}

// ParseFlags parses a daemon's arguments. On -h it prints usage to stderr and returns
// flag.ErrHelp; on a syntax error it prints usage and returns the error (exit code 2).
func ParseFlags(prog, usage, defaultConf string, args []string, stderr io.Writer) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, name := range []string{"f", "conf-file"} {
		fs.StringVar(&f.ConfFile, name, defaultConf, "")
	}
	for _, name := range []string{"s", "syslog"} {
		fs.BoolVar(&f.Syslog, name, false, "")
	}
	fs.BoolVar(&f.Tron, "tron", false, "")
	for _, name := range []string{"v", "version"} {
		fs.BoolVar(&f.Version, name, false, "")
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprint(stderr, usage)
		if errors.Is(err, flag.ErrHelp) {
			return f, err
		}
		return f, fmt.Errorf("%s: %w", prog, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, usage)
		return f, fmt.Errorf("%s: unexpected argument %q", prog, fs.Arg(0))
	}
	return f, nil
}
