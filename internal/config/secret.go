// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"log/slog"
	"strings"
)

// RedactedSecret is what a set secret prints as: secrets never reach logs or D-Bus.
const RedactedSecret = "(set)"

// ErrSecretFormat is wrapped by ValidateSecret's errors.
var ErrSecretFormat = errors.New("not a DH-HMAC-CHAP secret (DHHC-1:<hash id 00..03>:<base64>:)")

// Secret is a DH-HMAC-CHAP secret (a controller's dhchap-secret or dhchap-ctrl-secret, or
// the host key). It prints, logs and marshals as RedactedSecret; Reveal returns the text
// for the one place that needs it, the kernel option string.
type Secret string

// Reveal returns the secret in clear.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a secret is present.
func (s Secret) IsSet() bool { return s != "" }

// String returns RedactedSecret, or "" when no secret is set.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return RedactedSecret
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return "config.Secret(" + `"` + s.String() + `"` + ")" }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoding/json and friends from writing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ValidateSecret checks the DH-HMAC-CHAP secret representation the kernel accepts:
// "DHHC-1:", a two-digit hash identifier 00..03, ":", base64 text and a final ":". The
// key length and CRC are left to the kernel. The error never contains the secret.
func ValidateSecret(s string) error {
	rest, ok := strings.CutPrefix(s, "DHHC-1:")
	if !ok || len(rest) < 5 || rest[2] != ':' || rest[len(rest)-1] != ':' {
		return ErrSecretFormat
	}
	if rest[0] != '0' || rest[1] < '0' || rest[1] > '3' {
		return ErrSecretFormat
	}
	for _, c := range rest[3 : len(rest)-1] {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		default:
			return ErrSecretFormat
		}
	}
	return nil
}

// secretKeys are the controller= keys whose values are secrets.
var secretKeys = []string{"dhchap-secret", "dhchap-ctrl-secret"}

func isSecretKey(key string) bool {
	return key == secretKeys[0] || key == secretKeys[1]
}

// redact hides secrets in text taken from a config line before it is put in a problem:
// the value of a dhchap-secret / dhchap-ctrl-secret token, and anything from "DHHC-1"
// (in any case) to the end of its token.
func redact(text string) string {
	if !strings.Contains(text, "=") && indexDHHC(text) < 0 {
		return text
	}
	toks := strings.Split(text, ";")
	for i, tok := range toks {
		if k, _, ok := strings.Cut(tok, "="); ok && isSecretKey(strings.TrimSpace(k)) {
			toks[i] = k + "=" + RedactedSecret
			continue
		}
		if j := indexDHHC(tok); j >= 0 {
			toks[i] = tok[:j] + RedactedSecret
		}
	}
	return strings.Join(toks, ";")
}

// indexDHHC returns the byte index of "DHHC-1" in s, compared ASCII case-insensitively,
// or -1.
func indexDHHC(s string) int {
	const marker = "dhhc-1"
	for i := 0; i+len(marker) <= len(s); i++ {
		match := true
		for j := 0; j < len(marker); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != marker[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}
