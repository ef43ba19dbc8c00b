package nsqpub

// Tests of the handshake: the magic, IDENTIFY and its reply, the upgrades
// IDENTIFY negotiates (TLS, snappy, deflate) and AUTH after them, against
// the scripted fake nsqd, which performs the server side of each upgrade
// with crypto/tls, compress/flate and the internal snappy codec.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub/internal/snappy"
)

// TestHandshakeIdentify: the client sends the magic and IDENTIFY with the
// exact JSON body its Config makes (defaults filled in for a zero Config),
// accepts nsqd's reply, however short, and then sends what it was asked to.
func TestHandshakeIdentify(t *testing.T) {
	host, _ := os.Hostname()
	shortHost, _, _ := strings.Cut(host, ".")
	tests := []struct {
		name  string
		cfg   *Config
		body  string
		reply []byte
	}{
		{"configured", &Config{ClientID: "cid", Hostname: "host.example", UserAgent: "ua/1", HeartbeatInterval: 5 * time.Second},
			`{"client_id":"cid","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":5000,"hostname":"host.example","long_id":"host.example","msg_timeout":0,"output_buffer_size":0,"output_buffer_timeout":0,"sample_rate":0,"short_id":"cid","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`,
			appendFrame(nil, frameTypeResponse, []byte(`{"version":"1.3.0","auth_required":false}`))},
		{"zero Config", &Config{},
			`{"client_id":"` + shortHost + `","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":30000,"hostname":"` + host + `","long_id":"` + host + `","msg_timeout":0,"output_buffer_size":0,"output_buffer_timeout":0,"sample_rate":0,"short_id":"` + shortHost + `","snappy":false,"tls_v1":false,"user_agent":"nsqpub/` + Version + `"}`,
			appendFrame(nil, frameTypeResponse, []byte(`{}`))},
		{"upgrades asked, none granted", &Config{ClientID: "c", Hostname: "h", UserAgent: "u", HeartbeatInterval: -1, TlsV1: true, Deflate: true, DeflateLevel: 3},
			`{"client_id":"c","deflate":true,"deflate_level":3,"feature_negotiation":true,"heartbeat_interval":-1,"hostname":"h","long_id":"h","msg_timeout":0,"output_buffer_size":0,"output_buffer_timeout":0,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":true,"user_agent":"u"}`,
			identifyReply(false, "", false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := fakeProducer(t, tt.cfg)
			errc := async(p.Ping)
			c := f.accept()
			c.expectMagic()
			if got, want := string(c.readCommand()), "IDENTIFY\n"+be32(len(tt.body))+tt.body; got != want {
				t.Fatalf("IDENTIFY\n%q\nwant\n%q", got, want)
			}
			c.write(tt.reply)
			c.expectNOP()
			if err := result(t, errc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHandshakeFails: a handshake that does not complete fails the publish
// with ErrNotConnected, and with a clear cause.
func TestHandshakeFails(t *testing.T) {
	t.Run("nothing listens", func(t *testing.T) {
		p := newTestProducer(t, deadAddr(t), nil)
		if err := p.Publish("t", []byte("m")); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("err = %v, want ErrNotConnected", err)
		}
	})
	// An HTTP server's reply to the magic fails fast with a protocol error,
	// not a 1.2 GB allocation.
	t.Run("HTTP port", func(t *testing.T) {
		f, p := fakeProducer(t, nil)
		errc := async(func() error { return p.Publish("t", []byte("m")) })
		c := f.accept()
		c.readN(4)
		c.write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request"))
		if err := result(t, errc); !errors.Is(err, ErrNotConnected) || !errors.As(err, new(ErrProtocol)) {
			t.Fatalf("err = %v, want ErrNotConnected and ErrProtocol", err)
		}
	})
	// nsqd's refusal of IDENTIFY is returned as go-nsq returns it, an
	// ErrIdentify whose Reason is the error frame, by a synchronous and an
	// asynchronous publish alike; it still wraps ErrNotConnected and the
	// *ServerError. A publish during the backoff that follows wraps it.
	const refusal = "E_BAD_BODY IDENTIFY heartbeat interval (30000) is invalid"
	for _, async_ := range []bool{false, true} {
		t.Run(fmt.Sprintf("IDENTIFY refused, async=%v", async_), func(t *testing.T) {
			f, p := fakeProducer(t, nil)
			errc := async(func() error {
				if async_ {
					return p.PublishAsync("t", []byte("m"), make(chan *ProducerTransaction, 1))
				}
				return p.Publish("t", []byte("m"))
			})
			c := f.acceptWithReply(appendFrame(nil, frameTypeError, []byte(refusal)))
			err := result(t, errc)
			identifyError, ok := err.(ErrIdentify)
			if !ok || identifyError.Reason != refusal {
				t.Fatalf("err = %T %v, want ErrIdentify{%q}", err, err, refusal)
			}
			if got := err.Error(); got != "failed to IDENTIFY - "+refusal {
				t.Errorf("Error() = %q", got)
			}
			var se *ServerError
			if !errors.As(err, &se) || se.Code != "E_BAD_BODY" || !errors.Is(err, ErrNotConnected) || OutcomeOf(err) != NotSent {
				t.Fatalf("err = %v, want ErrNotConnected wrapping *ServerError E_BAD_BODY, not sent", err)
			}
			c.expectEOF()
			// The next dial waits out a backoff: a publish meanwhile fails at
			// once with the same error, marked; one after it dials again
			// and is refused the same way.
			errc = async(func() error { return p.Publish("t", []byte("m")) })
			select {
			case err = <-errc:
				if !strings.Contains(err.Error(), "next attempt in") {
					t.Fatalf("publish during the backoff = %v, want it marked", err)
				}
			case c := <-f.conns:
				t.Cleanup(func() { c.nc.Close() })
				c.expectMagic()
				c.readIdentify()
				c.write(appendFrame(nil, frameTypeError, []byte(refusal)))
				err = result(t, errc)
			}
			if !errors.As(err, &identifyError) || identifyError.Reason != refusal {
				t.Fatalf("second publish = %v, want the ErrIdentify", err)
			}
		})
	}
}

// TestAuth: when nsqd requires AUTH, the client sends its secret with the
// exact bytes and keeps nsqd's answer as AuthInfo; without a secret, or when
// nsqd refuses it, the connection fails and is closed.
func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		secret string // "": the client must not send AUTH
		answer []byte
		check  func(error) bool
		info   *AuthInfo
	}{
		{name: "no secret", check: func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "AuthSecret") && errors.Is(err, ErrInvalidConfig)
		}},
		{name: "accepted", secret: "s3cret",
			answer: appendFrame(nil, frameTypeResponse, []byte(`{"identity":"alice","identity_url":"http://x/alice","permission_count":2}`)),
			check:  func(err error) bool { return err == nil }, info: &AuthInfo{"alice", "http://x/alice", 2}},
		{name: "refused", secret: "wrong", answer: appendFrame(nil, frameTypeError, []byte("E_AUTH_FAILED AUTH failed")),
			check: func(err error) bool {
				var se *ServerError
				return errors.As(err, &se) && se.Code == "E_AUTH_FAILED" && errors.Is(err, ErrNotConnected)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := fakeProducer(t, &Config{AuthSecret: tt.secret})
			errc := async(p.Ping)
			c := f.acceptWithReply(identifyReply(false, "", true))
			if tt.secret != "" {
				if got, want := string(c.readCommand()), "AUTH\n"+be32(len(tt.secret))+tt.secret; got != want {
					t.Fatalf("AUTH bytes %q, want %q", got, want)
				}
				c.write(tt.answer)
			}
			if tt.info != nil {
				c.expectNOP()
			} else {
				c.expectEOF()
			}
			if err := result(t, errc); !tt.check(err) {
				t.Fatalf("Ping = %v", err)
			}
			if info := p.AuthInfo(); (info == nil) != (tt.info == nil) || info != nil && *info != *tt.info {
				t.Fatalf("AuthInfo = %+v, want %+v", info, tt.info)
			}
		})
	}
}

// upgradeBody returns a body of n bytes, half text, half random, so that
// compression layers emit both compressed and stored data.
func upgradeBody(n int) []byte {
	b := make([]byte, n)
	half := n / 2
	for i := 0; i < half; i += copy(b[i:half], "upgrade me, compress me; ") {
	}
	rand.Read(b[half:])
	return b
}

// TestUpgradeSequence runs every upgrade combination against the fake:
// nothing is pipelined behind the IDENTIFY that upgrades (the fake's TLS
// handshake, snappy stream identifier or deflate stream would fail on a
// plain byte), nothing is read ahead of an upgrade on the raw socket or
// through TLS (the fake sends the IDENTIFY reply and the compressed OK in
// one write, and the TLS and compressed OKs in one record), AUTH and a PUB
// then travel through every layer with their exact bytes, and the OK, a
// heartbeat and several replies batched in one write come back through them.
func TestUpgradeSequence(t *testing.T) {
	ca := newTestCA(t)
	cert, _, _ := ca.issue(t, []string{"localhost"}, loopbackIPs)
	tests := []struct {
		tls         bool
		compression string
		auth        bool
	}{
		{true, "", false},
		{false, "snappy", false},
		{false, "deflate", false},
		{true, "snappy", false},
		{true, "deflate", false},
		{false, "", true},
		{true, "", true},
		{false, "snappy", true},
		{true, "deflate", true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("tls=%v,compression=%q,auth=%v", tt.tls, tt.compression, tt.auth)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeNSQD(t)
			cfg := &Config{TlsV1: tt.tls, TlsConfig: &tls.Config{RootCAs: ca.pool},
				Snappy: tt.compression == "snappy", Deflate: tt.compression == "deflate"}
			if tt.auth {
				cfg.AuthSecret = "s3cret\nwith a newline"
			}
			p := newTestProducer(t, f.addr(), cfg)
			body := upgradeBody(150 << 10) // several snappy chunks and deflate blocks
			errc := async(func() error { return p.Publish("topic", body) })

			c := f.accept()
			c.expectMagic()
			id := c.readIdentify()
			if id["tls_v1"] != tt.tls || id["snappy"] != (tt.compression == "snappy") || id["deflate"] != (tt.compression == "deflate") {
				t.Fatalf("IDENTIFY %v", id)
			}
			if n := c.r.Buffered(); n != 0 && (tt.tls || tt.compression != "") {
				t.Fatalf("%d bytes pipelined behind an upgrading IDENTIFY: %q", n, c.readN(n))
			}
			var srvTLS *tls.Config
			if tt.tls {
				// MinVersion 1.3: the client must not cap the version.
				srvTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
			}
			tc, err := c.upgrade(identifyReply(tt.tls, tt.compression, tt.auth), srvTLS, tt.compression)
			if err != nil {
				t.Fatalf("fake nsqd: TLS handshake: %v (did the client pipeline plain bytes behind IDENTIFY?)", err)
			}
			if tc != nil && tc.ConnectionState().Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x, want TLS 1.3", tc.ConnectionState().Version)
			}
			if tt.auth {
				if got, want := string(c.readCommand()), "AUTH\n"+be32(len(cfg.AuthSecret))+cfg.AuthSecret; got != want {
					t.Fatalf("AUTH through the layers: %q, want %q", got, want)
				}
				c.sendResponse(`{"identity":"bob","identity_url":"http://x/bob","permission_count":3}`)
			}
			if got, want := c.readCommandSkipNOP(), pubBytes("topic", string(body)); string(got) != want {
				t.Fatalf("PUB through the layers: %d bytes %.40q, want %d bytes %.40q", len(got), got, len(want), want)
			}
			c.sendOK()
			if err := result(t, errc); err != nil {
				t.Fatal(err)
			}
			if info := p.AuthInfo(); tt.auth != (info != nil) || tt.auth && *info != (AuthInfo{"bob", "http://x/bob", 3}) {
				t.Fatalf("AuthInfo() = %+v", info)
			}

			// A heartbeat through the layers is answered through them.
			c.sendResponse("_heartbeat_")
			c.expectNOP()

			// Five pipelined PUBs (distinct topics, so none are merged,
			// and known to nsqd, so none waits alone), answered by five OKs
			// in one write through the layers.
			trust(&p.model, "t0", "t1", "t2", "t3", "t4")
			done := make(chan *ProducerTransaction, 5)
			for i := range 5 {
				if err := p.PublishAsync(fmt.Sprintf("t%d", i), []byte{byte('a' + i)}, done); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				if got, want := string(c.readCommandSkipNOP()), pubBytes(fmt.Sprintf("t%d", i), string(rune('a'+i))); got != want {
					t.Fatalf("PUB %d: %q, want %q", i, got, want)
				}
			}
			c.write(bytes.Repeat(okFrame, 5))
			collectOK(t, done, 5)
		})
	}
}

// snappyChunk returns data as one snappy framing chunk of type typ:
// snappy.ChunkCompressed, which must make it smaller, or
// snappy.ChunkUncompressed.
func snappyChunk(t testing.TB, typ byte, data []byte) []byte {
	t.Helper()
	payload := data
	if typ == snappy.ChunkCompressed {
		if payload = snappy.EncodeBlock(nil, data); len(payload) >= len(data) {
			t.Fatalf("%d bytes did not compress (%d)", len(data), len(payload))
		}
	}
	out := []byte{typ, 0, 0, 0}
	out = binary.LittleEndian.AppendUint32(out, snappy.MaskedCRC(data))
	out = append(out, payload...)
	n := len(out) - 4
	out[1], out[2], out[3] = byte(n), byte(n>>8), byte(n>>16)
	return out
}

// TestSnappyCompressedReplies: nsqd's snappy writer compresses any chunk
// that shrinks by 12.5%, so several OKs flushed together arrive as one
// compressed (0x00) chunk; the client must decode it and complete every
// publish it answers.
func TestSnappyCompressedReplies(t *testing.T) {
	f, p := fakeProducer(t, &Config{Snappy: true})
	const n = 8
	trust(&p.model, "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7") // pipelined, none waits alone
	done := make(chan *ProducerTransaction, n)
	// The first PublishAsync waits for the connection, which the fake
	// has to serve.
	queued := async(func() error {
		for i := range n {
			if err := p.PublishAsync(fmt.Sprintf("t%d", i), []byte("x"), done); err != nil {
				return err
			}
		}
		return nil
	})
	// One OK alone does not compress: nsqd sends the upgrade OK in an
	// uncompressed chunk after the stream identifier.
	c := f.acceptWithReply(append(identifyReply(false, "snappy", false),
		append([]byte(snappy.StreamID), snappyChunk(t, snappy.ChunkUncompressed, okFrame)...)...))
	s := &fakeConn{t: t, nc: c.nc, r: bufio.NewReader(snappy.NewReader(c.r))}
	if err := result(t, queued); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, want := string(s.readCommandSkipNOP()), pubBytes(fmt.Sprintf("t%d", i), "x"); got != want {
			t.Fatalf("PUB %d: %q, want %q", i, got, want)
		}
	}
	// The n OKs with a heartbeat among them, in one compressed chunk.
	replies := append(bytes.Repeat(okFrame, n/2), appendFrame(nil, frameTypeResponse, frameHeartbeat)...)
	replies = append(replies, bytes.Repeat(okFrame, n/2)...)
	c.write(snappyChunk(t, snappy.ChunkCompressed, replies))
	collectOK(t, done, n)
	s.expectNOP() // the answer to the heartbeat in the chunk
}

// TestTLSServerName: ServerName defaults to the host of the address (a name
// or an IP, checked against the certificate's DNS or IP SANs); an explicit
// ServerName wins; the caller's TlsConfig is not modified; the server
// certificate is verified unless InsecureSkipVerify is asked for.
func TestTLSServerName(t *testing.T) {
	ca := newTestCA(t)
	byIP, _, _ := ca.issue(t, nil, loopbackIPs)
	byName, _, _ := ca.issue(t, []string{"localhost"}, nil)
	other, _, _ := ca.issue(t, []string{"nsqd.example"}, nil)
	tests := []struct {
		name       string
		host       string // dialled instead of 127.0.0.1
		cert       tls.Certificate
		clientTLS  *tls.Config
		wantSNI    string
		wantErr    any // nil, or a pointer to the error type errors.As must find
		errContain string
	}{
		{name: "IP address", host: "127.0.0.1", cert: byIP, clientTLS: &tls.Config{RootCAs: ca.pool}},
		{name: "host name", host: "localhost", cert: byName, clientTLS: &tls.Config{RootCAs: ca.pool}, wantSNI: "localhost"},
		{name: "IP address is not a DNS name", host: "127.0.0.1", cert: byName, clientTLS: &tls.Config{RootCAs: ca.pool},
			wantErr: &x509.HostnameError{}, errContain: "doesn't contain any IP SANs"},
		{name: "explicit ServerName", host: "127.0.0.1", cert: other,
			clientTLS: &tls.Config{RootCAs: ca.pool, ServerName: "nsqd.example"}, wantSNI: "nsqd.example"},
		{name: "system roots", host: "localhost", cert: byName, clientTLS: nil, wantSNI: "localhost",
			wantErr: &x509.UnknownAuthorityError{}, errContain: "unknown authority"},
		{name: "InsecureSkipVerify", host: "localhost", cert: byName,
			clientTLS: &tls.Config{InsecureSkipVerify: true}, wantSNI: "localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeNSQD(t)
			_, port, _ := net.SplitHostPort(f.addr())
			var before tls.Config
			if tt.clientTLS != nil {
				before = *tt.clientTLS.Clone()
			}
			p := newTestProducer(t, net.JoinHostPort(tt.host, port), &Config{TlsV1: true, TlsConfig: tt.clientTLS})
			errc := async(p.Ping)
			c := f.accept()
			c.expectMagic()
			c.readIdentify()
			sni := make(chan string, 1)
			_, herr := c.upgrade(identifyReply(true, "", false), &tls.Config{
				Certificates: []tls.Certificate{tt.cert},
				GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
					sni <- h.ServerName
					return nil, nil
				},
			}, "")
			// GetConfigForClient ran during the handshake, if a ClientHello came.
			select {
			case got := <-sni:
				if got != tt.wantSNI {
					t.Errorf("SNI %q, want %q", got, tt.wantSNI)
				}
			default:
				t.Fatalf("no ClientHello: %v", herr)
			}
			if tt.wantErr == nil {
				if herr != nil {
					t.Fatalf("server handshake: %v", herr)
				}
				c.expectNOP()
			}
			err := result(t, errc)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Ping: %v", err)
			case tt.wantErr != nil && (!errors.As(err, tt.wantErr) || !errors.Is(err, ErrNotConnected) ||
				!strings.Contains(err.Error(), tt.errContain)):
				t.Fatalf("Ping = %v, want ErrNotConnected and %T containing %q", err, tt.wantErr, tt.errContain)
			}
			if tt.clientTLS != nil && tt.clientTLS.ServerName != before.ServerName {
				t.Errorf("the caller's TlsConfig.ServerName changed from %q to %q", before.ServerName, tt.clientTLS.ServerName)
			}
		})
	}
}

// TestHandshakeBounded: a server that stops answering during the handshake
// cannot hold a publish past its bounds, nor past the caller's context:
// nsqd's reply to IDENTIFY, which it gives at once, is bounded by
// DialTimeout; the later steps (TLS, which a server may grant and then never
// answer the ClientHello, and AUTH) each by ReadTimeout, however short
// DialTimeout is.
func TestHandshakeBounded(t *testing.T) {
	const short, long = 300 * time.Millisecond, time.Minute
	tests := []struct {
		name       string
		stall      string // where the server stops answering: "TLS", "IDENTIFY" or "AUTH"
		dial, read time.Duration
		want       error // os.ErrDeadlineExceeded: a bound ended it; context.Canceled: the caller did
	}{
		{"IDENTIFY, DialTimeout", "IDENTIFY", short, long, os.ErrDeadlineExceeded},
		{"TLS, ReadTimeout", "TLS", short, 2 * short, os.ErrDeadlineExceeded},
		{"AUTH, ReadTimeout", "AUTH", short, 2 * short, os.ErrDeadlineExceeded},
		{"IDENTIFY, context", "IDENTIFY", long, long, context.Canceled},
		{"TLS, context", "TLS", long, long, context.Canceled},
		{"AUTH, context", "AUTH", long, long, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, p := fakeProducer(t, &Config{TlsV1: tt.stall == "TLS", AuthSecret: "s",
				DialTimeout: tt.dial, ReadTimeout: tt.read, HeartbeatInterval: -1})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			errc := async(func() error { return p.PublishContext(ctx, "t", []byte("m")) })
			c := f.accept()
			c.expectMagic()
			c.readIdentify()
			switch tt.stall {
			case "TLS":
				c.write(identifyReply(true, "", false))
				if b := c.readN(1); b[0] != 0x16 {
					t.Fatalf("first byte after the reply %#x, want a TLS handshake record", b[0])
				}
			case "AUTH":
				c.write(identifyReply(false, "", true))
				c.readCommand()
			}
			if tt.want == context.Canceled {
				cancel()
			}
			err := result(t, errc)
			took := time.Since(start)
			bound := tt.read // the stalled step's bound
			if tt.stall == "IDENTIFY" {
				bound = tt.dial
			}
			switch {
			case tt.want == context.Canceled && err != context.Canceled:
				t.Fatalf("PublishContext = %v, want context.Canceled", err)
			case tt.want == context.Canceled && took > 5*time.Second:
				t.Fatalf("cancelled, yet it took %v to return", took)
			case tt.want == context.Canceled:
			case !errors.Is(err, ErrNotConnected) || !errors.Is(err, tt.want):
				t.Fatalf("PublishContext = %v, want ErrNotConnected and an i/o timeout", err)
			case took < bound:
				t.Fatalf("gave up after %v, before its bound %v", took, bound)
			}
			if _, ok := err.(ErrIdentify); ok != (tt.want != context.Canceled && tt.stall != "AUTH") {
				t.Errorf("PublishContext = %T %v: an ErrIdentify only if IDENTIFY or TLS timed out", err, err)
			}
		})
	}
}

// TestSlowAuthWithinReadTimeout: nsqd may take seconds to ask its auth
// server. An AUTH reply that comes after DialTimeout but within ReadTimeout
// completes the handshake, as with go-nsq.
func TestSlowAuthWithinReadTimeout(t *testing.T) {
	const dialTimeout = 200 * time.Millisecond
	f, p := fakeProducer(t, &Config{AuthSecret: "s3cret", DialTimeout: dialTimeout, ReadTimeout: 10 * time.Second, HeartbeatInterval: -1})
	errc := async(p.Ping)
	c := f.accept()
	connected := time.Now()
	c.expectMagic()
	c.readIdentify()
	c.write(identifyReply(false, "", true))
	c.readCommand()
	// A slow auth server: the reply is held until well past DialTimeout.
	time.Sleep(time.Until(connected.Add(3 * dialTimeout)))
	c.write(appendFrame(nil, frameTypeResponse, []byte(`{"identity":"slow","permission_count":1}`)))
	c.expectNOP()
	if err := result(t, errc); err != nil {
		t.Fatalf("Ping = %v, want nil", err)
	}
	if info := p.AuthInfo(); info == nil || info.Identity != "slow" {
		t.Fatalf("AuthInfo = %+v", info)
	}
	t.Logf("AUTH answered after %v (DialTimeout %v): connected", time.Since(connected).Round(time.Millisecond), dialTimeout)
}

// TestHandshakeContextCancelled: cancelling the handshake's context ends it
// at once, wherever it waits, and closes the connection; a context's
// deadline bounds it too, reported as context.DeadlineExceeded.
func TestHandshakeContextCancelled(t *testing.T) {
	cfg := &Config{AuthSecret: "s", ReadTimeout: time.Minute}
	cfg.setDefaults()
	for _, deadline := range []bool{false, true} {
		t.Run(fmt.Sprintf("deadline=%v", deadline), func(t *testing.T) {
			client, s := newPipeConn(t)
			ctx, cancel := context.WithCancel(context.Background())
			if deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			}
			defer cancel()
			start := time.Now()
			hs := async(func() error {
				_, err := handshake(ctx, client, "pipe", cfg, &logState{})
				return err
			})
			s.expectMagic()
			s.readIdentify()
			s.write(identifyReply(false, "", true))
			s.readCommand() // AUTH, never answered
			if !deadline {
				cancel()
			}
			err := result(t, hs)
			want := context.Canceled
			if deadline {
				want = context.DeadlineExceeded
			}
			if !errors.Is(err, ErrNotConnected) || !errors.Is(err, want) {
				t.Fatalf("handshake = %v, want ErrNotConnected and %v", err, want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("took %v", took)
			}
			s.expectEOF()
		})
	}
}

// TestUpgradeBrokenServer: a server that grants an upgrade and then does not
// speak it gives a clear error at once, not a hang.
func TestUpgradeBrokenServer(t *testing.T) {
	tests := []struct {
		name        string
		tls         bool
		compression string
		after       []byte // sent right after the IDENTIFY reply
		want        string
	}{
		{"TLS granted, plain OK", true, "", okFrame, "TLS handshake: "},
		{"snappy granted, plain OK", false, "snappy", okFrame, "reading snappy upgrade reply: snappy: missing or bad stream identifier"},
		{"deflate granted, plain OK", false, "deflate", okFrame, "reading deflate upgrade reply: flate: corrupt input"},
		{"snappy granted, error frame", false, "snappy",
			append([]byte(snappy.StreamID), snappyChunk(t, snappy.ChunkUncompressed, appendFrame(nil, frameTypeError, []byte("E_IDENTIFY_FAILED IDENTIFY failed boom")))...),
			"failed to IDENTIFY - E_IDENTIFY_FAILED IDENTIFY failed boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeNSQD(t)
			p := newTestProducer(t, f.addr(), &Config{TlsV1: tt.tls, Snappy: tt.compression == "snappy",
				Deflate: tt.compression == "deflate", DialTimeout: time.Minute})
			errc := async(p.Ping)
			f.acceptWithReply(append(identifyReply(tt.tls, tt.compression, false), tt.after...))
			err := result(t, errc)
			if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Ping = %v, want ErrNotConnected containing %q", err, tt.want)
			}
		})
	}
}

// TestUpgradeRefused: when nsqd does not grant an upgrade the client asked
// for (no certificate, --snappy=false, --deflate=false), the connection
// stays plain, as with go-nsq, and a warning says so.
func TestUpgradeRefused(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"TLS", Config{TlsV1: true}, "TLS requested but nsqd did not grant it; the connection stays plain"},
		{"snappy", Config{Snappy: true}, "snappy requested but nsqd did not grant it"},
		{"deflate", Config{Deflate: true}, "deflate requested but nsqd did not grant it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, p := fakeProducer(t, &tt.cfg)
			lg := &recLogger{}
			p.SetLogger(lg, LogLevelWarning)
			f.publishOK(p, nil, "t", "clear") // in clear
			lg.waitLine(t, tt.want)
		})
	}
}
