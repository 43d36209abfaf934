// SPDX-License-Identifier: Apache-2.0

// Package admin owns the NVMe admin commands stafd sends to a controller through the
// kernel's admin passthrough ioctl on /dev/nvmeN: Identify Controller, Get Log Page (the
// Discovery Log Page with libnvme's generation-counter algorithm, and Supported Log
// Pages) and TP8010 Discovery Information Management.
//
// The kernel is behind one narrow seam, Submitter: the Linux implementation issues
// NVME_IOCTL_ADMIN_CMD, tests use a fake controller. Device adds what every command
// needs on top of it: the kernel timeout derived from the context, cancellation that
// returns at once while the blocked ioctl finishes in the background on a buffer of its
// own, and errors that name the device and the command. The wire formats come from
// internal/nvme.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nvme-stas-go/stas/internal/nvme"
)

// Defaults of a Device.
const (
	// DefaultTimeout bounds a command whose context has no deadline. The kernel's own
	// default for passthrough commands is 60 s; half of that is plenty for a discovery
	// controller and frees a hung command's resources sooner.
	DefaultTimeout = 30 * time.Second
	// MinTimeout is the least kernel timeout a command gets, however close its context's
	// deadline. When a live nvme-tcp controller times out a command the kernel starts
	// error recovery (it reconnects the controller), so a nearly expired context must not
	// turn a slow answer into a reset. The caller still returns at its deadline.
	MinTimeout = time.Second
	// DefaultMaxRetries is how many times DiscoveryLog reads the entries while the
	// generation counter keeps changing: the default of libnvme's Python binding, which
	// nvme-stas uses (nvme-cli uses 10).
	DefaultMaxRetries = 6
	// LogPieceSize is the largest transfer of one Get Log Page command (libnvme's
	// NVME_LOG_PAGE_PDU_SIZE): 4 KiB is the smallest MDTS a controller can have, so no
	// piece needs the controller's MDTS checked.
	LogPieceSize = 4096
)

// maxInFlight bounds the commands of one Device still running in the kernel, most of
// them abandoned by cancelled callers: a hung controller then holds at most this many
// goroutines and buffers (each until the kernel times its command out), and further
// callers wait for a slot within their own context instead of piling up more.
const maxInFlight = 8

// nsidAll is NVME_NSID_ALL, which libnvme sends for controller-wide logs such as
// Supported Log Pages; the Discovery Log Page is read with NSID 0 (NVME_NSID_NONE).
const nsidAll = 0xffffffff

// Errors callers test with errors.Is.
var (
	// ErrNotSupported means the controller refused the command as one it does not
	// implement: Invalid Command Opcode (nvmet's answer to DIM), Invalid Log Page, or
	// Invalid Field in Command (nvmet's answer to a Get Log Page of any LID but 0x70 and
	// to an Identify CNS other than 1). The nvme.Status stays available to errors.As.
	ErrNotSupported = errors.New("not supported by the controller")
	// ErrUnstableLog means the discovery log's generation counter still changed after
	// MaxRetries reads (libnvme's EAGAIN): the log is being rewritten; read it later.
	ErrUnstableLog = errors.New("discovery log kept changing while it was read")
	// ErrInconsistentLog means the controller reported a different number of records
	// under the same generation counter (libnvme's EBADSLT).
	ErrInconsistentLog = errors.New("discovery log record count changed without a generation change")
	// ErrInvalidCommand means a Command or a request argument is malformed; nothing was
	// sent.
	ErrInvalidCommand = errors.New("invalid command")
)

// Direction says which way a command's data moves. The kernel derives it from the
// opcode's two low bits; a Command states it too, so that a mismatch is caught before
// the kernel sees the buffer, and so that Device knows whether to copy data in or out.
type Direction uint8

// Data directions.
const (
	// DataNone: the command transfers no data; Command.Data must be empty.
	DataNone Direction = iota
	// DataFromController: the controller writes Command.Data (Identify, Get Log Page).
	DataFromController
	// DataToController: the controller reads Command.Data (DIM).
	DataToController
)

// String returns none, from-controller or to-controller.
func (d Direction) String() string {
	switch d {
	case DataNone:
		return "none"
	case DataFromController:
		return "from-controller"
	case DataToController:
		return "to-controller"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Command is one admin command as struct nvme_passthru_cmd carries it.
type Command struct {
	Opcode nvme.Opcode
	NSID   uint32
	CDW2   uint32
	CDW3   uint32
	CDW10  uint32
	CDW11  uint32
	CDW12  uint32
	CDW13  uint32
	CDW14  uint32
	CDW15  uint32
	// Data is the data buffer; its length is the transfer length.
	Data      []byte
	Direction Direction
	// Timeout is the kernel's timeout for the command (timeout_ms; 0 means the kernel's
	// default). Device.Submit sets it from the context; a non-zero value given to
	// Device.Submit is an upper bound.
	Timeout time.Duration
}

// validate checks what the kernel would otherwise judge from the buffer alone.
func (c *Command) validate() error {
	switch c.Direction {
	case DataNone:
		if len(c.Data) != 0 {
			return fmt.Errorf("%w: %s with direction none carries %d data bytes", ErrInvalidCommand, c.Opcode, len(c.Data))
		}
		return nil
	case DataFromController:
		if !c.Opcode.ReceivesData() || c.Opcode.SendsData() {
			return fmt.Errorf("%w: %s does not transfer data from the controller", ErrInvalidCommand, c.Opcode)
		}
	case DataToController:
		if !c.Opcode.SendsData() {
			return fmt.Errorf("%w: %s does not transfer data to the controller", ErrInvalidCommand, c.Opcode)
		}
	default:
		return fmt.Errorf("%w: %s", ErrInvalidCommand, c.Direction)
	}
	if len(c.Data) == 0 || uint64(len(c.Data)) > math.MaxUint32 {
		return fmt.Errorf("%w: %s: data length %d out of range", ErrInvalidCommand, c.Opcode, len(c.Data))
	}
	return nil
}

// Submitter issues one admin command and waits for its completion. It returns the
// completion's dword 0 (Result) and nil; an nvme.Status as the error (possibly with a
// meaningful result) when the controller failed the command; or another error when the
// command did not complete (an OS error). Submit may block for as long as
// Command.Timeout and may ignore ctx: Device handles cancellation. It must not touch
// cmd.Data after it returns, and must be safe for concurrent use.
type Submitter interface {
	Submit(ctx context.Context, cmd *Command) (result uint32, err error)
}

// submitCloser is what the platform's opener returns.
type submitCloser interface {
	Submitter
	io.Closer
}

// Device sends admin commands to one controller. Make it with NewDevice or Open and set
// its fields before first use; it is then safe for concurrent use. A Device is itself a
// Submitter.
type Device struct {
	// Timeout is the kernel timeout of a command whose context has no deadline; zero
	// means DefaultTimeout.
	Timeout time.Duration
	// MaxRetries bounds the entries reads of DiscoveryLog; zero means DefaultMaxRetries.
	MaxRetries int

	name  string
	sub   Submitter
	slots chan struct{}
}

// NewDevice returns a Device that sends its commands through s. name (such as "nvme0")
// appears in every error.
func NewDevice(name string, s Submitter) *Device {
	return &Device{name: name, sub: s, slots: make(chan struct{}, maxInFlight)}
}

// Open opens a controller's character device for admin passthrough: name is either a
// device name such as "nvme0" (opened under /dev) or an absolute path. It needs Linux
// and, for the commands, CAP_SYS_ADMIN; elsewhere it fails with errors.ErrUnsupported.
func Open(name string) (*Device, error) {
	path := name
	switch {
	case filepath.IsAbs(name):
		name = filepath.Base(name)
	case name == "" || strings.ContainsRune(name, '/') || name == "." || name == "..":
		return nil, fmt.Errorf("open nvme device %q: %w: not a device name", name, ErrInvalidCommand)
	default:
		path = "/dev/" + name
	}
	s, err := openSubmitter(path)
	if err != nil {
		return nil, fmt.Errorf("open nvme device %s: %w", path, err)
	}
	return NewDevice(name, s), nil
}

// Name returns the device name errors are reported with.
func (d *Device) Name() string { return d.name }

// Close closes the device when its Submitter is an io.Closer (Open's is). Commands still
// running in the background keep the file open until the kernel finishes them.
func (d *Device) Close() error {
	if c, ok := d.sub.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("close nvme device %s: %w", d.name, err)
		}
	}
	return nil
}

// Submit sends cmd and returns the completion's dword 0. The kernel timeout is the time
// left until ctx's deadline (at least MinTimeout), or d.Timeout without a deadline,
// bounded by a non-zero cmd.Timeout. When ctx is done before the command completes,
// Submit returns ctx's error at once; the command goes on in the background on a
// private copy of the buffer, so the kernel never writes into cmd.Data after Submit has
// returned. A controller's refusal is an nvme.Status (errors.As), and also
// ErrNotSupported when it means the command is not implemented; the result may carry
// command-specific detail even then.
func (d *Device) Submit(ctx context.Context, cmd *Command) (uint32, error) {
	res, err := d.submit(ctx, cmd)
	if err != nil {
		return res, fmt.Errorf("%s on %s: %w", cmd.Opcode, d.name, err)
	}
	return res, nil
}

// completion is the outcome of a command run in the background.
type completion struct {
	result uint32
	err    error
}

// pieceBuffers recycles the private buffers of commands up to LogPieceSize, which is
// every command this package sends. A buffer goes back only once its command has
// completed and its caller copied the data out; an abandoned one is left to the GC.
var pieceBuffers = sync.Pool{New: func() any { b := make([]byte, LogPieceSize); return &b }}

// submit is Submit without the device in the error.
func (d *Device) submit(ctx context.Context, cmd *Command) (uint32, error) {
	if d.sub == nil || d.slots == nil {
		return 0, fmt.Errorf("%w: Device not made by NewDevice or Open", ErrInvalidCommand)
	}
	if err := cmd.validate(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := *cmd
	c.Timeout = d.kernelTimeout(ctx, cmd.Timeout)
	if ctx.Done() == nil {
		// Nothing can cancel the caller, so it waits for the kernel anyway: no goroutine
		// and no copy needed.
		res, err := d.sub.Submit(ctx, &c)
		return res, classify(c.Opcode, err)
	}

	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("wait for one of %d commands in flight: %w", maxInFlight, ctx.Err())
	}
	var pooled *[]byte
	switch n := len(c.Data); {
	case n == 0:
	case n <= LogPieceSize:
		pooled = pieceBuffers.Get().(*[]byte)
		c.Data = (*pooled)[:n]
	default:
		c.Data = make([]byte, n)
	}
	// Copied in both directions: a controller may transfer less than asked, and what it
	// leaves must be the caller's bytes, as on the direct path, not another command's
	// from the pool.
	copy(c.Data, cmd.Data)
	done := make(chan completion, 1)
	go func() {
		res, err := d.sub.Submit(ctx, &c)
		<-d.slots
		done <- completion{res, err}
	}()

	var out completion
	select {
	case out = <-done:
	case <-ctx.Done():
		select {
		case out = <-done: // completed as ctx ended: the result is real, keep it
		default:
			return 0, ctx.Err()
		}
	}
	if out.err == nil && c.Direction == DataFromController {
		copy(cmd.Data, c.Data)
	}
	if pooled != nil {
		pieceBuffers.Put(pooled)
	}
	return out.result, classify(c.Opcode, out.err)
}

// kernelTimeout returns the timeout to give the kernel for a command sent under ctx.
func (d *Device) kernelTimeout(ctx context.Context, limit time.Duration) time.Duration {
	t := d.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	if deadline, ok := ctx.Deadline(); ok {
		t = max(time.Until(deadline), MinTimeout)
	}
	if limit > 0 && limit < t {
		t = limit
	}
	return t
}

// timeoutMillis converts a kernel timeout to timeout_ms, rounding up so that a positive
// timeout never becomes 0 (the kernel's default).
func timeoutMillis(t time.Duration) uint32 {
	if t <= 0 {
		return 0
	}
	ms := (t + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(ms)
}

// classify adds ErrNotSupported to the statuses that mean "not implemented here".
func classify(op nvme.Opcode, err error) error {
	if err == nil {
		return nil
	}
	var st nvme.Status
	if !errors.As(err, &st) {
		return err
	}
	switch {
	case st.SCT() == nvme.SCTGeneric && (st.SC() == nvme.SCInvalidOpcode || st.SC() == nvme.SCInvalidField),
		op == nvme.OpGetLogPage && st.SCT() == nvme.SCTCommandSpecific && st.SC() == nvme.SCInvalidLogPage:
		return fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	return err
}

// IdentifyController reads and decodes the Identify Controller data structure (CNS 1).
func (d *Device) IdentifyController(ctx context.Context) (*nvme.IdentifyController, error) {
	buf := make([]byte, nvme.IdentifySize)
	cmd := Command{
		Opcode:    nvme.OpIdentify,
		CDW10:     nvme.IdentifyCDW10(nvme.CNSController, 0),
		Data:      buf,
		Direction: DataFromController,
	}
	if _, err := d.submit(ctx, &cmd); err != nil {
		return nil, fmt.Errorf("identify controller on %s: %w", d.name, err)
	}
	id, err := nvme.DecodeIdentifyController(buf)
	if err != nil {
		return nil, fmt.Errorf("identify controller on %s: %w", d.name, err)
	}
	return id, nil
}

// GetLogPage reads len(buf) bytes of log page p.LID from p.Offset into buf (NSID 0), as
// libnvme's nvme_get_log_page does: in LogPieceSize pieces at increasing offsets, each
// but the last with RAE set so the controller keeps its event latched during the read,
// the last with p.RAE. p.Length must be 0 or len(buf); len(buf) must be a non-zero
// multiple of 4. Pieces after the first need a controller that supports log page
// offsets (Identify LPA bit 2); Linux targets do.
func (d *Device) GetLogPage(ctx context.Context, p nvme.GetLogPage, buf []byte) error {
	if err := d.getLogPage(ctx, 0, p, buf); err != nil {
		return fmt.Errorf("get log page %#02x on %s: %w", p.LID, d.name, err)
	}
	return nil
}

// getLogPage is GetLogPage with an NSID and without the device in the error.
func (d *Device) getLogPage(ctx context.Context, nsid uint32, p nvme.GetLogPage, buf []byte) error {
	total := uint64(len(buf))
	switch {
	case p.Length != 0 && p.Length != total:
		return fmt.Errorf("%w: length %d given with a %d-byte buffer", ErrInvalidCommand, p.Length, total)
	case total == 0 || total%4 != 0:
		return fmt.Errorf("%w: buffer length %d is not a non-zero multiple of 4", ErrInvalidCommand, total)
	case p.Offset > math.MaxUint64-total:
		return fmt.Errorf("%w: offset %d plus length %d overflows", ErrInvalidCommand, p.Offset, total)
	}
	start, lastRAE := p.Offset, p.RAE
	for off := uint64(0); off < total; {
		n := min(total-off, LogPieceSize)
		p.Offset, p.Length = start+off, n
		p.RAE = off+n < total || lastRAE
		cdw10, cdw11, cdw12, cdw13, err := p.CDWs()
		if err != nil {
			return err
		}
		cmd := Command{
			Opcode: nvme.OpGetLogPage, NSID: nsid,
			CDW10: cdw10, CDW11: cdw11, CDW12: cdw12, CDW13: cdw13,
			Data: buf[off : off+n], Direction: DataFromController,
		}
		if _, err := d.submit(ctx, &cmd); err != nil {
			return fmt.Errorf("read %d bytes at offset %d: %w", n, p.Offset, err)
		}
		off += n
	}
	return nil
}

// SupportedLogPages reads the Supported Log Pages log (LID 0x00) with RAE set, so that
// the read cannot clear any pending event. A controller without it (nvmet answers
// Invalid Field) gives an error matching ErrNotSupported; nvme-stas then reads the
// discovery log without options.
func (d *Device) SupportedLogPages(ctx context.Context) (nvme.SupportedLogPages, error) {
	buf := make([]byte, nvme.SupportedLogPagesSize)
	p := nvme.GetLogPage{LID: nvme.LIDSupportedLogPages, RAE: true}
	if err := d.getLogPage(ctx, nsidAll, p, buf); err != nil {
		return nvme.SupportedLogPages{}, fmt.Errorf("get supported log pages on %s: %w", d.name, err)
	}
	s, err := nvme.DecodeSupportedLogPages(buf)
	if err != nil {
		return s, fmt.Errorf("get supported log pages on %s: %w", d.name, err)
	}
	return s, nil
}

// DiscoveryLog reads the Discovery Log Page (LID 0x70) with log specific parameter lsp
// (0, or nvme.LSPDiscoveryPLEO when the controller supports it), using libnvme's
// algorithm: read the header; read NUMREC entries at offset 1024 in pieces; read the
// header again and start over while the generation counter moved, at most MaxRetries
// times (then ErrUnstableLog). A NUMREC that changed under the same counter is
// ErrInconsistentLog; one above nvme.MaxLogRecords is refused before anything is
// allocated (nvme.ErrMalformed).
//
// RAE: the last command of a successful read is always the header re-read, with RAE
// clear, because the Linux target re-arms its discovery-change AEN only on a Get Log
// Page with RAE clear; every earlier command keeps RAE set, so changes made during the
// read are caught by the counter check rather than by a second AEN. Unlike libnvme, the
// first header read keeps RAE set too, so an empty log costs a second header read (the
// one that clears RAE and confirms the counter). When the counter moved, the re-read
// that saw it has already cleared RAE; that can only cost one more AEN, never a missed
// one.
func (d *Device) DiscoveryLog(ctx context.Context, lsp uint8) (*nvme.DiscoveryLog, error) {
	log, err := d.discoveryLog(ctx, lsp)
	if err != nil {
		return nil, fmt.Errorf("read discovery log on %s: %w", d.name, err)
	}
	return log, nil
}

// discoveryLog is DiscoveryLog without the device in the error.
func (d *Device) discoveryLog(ctx context.Context, lsp uint8) (*nvme.DiscoveryLog, error) {
	hbuf := make([]byte, nvme.LogHeaderReadLen)
	readHeader := func(rae bool) (nvme.LogHeader, error) {
		p := nvme.GetLogPage{LID: nvme.LIDDiscovery, LSP: lsp, RAE: rae}
		if err := d.getLogPage(ctx, 0, p, hbuf); err != nil {
			return nvme.LogHeader{}, fmt.Errorf("header: %w", err)
		}
		return nvme.DecodeLogHeader(hbuf)
	}

	maxRetries := d.MaxRetries
	if maxRetries <= 0 {
		maxRetries = DefaultMaxRetries
	}
	hdr, err := readHeader(true)
	if err != nil {
		return nil, err
	}
	var entries []byte
	for attempt := 1; ; attempt++ {
		size, err := hdr.EntriesLen()
		if err != nil {
			return nil, err
		}
		if uint64(cap(entries)) < size {
			entries = make([]byte, size)
		}
		entries = entries[:size]
		if size > 0 {
			p := nvme.GetLogPage{LID: nvme.LIDDiscovery, LSP: lsp, RAE: true, Offset: nvme.LogHeaderSize}
			if err := d.getLogPage(ctx, 0, p, entries); err != nil {
				return nil, fmt.Errorf("%d entries: %w", hdr.NumRec, err)
			}
		}
		again, err := readHeader(false)
		if err != nil {
			return nil, err
		}
		if again.GenCtr == hdr.GenCtr {
			if again.NumRec != hdr.NumRec {
				return nil, fmt.Errorf("%w: genctr %d, numrec %d then %d", ErrInconsistentLog, hdr.GenCtr, hdr.NumRec, again.NumRec)
			}
			list, err := nvme.DecodeEntries(entries)
			if err != nil {
				return nil, err
			}
			return &nvme.DiscoveryLog{GenCtr: again.GenCtr, RecFmt: again.RecFmt, Entries: list}, nil
		}
		if attempt >= maxRetries {
			return nil, fmt.Errorf("%w: genctr %d then %d after %d reads", ErrUnstableLog, hdr.GenCtr, again.GenCtr, attempt)
		}
		hdr = again
	}
}

// DIM sends a Discovery Information Management command (TP8010, opcode 0x21) with task
// and the encoded data, and returns the completion's dword 0, which carries
// command-specific detail (also when the controller fails the command). A controller
// without DIM (nvmet) gives an error matching ErrNotSupported.
func (d *Device) DIM(ctx context.Context, task nvme.DIMTask, data *nvme.DIMData) (uint32, error) {
	if task > nvme.DIMUpdate || data == nil {
		return 0, fmt.Errorf("dim %s on %s: %w: task or data", task, d.name, ErrInvalidCommand)
	}
	payload, err := data.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("dim %s on %s: %w", task, d.name, err)
	}
	cmd := Command{
		Opcode:    nvme.OpDiscoveryInfoMgmt,
		CDW10:     task.CDW10(),
		Data:      payload,
		Direction: DataToController,
	}
	res, err := d.submit(ctx, &cmd)
	if err != nil {
		return res, fmt.Errorf("dim %s on %s: %w", task, d.name, err)
	}
	return res, nil
}
