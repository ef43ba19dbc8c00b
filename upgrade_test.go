package nsqpub

// Tests of the connection upgrades negotiated by IDENTIFY (TLS, snappy,
// deflate) and of AUTH after them, against the scripted fake nsqd, which
// performs the server side of each upgrade with crypto/tls, compress/flate
// and this package's snappy codec.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Certificates

// upgradeCA is a test certificate authority.
type upgradeCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

// newUpgradeCA returns a self-signed CA valid for an hour around now.
func newUpgradeCA(t testing.TB) *upgradeCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "upgrade test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &upgradeCA{cert: cert, key: key, pool: pool,
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate for the given names, signed by ca,
// with its PEM encodings.
func (ca *upgradeCA) issue(t testing.TB, dns []string, ips []net.IP) (cert tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "fake nsqd"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM, keyPEM
}

var loopbackIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}

// ---------------------------------------------------------------------------
// The server side of the upgrades

// readerConn is a net.Conn whose reads come from r: the fake's buffered
// reader, so that bytes it already buffered are not lost to an upgrade.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// layerConn is a compression layer over a connection: reads decompress,
// every Write compresses and flushes. Deadlines and Close go to the
// connection below.
type layerConn struct {
	net.Conn
	r     io.Reader
	w     io.Writer
	flush func() error
}

func (c layerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c layerConn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err == nil {
		err = c.flush()
	}
	return n, err
}

// writeCapture is a net.Conn whose writes are held back until release, which
// sends them in a single write; later writes go straight through.
type writeCapture struct {
	net.Conn
	mu       sync.Mutex
	held     []byte
	released bool
}

func (w *writeCapture) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.released {
		w.held = append(w.held, p...)
		return len(p), nil
	}
	return w.Conn.Write(p)
}

// release writes what was held back in one write.
func (w *writeCapture) release() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.released = true
	_, err := w.Conn.Write(w.held)
	return err
}

// upgradeServer is the server side of an upgraded connection.
type upgradeServer struct {
	*fakeConn           // reads and writes commands and frames through every layer
	tls       *tls.Conn // the TLS layer, if any
}

// serveUpgrades sends reply (the IDENTIFY reply) on c, which has read
// IDENTIFY, and runs the server side of the upgrades it grants: the TLS
// handshake (if tlsCfg is not nil) and one OK through TLS, then the
// compression layer ("snappy", "deflate" or "") and one OK through it.
//
// Bytes leave in as few writes as the protocol allows, so that a client
// reading ahead would swallow what belongs to the next layer: without TLS,
// the reply and the compressed OK go in one write; with TLS, the TLS OK
// and the compressed OK go in one TLS record.
func serveUpgrades(t testing.TB, c *fakeConn, reply []byte, tlsCfg *tls.Config, compression string) *upgradeServer {
	t.Helper()
	s := &upgradeServer{}
	raw := &writeCapture{Conn: c.nc}
	raw.Write(reply)
	below := raw
	ok := appendFrame(nil, frameTypeResponse, frameOK)
	if tlsCfg != nil {
		if err := raw.release(); err != nil {
			t.Fatal(err)
		}
		// Read through c.r: whatever the fake buffered is not lost.
		s.tls = tls.Server(readerConn{raw, c.r}, tlsCfg)
		s.tls.SetDeadline(time.Now().Add(10 * time.Second))
		if err := s.tls.Handshake(); err != nil {
			t.Fatalf("fake nsqd: TLS handshake: %v (did the client pipeline plain bytes behind IDENTIFY?)", err)
		}
		s.tls.SetDeadline(time.Time{})
		below = &writeCapture{Conn: s.tls}
		below.Write(ok)
	}
	var in io.Reader = c.r
	if s.tls != nil {
		in = s.tls
	}
	var up net.Conn = readerConn{below, in}
	switch compression {
	case "snappy":
		w := newSnappyWriter(below)
		up = layerConn{Conn: below, r: newSnappyReader(in), w: w, flush: w.Flush}
	case "deflate":
		w, err := flate.NewWriter(below, 6)
		if err != nil {
			t.Fatal(err)
		}
		up = layerConn{Conn: below, r: flate.NewReader(in), w: w, flush: w.Flush}
	case "":
	default:
		t.Fatalf("unknown compression %q", compression)
	}
	if compression != "" {
		if _, err := up.Write(ok); err != nil {
			t.Fatal(err)
		}
	}
	if err := below.release(); err != nil {
		t.Fatal(err)
	}
	s.fakeConn = &fakeConn{t: t, nc: up, r: bufio.NewReader(up)}
	return s
}

// identifyReply is nsqd's IDENTIFY reply granting the given features.
func identifyReply(tlsOn bool, compression string, auth bool) []byte {
	return appendFrame(nil, frameTypeResponse, fmt.Appendf(nil,
		`{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,`+
			`"tls_v1":%v,"deflate":%v,"deflate_level":6,"max_deflate_level":6,"snappy":%v,"sample_rate":0,`+
			`"auth_required":%v,"output_buffer_size":16384,"output_buffer_timeout":250}`,
		tlsOn, compression == "deflate", compression == "snappy", auth))
}

// ---------------------------------------------------------------------------
// Tests

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
	ca := newUpgradeCA(t)
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
			s := serveUpgrades(t, c, identifyReply(tt.tls, tt.compression, tt.auth), srvTLS, tt.compression)
			if s.tls != nil && s.tls.ConnectionState().Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x, want TLS 1.3", s.tls.ConnectionState().Version)
			}
			if tt.auth {
				if got, want := string(s.readCommand()), "AUTH\n"+be32(len(cfg.AuthSecret))+cfg.AuthSecret; got != want {
					t.Fatalf("AUTH through the layers: %q, want %q", got, want)
				}
				s.sendResponse(`{"identity":"bob","identity_url":"http://x/bob","permission_count":3}`)
			}
			if got, want := s.readCommandSkipNOP(), pubBytes("topic", string(body)); string(got) != want {
				t.Fatalf("PUB through the layers: %d bytes %.40q, want %d bytes %.40q", len(got), got, len(want), want)
			}
			s.sendOK()
			if err := result(t, errc); err != nil {
				t.Fatal(err)
			}
			if info := p.AuthInfo(); tt.auth != (info != nil) || tt.auth && *info != (AuthInfo{"bob", "http://x/bob", 3}) {
				t.Fatalf("AuthInfo() = %+v", info)
			}

			// A heartbeat through the layers is answered through them.
			s.sendResponse("_heartbeat_")
			if got := string(s.readCommand()); got != "NOP\n" {
				t.Fatalf("heartbeat answered with %q", got)
			}

			// Five pipelined PUBs (distinct topics, so none are merged),
			// answered by five OKs in one write through the layers.
			done := make(chan *ProducerTransaction, 5)
			for i := range 5 {
				if err := p.PublishAsync(fmt.Sprintf("t%d", i), []byte{byte('a' + i)}, done); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				if got, want := string(s.readCommandSkipNOP()), pubBytes(fmt.Sprintf("t%d", i), string(rune('a'+i))); got != want {
					t.Fatalf("PUB %d: %q, want %q", i, got, want)
				}
			}
			s.write(bytes.Repeat(appendFrame(nil, frameTypeResponse, frameOK), 5))
			for range 5 {
				select {
				case tr := <-done:
					if tr.Error != nil {
						t.Fatal(tr.Error)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no reply within 10s")
				}
			}
		})
	}
}

// TestSnappyCompressedReplies: nsqd's snappy writer compresses any chunk
// that shrinks by 12.5%, so several OKs flushed together arrive as one
// compressed (0x00) chunk; the client must decode it and complete every
// publish it answers.
func TestSnappyCompressedReplies(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{Snappy: true})
	const n = 8
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
	c := f.accept()
	c.expectMagic()
	c.readIdentify()
	c.write(identifyReply(false, "snappy", false))
	// The upgrade OK, a heartbeat and the n OKs in compressed chunks,
	// written by hand: the stream identifier, then type 0x00 chunks.
	chunk := func(frames []byte) []byte {
		block := snappyEncodeBlock(nil, frames)
		if len(block) >= len(frames) {
			t.Fatalf("%d bytes of frames did not compress (%d)", len(frames), len(block))
		}
		out := []byte{snappyChunkCompressed, 0, 0, 0}
		out = binary.LittleEndian.AppendUint32(out, snappyMaskedCRC(frames))
		out = append(out, block...)
		n := len(out) - 4
		out[1], out[2], out[3] = byte(n), byte(n>>8), byte(n>>16)
		return out
	}
	ok := appendFrame(nil, frameTypeResponse, frameOK)
	// One OK alone does not compress: nsqd sends the upgrade OK in an
	// uncompressed chunk after the stream identifier.
	first := []byte(snappyStreamID)
	first = append(first, snappyChunkUncompressed, byte(4+len(ok)), 0, 0)
	first = binary.LittleEndian.AppendUint32(first, snappyMaskedCRC(ok))
	first = append(first, ok...)
	c.write(first)
	s := &fakeConn{t: t, nc: c.nc, r: bufio.NewReader(newSnappyReader(c.r))}
	if err := result(t, queued); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, want := string(s.readCommandSkipNOP()), pubBytes(fmt.Sprintf("t%d", i), "x"); got != want {
			t.Fatalf("PUB %d: %q, want %q", i, got, want)
		}
	}
	hb := appendFrame(nil, frameTypeResponse, frameHeartbeat)
	replies := append(bytes.Repeat(ok, n/2), hb...)
	replies = append(replies, bytes.Repeat(ok, n/2)...)
	c.write(chunk(replies))
	for range n {
		select {
		case tr := <-done:
			if tr.Error != nil {
				t.Fatal(tr.Error)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reply within 10s")
		}
	}
	if got := string(s.readCommand()); got != "NOP\n" {
		t.Fatalf("heartbeat inside a compressed chunk answered with %q", got)
	}
}

// TestTLSServerName: ServerName defaults to the host of the address (a name
// or an IP, checked against the certificate's DNS or IP SANs); an explicit
// ServerName wins; the caller's TlsConfig is not modified; the server
// certificate is verified unless InsecureSkipVerify is asked for.
func TestTLSServerName(t *testing.T) {
	ca := newUpgradeCA(t)
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
			c.write(identifyReply(true, "", false))
			sni := make(chan string, 1)
			srv := tls.Server(readerConn{c.nc, c.r}, &tls.Config{
				Certificates: []tls.Certificate{tt.cert},
				GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
					sni <- h.ServerName
					return nil, nil
				},
			})
			srv.SetDeadline(time.Now().Add(10 * time.Second))
			herr := srv.Handshake()
			// GetConfigForClient ran during Handshake, if a ClientHello came.
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
				srv.Write(appendFrame(nil, frameTypeResponse, frameOK))
				s := &fakeConn{t: t, nc: srv, r: bufio.NewReader(srv)}
				if got := string(s.readCommand()); got != "NOP\n" {
					t.Fatalf("Ping wrote %q", got)
				}
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

// TestTLSHandshakeBounded: a server that grants TLS and never answers the
// ClientHello cannot hold the connection attempt past DialTimeout or past
// the caller's context.
func TestTLSHandshakeBounded(t *testing.T) {
	// stall accepts the connection, grants TLS and waits for the first
	// byte of the ClientHello (a handshake record, 0x16), then says nothing.
	stall := func(t *testing.T, f *fakeNSQD) {
		t.Helper()
		c := f.accept()
		c.expectMagic()
		c.readIdentify()
		c.write(identifyReply(true, "", false))
		if b := c.readN(1); b[0] != 0x16 {
			t.Fatalf("first byte after the reply %#x, want a TLS handshake record", b[0])
		}
	}
	t.Run("DialTimeout", func(t *testing.T) {
		t.Parallel()
		f := newFakeNSQD(t)
		const timeout = 300 * time.Millisecond
		p := newTestProducer(t, f.addr(), &Config{TlsV1: true, DialTimeout: timeout})
		start := time.Now()
		errc := async(p.Ping)
		stall(t, f)
		err := result(t, errc)
		if !errors.Is(err, ErrNotConnected) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping = %v, want ErrNotConnected and context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took < timeout {
			t.Fatalf("gave up after %v, before DialTimeout %v", took, timeout)
		}
	})
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		f := newFakeNSQD(t)
		p := newTestProducer(t, f.addr(), &Config{TlsV1: true, DialTimeout: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := async(func() error { return p.PingContext(ctx) })
		stall(t, f)
		cancel()
		if err := result(t, errc); !errors.Is(err, context.Canceled) {
			t.Fatalf("Ping = %v, want context.Canceled", err)
		}
	})
}

// TestUpgradeBrokenServer: a server that grants an upgrade and then does not
// speak it gives a clear error at once, not a hang.
func TestUpgradeBrokenServer(t *testing.T) {
	ok := appendFrame(nil, frameTypeResponse, frameOK)
	tests := []struct {
		name        string
		tls         bool
		compression string
		after       []byte // sent right after the IDENTIFY reply
		want        string
	}{
		{"TLS granted, plain OK", true, "", ok, "TLS handshake: "},
		{"snappy granted, plain OK", false, "snappy", ok, "reading snappy upgrade reply: nsqpub: snappy: missing or bad stream identifier"},
		{"deflate granted, plain OK", false, "deflate", ok, "reading deflate upgrade reply: flate: corrupt input"},
		{"snappy granted, error frame", false, "snappy",
			append([]byte(snappyStreamID), snappyFrame(appendFrame(nil, frameTypeError, []byte("E_IDENTIFY_FAILED IDENTIFY failed boom")))...),
			"nsqd: E_IDENTIFY_FAILED IDENTIFY failed boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeNSQD(t)
			p := newTestProducer(t, f.addr(), &Config{TlsV1: tt.tls, Snappy: tt.compression == "snappy",
				Deflate: tt.compression == "deflate", DialTimeout: time.Minute})
			errc := async(p.Ping)
			c := f.accept()
			c.expectMagic()
			c.readIdentify()
			c.write(append(identifyReply(tt.tls, tt.compression, false), tt.after...))
			err := result(t, errc)
			if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Ping = %v, want ErrNotConnected containing %q", err, tt.want)
			}
		})
	}
}

// snappyFrame returns data as one uncompressed snappy chunk.
func snappyFrame(data []byte) []byte {
	out := []byte{snappyChunkUncompressed, 0, 0, 0}
	out = binary.LittleEndian.AppendUint32(out, snappyMaskedCRC(data))
	out = append(out, data...)
	n := len(out) - 4
	out[1], out[2], out[3] = byte(n), byte(n>>8), byte(n>>16)
	return out
}

// upgradeLog is a logger for SetLogger that keeps its lines.
type upgradeLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *upgradeLog) Output(_ int, s string) error {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	return nil
}

func (l *upgradeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
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
			f := newFakeNSQD(t)
			p := newTestProducer(t, f.addr(), &tt.cfg)
			lg := &upgradeLog{}
			p.SetLogger(lg, LogLevelWarning)
			errc := async(func() error { return p.Publish("t", []byte("clear")) })
			c := f.acceptIdentified()
			if got, want := string(c.readCommandSkipNOP()), pubBytes("t", "clear"); got != want {
				t.Fatalf("PUB %q, want %q in clear", got, want)
			}
			c.sendOK()
			if err := result(t, errc); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(lg.String(), tt.want) {
				t.Fatalf("log %q lacks %q", lg, tt.want)
			}
		})
	}
}

// TestConfigSetTLS covers go-nsq's TLS options: tls_v1 turns TLS on, the
// pseudo-options build TlsConfig (and do not turn it on), bad values are
// refused without changing anything, and Set never modifies a *tls.Config
// that the Config shared with someone else (a Producer, or the caller).
func TestConfigSetTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newUpgradeCA(t)
	_, certPEM, keyPEM := ca.issue(t, []string{"client"}, nil)
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile, certFile, keyFile := write("ca.pem", ca.pem), write("cert.pem", certPEM), write("key.pem", keyPEM)
	junk := write("junk.pem", []byte("not PEM"))
	_, _, otherKeyPEM := ca.issue(t, nil, nil)
	otherKey := write("other-key.pem", otherKeyPEM)

	type opt struct {
		name string
		val  any
	}
	tests := []struct {
		name  string
		opts  []opt
		check func(*Config) bool
	}{
		{"tls_v1 true", []opt{{"tls_v1", true}}, func(c *Config) bool { return c.TlsV1 && c.TlsConfig == nil }},
		{"tls_v1 string", []opt{{"tls-v1", "1"}}, func(c *Config) bool { return c.TlsV1 }},
		{"tls_v1 int", []opt{{"TLS_V1", 1}, {"tls_v1", 0}}, func(c *Config) bool { return !c.TlsV1 }},
		{"tls_config", []opt{{"tls_config", &tls.Config{ServerName: "x"}}}, func(c *Config) bool { return c.TlsConfig.ServerName == "x" }},
		{"tls_root_ca_file", []opt{{"tls_root_ca_file", caFile}}, func(c *Config) bool {
			_, err := ca.cert.Verify(x509.VerifyOptions{Roots: c.TlsConfig.RootCAs})
			return err == nil && !c.TlsV1
		}},
		{"tls_cert then tls_key", []opt{{"tls_cert", certFile}, {"tls_key", keyFile}},
			func(c *Config) bool { return len(c.TlsConfig.Certificates) == 1 }},
		{"tls_key then tls_cert", []opt{{"tls_key", keyFile}, {"tls_cert", certFile}},
			func(c *Config) bool { return len(c.TlsConfig.Certificates) == 1 }},
		{"tls_cert alone loads nothing", []opt{{"tls_cert", certFile}},
			func(c *Config) bool { return len(c.TlsConfig.Certificates) == 0 }},
		{"tls_insecure_skip_verify", []opt{{"tls_insecure_skip_verify", "true"}},
			func(c *Config) bool { return c.TlsConfig.InsecureSkipVerify && !c.TlsV1 }},
		{"tls_min_version tls1.0", []opt{{"tls_min_version", "tls1.0"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS10 }},
		{"tls_min_version tls1.1", []opt{{"tls_min_version", "tls1.1"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS11 }},
		{"tls_min_version TLS1.2", []opt{{"tls_min_version", "TLS1.2"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS12 }},
		{"tls_min_version tls1.3", []opt{{"tls_min_version", "tls1.3"}},
			func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS13 && c.TlsConfig.MaxVersion == 0 }},
		{"options combine", []opt{{"tls_root_ca_file", caFile}, {"tls_min_version", "tls1.2"}, {"tls_insecure_skip_verify", false}},
			func(c *Config) bool { return c.TlsConfig.RootCAs != nil && c.TlsConfig.MinVersion == tls.VersionTLS12 }},
	}
	for _, tt := range tests {
		c := NewConfig()
		for _, o := range tt.opts {
			if err := c.Set(o.name, o.val); err != nil {
				t.Fatalf("%s: Set(%q, %v): %v", tt.name, o.name, o.val, err)
			}
		}
		if !tt.check(c) || c.Validate() != nil {
			t.Errorf("%s: did not take effect: %+v", tt.name, c)
		}
	}

	bad := []struct {
		name string
		val  any
	}{
		{"tls_v1", "yes please"},
		{"tls_config", tls.Config{}},
		{"tls_root_ca_file", junk},
		{"tls_root_ca_file", filepath.Join(dir, "missing.pem")},
		{"tls_root_ca_file", 7},
		{"tls_insecure_skip_verify", "maybe"},
		{"tls_min_version", "tls1.4"},
		{"tls_min_version", tls.VersionTLS12},
		{"tls_cert", junk},
	}
	for _, tt := range bad {
		// A configuration that a failed Set must leave alone.
		c := NewConfig()
		for _, o := range []opt{{"tls_root_ca_file", caFile}, {"tls_insecure_skip_verify", true}, {"tls_min_version", "tls1.2"}} {
			if err := c.Set(o.name, o.val); err != nil {
				t.Fatal(err)
			}
		}
		if tt.name == "tls_cert" {
			c.Set("tls_key", keyFile)
		}
		before := c.TlsConfig
		snapshot := *c.TlsConfig.Clone()
		err := c.Set(tt.name, tt.val)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Set(%q, %#v) = %v, want ErrInvalidConfig", tt.name, tt.val, err)
			continue
		}
		if c.TlsConfig != before || c.TlsConfig.InsecureSkipVerify != snapshot.InsecureSkipVerify ||
			c.TlsConfig.MinVersion != snapshot.MinVersion || c.TlsConfig.RootCAs != snapshot.RootCAs || c.TlsV1 {
			t.Errorf("failed Set(%q, %#v) changed the config: %+v", tt.name, tt.val, c.TlsConfig)
		}
	}

	t.Run("mismatched key", func(t *testing.T) {
		c := NewConfig()
		if err := c.Set("tls_cert", certFile); err != nil {
			t.Fatal(err)
		}
		if err := c.Set("tls_key", otherKey); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Set(tls_key) with another certificate's key = %v, want ErrInvalidConfig", err)
		}
		if err := c.Set("tls_key", keyFile); err != nil || len(c.TlsConfig.Certificates) != 1 {
			t.Fatalf("Set(tls_key) with the right key = %v, certificates %d", err, len(c.TlsConfig.Certificates))
		}
	})

	t.Run("shared tls.Config is not modified", func(t *testing.T) {
		shared := &tls.Config{ServerName: "mine"}
		c := NewConfig()
		c.TlsConfig = shared
		p, err := NewProducer("127.0.0.1:4150", c)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		for _, o := range []opt{{"tls_insecure_skip_verify", true}, {"tls_min_version", "tls1.3"}, {"tls_root_ca_file", caFile}} {
			if err := c.Set(o.name, o.val); err != nil {
				t.Fatal(err)
			}
		}
		if shared.InsecureSkipVerify || shared.MinVersion != 0 || shared.RootCAs != nil {
			t.Fatalf("Set modified the *tls.Config the Producer and the caller hold: %+v", shared)
		}
		if c.TlsConfig == shared || !c.TlsConfig.InsecureSkipVerify || c.TlsConfig.ServerName != "mine" ||
			c.TlsConfig.MinVersion != tls.VersionTLS13 || c.TlsConfig.RootCAs == nil {
			t.Fatalf("Set on a copy lost settings: %+v", c.TlsConfig)
		}
		if p.cfg.TlsConfig.InsecureSkipVerify {
			t.Fatal("Set after NewProducer changed the Producer's TLS settings")
		}
	})
}
