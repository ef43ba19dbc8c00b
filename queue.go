package nsqpub

import (
	"context"
	"sync"
	"sync/atomic"
)

// byteBudget bounds the message bytes waiting for a connection's writer:
// queued on txCh, or taken into the writer's batch and not yet flushed to
// the socket (Config.MaxQueuedBytes). A publisher takes its bytes before it
// queues (take), waiting while the budget is spent; the writer gives them
// back once it has flushed them (give), when the window (MaxInFlightBytes)
// bounds them until nsqd answers. A publish larger than the whole budget
// goes when nothing else holds any, so that it is never refused for its
// size.
//
// used is an atomic, so a publish that fits costs one compare-and-swap. A
// publisher that does not fit waits on freed, which give closes: the
// publisher makes freed under mu and then looks at used again, and give
// changes used and then takes mu, so either that second look sees the
// bytes given back or give finds freed and closes it; no wakeup is lost.
type byteBudget struct {
	used atomic.Int64 // bytes taken and not given back
	max  int64

	mu    sync.Mutex
	freed chan struct{} // guarded by mu: closed by give; nil when nobody waits
}

func newByteBudget(max int) *byteBudget { return &byteBudget{max: int64(max)} }

// take takes n bytes, waiting while the budget is spent. It returns
// errConnClosed if dying closes first, or ctx.Err() if ctx ends; then
// nothing was taken.
func (b *byteBudget) take(ctx context.Context, n int64, dying <-chan struct{}) error {
	for !b.tryTake(n) {
		b.mu.Lock()
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		if b.tryTake(n) {
			return nil
		}
		select {
		case <-freed:
		case <-dying:
			return errConnClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// tryTake takes n bytes if they fit, or if nothing is taken at all.
func (b *byteBudget) tryTake(n int64) bool {
	for {
		used := b.used.Load()
		if used > 0 && used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// give gives n bytes back and wakes every publisher waiting for them.
func (b *byteBudget) give(n int64) {
	if n == 0 {
		return
	}
	b.used.Add(-n)
	b.mu.Lock()
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
	b.mu.Unlock()
}

// spent reports whether the budget holds no room for more.
func (b *byteBudget) spent() bool { return b.used.Load() >= b.max }
