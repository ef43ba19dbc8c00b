package nsqpub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// conn is one connection to nsqd and its two goroutines: the writer
// (writer.go) takes transactions from txCh, merges and writes them with one
// flush per batch, pushing each command on the window before its bytes go
// out; the reader (readLoop) reads frames, completes the window's oldest
// command on each OK and asks the writer to answer heartbeats. The first
// fatal error is kept in err; when the connection ends, the reader reports
// every transaction it still holds to onExit, saying what happened to it,
// and the Producer decides its fate.
//
// Ownership. Each field belongs to one goroutine, or says what guards it:
//
//   - addr, cfg, log, model, link (but r and bw), onExit: set by the dial
//     before the goroutines start; read-only after (the model itself is the
//     Producer's, shared by its connections, and guards itself with
//     atomics: the reader teaches it, the writer asks it). The socket is
//     closed by fail,
//     from any goroutine; only the reader sets its read deadline, and only
//     the writer (through link's deadlineWriter) its write deadline.
//   - link.r, buf, refused: the reader's.
//   - link.bw, batch, flushed, nops, merged, pulled, pulledBytes, next,
//     lastOf, scratch: the writer's, until it closes
//     writerDone; then batch is the reader's, which reports what is left in
//     it (the close is the hand-off). When the writer stops on an error,
//     batch holds only what it never wrote (cutBatch).
//   - txCh: publishers send while holding sendMu for reading and sendClosed
//     is false; the writer receives; after writerDone the reader drains it.
//     Because closeSend takes sendMu for writing, no send is in progress or
//     can start once the connection closes, so the final drain misses none.
//   - sendClosed: guarded by sendMu.
//   - budget: the bytes on txCh and in batch not yet flushed; guards
//     itself (publishers take before they send, the writer gives back in
//     flush), see byteBudget. flushed: the writer's.
//   - win: the commands written and not yet answered; guarded by its own
//     mutex (the writer pushes, the reader pops), see window.
//   - nopCh: the reader's heartbeat signal to the writer (one slot, never
//     blocks the reader; two heartbeats before a NOP need one NOP).
//   - err: written once by fail, before dying is closed and before sending
//     is closed; read only by those who saw either (exit, and a publisher
//     whose send was refused).
//   - stopping: closed by stop, which only Producer.Stop calls, once.
//
// Nothing else is shared: the writer and the reader agree on what is in
// flight only through win, and on the end through dying and writerDone.
// The end: whatever fails first (a read, a write after WriteTimeout, a
// protocol violation, Stop) calls fail; the writer sees dying and closes
// writerDone; the reader's read fails on the closed socket, it waits for
// writerDone and runs exit, the connection's last act.
type conn struct {
	connParams
	*link

	txCh   chan *tx      // queued by publishers, drained by the writer
	budget *byteBudget   // bytes queued and not yet flushed; guards itself
	nopCh  chan struct{} // the reader asks the writer to answer a heartbeat
	win    window        // written, waiting for nsqd's answer

	sendMu     sync.RWMutex
	sendClosed bool // no more sends; guarded by sendMu

	failOnce sync.Once
	err      error         // first fatal error; written once before dying closes
	dying    chan struct{} // closed by fail
	stopping chan struct{} // closed by stop: write what is queued, then close

	writerDone chan struct{} // closed by the writer as it exits

	// The writer's.
	batch       []*tx            // transactions taken from txCh, being written
	flushed     int64            // budget bytes of the batch written since the last flush
	nops        []*tx            // NOPs (Ping) to complete after the flush
	merged      [][]byte         // bodies of the MPUB being merged
	pulled      []int32          // batch indices of the members of the MPUB being merged
	pulledBytes int64            // their budget bytes
	next        []int32          // next[i]: the index of the next command to batch[i]'s topic, or -1
	lastOf      map[string]int32 // linkTopics' last index of each topic seen
	scratch     []byte           // command headers

	// The reader's.
	buf     []byte // frame buffer
	refused *refusal
}

// connParams are what a connection gets from its Producer.
type connParams struct {
	addr   string
	cfg    *Config
	log    *logState
	model  *model // what the Producer learned of nsqd; guards itself
	onExit func(c *conn, cause error, left []leftover)
}

// refusal is the command nsqd answered with an error frame.
type refusal struct {
	t    *tx
	serr *ServerError
}

// leftKind says how a connection left a transaction it could not complete.
type leftKind uint8

const (
	// leftUnwritten: never written.
	leftUnwritten leftKind = iota
	// leftUnexecuted: written behind a command nsqd refused; nsqd executes
	// nothing after an error, so it was not executed.
	leftUnexecuted
	// leftUnanswered: written, and the connection ended before an answer;
	// nsqd may hold it.
	leftUnanswered
	// leftRefused: nsqd refused the command with serr.
	leftRefused
)

// leftover is a transaction a connection ended without completing, and what
// happened to it there.
type leftover struct {
	t      *tx
	kind   leftKind
	serr   *ServerError // for leftRefused
	merged bool         // t was a member of an MPUB merged from several publishes
}

// errConnClosed is returned by conn.send when the connection no longer takes
// transactions; nothing was sent, so the caller may use another connection.
var errConnClosed = errors.New("connection closed")

// dialConn connects to pp.addr, runs the handshake and starts the
// goroutines.
func dialConn(ctx context.Context, pp connParams) (*conn, error) {
	l, err := dialLink(ctx, pp.addr, pp.cfg, pp.log)
	if err != nil {
		return nil, err
	}
	return startConn(l, pp), nil
}

// startConn starts the goroutines of a connection whose handshake is done.
func startConn(l *link, pp connParams) *conn {
	c := newConn(l, pp)
	go c.readLoop()
	go c.writeLoop()
	return c
}

// newConn returns the connection over l, its goroutines not started.
func newConn(l *link, pp connParams) *conn {
	cfg := pp.cfg
	return &conn{
		connParams: pp, link: l,
		txCh:       make(chan *tx, cfg.MaxQueued),
		budget:     newByteBudget(cfg.MaxQueuedBytes),
		nopCh:      make(chan struct{}, 1),
		win:        newWindow(cfg.MaxInFlightCommands, cfg.MaxInFlightBytes),
		dying:      make(chan struct{}),
		stopping:   make(chan struct{}),
		writerDone: make(chan struct{}),
		batch:      make([]*tx, 0, cfg.MaxQueued),
	}
}

// send queues t for the writer, once its bytes fit the connection's byte
// budget and there is room on txCh. It returns errConnClosed if the
// connection no longer takes transactions, or ctx.Err() if ctx ends while
// the queue is full; in both cases t was not queued and took no bytes.
func (c *conn) send(ctx context.Context, t *tx) error {
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.sendClosed {
		return errConnClosed
	}
	n := int64(t.cmd.bodySize()) // 0 for a NOP; the writer gives the same back
	if err := c.budget.take(ctx, n, c.dying); err != nil {
		return err
	}
	select {
	case c.txCh <- t:
		return nil
	default:
	}
	select {
	case c.txCh <- t:
		return nil
	case <-c.dying:
		return errConnClosed
	case <-ctx.Done():
		c.budget.give(n)
		return ctx.Err()
	}
}

// closeSend makes every later send return errConnClosed. It waits for sends
// in progress, which finish because the writer drains txCh or dying closes.
func (c *conn) closeSend() {
	c.sendMu.Lock()
	c.sendClosed = true
	c.sendMu.Unlock()
}

// fail records err as the connection's final error (only the first call
// counts) and closes the socket, which ends both goroutines.
func (c *conn) fail(err error) {
	c.failOnce.Do(func() {
		c.err = err
		close(c.dying)
		c.nc.Close()
		c.closeSend()
		if !errors.Is(err, ErrStopped) {
			c.log.log(LogLevelWarning, "connection closed", "error", err)
		}
	})
}

// dead reports whether the connection has failed or been stopped.
func (c *conn) dead() bool {
	select {
	case <-c.dying:
		return true
	default:
		return false
	}
}

// stop closes the connection gracefully: everything queued is written, and
// the socket is closed once nsqd has answered it all (the caller bounds that
// wait by failing the connection). It never waits, not even for publishers
// blocked on a full queue that a frozen nsqd keeps full: they are unblocked
// by fail. Only Producer.Stop calls it, once.
func (c *conn) stop() {
	close(c.stopping)
}

// readLoop is the reader goroutine. It ends when a read fails (the socket
// closed by fail, or by nsqd) or nsqd breaks the protocol, and then runs
// exit.
func (c *conn) readLoop() {
	defer c.exit()
	timeout := c.cfg.ReadTimeout
	// IDENTIFY sends whole milliseconds; below one, nsqd keeps its default.
	if hb := 2 * c.cfg.HeartbeatInterval.Truncate(time.Millisecond); hb > 0 && hb < timeout {
		timeout = hb // two heartbeats missed: the connection is dead
	}
	for {
		c.base.SetReadDeadline(time.Now().Add(timeout))
		typ, data, buf, err := readFrame(c.r, c.buf, maxFrameSize)
		c.buf = buf
		if err != nil {
			if werr := c.win.writeError(); werr != nil {
				err = fmt.Errorf("writing to nsqd: %w (then reading: %v)", werr, err)
			} else {
				err = fmt.Errorf("reading from nsqd: %w", err)
			}
			c.fail(err)
			return
		}
		if err := c.handle(typ, data); err != nil {
			c.fail(err)
			return
		}
	}
}

// handle acts on one frame from nsqd. A non-nil error ends the connection.
func (c *conn) handle(typ int32, data []byte) error {
	switch {
	case typ == frameTypeResponse && bytes.Equal(data, frameHeartbeat):
		c.log.log(LogLevelDebug, "heartbeat")
		select {
		case c.nopCh <- struct{}{}:
		default:
		}
		return nil
	case typ == frameTypeResponse && bytes.Equal(data, frameOK):
		s, ok := c.win.pop()
		if !ok {
			return protocolErrorf("reply OK with no command in flight")
		}
		c.model.accepted(s.shape) // before the writer, woken, looks again
		c.win.wake()
		s.t.finish(nil)
		return nil
	case typ == frameTypeResponse:
		return protocolErrorf("unexpected reply %q", truncate(data))
	case typ == frameTypeError:
		// nsqd closes the connection after any error: the connection ends
		// here, before anyone learns of the error, so that no later
		// publish lands on it.
		serr := parseServerError(data)
		s, ok := c.win.pop()
		if !ok {
			return fmt.Errorf("nsqd error with no command in flight: %w", serr)
		}
		c.model.refused(s.shape, serr)
		c.refused = &refusal{t: s.t, serr: serr}
		return closedAfterError{serr.Code}
	}
	return protocolErrorf("unexpected frame type %d", typ)
}

// exit runs in the reader as it ends, after fail. It waits for the writer
// to exit, then reports every transaction the connection still holds, with
// what happened to it, to onExit:
//   - the command nsqd refused: refused (each member, if merged);
//   - written after it: not executed (nsqd executes nothing after an error);
//   - written, when the connection ended otherwise: unanswered;
//   - queued or taken but never written: unwritten.
func (c *conn) exit() {
	<-c.writerDone
	var left []leftover
	if r := c.refused; r != nil {
		merged := r.t.next != nil
		r.t.eachMember(func(u *tx) {
			left = append(left, leftover{t: u, kind: leftRefused, serr: r.serr, merged: merged})
		})
	}
	kind := leftUnanswered
	if c.refused != nil {
		kind = leftUnexecuted
	}
	for _, s := range c.win.takeAll() {
		s.t.eachMember(func(u *tx) { left = append(left, leftover{t: u, kind: kind}) })
	}
	unwritten := func(t *tx) {
		if t.take() {
			left = append(left, leftover{t: t, kind: leftUnwritten})
		}
	}
	for _, t := range c.batch {
		if t != nil { // nil: written, merged into an earlier MPUB
			unwritten(t)
		}
	}
	c.batch = c.batch[:0]
	for empty := false; !empty; {
		select {
		case t := <-c.txCh:
			unwritten(t)
		default:
			empty = true
		}
	}
	c.onExit(c, c.err, left)
}
