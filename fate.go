package nsqpub

import (
	"context"
	"errors"
	"fmt"
)

// maxResends bounds how often one publish is sent again on a new connection
// after its connection ended with it not executed.
const maxResends = 4

// connExited forgets a connection once it has closed and settles every
// transaction it left: it runs in the connection's reader, last.
func (p *Producer) connExited(c *conn, cause error, left []leftover) {
	p.mu.Lock()
	if p.conn == c {
		p.conn = nil
		p.live.Store(nil)
	}
	p.mu.Unlock()
	for _, l := range left {
		err, again := p.fate(l, cause)
		if again {
			p.resend(l.t, err)
		} else {
			l.t.finish(err)
		}
	}
	p.conns.Done()
}

// fate decides what becomes of a transaction that its connection (which
// ended with cause) left as l says: the error it ends with, and whether it
// may be sent again on a new connection, where that error is its error if
// the resend fails. It is the one place where this is decided:
//
//   - refused by nsqd: rejected with nsqd's error, except a member of an
//     MPUB merged from several publishes refused for its body
//     (E_BAD_MESSAGE, E_BAD_BODY): nsqd queued none of it and the fault may
//     lie with one member, so each is sent again alone;
//   - never written, or written behind a refused command: not executed
//     (ErrNotConnected), safe to send again;
//   - written without an answer: unknown (ErrUnknownOutcome), sent again
//     only with Config.AtLeastOnce.
//
// A publish written on an earlier connection stays unknown whatever happens
// to it later, and none is sent more than maxResends times.
func (p *Producer) fate(l leftover, cause error) (err error, again bool) {
	t := l.t
	switch l.kind {
	case leftRefused:
		if !l.merged || (l.serr.Code != "E_BAD_MESSAGE" && l.serr.Code != "E_BAD_BODY") {
			return l.serr, false
		}
		t.solo = true
		// nsqd's error answered the MPUB, not this publish: it is quoted,
		// not wrapped, so that errors.As finds no *ServerError here.
		err = fmt.Errorf("%w: not executed: the MPUB it was merged into was refused: %v", ErrNotConnected, l.serr)
	case leftUnwritten:
		err = fmt.Errorf("%w: not sent: %w", ErrNotConnected, cause)
	case leftUnexecuted:
		err = fmt.Errorf("%w: not executed: %w", ErrNotConnected, cause)
	case leftUnanswered:
		t.maybeQueued = true
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, cause), p.cfg.AtLeastOnce && t.resends < maxResends
	}
	if t.maybeQueued {
		// Written on an earlier connection: nsqd may hold it, whatever
		// happened to it on this one.
		// The later error is quoted, not wrapped: this publish is not
		// ErrNotConnected (safe to resend) any more.
		err = fmt.Errorf("%w: written on an earlier connection, then: %v", ErrUnknownOutcome, err)
		return err, p.cfg.AtLeastOnce && t.resends < maxResends
	}
	return err, t.resends < maxResends
}

// resend queues t again on a new connection, or finishes it with err when
// that fails.
func (p *Producer) resend(t *tx, err error) {
	t.resends++
	p.ctr.retried.Add(1)
	t.state.Store(txQueued)
	serr := p.enqueue(context.Background(), t)
	if serr == nil || !t.take() {
		return // queued, or abandoned meanwhile by its caller
	}
	if errors.Is(serr, ErrStopped) {
		t.finish(fmt.Errorf("%w (%w)", err, ErrStopped))
		return
	}
	t.finish(fmt.Errorf("%w (sending it again failed: %v)", err, serr))
}
