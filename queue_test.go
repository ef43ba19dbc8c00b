package nsqpub

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
)

// TestByteBudgetFits pins when take takes at once: while the bytes fit, or
// when nothing is taken at all (a publish larger than the whole budget).
func TestByteBudgetFits(t *testing.T) {
	tests := []struct {
		name      string
		max, held int64
		n         int64
		fits      bool
		usedAfter int64
	}{
		{"fits", 100, 50, 50, true, 100},
		{"one byte over", 100, 50, 51, false, 50},
		{"larger than the budget, alone", 100, 0, 150, true, 150},
		{"larger than the budget, behind another", 100, 1, 150, false, 1},
		{"nothing", 100, 100, 0, true, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newByteBudget(int(tt.max))
			b.used.Store(tt.held)
			if got := b.tryTake(tt.n); got != tt.fits || b.used.Load() != tt.usedAfter {
				t.Fatalf("tryTake(%d) = %v, used %d; want %v, used %d", tt.n, got, b.used.Load(), tt.fits, tt.usedAfter)
			}
		})
	}
}

// TestByteBudgetWaits: a take that does not fit waits until bytes are given
// back, or ends with its context or the connection, taking nothing.
func TestByteBudgetWaits(t *testing.T) {
	tests := []struct {
		name string
		end  func(b *byteBudget, cancel context.CancelFunc, dying chan struct{})
		want error
	}{
		{"given back", func(b *byteBudget, _ context.CancelFunc, _ chan struct{}) { b.give(60) }, nil},
		{"context ends", func(_ *byteBudget, cancel context.CancelFunc, _ chan struct{}) { cancel() }, context.Canceled},
		{"connection dies", func(_ *byteBudget, _ context.CancelFunc, dying chan struct{}) { close(dying) }, errConnClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newByteBudget(100)
			if err := b.take(context.Background(), 60, nil); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dying := make(chan struct{})
			errc := async(func() error { return b.take(ctx, 60, dying) })
			waitForWaiter(b)
			select {
			case err := <-errc:
				t.Fatalf("take returned %v with the budget spent", err)
			default:
			}
			tt.end(b, cancel, dying)
			if err := result(t, errc); !errors.Is(err, tt.want) && err != tt.want {
				t.Fatalf("take: %v, want %v", err, tt.want)
			}
			// Given back: the second take's 60; otherwise the first's,
			// and the second took nothing.
			if b.used.Load() != 60 {
				t.Fatalf("used %d, want 60", b.used.Load())
			}
		})
	}
}

// waitForWaiter returns once a take waits on b.
func waitForWaiter(b *byteBudget) {
	for {
		b.mu.Lock()
		waiting := b.freed != nil
		b.mu.Unlock()
		if waiting {
			return
		}
		runtime.Gosched()
	}
}

// TestQueuedBytesBlockPublishers: with MaxQueuedBytes of 100 and a window
// of one command that nsqd does not answer, the writer holds the second
// publish (60 bytes) unwritten, so a third of 60 bytes waits for room in
// the budget, a synchronous one until its context ends; the answer lets
// everything through, in order.
func TestQueuedBytesBlockPublishers(t *testing.T) {
	f, p := fakeProducer(t, &Config{MaxQueuedBytes: 100, MaxInFlightCommands: 1})
	c := connect(t, f, p)
	trust(&p.model, "a", "b", "c")
	body := bytes.Repeat([]byte("x"), 60)
	done := make(chan *ProducerTransaction, 3)
	for _, topic := range []string{"a", "b"} {
		if err := p.PublishAsync(topic, body, done); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(c.readCommandSkipNOP()); got != pubBytes("a", string(body)) {
		t.Fatalf("first command %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	syncErr := async(func() error { return p.PublishContext(ctx, "c", body) })
	waitForWaiter(p.live.Load().budget)
	cancel()
	if err := result(t, syncErr); !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Publish: %v, want context.Canceled", err)
	}
	blocked := async(func() error { return p.PublishAsync("c", body, done) })
	waitForWaiter(p.live.Load().budget)
	c.sendOK()
	if err := result(t, blocked); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"b", "c"} {
		if got := string(c.readCommandSkipNOP()); got != pubBytes(topic, string(body)) {
			t.Fatalf("command to %s: %q", topic, got)
		}
		c.sendOK()
	}
	collectOK(t, done, 3)
}
