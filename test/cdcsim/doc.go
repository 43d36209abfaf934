// SPDX-License-Identifier: Apache-2.0

// Package cdcsim owns a userspace NVMe/TCP discovery controller, the "CDC simulator":
// a target that the Linux kernel's nvme-tcp host (and nvme-cli, and stafd) connects to
// like any array, and that tests can steer and make misbehave.
//
// It speaks what a discovery controller needs and nothing more: NVMe/TCP connection
// setup (ICReq/ICResp, header and data digests when the host asks for them, C2HTermReq
// for what it refuses), command capsules with in-capsule data, R2T/H2CData for
// host-to-controller data that is not in the capsule, C2HData for log pages of any size;
// the Fabrics Connect, Property Get/Set and the keep-alive timer of an admin queue; and
// the discovery admin commands: Identify Controller, Get Log Page (LID 0x70 with
// offsets, LID 0x00), Set/Get Features (KATO, Asynchronous Event Configuration),
// Asynchronous Event Request with the discovery-change notice masked until the host
// reads the log with RAE clear (as the kernel's nvmet does), Keep Alive, and TP8010
// Discovery Information Management (register, deregister, update).
//
// Ownership: the Simulator owns the shared state (the log page, its generation counter,
// registrations, connected hosts, faults, the event history) behind short critical
// sections, and publishes each version of the encoded log page as an immutable
// snapshot. Each connection is owned by one goroutine (its controller), which reads
// PDUs from a reader goroutine and hands complete frames to a writer goroutine through
// a queue, so no lock is ever held across a socket operation. Log changes reach the
// controllers through a one-slot notification channel each.
//
// The wire formats of the NVMe structures (discovery log, Identify, DIM, command
// dwords) come from internal/nvme; this package adds the NVMe/TCP and Fabrics layers.
package cdcsim
