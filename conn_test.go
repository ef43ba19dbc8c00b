package nsqpub

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatAnsweredBetweenReplies: a heartbeat that arrives while a
// publish waits for its reply is answered with NOP, and so is one that
// arrives just before the reply, which still completes the publish.
func TestHeartbeatAnsweredBetweenReplies(t *testing.T) {
	_, _, c, errc := pendingPublish(t, nil)
	c.sendResponse("_heartbeat_")
	c.expectNOP()
	c.sendResponse("_heartbeat_")
	c.sendOK()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	c.expectNOP()
}

// TestSplitFrames: frames that arrive a byte at a time are read whole.
func TestSplitFrames(t *testing.T) {
	_, _, c, errc := pendingPublish(t, nil)
	for _, b := range append(appendFrame(nil, frameTypeResponse, frameHeartbeat), okFrame...) {
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
	f, p := fakeProducer(t, nil)
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
	tr := collect(t, done, 1)[0]
	var se *ServerError
	if tr.Args[0] != "a" || !errors.As(tr.Error, &se) || se.Code != "E_BAD_MESSAGE" || se.Message != "PUB message too big 2 > 1" {
		t.Fatalf("first result %v: %v, want a: *ServerError E_BAD_MESSAGE", tr.Args, tr.Error)
	}
	// As go-nsq returns a refusal: the frame as an ErrProtocol value.
	if pe, ok := tr.Error.(ErrProtocol); !ok || pe.Reason != "E_BAD_MESSAGE PUB message too big 2 > 1" ||
		pe.Error() != "nsqd: E_BAD_MESSAGE PUB message too big 2 > 1" || OutcomeOf(tr.Error) != Rejected {
		t.Fatalf("first result %T %v, want ErrProtocol with the frame as Reason, Rejected", tr.Error, tr.Error)
	}
	c2 := f.acceptIdentified()
	for _, want := range []string{pubBytes("b", "2"), pubBytes("c", "3")} {
		if got := string(c2.readCommandSkipNOP()); got != want {
			t.Fatalf("resent %q, want %q", got, want)
		}
		c2.sendOK()
	}
	collectOK(t, done, 2)
}

func TestEOFMidPipelineIsUnknownOutcome(t *testing.T) {
	_, _, c, errc := pendingPublish(t, nil)
	c.nc.Close()
	if err := result(t, errc); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrUnknownOutcome", err)
	}
}

// TestInFlightBytesWindow: with MaxInFlightBytes room for one command, the
// writer sends the next only after nsqd answered the previous one.
func TestInFlightBytesWindow(t *testing.T) {
	f, p := fakeProducer(t, &Config{MaxInFlightBytes: 100})
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
	collectOK(t, done, 3)
}

// TestHostileServerInReply: each bad stream of hostileCases, sent in reply
// to a publish, fails that publish with ErrUnknownOutcome wrapping a clear
// error (nsqd's error for an error frame), ends the connection (the client
// closes it itself on a protocol error), and allocates nothing near a
// declared size; the next publish reconnects and succeeds.
func TestHostileServerInReply(t *testing.T) {
	for _, hc := range hostileCases {
		t.Run(hc.name, func(t *testing.T) {
			before := heapAlloc()
			p, f, c, errc := pendingPublish(t, nil)
			c.write(hc.data)
			if hc.want != anyProtocolError {
				c.nc.Close() // a truncated frame needs the end of the stream
			}
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
			case !errors.Is(err, ErrUnknownOutcome) || !matches(err, hc.want) || !strings.Contains(err.Error(), hc.text):
				t.Fatalf("err = %v, want ErrUnknownOutcome and %v (%q)", err, hc.want, hc.text)
			}
			if hc.want == anyProtocolError {
				c.expectEOF()
			}
			f.publishOK(p, nil, "t", "again")
		})
	}
}

// TestHostileServerBeforeAnyCommand: the same streams, and a response or an
// error frame, sent when nothing is in flight, close the connection with a
// clear error; the next publish reconnects and succeeds.
func TestHostileServerBeforeAnyCommand(t *testing.T) {
	cases := append([]hostileCase{
		{name: "response before any command", data: okFrame, want: anyProtocolError, text: "reply OK with no command in flight"},
		{name: "error frame with nothing in flight", data: appendFrame(nil, frameTypeError, []byte("E_INVALID cannot CLS in current state")), text: "nsqd error with no command in flight"},
	}, hostileCases...)
	for _, hc := range cases {
		t.Run(hc.name, func(t *testing.T) {
			f, p := fakeProducer(t, nil)
			lg := &recLogger{}
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
			if hc.want == anyProtocolError && !strings.Contains(line, "protocol error") || !strings.Contains(line, want) {
				t.Fatalf("log %q, want %q", line, want)
			}
			f.publishOK(p, nil, "t", "again")
		})
	}
}

// FuzzConnServerBytes runs a live conn over an in-memory connection whose
// server, after a valid IDENTIFY reply and once the first command arrives,
// writes the fuzz input and closes. Six commands (mergeable PUBs, an MPUB, a
// DPUB, a PUB to another topic, a NOP) go through a window of two, and half
// the inputs also stop the conn. Every command must complete exactly once,
// within a bound, with nil or an error; nothing may panic; both goroutines
// must end.
func FuzzConnServerBytes(f *testing.F) {
	for _, hc := range hostileCases {
		f.Add(hc.data)
	}
	hb := appendFrame(nil, frameTypeResponse, frameHeartbeat)
	f.Add([]byte{})
	f.Add(bytes.Repeat(okFrame, 5))
	f.Add(bytes.Repeat(okFrame, 6))
	f.Add(bytes.Repeat(append(hb, okFrame...), 5))
	f.Add(append(bytes.Clone(okFrame), appendFrame(nil, frameTypeError, []byte("E_BAD_MESSAGE MPUB message too big 2 > 1"))...))
	f.Add(append(bytes.Repeat(okFrame, 2), appendFrame(nil, frameTypeError, []byte("E_INVALID DPUB timeout 5 out of range"))...))
	f.Add(okFrame[:7])
	f.Fuzz(func(t *testing.T, in []byte) {
		connServerBytes(t, in)
	})
}

// connServerBytes is one run of FuzzConnServerBytes.
func connServerBytes(t *testing.T, in []byte) {
	const bound = 10 * time.Second
	cfg := NewConfig()
	cfg.MaxInFlightCommands = 2
	cfg.HeartbeatInterval = -1
	cfg.ReadTimeout = 5 * time.Second
	cfg.StopTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	client, s := newPipeConn(t)
	var l *link
	hs := async(func() (err error) {
		l, err = handshake(ctx, client, "fuzz", cfg, &logState{})
		return err
	})
	s.expectMagic()
	s.readIdentify()
	s.sendResponse(`{"version":"1.3.0"}`)
	if err := result(t, hs); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	// The server drops what the client writes from now on; once the first
	// command arrives, it writes the input and closes.
	first, drained := s.swallow()
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		<-first
		s.nc.Write(in)
		s.nc.Close()
		<-drained
	}()

	onExitDone := make(chan struct{})
	c := startConn(l, connParams{addr: "fuzz", cfg: cfg, log: &logState{}, model: &model{},
		onExit: func(c *conn, cause error, left []leftover) {
			finishLeft(c, cause, left)
			close(onExitDone)
		}})
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
		t.Fatalf("a command completed twice: %v (input %q)", tr.result.Error, in)
	}
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left (input %q):\n%s", in, g)
	}
}

// TestMPUBFailedIsUnknownForEveryMember: nsqd queues an MPUB's messages one
// by one and answers E_MPUB_FAILED when its queue fails part-way, so every
// publish merged into that MPUB ends unknown, never rejected, and carries
// nsqd's error.
func TestMPUBFailedIsUnknownForEveryMember(t *testing.T) {
	var out bytes.Buffer
	c := newTestConn(t, NewConfig(), &out)
	p := newTestProducer(t, deadAddr(t), nil)
	p.conns.Add(1) // connExited marks the connection gone
	c.onExit = p.connExited
	wait := make(chan *tx, 3)
	c.batch = []*tx{pubTx("t", "a", wait), pubTx("t", "b", wait), pubTx("t", "c", wait)}
	for _, m := range c.batch {
		m.p = p
	}
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "MPUB t\n") {
		t.Fatalf("wrote %q, want one merged MPUB", out.String())
	}
	c.fail(c.handle(frameTypeError, []byte("E_MPUB_FAILED MPUB failed disk full")))
	close(c.writerDone)
	c.exit()
	for range 3 {
		r := <-wait
		var se *ServerError
		if OutcomeOf(r.result.Error) != Unknown || !errors.As(r.result.Error, &se) || se.Code != "E_MPUB_FAILED" {
			t.Fatalf("member %q: %v, want unknown carrying E_MPUB_FAILED", r.cmd.body, r.result.Error)
		}
	}
	if s := p.Stats(); s.Unknown != 3 || s.Rejected != 0 {
		t.Fatalf("counted %d unknown, %d rejected; want 3, 0", s.Unknown, s.Rejected)
	}
}
