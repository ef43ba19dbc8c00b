package nsqpub

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// dialLink connects to addr and runs the handshake. The whole of it is
// bounded by cfg.DialTimeout and by ctx. Every error wraps ErrNotConnected.
func dialLink(ctx context.Context, addr string, cfg *Config, log *logState) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{LocalAddr: cfg.LocalAddr}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrNotConnected, addr, err)
	}
	return handshake(ctx, nc, addr, cfg, log)
}

// handshake writes the magic and IDENTIFY on nc, performs the upgrades nsqd
// grants (TLS, then snappy or deflate) and AUTH. It reads exact frames
// straight from the socket, so that nothing is read ahead of an upgrade, and
// honours ctx by moving the socket's deadline. nc is closed if it fails;
// every error wraps ErrNotConnected.
func handshake(ctx context.Context, nc net.Conn, addr string, cfg *Config, log *logState) (*link, error) {
	l, err := runHandshake(ctx, nc, addr, cfg, log)
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("%w: handshake with %s: %w", ErrNotConnected, addr, err)
	}
	return l, nil
}

func runHandshake(ctx context.Context, nc net.Conn, addr string, cfg *Config, log *logState) (_ *link, err error) {
	deadline, hasDeadline := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		// The socket's deadline is ctx's. When the socket times out first,
		// wait for ctx to expire too (its timer is due), so that the caller
		// reports context.DeadlineExceeded rather than a bare i/o timeout.
		if err != nil && hasDeadline && !time.Now().Before(deadline) {
			<-ctx.Done()
		}
	}()

	id := identifyCommand(cfg)
	if _, err := nc.Write(id.appendTo([]byte(magicV2))); err != nil {
		return nil, err
	}
	l := &link{nc: nc, base: nc}
	var rd io.Reader = nc
	data, err := readReply(rd, "IDENTIFY")
	if err != nil {
		return nil, err
	}
	var resp identifyResponse
	if !bytes.HasPrefix(data, []byte("{")) {
		return nil, fmt.Errorf("%w: IDENTIFY reply %q is not JSON", ErrProtocol, data)
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("%w: IDENTIFY reply: %w", ErrProtocol, err)
	}
	log.log(LogLevelDebug, "IDENTIFY reply", "reply", string(data))
	warnUngranted(cfg, &resp, log)
	if resp.TLSv1 {
		tc := tls.Client(nc, tlsConfig(cfg, addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		l.base, rd = tc, tc
		if err := readOK(rd, "TLS upgrade"); err != nil {
			return nil, err
		}
	}
	dw := &deadlineWriter{conn: l.base}
	var wr io.Writer = dw
	switch {
	case resp.Snappy:
		sw := snappy.NewWriter(wr)
		rd, wr, l.flushRaw = snappy.NewReader(rd), sw, sw.Flush
		if err := readOK(rd, "snappy upgrade"); err != nil {
			return nil, err
		}
	case resp.Deflate:
		level := resp.DeflateLevel
		if level < 1 || level > 9 {
			level = cfg.DeflateLevel
		}
		fw, err := flate.NewWriter(wr, level)
		if err != nil {
			return nil, err
		}
		rd, wr, l.flushRaw = flate.NewReader(rd), fw, fw.Flush
		if err := readOK(rd, "deflate upgrade"); err != nil {
			return nil, err
		}
	}
	if resp.AuthRequired {
		if cfg.AuthSecret == "" {
			return nil, fmt.Errorf("%w: nsqd requires AUTH and Config.AuthSecret (auth_secret) is empty", ErrInvalidConfig)
		}
		if l.auth, err = authenticate(rd, wr, l.flushRaw, cfg.AuthSecret); err != nil {
			return nil, err
		}
		log.log(LogLevelInfo, "authenticated", "identity", l.auth.Identity, "permissions", l.auth.PermissionCount)
	}
	nc.SetDeadline(time.Time{})
	dw.timeout = cfg.WriteTimeout // from now on, every write has its own deadline
	l.r = bufio.NewReaderSize(rd, 16<<10)
	l.bw = bufio.NewWriterSize(wr, 64<<10)
	log.log(LogLevelInfo, "connected", "version", resp.Version,
		"tls", resp.TLSv1, "snappy", resp.Snappy, "deflate", resp.Deflate)
	return l, nil
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
		return nil, fmt.Errorf("%w: AUTH reply %q: %w", ErrProtocol, data, err)
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
