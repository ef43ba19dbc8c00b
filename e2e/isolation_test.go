package e2e

// The isolation tests, against real nsqd v1.3.0: one publish's trouble — a
// message over a limit only nsqd knows, a caller who never reads its done
// channel, a frozen node of a pool — costs no other publish anything, and
// the counters agree with what every caller was told.

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub"
)

// ---------------------------------------------------------------------------
// Poison streams

// poisonStream publishes total messages to topic through pub. One in every
// `every` (those whose id modulo every is offset) is 200 bytes, over the
// --max-msg-size of 100 that nsqd runs with and the client's Config does not
// know; the others are 9 to 100 bytes, or exactly size bytes when size is
// set. syncWorkers goroutines call Publish and, if async, one more calls
// PublishAsync; they take the ids in turn.
type poisonStream struct {
	pub         publisher
	topic       string
	total       int
	every       int // 0: no bad message
	offset      int
	size        int // 0: sizes from 9 to 100 bytes
	syncWorkers int
	async       bool

	l       *ledger
	next    atomic.Int64
	server  atomic.Int64 // bad messages refused by nsqd with E_BAD_MESSAGE
	local   atomic.Int64 // bad messages refused locally, naming nsqd's limit
	elapsed time.Duration
}

// bad reports whether message id is over nsqd's limit.
func (s *poisonStream) bad(id int) bool { return s.every > 0 && id%s.every == s.offset }

// badCount returns how many of the messages are bad.
func (s *poisonStream) badCount() int {
	n := 0
	for id := range s.total {
		if s.bad(id) {
			n++
		}
	}
	return n
}

func (s *poisonStream) body(id int) []byte {
	switch {
	case s.bad(id):
		return messageBody(id, 200-9)
	case s.size > 0:
		return messageBody(id, s.size-9)
	}
	return messageBody(id, id%92)
}

// record notes how a refusal was reported, then records the result.
func (s *poisonStream) record(id int, err error) {
	var se *nsqpub.ServerError
	switch {
	case errors.As(err, &se) && se.Code == "E_BAD_MESSAGE" && strings.HasSuffix(se.Message, "message too big 200 > 100"):
		s.server.Add(1)
	case errors.Is(err, nsqpub.ErrMessageTooLarge) && strings.Contains(err.Error(), "200 > 100"):
		s.local.Add(1)
	}
	s.l.record(id, err, 0)
}

// run publishes every message and waits, at most timeout, for every result.
// It returns how many never came.
func (s *poisonStream) run(t testing.TB, timeout time.Duration) (hung int) {
	t.Helper()
	s.l = newLedger(0)
	for range s.total {
		s.l.newID()
	}
	done := make(chan *nsqpub.ProducerTransaction, 1024)
	stop, received := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(received)
		for {
			select {
			case tr := <-done:
				s.record(tr.Args[0].(int), tr.Error)
			case <-stop:
				return
			}
		}
	}()
	claim := func() (int, bool) {
		id := int(s.next.Add(1) - 1)
		return id, id < s.total
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range s.syncWorkers {
		wg.Go(func() {
			for id, ok := claim(); ok; id, ok = claim() {
				s.record(id, s.pub.Publish(s.topic, s.body(id)))
			}
		})
	}
	if s.async {
		wg.Go(func() {
			for id, ok := claim(); ok; id, ok = claim() {
				if err := s.pub.PublishAsync(s.topic, s.body(id), done, id); err != nil {
					s.record(id, err)
				}
			}
		})
	}
	wg.Wait()
	if hung = s.l.waitAll(timeout); hung > 0 {
		t.Errorf("%d publishes got no result within %v (%s)", hung, timeout, s.l.summary())
	}
	s.elapsed = time.Since(start)
	close(stop)
	<-received
	return hung
}

// check fails unless every good message was acknowledged and every bad one
// rejected, by nsqd with E_BAD_MESSAGE or locally with ErrMessageTooLarge
// naming nsqd's limit, each exactly once.
func (s *poisonStream) check(t testing.TB) {
	t.Helper()
	var wrong []string
	s.l.mu.Lock()
	for id, o := range s.l.out {
		want := outOK
		if s.bad(id) {
			want = outRejected
		}
		if o != want {
			wrong = append(wrong, fmt.Sprintf("%d %s (want %s)", id, outcomeNames[o], outcomeNames[want]))
		}
	}
	s.l.mu.Unlock()
	if len(wrong) > 0 {
		t.Errorf("%d publishes ended wrongly: %s\n%s", len(wrong), strings.Join(wrong[:min(len(wrong), 10)], ", "), s.l.summary())
	}
	if got, want := int(s.server.Load()+s.local.Load()), s.badCount(); got != want {
		t.Errorf("%d bad messages refused by nsqd (E_BAD_MESSAGE) and %d locally (ErrMessageTooLarge naming 100), want %d in all\n%s",
			s.server.Load(), s.local.Load(), want, s.l.summary())
	}
	if d := s.l.dups(); d > 0 {
		t.Errorf("%d results delivered twice", d)
	}
}

// outcomeCounts is what a Producer's or a pool's Stats counts by outcome.
type outcomeCounts struct {
	Published, Rejected, NotSent, Unknown uint64
	InFlight                              int64
}

func producerCounts(s nsqpub.ProducerStats) outcomeCounts {
	return outcomeCounts{s.Published, s.Rejected, s.NotSent, s.Unknown, s.InFlight}
}

func poolCounts(s nsqpub.PoolStats) outcomeCounts {
	return outcomeCounts{s.Published, s.Rejected, s.NotSent, s.Unknown, s.InFlight}
}

// checkCounters fails unless c counts exactly what the callers recorded in
// l were told, every result having been delivered.
func checkCounters(t testing.TB, l *ledger, c outcomeCounts) {
	t.Helper()
	for _, f := range []struct {
		name string
		got  uint64
		o    outcome
	}{
		{"Published", c.Published, outOK},
		{"Rejected", c.Rejected, outRejected},
		{"NotSent", c.NotSent, outNotSent},
		{"Unknown", c.Unknown, outUnknown},
	} {
		if want := uint64(l.count(f.o)); f.got != want {
			t.Errorf("Stats: %s %d, but callers were told %s %d times", f.name, f.got, outcomeNames[f.o], want)
		}
	}
	if c.InFlight != 0 {
		t.Errorf("Stats: InFlight %d with every result delivered", c.InFlight)
	}
}

// readBackNodes is readBack over several nsqd: what the channels "ch" of
// topic hold on all of them is matched against the ledger together. It
// returns how many messages they hold.
func readBackNodes(t testing.TB, nodes []*nsqd, topic string, l *ledger, r *faultReport) (held int) {
	t.Helper()
	r.fill(l)
	counts := map[int]int{}
	for _, n := range nodes {
		for id, c := range readIDs(t, n, topic, "ch", waitPumped(t, n, topic)) {
			counts[id] += c
			held += c
		}
	}
	verify(t, l, counts, r)
	return held
}

// TestIsolationPoisonStreams: nsqd (--max-msg-size=100) refuses one message
// in 1,000, 100 or 10, the client's Config not knowing the limit, published
// with PublishAsync from one goroutine or Publish from 20, through a
// Producer or a pool over two such nsqd. Every good message is acknowledged
// and in nsqd exactly once; every bad one is rejected, by nsqd or locally
// once nsqd has stated its limit; nothing is reported not sent or unknown;
// no pool node is left unhealthy; and Stats counts exactly what the callers
// were told.
func TestIsolationPoisonStreams(t *testing.T) {
	nodes := startPoolNodes(t, 2, "--max-msg-size=100")
	modes := []struct {
		name        string
		total       int
		syncWorkers int
		async       bool
	}{
		{"PublishAsync", 10000, 0, true},
		{"Publish-x20", 4000, 20, false},
	}
	for _, every := range []int{1000, 100, 10} {
		for _, mode := range modes {
			for _, pool := range []bool{false, true} {
				target := "producer"
				if pool {
					target = "pool"
				}
				t.Run(fmt.Sprintf("1-in-%d/%s/%s", every, mode.name, target), func(t *testing.T) {
					on := nodes[:1]
					if pool {
						on = nodes
					}
					topic := topicName(t)
					for _, n := range on {
						n.CreateChannel(t, topic, "ch")
					}
					s := &poisonStream{topic: topic, total: mode.total, every: every, offset: every / 2,
						syncWorkers: mode.syncWorkers, async: mode.async}
					// After the stream: the counters, and the connections made.
					var after func() (outcomeCounts, uint64)
					if pool {
						pp := newPool(t, tcpAddrs(on), nil) // MaxMsgSize 1 MiB: only nsqd knows its limit
						s.pub = pp
						after = func() (outcomeCounts, uint64) {
							st := pp.Stats()
							var connects uint64
							for i, ns := range st.Nodes {
								connects += ns.Connects
								if !ns.Healthy {
									t.Errorf("node %d unhealthy after a stream of refused messages: %+v", i, ns)
								}
							}
							return poolCounts(st), connects
						}
					} else {
						p := newProducer(t, on[0], nil)
						s.pub = p
						after = func() (outcomeCounts, uint64) { st := p.Stats(); return producerCounts(st), st.Connects }
					}
					s.run(t, 60*time.Second)
					s.check(t)
					counts, connects := after()
					checkCounters(t, s.l, counts)
					var r faultReport
					if held, good := readBackNodes(t, on, topic, s.l, &r), s.total-s.badCount(); held != good || r.Duplicates > 0 {
						t.Errorf("nsqd hold %d messages (%d duplicates), want the %d good ones", held, r.Duplicates, good)
					}
					t.Logf("RESULT isolation/poison %s: %d good acknowledged, %d bad rejected (%d by nsqd, %d locally), %d connections, %v",
						t.Name(), r.Acked, r.Rejected, s.server.Load(), s.local.Load(), connects, s.elapsed.Round(time.Millisecond))
				})
			}
		}
	}
}

// TestIsolationMaxBodySize: nsqd with --max-body-size=2000 refuses the
// producer's first large merged MPUB (E_BAD_BODY); the producer learns the
// limit and merges under it from then on. All 5,000 valid 100-byte
// PublishAsync calls succeed.
func TestIsolationMaxBodySize(t *testing.T) {
	n := startNSQD(t, "--max-body-size=2000")
	topic := topicName(t)
	n.CreateChannel(t, topic, "ch")
	p := newProducer(t, n, nil) // MaxBodySize 5 MiB: only nsqd knows its limit
	s := &poisonStream{pub: p, topic: topic, total: 5000, size: 100, async: true}
	s.run(t, 60*time.Second)
	s.check(t)
	checkCounters(t, s.l, producerCounts(p.Stats()))
	var r faultReport
	if held := readBackNodes(t, []*nsqd{n}, topic, s.l, &r); held != s.total || r.Duplicates > 0 {
		t.Errorf("nsqd holds %d messages (%d duplicates), want %d", held, r.Duplicates, s.total)
	}
	refusals := strings.Count(n.Output(), "] - E_BAD_BODY MPUB body too big") // one line per refusal
	connects := p.Stats().Connects
	if refusals > 1 || connects > 2 {
		t.Errorf("nsqd refused %d MPUBs as too big and the producer connected %d times: the limit nsqd stated was not kept", refusals, connects)
	}
	t.Logf("RESULT isolation/max-body-size: %d of %d acknowledged, %d MPUB refused for its size, %d connections, %v",
		r.Acked, s.total, refusals, connects, s.elapsed.Round(time.Millisecond))
}

// TestIsolationLimitRaisedByRestart: a producer learns nsqd's
// --max-msg-size of 100 from a refusal and applies it; nsqd is then
// restarted mid-stream with 1000. Once the producer has reconnected, nothing
// the new nsqd takes is refused locally, and it learns the new limit the
// same way. Every acknowledged message of the stream is in nsqd.
func TestIsolationLimitRaisedByRestart(t *testing.T) {
	n := startNSQD(t, "--max-msg-size=100")
	topic := topicName(t)
	n.CreateChannel(t, topic, "ch")
	p := newProducer(t, n, nil) // MaxMsgSize 1 MiB: only nsqd knows its limit
	lg := logEvents(p, nsqpub.LogLevelInfo)
	done := make(chan *nsqpub.ProducerTransaction, 16)
	l := newLedger(3 * time.Second)

	// pub publishes a size-byte message with Publish, or PublishAsync when
	// async, records its result and returns it.
	pub := func(size int, async bool) error {
		id := l.newID()
		body := messageBody(id, size-9)
		var err error
		if !async {
			err = p.Publish(topic, body)
		} else if err = p.PublishAsync(topic, body, done, id); err == nil {
			select {
			case tr := <-done:
				err = tr.Error
			case <-time.After(30 * time.Second):
				t.Fatalf("no result for PublishAsync %d within 30 s", id)
			}
		}
		l.record(id, err, 0)
		return err
	}
	// wantRefused fails unless err is nsqd's refusal "PUB message too big
	// size > limit", or, when local, ErrMessageTooLarge naming that limit.
	wantRefused := func(what string, err error, size, limit int, local bool) {
		t.Helper()
		stated := fmt.Sprintf("%d > %d", size, limit)
		var se *nsqpub.ServerError
		if local && (!errors.Is(err, nsqpub.ErrMessageTooLarge) || !strings.Contains(err.Error(), stated)) {
			t.Fatalf("%s: %v, want ErrMessageTooLarge naming %s", what, err, stated)
		}
		if !local && (!errors.As(err, &se) || se.Code != "E_BAD_MESSAGE" || se.Message != "PUB message too big "+stated) {
			t.Fatalf("%s: %v, want nsqd's E_BAD_MESSAGE PUB message too big %s", what, err, stated)
		}
	}

	wantRefused("500 bytes, nsqd taking 100", pub(500, false), 500, 100, false)
	wantRefused("Publish of 500 bytes once nsqd stated 100", pub(500, false), 500, 100, true)
	wantRefused("PublishAsync of 500 bytes once nsqd stated 100", pub(500, true), 500, 100, true)

	pl := &publishLoad{p: p, l: l, topic: topic, syncWorkers: 4, paced: true, seed: 3}
	pl.start()
	l.waitAcked(t, 1000, 30*time.Second)
	connected := lg.count(connectedLine)
	n.RestartWith(t, "--max-msg-size=1000")
	lg.wait(t, connectedLine, connected+1)
	l.waitAcked(t, l.count(outOK)+1000, 30*time.Second)

	for _, size := range []int{101, 500, 1000} {
		for _, async := range []bool{false, true} {
			if err := pub(size, async); err != nil {
				t.Errorf("%d bytes (async %v) after the restart with --max-msg-size=1000: %v", size, async, err)
			}
		}
	}
	wantRefused("1001 bytes after the restart", pub(1001, false), 1001, 1000, false)
	wantRefused("1001 bytes once the new nsqd stated 1000", pub(1001, true), 1001, 1000, true)

	r := faultReport{Fault: "limit-raised"}
	r.Hung += pl.finish(t, 30*time.Second)
	r.Hung += stopProducer(t, p, nsqpub.DefaultStopTimeout+2*time.Second)
	pl.closeReceiver()
	if l.dups() > 0 || l.count(outOther) > 0 || l.count(outRejected) != 5 {
		t.Errorf("%d results twice, %d of another kind, %d rejected (want the 5 over a limit): %s",
			l.dups(), l.count(outOther), l.count(outRejected), l.summary())
	}
	readBackNodes(t, []*nsqd{n}, topic, l, &r)
	if r.Duplicates > 0 || r.Hung > 0 {
		t.Errorf("%d duplicates, %d hung", r.Duplicates, r.Hung)
	}
	t.Logf("RESULT isolation/limit-raised: %s; connections %d", l.summary(), lg.count(connectedLine))
}

// TestIsolationUnreadDoneChannel: results wait for a done channel nobody
// reads while 200 Publish calls, and PublishAsync calls on a channel that
// is read, go through, across an idle period of at least 3 heartbeat
// intervals (1 s) that nsqd would end by dropping a client that did not
// answer: the connection stays the same. Stop returns within StopTimeout,
// dropping the unread results, and leaves no goroutine behind.
func TestIsolationUnreadDoneChannel(t *testing.T) {
	n := startNSQD(t)
	topic, unreadTopic := topicName(t), topicName(t)
	base := takeBaseline(t)
	cfg := &nsqpub.Config{HeartbeatInterval: time.Second, StopTimeout: time.Second}
	p := newProducer(t, n, cfg)
	lg := logEvents(p, nsqpub.LogLevelDebug)
	unread := make(chan *nsqpub.ProducerTransaction) // nobody ever reads it
	read := make(chan *nsqpub.ProducerTransaction, 100)
	const perPhase = 100
	var slowest time.Duration
	phase := func(from int) {
		t.Helper()
		for i := from; i < from+perPhase; i++ {
			if err := p.PublishAsync(unreadTopic, messageBody(i, 0), unread); err != nil {
				t.Fatalf("PublishAsync %d for the unread channel: %v", i, err)
			}
			start := time.Now()
			if err := p.Publish(topic, messageBody(i, 0)); err != nil {
				t.Fatalf("Publish %d: %v", i, err)
			}
			slowest = max(slowest, time.Since(start))
			if i%2 == 0 {
				if err := p.PublishAsync(topic, messageBody(i, 1), read); err != nil {
					t.Fatalf("PublishAsync %d: %v", i, err)
				}
			}
		}
	}
	phase(0)
	beats := lg.count("heartbeat")
	idleFrom := time.Now()
	lg.wait(t, "heartbeat", beats+4)
	idle := time.Since(idleFrom)
	phase(perPhase)
	for i := range perPhase {
		select {
		case tr := <-read:
			if tr.Error != nil {
				t.Errorf("PublishAsync on the read channel: %v", tr.Error)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d results on the read channel within 10 s", i, perPhase)
		}
	}
	if idle <= 2*cfg.HeartbeatInterval {
		t.Errorf("idle for %v only: nsqd drops a silent client after %v", idle, 2*cfg.HeartbeatInterval)
	}
	if slowest > time.Second {
		t.Errorf("a Publish took %v", slowest)
	}
	start := time.Now()
	hung := stopProducer(t, p, cfg.StopTimeout+time.Second)
	stopTook := time.Since(start)
	// Read after Stop, which waits for every answer: publishes to other
	// topics may be answered after the last Publish returned (the writer
	// keeps order per topic only).
	st := p.Stats()
	if st.Connects != 1 || st.Published != 5*perPhase {
		t.Errorf("Stats %+v, want 1 connection and %d published:\n%s", st, 5*perPhase, lg)
	}
	goroutines, fds := base.leaked(t)
	if hung > 0 || goroutines > 0 || fds > 0 {
		t.Errorf("after Stop: %d hung, %d goroutines and %d fds left", hung, goroutines, fds)
	}
	waitMessageCount(t, n, topic, 3*perPhase)
	waitMessageCount(t, n, unreadTopic, 2*perPhase)
	t.Logf("RESULT isolation/unread-done-channel: %d Publish, slowest %v; idle %v through %d heartbeats; connections %d; Stop took %v (StopTimeout %v)",
		2*perPhase, slowest.Round(time.Microsecond), idle.Round(time.Millisecond), lg.count("heartbeat"), st.Connects,
		stopTook.Round(time.Millisecond), cfg.StopTimeout)
}

// TestIsolationPoolFrozenNode: one of two nsqd is frozen with SIGSTOP for
// 8 s while 8 goroutines publish with a 2 s deadline and one with
// PublishAsync. The pool judges the frozen node stalled and routes around
// it: publishing goes on through the other, no call outlives its bound, and
// once the node is thawed every acknowledged message is in one of the two,
// none reported rejected or not sent is, and none is there twice.
func TestIsolationPoolFrozenNode(t *testing.T) {
	const freezeFor = 8 * time.Second
	nodes := startPoolNodes(t, 2)
	topic := topicName(t)
	for _, n := range nodes {
		n.CreateChannel(t, topic, "ch")
	}
	cfg := nsqpub.NewConfig()
	pp := newPool(t, tcpAddrs(nodes), cfg)
	l := newLedger(3 * time.Second) // the 2 s deadline, plus 1 s
	pl := &publishLoad{p: pp, l: l, topic: topic, syncWorkers: 8, paced: true, seed: 5}
	pl.start()
	l.waitAcked(t, 2000, 30*time.Second)

	thaw := nodes[0].Freeze(t)
	frozenAt := time.Now()
	ackedBefore := l.count(outOK)
	firstUnhealthy := time.Duration(-1)
	samples, unhealthy := 0, 0
	for time.Since(frozenAt) < freezeFor {
		if !pp.Stats().Nodes[0].Healthy {
			if firstUnhealthy < 0 {
				firstUnhealthy = time.Since(frozenAt)
			}
			unhealthy++
		}
		samples++
		time.Sleep(pollInterval) // between two looks at the pool's stats
	}
	ackedFrozen := l.count(outOK) - ackedBefore
	thaw()
	l.waitAcked(t, l.count(outOK)+2000, 30*time.Second)

	r := faultReport{Fault: "pool-frozen-node"}
	r.Hung += pl.finish(t, 30*time.Second)
	st := pp.Stats()
	r.Hung += stopProducer(t, pp, cfg.StopTimeout+2*time.Second)
	pl.closeReceiver()
	switch {
	case firstUnhealthy < 0:
		t.Errorf("the frozen node was never unhealthy in %d looks over %v", samples, freezeFor)
	case firstUnhealthy > cfg.StallTimeout+2*time.Second:
		t.Errorf("the frozen node was unhealthy only %v after the freeze (StallTimeout %v)", firstUnhealthy, cfg.StallTimeout)
	}
	if ackedFrozen < 1000 {
		t.Errorf("only %d publishes acknowledged during the %v freeze", ackedFrozen, freezeFor)
	}
	if l.dups() > 0 || l.count(outOther) > 0 || l.count(outRejected) > 0 {
		t.Errorf("%d results twice, %d of another kind, %d rejected: %s", l.dups(), l.count(outOther), l.count(outRejected), l.summary())
	}
	held := readBackNodes(t, nodes, topic, l, &r)
	if held < r.Acked || r.Duplicates > 0 || r.Hung > 0 {
		t.Errorf("the two nsqd hold %d messages, %d acknowledged; %d duplicates, %d hung", held, r.Acked, r.Duplicates, r.Hung)
	}
	t.Logf("RESULT isolation/pool-frozen-node: %s; acknowledged during the freeze %d; frozen node unhealthy after %v, in %d of %d looks; "+
		"held %d; longest sync call %v; pool %s", l.summary(), ackedFrozen, firstUnhealthy.Round(time.Millisecond), unhealthy, samples,
		held, l.longest().Round(time.Millisecond), describePool(st))
}
