package nsqpub

import (
	"sync"
	"sync/atomic"
)

// ProducerTransaction is the result of an asynchronous publish, sent on the
// done channel given to PublishAsync and the like, as in go-nsq. It is the
// caller's once received.
type ProducerTransaction struct {
	// Error is nil when nsqd answered OK, and otherwise says why not.
	Error error
	// Args are the arguments given to the asynchronous publish call.
	Args []interface{}
}

// tx is one publish (or Ping) on its way through a Producer: the queue node
// that the writer takes, merges, writes and the reader completes. Callers
// never see it: a synchronous caller waits on wait, an asynchronous one gets
// result on done, a pool publish is handed to call.
//
// Its life, as a state machine. state holds queued, taken, abandoned, gave
// up and done; "in flight" and "left over" say where a taken tx is.
//
//	          send                 take (writer)           push              reply
//	caller ─────────▶ queued ───────────────────▶ taken ─────────▶ in flight ───────▶ done
//	                   │  ▲                        │  │ │               │   (finish)
//	        abandon    │  │ requeue: the window    │  │ │ left over     │ left over when the
//	        (caller's  │  │ never had room before  │  │ │ when the      │ connection ended
//	        context,   │  │ the connection died    │  │ │ connection    │ (unanswered, not
//	        before     │  └────────────────────────┘  │ │ ended (exit   │ executed, refused)
//	        any write) ▼                              │ │ takes it)     ▼
//	              abandoned                           │ ▼      Producer.fate decides: finish
//	           (skipped by the writer and exit)       │        with an error (done), or
//	                                                  │        requeue ─▶ queued (resend)
//	                                    give up       ▼
//	        (a synchronous caller's context ended after the take; it was
//	        told "unknown" and counted so) gave up: finish and requeue skip it
//
// Who may touch what:
//   - state: compare-and-swap only, so that exactly one side wins each
//     race. take (queued → taken) is done by the writer, or by the
//     connection's exit for what the writer never took; abandon (queued →
//     abandoned) and give up (taken → gave up) by a synchronous caller whose
//     context ended; finish (taken → done) and requeue (taken → queued) by
//     whoever owns the taken tx. A caller that loses to finish reads the
//     result, which is on its wait channel.
//   - every other field: the caller's until send; then the owner's, which is
//     in turn the writer (from take until push), the reader (in flight, and
//     at exit), the Producer (fate, resend), and finally the caller again,
//     from the moment finish delivers the result. Each hand-off is a channel
//     operation or a mutex, so no field is shared.
type tx struct {
	cmd   command
	state atomic.Uint32 // txQueued, txTaken, txAbandoned, txGaveUp or txDone
	p     *Producer     // counts it and delivers its async result; nil in some tests

	// Set by the writer before the push, read by the reader after it.
	next *tx // the next member of the MPUB this one heads or belongs to

	// Resend bookkeeping, read and written by whoever owns the tx.
	solo        bool  // never merge: its merged MPUB was refused for its body
	maybeQueued bool  // written once with no answer: nsqd may hold it
	resends     uint8 // times sent again on a new connection, free ones not counted

	// Where the result goes; exactly one of the three is set. result is
	// what is sent on done, and carries the result for wait too.
	wait   chan *tx                  // a synchronous caller (one slot, never blocks)
	done   chan *ProducerTransaction // an asynchronous caller (through the mailer)
	call   *poolCall                 // a pool publish, which may go to another node
	result ProducerTransaction
}

// Transaction states; see the diagram on tx.
const (
	txQueued uint32 = iota
	txTaken
	txAbandoned
	txGaveUp
	txDone
)

// take claims a queued transaction for writing or failing.
func (t *tx) take() bool { return t.state.CompareAndSwap(txQueued, txTaken) }

// abandon claims a queued transaction for its caller, who gave up.
func (t *tx) abandon() bool { return t.state.CompareAndSwap(txQueued, txAbandoned) }

// giveUp marks a taken transaction as given up by its caller, who is told
// its outcome is unknown; it fails if the transaction is already done.
func (t *tx) giveUp() bool { return t.state.CompareAndSwap(txTaken, txGaveUp) }

// requeue returns a taken transaction to the queued state, to be taken
// again; it fails if its caller gave up, and then the tx is dropped.
func (t *tx) requeue() bool { return t.state.CompareAndSwap(txTaken, txQueued) }

// eachMember calls f for t and each transaction merged behind it, unlinking
// each before f sees it (f may hand it on).
func (t *tx) eachMember(f func(*tx)) {
	for t != nil {
		next := t.next
		t.next = nil
		f(t)
		t = next
	}
}

// finish completes t and the transactions merged behind it with err and
// hands each to its caller; from then on the caller owns it. A member whose
// caller gave up is skipped: that caller was told, and counted, already.
func (t *tx) finish(err error) {
	t.eachMember(func(u *tx) {
		if !u.state.CompareAndSwap(txTaken, txDone) {
			return
		}
		u.record(err)
		u.result.Error = err
		switch {
		case u.wait != nil:
			u.wait <- u
		case u.call != nil:
			u.call.complete(err)
		default:
			u.p.mail.send(u.done, &u.result)
		}
	})
}

// txPool recycles the transactions of synchronous publishes, each with its
// own one-slot wait channel.
var txPool = sync.Pool{New: func() any {
	return &tx{wait: make(chan *tx, 1)}
}}

// newSyncTx returns a pooled transaction for a synchronous publish of cmd
// by p.
func newSyncTx(p *Producer, cmd command) *tx {
	t := txPool.Get().(*tx)
	t.p, t.cmd = p, cmd
	return t
}

// begin counts t in flight, if it publishes messages.
func (t *tx) begin() {
	if t.p != nil && t.cmd.count() > 0 {
		t.p.ctr.inFlight.Add(1)
	}
}

// unbegin undoes begin for a transaction that was never queued.
func (t *tx) unbegin() {
	if t.p != nil && t.cmd.count() > 0 {
		t.p.ctr.inFlight.Add(-1)
	}
}

// record counts t's messages as ended with err, if it publishes any.
func (t *tx) record(err error) {
	if t.p != nil && t.cmd.count() > 0 {
		t.p.ctr.record(err, t.cmd.count())
	}
}

// recycle returns a synchronous transaction to the pool. Only its caller
// may call it, once the transaction is finished and nothing else holds it.
func (t *tx) recycle() {
	wait := t.wait
	*t = tx{wait: wait}
	txPool.Put(t)
}
