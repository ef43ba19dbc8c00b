package nsqpub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPoolRoundRobin(t *testing.T) {
	f := []*fakeNSQD{newFastNSQD(t), newFastNSQD(t), newFastNSQD(t)}
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
	good := []*fakeNSQD{newFastNSQD(t), newFastNSQD(t)}
	pp := newTestPool(t, []string{deadAddr(t), good[0].addr(), good[1].addr()}, &Config{PoolStrategy: Failover})
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
	for _, tr := range collect(t, done, 100) {
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
	noGoroutinesLeft(t)
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

// TestPoolNoNodes: a pool may start with no address (for discovery), but
// not with more than it can hold; with no node, publishes fail at once as
// not sent.
func TestPoolNoNodes(t *testing.T) {
	many := make([]string, maxNodes+1)
	for i := range many {
		many[i] = fmt.Sprintf("127.0.0.1:%d", 10000+i)
	}
	if _, err := NewProducerPool(many, NewConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("%d addresses: %v", len(many), err)
	}
	pp := newTestPool(t, nil, nil)
	done := make(chan *ProducerTransaction, 1)
	for name, err := range map[string]error{
		"Publish":      pp.Publish("t", []byte("m")),
		"PublishAsync": pp.PublishAsync("t", []byte("m"), done),
		"Ping":         pp.Ping(),
	} {
		if !errors.Is(err, ErrNoHealthyNode) || OutcomeOf(err) != NotSent {
			t.Errorf("%s with no node: %v, want ErrNoHealthyNode, not sent", name, err)
		}
	}
	pp.Stop()
	noGoroutinesLeft(t)
}

// TestPoolBackoffCountsProbesOnly: while a node waits out its backoff, the
// results of publishes sent to it before (a burst of failures from one dead
// connection, or an OK answered just before it died) leave its state alone;
// the first result after the backoff decides. A failure also keeps the node
// down at least until its Producer will dial again.
func TestPoolBackoffCountsProbesOnly(t *testing.T) {
	pp := newTestPool(t, []string{deadAddr(t)}, nil)
	n := pp.list()[0]
	notSent := fmt.Errorf("%w: test", ErrNotConnected)
	state := func() (int, bool) {
		s := pp.Stats().Nodes[0]
		return s.Failures, s.Healthy
	}
	for i := 0; i < 100; i++ {
		n.report(pp.log, "t", notSent)
	}
	if f, healthy := state(); f != 1 || healthy {
		t.Fatalf("after a burst of 100 failures: failures %d healthy %v, want 1 false", f, healthy)
	}
	n.report(pp.log, "t", nil) // answered before the node failed
	if f, healthy := state(); f != 1 || healthy {
		t.Fatalf("a stale OK changed the state: failures %d healthy %v", f, healthy)
	}
	expire := func() {
		n.mu.Lock()
		n.downUntil = time.Now().Add(-time.Millisecond)
		n.mu.Unlock()
	}
	expire()
	n.p.mu.Lock()
	n.p.retryAt = time.Now().Add(time.Hour) // the Producer's own dial backoff
	n.p.mu.Unlock()
	n.report(pp.log, "t", notSent) // the probe fails
	st := pp.Stats().Nodes[0]
	if st.Failures != 2 || st.Healthy || time.Until(st.DownUntil) < 59*time.Minute {
		t.Fatalf("after a failed probe: %+v, want 2 failures and down until the Producer's next dial", st)
	}
	expire()
	n.report(pp.log, "t", nil) // the probe succeeds
	if f, healthy := state(); f != 0 || !healthy {
		t.Fatalf("after a good probe: failures %d healthy %v, want 0 true", f, healthy)
	}
}

// TestPoolCancelledContextIsNotANodeFailure: a publish whose context is
// already cancelled, or ends while the node's dial hangs, fails with the
// context's error, goes to no other node and leaves the node healthy.
func TestPoolCancelledContextIsNotANodeFailure(t *testing.T) {
	silent := newFakeNSQD(t) // never answers IDENTIFY: the handshake hangs
	good := newFastNSQD(t)
	pp := newTestPool(t, []string{silent.addr(), good.addr()}, &Config{PoolStrategy: Failover, DialTimeout: time.Minute})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pp.PublishContext(cancelled, "t", []byte("m")); err != context.Canceled {
		t.Fatalf("already cancelled: %v, want context.Canceled", err)
	}
	if s := pp.Stats().Nodes[0]; s.State != "idle" || s.Connects != 0 {
		t.Fatalf("an already cancelled publish started a dial: %+v", s)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := pp.PublishContext(short, "t", []byte("m")); err != context.DeadlineExceeded {
		t.Fatalf("short context: %v, want context.DeadlineExceeded", err)
	}
	for i, s := range pp.Stats().Nodes {
		if s.Failures != 0 || !s.Healthy {
			t.Fatalf("node %d after cancelled publishes: %+v", i, s)
		}
	}
	pp.Stop()
	good.check(t, 0)
}

// TestPoolRoutesAroundStalledNode: a node that takes commands and never
// answers is judged stalled after StallTimeout, whatever callers do: the
// pool marks it unhealthy and closes its connection; what it never wrote
// goes to the other node, what it wrote is unknown, and later publishes go
// to the other node at once.
func TestPoolRoutesAroundStalledNode(t *testing.T) {
	frozen, good := newFakeNSQD(t), newFastNSQD(t)
	pp := newTestPool(t, []string{frozen.addr(), good.addr()}, &Config{PoolStrategy: Failover, StallTimeout: 100 * time.Millisecond})
	const n = 100
	done := make(chan *ProducerTransaction, n)
	errc := async(func() error { return pp.PublishAsync("t", []byte("m"), done, 0) })
	c := frozen.acceptIdentified()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	c.readCommand() // written, never answered
	for i := 1; i < n; i++ {
		if err := pp.PublishAsync("t", []byte("m"), done, i); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := map[Outcome]int{}
	for _, tr := range collect(t, done, n) {
		outcomes[OutcomeOf(tr.Error)]++
	}
	if outcomes[OK] != n-1 || outcomes[Unknown] != 1 {
		t.Fatalf("outcomes %v, want %d OK (moved to the other node) and 1 unknown (written to the frozen one)", outcomes, n-1)
	}
	if st := pp.Stats(); st.Nodes[0].Healthy || !st.Nodes[1].Healthy {
		t.Fatalf("health: frozen %v, good %v", st.Nodes[0].Healthy, st.Nodes[1].Healthy)
	}
	if err := pp.Publish("t", []byte("m")); err != nil {
		t.Fatalf("publish after the stall: %v", err)
	}
	pp.Stop()
	good.check(t, n)
}

// TestPoolFullNodeHoldsUpNoOne: while one node's queue is full, async
// publishes go to a node with room instead of waiting.
func TestPoolFullNodeHoldsUpNoOne(t *testing.T) {
	frozen, good := newFakeNSQD(t), newFastNSQD(t)
	pp := newTestPool(t, []string{frozen.addr(), good.addr()}, &Config{PoolStrategy: Failover, MaxQueued: 1, StallTimeout: time.Hour})
	const n = 200
	done := make(chan *ProducerTransaction, n)
	errc := async(func() error { return pp.PublishAsync("t", []byte("m"), done) })
	c := frozen.acceptIdentified()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	c.readCommand() // the frozen node's writer waits for this answer; its queue fills
	for i := 1; i < n; i++ {
		if err := pp.PublishAsync("t", []byte("m"), done); err != nil {
			t.Fatal(err)
		}
	}
	// All but the few the frozen node holds (one written, one queued, at
	// most one more in its writer's batch) reach the good node and are
	// answered while the frozen node still holds its own.
	collectOK(t, done, n-3)
}

// TestPoolLoggers: the pool's logger setters reach every node, as the
// Producer's do.
func TestPoolLoggers(t *testing.T) {
	a, b := &recLogger{}, &recLogger{}
	pp := newTestPool(t, []string{deadAddr(t), deadAddr(t)}, nil)
	pp.SetLoggerForLevel(a, LogLevelWarning)
	pp.SetLoggerForLevel(b, LogLevelDebug)
	pp.SetLoggerLevel(LogLevelDebug)
	for _, n := range pp.list() {
		for lvl := LogLevelDebug; lvl <= LogLevelMax; lvl++ {
			n.p.log.log(lvl, "line")
		}
	}
	pp.log.log(LogLevelWarning, "pool line")
	if len(a.lines) != 3 || len(b.lines) != 2 {
		t.Fatalf("warning logger got %q, debug logger got %q; want 3 warnings (2 nodes, the pool) and 2 debug lines", a.lines, b.lines)
	}
	for _, l := range a.lines {
		if !strings.HasPrefix(l, "WRN") {
			t.Errorf("warning logger got %q", l)
		}
	}
	pp.SetLogger(nil, LogLevelDebug)
	a.lines = nil
	pp.list()[0].p.log.log(LogLevelWarning, "line")
	if len(a.lines) != 0 {
		t.Errorf("after SetLogger(nil): %q", a.lines)
	}
}
