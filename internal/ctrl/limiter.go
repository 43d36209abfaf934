// SPDX-License-Identifier: Apache-2.0

package ctrl

import (
	"context"
	"sync"
)

// Limiter bounds how many kernel connects run at once across the controllers that share
// it, so that hundreds of controllers starting together do not queue hundreds of
// blocked writes to /dev/nvme-fabrics. A nil *Limiter sets no bound.
type Limiter struct {
	slots chan struct{}
}

// NewLimiter returns a Limiter allowing n connects at once (at least 1).
func NewLimiter(n int) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1))}
}

// Acquire waits for a free slot, or for ctx to end (then it returns ctx's error).
// Call release, once, when the connect has returned; later calls do nothing.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	select {
	case l.slots <- struct{}{}:
		return sync.OnceFunc(func() { <-l.slots }), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
