package nsqpub

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPublishExactBytes(t *testing.T) {
	f, p := fakeProducer(t, nil)
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

// TestConcurrentPublishes: many goroutines share one connection; every
// publish gets its own answer.
func TestConcurrentPublishes(t *testing.T) {
	f, p := fakeProducer(t, nil)
	const workers, each = 16, 50
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- p.Publish("t", []byte("m"))
			}
		}()
	}
	f.acceptIdentified().answerMessages(workers * each)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestContextQueuedNotSent: a publish whose context ends while it waits in
// the queue is skipped by the writer.
func TestContextQueuedNotSent(t *testing.T) {
	f, p := fakeProducer(t, &Config{MaxInFlightCommands: 1})
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
	f, p := fakeProducer(t, nil)
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

// TestPublishContextAlreadyCancelledSendsNothing: on a live connection, a
// publish whose context is already cancelled returns context.Canceled and
// is never queued, so the writer cannot take it.
func TestPublishContextAlreadyCancelledSendsNothing(t *testing.T) {
	f, p := fakeProducer(t, nil)
	c := connect(t, f, p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 200; i++ {
		if err := p.PublishContext(ctx, "t", []byte("cancelled")); err != context.Canceled {
			t.Fatalf("publish %d: %v, want context.Canceled", i, err)
		}
	}
	f.publishOK(p, c, "t", "last")
	if s := p.Stats(); s.Published != 1 || s.NotSent != 200 || s.InFlight != 0 {
		t.Fatalf("stats %+v, want 1 published and 200 not sent", s)
	}
}

// TestStop: in-flight publishes get nsqd's answer, later ones ErrStopped, the
// socket closes without CLS, no goroutine is left; Stop is idempotent and
// safe concurrently.
func TestStop(t *testing.T) {
	f, p := fakeProducer(t, nil)
	done := make(chan *ProducerTransaction, 10)
	c := connect(t, f, p)
	for i := 0; i < 3; i++ {
		if err := p.PublishAsync("t", []byte("m"), done, i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	c.answerMessages(3) // the three may arrive merged or not
	c.expectEOF()
	wg.Wait()
	collectOK(t, done, 3)
	// Exactly ErrStopped, unwrapped: go-nsq code compares with ==.
	for name, call := range map[string]func() error{
		"Publish":              func() error { return p.Publish("t", []byte("late")) },
		"MultiPublish":         func() error { return p.MultiPublish("t", [][]byte{[]byte("late")}) },
		"DeferredPublish":      func() error { return p.DeferredPublish("t", time.Second, []byte("late")) },
		"PublishAsync":         func() error { return p.PublishAsync("t", []byte("late"), done) },
		"MultiPublishAsync":    func() error { return p.MultiPublishAsync("t", [][]byte{[]byte("late")}, done) },
		"DeferredPublishAsync": func() error { return p.DeferredPublishAsync("t", time.Second, []byte("late"), done) },
		"Ping":                 p.Ping,
	} {
		if err := call(); err != ErrStopped {
			t.Errorf("%s after Stop = %v, want ErrStopped", name, err)
		}
	}
	p.Stop()
	noGoroutinesLeft(t)
}

// TestStopTimeout: publishes nsqd never answers fail with ErrStopped after
// StopTimeout.
func TestStopTimeout(t *testing.T) {
	p, _, _, errc := pendingPublish(t, &Config{StopTimeout: 50 * time.Millisecond})
	p.Stop()
	err := result(t, errc)
	if !errors.Is(err, ErrStopped) || !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrStopped and ErrUnknownOutcome", err)
	}
	noGoroutinesLeft(t)
}

// TestStopWhileDialing: Stop ends a dial in progress and leaves nothing.
func TestStopWhileDialing(t *testing.T) {
	f, p := fakeProducer(t, &Config{DialTimeout: time.Minute})
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	f.accept().expectMagic()
	p.Stop()
	if err := result(t, errc); err == nil {
		t.Fatal("publish succeeded while its dial was stopped")
	}
	noGoroutinesLeft(t)
}

// TestStopBoundedWhenWindowFull: Stop returns within StopTimeout even when
// the writer waits for room in a full window that nsqd never answers, and
// every publish completes.
func TestStopBoundedWhenWindowFull(t *testing.T) {
	f, p := fakeProducer(t, &Config{MaxInFlightCommands: 1, MaxQueued: 1, StopTimeout: 100 * time.Millisecond})
	trust(&p.model, "a", "b", "c", "d") // pipelined, none waits alone
	done := make(chan *ProducerTransaction, 8)
	errc := async(func() error { return p.PublishAsync("a", []byte("1"), done) })
	c := f.acceptIdentified()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	c.readCommand() // in flight, never answered
	for _, topic := range []string{"b", "c"} {
		if err := p.PublishAsync(topic, []byte("2"), done); err != nil {
			t.Fatal(err)
		}
	}
	// One more publisher is blocked on the full queue (one slot) when Stop
	// comes: Stop must not wait for it.
	blocked := async(func() error { return p.PublishAsync("d", []byte("2"), done) })
	for p.Stats().InFlight < 4 {
		runtime.Gosched()
	}
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Stop took %v with StopTimeout 100ms", d)
	}
	// The blocked publish either got into the queue (its result comes on
	// done) or was refused directly.
	want := 4
	if err := result(t, blocked); errors.Is(err, ErrStopped) {
		want = 3
	} else if err != nil {
		t.Fatalf("the publish blocked on the full queue: %v", err)
	}
	for i := 0; i < want; i++ {
		select {
		case tr := <-done:
			if !errors.Is(tr.Error, ErrStopped) {
				t.Fatalf("publish %d: %v, want an error wrapping ErrStopped", i, tr.Error)
			}
		default:
			t.Fatalf("only %d of %d publishes completed when Stop returned", i, want)
		}
	}
	noGoroutinesLeft(t)
}
