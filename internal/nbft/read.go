// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
)

// Dir is where the kernel exposes the ACPI tables; ReadAll takes an fs.FS rooted there
// (os.DirFS(nbft.Dir) in production).
const Dir = "/sys/firmware/acpi/tables"

// maxTableLen bounds what is read of one file. An NBFT is a few kilobytes; its offsets
// are 32-bit, but nothing legitimate comes near this.
const maxTableLen = 1 << 20

// ReadAll reads and decodes every NBFT* file at the top of fsys. A missing directory or
// no such file gives nothing, quietly; an empty file is skipped at debug level; a file
// that cannot be read or decoded is logged as an error and skipped, and the others are
// still returned. Warnings of a decoded table are logged too. Each Table's Name is its
// file name. A nil log discards the messages.
func ReadAll(fsys fs.FS, log *slog.Logger) []*Table {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, err := fs.Glob(fsys, "NBFT*")
	if err != nil || len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	log.Info("NBFT location(s)", "files", names)
	var tables []*Table
	for _, name := range names {
		t, err := readOne(fsys, name)
		switch {
		case errors.Is(err, ErrEmpty):
			log.Debug("NBFT table is empty, skipped", "file", name)
			continue
		case err != nil:
			log.Error("NBFT table skipped", "file", name, "error", err)
			continue
		}
		for _, w := range t.Warnings {
			log.Warn("NBFT descriptor dropped", "file", name, "reason", w)
		}
		tables = append(tables, t)
	}
	return tables
}

func readOne(fsys fs.FS, name string) (*Table, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read NBFT %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTableLen+1))
	if err != nil {
		return nil, fmt.Errorf("read NBFT %s: %w", name, err)
	}
	if len(data) > maxTableLen {
		return nil, fmt.Errorf("read NBFT %s: %w: larger than %d bytes", name, ErrMalformed, maxTableLen)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse NBFT %s: %w", name, err)
	}
	t.Name = name
	return t, nil
}
