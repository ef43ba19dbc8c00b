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
// Its life, as a state machine (state holds the first three; the others are
// where the tx is):
//
//	          send                 take (writer)           push              reply
//	caller ─────────▶ queued ───────────────────▶ taken ─────────▶ in flight ───────▶ done
//	                   │  ▲                        │  │                 │
//	        abandon    │  │ unwritten: the window  │  │ left over when  │ left over when the
//	        (caller's  │  │ never had room before  │  │ the connection  │ connection ended
//	        context)   │  │ the connection died    │  │ ended (exit     │ (unanswered, not
//	                   ▼  └────────────────────────┘  │ takes it)       │ executed, refused)
//	              abandoned                           ▼                 ▼
//	           (skipped by the          Producer.fate decides: done with an error,
//	           writer and exit)         or resend ─▶ queued (on a new connection)
//
// Who may touch what:
//   - state: compare-and-swap only. take (queued → taken) is done by the
//     writer, or by the connection's exit for what the writer never took;
//     abandon (queued → abandoned) by the synchronous caller whose context
//     ended. Whoever wins owns the tx; the loser leaves it alone. The two
//     back-edges to queued are stores by the owner, who then hands the tx on
//     (to exit, or to a new connection's queue).
//   - every other field: the caller's until send; then the owner's, which is
//     in turn the writer (from take until push), the reader (in flight, and
//     at exit), the Producer (fate, resend), and finally the caller again,
//     from the moment finish delivers the result. Each hand-off is a channel
//     operation or a mutex, so no field is shared.
type tx struct {
	cmd   command
	state atomic.Uint32 // txQueued, txTaken or txAbandoned
	ctr   *counters     // the Producer's counters, nil for NOP

	// Set by the writer before the push, read by the reader after it.
	next *tx // the next member of the MPUB this one heads or belongs to

	// Resend bookkeeping, read and written by whoever owns the tx.
	solo        bool // never merge: its merged MPUB was refused for its body
	maybeQueued bool // written once with no answer: nsqd may hold it
	resends     int  // times sent again on a new connection

	// Where the result goes; exactly one of the three is set.
	wait   chan *tx                  // a synchronous caller (one slot, never blocks)
	done   chan *ProducerTransaction // an asynchronous caller (through the mailer)
	call   *poolCall                 // a pool publish, which may go to another node
	result ProducerTransaction       // what is sent on done
	mail   *mailer                   // the Producer's mailer, for done
	err    error                     // the result, for wait and call
}

// Transaction states; see the diagram on tx.
const (
	txQueued uint32 = iota
	txTaken
	txAbandoned
)

// take claims a queued transaction for writing or failing.
func (t *tx) take() bool { return t.state.CompareAndSwap(txQueued, txTaken) }

// abandon claims a queued transaction for its caller, who gave up.
func (t *tx) abandon() bool { return t.state.CompareAndSwap(txQueued, txAbandoned) }

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
// hands each to its caller; from then on the caller owns it.
func (t *tx) finish(err error) {
	t.eachMember(func(u *tx) {
		if u.ctr != nil {
			u.ctr.record(err, u.cmd.count())
		}
		switch {
		case u.wait != nil:
			u.err = err
			u.wait <- u
		case u.call != nil:
			u.call.complete(err)
		default:
			u.result.Error = err
			u.mail.send(u.done, &u.result)
		}
	})
}

// txPool recycles the transactions of synchronous publishes, each with its
// own one-slot wait channel.
var txPool = sync.Pool{New: func() any {
	return &tx{wait: make(chan *tx, 1)}
}}

// newSyncTx returns a pooled transaction for a synchronous publish of cmd.
func newSyncTx(cmd command) *tx {
	t := txPool.Get().(*tx)
	t.cmd = cmd
	return t
}

// recycle returns a synchronous transaction to the pool. Only its caller
// may call it, once the transaction is finished and nothing else holds it.
func (t *tx) recycle() {
	wait := t.wait
	*t = tx{wait: wait}
	txPool.Put(t)
}
