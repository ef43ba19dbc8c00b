package nsqpub

// Shared test infrastructure: the fake nsqd every test and benchmark talks
// to, the server side of the upgrades it can perform, a test certificate
// authority, a recording logger and small helpers.

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub/internal/snappy"
)

// fakeNSQD is an in-process nsqd on a loopback port. It works in one of two
// modes. Scripted (newFakeNSQD), it hands every connection to the test as a
// *fakeConn, which reads the client's exact bytes and writes frames on
// command. Fast (newFastNSQD), it serves every connection itself: it answers
// IDENTIFY with a plain reply (no TLS, no compression, no AUTH), ignores NOP
// and answers PUB, DPUB and MPUB with OK, flushing its replies whenever no
// more input is buffered so that a batch of commands gets one write; it
// checks the framing of every command and counts the messages. Either way
// it is closed, and its goroutines waited for, at the end of the test.
type fakeNSQD struct {
	t         testing.TB
	ln        net.Listener
	fast      bool
	conns     chan *fakeConn // accepted connections for a scripted fake
	quit      chan struct{}  // closed by close
	msgs      atomic.Int64   // messages a fast fake received
	wg        sync.WaitGroup // the accept loop and a fast fake's connections
	identify  []byte         // a fast fake's IDENTIFY reply frame
	closeOnce sync.Once

	mu     sync.Mutex
	open   []net.Conn // every accepted connection
	closed bool
	err    error // the first protocol error a fast fake saw
}

// newFakeNSQD starts a scripted fake nsqd.
func newFakeNSQD(t testing.TB) *fakeNSQD { return startFake(t, false) }

// newFastNSQD starts a fake nsqd that answers everything itself as fast as
// it can and counts the messages; check tells whether all arrived.
func newFastNSQD(t testing.TB) *fakeNSQD { return startFake(t, true) }

// startFake starts a fake nsqd in the given mode on a loopback port.
func startFake(t testing.TB, fast bool) *fakeNSQD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNSQD{t: t, ln: ln, fast: fast, conns: make(chan *fakeConn, 16), quit: make(chan struct{}),
		identify: identifyReply(false, "", false)}
	f.wg.Add(1)
	go f.acceptLoop()
	t.Cleanup(func() {
		f.close()
		if err := f.protocolError(); err != nil {
			t.Errorf("fake nsqd: %v", err)
		}
	})
	return f
}

// addr is the fake's TCP address.
func (f *fakeNSQD) addr() string { return f.ln.Addr().String() }

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	f := newFakeNSQD(t)
	f.close()
	return f.addr()
}

// acceptLoop hands every connection to the test or, for a fast fake, serves
// it on its own goroutine.
func (f *fakeNSQD) acceptLoop() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			nc.Close()
			return
		}
		f.open = append(f.open, nc)
		f.mu.Unlock()
		if !f.fast {
			select {
			case f.conns <- &fakeConn{t: f.t, nc: nc, r: bufio.NewReader(nc)}:
			case <-f.quit:
			}
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := f.serve(nc); err != nil {
				f.fail(err)
			}
			nc.Close()
		}()
	}
}

// close stops accepting, closes every connection and waits for the
// fake's goroutines. It may be called more than once.
func (f *fakeNSQD) close() {
	f.closeOnce.Do(func() {
		f.ln.Close()
		close(f.quit)
		f.mu.Lock()
		f.closed = true
		for _, nc := range f.open {
			nc.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
}

// fail records the first protocol error seen before the fake was closed.
func (f *fakeNSQD) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.err = cmp.Or(f.err, err)
	}
}

// protocolError is the first protocol error a fast fake saw.
func (f *fakeNSQD) protocolError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// check fails the test if a fast fake saw a protocol error or did not
// receive exactly want messages. Call it after the Producer is stopped.
func (f *fakeNSQD) check(tb testing.TB, want int64) {
	tb.Helper()
	if err := f.protocolError(); err != nil {
		tb.Fatalf("fake nsqd: %v", err)
	}
	if got := f.msgs.Load(); got != want {
		tb.Fatalf("fake nsqd received %d messages, want %d", got, want)
	}
}

// okFrame is nsqd's OK reply.
var okFrame = appendFrame(nil, frameTypeResponse, frameOK)

// serve runs one connection of a fast fake until the client closes it. It
// returns an error only for a protocol violation.
func (f *fakeNSQD) serve(nc net.Conn) error {
	r := bufio.NewReaderSize(nc, 64<<10)
	w := bufio.NewWriterSize(nc, 16<<10)
	magic, err := r.Peek(4)
	if err != nil {
		return nil
	}
	if string(magic) != magicV2 {
		return fmt.Errorf("magic %q", magic)
	}
	r.Discard(4)
	in := wireReader{r: r}
	for {
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return nil
			}
		}
		kind, msgs, err := in.next()
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		case kind == cmdNOP:
		case kind == cmdIDENTIFY:
			w.Write(f.identify)
		case kind == cmdAUTH:
			return errors.New("AUTH, which the fake did not ask for")
		default:
			f.msgs.Add(int64(msgs))
			w.Write(okFrame)
		}
	}
}

// identifyReply is nsqd's IDENTIFY reply frame granting the given features.
func identifyReply(tlsOn bool, compression string, auth bool) []byte {
	return appendFrame(nil, frameTypeResponse, fmt.Appendf(nil,
		`{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,`+
			`"tls_v1":%v,"deflate":%v,"deflate_level":6,"max_deflate_level":6,"snappy":%v,"sample_rate":0,`+
			`"auth_required":%v,"output_buffer_size":16384,"output_buffer_timeout":250}`,
		tlsOn, compression == "deflate", compression == "snappy", auth))
}

// accept waits for the next connection to a scripted fake.
func (f *fakeNSQD) accept() *fakeConn {
	f.t.Helper()
	select {
	case c := <-f.conns:
		f.t.Cleanup(func() { c.nc.Close() })
		return c
	case <-time.After(10 * time.Second):
		f.t.Fatal("fake nsqd: no connection within 10s")
		return nil
	}
}

// acceptIdentified accepts a connection and completes the handshake with a
// plain IDENTIFY reply.
func (f *fakeNSQD) acceptIdentified() *fakeConn {
	f.t.Helper()
	return f.acceptWithReply(identifyReply(false, "", false))
}

// acceptWithReply accepts a connection, checks the magic, reads IDENTIFY
// and answers it with reply.
func (f *fakeNSQD) acceptWithReply(reply []byte) *fakeConn {
	f.t.Helper()
	c := f.accept()
	c.expectMagic()
	c.readIdentify()
	c.write(reply)
	return c
}

// wireReader reads the commands a client sends.
type wireReader struct {
	r    *bufio.Reader
	keep bool   // keep each command's exact bytes in raw
	raw  []byte // the last command, with keep
}

// next reads one command, its line and, for a command with a body, the
// size and the body, and checks its framing: a known command with the
// arguments it takes, a body that is not empty and, for MPUB, a size that
// matches its messages. It returns the command and the number of messages
// it carries; without keep it allocates nothing. A connection that ends
// between commands gives io.EOF.
func (w *wireReader) next() (kind cmdKind, msgs int, err error) {
	w.raw = w.raw[:0]
	line, err := w.r.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			return 0, 0, io.EOF
		}
		return 0, 0, fmt.Errorf("reading a command line: %v (got %q)", err, line)
	}
	w.keepBytes(line)
	verb, args, _ := bytes.Cut(line[:len(line)-1], []byte(" "))
	kind, known := wireKinds[string(verb)]
	if !known {
		return 0, 0, fmt.Errorf("unknown command %q", line)
	}
	if argCount(args) != wireArgs[kind] {
		return 0, 0, fmt.Errorf("bad command line %q", line)
	}
	switch kind {
	case cmdNOP:
		return kind, 0, nil
	case cmdMPUB:
		msgs, err = w.mpub()
		return kind, msgs, err
	case cmdPUB, cmdDPUB:
		msgs = 1
	}
	_, err = w.body()
	return kind, msgs, err
}

// wireKinds are the commands a client may send, by name.
var wireKinds = func() map[string]cmdKind {
	m := make(map[string]cmdKind)
	for k, name := range cmdNames {
		m[name] = cmdKind(k)
	}
	return m
}()

// wireArgs is the number of arguments on the line of each command that
// takes any.
var wireArgs = map[cmdKind]int{cmdPUB: 1, cmdMPUB: 1, cmdDPUB: 2}

// argCount returns the number of space-separated arguments, or -1 if one
// is empty.
func argCount(args []byte) int {
	if len(args) == 0 {
		return 0
	}
	n := 1
	for i, b := range args {
		if b == ' ' {
			if i == 0 || i == len(args)-1 || args[i-1] == ' ' {
				return -1
			}
			n++
		}
	}
	return n
}

// mpub reads an MPUB body and returns its number of messages.
func (w *wireReader) mpub() (int, error) {
	size, err := w.uint32()
	if err != nil {
		return 0, err
	}
	count, err := w.uint32()
	if err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, errors.New("MPUB of 0 messages")
	}
	rest := int64(size) - 4
	for i := range count {
		n, err := w.body()
		if err != nil {
			return 0, fmt.Errorf("MPUB message %d of %d: %w", i, count, err)
		}
		rest -= 4 + int64(n)
	}
	if rest != 0 {
		return 0, fmt.Errorf("MPUB body size %d does not match its %d messages (off by %d)", size, count, rest)
	}
	return int(count), nil
}

// uint32 reads a big-endian size.
func (w *wireReader) uint32() (uint32, error) {
	b, err := w.r.Peek(4)
	if err != nil {
		return 0, fmt.Errorf("reading a size: %w", unexpectedEOF(err))
	}
	w.keepBytes(b)
	v := binary.BigEndian.Uint32(b)
	w.r.Discard(4)
	return v, nil
}

// body reads a sized body, which must not be empty, and returns its size.
func (w *wireReader) body() (int, error) {
	n, err := w.uint32()
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("empty body")
	}
	if w.keep {
		w.raw = append(w.raw, make([]byte, n)...)
		_, err = io.ReadFull(w.r, w.raw[len(w.raw)-int(n):])
	} else {
		_, err = w.r.Discard(int(n))
	}
	if err != nil {
		return 0, fmt.Errorf("reading a body of %d bytes: %w", n, unexpectedEOF(err))
	}
	return int(n), nil
}

// keepBytes appends b to raw, with keep.
func (w *wireReader) keepBytes(b []byte) {
	if w.keep {
		w.raw = append(w.raw, b...)
	}
}

// fakeConn is the server side of one client connection to a scripted fake.
type fakeConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

// newPipeConn returns the two ends of an in-memory connection: the client's
// and a fakeConn for the server side. Both are closed at the end of the test.
func newPipeConn(t testing.TB) (net.Conn, *fakeConn) {
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, &fakeConn{t: t, nc: server, r: bufio.NewReader(server)}
}

// readN reads exactly n bytes from the client, failing the test on error.
func (c *fakeConn) readN(n int) []byte {
	c.t.Helper()
	b := make([]byte, n)
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c.r, b); err != nil {
		c.t.Fatalf("fake nsqd: reading %d bytes: %v", n, err)
	}
	return b
}

// expectMagic checks the protocol magic.
func (c *fakeConn) expectMagic() {
	c.t.Helper()
	if got := string(c.readN(4)); got != magicV2 {
		c.t.Fatalf("magic = %q, want %q", got, magicV2)
	}
}

// readIdentify reads IDENTIFY and returns its decoded JSON body.
func (c *fakeConn) readIdentify() map[string]any {
	c.t.Helper()
	raw := c.readCommand()
	if !strings.HasPrefix(string(raw), "IDENTIFY\n") {
		c.t.Fatalf("want IDENTIFY, got %q", raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw[len("IDENTIFY\n")+4:], &m); err != nil {
		c.t.Fatalf("IDENTIFY body: %v", err)
	}
	return m
}

// next reads one command with wireReader.next and returns its exact bytes,
// failing the test on a framing error; it returns io.EOF if the client
// closed the connection.
func (c *fakeConn) next() (raw []byte, kind cmdKind, msgs int, err error) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	w := wireReader{r: c.r, keep: true}
	kind, msgs, err = w.next()
	if err != nil && err != io.EOF {
		c.t.Fatalf("fake nsqd: %v", err)
	}
	return w.raw, kind, msgs, err
}

// readCommand reads one whole command as raw bytes.
func (c *fakeConn) readCommand() []byte {
	c.t.Helper()
	raw, _, _, err := c.next()
	if err != nil {
		c.t.Fatalf("fake nsqd: reading a command: %v", err)
	}
	return raw
}

// readCommandSkipNOP reads the next command that is not a NOP.
func (c *fakeConn) readCommandSkipNOP() []byte {
	c.t.Helper()
	for {
		if cmd := c.readCommand(); string(cmd) != "NOP\n" {
			return cmd
		}
	}
}

// expectNOP reads the next command, which must be a NOP: a Ping, or the
// answer to a heartbeat.
func (c *fakeConn) expectNOP() {
	c.t.Helper()
	if got := string(c.readCommand()); got != "NOP\n" {
		c.t.Fatalf("got %q, want NOP", got)
	}
}

// answerMessages reads commands and answers each with OK until they carried
// n messages, however the client merged them.
func (c *fakeConn) answerMessages(n int) {
	c.t.Helper()
	for n > 0 {
		_, kind, msgs, err := c.next()
		if err != nil {
			c.t.Fatalf("fake nsqd: %d messages still to come: %v", n, err)
		}
		if kind != cmdNOP {
			n -= msgs
			c.sendOK()
		}
	}
}

// expectEOF checks that the client closed the connection without sending
// anything more (NOPs aside).
func (c *fakeConn) expectEOF() {
	c.t.Helper()
	for {
		raw, kind, _, err := c.next()
		if err == io.EOF {
			return
		}
		if kind != cmdNOP {
			c.t.Fatalf("want EOF, got %q", raw)
		}
	}
}

// write sends raw bytes to the client.
func (c *fakeConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("fake nsqd: write: %v", err)
	}
}

// sendResponse sends a response frame.
func (c *fakeConn) sendResponse(data string) {
	c.write(appendFrame(nil, frameTypeResponse, []byte(data)))
}

// sendOK sends an OK frame.
func (c *fakeConn) sendOK() { c.write(okFrame) }

// sendError sends an error frame.
func (c *fakeConn) sendError(data string) { c.write(appendFrame(nil, frameTypeError, []byte(data))) }

// swallow reads and drops everything the client sends from now on, on its
// own goroutine, for at most 10s: first is closed when the first bytes
// arrive (or reading ends), done when reading ends. c must not be read
// otherwise after it.
func (c *fakeConn) swallow() (first, done <-chan struct{}) {
	firstc, donec := make(chan struct{}), make(chan struct{})
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		defer close(donec)
		buf := make([]byte, 4096)
		for started := false; ; {
			_, err := c.r.Read(buf)
			if !started {
				close(firstc)
				started = true
			}
			if err != nil {
				return
			}
		}
	}()
	return firstc, donec
}

// upgrade sends reply, an IDENTIFY reply, on c, which has read IDENTIFY, and
// runs the server side of the upgrades it grants: the TLS handshake (if
// tlsCfg is not nil) and one OK through TLS, then the compression layer
// ("snappy", "deflate" or "") and one OK through it. From then on c reads
// and writes through every layer. It returns the TLS connection, if any,
// and the error of the TLS handshake.
//
// Bytes leave in as few writes as the protocol allows, so that a client
// reading ahead would swallow what belongs to the next layer: without TLS,
// the reply and the compressed OK go in one write; with TLS, the TLS OK
// and the compressed OK go in one TLS record.
func (c *fakeConn) upgrade(reply []byte, tlsCfg *tls.Config, compression string) (*tls.Conn, error) {
	c.t.Helper()
	raw := &writeCapture{Conn: c.nc}
	raw.Write(reply)
	below := raw
	var in io.Reader = c.r // whatever c buffered is not lost
	var tc *tls.Conn
	if tlsCfg != nil {
		if err := raw.release(); err != nil {
			c.t.Fatal(err)
		}
		tc = tls.Server(readerConn{raw, c.r}, tlsCfg)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			return tc, err
		}
		tc.SetDeadline(time.Time{})
		below = &writeCapture{Conn: tc}
		below.Write(okFrame)
		in = tc
	}
	var up net.Conn = readerConn{below, in}
	switch compression {
	case "snappy":
		w := snappy.NewWriter(below)
		up = layerConn{Conn: below, r: snappy.NewReader(in), w: w, flush: w.Flush}
	case "deflate":
		w, err := flate.NewWriter(below, 6)
		if err != nil {
			c.t.Fatal(err)
		}
		up = layerConn{Conn: below, r: flate.NewReader(in), w: w, flush: w.Flush}
	case "":
	default:
		c.t.Fatalf("unknown compression %q", compression)
	}
	if compression != "" {
		if _, err := up.Write(okFrame); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := below.release(); err != nil {
		c.t.Fatal(err)
	}
	c.nc, c.r = up, bufio.NewReader(up)
	return tc, nil
}

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

// testCA is a test certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

// loopbackIPs are the addresses of the loopback interface.
var loopbackIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}

// newTestCA returns a self-signed CA valid for an hour around now.
func newTestCA(t testing.TB) *testCA {
	t.Helper()
	ca := &testCA{pool: x509.NewCertPool()}
	ca.cert, ca.key, ca.pem, _ = newCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	ca.pool.AddCert(ca.cert)
	return ca
}

// issue returns a certificate for the given names, signed by ca, with its
// PEM encodings.
func (ca *testCA) issue(t testing.TB, dns []string, ips []net.IP) (cert tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	_, _, certPEM, keyPEM = newCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "fake nsqd"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    dns,
		IPAddresses: ips,
	}, ca)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM, keyPEM
}

// newCert completes tmpl with a random serial number and a validity of an
// hour around now, and signs it with a new key by parent, or by itself if
// parent is nil.
func newCert(t testing.TB, tmpl *x509.Certificate, parent *testCA) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, big.NewInt(1<<62)); err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}

// recLogger is a logger for SetLogger that keeps every line; a test reads
// them with String or waits for one with waitLine.
type recLogger struct {
	mu    sync.Mutex
	lines []string
	grew  chan struct{} // gets a value when a line is added; made by waitLine
}

func (l *recLogger) Output(_ int, s string) error {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	grew := l.grew
	l.mu.Unlock()
	if grew != nil {
		select {
		case grew <- struct{}{}:
		default:
		}
	}
	return nil
}

// String returns the lines logged so far, one a line.
func (l *recLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitLine returns the first line containing sub, failing after 10s.
func (l *recLogger) waitLine(t testing.TB, sub string) string {
	t.Helper()
	l.mu.Lock()
	if l.grew == nil {
		l.grew = make(chan struct{}, 1)
	}
	grew := l.grew
	l.mu.Unlock()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for _, s := range l.lines {
			if strings.Contains(s, sub) {
				l.mu.Unlock()
				return s
			}
		}
		l.mu.Unlock()
		select {
		case <-grew:
		case <-timeout:
			t.Fatalf("no log line with %q within 10s in:\n%s", sub, l)
			return ""
		}
	}
}

// pubBytes returns the exact bytes of a PUB.
func pubBytes(topic, body string) string {
	return fmt.Sprintf("PUB %s\n%s%s", topic, be32(len(body)), body)
}

// be32 is a 4-byte big-endian size as a string.
func be32(n int) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(n)))
}

// newTestProducer returns a Producer for addr, with NewConfig if cfg is
// nil, that is stopped at the end of the test.
func newTestProducer(t testing.TB, addr string, cfg *Config) *Producer {
	t.Helper()
	p, err := NewProducer(addr, cmp.Or(cfg, NewConfig()))
	return stopAtEnd(t, p, err)
}

// newTestPool returns a ProducerPool, with NewConfig if cfg is nil, that is
// stopped at the end of the test.
func newTestPool(t testing.TB, addrs []string, cfg *Config) *ProducerPool {
	t.Helper()
	pp, err := NewProducerPool(addrs, cmp.Or(cfg, NewConfig()))
	return stopAtEnd(t, pp, err)
}

// stopAtEnd fails the test if err is not nil and stops x at its end.
func stopAtEnd[T interface{ Stop() }](t testing.TB, x T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	return x
}

// fakeProducer returns a new scripted fake and a Producer for it with cfg.
func fakeProducer(t testing.TB, cfg *Config) (*fakeNSQD, *Producer) {
	t.Helper()
	f := newFakeNSQD(t)
	return f, newTestProducer(t, f.addr(), cfg)
}

// publishOK publishes body to topic with p, expects the exact PUB on c, or
// on the next connection to f if c is nil, answers it with OK and checks
// that the publish succeeded. It returns the connection.
func (f *fakeNSQD) publishOK(p *Producer, c *fakeConn, topic, body string) *fakeConn {
	f.t.Helper()
	errc := async(func() error { return p.Publish(topic, []byte(body)) })
	if c == nil {
		c = f.acceptIdentified()
	}
	if got, want := string(c.readCommandSkipNOP()), pubBytes(topic, body); got != want {
		f.t.Fatalf("wrote %q, want %q", got, want)
	}
	c.sendOK()
	if err := result(f.t, errc); err != nil {
		f.t.Fatalf("publish %q: %v", body, err)
	}
	return c
}

// pendingPublish starts Publish("t", "m") on a Producer with cfg for a new
// scripted fake, and returns once the fake has read the PUB: the publish
// then waits for its answer, which errc delivers.
func pendingPublish(t testing.TB, cfg *Config) (p *Producer, f *fakeNSQD, c *fakeConn, errc <-chan error) {
	t.Helper()
	f, p = fakeProducer(t, cfg)
	errc = async(func() error { return p.Publish("t", []byte("m")) })
	c = f.acceptIdentified()
	if got, want := string(c.readCommand()), pubBytes("t", "m"); got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	return p, f, c, errc
}

// async runs f in a goroutine and returns a channel with its result.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// result waits for a result from async, failing after 10s.
func result(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10s")
		return nil
	}
}

// collect waits for n results on done, failing after 10s.
func collect(t testing.TB, done <-chan *ProducerTransaction, n int) []*ProducerTransaction {
	t.Helper()
	timeout := time.After(10 * time.Second)
	out := make([]*ProducerTransaction, 0, n)
	for len(out) < n {
		select {
		case tr := <-done:
			out = append(out, tr)
		case <-timeout:
			t.Fatalf("%d of %d results within 10s", len(out), n)
		}
	}
	return out
}

// collectOK waits for n results on done and fails the test if any is an
// error.
func collectOK(t testing.TB, done <-chan *ProducerTransaction, n int) {
	t.Helper()
	for _, tr := range collect(t, done, n) {
		if tr.Error != nil {
			t.Fatalf("publish %v: %v", tr.Args, tr.Error)
		}
	}
}

// connect makes p connect to f with Ping and returns the server side.
func connect(t testing.TB, f *fakeNSQD, p *Producer) *fakeConn {
	t.Helper()
	errc := async(p.Ping)
	c := f.acceptIdentified()
	c.expectNOP()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestConn returns a connection over one end of a pipe whose writer
// writes to w, with its goroutines not started: a test drives writeBatch,
// handle, fail and exit itself. Its onExit finishes what is left with the
// connection's error; tests that look at what is left replace it.
func newTestConn(t testing.TB, cfg *Config, w io.Writer) *conn {
	client, _ := newPipeConn(t)
	l := &link{nc: client, base: client, r: bufio.NewReader(client), bw: bufio.NewWriter(w)}
	return newConn(l, connParams{addr: "test", cfg: cfg, log: &logState{}, model: trustingModel(), onExit: finishLeft})
}

// trustingModel returns a model under which no command to the topics the
// tests use is a suspect: nsqd has accepted them all, at any size and delay.
func trustingModel() *model {
	m := &model{}
	trust(m, "a", "b", "c", "d", "t", "u")
	return m
}

// trust makes m hold that nsqd has accepted publishes to topics, at any
// size and delay, so that none is a suspect and tests can pipeline them.
func trust(m *model, topics ...string) {
	for _, topic := range topics {
		m.accepted(shape{topic: topic, maxBody: 1 << 30, dpub: true, delay: 1 << 40})
	}
}

// finishLeft is an onExit that finishes what a connection left with its
// error.
func finishLeft(_ *conn, cause error, left []leftover) {
	for _, l := range left {
		l.t.finish(cause)
	}
}

// noGoroutinesLeft fails the test if a goroutine runs nsqpub code.
func noGoroutinesLeft(t testing.TB) {
	t.Helper()
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left:\n%s", g)
	}
}

// nsqpubGoroutines returns the stacks of goroutines running nsqpub code.
// A goroutine that has signalled its exit may still be returning, so, like
// goleak, it looks again for a short while before reporting any.
func nsqpubGoroutines() string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		g := nsqpubGoroutinesNow()
		if g == "" || time.Now().After(deadline) {
			return g
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// nsqpubGoroutinesNow is one look at the goroutines running nsqpub code.
func nsqpubGoroutinesNow() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range []string{"nsqpub.(*conn)", "nsqpub.(*Producer).dial", "nsqpub.(*mailer)"} {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
