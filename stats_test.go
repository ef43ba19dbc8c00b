package nsqpub

import (
	"context"
	"errors"
	"testing"
)

func TestProducerStats(t *testing.T) {
	f := newFastNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	if s := p.Stats(); s.State != "idle" || s.Addr != f.addr() {
		t.Fatalf("before publishing: %+v", s)
	}
	for i := 0; i < 10; i++ {
		if err := p.Publish("t", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.MultiPublish("t", [][]byte{[]byte("a"), []byte("b"), []byte("c")}); err != nil {
		t.Fatal(err)
	}
	done := make(chan *ProducerTransaction, 5)
	for i := 0; i < 5; i++ {
		if err := p.PublishAsync("t", []byte("x"), done); err != nil {
			t.Fatal(err)
		}
	}
	collectOK(t, done, 5)
	p.Publish("bad:topic", []byte("m"))
	s := p.Stats()
	if s.Published != 18 || s.Rejected != 1 || s.NotSent != 0 || s.Unknown != 0 || s.InFlight != 0 ||
		s.Connects != 1 || s.Reconnects != 0 || s.State != "connected" || !errors.Is(s.LastError, ErrInvalidTopic) {
		t.Fatalf("stats %+v", s)
	}
	p.Stop()
	if s := p.Stats(); s.State != "stopped" {
		t.Fatalf("after Stop: %+v", s)
	}
	f.check(t, 18)
}

// TestStatsCountWhatCallersWereTold: a publish whose context ends after it
// was written is counted unknown, as its caller was told, even though nsqd
// answers it later; nothing stays in flight.
func TestStatsCountWhatCallersWereTold(t *testing.T) {
	f, p := fakeProducer(t, nil)
	trust(&p.model, "t")
	ctx, cancel := context.WithCancel(context.Background())
	errc := async(func() error { return p.PublishContext(ctx, "t", []byte("m")) })
	c := f.acceptIdentified()
	c.readCommand() // written
	cancel()
	if err := result(t, errc); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("context ended after the write: %v, want ErrUnknownOutcome", err)
	}
	c.sendOK() // nsqd answers after the caller gave up
	errc = async(func() error { return p.Publish("t", []byte("n")) })
	c.readCommand()
	c.sendOK()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Published != 1 || s.Unknown != 1 || s.InFlight != 0 {
		t.Fatalf("published %d, unknown %d, in flight %d; want 1, 1, 0", s.Published, s.Unknown, s.InFlight)
	}
}
