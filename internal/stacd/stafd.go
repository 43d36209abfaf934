// SPDX-License-Identifier: Apache-2.0

package stacd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Stafd is stacd's view of stafd on the system bus (behaviour reference §4.7). Our stafd
// and nvme-stas's serve the same API, so either works.
type Stafd interface {
	// Events delivers stafd's coming and going on the bus and its change signals
	// (log_pages_changed, dc_removed). The first event says whether stafd is there.
	Events() <-chan StafdEvent
	// AllLogPages returns get_all_log_pages(true)'s answer.
	AllLogPages(ctx context.Context) (string, error)
}

// StafdEvent is something stafd did.
type StafdEvent int

// The events.
const (
	// StafdAppeared: stafd owns its bus name (also the first event when it already did).
	StafdAppeared StafdEvent = iota
	// StafdVanished: nobody owns stafd's bus name.
	StafdVanished
	// StafdChanged: stafd signalled a change (log_pages_changed or dc_removed).
	StafdChanged
)

// maxLogPagesAnswer bounds the get_all_log_pages answer stacd accepts. 10,000 entries of
// about 400 bytes each take 4 MB; a bigger answer is refused rather than decoded.
const maxLogPagesAnswer = 64 << 20

// dcPage is one discovery controller as stafd lists it, with its I/O subsystem entries.
type dcPage struct {
	// DC is the discovery controller's identity as stafd sent it.
	DC tid.TID
	// Known says the entries are stafd's current knowledge of the DC's log page. A DC
	// stafd lists but cannot reach now (not connected), or whose log page it is still
	// reading, is not known: stacd keeps what it had from it ("unknown" is not "gone").
	Known bool
	// Entries are the DC's log page entries, each a DLPE dict.
	Entries []map[string]string
}

// parseAllLogPages decodes get_all_log_pages(true)'s JSON. Values that are not strings
// (a stafd other than ours may send numbers) are turned into their text; anything else
// malformed is an error naming the culprit, and the whole answer is refused: half an
// answer could look like a DC that lost its entries.
func parseAllLogPages(answer string) ([]dcPage, error) {
	if len(answer) > maxLogPagesAnswer {
		return nil, fmt.Errorf("get_all_log_pages answer is %d bytes, more than the %d accepted", len(answer), maxLogPagesAnswer)
	}
	var raw []struct {
		DC       map[string]any   `json:"discovery-controller"`
		LogPages []map[string]any `json:"log-pages"`
	}
	dec := json.NewDecoder(strings.NewReader(answer))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode get_all_log_pages answer: %w", err)
	}
	pages := make([]dcPage, 0, len(raw))
	for i, r := range raw {
		if r.DC == nil {
			return nil, fmt.Errorf("get_all_log_pages answer: element %d has no %q", i, dbusapi.KeyDiscoveryController)
		}
		dc := stringMap(r.DC)
		t := tid.TID{
			Transport: dc[tid.KeyTransport], Traddr: dc[tid.KeyTraddr], Trsvcid: dc[tid.KeyTrsvcid],
			SubsysNQN: dc[tid.KeySubsysNQN], HostTraddr: dc[tid.KeyHostTraddr], HostIface: dc[tid.KeyHostIface],
			HostNQN: dc[tid.KeyHostNQN],
		}
		if t.Transport == "" || t.Traddr == "" {
			return nil, fmt.Errorf("get_all_log_pages answer: element %d names no discovery controller (transport %q, traddr %q)",
				i, t.Transport, t.Traddr)
		}
		p := dcPage{DC: t, Entries: make([]map[string]string, 0, len(r.LogPages))}
		for _, e := range r.LogPages {
			p.Entries = append(p.Entries, stringMap(e))
		}
		p.Known = logPageKnown(dc, len(p.Entries))
		pages = append(pages, p)
	}
	return pages, nil
}

// logPageKnown decides whether a DC's entries (n of them) are its current log page: it
// must be connected, its log page read must not be running or failing (the entries may
// then be an older page, restored by a restarted stafd), and when it lists nothing, no
// step before the read (registration, supported log pages) may be under way either.
func logPageKnown(dc map[string]string, n int) bool {
	if !strings.EqualFold(dc[dbusapi.KeyConnected], "true") {
		return false
	}
	done := func(op string) bool {
		return strings.Contains(op, "'completed': True") && !strings.Contains(op, "'error'")
	}
	if op, ok := dc[dbusapi.KeyGetLogPageOperation]; ok {
		return done(op)
	}
	if n > 0 {
		return true
	}
	for _, k := range []string{dbusapi.KeyRegisterOperation, dbusapi.KeyGetSupportedLogPageOperation} {
		if op, ok := dc[k]; ok && !done(op) {
			return false
		}
	}
	return true
}

// stringMap turns a decoded JSON object into text values: strings as they are, numbers
// and booleans as their JSON text, null as "". Nested values are dropped.
func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = fmt.Sprint(v)
		case nil:
			out[k] = ""
		}
	}
	return out
}

// errNoStafd is the fetch error while stafd is not on the bus.
var errNoStafd = errors.New("stafd is not on the bus")
