package nsqpub

import (
	"testing"
	"time"
)

// TestMailerIsolatesChannels: results for a channel nobody reads wait in
// its mailbox, in order, while another channel's results are delivered at
// once; the sender never blocks.
func TestMailerIsolatesChannels(t *testing.T) {
	m := newMailer()
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
	m := newMailer()
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
