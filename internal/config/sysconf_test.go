// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	vecNQN = "nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9"
	vecID  = "56529e15-0f3e-4ede-87e2-63932a4adb99"
	vecKey = "DHHC-1:03:qwertyuioplkjhgfdsazxcvbnm0123456789QWERTYUIOPLKJHGFDSAZXCVBNM010101010101010101010101010101:"
)

func loadSys(t *testing.T, fsys fstest.MapFS, text string) (*SysConf, []Problem) {
	t.Helper()
	if fsys == nil {
		fsys = fstest.MapFS{}
	}
	if text != "" {
		fsys["etc/stas/sys.conf"] = &fstest.MapFile{Data: []byte(text)}
	}
	s, probs, err := LoadSysConfFS(fsys, SysConfPath)
	if err != nil {
		t.Fatalf("LoadSysConfFS: %v", err)
	}
	return s, probs
}

// TestSysConfInline: §14.2 sys.conf vector with every value inline.
func TestSysConfInline(t *testing.T) {
	s, probs := loadSys(t, nil, "[Host]\nnqn="+vecNQN+"\nid="+vecID+"\nkey="+vecKey+"\nsymname=Bart-Simpson\n")
	wantNoProblems(t, probs)
	if v, err := s.HostNQN(); err != nil || v != vecNQN {
		t.Errorf("HostNQN = %q, %v", v, err)
	}
	if v, err := s.HostID(); err != nil || v != vecID {
		t.Errorf("HostID = %q, %v", v, err)
	}
	if v, err := s.HostKey(); err != nil || v.Reveal() != vecKey {
		t.Errorf("HostKey = %q, %v", v.Reveal(), err)
	}
	if v, err := s.Symname(); err != nil || v != "Bart-Simpson" {
		t.Errorf("Symname = %q, %v", v, err)
	}
	// The key is never printed.
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("sys.conf", "conf", s)
	if strings.Contains(b.String(), "qwerty") || !strings.Contains(b.String(), "key=(set)") {
		t.Errorf("log: %s", b.String())
	}
}

func TestSysConfDefaultsAndFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/nvme/hostnqn": {Data: []byte(vecNQN + "\n")},
		"etc/nvme/hostid":  {Data: []byte(vecID + "  trailing words\nsecond line\n")},
		"etc/nvme/hostkey": {Data: []byte(vecKey + "\n")},
	}
	// Missing sys.conf: the defaults under /etc/nvme apply and there is no symname.
	s, probs := loadSys(t, fsys, "")
	wantNoProblems(t, probs)
	if v, err := s.HostNQN(); err != nil || v != vecNQN {
		t.Errorf("HostNQN = %q, %v", v, err)
	}
	if v, err := s.HostID(); err != nil || v != vecID {
		t.Errorf("HostID = %q, %v (first token of the first line)", v, err)
	}
	if v, err := s.HostKey(); err != nil || v.Reveal() != vecKey {
		t.Errorf("HostKey = %q, %v", v.Reveal(), err)
	}
	if v, err := s.Symname(); err != nil || v != "" {
		t.Errorf("Symname = %q, %v", v, err)
	}

	// Files are read again at each access.
	const other = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"
	fsys["etc/nvme/hostnqn"] = &fstest.MapFile{Data: []byte(other)}
	if v, _ := s.HostNQN(); v != other {
		t.Errorf("HostNQN after the file changed = %q", v)
	}
	delete(fsys, "etc/nvme/hostkey")
	if v, err := s.HostKey(); err != nil || v != "" {
		t.Errorf("HostKey with its file gone = %q, %v; want none", v.Reveal(), err)
	}
}

// TestSysConfSymnameFromFile: quirk 18 fixed, the whole first line is the name.
func TestSysConfSymnameFromFile(t *testing.T) {
	fsys := fstest.MapFS{"etc/stas/symname": {Data: []byte("  Bart Simpson's host  \nignored\n")}}
	s, _ := loadSys(t, fsys, "[Host]\nsymname = file:///etc/stas/symname\n")
	if v, err := s.Symname(); err != nil || v != "Bart Simpson's host" {
		t.Errorf("Symname = %q, %v", v, err)
	}
	s, _ = loadSys(t, fsys, "[Host]\nsymname = My Host # a comment\n")
	if v, _ := s.Symname(); v != "My Host" {
		t.Errorf("inline Symname = %q", v)
	}
}

func TestSysConfVectors(t *testing.T) {
	t.Run("file:///dev/null", func(t *testing.T) {
		fsys := fstest.MapFS{"dev/null": {Data: nil}}
		s, _ := loadSys(t, fsys, "[Host]\nnqn=file:///dev/null\nsymname=file:///dev/null\n")
		// nvme-stas: hostnqn None (not rejected). The host NQN is mandatory: an error.
		if _, err := s.HostNQN(); !errors.Is(err, ErrHostNQN) || !strings.Contains(err.Error(), "is empty") {
			t.Errorf("HostNQN error %v", err)
		}
		if v, err := s.Symname(); err != nil || v != "" {
			t.Errorf("Symname = %q, %v", v, err)
		}
	})
	t.Run("nqn without nqn. prefix", func(t *testing.T) {
		s, _ := loadSys(t, nil, "[Host]\nnqn=qnq.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9\nid="+vecID+"\n")
		_, err := s.HostNQN()
		if !errors.Is(err, ErrHostNQN) || !strings.Contains(err.Error(), `should start with "nqn."`) {
			t.Errorf("HostNQN error %v", err)
		}
		if v, err := s.HostID(); err != nil || v != vecID {
			t.Errorf("HostID still readable: %q, %v", v, err)
		}
	})
	t.Run("non-existing files", func(t *testing.T) {
		const missing = "file:///some/non/existing/file/!@#"
		s, _ := loadSys(t, nil, "[Host]\nnqn="+missing+"\nid="+missing+"\nsymname="+missing+"\n")
		_, err := s.HostNQN()
		var he *HostIdentityError
		if !errors.As(err, &he) || !errors.Is(err, fs.ErrNotExist) ||
			!strings.HasPrefix(err.Error(), "Error reading mandatory Host NQN (see stasadm --help): ") {
			t.Errorf("HostNQN error %v", err)
		}
		_, err = s.HostID()
		if !errors.Is(err, ErrHostID) || !strings.HasPrefix(err.Error(), "Error reading mandatory Host ID (see stasadm --help): ") ||
			!strings.Contains(err.Error(), "/some/non/existing/file/!@#") {
			t.Errorf("HostID error %v", err)
		}
		if v, err := s.Symname(); v != "" || err == nil {
			t.Errorf("Symname = %q, %v; want none and an error to log as a warning", v, err)
		}
	})
	t.Run("nqn too long", func(t *testing.T) {
		s, _ := loadSys(t, nil, "[Host]\nnqn=nqn."+strings.Repeat("a", 220)+"\n")
		if _, err := s.HostNQN(); !errors.Is(err, ErrHostNQN) || !strings.Contains(err.Error(), "too long") {
			t.Errorf("HostNQN error %v", err)
		}
	})
	t.Run("missing sys.conf", func(t *testing.T) {
		s, _ := loadSys(t, nil, "")
		if v, err := s.Symname(); v != "" || err != nil {
			t.Errorf("Symname = %q, %v", v, err)
		}
		if _, err := s.HostNQN(); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("HostNQN without /etc/nvme/hostnqn: %v", err)
		}
	})
}

func TestSysConfInvalidValues(t *testing.T) {
	fsys := fstest.MapFS{"k": {Data: []byte("DHHC-1:0x:notakey:\n")}, "bin": {Data: []byte("\xff\xfe\n")}}
	tests := []struct {
		text  string
		check func(*SysConf) error
		want  error
	}{
		{"[Host]\nid=not-a-uuid\n", func(s *SysConf) error { _, err := s.HostID(); return err }, ErrHostID},
		{"[Host]\nid=56529e15-0f3e-4ede-87e2-63932a4adb9g\n", func(s *SysConf) error { _, err := s.HostID(); return err }, ErrHostID},
		{"[Host]\nid=\n", func(s *SysConf) error { _, err := s.HostID(); return err }, ErrHostID},
		{"[Host]\nid=file://\n", func(s *SysConf) error { _, err := s.HostID(); return err }, ErrHostID},
		{"[Host]\nnqn=\n", func(s *SysConf) error { _, err := s.HostNQN(); return err }, ErrHostNQN},
		{"[Host]\nkey=plain-text-secret\n", func(s *SysConf) error { _, err := s.HostKey(); return err }, ErrHostKey},
		{"[Host]\nkey=file:///k\n", func(s *SysConf) error { _, err := s.HostKey(); return err }, ErrHostKey},
		{"[Host]\nkey=file:///\n", func(s *SysConf) error { _, err := s.HostKey(); return err }, ErrHostKey},
		{"[Host]\nsymname=file:///bin\n", func(s *SysConf) error { _, err := s.Symname(); return err }, nil},
	}
	for _, tt := range tests {
		s, _ := loadSys(t, fsys, tt.text)
		err := tt.check(s)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%q: error %v, want %v", tt.text, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "plain-text-secret") || strings.Contains(err.Error(), "notakey")) {
			t.Errorf("%q: error shows the key: %v", tt.text, err)
		}
	}
	// Empty inline key: no key.
	s, _ := loadSys(t, nil, "[Host]\nkey=\n")
	if v, err := s.HostKey(); v != "" || err != nil {
		t.Errorf("empty key: %q %v", v.Reveal(), err)
	}
}

func TestSysConfProblems(t *testing.T) {
	_, probs := loadSys(t, nil, "[Host]\nnqn="+vecNQN+"\nbogus=1\nkey = DHHC-1:00:abc:\n[host]\nid=x\n[Other]\n")
	wantProblem(t, probs, slog.LevelError, 3, SectionHost, "bogus", "unknown option")
	wantProblem(t, probs, slog.LevelError, 5, "host", "", "did you mean [Host]?")
	wantProblem(t, probs, slog.LevelError, 7, "Other", "", "unknown section")
	if len(probs) != 3 {
		t.Errorf("problems:\n%s", dumpProblems(probs))
	}
}

func TestSysConfUnreadable(t *testing.T) {
	fsys := fstest.MapFS{"etc/stas/sys.conf": {Mode: fs.ModeDir}}
	if s, _, err := LoadSysConfFS(fsys, SysConfPath); err == nil || s != nil {
		t.Errorf("directory: %v %v", s, err)
	}
	fsys = fstest.MapFS{"etc/stas/sys.conf": {Data: []byte("[Host\n")}}
	if _, _, err := LoadSysConfFS(fsys, SysConfPath); !errors.Is(err, ErrSyntax) {
		t.Errorf("broken header: %v", err)
	}
	// The real filesystem: a file that does not exist is not an error.
	s, _, err := LoadSysConf(t.TempDir() + "/sys.conf")
	if err != nil || s == nil {
		t.Errorf("LoadSysConf missing: %v", err)
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{vecID: true, strings.ToUpper(vecID): true, "56529e150f3e4ede87e263932a4adb99": false,
		"56529e15-0f3e-4ede-87e2_63932a4adb99": false, "": false} {
		if isUUID(s) != want {
			t.Errorf("isUUID(%q) = %v", s, !want)
		}
	}
}

func ExampleSysConf_HostNQN() {
	fsys := fstest.MapFS{"etc/nvme/hostnqn": {Data: []byte(vecNQN + "\n")}}
	s, _, _ := LoadSysConfFS(fsys, SysConfPath)
	fmt.Println(s.HostNQN())
	// Output: nqn.2014-08.org.nvmexpress:uuid:9aae2691-b275-4b64-8bfe-5da429a2bab9 <nil>
}
