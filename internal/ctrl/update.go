// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"time"

	"github.com/nvme-stas-go/stas/internal/nvme"
	"github.com/nvme-stas-go/stas/internal/tid"
)

// Update is a controller's whole state at one moment, sent after each change. It is a
// value: the service may keep it. LogPages is shared between Updates and must be
// treated as read-only.
type Update struct {
	// From is the controller that sent it; compare it with the table entry to ignore
	// late Updates of a controller the service has replaced.
	From *Controller
	TID  tid.TID
	Role Role

	// Device is the kernel controller ("nvme3"), "" when there is none.
	Device string
	// Connected: Device is set (made by this controller or adopted).
	Connected bool
	// Adopted: Device was an existing kernel connection, not made by this controller.
	Adopted bool
	// Connecting: a connect attempt (adoption search, then kernel connect) is in flight;
	// nvme-stas shows its "connect operation" then, as
	// {'fail count': 0, 'completed': False, 'alive': True}.
	Connecting bool
	// Attempts is nvme-stas's "connect attempts": attempts since the last success,
	// counting the one in flight.
	Attempts int
	// RetryInterval is the connect retry timer's interval: 60 s at first, 3 s after the
	// first failure and after a device removal, 60 s after the second failure. It keeps
	// its value while the timer is off, as nvme-stas shows it ("60.0s [off]").
	RetryInterval time.Duration
	// RetryAt is when the next connect attempt is due; zero when none is pending.
	// nvme-stas's "retry connect timer" is
	// dbusapi.TimerString(RetryInterval, !RetryAt.IsZero(), RetryAt.Sub(now)).
	RetryAt time.Time
	// GaveUp (IOC): retrying stopped under the NCC rule until SetNCC(false) or Reload.
	GaveUp bool
	// LastError is the text of the last connect or disconnect failure ("" after a
	// success). It holds no secrets.
	LastError string
	// NCC (IOC) is the current NCC flag.
	NCC bool

	// Identified (DC): Identity holds the answer of the last Identify Controller.
	Identified bool
	Identity   Identity
	// Registered (DC): the DC accepted our DIM registration on the current connection.
	Registered bool
	// DiscoveryOptions (DC) are the discovery log options the DC reported in Supported Log
	// Pages (zero when not read), and LSP the log specific parameter the log was read
	// with (nvme.LSPDiscoveryPLEO or 0).
	DiscoveryOptions nvme.DiscoveryLogOptions
	LSP              uint8
	// Identify, Register, Supported and LogPage (DC) are the states of the steps.
	Identify, Register, Supported, LogPage StepState
	// LogPages (DC) are the entries of the last discovery log read, unfiltered and
	// unvalidated (the service validates them). They survive a device removal, as in
	// nvme-stas, so that IOCs are not dropped while a DC reconnects.
	LogPages []nvme.Entry
	// GenCtr (DC) is the generation counter of that read.
	GenCtr uint64
	// LogFetched (DC) counts the successful log reads since Start; it changes on every
	// read, also when the content did not.
	LogFetched uint64

	// Stopped marks the final Update, sent by Stop before its channel closes. Device is
	// then what is left in the kernel: "" unless the connection was kept (or its deletion
	// failed, see LastError).
	Stopped bool
}

// Identity is the part of a DC's Identify Controller answer the service shows. The text
// fields are untrusted bytes from the wire, as received.
type Identity struct {
	DCType    nvme.DiscoveryControllerType
	CntrlType nvme.ControllerType
	SubNQN    string
	Model     string
	Serial    string
	Firmware  string
}

// StepState is the state of one DC step: nvme-stas's "operation" objects, shown on
// D-Bus (once Started) as a dbusapi.Operation with FailCount = Failures, Completed =
// !Running, Alive = true, and a retry timer once RetryInterval is set.
type StepState struct {
	// Started: the step has run on the current connection (nvme-stas's operation object
	// exists).
	Started bool
	// Running: the step is in flight.
	Running bool
	// Failures counts consecutive failures (nvme-stas's "fail count").
	Failures int
	// RetryInterval is the step's retry interval once it has failed (zero before: no
	// retry timer exists yet); RetryAt is when its retry is due (zero when none is).
	RetryInterval time.Duration
	RetryAt       time.Time
	// Error is the text of the last failure; "" after a success.
	Error string
}
