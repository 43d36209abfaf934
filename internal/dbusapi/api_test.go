// SPDX-License-Identifier: Apache-2.0

package dbusapi

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// nvmeStasIDL is what nvme-stas's staslib/stafd.idl and staslib/stacd.idl declare
// (github.com/linux-nvme/nvme-stas, commit f5eb1695f75aee365a8456259863c1544912ca53), with
// @STAFD_DBUS_NAME@ / @STACD_DBUS_NAME@ written as "": for each interface suffix, each
// member as "kind name" with its arguments as "direction type name" (properties as
// "type access").
var nvmeStasIDL = map[string]map[string]map[string][]string{
	"stafd": {
		".debug": {
			"property tron":          {"b readwrite"},
			"property log_level":     {"s read"},
			"method process_info":    {"out s info_json"},
			"method controller_info": append(idlTIDArgs("in"), "out s info_json"),
		},
		"": {
			"method list_controllers":  {"in b detailed", "out aa{ss} controller_list"},
			"method get_log_pages":     append(idlTIDArgs("in"), "out aa{ss} log_pages"),
			"method get_all_log_pages": {"in b detailed", "out s log_pages_json"},
			"signal log_pages_changed": append(idlTIDArgs("out"), "out s device"),
			"signal dc_removed":        nil,
		},
	},
	"stacd": {
		".debug": {
			"property tron":          {"b readwrite"},
			"property log_level":     {"s read"},
			"method process_info":    {"out s info_json"},
			"method controller_info": append(idlTIDArgs("in"), "out s info_json"),
		},
		"": {
			"method list_controllers": {"in b detailed", "out aa{ss} controller_list"},
		},
	},
}

func idlTIDArgs(dir string) []string {
	var out []string
	for _, n := range []string{"transport", "traddr", "trsvcid", "subsysnqn", "host_traddr", "host_iface", "host_nqn"} {
		out = append(out, dir+" s "+n)
	}
	return out
}

// members reads an interface of introspection XML into nvmeStasIDL's form.
func members(i introspect.Interface) map[string][]string {
	m := map[string][]string{}
	for _, p := range i.Properties {
		m["property "+p.Name] = []string{p.Type + " " + p.Access}
	}
	for _, x := range i.Methods {
		var args []string
		for _, a := range x.Args {
			args = append(args, a.Direction+" "+a.Type+" "+a.Name)
		}
		m["method "+x.Name] = args
	}
	for _, x := range i.Signals {
		var args []string
		for _, a := range x.Args {
			args = append(args, a.Direction+" "+a.Type+" "+a.Name)
		}
		m["signal "+x.Name] = args
	}
	return m
}

func TestIntrospectionMatchesNvmeStasIDL(t *testing.T) {
	for _, svc := range []Service{StafService, StacService} {
		var node introspect.Node
		if err := xml.Unmarshal([]byte(svc.IntrospectionXML()), &node); err != nil {
			t.Fatalf("%s: introspection XML does not parse: %v", svc.Daemon, err)
		}
		want := nvmeStasIDL[svc.Daemon]
		var ours []string
		for _, i := range node.Interfaces {
			ours = append(ours, i.Name)
			suffix, ok := strings.CutPrefix(i.Name, svc.BusName)
			if !ok {
				continue
			}
			w, ok := want[suffix]
			if !ok {
				t.Errorf("%s: interface %s is not in nvme-stas's IDL", svc.Daemon, i.Name)
				continue
			}
			got := members(i)
			for name, args := range w {
				if !slices.Equal(got[name], args) {
					t.Errorf("%s %s: %s = %v, nvme-stas has %v", svc.Daemon, i.Name, name, got[name], args)
				}
			}
			for name := range got {
				if _, ok := w[name]; !ok {
					t.Errorf("%s %s: %s is not in nvme-stas's IDL", svc.Daemon, i.Name, name)
				}
			}
			for _, p := range i.Properties {
				if len(p.Annotations) != 1 || p.Annotations[0].Name != emitsChangedSignal || p.Annotations[0].Value != "false" {
					t.Errorf("%s: property %s should say it emits no PropertiesChanged: %v", svc.Daemon, p.Name, p.Annotations)
				}
			}
		}
		for _, std := range []string{IntrospectableInterface, PeerInterface, PropertiesInterface, svc.Interface, svc.DebugInterface} {
			if !slices.Contains(ours, std) {
				t.Errorf("%s: introspection lacks %s (has %v)", svc.Daemon, std, ours)
			}
		}
		if node.Name != string(svc.Path) {
			t.Errorf("%s: node name %q", svc.Daemon, node.Name)
		}
	}
}

func TestServiceLookups(t *testing.T) {
	m, ok := StafService.Method(StafdInterface, MethodGetLogPages)
	if !ok || m.InSignature() != "sssssss" || m.OutSignature() != "aa{ss}" {
		t.Errorf("get_log_pages = %+v, %v", m, ok)
	}
	if _, ok := StacService.Method(StacdInterface, MethodGetLogPages); ok {
		t.Error("stacd has get_log_pages")
	}
	if _, ok := StacService.Method("org.example", MethodListControllers); ok {
		t.Error("unknown interface found")
	}
	i, _ := StafService.Lookup(StafdInterface)
	if got := i.Signals[0].Signature(); got != "ssssssss" {
		t.Errorf("log_pages_changed signature %q", got)
	}
	if got := i.Signals[1].Signature(); got != "" {
		t.Errorf("dc_removed signature %q", got)
	}
}

// The server refuses to export a handler table that disagrees with the member table,
// instead of letting godbus drop a method silently.
func TestCheckHandlers(t *testing.T) {
	iface := Interface{Name: "x", Methods: []Method{
		{Name: "m", In: []Arg{{"a", "b"}, {"b", "s"}}, Out: []Arg{{"r", "aa{ss}"}}},
	}}
	good := func(dbus.Sender, bool, string) ([]map[string]string, *dbus.Error) { return nil, nil }
	if err := checkHandlers(iface, map[string]any{"m": good}); err != nil {
		t.Errorf("good handler refused: %v", err)
	}
	for name, handlers := range map[string]map[string]any{
		"missing":        {},
		"extra":          {"m": good, "n": good},
		"not a function": {"m": 3},
		"no dbus.Error":  {"m": func(bool, string) []map[string]string { return nil }},
		"plain error":    {"m": func(bool, string) ([]map[string]string, error) { return nil, nil }},
		"wrong in":       {"m": func(string, string) ([]map[string]string, *dbus.Error) { return nil, nil }},
		"wrong out":      {"m": func(bool, string) (string, *dbus.Error) { return "", nil }},
		"bad type":       {"m": func(bool, func()) ([]map[string]string, *dbus.Error) { return nil, nil }},
	} {
		if err := checkHandlers(iface, handlers); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
