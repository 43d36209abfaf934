// SPDX-License-Identifier: Apache-2.0

package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValidateSecret(t *testing.T) {
	for _, s := range []string{vecKey, "DHHC-1:00:a/b/c:", "DHHC-1:00:d/e/:", "DHHC-1:01:abc=:", "DHHC-1:02:QUJD+/==:"} {
		if err := ValidateSecret(s); err != nil {
			t.Errorf("ValidateSecret(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "super-secret", "DHHC-1:", "DHHC-1:00::", "DHHC-1:04:abc:", "DHHC-1:0a:abc:", "DHHC-1:00:abc",
		"DHHC-2:00:abc:", "dhhc-1:00:abc:", "DHHC-1:00:a b:", "DHHC-1:00:a,b:", "DHHC-1:000:abc:"} {
		if err := ValidateSecret(s); !errors.Is(err, ErrSecretFormat) {
			t.Errorf("ValidateSecret(%q) = %v", s, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret(vecKey)
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "secret", s)
	js, _ := json.Marshal(struct{ S Secret }{s})
	out := fmt.Sprintf("%v %s %+v %#v %q", s, s, s, s, s) + b.String() + string(js)
	if strings.Contains(out, "qwerty") {
		t.Errorf("secret printed: %s", out)
	}
	if s.String() != RedactedSecret || !s.IsSet() || s.Reveal() != vecKey {
		t.Error("Secret accessors")
	}
	if Secret("").String() != "" || Secret("").IsSet() {
		t.Error("empty Secret")
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"transport=tcp":                    "transport=tcp",
		"dhchap-secret=abc":                "dhchap-secret=(set)",
		" dhchap-ctrl-secret = x;traddr=1": " dhchap-ctrl-secret =(set);traddr=1",
		"DHHC-1:00:abc:":                   "(set)",
		"foo;x=dhhc-1:00:abc:;y":           "foo;x=(set);y",
		"no secret here":                   "no secret here",
		"\u0130\u0130DHHC-1:00:abc:;k=v":   "\u0130\u0130(set);k=v",
	}
	for in, want := range tests {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
