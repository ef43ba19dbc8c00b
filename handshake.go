package nsqpub

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nsqpub/nsqpub/internal/snappy"
)

// link is a connection to nsqd after the handshake: the socket and the
// layers over it. It is built by one goroutine (the dial) and then only read
// by the connection's goroutines, except the buffered reader and writer,
// which belong to the reader and the writer respectively.
type link struct {
	nc       net.Conn      // the TCP connection
	base     net.Conn      // nc, or the TLS connection over it
	r        *bufio.Reader // frames from nsqd, through any compression; the reader's
	bw       *bufio.Writer // commands to nsqd, through any compression; the writer's
	flushRaw func() error  // flushes the compression layer under bw, if any
	auth     *AuthInfo     // nsqd's AUTH reply, if AUTH was sent
}

// dialLink connects to addr and runs the handshake. The TCP dial is bounded
// by cfg.DialTimeout and ctx, the handshake as handshake says. Every error
// wraps ErrNotConnected.
func dialLink(ctx context.Context, addr string, cfg *Config, log *logState) (*link, error) {
	dialCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	d := net.Dialer{LocalAddr: cfg.LocalAddr}
	nc, err := d.DialContext(dialCtx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrNotConnected, addr, err)
	}
	return handshake(ctx, nc, addr, cfg, log)
}

// handshake writes the magic and IDENTIFY on nc, performs the upgrades nsqd
// grants (TLS, then snappy or deflate) and AUTH. It reads exact frames
// straight from the socket, so that nothing is read ahead of an upgrade.
//
// Bounds: nsqd's reply to IDENTIFY by cfg.DialTimeout, since nsqd gives it
// at once (a server that accepts and never answers costs DialTimeout, not
// ReadTimeout); each later step (TLS, compression, AUTH) as go-nsq bounds
// it, its reply by cfg.ReadTimeout and its request by cfg.WriteTimeout, so
// that nsqd may take its time to ask its auth server (up to 5 s by default)
// however short DialTimeout is; and the whole by ctx, whose end stops it at
// once. nc is closed if it fails. Every error wraps ErrNotConnected; a
// failure of the IDENTIFY exchange or of an upgrade is an ErrIdentify
// (unless ctx ended it).
func handshake(ctx context.Context, nc net.Conn, addr string, cfg *Config, log *logState) (*link, error) {
	h := &handshaker{ctx: ctx, cfg: cfg, log: log, addr: addr, clock: newStepClock(ctx, nc, cfg)}
	stop := context.AfterFunc(ctx, h.clock.expire)
	defer stop()
	l, identified, err := h.run(nc)
	if err == nil {
		return l, nil
	}
	nc.Close()
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		// The socket timed out at ctx's deadline: wait for ctx to expire
		// too (its timer is due), so that the caller is told
		// context.DeadlineExceeded rather than a bare i/o timeout.
		<-ctx.Done()
	}
	cerr := ctx.Err()
	if cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", err, cerr)
	}
	wrapped := fmt.Errorf("%w: handshake with %s: %w", ErrNotConnected, addr, err)
	if identified || cerr != nil {
		return nil, wrapped
	}
	// go-nsq's Reason: nsqd's error frame as sent, or the error's text.
	reason := err.Error()
	var se *ServerError
	if errors.As(err, &se) {
		reason = se.frame()
	}
	return nil, ErrIdentify{Reason: reason, err: wrapped}
}

// stepClock moves the socket's deadlines step by step through the
// handshake: each step (a request and its reply) gets WriteTimeout for its
// writes and its own bound for its reads, never past ctx's deadline. Once
// ctx ends or the handshake is over, the deadlines are final: a step cannot
// move back a deadline that ctx's end put in the past.
type stepClock struct {
	nc    net.Conn
	write time.Duration
	limit time.Time // ctx's deadline, or zero

	mu   sync.Mutex
	over bool
}

func newStepClock(ctx context.Context, nc net.Conn, cfg *Config) *stepClock {
	limit, _ := ctx.Deadline()
	return &stepClock{nc: nc, write: cfg.WriteTimeout, limit: limit}
}

// step sets the deadlines of the next step, whose reads may take read.
func (c *stepClock) step(read time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return
	}
	now := time.Now()
	c.nc.SetReadDeadline(c.capped(now.Add(read)))
	c.nc.SetWriteDeadline(c.capped(now.Add(c.write)))
}

func (c *stepClock) capped(t time.Time) time.Time {
	if !c.limit.IsZero() && c.limit.Before(t) {
		return c.limit
	}
	return t
}

// expire ends the handshake at once: ctx ended.
func (c *stepClock) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.over {
		c.over = true
		c.nc.SetDeadline(time.Unix(1, 0))
	}
}

// finish clears the deadlines once the handshake succeeded. It reports
// false if ctx ended first.
func (c *stepClock) finish() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return false
	}
	c.over = true
	c.nc.SetDeadline(time.Time{})
	return true
}

// handshaker is the state of one handshake, run by one goroutine.
type handshaker struct {
	ctx   context.Context
	cfg   *Config
	log   *logState
	addr  string
	clock *stepClock

	l    *link
	rd   io.Reader       // frames from nsqd, through the upgrades so far
	wr   io.Writer       // commands to nsqd, through the upgrades so far
	dw   *deadlineWriter // the writer under any compression
	resp identifyResponse
}

// run performs the handshake on nc. identified reports whether the IDENTIFY
// exchange and the upgrades succeeded (what failed, if anything, came
// after).
func (h *handshaker) run(nc net.Conn) (_ *link, identified bool, err error) {
	h.l = &link{nc: nc, base: nc}
	if err := h.identify(); err != nil {
		return nil, false, err
	}
	if err := h.upgrade(); err != nil {
		return nil, false, err
	}
	if h.resp.AuthRequired {
		if h.cfg.AuthSecret == "" {
			return nil, true, fmt.Errorf("%w: nsqd requires AUTH and Config.AuthSecret (auth_secret) is empty", ErrInvalidConfig)
		}
		h.clock.step(h.cfg.ReadTimeout)
		if h.l.auth, err = authenticate(h.rd, h.wr, h.l.flushRaw, h.cfg.AuthSecret); err != nil {
			return nil, true, err
		}
		h.log.log(LogLevelInfo, "authenticated", "identity", h.l.auth.Identity, "permissions", h.l.auth.PermissionCount)
	}
	if !h.clock.finish() {
		return nil, true, h.ctx.Err()
	}
	h.dw.timeout = h.cfg.WriteTimeout // from now on, every write has its own deadline
	h.l.r = bufio.NewReaderSize(h.rd, 16<<10)
	h.l.bw = bufio.NewWriterSize(h.wr, 64<<10)
	h.log.log(LogLevelInfo, "connected", "version", h.resp.Version,
		"tls", h.resp.TLSv1, "snappy", h.resp.Snappy, "deflate", h.resp.Deflate)
	return h.l, true, nil
}

// identify writes the magic and IDENTIFY and reads nsqd's JSON reply.
func (h *handshaker) identify() error {
	h.clock.step(h.cfg.DialTimeout)
	id := identifyCommand(h.cfg)
	nc := h.l.nc
	if _, err := nc.Write(id.appendTo([]byte(magicV2))); err != nil {
		return fmt.Errorf("writing IDENTIFY: %w", err)
	}
	h.rd = nc
	data, err := readReply(h.rd, "IDENTIFY")
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(data, []byte("{")) {
		return protocolErrorf("IDENTIFY reply %q is not JSON", truncate(data))
	}
	if err := json.Unmarshal(data, &h.resp); err != nil {
		return protocolErrorf("IDENTIFY reply: %w", err)
	}
	h.log.log(LogLevelDebug, "IDENTIFY reply", "reply", string(data))
	warnUngranted(h.cfg, &h.resp, h.log)
	return nil
}

// upgrade performs the upgrades nsqd granted: TLS, then snappy or deflate,
// each confirmed by an OK through the new layer.
func (h *handshaker) upgrade() error {
	if h.resp.TLSv1 {
		h.clock.step(h.cfg.ReadTimeout)
		tc := tls.Client(h.l.nc, tlsConfig(h.cfg, h.addr))
		if err := tc.HandshakeContext(h.ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		h.l.base, h.rd = tc, tc
		if err := readOK(h.rd, "TLS upgrade"); err != nil {
			return err
		}
	}
	h.dw = &deadlineWriter{conn: h.l.base}
	h.wr = h.dw
	switch {
	case h.resp.Snappy:
		h.clock.step(h.cfg.ReadTimeout)
		sw := snappy.NewWriter(h.wr)
		h.rd, h.wr, h.l.flushRaw = snappy.NewReader(h.rd), sw, sw.Flush
		return readOK(h.rd, "snappy upgrade")
	case h.resp.Deflate:
		h.clock.step(h.cfg.ReadTimeout)
		level := h.resp.DeflateLevel
		if level < 1 || level > 9 {
			level = h.cfg.DeflateLevel
		}
		fw, err := flate.NewWriter(h.wr, level)
		if err != nil {
			return err
		}
		h.rd, h.wr, h.l.flushRaw = flate.NewReader(h.rd), fw, fw.Flush
		return readOK(h.rd, "deflate upgrade")
	}
	return nil
}

// warnUngranted logs the upgrades asked for that nsqd did not grant. nsqd
// grants one only if it is configured for it (a TLS certificate, --snappy,
// --deflate); otherwise the connection simply stays as it is, as with go-nsq.
func warnUngranted(cfg *Config, resp *identifyResponse, log *logState) {
	for _, u := range []struct {
		asked, granted bool
		what           string
	}{
		{cfg.TlsV1, resp.TLSv1, "TLS requested but nsqd did not grant it; the connection stays plain"},
		{cfg.Snappy, resp.Snappy, "snappy requested but nsqd did not grant it; the connection stays uncompressed"},
		{cfg.Deflate, resp.Deflate, "deflate requested but nsqd did not grant it; the connection stays uncompressed"},
	} {
		if u.asked && !u.granted {
			log.log(LogLevelWarning, u.what)
		}
	}
}

// authenticate sends AUTH with secret and reads nsqd's JSON reply.
func authenticate(rd io.Reader, wr io.Writer, flushRaw func() error, secret string) (*AuthInfo, error) {
	cmd := command{kind: cmdAUTH, body: []byte(secret)}
	if _, err := wr.Write(cmd.appendTo(nil)); err != nil {
		return nil, err
	}
	if flushRaw != nil {
		if err := flushRaw(); err != nil {
			return nil, err
		}
	}
	data, err := readReply(rd, "AUTH")
	if err != nil {
		return nil, err
	}
	var info AuthInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, protocolErrorf("AUTH reply %q: %w", truncate(data), err)
	}
	return &info, nil
}

// tlsConfig returns the TLS client configuration, with ServerName defaulting
// to the host of addr.
func tlsConfig(cfg *Config, addr string) *tls.Config {
	t := &tls.Config{}
	if cfg.TlsConfig != nil {
		t = cfg.TlsConfig.Clone()
	}
	if t.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			t.ServerName = host
		}
	}
	return t
}

// deadlineWriter writes to the connection (through TLS once upgraded). During
// the handshake, which has its own deadline, timeout is zero; after it, every
// write gets a fresh deadline of timeout.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration // set once before the connection's goroutines start
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	return w.conn.Write(p)
}
