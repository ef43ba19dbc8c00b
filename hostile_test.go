package nsqpub

// Hostile server bytes (guarantee 6): after a valid handshake, a broken or
// foreign server sends garbage, wrong or huge sizes, non-UTF-8 data, an HTTP
// reply, unknown frame types, message frames, an error frame with nothing in
// flight, or a response before any command. The connection must end with a
// clear error, never a panic and never an allocation near a declared size;
// FuzzConnServerBytes feeds random server byte streams to a live conn.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// sizeHeader is a frame header declaring size and frame type typ.
func sizeHeader(size uint32, typ int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	return binary.BigEndian.AppendUint32(b, uint32(typ))
}

// hostileCase is one bad byte stream a server sends after the handshake.
type hostileCase struct {
	name     string
	data     []byte
	want     error  // the connection's error wraps it; nil for an error frame (a *ServerError)
	text     string // the connection's error contains it
	declared uint32 // a frame size larger than maxFrameSize, never to be allocated
}

var hostileCases = []hostileCase{
	{name: "garbage", data: []byte("\x13\x37\xde\xadthis is not an NSQ frame at all"), want: ErrProtocol, text: "frame size", declared: 0x1337dead},
	{name: "garbage with a small size", data: []byte("\x00\x00\x00\x07zzzzzzz"), want: ErrProtocol, text: "unexpected frame type"},
	{name: "size 0", data: sizeHeader(0, 0), want: ErrProtocol, text: "frame size 0"},
	{name: "size 3", data: []byte("\x00\x00\x00\x03abc"), want: ErrProtocol, text: "frame size 3"},
	{name: "size larger than the data", data: append(sizeHeader(100, 0), "OK"...), want: io.ErrUnexpectedEOF},
	{name: "size smaller than the data", data: append(sizeHeader(5, 0), "OK"...), want: ErrProtocol, text: `unexpected reply "O"`},
	{name: "truncated size", data: []byte("\x00\x00"), want: io.ErrUnexpectedEOF},
	{name: "truncated type", data: []byte("\x00\x00\x00\x06\x00\x00"), want: io.ErrUnexpectedEOF},
	{name: "size just over the limit", data: sizeHeader(maxFrameSize+5, 0), want: ErrProtocol, text: "frame size", declared: maxFrameSize + 5},
	{name: "size 1 GiB", data: sizeHeader(1<<30, 0), want: ErrProtocol, text: "frame size", declared: 1 << 30},
	{name: "size 2 GiB-1", data: sizeHeader(0x7fffffff, 0), want: ErrProtocol, text: "frame size", declared: 0x7fffffff},
	{name: "size 2 GiB (negative as int32)", data: sizeHeader(0x80000000, 0), want: ErrProtocol, text: "frame size", declared: 0x80000000},
	{name: "size 4 GiB-1", data: sizeHeader(0xffffffff, 0), want: ErrProtocol, text: "frame size", declared: 0xffffffff},
	{name: "non-UTF-8 response", data: appendFrame(nil, frameTypeResponse, []byte("\xff\xfe\xfd\x80")), want: ErrProtocol, text: "unexpected reply"},
	{name: "empty response", data: appendFrame(nil, frameTypeResponse, nil), want: ErrProtocol, text: "unexpected reply"},
	{name: "CLOSE_WAIT", data: appendFrame(nil, frameTypeResponse, []byte("CLOSE_WAIT")), want: ErrProtocol, text: "unexpected reply"},
	{name: "HTTP reply", data: []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), want: ErrProtocol, text: "frame size", declared: 0x48545450},
	{name: "frame type 3", data: appendFrame(nil, 3, []byte("OK")), want: ErrProtocol, text: "unexpected frame type 3"},
	{name: "frame type -1", data: appendFrame(nil, -1, []byte("OK")), want: ErrProtocol, text: "unexpected frame type -1"},
	{name: "frame type 2^31-1", data: appendFrame(nil, 0x7fffffff, nil), want: ErrProtocol, text: "unexpected frame type"},
	{name: "message frame", data: appendFrame(nil, frameTypeMessage, []byte("\x00\x00\x00\x00\x00\x00\x00\x01\x00\x010123456789abcdefbody")), want: ErrProtocol, text: "unexpected frame type 2"},
	{name: "heartbeat then garbage", data: append(appendFrame(nil, frameTypeResponse, frameHeartbeat), "\xff\xff\xff\xffjunk"...), want: ErrProtocol, text: "frame size", declared: 0xffffffff},
	{name: "non-UTF-8 error frame", data: appendFrame(nil, frameTypeError, []byte("\xff\xfe \x80\x81"))},
	{name: "error frame without code", data: appendFrame(nil, frameTypeError, nil)},
}

// heapAlloc returns the bytes allocated so far by the whole program.
func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestHostileFrameNoAllocation: reading a frame that declares a size beyond
// maxFrameSize allocates nothing near that size.
func TestHostileFrameNoAllocation(t *testing.T) {
	for _, hc := range hostileCases {
		if hc.declared == 0 {
			continue
		}
		t.Run(hc.name, func(t *testing.T) {
			r := bytes.NewReader(hc.data)
			before := heapAlloc()
			var err error
			for err == nil {
				_, _, _, err = readFrame(r, nil, maxFrameSize)
			}
			allocated := heapAlloc() - before
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("readFrame: %v, want ErrProtocol", err)
			}
			if allocated > 64<<10 {
				t.Fatalf("allocated %d bytes reading a frame that declares %d", allocated, hc.declared)
			}
		})
	}
}

// lineLogger sends every log line to a channel.
type lineLogger chan string

func (l lineLogger) Output(_ int, s string) error {
	select {
	case l <- s:
	default:
	}
	return nil
}

// waitLine returns the first line containing sub, failing after 10 s.
func (l lineLogger) waitLine(t *testing.T, sub string) string {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case s := <-l:
			if strings.Contains(s, sub) {
				return s
			}
		case <-timer.C:
			t.Fatalf("no log line with %q within 10s", sub)
			return ""
		}
	}
}

// TestHostileServerInReply: each bad stream, sent in reply to a publish,
// fails that publish with ErrUnknownOutcome wrapping a clear error (nsqd's
// error for an error frame), closes the connection, and allocates nothing
// near a declared size; the next publish reconnects and succeeds.
func TestHostileServerInReply(t *testing.T) {
	for _, hc := range hostileCases {
		t.Run(hc.name, func(t *testing.T) {
			f := newFakeNSQD(t)
			p := newTestProducer(t, f.addr(), nil)
			before := heapAlloc()
			errc := async(func() error { return p.Publish("t", []byte("m")) })
			c := f.acceptIdentified()
			c.readCommand()
			c.write(hc.data)
			c.nc.Close()
			err := result(t, errc)
			if allocated := heapAlloc() - before; allocated > 8<<20 {
				t.Errorf("allocated %d bytes", allocated)
			}
			var se *ServerError
			switch {
			case hc.want == nil:
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want *ServerError", err)
				}
			case !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, hc.want) || !strings.Contains(err.Error(), hc.text):
				t.Fatalf("err = %v, want ErrUnknownOutcome and %v (%q)", err, hc.want, hc.text)
			}
			errc = async(func() error { return p.Publish("t", []byte("again")) })
			c = f.acceptIdentified()
			c.readCommand()
			c.sendOK()
			if err := result(t, errc); err != nil {
				t.Fatalf("publish after reconnecting: %v", err)
			}
		})
	}
}

// TestHostileServerBeforeAnyCommand: the same streams, and a response or an
// error frame, sent when nothing is in flight, close the connection with a
// clear error; the next publish reconnects and succeeds.
func TestHostileServerBeforeAnyCommand(t *testing.T) {
	cases := append([]hostileCase{
		{name: "response before any command", data: appendFrame(nil, frameTypeResponse, frameOK), want: ErrProtocol, text: "reply OK with no command in flight"},
		{name: "error frame with nothing in flight", data: appendFrame(nil, frameTypeError, []byte("E_INVALID cannot CLS in current state")), text: "nsqd error with no command in flight"},
	}, hostileCases...)
	for _, hc := range cases {
		t.Run(hc.name, func(t *testing.T) {
			f := newFakeNSQD(t)
			p := newTestProducer(t, f.addr(), nil)
			lg := make(lineLogger, 64)
			p.SetLogger(lg, LogLevelWarning)
			before := heapAlloc()
			c := connect(t, f, p) // a NOP: nothing is in flight
			c.write(hc.data)
			c.nc.Close()
			line := lg.waitLine(t, "connection closed")
			if allocated := heapAlloc() - before; allocated > 8<<20 {
				t.Errorf("allocated %d bytes", allocated)
			}
			want := hc.text
			if hc.want == nil && want == "" {
				want = "nsqd error with no command in flight"
			}
			if hc.want == ErrProtocol && !strings.Contains(line, "protocol error") || !strings.Contains(line, want) {
				t.Fatalf("log %q, want %q", line, want)
			}
			errc := async(func() error { return p.Publish("t", []byte("m")) })
			c = f.acceptIdentified()
			if got := string(c.readCommandSkipNOP()); got != pubBytes("t", "m") {
				t.Fatalf("sent %q", got)
			}
			c.sendOK()
			if err := result(t, errc); err != nil {
				t.Fatalf("publish after reconnecting: %v", err)
			}
		})
	}
}

// FuzzConnServerBytes runs a live conn over net.Pipe whose server, after a
// valid IDENTIFY reply and once the first command arrives, writes the fuzz
// input and closes. Six commands (mergeable PUBs, an MPUB, a DPUB, a PUB to
// another topic, a NOP) go through a window of two, and half the inputs
// also stop the conn. Every command must complete exactly once, within a
// bound, with nil or an error; nothing may panic; both goroutines must end.
func FuzzConnServerBytes(f *testing.F) {
	for _, hc := range hostileCases {
		f.Add(hc.data)
	}
	ok := appendFrame(nil, frameTypeResponse, frameOK)
	hb := appendFrame(nil, frameTypeResponse, frameHeartbeat)
	f.Add([]byte{})
	f.Add(bytes.Repeat(ok, 5))
	f.Add(bytes.Repeat(ok, 6))
	f.Add(bytes.Repeat(append(hb, ok...), 5))
	f.Add(append(bytes.Clone(ok), appendFrame(nil, frameTypeError, []byte("E_BAD_MESSAGE MPUB message too big 2 > 1"))...))
	f.Add(append(bytes.Repeat(ok, 2), appendFrame(nil, frameTypeError, []byte("E_INVALID DPUB timeout 5 out of range"))...))
	f.Add(ok[:7])
	f.Fuzz(func(t *testing.T, in []byte) {
		connServerBytes(t, in)
	})
}

// connServerBytes is one run of FuzzConnServerBytes.
func connServerBytes(t *testing.T, in []byte) {
	const bound = 10 * time.Second
	cfg := NewConfig()
	cfg.MaxInFlight = 2
	cfg.HeartbeatInterval = -1
	cfg.ReadTimeout = 5 * time.Second
	cfg.StopTimeout = 200 * time.Millisecond
	client, server := net.Pipe()

	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		defer server.Close()
		server.SetDeadline(time.Now().Add(bound))
		r := bufio.NewReader(server)
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		if _, err := r.ReadBytes('\n'); err != nil {
			return
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
			return
		}
		if _, err := server.Write(appendFrame(nil, frameTypeResponse, []byte(`{"version":"1.3.0"}`))); err != nil {
			return
		}
		// Drop what the client writes from now on; start answering once
		// the first command arrives.
		first := make(chan struct{})
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			buf := make([]byte, 4096)
			for started := false; ; {
				_, err := r.Read(buf)
				if !started {
					close(first)
					started = true
				}
				if err != nil {
					return
				}
			}
		}()
		select {
		case <-first:
		case <-time.After(bound):
		}
		server.Write(in)
		server.Close()
		<-drained
	}()

	onExitDone := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	l, err := handshake(ctx, client, "fuzz", cfg, &logState{})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c := startConn(l, "fuzz", cfg, &logState{}, func(_ *conn, cause error, left []leftover) {
		for _, l := range left {
			l.t.finish(cause)
		}
		close(onExitDone)
	})
	cmds := []command{
		{kind: cmdPUB, topic: "t", body: []byte("a")},
		{kind: cmdPUB, topic: "t", body: []byte("b")},
		{kind: cmdMPUB, topic: "t", bodies: [][]byte{[]byte("c"), []byte("d")}},
		{kind: cmdDPUB, topic: "t", delay: 5 * time.Millisecond, body: []byte("e")},
		{kind: cmdPUB, topic: "u", body: []byte("f")},
		{kind: cmdNOP},
	}
	done := make(chan *tx, 2*len(cmds))
	sent := 0
	for _, cmd := range cmds {
		if err := c.send(ctx, &tx{cmd: cmd, wait: done}); err == nil {
			sent++
		} else if err != errConnClosed {
			t.Fatalf("send: %v", err)
		}
	}
	if len(in)%2 == 1 {
		c.stop()
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for i := 0; i < sent; i++ {
		select {
		case <-done:
		case <-timer.C:
			t.Fatalf("%d of %d commands completed within %v (input %q)", i, sent, bound, in)
		}
	}
	select {
	case <-onExitDone:
	case <-timer.C:
		t.Fatalf("the conn did not exit within %v (input %q)", bound, in)
	}
	<-srvDone
	if len(done) != 0 {
		tr := <-done
		t.Fatalf("a command completed twice: %v (input %q)", tr.err, in)
	}
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left (input %q):\n%s", in, g)
	}
}
