package nsqpub

import "sync"

// window is what a connection has written and nsqd not yet answered, oldest
// first, bounded by MaxInFlightCommands and MaxInFlightBytes body bytes.
// The writer pushes a command before its bytes go out and the reader pops it
// on the answer, both under mu; room wakes a writer waiting for either.
type window struct {
	mu       sync.Mutex
	ring     []sent // guarded by mu: ring[head], ring[head+1], ... (mod len)
	head, n  int    // guarded by mu
	bytes    int    // guarded by mu: body bytes of what is in the ring
	pops     uint64 // guarded by mu: answers taken so far, for a pool's stall watch
	maxBytes int
	writeErr error         // guarded by mu: the writer's write error, if any
	room     chan struct{} // one slot: something was popped
}

// sent is a command in flight: the transaction that heads it (with any
// merged behind it), its body size on the wire, and its shape, for the
// model to learn from nsqd's answer.
type sent struct {
	t     *tx
	wire  int
	shape shape
}

func newWindow(maxCmds, maxBytes int) window {
	return window{ring: make([]sent, maxCmds), maxBytes: maxBytes, room: make(chan struct{}, 1)}
}

// push adds s unless the window is full: MaxInFlightCommands, or s would
// take the body bytes past the limit while others are in flight.
func (w *window) push(s sent) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == len(w.ring) || (w.n > 0 && w.bytes+s.wire > w.maxBytes) {
		return false
	}
	w.ring[(w.head+w.n)%len(w.ring)] = s
	w.n++
	w.bytes += s.wire
	return true
}

// pop removes the oldest command. The caller wakes the writer (wake) once
// it has learned from the answer.
func (w *window) pop() (sent, bool) {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return sent{}, false
	}
	s := w.ring[w.head]
	w.ring[w.head] = sent{}
	w.head = (w.head + 1) % len(w.ring)
	w.n--
	w.bytes -= s.wire
	w.pops++
	w.mu.Unlock()
	return s, true
}

// wake tells a writer waiting for room or for an answer that something was
// popped.
func (w *window) wake() {
	select {
	case w.room <- struct{}{}:
	default:
	}
}

// progress returns how many answers were taken so far and how many
// commands are in flight.
func (w *window) progress() (pops uint64, inFlight int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pops, w.n
}

// empty reports whether nothing is in flight.
func (w *window) empty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n == 0
}

// takeAll removes and returns everything in flight, oldest first.
func (w *window) takeAll() []sent {
	var all []sent
	for s, ok := w.pop(); ok; s, ok = w.pop() {
		all = append(all, s)
	}
	return all
}

// failWrite records the writer's write error for the reader's final error.
func (w *window) failWrite(err error) {
	w.mu.Lock()
	w.writeErr = err
	w.mu.Unlock()
}

// writeError returns the writer's write error, if any.
func (w *window) writeError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeErr
}
