package nsqpub

import (
	"sync"
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
// Stop waits for the mailboxes to empty; once its deadline has passed, the
// results still waiting for a channel nobody reads are dropped, so that
// Stop always returns.
type mailer struct {
	mu      sync.Mutex
	boxes   map[chan *ProducerTransaction]*mailbox // guarded by mu
	dropped bool                                   // guarded by mu; set by drop
	wg      sync.WaitGroup                         // mailbox goroutines
	drop    chan struct{}                          // closed by stop when results may be dropped
}

// mailbox is the queue of results waiting for one done channel; guarded by
// the mailer's mu.
type mailbox struct {
	q []*ProducerTransaction
}

func newMailer() *mailer {
	return &mailer{boxes: make(map[chan *ProducerTransaction]*mailbox), drop: make(chan struct{})}
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
	b := &mailbox{q: []*ProducerTransaction{r}}
	m.boxes[ch] = b
	m.wg.Add(1)
	go m.serve(ch, b)
}

// serve sends b's results on ch in order, and exits once b is empty (then
// removed) or results may be dropped.
func (m *mailer) serve(ch chan *ProducerTransaction, b *mailbox) {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if len(b.q) == 0 {
			delete(m.boxes, ch)
			m.mu.Unlock()
			return
		}
		r := b.q[0]
		b.q[0] = nil
		b.q = b.q[1:]
		m.mu.Unlock()
		select {
		case ch <- r:
		case <-m.drop:
			m.mu.Lock()
			delete(m.boxes, ch)
			m.mu.Unlock()
			return
		}
	}
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
		}
	})
}
