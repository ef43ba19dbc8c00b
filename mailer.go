package nsqpub

import (
	"sync"
	"sync/atomic"
	"time"
)

// mailer delivers asynchronous results to the callers' done channels without
// ever blocking the goroutine that completes them (a connection's reader, or
// a pool's retry): one caller's full or unread done channel must not delay
// anyone else's results, nor the heartbeats the reader answers.
//
// A result is sent at once when its channel has room and nothing for that
// channel is waiting before it. Otherwise it joins the channel's mailbox, a
// queue served by a goroutine of its own that sends in order and exits when
// the queue is empty. So the results on one channel keep their order.
//
// A mailbox is bounded by the caller, not by the mailer: admit holds the
// caller's next asynchronous publish to a channel while limit results wait
// for it, so a caller that never reads its channel stalls only itself.
//
// Stop waits for the mailboxes to empty; once its deadline has passed, the
// results still waiting for a channel nobody reads are dropped, so that
// Stop always returns.
type mailer struct {
	limit   int                                    // results a mailbox holds before admit waits
	active  atomic.Int32                           // mailboxes; admit's fast path reads it
	mu      sync.Mutex                             // guards the fields below
	space   *sync.Cond                             // on mu: a mailbox shrank or went
	boxes   map[chan *ProducerTransaction]*mailbox // the mailboxes
	dropped bool                                   // set by stop's deadline
	spare   *mailbox                               // the last mailbox removed, for reuse
	wg      sync.WaitGroup                         // mailbox goroutines
	drop    chan struct{}                          // closed by stop when results may be dropped
}

// mailbox is the queue of results waiting for one done channel: q is
// guarded by the mailer's mu; hand is its goroutine's.
type mailbox struct {
	q      []*ProducerTransaction // waiting
	inHand int                    // how many its goroutine took from q and has not all sent yet
	hand   []*ProducerTransaction // the goroutine's: taken from q, being sent
}

// newMailer returns a mailer whose mailboxes hold up to limit results
// before admit waits.
func newMailer(limit int) *mailer {
	m := &mailer{limit: limit, boxes: make(map[chan *ProducerTransaction]*mailbox), drop: make(chan struct{})}
	m.space = sync.NewCond(&m.mu)
	return m
}

// admit waits while ch's mailbox holds limit results or more (counting a
// batch its goroutine is sending until all of it is sent), until it shrinks
// or results may be dropped. It is called by the publisher that is
// about to publish with ch, never by a connection.
func (m *mailer) admit(ch chan *ProducerTransaction) {
	if ch == nil || m.active.Load() == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for b := m.boxes[ch]; b != nil && len(b.q)+b.inHand >= m.limit && !m.dropped; b = m.boxes[ch] {
		m.space.Wait()
	}
}

// send delivers r on ch, at once or through ch's mailbox. It never blocks
// for long (only on mu). A nil ch drops r, as go-nsq does.
func (m *mailer) send(ch chan *ProducerTransaction, r *ProducerTransaction) {
	if ch == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.boxes[ch]; b != nil {
		b.q = append(b.q, r)
		return
	}
	// Sending under mu keeps the order: no result for ch can be queued in a
	// mailbox between this check and this send.
	select {
	case ch <- r:
		return
	default:
	}
	if m.dropped {
		return
	}
	b := m.spare
	if b == nil {
		b = &mailbox{}
	}
	m.spare = nil
	b.q = append(b.q[:0], r)
	m.boxes[ch] = b
	m.active.Add(1)
	m.wg.Add(1)
	go m.serve(ch, b)
}

// serve sends b's results on ch in order, taking all that wait at once, and
// exits once b is empty (then removed) or results may be dropped.
func (m *mailer) serve(ch chan *ProducerTransaction, b *mailbox) {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if len(b.q) == 0 {
			m.remove(ch, b)
			m.mu.Unlock()
			return
		}
		b.hand, b.q = b.q, b.hand[:0]
		b.inHand = len(b.hand)
		m.space.Broadcast()
		m.mu.Unlock()
		for i, r := range b.hand {
			select {
			case ch <- r:
				b.hand[i] = nil
			case <-m.drop:
				m.mu.Lock()
				clear(b.hand)
				m.remove(ch, b)
				m.mu.Unlock()
				return
			}
		}
	}
}

// remove deletes ch's mailbox b, keeping it for reuse; mu is held, and b's
// goroutine touches it no more.
func (m *mailer) remove(ch chan *ProducerTransaction, b *mailbox) {
	delete(m.boxes, ch)
	m.active.Add(-1)
	clear(b.q)
	b.q, b.inHand = b.q[:0], 0
	m.spare = b
	m.space.Broadcast()
}

// stop waits until every mailbox is empty or deadline has passed, then drops
// what is left and waits for the mailbox goroutines to exit. Results sent
// after stop are delivered only where the channel has room.
func (m *mailer) stop(deadline time.Time) {
	waitUntil(&m.wg, deadline, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.dropped {
			m.dropped = true
			close(m.drop)
			m.space.Broadcast()
		}
	})
}
