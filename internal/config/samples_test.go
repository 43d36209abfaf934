// SPDX-License-Identifier: Apache-2.0

package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// The sample configuration files shipped in configs/ are checked against the code here.
// The rules they follow, which this test enforces:
//
//   - An example line is '#' in the first column immediately followed by an option name
//     and '=' (sampleExampleRe). Explanations start with "# " (or are a lone "#"), so they
//     are never mistaken for examples. Section headers are not commented out: an example
//     belongs to the section above it.
//   - Every option of the daemon's table other than controller= and exclude= has exactly
//     one example line, in its own section. When the option has a default (its show
//     function renders Defaults(d) as non-empty text) the example's value is exactly that
//     text and the explanation says "Default: <that text>". When it has none (show
//     renders "", the kernel's default applies) the example's value is one the option
//     accepts without any problem or note, and the explanation says "not set by default".
//   - controller= and exclude= have at least one example each, with documentation
//     addresses only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), and
//     an explanation saying "not set by default".
//   - Every example line is directly preceded by its explanation: the comment lines above
//     it up to a blank line or another option's example (consecutive examples of the same
//     option share one explanation).
//   - The file as shipped loads without problems and gives exactly the defaults; with the
//     '#' of every example line removed it still loads without problems, every example
//     takes effect (each option shows its example value, no controller= or exclude= entry
//     is dropped), and nothing unknown is left.
//
// sys.conf follows the same rules for its [Host] options nqn, id, key and symname.

// sampleDir holds the shipped samples, relative to this package.
const sampleDir = "../../configs"

// sampleExampleRe matches an example line: "#name=value".
var sampleExampleRe = regexp.MustCompile(`^#([a-z][a-z0-9-]*)=(.*)$`)

// sampleLine is one example line of a sample file.
type sampleLine struct {
	line    int // 1-based
	section string
	key     string
	value   string
	explain string // the explanation above it, comment markers removed, lines joined by spaces
}

// sampleFile is a sample read from configs/.
type sampleFile struct {
	path     string
	data     []byte
	examples []sampleLine
}

// uncommented returns the file with the leading '#' of every example line removed.
func (f *sampleFile) uncommented() []byte {
	lines := strings.Split(string(f.data), "\n")
	for i, l := range lines {
		if sampleExampleRe.MatchString(l) {
			lines[i] = l[1:]
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// byKey returns the examples of one option.
func (f *sampleFile) byKey(key string) []sampleLine {
	var out []sampleLine
	for _, e := range f.examples {
		if e.key == key {
			out = append(out, e)
		}
	}
	return out
}

// readSample reads configs/<name> and collects its example lines with their sections and
// explanations.
func readSample(t *testing.T, name string) *sampleFile {
	t.Helper()
	path := filepath.Join(sampleDir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	f := &sampleFile{path: path, data: data}
	lines := strings.Split(string(data), "\n")
	section := ""
	for i, l := range lines {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "[") {
			end := strings.LastIndexByte(s, ']')
			if end < 0 {
				t.Fatalf("%s:%d: broken section header %q", path, i+1, l)
			}
			section = s[1:end]
			continue
		}
		m := sampleExampleRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		f.examples = append(f.examples, sampleLine{
			line: i + 1, section: section, key: m[1], value: m[2],
			explain: sampleExplanation(lines, i, m[1]),
		})
	}
	if len(f.examples) == 0 {
		t.Fatalf("%s: no example lines", path)
	}
	return f
}

// sampleExplanation collects the comment lines above the example at index i: examples of
// the same key directly above are skipped, and the explanation ends at a blank line, a
// non-comment line or another option's example.
func sampleExplanation(lines []string, i int, key string) string {
	j := i - 1
	for j >= 0 {
		m := sampleExampleRe.FindStringSubmatch(lines[j])
		if m == nil || m[1] != key {
			break
		}
		j--
	}
	var parts []string
	for ; j >= 0; j-- {
		l := lines[j]
		if !strings.HasPrefix(l, "#") || sampleExampleRe.MatchString(l) {
			break
		}
		parts = append(parts, strings.TrimSpace(strings.TrimPrefix(l, "#")))
	}
	slices.Reverse(parts)
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// checkExplanation checks that an option's explanation exists and states its default.
func checkExplanation(t *testing.T, path string, e sampleLine, def string) {
	t.Helper()
	low := strings.ToLower(e.explain)
	switch {
	case e.explain == "":
		t.Errorf("%s:%d: %s has no explanation above it", path, e.line, e.key)
	case def == "" && !strings.Contains(low, "not set by default"):
		t.Errorf("%s:%d: %s has no default, but its explanation does not say \"not set by default\": %q", path, e.line, e.key, e.explain)
	case def != "" && strings.Contains(low, "not set by default"):
		t.Errorf("%s:%d: %s has default %q, but its explanation says \"not set by default\"", path, e.line, e.key, def)
	case def != "" && !strings.Contains(e.explain, "Default: "+def):
		t.Errorf("%s:%d: the explanation of %s does not say \"Default: %s\": %q", path, e.line, e.key, def, e.explain)
	}
}

// sampleDocPrefixes are the address ranges reserved for documentation.
var sampleDocPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// checkDocAddress fails if text is an IP address outside the documentation ranges.
func checkDocAddress(t *testing.T, where, text string) {
	t.Helper()
	a, err := netip.ParseAddr(text)
	if err != nil {
		return // a host name or an FC address
	}
	if !slices.ContainsFunc(sampleDocPrefixes, func(p netip.Prefix) bool { return p.Contains(a.WithZone("").Unmap()) }) {
		t.Errorf("%s: address %s is not a documentation address", where, text)
	}
}

func TestSampleDaemonConfigs(t *testing.T) {
	for _, d := range []Daemon{Stafd, Stacd} {
		t.Run(d.String(), func(t *testing.T) {
			f := readSample(t, d.String()+".conf")
			tbl := tableFor(d)
			def := Defaults(d)

			// (a) The file as shipped loads cleanly and changes nothing.
			c, probs, err := Load(d, f.path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(probs) != 0 {
				t.Errorf("%s as shipped has problems:\n%s", f.path, dumpProblems(probs))
			}
			want := Defaults(d)
			want.Path = f.path
			if !reflect.DeepEqual(c, want) {
				t.Errorf("%s as shipped is not the defaults:\n got %+v\nwant %+v", f.path, c, want)
			}

			// Every example names an option of this section of the table.
			for _, e := range f.examples {
				if tbl.lookup(e.section, e.key) == nil {
					t.Errorf("%s:%d: example %s=%s in [%s] is not an option of %v there", f.path, e.line, e.key, e.value, e.section, d)
				}
			}

			// (b) One example per option, showing the code's default.
			for _, s := range tbl.specs {
				ex := f.byKey(s.name)
				if s.list {
					if len(ex) == 0 {
						t.Errorf("%s: no example of %s=", f.path, s.name)
					}
					for _, e := range ex {
						checkExplanation(t, f.path, e, "")
					}
					continue
				}
				if len(ex) != 1 {
					t.Errorf("%s: %d example lines of %s=, want exactly 1", f.path, len(ex), s.name)
					continue
				}
				e := ex[0]
				if e.section != s.section {
					t.Errorf("%s:%d: %s is in [%s], want [%s]", f.path, e.line, s.name, e.section, s.section)
				}
				shown := s.show(def)
				checkExplanation(t, f.path, e, shown)
				if shown != "" {
					if e.value != shown {
						t.Errorf("%s:%d: %s=%s, but the code's default is %s=%s", f.path, e.line, s.name, e.value, s.name, shown)
					}
					continue
				}
				// No default: the example must be a value the option takes as it is.
				scratch := Defaults(d)
				notes, err := s.set(scratch, e.value)
				if err != nil || len(notes) != 0 {
					t.Errorf("%s:%d: example %s=%s is not accepted cleanly: err %v, notes %v", f.path, e.line, s.name, e.value, err, notes)
				}
			}

			// (c) With every example uncommented the file still loads cleanly, and every
			// example takes effect.
			name := strings.TrimSuffix(f.path, ".conf") + "-uncommented.conf"
			u, probs, err := Parse(d, name, f.uncommented())
			if err != nil {
				t.Fatalf("uncommented: %v", err)
			}
			if len(probs) != 0 {
				t.Errorf("%s with its examples uncommented has problems:\n%s", f.path, dumpProblems(probs))
			}
			for _, s := range tbl.specs {
				ex := f.byKey(s.name)
				if s.list || len(ex) != 1 {
					continue
				}
				if got := s.show(u); got != ex[0].value {
					t.Errorf("%s:%d: uncommented %s=%s shows as %q", f.path, ex[0].line, s.name, ex[0].value, got)
				}
			}
			if n := len(f.byKey(keyController)); len(u.Controllers) != n {
				t.Errorf("uncommented: %d controllers, want %d (one per example)", len(u.Controllers), n)
			}
			if n := len(f.byKey(keyExclude)); len(u.Excludes) != n {
				t.Errorf("uncommented: %d exclude entries, want %d (one per example)", len(u.Excludes), n)
			}
			for _, ctrl := range u.Controllers {
				where := f.path + ":" + ctrl.String()
				checkDocAddress(t, where, ctrl.Traddr)
				checkDocAddress(t, where, ctrl.HostTraddr)
			}
			for _, x := range u.Excludes {
				if v, ok := x.Get(FieldTraddr); ok {
					checkDocAddress(t, f.path+": exclude "+x.String(), v)
				}
			}
		})
	}
}

// sysConfValues returns sys.conf's options by name. TestSampleSysConf checks that these
// are all of SysConf's hostValue fields, so that an option added to the code and not here
// (and to the sample) fails the test.
func sysConfValues(s *SysConf) map[string]*hostValue {
	return map[string]*hostValue{"nqn": &s.nqn, "id": &s.id, "key": &s.key, "symname": &s.symname}
}

func TestSampleSysConf(t *testing.T) {
	// Every hostValue field of SysConf is an option, named like the field.
	var fields []string
	st := reflect.TypeFor[SysConf]()
	for i := range st.NumField() {
		if st.Field(i).Type == reflect.TypeFor[hostValue]() {
			fields = append(fields, st.Field(i).Name)
		}
	}
	var names []string
	for n := range sysConfValues(&SysConf{}) {
		names = append(names, n)
	}
	slices.Sort(fields)
	slices.Sort(names)
	if !slices.Equal(fields, names) {
		t.Fatalf("SysConf options %v, but this test knows %v: update sysConfValues and configs/sys.conf", fields, names)
	}

	f := readSample(t, "sys.conf")
	def, probs, err := ParseSysConf(fstest.MapFS{}, "defaults", nil)
	if err != nil || len(probs) != 0 {
		t.Fatalf("defaults: %v %v", err, probs)
	}

	// (a) The file as shipped loads cleanly and changes nothing.
	s, probs, err := LoadSysConf(f.path)
	if err != nil {
		t.Fatalf("LoadSysConf: %v", err)
	}
	if len(probs) != 0 {
		t.Errorf("%s as shipped has problems:\n%s", f.path, dumpProblems(probs))
	}
	for name, v := range sysConfValues(s) {
		if w := sysConfValues(def)[name]; *v != *w {
			t.Errorf("%s as shipped: %s = %+v, want the default %+v", f.path, name, *v, *w)
		}
	}

	// (b) One example per option in [Host], showing the code's default.
	for _, e := range f.examples {
		if _, ok := sysConfValues(def)[e.key]; !ok || e.section != SectionHost {
			t.Errorf("%s:%d: example %s=%s in [%s] is not a sys.conf option", f.path, e.line, e.key, e.value, e.section)
		}
	}
	for _, name := range names {
		ex := f.byKey(name)
		if len(ex) != 1 {
			t.Errorf("%s: %d example lines of %s=, want exactly 1", f.path, len(ex), name)
			continue
		}
		e := ex[0]
		shown := sysConfValues(def)[name].source(false)
		checkExplanation(t, f.path, e, shown)
		if shown != "" && e.value != shown {
			t.Errorf("%s:%d: %s=%s, but the code's default is %s=%s", f.path, e.line, name, e.value, name, shown)
		}
		if shown == "" && e.value == "" {
			t.Errorf("%s:%d: %s has no default and no example value", f.path, e.line, name)
		}
	}

	// (c) Uncommented, the file still loads cleanly and every example takes effect.
	u, probs, err := ParseSysConf(fstest.MapFS{}, "sys-uncommented.conf", f.uncommented())
	if err != nil {
		t.Fatalf("uncommented: %v", err)
	}
	if len(probs) != 0 {
		t.Errorf("%s with its examples uncommented has problems:\n%s", f.path, dumpProblems(probs))
	}
	for name, v := range sysConfValues(u) {
		ex := f.byKey(name)
		if len(ex) == 1 && v.source(false) != ex[0].value {
			t.Errorf("uncommented %s=%s reads as %q", name, ex[0].value, v.source(false))
		}
	}
	if ex := f.byKey("symname"); len(ex) == 1 && !strings.HasPrefix(ex[0].value, fileScheme) {
		if got, err := u.Symname(); err != nil || got != ex[0].value {
			t.Errorf("uncommented symname: %q, %v; want %q", got, err, ex[0].value)
		}
	}
}
