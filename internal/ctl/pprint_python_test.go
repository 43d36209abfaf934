// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

// pythonScript reads a JSON list of [width, value] pairs and prints the JSON list of
// pprint.pformat(value, width=width).
const pythonScript = `
import json, pprint, sys
cases = json.load(sys.stdin)
json.dump([pprint.pformat(v, width=w) for w, v in cases], sys.stdout)
`

// randomValue builds a value of the kinds the daemons send, with text chosen to hit
// pprint's corners: spaces to split at, quotes of both kinds, line ends of several
// kinds, non-ASCII and non-printable characters, long words.
func randomValue(r *rand.Rand, depth int) any {
	k := r.IntN(10)
	if depth > 3 {
		k = 4 + r.IntN(6)
	}
	switch k {
	case 0, 1:
		d := &dbusapi.Dict{}
		for range r.IntN(6) {
			d.Set(randomText(r, 12), randomValue(r, depth+1))
		}
		return d
	case 2, 3:
		l := []any{}
		for range r.IntN(6) {
			l = append(l, randomValue(r, depth+1))
		}
		return l
	case 4, 5, 6:
		return randomText(r, 150)
	case 7:
		return r.IntN(2) == 0
	case 8:
		return nil
	default:
		if r.IntN(2) == 0 {
			return json.Number(strconv.Itoa(r.IntN(100000) - 500))
		}
		return json.Number(strconv.FormatFloat(r.NormFloat64()*1000, 'g', -1, 64))
	}
}

var textPieces = []string{"a", "bc", "nvme", "word", " ", " ", "  ", "'", `"`, "\n", "\r\n", "\t", "é", "😀", "\u00a0",
	"\x1c", "\u2028", "\\", "x", "-", ":", "0123456789", "\x07", "\u200b", "ü"}

func randomText(r *rand.Rand, max int) string {
	var b strings.Builder
	n := r.IntN(max)
	for b.Len() < n {
		if r.IntN(8) == 0 {
			b.WriteString(strings.Repeat("w", 1+r.IntN(40)))
		} else {
			b.WriteString(textPieces[r.IntN(len(textPieces))])
		}
	}
	return b.String()
}

// TestPFormatAgainstPython compares PFormat with CPython's pprint on random values, when
// python3 is installed.
func TestPFormatAgainstPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var values []any
	var cases []any
	widths := []int{120, 80, 40, 20}
	for i := range 400 {
		// Go's view of the value is what it reads back from the JSON Python reads.
		v, err := DecodeJSON(dbusapi.PyJSON(randomValue(r, 0)))
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		cases = append(cases, []any{widths[i%len(widths)], v})
	}
	cmd := exec.Command(python, "-c", pythonScript)
	cmd.Stdin = strings.NewReader(dbusapi.PyJSON(cases))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(values) {
		t.Fatalf("python3 output: %v", err)
	}
	failures := 0
	for i, v := range values {
		w := widths[i%len(widths)]
		if got := PFormat(v, w); got != want[i] && failures < 5 {
			failures++
			t.Errorf("case %d, width %d:\n got:\n%s\nwant:\n%s", i, w, got, want[i])
		}
	}
}
