package nsqpub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name string
		cmd  command
		want string
	}{
		{"PUB", command{kind: cmdPUB, topic: "t", body: []byte("hello")}, "PUB t\n\x00\x00\x00\x05hello"},
		{"DPUB", command{kind: cmdDPUB, topic: "t", delay: 1500 * time.Millisecond, body: []byte("x")}, "DPUB t 1500\n\x00\x00\x00\x01x"},
		{"DPUB zero", command{kind: cmdDPUB, topic: "t", body: []byte("x")}, "DPUB t 0\n\x00\x00\x00\x01x"},
		{"MPUB", command{kind: cmdMPUB, topic: "t", bodies: [][]byte{[]byte("a"), []byte("bc")}},
			"MPUB t\n\x00\x00\x00\x0f\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02bc"},
		{"NOP", command{kind: cmdNOP}, "NOP\n"},
		{"AUTH", command{kind: cmdAUTH, body: []byte("s3")}, "AUTH\n\x00\x00\x00\x02s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.cmd.appendTo(nil)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// nsqd's own test: 11 messages of 100 bytes make an MPUB body of 1148.
	bodies := make([][]byte, 11)
	for i := range bodies {
		bodies[i] = make([]byte, 100)
	}
	if n := mpubBodySize(bodies); n != 1148 {
		t.Errorf("mpubBodySize = %d, want 1148", n)
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		typ     int32
		data    string
		wantErr error
	}{
		{"ok", "\x00\x00\x00\x06\x00\x00\x00\x00OK", 0, "OK", nil},
		{"error", string(appendFrame(nil, 1, []byte("E_INVALID x"))), 1, "E_INVALID x", nil},
		{"empty data", "\x00\x00\x00\x04\x00\x00\x00\x00", 0, "", nil},
		{"size below 4", "\x00\x00\x00\x03\x00\x00\x00", 0, "", ErrProtocol},
		{"size huge", "\x7f\xff\xff\xff\x00\x00\x00\x00", 0, "", ErrProtocol},
		{"HTTP reply", "HTTP/1.1 400 Bad Request\r\n\r\n", 0, "", ErrProtocol},
		{"eof", "", 0, "", io.EOF},
		{"eof in header", "\x00\x00\x00\x06\x00\x00", 0, "", io.ErrUnexpectedEOF},
		{"eof in data", "\x00\x00\x00\x06\x00\x00\x00\x00O", 0, "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, data, _, err := readFrame(strings.NewReader(tt.in), nil, 1024)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (typ != tt.typ || string(data) != tt.data) {
				t.Fatalf("got (%d, %q), want (%d, %q)", typ, data, tt.typ, tt.data)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x06\x00\x00\x00\x00OK"))
	f.Add(appendFrame(nil, 1, []byte("E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"a:b\" is not valid")))
	f.Add(appendFrame(appendFrame(nil, 0, []byte("_heartbeat_")), 0, []byte("OK")))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"))
	f.Add([]byte("\xff\xff\xff\xff\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var buf []byte
		for {
			typ, data, b, err := readFrame(r, buf, 256)
			buf = b
			if err != nil {
				return
			}
			if len(data) > 256 || cap(buf) > 256 {
				t.Fatalf("frame of %d bytes (buffer %d) exceeds the limit", len(data), cap(buf))
			}
			if typ == frameTypeError {
				if e := parseServerError(data); e.Code == "" && len(data) > 0 && data[0] != ' ' {
					t.Fatalf("no code parsed from %q", data)
				}
			}
		}
	})
}

func TestParseServerError(t *testing.T) {
	tests := []struct{ in, code, msg string }{
		{"E_BAD_MESSAGE PUB message too big 101 > 100", "E_BAD_MESSAGE", "PUB message too big 101 > 100"},
		{`E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "a:b" is not valid`, "E_BAD_TOPIC", `MPUB topic name "a:b" is not valid`},
		{"E_INVALID", "E_INVALID", ""},
		{"E_INVALID invalid command ", "E_INVALID", "invalid command "},
	}
	for _, tt := range tests {
		e := parseServerError([]byte(tt.in))
		if e.Code != tt.code || e.Message != tt.msg {
			t.Errorf("parse %q = (%q, %q), want (%q, %q)", tt.in, e.Code, e.Message, tt.code, tt.msg)
		}
	}
}

func TestHandshakeBytes(t *testing.T) {
	f := newFakeNSQD(t)
	cfg := &Config{ClientID: "cid", Hostname: "host.example", UserAgent: "ua/1", HeartbeatInterval: 5 * time.Second}
	p := newTestProducer(t, f.addr(), cfg)
	errc := async(p.Ping)
	c := f.accept()
	c.expectMagic()
	id := c.readIdentify()
	want := map[string]any{"client_id": "cid", "hostname": "host.example", "user_agent": "ua/1",
		"feature_negotiation": true, "heartbeat_interval": float64(5000), "tls_v1": false,
		"snappy": false, "deflate": false}
	for k, v := range want {
		if id[k] != v {
			t.Errorf("IDENTIFY %s = %v, want %v", k, id[k], v)
		}
	}
	c.sendResponse(`{"version":"1.3.0","auth_required":false}`)
	if got := string(c.readCommand()); got != "NOP\n" {
		t.Fatalf("Ping wrote %q, want NOP", got)
	}
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeDefaults(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{})
	errc := async(p.Ping)
	c := f.accept()
	c.expectMagic()
	id := c.readIdentify()
	if id["user_agent"] != "nsqpub/"+Version || id["heartbeat_interval"] != float64(30000) || id["hostname"] == "" {
		t.Fatalf("IDENTIFY with a zero Config = %v", id)
	}
	c.sendResponse(`{}`)
	c.readCommand()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
}

func TestPublishExactBytes(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"PUB", func() error { return p.Publish("topic", []byte("hello")) }, pubBytes("topic", "hello")},
		{"MPUB", func() error { return p.MultiPublish("topic", [][]byte{[]byte("a"), []byte("bc")}) },
			"MPUB topic\n" + be32(15) + be32(2) + be32(1) + "a" + be32(2) + "bc"},
		{"DPUB", func() error { return p.DeferredPublish("topic", 2*time.Second, []byte("d")) },
			"DPUB topic 2000\n" + be32(1) + "d"},
		{"ephemeral", func() error { return p.Publish("x#ephemeral", []byte("e")) }, pubBytes("x#ephemeral", "e")},
	}
	var c *fakeConn
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errc := async(tt.call)
			if c == nil {
				c = f.acceptIdentified()
			}
			if got := string(c.readCommand()); got != tt.want {
				t.Fatalf("wrote %q, want %q", got, tt.want)
			}
			c.sendOK()
			if err := result(t, errc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHeartbeatAnsweredBetweenReplies(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	c := f.acceptIdentified()
	if got := string(c.readCommand()); got != pubBytes("t", "m") {
		t.Fatalf("got %q", got)
	}
	c.sendResponse("_heartbeat_")
	if got := string(c.readCommand()); got != "NOP\n" {
		t.Fatalf("heartbeat answered with %q, want NOP", got)
	}
	c.sendResponse("_heartbeat_")
	c.sendOK()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	if got := string(c.readCommand()); got != "NOP\n" {
		t.Fatalf("second heartbeat answered with %q, want NOP", got)
	}
}

func TestSplitFrames(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	c := f.acceptIdentified()
	c.readCommand()
	frame := appendFrame(appendFrame(nil, frameTypeResponse, []byte("_heartbeat_")), frameTypeResponse, []byte("OK"))
	for _, b := range frame {
		c.write([]byte{b})
	}
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
}

// TestErrorFrameFailsHeadOnly: the error frame fails the command it answers
// with *ServerError; nsqd executed nothing behind it, so the commands
// pipelined behind it are sent again on a new connection and succeed.
func TestErrorFrameFailsHeadOnly(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	done := make(chan *ProducerTransaction, 3)
	c := connect(t, f, p)
	for i, topic := range []string{"a", "b", "c"} {
		if err := p.PublishAsync(topic, []byte{'1' + byte(i)}, done, topic); err != nil {
			t.Fatal(err)
		}
	}
	c.readCommandSkipNOP()
	c.sendError("E_BAD_MESSAGE PUB message too big 2 > 1")
	c.nc.Close()
	tr := <-done
	var se *ServerError
	if tr.Args[0] != "a" || !errors.As(tr.Error, &se) || se.Code != "E_BAD_MESSAGE" || se.Message != "PUB message too big 2 > 1" {
		t.Fatalf("first result %v: %v, want a: *ServerError E_BAD_MESSAGE", tr.Args, tr.Error)
	}
	c2 := f.acceptIdentified()
	want := []string{pubBytes("b", "2"), pubBytes("c", "3")}
	for _, w := range want {
		if got := string(c2.readCommandSkipNOP()); got != w {
			t.Fatalf("resent %q, want %q", got, w)
		}
		c2.sendOK()
	}
	for i := 0; i < 2; i++ {
		if tr := <-done; tr.Error != nil {
			t.Fatalf("%v: %v", tr.Args, tr.Error)
		}
	}
}

func TestEOFMidPipelineIsUnknownOutcome(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	c := f.acceptIdentified()
	c.readCommand()
	c.nc.Close()
	err := result(t, errc)
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrUnknownOutcome", err)
	}
}

func TestHostileFrames(t *testing.T) {
	tests := []struct {
		name  string
		reply []byte
	}{
		{"huge size", []byte("\x7f\xff\xff\xff\x00\x00\x00\x00")},
		{"size below 4", []byte("\x00\x00\x00\x01\x00")},
		{"unknown frame type", appendFrame(nil, 7, []byte("OK"))},
		{"message frame", appendFrame(nil, frameTypeMessage, []byte("0123456789abcdefghijklmnopqrstuvwxyz"))},
		{"unexpected response", appendFrame(nil, frameTypeResponse, []byte("CLOSE_WAIT"))},
		{"HTTP reply", []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNSQD(t)
			p := newTestProducer(t, f.addr(), nil)
			errc := async(func() error { return p.Publish("t", []byte("m")) })
			c := f.acceptIdentified()
			c.readCommand()
			c.write(tt.reply)
			err := result(t, errc)
			if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want ErrUnknownOutcome and ErrProtocol", err)
			}
			c.expectEOF()
		})
	}
}

// TestHTTPPort: pointing the producer at an HTTP server fails fast with a
// protocol error, not a 1.2 GB allocation.
func TestHTTPPort(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	c := f.accept()
	c.readN(4)
	c.write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request"))
	err := result(t, errc)
	if !errors.Is(err, ErrNotConnected) || !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v, want ErrNotConnected and ErrProtocol", err)
	}
}

func TestIdentifyRejected(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	errc := async(p.Ping)
	c := f.accept()
	c.expectMagic()
	c.readIdentify()
	c.sendError("E_BAD_BODY IDENTIFY heartbeat interval (500) is invalid")
	err := result(t, errc)
	var se *ServerError
	if !errors.As(err, &se) || se.Code != "E_BAD_BODY" || !errors.Is(err, ErrNotConnected) {
		t.Fatalf("err = %v, want ErrNotConnected wrapping *ServerError E_BAD_BODY", err)
	}
}

func TestAuthRequiredWithoutSecret(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	errc := async(p.Ping)
	f.acceptWithReply(`{"auth_required":true}`)
	err := result(t, errc)
	if err == nil || !strings.Contains(err.Error(), "AuthSecret") || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error naming AuthSecret", err)
	}
}

func TestAuth(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{AuthSecret: "s3cret"})
	errc := async(p.Ping)
	c := f.acceptWithReply(`{"auth_required":true}`)
	if got := string(c.readCommand()); got != "AUTH\n"+be32(6)+"s3cret" {
		t.Fatalf("AUTH bytes %q", got)
	}
	c.sendResponse(`{"identity":"alice","identity_url":"http://x/alice","permission_count":2}`)
	c.readCommand()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	if info := p.AuthInfo(); info == nil || info.Identity != "alice" || info.PermissionCount != 2 {
		t.Fatalf("AuthInfo = %+v", info)
	}
}

func TestAuthFailed(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{AuthSecret: "wrong"})
	errc := async(p.Ping)
	c := f.acceptWithReply(`{"auth_required":true}`)
	c.readCommand()
	c.sendError("E_AUTH_FAILED AUTH failed")
	var se *ServerError
	if err := result(t, errc); !errors.As(err, &se) || se.Code != "E_AUTH_FAILED" {
		t.Fatalf("err = %v, want *ServerError E_AUTH_FAILED", err)
	}
}

// TestContextBeforeWrite: a server that accepts and never answers cannot
// hold PublishContext past its deadline, and the message is never sent.
func TestContextBeforeWrite(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{DialTimeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	errc := async(func() error { return p.PublishContext(ctx, "t", []byte("m")) })
	c := f.accept()
	c.expectMagic()
	c.readIdentify()
	cancel()
	if err := result(t, errc); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestContextQueuedNotSent: a publish whose context ends while it waits in
// the queue is skipped by the writer.
func TestContextQueuedNotSent(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{MaxInFlight: 1})
	first := async(func() error { return p.Publish("t", []byte("first")) })
	c := f.acceptIdentified()
	c.readCommand()
	// The window of one is full: the next publishes wait in the queue.
	ctx, cancel := context.WithCancel(context.Background())
	second := async(func() error { return p.PublishContext(ctx, "t", []byte("second")) })
	third := async(func() error { return p.Publish("t", []byte("third")) })
	// The writer holds at most one of them while it waits for the window;
	// cancel and answer until both the cancelled one and the third finish.
	cancel()
	c.sendOK()
	if err := result(t, first); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for len(sent) < 2 {
		cmd := string(c.readCommandSkipNOP())
		sent = append(sent, cmd)
		c.sendOK()
		if strings.Contains(cmd, "third") {
			break
		}
	}
	err2 := result(t, second)
	if err3 := result(t, third); err3 != nil {
		t.Fatal(err3)
	}
	wasSent := strings.Contains(strings.Join(sent, ""), "second")
	switch {
	case err2 == context.Canceled && wasSent:
		t.Fatal("cancelled publish returned context.Canceled but was sent")
	case err2 == nil && !wasSent:
		t.Fatal("publish succeeded without being sent")
	case err2 != nil && err2 != context.Canceled && !errors.Is(err2, ErrUnknownOutcome):
		t.Fatalf("second: %v", err2)
	}
}

func TestContextAfterWriteIsUnknown(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := async(func() error { return p.PublishContext(ctx, "t", []byte("m")) })
	c := f.acceptIdentified()
	c.readCommand()
	cancel()
	err := result(t, errc)
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnknownOutcome and context.Canceled", err)
	}
}

func TestDialFailure(t *testing.T) {
	f := newFakeNSQD(t)
	addr := f.addr()
	f.ln.Close()
	p := newTestProducer(t, addr, nil)
	err := p.Publish("t", []byte("m"))
	if !errors.Is(err, ErrNotConnected) {
		t.Fatalf("err = %v, want ErrNotConnected", err)
	}
}

// TestReadFrameAllocatesNothingPerFrame keeps the reader's buffer reused.
func TestReadFrameReusesBuffer(t *testing.T) {
	var in []byte
	for i := 0; i < 100; i++ {
		in = appendFrame(in, 0, []byte("OK"))
	}
	r := bytes.NewReader(in)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(1, func() {
		r.Reset(in)
		for {
			_, _, b, err := readFrame(r, buf, 1024)
			if err != nil {
				break
			}
			buf = b
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations reading 100 frames", allocs)
	}
}

// TestInFlightBytesWindow: with MaxInFlightBytes room for one command, the
// writer sends the next only after nsqd answered the previous one.
func TestInFlightBytesWindow(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{MaxInFlightBytes: 100})
	c := connect(t, f, p)
	done := make(chan *ProducerTransaction, 3)
	body := bytes.Repeat([]byte("x"), 60)
	for _, topic := range []string{"a", "b", "c"} {
		if err := p.PublishAsync(topic, body, done); err != nil {
			t.Fatal(err)
		}
	}
	for i, topic := range []string{"a", "b", "c"} {
		if got := string(c.readCommandSkipNOP()); got != pubBytes(topic, string(body)) {
			t.Fatalf("command %d: %q", i, got)
		}
		// Nothing more may arrive before this command is answered. (A
		// correct client never sends here, so this cannot fail spuriously.)
		c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := c.r.Peek(1); err == nil && string(n) != "N" {
			t.Fatalf("command %d: the client sent more while %d bytes were unanswered", i, len(body))
		}
		c.sendOK()
	}
	for i := 0; i < 3; i++ {
		if tr := <-done; tr.Error != nil {
			t.Fatal(tr.Error)
		}
	}
}
