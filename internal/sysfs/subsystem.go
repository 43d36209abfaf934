// SPDX-License-Identifier: Apache-2.0

package sysfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Subsystem is what sysfs says about one NVMe subsystem
// (/sys/class/nvme-subsystem/nvme-subsysM). The kernel gives every controller that uses the
// well-known discovery NQN a subsystem of its own; unique-NQN discovery controllers and
// I/O controllers share one per NQN.
type Subsystem struct {
	// Name is "nvme-subsys<M>".
	Name string
	NQN  string
	// Type is the subsystype attribute, "nvm" or "discovery" (kernel 5.16 and later).
	Type        string
	Model       string
	Serial      string
	FirmwareRev string
	// IOPolicy is the multipath I/O policy ("numa", "round-robin", …).
	IOPolicy string
	// Controllers names the member controllers ("nvme0"), sorted by instance.
	Controllers []string
	// Namespaces names the multipath namespace heads ("nvme0n1"), sorted.
	Namespaces []string
}

// ReadSubsystems reads every NVMe subsystem, sorted by name. Subsystems that disappear
// during the scan are left out; no class/nvme-subsystem gives an empty list.
func ReadSubsystems(fsys fs.FS) ([]Subsystem, error) {
	entries, err := fs.ReadDir(fsys, ClassSubsystem)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list NVMe subsystems: %w", err)
	}
	var subsystems []Subsystem
	for _, e := range entries {
		if !isSubsystemName(e.Name()) {
			continue
		}
		s, err := readSubsystem(fsys, e.Name())
		if err != nil {
			continue // deleted since the listing
		}
		subsystems = append(subsystems, s)
	}
	slices.SortFunc(subsystems, func(a, b Subsystem) int { return subsystemNumber(a.Name) - subsystemNumber(b.Name) })
	return subsystems, nil
}

func readSubsystem(fsys fs.FS, name string) (Subsystem, error) {
	dir := path.Join(ClassSubsystem, name)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return Subsystem{}, fmt.Errorf("read subsystem %s: %w", name, err)
	}
	s := Subsystem{
		Name:        name,
		NQN:         readAttr(fsys, dir, "subsysnqn"),
		Type:        readAttr(fsys, dir, "subsystype"),
		Model:       readAttr(fsys, dir, "model"),
		Serial:      readAttr(fsys, dir, "serial"),
		FirmwareRev: readAttr(fsys, dir, "firmware_rev"),
		IOPolicy:    readAttr(fsys, dir, "iopolicy"),
	}
	for _, e := range entries {
		switch {
		case IsNamespaceName(e.Name()):
			s.Namespaces = append(s.Namespaces, e.Name())
		default:
			// Member controllers are links named after the controller.
			if _, ok := ControllerInstance(e.Name()); ok {
				s.Controllers = append(s.Controllers, e.Name())
			}
		}
	}
	slices.SortFunc(s.Controllers, func(a, b string) int {
		x, _ := ControllerInstance(a)
		y, _ := ControllerInstance(b)
		return x - y
	})
	return s, nil
}

// subsystemIndex maps controller names to their subsystems.
func subsystemIndex(subsystems []Subsystem) map[string]*Subsystem {
	index := map[string]*Subsystem{}
	for i := range subsystems {
		for _, c := range subsystems[i].Controllers {
			index[c] = &subsystems[i]
		}
	}
	return index
}

func isSubsystemName(name string) bool { return subsystemNumber(name) >= 0 }

// subsystemNumber returns M of "nvme-subsys<M>", or -1.
func subsystemNumber(name string) int {
	digits, ok := strings.CutPrefix(name, "nvme-subsys")
	if !ok || digits == "" || len(digits) > 7 || (len(digits) > 1 && digits[0] == '0') {
		return -1
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || strconv.Itoa(n) != digits {
		return -1
	}
	return n
}
