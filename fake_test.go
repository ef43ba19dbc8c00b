package nsqpub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeNSQD is a scripted in-process nsqd: every accepted connection is handed
// to the test as a *fakeConn, which reads the client's exact bytes and writes
// frames on command.
type fakeNSQD struct {
	t     testing.TB
	ln    net.Listener
	conns chan *fakeConn
}

// newFakeNSQD listens on a loopback port; it is closed at the end of the test.
func newFakeNSQD(t testing.TB) *fakeNSQD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNSQD{t: t, ln: ln, conns: make(chan *fakeConn, 16)}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(f.conns)
				return
			}
			f.conns <- &fakeConn{t: t, nc: nc, r: bufio.NewReader(nc)}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

// addr is the fake's TCP address.
func (f *fakeNSQD) addr() string { return f.ln.Addr().String() }

// accept waits for the next connection.
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
	return f.acceptWithReply(`{"max_rdy_count":2500,"version":"1.3.0","tls_v1":false,"deflate":false,"snappy":false,"auth_required":false}`)
}

// acceptWithReply accepts a connection, checks the magic, reads IDENTIFY
// and answers it with the JSON reply.
func (f *fakeNSQD) acceptWithReply(reply string) *fakeConn {
	f.t.Helper()
	c := f.accept()
	c.expectMagic()
	c.readIdentify()
	c.sendResponse(reply)
	return c
}

// fakeConn is the server side of one client connection.
type fakeConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
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
	if !bytes.HasPrefix(raw, []byte("IDENTIFY\n")) {
		c.t.Fatalf("want IDENTIFY, got %q", raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw[len("IDENTIFY\n")+4:], &m); err != nil {
		c.t.Fatalf("IDENTIFY body: %v", err)
	}
	return m
}

// readCommand reads one whole command as raw bytes: the line and, for
// commands with a body, the size and the body.
func (c *fakeConn) readCommand() []byte {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("fake nsqd: reading command line: %v (got %q)", err, line)
	}
	name, _, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
	switch name {
	case "NOP", "CLS":
		return line
	case "PUB", "DPUB", "MPUB", "IDENTIFY", "AUTH":
	default:
		c.t.Fatalf("fake nsqd: unknown command %q", line)
	}
	size := c.readN(4)
	body := c.readN(int(binary.BigEndian.Uint32(size)))
	return append(append(line, size...), body...)
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
func (c *fakeConn) sendOK() { c.sendResponse("OK") }

// sendError sends an error frame.
func (c *fakeConn) sendError(data string) { c.write(appendFrame(nil, frameTypeError, []byte(data))) }

// expectEOF checks that the client closed the connection without sending
// anything more (NOPs aside).
func (c *fakeConn) expectEOF() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := c.r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return
		}
		if err != nil && len(line) == 0 {
			c.t.Fatalf("want EOF, got error %v", err)
		}
		if string(line) != "NOP\n" {
			c.t.Fatalf("want EOF, got %q (err %v)", line, err)
		}
	}
}

// pub returns the exact bytes of a PUB.
func pubBytes(topic, body string) string {
	return fmt.Sprintf("PUB %s\n%s%s", topic, be32(len(body)), body)
}

// be32 is a 4-byte big-endian size as a string.
func be32(n int) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(n)))
}

// newTestProducer returns a Producer for addr that is stopped at the end of
// the test.
func newTestProducer(t testing.TB, addr string, cfg *Config) *Producer {
	t.Helper()
	if cfg == nil {
		cfg = NewConfig()
	}
	p, err := NewProducer(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
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

// connect makes p connect to f with Ping and returns the server side.
func connect(t testing.TB, f *fakeNSQD, p *Producer) *fakeConn {
	t.Helper()
	errc := async(p.Ping)
	c := f.acceptIdentified()
	if got := string(c.readCommand()); got != "NOP\n" {
		t.Fatalf("Ping wrote %q", got)
	}
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
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	l := &link{nc: client, base: client, r: bufio.NewReader(client), bw: bufio.NewWriter(w)}
	return newConn(l, "test", cfg, &logState{}, func(_ *conn, cause error, left []leftover) {
		for _, l := range left {
			l.t.finish(cause)
		}
	})
}
