package nsqpub

import (
	"context"
	"errors"
	"fmt"
)

// maxResends bounds how often one publish is sent again on a new connection
// after failing there through no fault of another publish.
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
	if !afterRefusal(cause) {
		// Not nsqd's own refusal: nsqd may have been restarted with other
		// flags, so the limits it stated no longer hold.
		p.model.forget()
	}
	// A pool closed a stalled connection so that what it left goes to
	// other nodes: none of it is resent here.
	stalled := errors.Is(cause, errStalled)
	for _, l := range left {
		err, again, free := p.fate(l, cause)
		if again && !stalled {
			p.resend(l.t, err, free)
		} else {
			l.t.finish(err)
		}
	}
	p.conns.Done()
}

// fate decides what becomes of a transaction that its connection (which
// ended with cause) left as l says: the error it ends with, whether it may
// be sent again on a new connection (where that error is its error if the
// resend fails), and whether that resend is free, not counted against
// maxResends. It is the one place where this is decided.
//
// What nsqd refused, by whose fault and what nsqd queued:
//   - the message's fault (E_BAD_MESSAGE, E_BAD_BODY, E_BAD_TOPIC,
//     E_UNAUTHORIZED, E_INVALID): rejected with nsqd's error; but a member
//     of an MPUB merged from several publishes, refused for its body, is
//     sent again alone, free: nsqd queued none of it and the fault may lie
//     with another member;
//   - the server's transient trouble (E_PUB_FAILED, E_DPUB_FAILED,
//     E_AUTH_FAILED): not executed, sent again;
//   - E_MPUB_FAILED: nsqd queues an MPUB's messages one by one and may have
//     queued some before failing: unknown.
//
// What nsqd never saw or never executed (unwritten, or written behind a
// refused command) is not executed, sent again; free when the connection
// ended because nsqd refused another publish. What was written without an
// answer is unknown, sent again only with Config.AtLeastOnce. A publish
// written on an earlier connection stays unknown whatever happens to it
// later.
func (p *Producer) fate(l leftover, cause error) (err error, again, free bool) {
	t := l.t
	othersFault := afterRefusal(cause)
	switch l.kind {
	case leftRefused:
		switch l.serr.Code {
		case "E_BAD_MESSAGE", "E_BAD_BODY":
			if !l.merged {
				return refusedError(l.serr), false, false
			}
			t.solo = true
			// nsqd's error answered the MPUB, not this publish: it is
			// quoted, not wrapped, so that errors.As finds no *ServerError.
			err = fmt.Errorf("%w: not executed: the MPUB it was merged into was refused: %v", ErrNotConnected, l.serr)
			othersFault = true
		case "E_PUB_FAILED", "E_DPUB_FAILED", "E_AUTH_FAILED":
			err = fmt.Errorf("%w: not executed: %w", ErrNotConnected, l.serr)
			othersFault = false
		case "E_MPUB_FAILED":
			t.maybeQueued = true
			err = fmt.Errorf("%w: nsqd may have queued part of the MPUB: %w", ErrUnknownOutcome, l.serr)
			return err, p.cfg.AtLeastOnce && t.resends < maxResends, false
		default:
			return refusedError(l.serr), false, false
		}
	case leftUnwritten:
		err = fmt.Errorf("%w: not sent: %w", ErrNotConnected, cause)
	case leftUnexecuted:
		err = fmt.Errorf("%w: not executed: %w", ErrNotConnected, cause)
	case leftUnanswered:
		t.maybeQueued = true
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, cause), p.cfg.AtLeastOnce && t.resends < maxResends, false
	}
	if t.maybeQueued {
		// Written on an earlier connection: nsqd may hold it, whatever
		// happened to it on this one. The later error is quoted, not
		// wrapped: this publish is not ErrNotConnected (safe to resend).
		err = fmt.Errorf("%w: written on an earlier connection, then: %v", ErrUnknownOutcome, err)
		return err, p.cfg.AtLeastOnce && (othersFault || t.resends < maxResends), othersFault
	}
	return err, othersFault || t.resends < maxResends, othersFault
}

// resend queues t again on a new connection, or finishes it with err when
// that fails. Unless free, the resend counts against t's maxResends.
func (p *Producer) resend(t *tx, err error, free bool) {
	if !free {
		t.resends++
	}
	if !t.requeue() {
		return // its caller gave up on it and was told
	}
	p.ctr.retried.Add(1)
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
