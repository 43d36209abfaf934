// SPDX-License-Identifier: Apache-2.0

package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/dbusapi"
)

// maxJSONDepth bounds the nesting DecodeJSON accepts: the daemons' documents are three
// levels deep, and a hostile peer must not make the tool recurse without end.
const maxJSONDepth = 64

// ErrJSON is wrapped by DecodeJSON's errors.
var ErrJSON = errors.New("malformed JSON")

// DecodeJSON parses a JSON document from a daemon as Python's json.loads would for
// printing: objects become *dbusapi.Dict with their key order kept (a repeated key keeps
// its first place and its last value), arrays []any, numbers json.Number, and strings,
// booleans and null themselves.
func DecodeJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the document", ErrJSON)
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			d := &dbusapi.Dict{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				d.Set(k, v)
			}
			return d, closing(dec)
		case '[':
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			return list, closing(dec)
		}
		return nil, fmt.Errorf("unexpected %v", tok)
	default:
		return tok, nil // string, bool, nil, json.Number
	}
}

// closing reads the bracket that ends an object or array.
func closing(dec *json.Decoder) error {
	_, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteJSON writes v as indented JSON for people and jq: two spaces per level, keys in the
// Dict's order (Go maps sorted), text in UTF-8 as it is.
func WriteJSON(w io.Writer, v any) error {
	var b strings.Builder
	writePretty(&b, v, "")
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func writePretty(b *strings.Builder, v any, indent string) {
	inner := indent + "  "
	if d, ok := asDict(v); ok {
		if d.Len() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range d.Keys() {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(inner)
			writeJSONText(b, k)
			b.WriteString(": ")
			x, _ := d.Get(k)
			writePretty(b, x, inner)
		}
		b.WriteString("\n" + indent + "}")
		return
	}
	if l, ok := asList(v); ok {
		if len(l) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, x := range l {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(inner)
			writePretty(b, x, inner)
		}
		b.WriteString("\n" + indent + "]")
		return
	}
	switch v := v.(type) {
	case string:
		writeJSONText(b, v)
	case json.Number:
		b.WriteString(v.String())
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	default:
		b.WriteString(dbusapi.PyJSON(v)) // numbers; anything else as a string
	}
}

// writeJSONText writes a JSON string keeping non-ASCII text readable.
func writeJSONText(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
