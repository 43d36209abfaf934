// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"fmt"
	"slices"
	"strings"
)

// option is one command-line option, described as argparse describes it.
type option struct {
	short, long string // "-a", "--traddr"; either may be empty
	metavar     string // "<traddr>"; empty for a switch
	help        string
	required    bool
	choices     []string
	def         string // the value when the option is not given
}

func (o option) name() string {
	if o.long != "" {
		return o.long
	}
	return o.short
}

// label is how argparse names an option in errors: "-a/--traddr".
func (o option) label() string {
	switch {
	case o.short == "":
		return o.long
	case o.long == "":
		return o.short
	}
	return o.short + "/" + o.long
}

// usage is the option's part of a usage line: "-a <traddr>" or "[-d]".
func (o option) usage() string {
	flag := o.short
	if flag == "" {
		flag = o.long
	}
	if o.metavar != "" {
		flag += " " + o.metavar
	}
	if o.required {
		return flag
	}
	return "[" + flag + "]"
}

// helpLine is the option's line in the help text.
func (o option) helpLine() (string, string) {
	var names []string
	for _, n := range []string{o.short, o.long} {
		if n == "" {
			continue
		}
		if o.metavar != "" {
			n += " " + o.metavar
		}
		names = append(names, n)
	}
	return strings.Join(names, ", "), o.help
}

// usageError is a command line that does not parse: exit code 2, as argparse.
type usageError struct{ msg string }

// Error returns the message argparse would print after "error: ".
func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parsedArgs holds the options given.
type parsedArgs struct {
	values map[string]string // by option name, for options with a value
	flags  map[string]bool   // by option name, for switches
}

func (p parsedArgs) flag(name string) bool { return p.flags[name] }

func (p parsedArgs) value(name string) (string, bool) {
	v, ok := p.values[name]
	return v, ok
}

// parseArgs parses args against opts. With stopAtPositional, the first argument that is
// not an option ends the options and is returned with everything after it; otherwise a
// positional argument is an error.
func parseArgs(opts []option, args []string, stopAtPositional bool) (parsedArgs, []string, error) {
	p := parsedArgs{values: map[string]string{}, flags: map[string]bool{}}
	find := func(arg string) (option, bool) {
		for _, o := range opts {
			if arg == o.short || arg == o.long {
				return o, true
			}
		}
		return option{}, false
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest := args[i+1:]
			if !stopAtPositional && len(rest) > 0 {
				return p, nil, usageErrorf("unrecognized arguments: %s", strings.Join(rest, " "))
			}
			return p, rest, nil
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if stopAtPositional {
				return p, args[i:], nil
			}
			return p, nil, usageErrorf("unrecognized arguments: %s", strings.Join(args[i:], " "))
		}
		name, value, hasValue := arg, "", false
		if strings.HasPrefix(arg, "--") {
			name, value, hasValue = strings.Cut(arg, "=")
		} else if len(arg) > 2 {
			name, value, hasValue = arg[:2], arg[2:], true // -a::1
		}
		o, ok := find(name)
		if !ok {
			return p, nil, usageErrorf("unrecognized arguments: %s", arg)
		}
		if o.metavar == "" {
			if hasValue {
				return p, nil, usageErrorf("argument %s: ignored explicit argument '%s'", o.label(), value)
			}
			p.flags[o.name()] = true
			continue
		}
		if !hasValue {
			if i+1 >= len(args) || looksLikeOption(args[i+1]) {
				return p, nil, usageErrorf("argument %s: expected one argument", o.label())
			}
			i++
			value = args[i]
		}
		if len(o.choices) > 0 && !slices.Contains(o.choices, value) {
			quoted := make([]string, len(o.choices))
			for j, c := range o.choices {
				quoted[j] = "'" + c + "'"
			}
			return p, nil, usageErrorf("argument %s: invalid choice: '%s' (choose from %s)", o.label(), value, strings.Join(quoted, ", "))
		}
		p.values[o.name()] = value
	}
	var missing []string
	for _, o := range opts {
		_, ok := p.values[o.name()]
		switch {
		case !ok && o.required:
			missing = append(missing, o.label())
		case !ok && o.def != "":
			p.values[o.name()] = o.def
		}
	}
	if len(missing) > 0 {
		return p, nil, usageErrorf("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	return p, nil, nil
}

// looksLikeOption is argparse's test for a value that is another option instead: it
// starts with "-" and is not a negative number.
func looksLikeOption(s string) bool {
	if !strings.HasPrefix(s, "-") || s == "-" {
		return false
	}
	for _, c := range s[1:] {
		if (c < '0' || c > '9') && c != '.' {
			return true
		}
	}
	return false
}
