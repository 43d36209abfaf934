// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// column is one column of a --table view: its header and the dict key it shows.
type column struct {
	header, key string
	// optional columns are shown only when some row has the key.
	optional bool
}

// controllerColumns are the columns of ls, ls -d and status; the long subsystem NQN last.
var controllerColumns = []column{
	{header: "DEVICE", key: dbusapi.KeyDevice},
	{header: "CONNECTED", key: dbusapi.KeyConnected, optional: true},
	{header: "ORIGIN", key: dbusapi.KeyOrigin, optional: true},
	{header: "TRANSPORT", key: tid.KeyTransport},
	{header: "TRADDR", key: tid.KeyTraddr},
	{header: "TRSVCID", key: tid.KeyTrsvcid},
	{header: "HOST-TRADDR", key: tid.KeyHostTraddr},
	{header: "HOST-IFACE", key: tid.KeyHostIface},
	{header: "ATTEMPTS", key: dbusapi.KeyConnectAttempts, optional: true},
	{header: "NCC", key: dbusapi.KeyDLPENCC, optional: true},
	{header: "LOG-PAGES", key: "log_pages", optional: true},
	{header: "SUBSYSNQN", key: tid.KeySubsysNQN},
}

// logPageColumns are the columns of dlp.
var logPageColumns = []column{
	{header: "SUBTYPE", key: "subtype"},
	{header: "TRTYPE", key: "trtype"},
	{header: "ADRFAM", key: "adrfam"},
	{header: "TRADDR", key: "traddr"},
	{header: "TRSVCID", key: "trsvcid"},
	{header: "PORTID", key: "portid"},
	{header: "TREQ", key: "treq"},
	{header: "SUBNQN", key: "subnqn"},
}

// writeTable writes rows under headers, aligned, "-" in empty cells.
func writeTable(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	io.WriteString(tw, strings.Join(headers, "\t")+"\n")
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	return tw.Flush()
}

// cell keeps a value on one line of one cell.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// text is a value as a table shows it: strings as they are, None as "", lists joined,
// a list of log pages as its length.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []map[string]string:
		return strconv.Itoa(len(v))
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = text(x)
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(v, ", ")
	}
	return dbusapi.PyStr(v)
}

// tableOf picks the columns the rows have and writes them.
func tableOf(w io.Writer, cols []column, rows []*dbusapi.Dict) error {
	var shown []column
	for _, c := range cols {
		if !c.optional {
			shown = append(shown, c)
			continue
		}
		for _, r := range rows {
			if _, ok := r.Get(c.key); ok {
				shown = append(shown, c)
				break
			}
		}
	}
	headers := make([]string, len(shown))
	for i, c := range shown {
		headers[i] = c.header
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		for _, c := range shown {
			v, _ := r.Get(c.key)
			cells[i] = append(cells[i], text(v))
		}
	}
	return writeTable(w, headers, cells)
}

func controllersTable(w io.Writer, ctrls []*dbusapi.Dict) error {
	return tableOf(w, controllerColumns, ctrls)
}

func logPagesTable(w io.Writer, pages []*dbusapi.Dict) error {
	return tableOf(w, logPageColumns, pages)
}

// allLogPagesTable lists every entry of every DC, the DC named by its device and address.
func allLogPagesTable(w io.Writer, list []any) error {
	headers := []string{"DC", "DC-TRADDR", "DC-TRSVCID"}
	for _, c := range logPageColumns {
		headers = append(headers, c.header)
	}
	var rows [][]string
	for _, item := range list {
		d, _ := asDict(item)
		dcValue, _ := d.Get(dbusapi.KeyDiscoveryController)
		dc, _ := asDict(dcValue)
		prefix := []string{get(dc, dbusapi.KeyDevice), get(dc, tid.KeyTraddr), get(dc, tid.KeyTrsvcid)}
		pagesValue, _ := d.Get(dbusapi.KeyLogPages)
		pages, _ := asList(pagesValue)
		if len(pages) == 0 {
			rows = append(rows, append(prefix, make([]string, len(logPageColumns))...))
		}
		for _, p := range pages {
			entry, _ := asDict(p)
			row := append([]string(nil), prefix...)
			for _, c := range logPageColumns {
				row = append(row, get(entry, c.key))
			}
			rows = append(rows, row)
		}
	}
	return writeTable(w, headers, rows)
}

func get(d *dbusapi.Dict, key string) string {
	v, _ := d.Get(key)
	return text(v)
}

// statusTable shows the process information as KEY/VALUE rows (nested dictionaries
// flattened with dotted keys), then the controllers.
func statusTable(w io.Writer, info *dbusapi.Dict, ctrls []*dbusapi.Dict) error {
	var rows [][]string
	var flatten func(prefix string, d *dbusapi.Dict)
	flatten = func(prefix string, d *dbusapi.Dict) {
		for _, k := range d.Keys() {
			if prefix == "" && k == "controllers" {
				continue
			}
			v, _ := d.Get(k)
			if sub, ok := asDict(v); ok && sub.Len() > 0 {
				flatten(prefix+k+".", sub)
				continue
			}
			rows = append(rows, []string{prefix + k, text(v)})
		}
	}
	flatten("", info)
	if err := writeTable(w, []string{"KEY", "VALUE"}, rows); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return controllersTable(w, ctrls)
}
