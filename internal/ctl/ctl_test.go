// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/dbusapi/dbustest"
	"github.com/nvme-stas-go/stas/internal/tid"
	"github.com/nvme-stas-go/stas/internal/version"
)

var update = flag.Bool("update", false, "rewrite testdata/golden: the JSON from the tools, the text from python3's pprint")

type toolFunc func(context.Context, []string, Env) int

type outcome struct {
	stdout, stderr string
	code           int
}

func runTool(t *testing.T, tool toolFunc, env Env, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr = &stdout, &stderr
	code := tool(context.Background(), args, env)
	return outcome{stdout.String(), stderr.String(), code}
}

// startDaemons serves the sample fakes on a private bus that the tools reach through
// $DBUS_SYSTEM_BUS_ADDRESS, as in production.
func startDaemons(t *testing.T) (*dbustest.FakeStafd, *dbustest.FakeStacd) {
	t.Helper()
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.Addr)
	root := dbusapi.Options{CallerUID: func(string) (uint32, error) { return 0, nil }}
	staf, stac := dbustest.SampleStafd(), dbustest.SampleStacd()
	dbustest.ServeStafd(t, bus, staf, root)
	dbustest.ServeStacd(t, bus, stac, root)
	return staf, stac
}

// goldenCases are the read commands whose default output is compared with the text
// CPython's pprint makes of the same data (testdata/golden/<name>.txt, from <name>.json).
var goldenCases = []struct {
	name string
	tool toolFunc
	args []string
}{
	{"stafctl-ls", Stafctl, []string{"ls"}},
	{"stafctl-ls-d", Stafctl, []string{"ls", "-d"}},
	{"stafctl-dlp", Stafctl, []string{"dlp", "-a", "::1", "-s", "8009", "-q", dbustest.SampleHostNQN}},
	{"stafctl-adlp", Stafctl, []string{"adlp"}},
	{"stafctl-adlp-d", Stafctl, []string{"adlp", "--detailed"}},
	{"stafctl-status", Stafctl, []string{"status"}},
	{"stacctl-ls", Stacctl, []string{"ls"}},
	{"stacctl-ls-d", Stacctl, []string{"ls", "-d"}},
	{"stacctl-status", Stacctl, []string{"status"}},
}

func goldenPath(name, ext string) string { return filepath.Join("testdata", "golden", name+ext) }

func TestGoldenOutput(t *testing.T) {
	startDaemons(t)
	for _, tc := range goldenCases {
		js := runTool(t, tc.tool, Env{}, append([]string{"--json"}, tc.args...)...)
		if js.code != 0 {
			t.Fatalf("%s --json: exit %d: %s", tc.name, js.code, js.stderr)
		}
		if *update {
			writeGolden(t, tc.name, js.stdout)
		}
		wantJSON, err := os.ReadFile(goldenPath(tc.name, ".json"))
		if err != nil {
			t.Fatal(err)
		}
		if js.stdout != string(wantJSON) {
			t.Errorf("%s --json:\n%s\nwant:\n%s", tc.name, js.stdout, wantJSON)
		}
		if !json.Valid([]byte(js.stdout)) {
			t.Errorf("%s --json is not JSON", tc.name)
		}
		want, err := os.ReadFile(goldenPath(tc.name, ".txt"))
		if err != nil {
			t.Fatal(err)
		}
		got := runTool(t, tc.tool, Env{}, tc.args...)
		if got.code != 0 || got.stdout != string(want) || got.stderr != "" {
			t.Errorf("%s: exit %d, stderr %q, output:\n%s\nwant:\n%s", tc.name, got.code, got.stderr, got.stdout, want)
		}
	}
}

// writeGolden stores the JSON and CPython's pprint of it (nvme-stas's tools print
// pprint.pformat(json.loads(...)) or the D-Bus dicts, which hold the same data).
func writeGolden(t *testing.T, name, jsonText string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(goldenPath(name, "")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath(name, ".json"), []byte(jsonText), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", "import json, pprint, sys; print(pprint.pformat(json.load(sys.stdin), width=120))")
	cmd.Stdin = strings.NewReader(jsonText)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if err := os.WriteFile(goldenPath(name, ".txt"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The golden texts are CPython's pprint of the golden JSON (checked when python3 is
// installed, so that nobody edits one without the other).
func TestGoldenFilesAgree(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	var docs []json.RawMessage
	for _, tc := range goldenCases {
		js, err := os.ReadFile(goldenPath(tc.name, ".json"))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, js)
	}
	cmd := exec.Command(python, "-c", pythonScript) // one interpreter for all: it starts slowly
	var cases []any
	for _, d := range docs {
		cases = append(cases, []any{120, d})
	}
	in, _ := json.Marshal(cases)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(out, &texts); err != nil || len(texts) != len(goldenCases) {
		t.Fatalf("python3 output: %v", err)
	}
	for i, tc := range goldenCases {
		txt, _ := os.ReadFile(goldenPath(tc.name, ".txt"))
		if texts[i]+"\n" != string(txt) {
			t.Errorf("%s.txt is not python's pprint of %s.json", tc.name, tc.name)
		}
	}
}

func TestTron(t *testing.T) {
	staf, stac := startDaemons(t)
	for _, tc := range []struct {
		tool toolFunc
		d    interface{ Tron() bool }
	}{{Stafctl, staf}, {Stacctl, stac}} {
		if got := runTool(t, tc.tool, Env{}, "tron"); got.code != 0 || got.stdout != "tron = True\n" || !tc.d.Tron() {
			t.Errorf("tron: %+v", got)
		}
		if got := runTool(t, tc.tool, Env{}, "--table", "tron"); got.code != 0 || got.stdout != "tron = True\n" {
			t.Errorf("--table tron: %+v", got)
		}
		if got := runTool(t, tc.tool, Env{}, "--json", "troff"); got.code != 0 || got.stdout != "{\n  \"tron\": false\n}\n" || tc.d.Tron() {
			t.Errorf("--json troff: %+v", got)
		}
		if got := runTool(t, tc.tool, Env{}, "troff"); got.code != 0 || got.stdout != "tron = False\n" {
			t.Errorf("troff: %+v", got)
		}
	}
}

func TestTables(t *testing.T) {
	startDaemons(t)
	for _, tc := range []struct {
		tool toolFunc
		args []string
		want string
	}{
		{Stafctl, []string{"ls"}, `
DEVICE  TRANSPORT  TRADDR       TRSVCID  HOST-TRADDR  HOST-IFACE  SUBSYSNQN
nvme0   tcp        ::1          8009     -            -           nqn.2014-08.org.nvmexpress.discovery
nvme?   tcp        10.10.10.10  8009     1.2.3.4      wlp0s20f3   nqn.1988-11.com.dell:SFSS:2:20220208134025e8
`},
		{Stafctl, []string{"ls", "-d"}, `
DEVICE  CONNECTED  ORIGIN      TRANSPORT  TRADDR       TRSVCID  HOST-TRADDR  HOST-IFACE  ATTEMPTS  SUBSYSNQN
nvme0   True       discovered  tcp        ::1          8009     -            -           0         nqn.2014-08.org.nvmexpress.discovery
nvme?   False      configured  tcp        10.10.10.10  8009     1.2.3.4      wlp0s20f3   1         nqn.1988-11.com.dell:SFSS:2:20220208134025e8
`},
		{Stafctl, []string{"dlp", "-a", "::1", "-s", "8009", "-q", dbustest.SampleHostNQN}, `
SUBTYPE   TRTYPE  ADRFAM  TRADDR       TRSVCID  PORTID  TREQ            SUBNQN
nvme      tcp     ipv6    ::1          8009     1       disable sqflow  klingons
referral  tcp     ipv4    10.10.10.10  8009     2       not specified   nqn.2014-08.org.nvmexpress.discovery
`},
		{Stafctl, []string{"adlp", "-d"}, `
DC     DC-TRADDR    DC-TRSVCID  SUBTYPE   TRTYPE  ADRFAM  TRADDR       TRSVCID  PORTID  TREQ            SUBNQN
nvme0  ::1          8009        nvme      tcp     ipv6    ::1          8009     1       disable sqflow  klingons
nvme0  ::1          8009        referral  tcp     ipv4    10.10.10.10  8009     2       not specified   nqn.2014-08.org.nvmexpress.discovery
nvme?  10.10.10.10  8009        -         -       -       -            -        -       -               -
`},
		{Stacctl, []string{"ls", "-d"}, `
DEVICE  CONNECTED  TRANSPORT  TRADDR        TRSVCID  HOST-TRADDR  HOST-IFACE  ATTEMPTS  NCC    SUBSYSNQN
nvme1   True       tcp        ::1           8009     -            -           0         False  klingons
nvme?   False      tcp        192.168.1.50  4420     -            -           2         False  nqn.2014-08.org.example:storage
`},
		{Stacctl, []string{"status"}, `
KEY                        VALUE
tron                       False
log-level                  INFO
hostnqn                    nqn.2014-08.org.nvmexpress:uuid:3e518ec3-72ec-46a5-a603-2510e3140e29
hostid                     3e518ec3-72ec-46a5-a603-2510e3140e29
hostkey                    -
symname                    -
last known config file     /run/stacd/last-known-config.json
config soak timer          1.5s [off]
kernel support.TP8013      True
kernel support.host_iface  True
terminator.audit timer     30.0s [off]

DEVICE  CONNECTED  TRANSPORT  TRADDR        TRSVCID  HOST-TRADDR  HOST-IFACE  ATTEMPTS  NCC    SUBSYSNQN
nvme1   True       tcp        ::1           8009     -            -           0         False  klingons
nvme?   False      tcp        192.168.1.50  4420     -            -           2         False  nqn.2014-08.org.example:storage
`},
	} {
		got := runTool(t, tc.tool, Env{}, append([]string{"--table"}, tc.args...)...)
		if want := strings.TrimPrefix(tc.want, "\n"); got.code != 0 || got.stdout != want {
			t.Errorf("--table %v: exit %d %s\n%s\nwant:\n%s", tc.args, got.code, got.stderr, got.stdout, want)
		}
		// --table also works after the command.
		if after := runTool(t, tc.tool, Env{}, append(tc.args, "--table")...); after.stdout != got.stdout {
			t.Errorf("%v --table differs from --table %v", tc.args, tc.args)
		}
	}
	status := runTool(t, Stafctl, Env{}, "--table", "status").stdout
	for _, row := range [][]string{
		{"KEY", "VALUE"},
		{"avahi.service types", "_nvme-disc._tcp, _nvme-disc._udp"},
		{"avahi.services.(lo, IPv6, nvmet.local, _nvme-disc._tcp).reachable", "True"},
		{"hostkey", "(set)"},
		{"DEVICE", "CONNECTED", "ORIGIN", "TRANSPORT", "TRADDR", "TRSVCID", "HOST-TRADDR", "HOST-IFACE", "ATTEMPTS", "LOG-PAGES", "SUBSYSNQN"},
		{"nvme0", "True", "discovered", "tcp", "::1", "8009", "-", "-", "0", "2", "nqn.2014-08.org.nvmexpress.discovery"},
	} {
		if !hasRow(status, row) {
			t.Errorf("stafctl --table status has no row %q:\n%s", row, status)
		}
	}
}

// hasRow reports whether a table has a line whose columns (separated by two or more
// spaces) are row.
func hasRow(table string, row []string) bool {
	sep := regexp.MustCompile(`\s{2,}`)
	for _, line := range strings.Split(table, "\n") {
		if slices.Equal(sep.Split(strings.TrimSpace(line), -1), row) {
			return true
		}
	}
	return false
}

func TestNotRunning(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.Addr)
	for _, tc := range []struct {
		tool toolFunc
		args []string
		want string
	}{
		{Stafctl, []string{"ls"}, "stafd is not running\n"},
		{Stafctl, []string{"status"}, "stafd is not running\n"},
		{Stafctl, []string{"tron"}, "stafd is not running\n"},
		{Stafctl, []string{"adlp", "-d"}, "stafd is not running\n"},
		{Stafctl, []string{"dlp", "-a", "::1", "-s", "8009", "-q", "nqn.x"}, "stafd is not running\n"},
		{Stacctl, []string{"status"}, "stacd is not running\n"},
		{Stacctl, []string{"troff"}, "stacd is not running\n"},
	} {
		got := runTool(t, tc.tool, Env{}, tc.args...)
		if got.code != ExitFailure || got.stderr != tc.want || got.stdout != "" {
			t.Errorf("%v: %+v", tc.args, got)
		}
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	got := runTool(t, Stafctl, Env{}, "ls")
	if got.code != ExitFailure || !strings.HasPrefix(got.stderr, "cannot reach the system bus: ") || strings.Count(got.stderr, "\n") != 1 {
		t.Errorf("no bus: %+v", got)
	}
}

func TestTronRefused(t *testing.T) {
	bus := dbustest.StartBus(t, dbustest.BusOptions{})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.Addr)
	f := dbustest.SampleStafd()
	dbustest.ServeStafd(t, bus, f, dbusapi.Options{CallerUID: func(string) (uint32, error) { return 1000, nil }})
	got := runTool(t, Stafctl, Env{}, "tron")
	if got.code != ExitFailure || got.stderr != "permission denied: tron needs root\n" || f.Tron() {
		t.Errorf("non-root tron: %+v", got)
	}
	// Reading still works for everyone.
	if got := runTool(t, Stafctl, Env{}, "ls"); got.code != 0 {
		t.Errorf("ls: %+v", got)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		tool   toolFunc
		args   []string
		code   int
		stdout string // prefix
		stderr string // substring
	}{
		{Stafctl, nil, ExitFailure, "", "usage: stafctl [-h] [-v] [--json | --table] {tron,troff,status,ls,dlp,adlp} ...\nstafctl: error: a command is required\n"},
		{Stacctl, nil, ExitFailure, "", "usage: stacctl [-h] [-v] [--json | --table] {tron,troff,status,ls} ...\n"},
		{Stafctl, []string{"-v"}, ExitOK, version.String() + "\n", ""},
		{Stacctl, []string{"--version", "ls"}, ExitOK, version.String() + "\n", ""},
		{Stafctl, []string{"-h"}, ExitOK, "usage: stafctl [-h]", ""},
		{Stafctl, []string{"--help"}, ExitOK, "usage: stafctl [-h] [-v] [--json | --table] {tron,troff,status,ls,dlp,adlp} ...\n\nSTorage Appliance Finder (STAF)\n", ""},
		{Stafctl, []string{"dlp", "-h"}, ExitOK, "usage: stafctl dlp [-h] [-t <trtype>] -a <traddr> -s <trsvcid> [-w <traddr>] [-f <iface>] [-q <nqn>] [-n <nqn>] [--json | --table]\n", ""},
		{Stafctl, []string{"ls", "--help"}, ExitOK, "usage: stafctl ls [-h] [-d] [--json | --table]\n\nList discovery controllers\n", ""},
		{Stacctl, []string{"tron", "-h"}, ExitOK, "usage: stacctl tron [-h]\n", ""},
		{Stafctl, []string{"bogus"}, ExitUsage, "", "stafctl: error: argument command: invalid choice: 'bogus' (choose from 'tron', 'troff', 'status', 'ls', 'dlp', 'adlp')\n"},
		{Stacctl, []string{"dlp"}, ExitUsage, "", "invalid choice: 'dlp'"},
		{Stafctl, []string{"-x"}, ExitUsage, "", "stafctl: error: unrecognized arguments: -x\n"},
		{Stafctl, []string{"ls", "-x"}, ExitUsage, "", "usage: stafctl ls [-h] [-d] [--json | --table]\nstafctl ls: error: unrecognized arguments: -x\n"},
		{Stafctl, []string{"ls", "extra"}, ExitUsage, "", "unrecognized arguments: extra"},
		{Stafctl, []string{"ls", "--", "extra"}, ExitUsage, "", "unrecognized arguments: extra"},
		{Stafctl, []string{"ls", "-d=1"}, ExitUsage, "", "argument -d/--detailed: ignored explicit argument '=1'"},
		{Stafctl, []string{"ls", "--detailed=yes"}, ExitUsage, "", "argument -d/--detailed: ignored explicit argument 'yes'"},
		{Stafctl, []string{"dlp"}, ExitUsage, "", "stafctl dlp: error: the following arguments are required: -a/--traddr, -s/--trsvcid\n"},
		{Stafctl, []string{"dlp", "-a", "::1"}, ExitUsage, "", "the following arguments are required: -s/--trsvcid\n"},
		{Stafctl, []string{"dlp", "-a"}, ExitUsage, "", "argument -a/--traddr: expected one argument\n"},
		{Stafctl, []string{"dlp", "-a", "-s", "8009"}, ExitUsage, "", "argument -a/--traddr: expected one argument\n"},
		{Stafctl, []string{"dlp", "-t", "nvme", "-a", "x", "-s", "1"}, ExitUsage, "", "argument -t/--transport: invalid choice: 'nvme' (choose from 'tcp', 'rdma', 'fc', 'loop')\n"},
		{Stafctl, []string{"--json", "--table", "ls"}, ExitUsage, "", "argument --table: not allowed with argument --json\n"},
		{Stafctl, []string{"--json", "ls", "--table"}, ExitUsage, "", "not allowed with argument --json"},
		{Stafctl, []string{"tron", "--json"}, ExitUsage, "", "unrecognized arguments: --json"},
	} {
		got := runTool(t, tc.tool, Env{}, tc.args...)
		if got.code != tc.code || !strings.HasPrefix(got.stdout, tc.stdout) || !strings.Contains(got.stderr, tc.stderr) {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", tc.args, got.code, got.stdout, got.stderr)
		}
	}
	help := runTool(t, Stafctl, Env{}, "-h").stdout
	for _, want := range []string{"  -v, --version  Print version, then exit", "    dlp     Show discovery log pages", "  --table        print the answer as a table"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	dlpHelp := runTool(t, Stafctl, Env{}, "dlp", "--traddr", "x", "-h").stdout
	if !strings.Contains(dlpHelp, "-a <traddr>, --traddr <traddr>") || !strings.Contains(dlpHelp, "(default: \"tcp\")") {
		t.Errorf("dlp help:\n%s", dlpHelp)
	}
}

// stafctl needs no host NQN except for dlp without -q (nvme-stas quirk 21, fixed).
func TestHostNQN(t *testing.T) {
	staf, _ := startDaemons(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "sys.conf")
	if err := os.WriteFile(missing, []byte("[Host]\nnqn = file://"+filepath.Join(dir, "no-such-file")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := Env{SysConf: missing}
	for _, args := range [][]string{{"ls"}, {"status"}, {"adlp"}, {"dlp", "-a", "::1", "-s", "8009", "-q", dbustest.SampleHostNQN}} {
		if got := runTool(t, Stafctl, env, args...); got.code != 0 {
			t.Errorf("%v without a host NQN: %+v", args, got)
		}
	}
	got := runTool(t, Stafctl, env, "dlp", "-a", "::1", "-s", "8009")
	if got.code != ExitFailure || !strings.HasPrefix(got.stderr, "cannot read the host NQN (from "+missing+"): ") ||
		!strings.HasSuffix(got.stderr, "; pass it with -q/--host-nqn\n") {
		t.Errorf("dlp without a host NQN: %+v", got)
	}

	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte("[Host]\nnqn = "+dbustest.SampleHostNQN+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = runTool(t, Stafctl, Env{SysConf: good}, "dlp", "--traddr=::1", "--trsvcid", "8009")
	want, _ := os.ReadFile(goldenPath("stafctl-dlp", ".txt"))
	if got.code != 0 || got.stdout != string(want) {
		t.Errorf("dlp with the host NQN from sys.conf: %+v", got)
	}
	if last := staf.LastTID(); last != dbustest.SampleDC1 {
		t.Errorf("dlp asked for %+v", last)
	}
	// Every option reaches the daemon.
	runTool(t, Stafctl, Env{SysConf: good}, "dlp", "-t", "rdma", "-a", "192.0.2.1", "-s", "4420", "-w", "192.0.2.9", "-f", "eth1", "-n", "nqn.dc", "-q", "nqn.me")
	last := staf.LastTID()
	if last.Transport != "rdma" || last.Traddr != "192.0.2.1" || last.Trsvcid != "4420" || last.HostTraddr != "192.0.2.9" ||
		last.HostIface != "eth1" || last.SubsysNQN != "nqn.dc" || last.HostNQN != "nqn.me" {
		t.Errorf("dlp options: %+v", last)
	}
}

// brokenStafd answers with JSON that is not the promised document.
type brokenStafd struct {
	*dbustest.FakeStafd
	info, all, ci string
}

func (b brokenStafd) ProcessInfo() string           { return b.info }
func (b brokenStafd) GetAllLogPages(bool) string    { return b.all }
func (b brokenStafd) ControllerInfo(tid.TID) string { return b.ci }

func TestMalformedAnswers(t *testing.T) {
	for _, tc := range []struct {
		b    brokenStafd
		args []string
		want string
	}{
		{brokenStafd{info: "[1]", all: "[]", ci: "{}"}, []string{"status"}, "stafd sent a process_info answer that cannot be read: not a JSON object\n"},
		{brokenStafd{info: "{", all: "[]", ci: "{}"}, []string{"status"}, "stafd sent a process_info answer that cannot be read: malformed JSON: unexpected EOF\n"},
		{brokenStafd{info: "{}", all: "{}", ci: "{}"}, []string{"adlp"}, "stafd sent a get_all_log_pages answer that cannot be read: not a JSON array\n"},
		{brokenStafd{info: "{}", all: "[] []", ci: "{}"}, []string{"adlp"}, "stafd sent a get_all_log_pages answer that cannot be read: malformed JSON: data after the document\n"},
		{brokenStafd{info: "{}", all: "[]", ci: "nope"}, []string{"status"}, "stafd sent a controller_info answer that cannot be read: malformed JSON: invalid character 'o' in literal null (expecting 'u')\n"},
	} {
		bus := dbustest.StartBus(t, dbustest.BusOptions{})
		t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.Addr)
		tc.b.FakeStafd = dbustest.SampleStafd()
		dbustest.ServeStafd(t, bus, tc.b, dbusapi.Options{})
		got := runTool(t, Stafctl, Env{}, tc.args...)
		if got.code != ExitFailure || got.stderr != tc.want {
			t.Errorf("%v: %+v, want %q", tc.args, got, tc.want)
		}
	}
}
