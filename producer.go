package nsqpub

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Producer publishes messages to one nsqd. It connects lazily on the first
// publish and reconnects on the next publish after the connection dies. All
// methods are safe for concurrent use. Publish calls from many goroutines
// share one connection and are written together.
//
// Ownership: addr, cfg, lim and dialCtx are set by NewProducer and read-only
// after; ctr, log, mail and model guard themselves; live is written under mu and
// read without it by publishers (a stale value is harmless: a dead
// connection refuses the send, and the publisher then takes mu); the fields
// after mu are guarded by it.
type Producer struct {
	publishing // the publish methods, bound to do and doAsync

	addr  string
	cfg   Config
	lim   limits
	log   *logState
	ctr   counters
	mail  *mailer // delivers asynchronous results
	model model   // what was learned of nsqd

	dialCtx    context.Context // cancelled by Stop
	cancelDial context.CancelFunc

	live atomic.Pointer[conn] // conn, for publishers' lock-free fast path

	mu       sync.Mutex
	conn     *conn          // the live connection, or nil
	dialing  *dialAttempt   // the dial in progress, or nil
	failures int            // dials failed in a row
	retryAt  time.Time      // no dial before this, after failures
	dialErr  error          // the last dial's error
	stopped  bool           // Stop was called
	dials    sync.WaitGroup // dial goroutines; Add under mu while not stopped
	conns    sync.WaitGroup // connections whose goroutines are running; Add under mu

	stopOnce sync.Once
}

// dialAttempt is one dial shared by every publisher that needs a connection
// while it runs. c and err are set before done is closed.
type dialAttempt struct {
	done chan struct{}
	c    *conn
	err  error
}

// NewProducer returns a Producer for the nsqd TCP address addr ("host:port").
// It copies config (nil is an error; &Config{} means every default) and
// validates it, returning an error wrapping ErrInvalidConfig. It does not
// connect: that happens on the first publish or Ping.
func NewProducer(addr string, config *Config) (*Producer, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	if addr == "" {
		return nil, fmt.Errorf("%w: empty nsqd address", ErrInvalidConfig)
	}
	p := &Producer{addr: addr, cfg: *config, log: newLogState(addr, config.Logger)}
	p.cfg.setDefaults()
	p.mail = newMailer(p.cfg.MaxQueued)
	p.publishing = publishing{sync: p.do, async: p.doAsync}
	p.cfg.TlsConfig = config.TlsConfig.Clone() // later changes to the caller's copy do not leak in
	p.lim = limits{maxMsgSize: p.cfg.MaxMsgSize, maxBodySize: p.cfg.MaxBodySize, maxDeferDelay: p.cfg.MaxDeferDelay}
	p.dialCtx, p.cancelDial = context.WithCancel(context.Background())
	return p, nil
}

// String returns the nsqd address the Producer publishes to.
func (p *Producer) String() string { return p.addr }

// Ping connects if not connected and writes a NOP, as go-nsq's Ping does. It
// returns the connection or write error, or ErrStopped.
func (p *Producer) Ping() error {
	return p.PingContext(context.Background())
}

// PingContext is Ping bounded by ctx.
func (p *Producer) PingContext(ctx context.Context) error {
	return p.run(ctx, command{kind: cmdNOP})
}

// do validates a publish and runs it.
func (p *Producer) do(ctx context.Context, cmd command) error {
	if err := p.check(&cmd); err != nil {
		p.ctr.failed(err, cmd.count())
		return err
	}
	return p.run(ctx, cmd)
}

// check validates a publish against the Config's limits and what nsqd has
// said of its own.
func (p *Producer) check(cmd *command) error {
	if err := p.lim.check(cmd); err != nil {
		return err
	}
	return p.model.check(cmd)
}

// run sends cmd on a pooled transaction and waits for its result or ctx.
func (p *Producer) run(ctx context.Context, cmd command) error {
	if err := ctx.Err(); err != nil {
		// Already ended: never queue it, or the writer could take it.
		if cmd.count() > 0 {
			p.ctr.failed(err, cmd.count())
		}
		return err
	}
	t := newSyncTx(p, cmd)
	t.begin() // before the writer can complete it
	if err := p.enqueue(ctx, t); err != nil {
		t.record(err)
		t.recycle()
		return err
	}
	select {
	case <-t.wait:
		err := t.result.Error
		t.recycle()
		return err
	case <-ctx.Done():
		return p.giveUp(ctx, t)
	}
}

// giveUp ends a synchronous publish whose context ended before its result
// came. Whichever state t is in decides, and each is claimed atomically:
// still queued (never written): abandoned, and ctx.Err() is returned,
// marked unknown if an earlier connection wrote it; taken by a connection:
// given up, unknown; finished meanwhile: its result.
func (p *Producer) giveUp(ctx context.Context, t *tx) error {
	var err error
	for {
		if t.abandon() {
			err = ctx.Err()
			if t.maybeQueued {
				err = fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
			}
			break
		}
		if t.giveUp() {
			// The connection still holds t, so it is not recycled.
			err = fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
			break
		}
		if t.state.Load() == txDone {
			<-t.wait
			err = t.result.Error
			t.recycle()
			return err
		}
	}
	t.record(err)
	return err
}

// doAsync validates a publish and queues it with doneChan.
func (p *Producer) doAsync(cmd command, doneChan chan *ProducerTransaction, args []interface{}) error {
	if err := p.check(&cmd); err != nil {
		p.ctr.failed(err, cmd.count())
		return err
	}
	p.mail.admit(doneChan) // a caller whose channel is full waits here, alone
	t := &tx{cmd: cmd, done: doneChan, result: ProducerTransaction{Args: args}}
	return p.submitAsync(t)
}

// submitAsync queues a validated asynchronous transaction.
func (p *Producer) submitAsync(t *tx) error {
	t.p = p
	t.begin() // before the writer can complete it
	if err := p.enqueue(context.Background(), t); err != nil {
		t.record(err)
		return err
	}
	return nil
}

// progress returns the live connection (nil if none), how many answers it
// has taken and how many commands it has in flight.
func (p *Producer) progress() (c *conn, pops uint64, inFlight int) {
	if c = p.live.Load(); c != nil {
		pops, inFlight = c.win.progress()
	}
	return c, pops, inFlight
}

// queueFull reports whether the live connection's queue is full, by count
// (MaxQueued) or by bytes (MaxQueuedBytes).
func (p *Producer) queueFull() bool {
	c := p.live.Load()
	return c != nil && (len(c.txCh) == cap(c.txCh) || c.budget.spent())
}

// dropConn fails the live connection with err, if there is one.
func (p *Producer) dropConn(err error) {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		c.fail(err)
	}
}

// enqueue hands t to the connection's writer, connecting first if needed.
// A connection that closes before taking t is replaced, since t was not
// sent: twice at most, except when nsqd closed it after refusing another
// publish. Each such refusal settles a publish for good, so a burst of them
// ends, and the publishes caught between them must not fail for it.
func (p *Producer) enqueue(ctx context.Context, t *tx) error {
	for attempt := 0; ; {
		c, err := p.getConn(ctx)
		if err != nil {
			return err
		}
		err = c.send(ctx, t)
		if err != errConnClosed {
			return err
		}
		if !afterRefusal(c.err) {
			if attempt++; attempt == 3 {
				return fmt.Errorf("%w: %w", ErrNotConnected, err)
			}
		}
	}
}

// getConn returns the live connection, or waits for a dial (starting one if
// none is running). Every publisher waiting meanwhile shares that dial.
func (p *Producer) getConn(ctx context.Context) (*conn, error) {
	if c := p.live.Load(); c != nil && !c.dead() {
		return c, nil
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil, ErrStopped
	}
	if c := p.conn; c != nil && !c.dead() {
		p.mu.Unlock()
		return c, nil
	}
	a := p.dialing
	if a == nil {
		if wait := time.Until(p.retryAt); wait > 0 {
			err := p.dialErr
			p.mu.Unlock()
			return nil, fmt.Errorf("%w (next attempt in %v)", err, wait.Round(time.Millisecond))
		}
		a = &dialAttempt{done: make(chan struct{})}
		p.dialing = a
		p.dials.Add(1)
		go p.dial(a)
	}
	p.mu.Unlock()
	select {
	case <-a.done:
		return a.c, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial runs one dial attempt and publishes its result.
func (p *Producer) dial(a *dialAttempt) {
	defer p.dials.Done()
	p.log.log(LogLevelDebug, "connecting")
	c, err := dialConn(p.dialCtx, connParams{addr: p.addr, cfg: &p.cfg, log: p.log, model: &p.model, onExit: p.connExited})
	p.mu.Lock()
	p.dialing = nil
	if err == nil {
		p.conns.Add(1)
		p.ctr.connects.Add(1)
		if p.stopped {
			p.mu.Unlock()
			c.fail(ErrStopped) // Stop waits for it to exit (conns)
			c, err = nil, ErrStopped
			p.mu.Lock()
		} else {
			p.conn = c
			p.live.Store(c)
		}
	}
	if err != nil {
		p.failures++
		wait := backoff(p.failures)
		p.retryAt, p.dialErr = time.Now().Add(wait), err
		p.log.log(LogLevelError, "connect failed", "attempt", p.failures, "retry_in", wait.Round(time.Millisecond), "error", err)
	} else {
		p.failures = 0
	}
	a.c, a.err = c, err
	close(a.done)
	p.mu.Unlock()
}

// Reconnection backoff after failed dials: the first retry may come after
// about backoffBase, each later one waits twice as long, up to backoffMax.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// backoff returns how long to wait after the n-th failed dial in a row:
// base·2^(n-1) capped at backoffMax, with jitter over its upper half so that
// many producers do not redial in step.
func backoff(n int) time.Duration {
	d := backoffMax
	if n < 8 {
		d = min(backoffBase<<(n-1), backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// Stop stops the Producer: later publishes return ErrStopped; publishes
// already queued or in flight are written and get nsqd's answer, for up to
// Config.StopTimeout (default 5s), after which they fail with an error
// wrapping ErrStopped. Asynchronous results still waiting for a done channel
// that nobody reads when StopTimeout has passed are dropped. Stop returns
// once no goroutine of the Producer is left. It is safe to call more than
// once and concurrently with publishes.
func (p *Producer) Stop() {
	p.stopOnce.Do(func() {
		deadline := time.Now().Add(p.cfg.StopTimeout)
		p.mu.Lock()
		p.stopped = true
		c := p.conn
		p.live.Store(nil)
		p.mu.Unlock()
		p.cancelDial()
		p.dials.Wait()
		if c != nil {
			c.stop()
		}
		// StopTimeout bounds the whole close, even when the writer waits
		// for room in a window nsqd never answers or publishers hold the
		// full queue: then the connection is failed.
		waitUntil(&p.conns, deadline, func() {
			if c != nil {
				c.fail(fmt.Errorf("%w: nsqd did not answer within StopTimeout %v", ErrStopped, p.cfg.StopTimeout))
			}
		})
		p.mail.stop(deadline)
		p.log.log(LogLevelInfo, "stopped")
	})
}

// waitUntil waits for wg; if deadline passes first, it calls expire and
// goes on waiting.
func waitUntil(wg *sync.WaitGroup, deadline time.Time, expire func()) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
		expire()
	}
	<-done
}

// AuthInfo returns nsqd's reply to AUTH on the current connection, or nil if
// there is no connection or nsqd did not require AUTH.
func (p *Producer) AuthInfo() *AuthInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil || p.conn.auth == nil {
		return nil
	}
	info := *p.conn.auth
	return &info
}
