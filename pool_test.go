package nsqpub

import (
	"errors"
	"net"
	"testing"
	"time"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newTestPool(t *testing.T, addrs []string, cfg *Config) *ProducerPool {
	t.Helper()
	if cfg == nil {
		cfg = NewConfig()
	}
	pp, err := NewProducerPool(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pp.Stop)
	return pp
}

func TestPoolRoundRobin(t *testing.T) {
	f := []*fastNSQD{newFastNSQD(t), newFastNSQD(t), newFastNSQD(t)}
	pp := newTestPool(t, []string{f[0].addr(), f[1].addr(), f[2].addr()}, nil)
	for i := 0; i < 300; i++ {
		if err := pp.Publish("t", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	pp.Stop()
	for i, fk := range f {
		fk.check(t, 100)
		if got := pp.Stats().Nodes[i].Published; got != 100 {
			t.Errorf("node %d counted %d published, want 100", i, got)
		}
	}
}

func TestPoolFailoverSkipsDeadNode(t *testing.T) {
	good := []*fastNSQD{newFastNSQD(t), newFastNSQD(t)}
	cfg := &Config{PoolStrategy: Failover}
	pp := newTestPool(t, []string{deadAddr(t), good[0].addr(), good[1].addr()}, cfg)
	done := make(chan *ProducerTransaction, 100)
	for i := 0; i < 100; i++ {
		if err := pp.Publish("t", []byte("m")); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if err := pp.PublishAsync("t", []byte("a"), done, i); err != nil {
			t.Fatalf("async %d: %v", i, err)
		}
	}
	seen := map[int]bool{}
	for i := 0; i < 100; i++ {
		tr := <-done
		if tr.Error != nil {
			t.Fatalf("async %v: %v", tr.Args, tr.Error)
		}
		seen[tr.Args[0].(int)] = true
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct results", len(seen))
	}
	st := pp.Stats()
	if st.Nodes[0].Healthy || st.Nodes[0].Failures == 0 || st.Nodes[0].LastError == nil {
		t.Fatalf("dead node stats %+v", st.Nodes[0])
	}
	pp.Stop()
	good[0].check(t, 200) // failover: everything on the first healthy node
	good[1].check(t, 0)
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after Stop:\n%s", g)
	}
}

func TestPoolAllDown(t *testing.T) {
	pp := newTestPool(t, []string{deadAddr(t), deadAddr(t)}, nil)
	err := pp.Publish("t", []byte("m"))
	if !errors.Is(err, ErrNoHealthyNode) || OutcomeOf(err) != NotSent {
		t.Fatalf("err = %v, want ErrNoHealthyNode (not sent)", err)
	}
	// Both nodes are backing off now: the next publish fails at once.
	start := time.Now()
	err = pp.PublishAsync("t", []byte("m"), nil)
	if !errors.Is(err, ErrNoHealthyNode) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v with every node down", d)
	}
}

func TestPoolRejectedNotRetried(t *testing.T) {
	f := newFastNSQD(t)
	pp := newTestPool(t, []string{f.addr(), f.addr()}, nil)
	if err := pp.Publish("bad:topic", []byte("m")); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("err = %v", err)
	}
	if err := pp.MultiPublish("t", nil); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("err = %v", err)
	}
	pp.Stop()
	f.check(t, 0)
	if err := pp.Publish("t", []byte("m")); !errors.Is(err, ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}
}

func TestConfigPoolStrategy(t *testing.T) {
	c := NewConfig()
	if err := c.Set("pool_strategy", "failover"); err != nil || c.PoolStrategy != Failover {
		t.Fatalf("Set failover: %v %v", err, c.PoolStrategy)
	}
	if err := c.Set("pool-strategy", "round-robin"); err != nil || c.PoolStrategy != RoundRobin {
		t.Fatalf("Set round-robin: %v %v", err, c.PoolStrategy)
	}
	if err := c.Set("pool_strategy", "random"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Set random: %v", err)
	}
	if _, err := NewProducerPool(nil, c); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty pool: %v", err)
	}
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		err  error
		want Outcome
	}{
		{nil, OK},
		{&ServerError{Code: "E_BAD_TOPIC"}, Rejected},
		{ErrEmptyBody, Rejected},
		{ErrStopped, NotSent},
		{ErrNotConnected, NotSent},
		{errors.Join(ErrUnknownOutcome, ErrStopped), Unknown},
	}
	for _, tt := range tests {
		if got := OutcomeOf(tt.err); got != tt.want {
			t.Errorf("OutcomeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

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
	for i := 0; i < 5; i++ {
		<-done
	}
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
}
