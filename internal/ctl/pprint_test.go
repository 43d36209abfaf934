// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

const hostNQN = "nqn.2014-08.org.nvmexpress:uuid:3e518ec3-72ec-46a5-a603-2510e3140e29"

const dlpe = `{'trtype': 'tcp', 'adrfam': 'ipv6', 'traddr': '::1', 'trsvcid': '8009', 'subnqn': 'klingons', 'subtype': 'nvme', 'treq': 'disable sqflow', 'tsas': "{'sectype': 'none'}", 'portid': '1'}`

// The expected texts are what CPython 3.11 prints for pprint.pformat(value, width=120) of
// the same values (the first three are nvme-stas's examples of §5.2).
var pformatCases = []struct {
	name  string
	value any
	want  string
}{
	{"short dict on one line", dbusapi.NewDict("b", "x", "a", true, "c", nil, "d", 3),
		"{'a': True, 'b': 'x', 'c': None, 'd': 3}"},
	{"nvme-stas's stafctl ls example", []map[string]string{{"device": "nvme0", "host-iface": "", "host-nqn": hostNQN, "host-traddr": "", "subsysnqn": "nqn.2014-08.org.nvmexpress.discovery", "traddr": "::1", "transport": "tcp", "trsvcid": "8009"}},
		"[{'device': 'nvme0',\n  'host-iface': '',\n  'host-nqn': 'nqn.2014-08.org.nvmexpress:uuid:3e518ec3-72ec-46a5-a603-2510e3140e29',\n  'host-traddr': '',\n  'subsysnqn': 'nqn.2014-08.org.nvmexpress.discovery',\n  'traddr': '::1',\n  'transport': 'tcp',\n  'trsvcid': '8009'}]"},
	{"nvme-stas's stafctl dlp example", []map[string]string{{"adrfam": "ipv6", "asqsz": "32", "cntlid": "65535", "eflags": "0", "portid": "1", "subnqn": "klingons", "subtype": "nvme", "traddr": "::1", "treq": "disable sqflow", "trsvcid": "8009", "trtype": "tcp"}},
		"[{'adrfam': 'ipv6',\n  'asqsz': '32',\n  'cntlid': '65535',\n  'eflags': '0',\n  'portid': '1',\n  'subnqn': 'klingons',\n  'subtype': 'nvme',\n  'traddr': '::1',\n  'treq': 'disable sqflow',\n  'trsvcid': '8009',\n  'trtype': 'tcp'}]"},
	{"nested containers", dbusapi.NewDict("controllers", []any{dbusapi.NewDict("log_pages", []map[string]string{{"a": strings.Repeat("x", 50), "b": strings.Repeat("y", 50)}, {"c": "z"}}, "name", "n")}, "list", []string{"_nvme-disc._tcp", "_nvme-disc._udp"}, "avahi", dbusapi.NewDict("services", &dbusapi.Dict{}, "service types", []string{})),
		"{'avahi': {'service types': [], 'services': {}},\n 'controllers': [{'log_pages': [{'a': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n                                 'b': 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'},\n                                {'c': 'z'}],\n                  'name': 'n'}],\n 'list': ['_nvme-disc._tcp', '_nvme-disc._udp']}"},
	{"a long string is split into adjacent literals", map[string]string{"dlpe": dlpe, "k": "v"},
		"{'dlpe': \"{'trtype': 'tcp', 'adrfam': 'ipv6', 'traddr': '::1', 'trsvcid': '8009', 'subnqn': 'klingons', 'subtype': \"\n         '\\'nvme\\', \\'treq\\': \\'disable sqflow\\', \\'tsas\\': \"{\\'sectype\\': \\'none\\'}\", \\'portid\\': \\'1\\'}',\n 'k': 'v'}"},
	{"a long string is split at its line ends", map[string]any{"text": "line one is here\nline two is here and it is quite a bit longer than the first one, really much longer indeed\nthree"},
		"{'text': 'line one is here\\n'\n         'line two is here and it is quite a bit longer than the first one, really much longer indeed\\n'\n         'three'}"},
	{"a long string at the top level is parenthesised", strings.Repeat("word ", 40),
		"('word word word word word word word word word word word word word word word word word word word word word word word '\n 'word word word word word word word word word word word word word word word word word ')"},
	{"widths count characters, not bytes", map[string]string{"k": strings.Repeat("é", 60), "l": strings.Repeat("ü", 58)},
		"{'k': 'éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé',\n 'l': 'üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü'}"},
	{"empty containers", []any{[]any{}, &dbusapi.Dict{}, ""},
		"[[], {}, '']"},
	{"deep lists", []any{[]any{[]any{[]string{strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)}}}},
		"[[[['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',\n    'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',\n    'cccccccccccccccccccccccccccccccccccccccc']]]]"},
	{"120 columns fit", map[string]string{"k": strings.Repeat("x", 111)},
		"{'k': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}"},
	{"121 columns do not", map[string]string{"k": strings.Repeat("x", 112)},
		"{'k': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}"},
	{"numbers and None from JSON", []any{json.Number("3"), json.Number("1.5"), nil, false, json.Number("1e400")},
		"[3, 1.5, None, False, inf]"},
	{"control characters and both quotes", []string{"it's", "tab\there", `both ' and "`, "\x00\x1b\u00a0"},
		"[\"it's\", 'tab\\there', 'both \\' and \"', '\\x00\\x1b\\xa0']"},
}

func TestPFormat(t *testing.T) {
	for _, tc := range pformatCases {
		if got := PFormat(tc.value, 120); got != tc.want {
			t.Errorf("%s:\n got:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}
