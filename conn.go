package nsqpub

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// errConnClosed is returned by conn.send when the connection no longer takes
// transactions; nothing was sent, so the caller may use another connection.
var errConnClosed = errors.New("connection closed")

// closedAfterError is the final error of a connection that nsqd closed after
// sending an error frame. It describes that frame but does not wrap it, so
// that only the transaction the frame answered matches *ServerError.
type closedAfterError struct{ code string }

func (e closedAfterError) Error() string {
	return "nsqd closed the connection after an error reply (" + e.code + ")"
}

// conn owns one TCP connection to nsqd and its two goroutines: the writer
// takes transactions from txCh, writes them with one flush per batch and
// queues them on pending; the reader reads frames, answers heartbeats through
// the writer and completes pending transactions in order. The first fatal
// error is kept in err; the last goroutine to exit fails every transaction
// still held and calls onExit.
type conn struct {
	addr string
	cfg  *Config
	log  *logState

	nc        net.Conn      // the TCP connection, closed by fail
	base      net.Conn      // nc, or the TLS connection over it
	r         *bufio.Reader // frames from nsqd, through any compression
	bw        *bufio.Writer // commands to nsqd, through any compression
	flushRaw  func() error  // flushes the compression layer under bw, if any
	auth      *AuthInfo     // nsqd's AUTH reply, if AUTH was sent
	connected bool          // the handshake is over; set before the goroutines start

	txCh    chan *ProducerTransaction // queued by publishers, drained by the writer
	pending chan *ProducerTransaction // written and waiting for a reply, FIFO
	nopCh   chan struct{}             // reader asks the writer to answer a heartbeat

	sendMu     sync.RWMutex // held for reading while a publisher sends on txCh
	sendClosed bool         // no more sends; guarded by sendMu

	writeErr atomic.Pointer[error] // set when the writer stopped on an error

	failOnce sync.Once
	err      error         // first fatal error; written once before dying closes
	dying    chan struct{} // closed by fail

	stopping   chan struct{} // closed by stop: write what is queued, then close
	stopOnce   sync.Once
	allWritten atomic.Bool  // the writer has written everything after stop
	inflight   atomic.Int64 // commands on pending
	// inflightBytes is the body bytes of the commands on pending; credit
	// wakes a writer waiting for it to fall.
	inflightBytes atomic.Int64
	credit        chan struct{}
	drained       chan struct{} // closed when stopping and nothing is in flight
	drainOnce     sync.Once

	alive  atomic.Int32                                 // running goroutines
	exited chan struct{}                                // closed when both goroutines are gone
	onExit func(c *conn, resend []*ProducerTransaction) // called once after exited is closed
	split  []*ProducerTransaction                       // members of a rejected merged MPUB; reader-owned until exit

	batch []*ProducerTransaction // the writer's current batch
	nops  []*ProducerTransaction // NOPs to complete after the flush
	hdr   []byte                 // scratch for command headers
}

// dialConn connects to addr, runs the handshake and starts the goroutines.
// The whole of it is bounded by cfg.DialTimeout and by ctx.
func dialConn(ctx context.Context, addr string, cfg *Config, log *logState, onExit func(*conn, []*ProducerTransaction)) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{LocalAddr: cfg.LocalAddr}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrNotConnected, addr, err)
	}
	return newConn(ctx, nc, addr, cfg, log, onExit)
}

// newConn runs the handshake on nc and starts the goroutines; nc is closed
// if the handshake fails. The handshake is bounded by ctx.
func newConn(ctx context.Context, nc net.Conn, addr string, cfg *Config, log *logState, onExit func(*conn, []*ProducerTransaction)) (*conn, error) {
	c := &conn{
		addr: addr, cfg: cfg, log: log, nc: nc, base: nc,
		txCh:     make(chan *ProducerTransaction, cfg.MaxQueued),
		pending:  make(chan *ProducerTransaction, cfg.MaxInFlight),
		nopCh:    make(chan struct{}, 1),
		credit:   make(chan struct{}, 1),
		dying:    make(chan struct{}),
		stopping: make(chan struct{}),
		drained:  make(chan struct{}),
		exited:   make(chan struct{}),
		onExit:   onExit,
		batch:    make([]*ProducerTransaction, 0, cfg.MaxQueued),
	}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("%w: handshake with %s: %w", ErrNotConnected, addr, err)
	}
	c.alive.Store(2)
	go c.readLoop()
	go c.writeLoop()
	return c, nil
}

// handshake writes the magic and IDENTIFY, performs the upgrades nsqd grants
// and AUTH. It reads exact frames straight from the socket, so that nothing
// is read ahead of an upgrade, and honours ctx by moving the deadline.
func (c *conn) handshake(ctx context.Context) (err error) {
	deadline, hasDeadline := ctx.Deadline()
	c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		// The socket's deadline is ctx's. When the socket times out first,
		// wait for ctx to expire too (its timer is due), so that the caller
		// reports context.DeadlineExceeded rather than a bare i/o timeout.
		if err != nil && hasDeadline && !time.Now().Before(deadline) {
			<-ctx.Done()
		}
	}()

	id := identifyCommand(c.cfg)
	msg := id.appendTo([]byte(magicV2))
	if _, err := c.nc.Write(msg); err != nil {
		return err
	}
	var rd io.Reader = c.nc
	var wr io.Writer = deadlineWriter{c}
	data, err := readReply(rd, "IDENTIFY")
	if err != nil {
		return err
	}
	var resp identifyResponse
	if !bytes.HasPrefix(data, []byte("{")) {
		return fmt.Errorf("%w: IDENTIFY reply %q is not JSON", ErrProtocol, data)
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return fmt.Errorf("%w: IDENTIFY reply: %w", ErrProtocol, err)
	}
	c.log.log(LogLevelDebug, "IDENTIFY reply", "reply", string(data))
	// nsqd grants an upgrade only if it is configured for it (a TLS
	// certificate, --snappy, --deflate); otherwise the connection simply
	// stays as it is, as with go-nsq.
	if c.cfg.TlsV1 && !resp.TLSv1 {
		c.log.log(LogLevelWarning, "TLS requested but nsqd did not grant it; the connection stays plain")
	}
	if c.cfg.Snappy && !resp.Snappy {
		c.log.log(LogLevelWarning, "snappy requested but nsqd did not grant it; the connection stays uncompressed")
	}
	if c.cfg.Deflate && !resp.Deflate {
		c.log.log(LogLevelWarning, "deflate requested but nsqd did not grant it; the connection stays uncompressed")
	}
	if resp.TLSv1 {
		tc := tls.Client(c.nc, c.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.base, rd = tc, tc
		if err := readOK(rd, "TLS upgrade"); err != nil {
			return err
		}
	}
	switch {
	case resp.Snappy:
		sw := newSnappyWriter(wr)
		rd, wr, c.flushRaw = newSnappyReader(rd), sw, sw.Flush
		if err := readOK(rd, "snappy upgrade"); err != nil {
			return err
		}
	case resp.Deflate:
		level := resp.DeflateLevel
		if level < 1 || level > 9 {
			level = c.cfg.DeflateLevel
		}
		fw, err := flate.NewWriter(wr, level)
		if err != nil {
			return err
		}
		rd, wr, c.flushRaw = flate.NewReader(rd), fw, fw.Flush
		if err := readOK(rd, "deflate upgrade"); err != nil {
			return err
		}
	}
	if resp.AuthRequired {
		if c.cfg.AuthSecret == "" {
			return fmt.Errorf("%w: nsqd requires AUTH and Config.AuthSecret (auth_secret) is empty", ErrInvalidConfig)
		}
		if err := c.authenticate(rd, wr); err != nil {
			return err
		}
	}
	c.nc.SetDeadline(time.Time{})
	c.r = bufio.NewReaderSize(rd, 16<<10)
	c.bw = bufio.NewWriterSize(wr, 64<<10)
	c.connected = true
	c.log.log(LogLevelInfo, "connected", "version", resp.Version,
		"tls", resp.TLSv1, "snappy", resp.Snappy, "deflate", resp.Deflate)
	return nil
}

// authenticate sends AUTH and reads nsqd's JSON reply.
func (c *conn) authenticate(rd io.Reader, wr io.Writer) error {
	cmd := command{kind: cmdAUTH, body: []byte(c.cfg.AuthSecret)}
	if _, err := wr.Write(cmd.appendTo(nil)); err != nil {
		return err
	}
	if c.flushRaw != nil {
		if err := c.flushRaw(); err != nil {
			return err
		}
	}
	data, err := readReply(rd, "AUTH")
	if err != nil {
		return err
	}
	var info AuthInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return fmt.Errorf("%w: AUTH reply %q: %w", ErrProtocol, data, err)
	}
	c.auth = &info
	c.log.log(LogLevelInfo, "authenticated", "identity", info.Identity, "permissions", info.PermissionCount)
	return nil
}

// tlsConfig returns the TLS client configuration, with ServerName defaulting
// to the host of the address.
func (c *conn) tlsConfig() *tls.Config {
	var t *tls.Config
	if c.cfg.TlsConfig != nil {
		t = c.cfg.TlsConfig.Clone()
	} else {
		t = &tls.Config{}
	}
	if t.ServerName == "" {
		host, _, err := net.SplitHostPort(c.addr)
		if err == nil {
			t.ServerName = host
		}
	}
	return t
}

// readReply reads one non-heartbeat reply during the handshake. An error
// frame becomes a *ServerError.
func readReply(r io.Reader, what string) ([]byte, error) {
	for {
		typ, data, _, err := readFrame(r, nil, maxFrameSize)
		if err != nil {
			return nil, fmt.Errorf("reading %s reply: %w", what, err)
		}
		switch {
		case typ == frameTypeError:
			return nil, parseServerError(data)
		case typ != frameTypeResponse:
			return nil, fmt.Errorf("%w: unexpected frame type %d in %s reply", ErrProtocol, typ, what)
		case !bytes.Equal(data, frameHeartbeat):
			return data, nil
		}
	}
}

// readOK reads a reply that must be OK.
func readOK(r io.Reader, what string) error {
	data, err := readReply(r, what)
	if err == nil && !bytes.Equal(data, frameOK) {
		err = fmt.Errorf("%w: %s reply %q, want OK", ErrProtocol, what, data)
	}
	return err
}

// deadlineWriter writes to the connection (through TLS once upgraded). After
// the handshake, which has its own deadline, every write gets a fresh
// WriteTimeout deadline.
type deadlineWriter struct{ c *conn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	if w.c.connected {
		w.c.base.SetWriteDeadline(time.Now().Add(w.c.cfg.WriteTimeout))
	}
	return w.c.base.Write(p)
}

// readTimeout is how long the reader waits for a frame: ReadTimeout, or less
// when heartbeats are on and two intervals pass in silence.
func (c *conn) readTimeout() time.Duration {
	d := c.cfg.ReadTimeout
	if hb := 2 * c.cfg.HeartbeatInterval; hb > 0 && hb < d {
		d = hb
	}
	return d
}

// send queues t for the writer. It returns errConnClosed if the connection
// no longer takes transactions, or ctx.Err() if ctx ends while the queue is
// full; in both cases t was not queued.
func (c *conn) send(ctx context.Context, t *ProducerTransaction) error {
	c.sendMu.RLock()
	if c.sendClosed {
		c.sendMu.RUnlock()
		return errConnClosed
	}
	select {
	case c.txCh <- t:
		c.sendMu.RUnlock()
		return nil
	default:
	}
	var err error
	select {
	case c.txCh <- t:
	case <-c.dying:
		err = errConnClosed
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.sendMu.RUnlock()
	return err
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

// writeFailed ends the writer after a write error. It does not fail the
// connection at once: nsqd closes the connection after an error reply,
// which makes writes fail too, and that reply, which the reader may not have
// read yet, decides the fate of everything in flight (rejected, or never
// executed). So the reader gets WriteTimeout to read what is left before
// the connection fails.
func (c *conn) writeFailed(err error) {
	if c.dead() {
		return
	}
	c.writeErr.Store(&err)
	c.base.SetReadDeadline(time.Now().Add(c.cfg.WriteTimeout))
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

// stop closes the connection gracefully: nothing new is taken, everything
// queued is written, and the socket is closed once nsqd has answered it all
// (the caller bounds that wait by failing the connection). It returns
// without waiting; exited tells when done.
func (c *conn) stop() {
	c.stopOnce.Do(func() {
		c.closeSend()
		close(c.stopping)
	})
}

// exit is deferred by both goroutines. The last one out sorts what is left
// by what nsqd did with it, and hands it to onExit, which resends what is
// safe to resend and fails the rest:
//   - queued, never written: not sent;
//   - written, when nsqd closed the connection after an error: not executed
//     (nsqd executes nothing after an error), so not sent either;
//   - written otherwise: outcome unknown (resent only with AtLeastOnce);
//   - members of a merged MPUB that nsqd rejected for its body: resent one
//     by one (set aside by the reader in c.split).
func (c *conn) exit() {
	if c.alive.Add(-1) != 0 {
		return
	}
	resend := c.split
	_, afterError := c.err.(closedAfterError)
	var pendingErr error
	if afterError {
		pendingErr = fmt.Errorf("%w: not executed: %v", ErrNotConnected, c.err)
	} else {
		pendingErr = fmt.Errorf("%w: %w", ErrUnknownOutcome, c.err)
	}
	drain(c.pending, func(t *ProducerTransaction) {
		t.eachMember(func(u *ProducerTransaction) {
			u.Error = pendingErr
			u.maybeQueued = u.maybeQueued || !afterError
			resend = append(resend, u)
		})
	})
	notSent := fmt.Errorf("%w: not sent: %w", ErrNotConnected, c.err)
	if afterError || errors.Is(c.err, ErrStopped) {
		notSent = fmt.Errorf("%w: not sent: %v", ErrNotConnected, c.err)
	}
	unsent := func(t *ProducerTransaction) {
		if t.take() {
			t.Error = notSent
			resend = append(resend, t)
		}
	}
	drain(c.txCh, unsent)
	// A batch the writer could not finish (see pushPending) holds what it
	// took from txCh and never wrote.
	for _, t := range c.batch {
		unsent(t)
	}
	c.batch = c.batch[:0]
	close(c.exited)
	c.onExit(c, resend)
}

// drain calls f for everything buffered in ch, without waiting for more.
func drain(ch chan *ProducerTransaction, f func(*ProducerTransaction)) {
	for {
		select {
		case t := <-ch:
			f(t)
		default:
			return
		}
	}
}

// readLoop is the reader goroutine.
func (c *conn) readLoop() {
	defer c.exit()
	var buf []byte
	timeout := c.readTimeout()
	for {
		if c.writeErr.Load() == nil {
			c.base.SetReadDeadline(time.Now().Add(timeout))
			if c.writeErr.Load() != nil {
				// The writer failed meanwhile: keep its short deadline.
				c.base.SetReadDeadline(time.Now().Add(c.cfg.WriteTimeout))
			}
		}
		typ, data, b, err := readFrame(c.r, buf, maxFrameSize)
		buf = b
		if err != nil {
			if werr := c.writeErr.Load(); werr != nil {
				err = fmt.Errorf("writing to nsqd: %w (then reading: %v)", *werr, err)
			} else {
				err = fmt.Errorf("reading from nsqd: %w", err)
			}
			c.fail(err)
			return
		}
		switch typ {
		case frameTypeResponse:
			if bytes.Equal(data, frameHeartbeat) {
				c.log.log(LogLevelDebug, "heartbeat")
				select {
				case c.nopCh <- struct{}{}:
				default:
				}
				continue
			}
			if !bytes.Equal(data, frameOK) {
				c.fail(fmt.Errorf("%w: unexpected reply %q", ErrProtocol, truncate(data)))
				return
			}
			if !c.complete(nil) {
				c.fail(fmt.Errorf("%w: reply OK with no command in flight", ErrProtocol))
				return
			}
		case frameTypeError:
			// nsqd closes the connection after any error: mark it dead
			// before the caller learns of the error, so that its next
			// publish does not land on this connection.
			serr := parseServerError(data)
			if len(c.pending) == 0 {
				c.fail(fmt.Errorf("nsqd error with no command in flight: %w", serr))
				return
			}
			c.fail(closedAfterError{serr.Code})
			c.completeError(serr)
			return
		default:
			c.fail(fmt.Errorf("%w: unexpected frame type %d", ErrProtocol, typ))
			return
		}
	}
}

// complete finishes the oldest command in flight with err. It reports false
// if nothing was in flight.
func (c *conn) complete(err error) bool {
	var t *ProducerTransaction
	select {
	case t = <-c.pending:
	default:
		return false
	}
	wire := t.wire
	t.finish(err)
	c.inflightBytes.Add(-int64(wire))
	select {
	case c.credit <- struct{}{}:
	default:
	}
	if c.inflight.Add(-1) == 0 && c.allWritten.Load() {
		c.drainOnce.Do(func() { close(c.drained) })
	}
	return true
}

// completeError finishes the oldest command in flight with nsqd's error.
// When that command is an MPUB merged from several publishes and nsqd
// rejected its body (a message too big, the body over nsqd's limit), nsqd
// queued none of it and the fault may lie with one member only: the members
// are set aside to be resent one by one, so that only a bad one fails.
func (c *conn) completeError(serr *ServerError) {
	t := <-c.pending
	c.inflight.Add(-1)
	if t.next == nil || (serr.Code != "E_BAD_MESSAGE" && serr.Code != "E_BAD_BODY") {
		t.finish(serr)
		return
	}
	notExecuted := fmt.Errorf("%w: not executed: the MPUB it was merged into was rejected: %v", ErrNotConnected, serr)
	t.eachMember(func(u *ProducerTransaction) {
		u.solo = true
		u.Error = notExecuted
		c.split = append(c.split, u)
	})
}

// truncate shortens server data quoted in an error.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// writeLoop is the writer goroutine.
func (c *conn) writeLoop() {
	defer c.exit()
	for {
		select {
		case t := <-c.txCh:
			c.batch = append(c.batch[:0], t)
			// Let publishers that are ready to run queue their publishes
			// before the batch is cut: with many synchronous publishers
			// this turns one write per publish into one per round. It
			// yields once and never waits, so a lone publish is not
			// delayed.
			runtime.Gosched()
			c.drainQueue()
			if err := c.writeBatch(); err != nil {
				c.writeFailed(err)
				return
			}
		case <-c.nopCh:
			if err := c.writeNOP(); err != nil {
				c.writeFailed(err)
				return
			}
		case <-c.stopping:
			c.finishStop()
			return
		case <-c.dying:
			return
		}
	}
}

// drainQueue adds to the batch every transaction already queued, up to the
// batch's capacity. It never waits for more.
func (c *conn) drainQueue() {
	for len(c.batch) < cap(c.batch) {
		select {
		case t := <-c.txCh:
			c.batch = append(c.batch, t)
		default:
			return
		}
	}
}

// finishStop writes what is still queued (nothing more can be queued once
// stop has closed sending), waits for nsqd's answers, then closes the
// connection. Producer.Stop bounds the wait by StopTimeout, failing the
// connection when it runs out.
func (c *conn) finishStop() {
	for {
		c.batch = c.batch[:0]
		c.drainQueue()
		if len(c.batch) == 0 {
			break
		}
		if err := c.writeBatch(); err != nil {
			c.writeFailed(err)
			return
		}
	}
	c.allWritten.Store(true)
	if c.inflight.Load() == 0 {
		c.drainOnce.Do(func() { close(c.drained) })
	}
	select {
	case <-c.drained:
		c.fail(ErrStopped)
	case <-c.dying:
	}
}

// writeNOP writes and flushes a NOP, the answer to a heartbeat.
func (c *conn) writeNOP() error {
	c.bw.WriteString("NOP\n")
	return c.flush()
}

// flush pushes buffered commands to the socket.
func (c *conn) flush() error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if c.flushRaw != nil {
		return c.flushRaw()
	}
	return nil
}

// writeBatch writes the batch with one flush. Consecutive PUBs to the same
// topic are merged into one MPUB (within MaxBodySize) whose reply completes
// them all. Transactions abandoned by their context are skipped.
func (c *conn) writeBatch() error {
	c.nops = c.nops[:0]
	batch := c.batch
	for i := 0; i < len(batch); {
		t := batch[i]
		i++
		if !t.take() {
			continue
		}
		cmd := &t.cmd
		n, size := 1, 8+len(cmd.body)
		if cmd.kind == cmdPUB && !t.solo {
			last := t
			for i < len(batch) {
				u := batch[i]
				if u.cmd.kind != cmdPUB || u.solo || u.cmd.topic != cmd.topic || size+4+len(u.cmd.body) > c.cfg.MaxBodySize {
					break
				}
				i++
				if u.take() {
					last.next, last = u, u
					n++
					size += 4 + len(u.cmd.body)
				}
			}
		}
		if n > 1 {
			t.wire = size
		} else {
			t.wire = cmd.bodySize()
		}
		if cmd.answered() {
			if err := c.pushPending(t); err != nil {
				for _, t := range c.nops {
					t.finish(err)
				}
				return err
			}
		} else {
			c.nops = append(c.nops, t)
		}
		c.writeCommand(t, n, size)
	}
	err := c.flush()
	for _, t := range c.nops {
		t.finish(err)
	}
	c.batch = c.batch[:0]
	return err
}

// pushPending queues t for the reader before its bytes are written. When the
// window is full it flushes first, so that nsqd can answer what it holds.
func (c *conn) pushPending(t *ProducerTransaction) error {
	// The byte window: while commands are in flight and t would take the
	// unanswered bytes past MaxInFlightBytes, flush and wait for answers.
	for n := c.inflightBytes.Load(); n > 0 && n+int64(t.wire) > int64(c.cfg.MaxInFlightBytes); n = c.inflightBytes.Load() {
		if err := c.flush(); err != nil {
			unwritten(t)
			return err
		}
		select {
		case <-c.credit:
		case <-c.dying:
			unwritten(t)
			return errConnClosed
		}
	}
	c.inflightBytes.Add(int64(t.wire))
	c.inflight.Add(1)
	select {
	case c.pending <- t:
		return nil
	default:
	}
	// The command window is full: flush, so that nsqd can answer.
	err := c.flush()
	if err == nil {
		select {
		case c.pending <- t:
			return nil
		case <-c.dying:
			err = errConnClosed
		}
	}
	c.inflight.Add(-1)
	c.inflightBytes.Add(-int64(t.wire))
	unwritten(t)
	return err
}

// unwritten returns t and the transactions merged behind it, taken by the
// writer but never written, to the queued state: they stay in c.batch, where
// exit finds them and resends them as not sent.
func unwritten(t *ProducerTransaction) {
	t.eachMember(func(u *ProducerTransaction) { u.state.Store(txQueued) })
}

// writeCommand writes t's command, or, when n > 1, the MPUB that merges t and
// the n-1 transactions linked behind it (size is that MPUB's body size).
// Write errors stick in bw and are returned by the next flush.
func (c *conn) writeCommand(t *ProducerTransaction, n, size int) {
	if n == 1 {
		c.hdr = t.cmd.appendHeader(c.hdr[:0])
		c.bw.Write(c.hdr)
		if t.cmd.kind != cmdMPUB {
			c.bw.Write(t.cmd.body)
			return
		}
		for _, b := range t.cmd.bodies {
			c.writeSized(b)
		}
		return
	}
	c.hdr = appendMPUBHeader(c.hdr[:0], t.cmd.topic, size, n)
	c.bw.Write(c.hdr)
	for u := t; u != nil; {
		// Read the link first: once the last body is on the socket, nsqd
		// may answer and the reader finish the members (clearing next).
		next := u.next
		c.writeSized(u.cmd.body)
		u = next
	}
}

// writeSized writes a 4-byte length and b, as MPUB frames its messages.
func (c *conn) writeSized(b []byte) {
	c.hdr = binary.BigEndian.AppendUint32(c.hdr[:0], uint32(len(b)))
	c.bw.Write(c.hdr)
	c.bw.Write(b)
}
