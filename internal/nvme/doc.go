// SPDX-License-Identifier: Apache-2.0

// Package nvme owns the NVMe wire formats that stafd, the kernel ioctl layer and the
// discovery-controller simulator exchange: the Discovery Log Page (LID 0x70), Identify
// Controller, Supported Log Pages (LID 0x00), the TP8010 Discovery Information Management
// (DIM) payload, the command-dword packing of the admin commands that carry them, NVMe
// completion status and AEN values, and the two string vocabularies the log page is shown
// in (nvme-cli's JSON and nvme-stas's D-Bus DLPE dict).
//
// It is pure logic: bytes in, bytes out, no kernel access. Every decoder takes untrusted
// bytes and returns an error instead of panicking; every structure that decodes also
// encodes, so that a simulator can serve exactly what a real controller would.
package nvme
