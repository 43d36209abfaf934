// SPDX-License-Identifier: Apache-2.0

package nvme

import "errors"

// Sentinel errors wrapped by the decoders and encoders of this package, for errors.Is.
var (
	// ErrTruncated means the input is shorter than the structure it must hold.
	ErrTruncated = errors.New("truncated data")
	// ErrTrailingData means the input is longer than the structure it claims to hold.
	ErrTrailingData = errors.New("unexpected trailing data")
	// ErrMalformed means a length, count or format field contradicts the data.
	ErrMalformed = errors.New("malformed data")
	// ErrUnsupported means the data uses a format this package does not implement.
	ErrUnsupported = errors.New("unsupported format")
	// ErrFieldTooLong means a value does not fit the fixed-size wire field it goes into.
	ErrFieldTooLong = errors.New("value too long for field")
	// ErrInvalidValue means a value given to an encoder or a command builder is out of range.
	ErrInvalidValue = errors.New("invalid value")
	// ErrUnsafeText means a text field holds bytes that no address, NQN or name should
	// contain (NUL in the middle, control characters, invalid UTF-8).
	ErrUnsafeText = errors.New("unsafe text")
)
