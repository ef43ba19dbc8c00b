package nsqpub

// Regression tests for bugs the fault suite (e2e/faults_test.go) found.

import (
	"bufio"
	"errors"
	"io"
	"testing"
	"time"
)

// failWriter fails every write, like a socket whose peer is gone.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestWindowFullConnectionLostResendsBatch: when the in-flight window is full
// and the connection dies while the writer waits for room, the transaction it
// was about to write and every later one of its batch were never written:
// they must all be handed back to be resent as not sent. (Found by the poison
// test: one publish was failed instead of resent and the rest of its batch
// never completed.)
func TestWindowFullConnectionLostResendsBatch(t *testing.T) {
	cfg := NewConfig()
	var resent []*ProducerTransaction
	c := &conn{
		cfg: cfg, log: &logState{}, bw: bufio.NewWriter(failWriter{}),
		txCh: make(chan *ProducerTransaction, 4), pending: make(chan *ProducerTransaction, 1),
		dying: make(chan struct{}), exited: make(chan struct{}),
		onExit: func(_ *conn, r []*ProducerTransaction) { resent = r },
		err:    errors.New("reading from nsqd: EOF"),
	}
	close(c.dying)
	c.alive.Store(1)
	done := make(chan *ProducerTransaction, 8)
	inFlight := &ProducerTransaction{cmd: command{kind: cmdPUB, topic: "a", body: []byte("0")}, doneChan: done}
	inFlight.state.Store(txTaken)
	c.pending <- inFlight // the window of one is full
	for i, topic := range []string{"b", "c", "c", "d"} {
		c.batch = append(c.batch, &ProducerTransaction{cmd: command{kind: cmdPUB, topic: topic, body: []byte{'1' + byte(i)}}, doneChan: done})
	}
	if err := c.writeBatch(); err == nil {
		t.Fatal("writeBatch succeeded on a dead connection")
	}
	c.exit()
	if len(done) != 0 {
		tr := <-done
		t.Fatalf("%q completed with %v instead of being resent", tr.cmd.body, tr.Error)
	}
	if len(resent) != 5 {
		t.Fatalf("%d transactions handed back, want 5 (1 in flight, 4 never written)", len(resent))
	}
	if !errors.Is(resent[0].Error, ErrUnknownOutcome) {
		t.Fatalf("in flight: %v, want ErrUnknownOutcome", resent[0].Error)
	}
	for _, tr := range resent[1:] {
		if !errors.Is(tr.Error, ErrNotConnected) || tr.maybeQueued || tr.next != nil || tr.state.Load() != txTaken {
			t.Fatalf("%q: %v, maybeQueued %v, next %v: want a taken, unlinked, not-sent transaction",
				tr.cmd.body, tr.Error, tr.maybeQueued, tr.next)
		}
	}
}

// TestStopBoundedWhenWindowFull: Stop returns within StopTimeout even when
// the writer waits for room in a full window that nsqd never answers, and
// every publish completes. (Found by the silent-server test: Stop took 30 s
// with StopTimeout 500 ms.)
func TestStopBoundedWhenWindowFull(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{MaxInFlight: 1, StopTimeout: 100 * time.Millisecond})
	done := make(chan *ProducerTransaction, 8)
	errc := async(func() error { return p.PublishAsync("a", []byte("1"), done) })
	c := f.acceptIdentified()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	c.readCommand() // in flight, never answered
	for _, topic := range []string{"b", "c", "d"} {
		if err := p.PublishAsync(topic, []byte("2"), done); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Stop took %v with StopTimeout 100ms", d)
	}
	for i := 0; i < 4; i++ {
		select {
		case tr := <-done:
			if !errors.Is(tr.Error, ErrStopped) {
				t.Fatalf("publish %d: %v, want an error wrapping ErrStopped", i, tr.Error)
			}
		default:
			t.Fatalf("only %d of 4 publishes completed when Stop returned", i)
		}
	}
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after Stop:\n%s", g)
	}
}

// TestAtLeastOnceNeverReportsMaybeQueuedAsNotSent: a publish written on an
// earlier connection (so nsqd may hold it) that then fails on a later one
// without being written must end with ErrUnknownOutcome, not ErrNotConnected.
// (Found by the at-least-once cut test: publishes reported not sent were in
// nsqd.)
func TestAtLeastOnceNeverReportsMaybeQueuedAsNotSent(t *testing.T) {
	p := newTestProducer(t, "127.0.0.1:1", &Config{AtLeastOnce: true})
	done := make(chan *ProducerTransaction, 1)
	tr := &ProducerTransaction{cmd: command{kind: cmdPUB, topic: "t", body: []byte("m")}, doneChan: done,
		maybeQueued: true, resends: maxResends, Error: errors.New("not connected: not sent: connection closed")}
	tr.Error = errors.Join(ErrNotConnected, tr.Error)
	tr.state.Store(txTaken)
	p.resend(tr)
	got := <-done
	if !errors.Is(got.Error, ErrUnknownOutcome) || errors.Is(got.Error, ErrNotConnected) {
		t.Fatalf("%v: want ErrUnknownOutcome and not ErrNotConnected", got.Error)
	}
}
