// SPDX-License-Identifier: Apache-2.0

package nbft

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/nvme-stas-go/stas/internal/nqn"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// IfaceLookup returns the name of the network interface that has the MAC address mac
// (lower-case, colon-separated) and carries VLAN vlan (0: untagged), or "" when there is
// none. netif.InterfaceByMACVLAN is the production lookup.
type IfaceLookup func(mac string, vlan uint16) string

// IOController is an I/O controller described by an SSNS descriptor.
type IOController struct {
	// TID is the controller's identity. HostNQN is empty unless the table says its host
	// NQN was configured by an administrator; the caller then uses the system's.
	TID tid.TID
	// HeaderDigest and DataDigest say the connection must use the digests.
	HeaderDigest, DataDigest bool
	// Subsystem is the descriptor it came from.
	Subsystem *Subsystem
}

// errEntry is wrapped by the errors about entries that were left out.
var errEntry = errors.New("entry left out")

// hostNQN returns the host NQN the table's connections used, if an administrator set it
// (nvme-stas: host.nqn only when host_nqn_configured); an invalid one is reported and
// not used.
func (t *Table) hostNQN() (string, error) {
	if !t.Host.NQNConfigured || t.Host.NQN == "" {
		return "", nil
	}
	if err := nqn.ValidateHost(t.Host.NQN); err != nil {
		return "", fmt.Errorf("NBFT %s host descriptor: host NQN not used: %w", t.Name, err)
	}
	return t.Host.NQN, nil
}

// hostIface returns the interface of h through lookup ("" when either is missing).
func hostIface(h *HFI, lookup IfaceLookup) string {
	if h == nil || lookup == nil || len(h.MAC) == 0 {
		return ""
	}
	return lookup(h.MAC.String(), h.VLAN)
}

// DiscoveryControllers returns the identities of the table's discovery controllers, as
// nvme-stas builds them (§9) with two fixes: a URI without a port gets the discovery
// port 8009 (nvme-stas used the text "None"), and an empty NQN the well-known discovery
// NQN, as the specification says. Transport is the URI scheme after "nvme+", traddr the
// URI host; host-nqn is set when the host NQN was configured; host-iface is the
// interface with the HFI's MAC address and VLAN, left empty when lookup finds none.
// Entries whose URI or NQN is not valid are left out, each with an error.
func (t *Table) DiscoveryControllers(lookup IfaceLookup) ([]tid.TID, []error) {
	var errs []error
	hostNQN, err := t.hostNQN()
	if err != nil {
		errs = append(errs, err)
	}
	var out []tid.TID
	seen := map[tid.TID]bool{}
	for _, d := range t.Discovery {
		transport, traddr, trsvcid, err := parseURI(d.URI)
		if err == nil {
			err = checkSubsysNQN(d.NQN)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("NBFT %s discovery descriptor %d: %w: %w", t.Name, d.Index, errEntry, err))
			continue
		}
		subsys := d.NQN
		if subsys == "" {
			subsys = nqn.WellKnownDiscovery
		}
		id := tid.New(tid.TID{
			Transport: transport,
			Traddr:    traddr,
			Trsvcid:   trsvcid,
			SubsysNQN: subsys,
			HostIface: hostIface(d.HFI, lookup),
			HostNQN:   hostNQN,
		}, tid.Discovery, false)
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, errs
}

// IOControllers returns the I/O controllers of the table's subsystem namespace
// descriptors (§9): transport, traddr, trsvcid (4420 when the table has none),
// subsysnqn, the digests, host-nqn when configured, and host-iface from the first
// associated HFI. Entries with an invalid port or NQN are left out, each with an error.
// Several namespaces behind one controller give one entry.
func (t *Table) IOControllers(lookup IfaceLookup) ([]IOController, []error) {
	var errs []error
	hostNQN, err := t.hostNQN()
	if err != nil {
		errs = append(errs, err)
	}
	var out []IOController
	seen := map[tid.TID]bool{}
	for _, s := range t.Subsystems {
		err := checkPort(s.Trsvcid)
		if err == nil {
			err = checkSubsysNQN(s.NQN)
		}
		if err == nil {
			err = checkUnicast(s.Traddr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("NBFT %s SSNS descriptor %d: %w: %w", t.Name, s.Index, errEntry, err))
			continue
		}
		var primary *HFI
		if len(s.HFIs) > 0 {
			primary = s.HFIs[0]
		}
		id := tid.New(tid.TID{
			Transport: s.Transport,
			Traddr:    s.Traddr.String(),
			Trsvcid:   s.Trsvcid,
			SubsysNQN: s.NQN,
			HostIface: hostIface(primary, lookup),
			HostNQN:   hostNQN,
		}, tid.IO, false)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, IOController{TID: id, HeaderDigest: s.HeaderDigest, DataDigest: s.DataDigest, Subsystem: s})
	}
	return out, errs
}

// Controllers gathers the discovery and I/O controllers of several tables (ReadAll's
// result), without repeats.
func Controllers(tables []*Table, lookup IfaceLookup) (dcs []tid.TID, ios []IOController, errs []error) {
	seenDC, seenIO := map[tid.TID]bool{}, map[tid.TID]bool{}
	for _, t := range tables {
		d, e := t.DiscoveryControllers(lookup)
		errs = append(errs, e...)
		for _, id := range d {
			if !seenDC[id] {
				seenDC[id] = true
				dcs = append(dcs, id)
			}
		}
		io, e := t.IOControllers(lookup)
		for _, e := range e {
			// The host NQN error was reported with the discovery controllers already.
			if errors.Is(e, errEntry) {
				errs = append(errs, e)
			}
		}
		for _, c := range io {
			if !seenIO[c.TID] {
				seenIO[c.TID] = true
				ios = append(ios, c)
			}
		}
	}
	return dcs, ios, errs
}

// IsBootConnection reports whether a kernel connection is one the firmware made to boot
// the host: its transport, address, port and subsystem NQN equal one of boot's. Host
// fields are not compared (the initramfs may have bound the connection differently); a
// false positive only keeps a connection, which is the safe side. stacd never
// disconnects a boot connection.
func IsBootConnection(kernel tid.TID, boot []IOController) bool {
	for _, b := range boot {
		t := b.TID
		if t.Transport == kernel.Transport && t.Trsvcid == kernel.Trsvcid && t.SubsysNQN == kernel.SubsysNQN && sameAddr(t.Traddr, kernel.Traddr) {
			return true
		}
	}
	return false
}

// sameAddr compares two transport addresses as IP addresses when both are, else as text.
func sameAddr(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil && errY == nil {
		return x.Unmap() == y.Unmap()
	}
	return a == b
}

// parseURI decodes a discovery controller URI "nvme+<transport>://<IP>[:<port>]/" into
// transport, traddr (canonical, without brackets or zone) and trsvcid ("" when absent).
func parseURI(uri string) (transport, traddr, trsvcid string, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", "", fmt.Errorf("URI %q: %w", uri, err)
	}
	scheme := strings.ToLower(u.Scheme)
	transport, ok := strings.CutPrefix(scheme, "nvme+")
	switch {
	case !ok:
		return "", "", "", fmt.Errorf("URI %q: scheme is not nvme+<transport>", uri)
	case transport != tid.TCP && transport != tid.RDMA:
		return "", "", "", fmt.Errorf("URI %q: transport %q is not tcp or rdma", uri, transport)
	case u.Opaque != "" || u.Host == "":
		return "", "", "", fmt.Errorf("URI %q has no host", uri)
	case u.User != nil:
		return "", "", "", fmt.Errorf("URI %q carries user information", uri)
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return "", "", "", fmt.Errorf("URI %q: host %q is not an IP address", uri, u.Hostname())
	}
	// The interface of a link-local address comes from the HFI (host-iface), not a zone.
	addr = addr.WithZone("").Unmap()
	if err := checkUnicast(addr); err != nil {
		return "", "", "", fmt.Errorf("URI %q: %w", uri, err)
	}
	if err := checkPort(u.Port()); err != nil {
		return "", "", "", fmt.Errorf("URI %q: %w", uri, err)
	}
	return transport, addr.String(), u.Port(), nil
}

// checkPort accepts "" (default port) or a decimal TCP port 1-65535.
func checkPort(s string) error {
	if s == "" {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != s {
		return fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return nil
}

// checkUnicast refuses addresses no controller can have.
func checkUnicast(a netip.Addr) error {
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("address %v is not a unicast address", a)
	}
	return nil
}

// checkSubsysNQN accepts "" (the caller's default) or a valid subsystem NQN.
func checkSubsysNQN(s string) error {
	if s == "" {
		return nil
	}
	return nqn.ValidateSubsystem(s)
}
