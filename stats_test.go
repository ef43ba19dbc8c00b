package nsqpub

import (
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
