// SPDX-License-Identifier: Apache-2.0

package fabrics

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
)

// maxTextLen bounds every free-text value (a loop traddr); the discovery log page holds
// traddr in 256 bytes including the NUL.
const maxTextLen = 255

// checkSafe refuses any byte that could end the kernel's token or start a new one: the
// kernel splits the string on ',' and '\n' and each token on '=', so a value carrying one
// of them (or any other control, space or non-ASCII byte) could smuggle in a second option.
// Text from a log page, an mDNS record or a config file passes through here before it
// reaches the kernel.
func checkSafe(v string) error {
	if len(v) > maxTextLen {
		return fmt.Errorf("value is %d bytes long, at most %d allowed", len(v), maxTextLen)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0:
			return fmt.Errorf("value %q has a NUL byte at offset %d", v, i)
		case c == ',':
			return fmt.Errorf("value %q has a comma at offset %d", v, i)
		case c == '=':
			return fmt.Errorf("value %q has '=' at offset %d", v, i)
		case c <= ' ' || c == 0x7f:
			return fmt.Errorf("value %q has a space or control character at offset %d", v, i)
		case c >= 0x80:
			return fmt.Errorf("value %q has a non-ASCII byte at offset %d", v, i)
		}
	}
	return nil
}

// checkIP accepts an IPv4 or IPv6 literal and returns its canonical text, so that the
// kernel's string comparison for duplicate detection and our own comparisons agree. A zone
// ("fe80::1%eth0") is refused: the interface of a link-local address is given by host_iface
// (SO_BINDTODEVICE), and a zone would also defeat the kernel's string comparison.
func checkIP(v string) (netip.Addr, string, error) {
	if err := checkSafe(v); err != nil {
		return netip.Addr{}, "", err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("%q is not an IPv4 or IPv6 address", v)
	}
	if a.Zone() != "" {
		return netip.Addr{}, "", fmt.Errorf("%q has an IPv6 zone; give the interface in host_iface instead", v)
	}
	return a, a.String(), nil
}

// checkFCAddr accepts the two forms nvme_fc_parse_traddr takes,
// "nn-0x<16 hex>:pn-0x<16 hex>" and "nn-<16 hex>:pn-<16 hex>", and returns the value as is.
func checkFCAddr(v string) (string, error) {
	if err := checkSafe(v); err != nil {
		return "", err
	}
	nn, pn, ok := strings.Cut(v, ":")
	if ok && fcName(nn, "nn-") && fcName(pn, "pn-") {
		return v, nil
	}
	return "", fmt.Errorf("%q is not a Fibre Channel address (nn-0x<16 hex digits>:pn-0x<16 hex digits>)", v)
}

func fcName(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return false
	}
	rest, _ = strings.CutPrefix(rest, "0x")
	return len(rest) == 16 && isHex(rest)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkPort accepts a decimal TCP/RDMA port 1..65535 and returns it without leading zeros
// (the kernel compares trsvcid as a string).
func checkPort(v string) (string, error) {
	if err := checkSafe(v); err != nil {
		return "", err
	}
	if len(v) > 5 || strings.TrimLeft(v, "0123456789") != "" {
		return "", fmt.Errorf("%q is not a decimal port number", v)
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("port %q is outside 1..65535", v)
	}
	return strconv.Itoa(p), nil
}

// ifNameMax is IFNAMSIZ less the NUL.
const ifNameMax = 15

// checkIface applies the kernel's dev_valid_name (net/core/dev.c): 1..15 bytes, not "." or
// "..", and no '/', ':' or whitespace; checkSafe adds ',', '=', control and non-ASCII bytes.
func checkIface(v string) (string, error) {
	if err := checkSafe(v); err != nil {
		return "", err
	}
	switch {
	case len(v) > ifNameMax:
		return "", fmt.Errorf("interface name %q is longer than %d bytes", v, ifNameMax)
	case v == "." || v == "..":
		return "", fmt.Errorf("%q is not a valid interface name", v)
	case strings.ContainsAny(v, "/:"):
		return "", fmt.Errorf("interface name %q contains '/' or ':'", v)
	}
	return v, nil
}

// checkUUID accepts the 8-4-4-4-12 hex form uuid_parse takes and returns it in lower case,
// the form sysfs prints.
func checkUUID(v string) (string, error) {
	if err := checkSafe(v); err != nil {
		return "", err
	}
	if len(v) != 36 {
		return "", fmt.Errorf("%q is not a UUID (8-4-4-4-12 hex digits)", v)
	}
	for i := 0; i < len(v); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if v[i] != '-' {
				return "", fmt.Errorf("%q is not a UUID (8-4-4-4-12 hex digits)", v)
			}
		} else if !isHex(v[i : i+1]) {
			return "", fmt.Errorf("%q is not a UUID (8-4-4-4-12 hex digits)", v)
		}
	}
	return strings.ToLower(v), nil
}

// checkHostNQN applies nqn.ValidateHost and the kernel's limit (NVMF_NQN_SIZE).
func checkHostNQN(v string) (string, error) {
	if err := checkSafe(v); err != nil {
		return "", err
	}
	if err := nqn.ValidateHost(v); err != nil {
		return "", err
	}
	if len(v) > nqn.KernelMaxLen {
		return "", fmt.Errorf("host NQN is %d bytes, the kernel takes at most %d", len(v), nqn.KernelMaxLen)
	}
	return v, nil
}

// checkSubsysNQN applies nqn.ValidateSubsystem, which includes the kernel's limit.
func checkSubsysNQN(v string) (string, error) {
	if err := checkSafe(v); err != nil {
		return "", err
	}
	if err := nqn.ValidateSubsystem(v); err != nil {
		return "", err
	}
	return v, nil
}

// errSecretFormat is the one message for every malformed secret: the secret itself is never
// quoted in an error, since errors end up in logs.
var errSecretFormat = errors.New("not a DH-HMAC-CHAP secret of the form \"DHHC-1:<00..03>:<base64 of a 32, 48 or 64-byte key and its CRC-32>:\"")

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

// CheckDHCHAPSecret validates a DH-HMAC-CHAP secret the way the kernel does in
// nvme_auth_generate_key / nvme_auth_extract_key (drivers/nvme/common/auth.c):
// "DHHC-1:" + a two-digit hash identifier (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512)
// + ":" + base64 of the key followed by the CRC-32 of the key in little-endian order + ":".
// The key is 32, 48 or 64 bytes (any of them with any hash, as kernels since 6.7 allow).
// The trailing ':' may be missing, as the kernel allows; nothing may follow it. The error
// never quotes the secret.
func CheckDHCHAPSecret(s string) error {
	rest, ok := strings.CutPrefix(s, "DHHC-1:")
	if !ok || len(rest) < 3 || rest[2] != ':' {
		return errSecretFormat
	}
	switch rest[:2] {
	case "00", "01", "02", "03":
	default:
		return errSecretFormat
	}
	b64 := strings.TrimSuffix(rest[3:], ":")
	// Only the base64 alphabet: Go's decoder skips '\r' and '\n', which would end the
	// kernel's token.
	if b64 == "" || strings.Trim(b64, base64Alphabet) != "" {
		return errSecretFormat
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(b64, "=") {
		enc = base64.StdEncoding
	}
	key, err := enc.Strict().DecodeString(b64)
	if err != nil {
		return errSecretFormat
	}
	switch len(key) {
	case 32 + 4, 48 + 4, 64 + 4:
	default:
		return fmt.Errorf("%w (the key decodes to %d bytes)", errSecretFormat, len(key))
	}
	n := len(key) - 4
	if crc32.ChecksumIEEE(key[:n]) != binary.LittleEndian.Uint32(key[n:]) {
		return errors.New("DH-HMAC-CHAP secret has a bad CRC-32")
	}
	return nil
}
