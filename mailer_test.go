package nsqpub

import (
	"testing"
	"time"
)

// TestMailerIsolatesChannels: results for a channel nobody reads wait in
// its mailbox, in order, while another channel's results are delivered at
// once; the sender never blocks.
func TestMailerIsolatesChannels(t *testing.T) {
	m := newMailer(100)
	stalled := make(chan *ProducerTransaction) // nobody reads it yet
	open := make(chan *ProducerTransaction, 100)
	const n = 50
	for i := 0; i < n; i++ {
		m.send(stalled, &ProducerTransaction{Args: []interface{}{i}})
		m.send(open, &ProducerTransaction{Args: []interface{}{i}})
	}
	if len(open) != n {
		t.Fatalf("%d of %d results delivered to the open channel", len(open), n)
	}
	for i := 0; i < n; i++ {
		if r := <-stalled; r.Args[0] != i {
			t.Fatalf("stalled channel: result %v arrived as number %d", r.Args[0], i)
		}
	}
	m.stop(time.Now().Add(time.Minute))
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after stop:\n%s", g)
	}
}

// TestMailerStopDropsUnread: stop waits for mailboxes to empty until its
// deadline, then drops what nobody read and returns; a nil channel drops
// its result at once.
func TestMailerStopDropsUnread(t *testing.T) {
	m := newMailer(100)
	m.send(nil, &ProducerTransaction{})
	never := make(chan *ProducerTransaction)
	for i := 0; i < 10; i++ {
		m.send(never, &ProducerTransaction{})
	}
	m.stop(time.Now().Add(10 * time.Millisecond))
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after stop:\n%s", g)
	}
	// After stop, a full channel gets nothing and nothing waits for it.
	m.send(never, &ProducerTransaction{})
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after a send past stop:\n%s", g)
	}
}

// publisher is what Producer and ProducerPool have in common for the tests
// below.
type publisher interface {
	Publish(topic string, body []byte) error
	PublishAsync(topic string, body []byte, done chan *ProducerTransaction, args ...interface{}) error
	Stop()
}

// TestStalledDoneChannelDelaysNoOne: one caller's done channel that is never
// read holds results for 200 publishes, yet another caller's async results
// and 200 synchronous publishes all complete, on a Producer and on a pool,
// and Stop returns within StopTimeout, dropping the unread results.
func TestStalledDoneChannelDelaysNoOne(t *testing.T) {
	for _, pool := range []bool{false, true} {
		name := map[bool]string{false: "producer", true: "pool"}[pool]
		t.Run(name, func(t *testing.T) {
			fakes := []*fakeNSQD{newFastNSQD(t), newFastNSQD(t)}
			cfg := &Config{StopTimeout: 200 * time.Millisecond}
			var p publisher = newTestProducer(t, fakes[0].addr(), cfg)
			if pool {
				p = newTestPool(t, []string{fakes[0].addr(), fakes[1].addr()}, cfg)
			}
			stalled := make(chan *ProducerTransaction) // never read
			other := make(chan *ProducerTransaction, 200)
			const n = 200
			for i := 0; i < n; i++ {
				if err := p.PublishAsync("t", []byte("stalled"), stalled, i); err != nil {
					t.Fatal(err)
				}
				if err := p.PublishAsync("t", []byte("other"), other, i); err != nil {
					t.Fatal(err)
				}
				if err := p.Publish("t", []byte("sync")); err != nil {
					t.Fatalf("publish %d behind a stalled done channel: %v", i, err)
				}
			}
			collectOK(t, other, n)
			start := time.Now()
			p.Stop()
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Stop took %v with StopTimeout 200ms", d)
			}
			noGoroutinesLeft(t)
			select {
			case <-stalled:
				t.Fatal("a result still arrives on the unread channel after Stop")
			default:
			}
		})
	}
}

// TestMailerAdmit: a publisher whose channel has limit results waiting is
// held until the channel is read; a publisher with another channel is not;
// stop releases a publisher nobody will ever read for.
func TestMailerAdmit(t *testing.T) {
	m := newMailer(2)
	slow, never := make(chan *ProducerTransaction), make(chan *ProducerTransaction)
	// Four results wait for each channel, or are being sent.
	for i := 0; i < 4; i++ {
		m.send(slow, &ProducerTransaction{})
		m.send(never, &ProducerTransaction{})
	}
	m.admit(make(chan *ProducerTransaction)) // no mailbox: at once
	admitted := func(ch chan *ProducerTransaction) <-chan struct{} {
		done := make(chan struct{})
		go func() { m.admit(ch); close(done) }()
		return done
	}
	slowAdmitted, neverAdmitted := admitted(slow), admitted(never)
	<-slow // three wait or are being sent: still full
	select {
	case <-slowAdmitted:
		t.Fatal("admitted while its mailbox held the limit")
	default:
	}
	<-slow
	<-slow
	<-slow // all read: the mailbox is gone
	<-slowAdmitted
	m.stop(time.Now().Add(10 * time.Millisecond))
	<-neverAdmitted
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after stop:\n%s", g)
	}
}
