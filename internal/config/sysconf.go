// SPDX-License-Identifier: Apache-2.0

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// Files that sys.conf's [Host] options default to.
const (
	DefaultHostNQNFile = "/etc/nvme/hostnqn"
	DefaultHostIDFile  = "/etc/nvme/hostid"
	DefaultHostKeyFile = "/etc/nvme/hostkey"
)

// fileScheme marks a sys.conf value that names a file to read.
const fileScheme = "file://"

// maxHostFileRead bounds what is read from a host identity file: only its first line is
// used, and a file:// value could name something endless such as /dev/zero.
const maxHostFileRead = 4096

// Sentinel errors of the SysConf accessors.
var (
	ErrHostNQN = errors.New("host NQN unavailable")
	ErrHostID  = errors.New("host ID unavailable")
	ErrHostKey = errors.New("host key unusable")
)

// HostIdentityError reports that a mandatory host identity value (the host NQN or the
// host ID) cannot be read or is invalid, in nvme-stas's words:
// "Error reading mandatory Host NQN (see stasadm --help): <reason>".
// errors.Is matches ErrHostNQN or ErrHostID, and the underlying error.
type HostIdentityError struct {
	What string // "Host NQN" or "Host ID"
	Err  error
	kind error
}

// Error returns nvme-stas's message for the failure.
func (e *HostIdentityError) Error() string {
	return "Error reading mandatory " + e.What + " (see stasadm --help): " + e.Err.Error()
}

// Unwrap returns the sentinel (ErrHostNQN or ErrHostID) and the cause.
func (e *HostIdentityError) Unwrap() []error { return []error{e.kind, e.Err} }

// hostValue is one [Host] option: inline text, or a file to read at each access.
type hostValue struct {
	set    bool
	isFile bool
	inline string
	file   string // path when the value is file://PATH
}

func parseHostValue(text string) hostValue {
	if p, ok := strings.CutPrefix(text, fileScheme); ok {
		return hostValue{set: true, isFile: true, file: p}
	}
	return hostValue{set: true, inline: text}
}

func defaultHostFile(p string) hostValue { return hostValue{set: true, isFile: true, file: p} }

// source describes where the value comes from, for messages (never the value of a secret).
func (v hostValue) source(secret bool) string {
	switch {
	case !v.set:
		return ""
	case v.isFile:
		return fileScheme + v.file
	case secret && v.inline != "":
		return RedactedSecret
	}
	return v.inline
}

// read returns the value: inline text as is, or from the file its first line, either
// whole (trimmed) or only its first white-space-delimited token.
func (v hostValue) read(fsys fs.FS, wholeLine bool) (string, error) {
	if !v.isFile {
		return v.inline, nil
	}
	if v.file == "" {
		return "", fmt.Errorf("%s: no path", fileScheme)
	}
	line, err := readFirstLine(fsys, v.file)
	if err != nil {
		return "", err
	}
	if wholeLine {
		return strings.TrimSpace(line), nil
	}
	if f := strings.Fields(line); len(f) > 0 {
		return f[0], nil
	}
	return "", nil
}

func readFirstLine(fsys fs.FS, name string) (string, error) {
	p, err := fsPath(name)
	if err != nil {
		return "", err
	}
	f, err := fsys.Open(p)
	if err != nil {
		return "", pathError("open", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHostFileRead))
	if err != nil {
		return "", pathError("read", name, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if !utf8.Valid(line) {
		return "", fmt.Errorf("%s: first line is not UTF-8 text", name)
	}
	return string(line), nil
}

// SysConf is /etc/stas/sys.conf: where the host NQN, host ID, host key and host symbolic
// name come from. sys.conf itself is read once; files it points to (file://PATH, and the
// defaults under /etc/nvme) are read again at every access, so a changed
// /etc/nvme/hostnqn applies to controllers connected afterwards.
type SysConf struct {
	// Path is the sys.conf file the settings came from.
	Path string

	fsys                  fs.FS
	nqn, id, key, symname hostValue
}

// LoadSysConf reads sys.conf at path from the real filesystem. A missing file is not an
// error: the defaults (the files under /etc/nvme, no symbolic name) apply. It returns an
// error only when the file exists but cannot be read or is not text.
func LoadSysConf(path string) (*SysConf, []Problem, error) {
	return LoadSysConfFS(rootFS(), path)
}

// LoadSysConfFS is LoadSysConf on fsys, whose root stands for "/": sys.conf and every
// file it refers to are read through fsys (tests pass an fstest.MapFS).
func LoadSysConfFS(fsys fs.FS, path string) (*SysConf, []Problem, error) {
	data, err := readFileLimited(fsys, path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return nil, nil, fmt.Errorf("load sys.conf: %w", err)
	}
	return ParseSysConf(fsys, path, data)
}

// ParseSysConf parses sys.conf text; name is used in problems, fsys serves the files the
// values refer to.
func ParseSysConf(fsys fs.FS, name string, data []byte) (*SysConf, []Problem, error) {
	probs := &problemList{file: name}
	doc, err := parseINI(name, data, probs)
	if err != nil {
		return nil, nil, fmt.Errorf("parse sys.conf: %w", err)
	}
	s := &SysConf{
		Path: name,
		fsys: fsys,
		nqn:  defaultHostFile(DefaultHostNQNFile),
		id:   defaultHostFile(DefaultHostIDFile),
		key:  defaultHostFile(DefaultHostKeyFile),
	}
	options := map[string]*hostValue{"nqn": &s.nqn, "id": &s.id, "key": &s.key, "symname": &s.symname}
	for _, sec := range doc.sections {
		if sec.name != SectionHost {
			hint := ""
			if strings.EqualFold(strings.TrimSpace(sec.name), SectionHost) {
				hint = "section names are case-sensitive and exact: did you mean [Host]?"
			}
			probs.errorf(sec.line, sec.name, "", "", "ignored", "%s", withHint("unknown section", hint))
			continue
		}
		for _, k := range sec.keys {
			if _, ok := options[k.name]; ok {
				continue
			}
			for _, v := range k.values {
				probs.errorf(v.line, sec.name, k.name, v.text, "ignored", "unknown option (nqn, id, key or symname)%s", continuationHint(v.indented))
			}
		}
	}
	for name, dst := range options {
		if v, ok := doc.last(SectionHost, name); ok {
			*dst = parseHostValue(v.text)
		}
	}
	return s, probs.sorted(), nil
}

// HostNQN returns the host NQN, read now. The error is a *HostIdentityError: the daemons
// cannot run without a host NQN.
func (s *SysConf) HostNQN() (string, error) {
	v, err := s.nqn.read(s.fsys, false)
	if err == nil && v == "" {
		err = fmt.Errorf("%s is empty", s.nqn.source(false))
	}
	if err == nil {
		err = nqn.ValidateHost(v)
	}
	if err != nil {
		return "", &HostIdentityError{What: "Host NQN", Err: err, kind: ErrHostNQN}
	}
	return v, nil
}

// HostID returns the host ID (a UUID), read now. The error is a *HostIdentityError.
func (s *SysConf) HostID() (string, error) {
	v, err := s.id.read(s.fsys, false)
	switch {
	case err != nil:
	case v == "":
		err = fmt.Errorf("%s is empty", s.id.source(false))
	case !isUUID(v):
		err = fmt.Errorf("host ID %q is not a UUID (8-4-4-4-12 hex digits)", v)
	}
	if err != nil {
		return "", &HostIdentityError{What: "Host ID", Err: err, kind: ErrHostID}
	}
	return v, nil
}

// HostKey returns the host's DH-HMAC-CHAP secret, read now; "" when none is configured
// or its file does not exist. An invalid key is an error wrapping ErrHostKey that does
// not contain the key.
func (s *SysConf) HostKey() (Secret, error) {
	if !s.key.set {
		return "", nil
	}
	v, err := s.key.read(s.fsys, false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("%w: %w", ErrHostKey, err)
	case v == "":
		return "", nil
	}
	if err := ValidateSecret(v); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrHostKey, s.key.source(true), err)
	}
	return Secret(v), nil
}

// Symname returns the host symbolic name, read now; "" when none is configured. From a
// file the whole first line is used, trimmed (nvme-stas kept only its first word, quirk
// 18). An error means the configured file cannot be read; nvme-stas then logs a warning
// and leaves the name undefined.
func (s *SysConf) Symname() (string, error) {
	if !s.symname.set {
		return "", nil
	}
	v, err := s.symname.read(s.fsys, true)
	if err != nil {
		return "", fmt.Errorf("read host symbolic name: %w", err)
	}
	return v, nil
}

// LogValue describes where each value comes from, without the host key.
func (s *SysConf) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("path", s.Path),
		slog.String("nqn", s.nqn.source(false)),
		slog.String("id", s.id.source(false)),
		slog.String("key", s.key.source(true)),
		slog.String("symname", s.symname.source(false)),
	)
}

// isUUID checks the 8-4-4-4-12 hexadecimal form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// HostIdentity is the host as the daemons present it to controllers: sys.conf's (or
// /etc/nvme's) host NQN and ID, the DH-HMAC-CHAP host key and the symbolic name.
type HostIdentity struct {
	NQN, ID string
	Key     Secret
	Symname string
}

// Identity reads the host identity once, as the daemons do at start. The host NQN and ID
// are mandatory; an unusable key or symbolic name is logged and left out.
func (s *SysConf) Identity(log *slog.Logger) (HostIdentity, error) {
	var id HostIdentity
	var err error
	if id.NQN, err = s.HostNQN(); err != nil {
		return id, err
	}
	if id.ID, err = s.HostID(); err != nil {
		return id, err
	}
	if id.Key, err = s.HostKey(); err != nil {
		log.Warn("host key unusable; connecting without it", "err", err)
	}
	if id.Symname, err = s.Symname(); err != nil {
		log.Warn("Error reading host symbolic name (will remain undefined)", "err", err)
	}
	return id, nil
}
