package e2e

// The fault suite: it proves the reliability guarantees of nsqpub
// against a real nsqd v1.3.0 under connection cuts, restarts, black holes, a
// poison message, heartbeats, bad input and load.
//
// Every test has a short, seeded form that runs in `make test` and a long
// form (more seeds, messages, cuts and restarts) when NSQPUB_SOAK=1, which
// `make soak` sets. Seeds come from NSQPUB_SEED when it is set (to replay a
// failure) and from the clock otherwise; they are always logged. Each test
// logs one "RESULT" line per run with the figures RELIABILITY.md reports:
// publishes attempted, acknowledged, rejected, not sent, unknown, lost,
// duplicates, hung, and leaked goroutines and file descriptors.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// connectedLine is in the log line of every connection made.
const connectedLine = ") connected "

// soakMode is true when NSQPUB_SOAK=1 asks for the long form of the suite.
var soakMode = os.Getenv("NSQPUB_SOAK") == "1"

// scale returns short in the default run and long under NSQPUB_SOAK=1.
func scale[T any](short, long T) T {
	if soakMode {
		return long
	}
	return short
}

// faultSeeds returns the seeds a randomized test runs with: one in the short
// form, several consecutive ones in the soak form, starting at NSQPUB_SEED
// if set, else at a seed drawn from the clock.
func faultSeeds(t testing.TB) []uint64 {
	t.Helper()
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("NSQPUB_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("NSQPUB_SEED=%q: %v", s, err)
		}
		base = v
	}
	seeds := make([]uint64, scale(1, 3))
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	return seeds
}

// newRand returns a generator for seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// ---------------------------------------------------------------------------
// Outcomes

// outcome is what a publish call ended with, in the terms of guarantee 1.
type outcome uint8

const (
	outPending  outcome = iota // no result yet
	outOK                      // nil: nsqd answered OK
	outRejected                // a *nsqpub.ServerError, or over a limit nsqd stated: refused, nothing queued
	outNotSent                 // ErrNotConnected, ErrStopped or a bare context error: never executed
	outUnknown                 // ErrUnknownOutcome: written, the answer never came
	outOther                   // anything else: a failure of the suite
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"pending", "acked", "rejected", "not_sent", "unknown", "other"}

// classify sorts a publish error into an outcome. The order matters: an
// unknown outcome may also mention why the connection ended, and a failed
// handshake wraps nsqd's *ServerError inside ErrNotConnected.
func classify(err error) outcome {
	var se *nsqpub.ServerError
	switch {
	case err == nil:
		return outOK
	case errors.Is(err, nsqpub.ErrUnknownOutcome):
		return outUnknown
	case errors.Is(err, nsqpub.ErrNotConnected), errors.Is(err, nsqpub.ErrStopped),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return outNotSent
	case errors.As(err, &se), errors.Is(err, nsqpub.ErrMessageTooLarge):
		return outRejected
	}
	return outOther
}

// ledger records the result of every publish call of a test, by id. Each
// message body starts with its id, so what nsqd holds can be matched to it.
type ledger struct {
	bound time.Duration // the longest a synchronous call may take; 0: no bound

	mu         sync.Mutex
	cond       *sync.Cond
	out        []outcome
	counts     [numOutcomes]int
	results    int               // results recorded, duplicates excluded
	dupResults int               // results for an id that already had one
	hung       int               // synchronous calls that took longer than bound
	maxWait    time.Duration     // the longest synchronous call
	samples    map[string]string // the first error text of each outcome
}

func newLedger(bound time.Duration) *ledger {
	l := &ledger{bound: bound, samples: map[string]string{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// newID allocates the id of one publish call.
func (l *ledger) newID() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.cond.Broadcast()
	l.out = append(l.out, outPending)
	return len(l.out) - 1
}

// record stores the result of call id. waited is how long a synchronous call
// took (0 for asynchronous results).
func (l *ledger) record(id int, err error, waited time.Duration) {
	o := classify(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.cond.Broadcast()
	if l.out[id] != outPending {
		l.dupResults++
		return
	}
	l.out[id] = o
	l.counts[o]++
	l.results++
	if waited > l.maxWait {
		l.maxWait = waited
	}
	if l.bound > 0 && waited > l.bound {
		l.hung++
	}
	if err != nil && l.samples[outcomeNames[o]] == "" {
		l.samples[outcomeNames[o]] = err.Error()
	}
}

// resultCount returns how many calls have their result.
func (l *ledger) resultCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results
}

// dups returns how many results arrived for a call that already had one.
func (l *ledger) dups() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dupResults
}

// longest returns the longest synchronous call.
func (l *ledger) longest() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxWait
}

// sample returns the first error text of outcome o.
func (l *ledger) sample(o outcome) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.samples[outcomeNames[o]]
}

// count returns how many calls ended with o.
func (l *ledger) count(o outcome) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[o]
}

// waitUntil waits until cond (called with the lock held) holds, for at most
// timeout; it reports whether it did.
func (l *ledger) waitUntil(timeout time.Duration, cond func() bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return waitCond(l.cond, timeout, cond)
}

// waitAcked waits until at least n calls were acknowledged.
func (l *ledger) waitAcked(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	if !l.waitUntil(timeout, func() bool { return l.counts[outOK] >= n }) {
		t.Fatalf("only %d publishes acknowledged within %v, want %d (%s)", l.count(outOK), timeout, n, l.summary())
	}
}

// waitAll waits until every id allocated so far has its result and returns
// how many still have none (hung) after timeout.
func (l *ledger) waitAll(timeout time.Duration) (missing int) {
	l.waitUntil(timeout, func() bool { return l.results == len(l.out) })
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.out) - l.results
}

// summary describes the counts and the first error of each kind.
func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "attempted %d", len(l.out))
	for o := outOK; o < numOutcomes; o++ {
		fmt.Fprintf(&b, ", %s %d", outcomeNames[o], l.counts[o])
	}
	for o := outOK; o < numOutcomes; o++ {
		if s := l.samples[outcomeNames[o]]; s != "" {
			fmt.Fprintf(&b, "\n  first %s: %s", outcomeNames[o], s)
		}
	}
	return b.String()
}

// messageBody returns the body of call id: its id, "|", then pad bytes.
func messageBody(id, pad int) []byte {
	b := fmt.Appendf(make([]byte, 0, 9+pad), "%08d|", id)
	return append(b, bytes.Repeat([]byte{'x'}, pad)...)
}

// bodyID parses the id at the start of a body made by messageBody.
func bodyID(b []byte) (int, bool) {
	if len(b) < 9 || b[8] != '|' {
		return 0, false
	}
	id, err := strconv.Atoi(string(b[:8]))
	return id, err == nil
}

// ---------------------------------------------------------------------------
// Reports

// faultReport is one line of RELIABILITY.md: the figures of one fault run.
type faultReport struct {
	Fault                       string
	Seed                        uint64
	Attempted, Acked, Rejected  int
	NotSent, Unknown            int
	Lost, Duplicates, Hung      int
	LeakedGoroutines, LeakedFDs int
	Extra                       string // fault-specific figures
}

// fill copies the ledger's counts into r.
func (r *faultReport) fill(l *ledger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Attempted = len(l.out)
	r.Acked, r.Rejected = l.counts[outOK], l.counts[outRejected]
	r.NotSent, r.Unknown = l.counts[outNotSent], l.counts[outUnknown]
	r.Hung += l.hung
}

// log writes the RESULT line and fails the test if a must-be-zero figure
// is not zero.
func (r faultReport) log(t testing.TB) {
	t.Helper()
	t.Logf("RESULT fault=%s seed=%d attempted=%d acked=%d rejected=%d not_sent=%d unknown=%d lost=%d duplicates=%d hung=%d leaked_goroutines=%d leaked_fds=%d %s",
		r.Fault, r.Seed, r.Attempted, r.Acked, r.Rejected, r.NotSent, r.Unknown, r.Lost, r.Duplicates, r.Hung,
		r.LeakedGoroutines, r.LeakedFDs, r.Extra)
	if r.Lost != 0 || r.Hung != 0 || r.LeakedGoroutines != 0 || r.LeakedFDs != 0 {
		t.Errorf("%s: lost %d, hung %d, leaked %d goroutines and %d fds; all must be 0",
			r.Fault, r.Lost, r.Hung, r.LeakedGoroutines, r.LeakedFDs)
	}
}

// ---------------------------------------------------------------------------
// Leaks

// leakBaseline is the number of goroutines and open file descriptors when a
// test starts, before it creates its Producer.
type leakBaseline struct{ goroutines, fds int }

// closeIdleHTTP closes the harness's idle keep-alive connections to nsqd's
// HTTP API, so that they count neither in a baseline nor as a leak.
func closeIdleHTTP() {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting open fds: %v", err)
	}
	return len(ents)
}

// takeBaseline records the goroutines and fds open now.
func takeBaseline(t testing.TB) leakBaseline {
	t.Helper()
	closeIdleHTTP()
	return leakBaseline{runtime.NumGoroutine(), openFDs(t)}
}

// leaked returns how many goroutines and fds are open beyond the baseline
// once the test has stopped everything it started. Goroutines that have
// signalled their end may still be returning, so it looks again for a
// while (bounded) before reporting any; the stacks of the nsqpub goroutines
// left are logged.
func (b leakBaseline) leaked(t testing.TB) (goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		closeIdleHTTP()
		goroutines = runtime.NumGoroutine() - b.goroutines
		fds = openFDs(t) - b.fds
		if (goroutines <= 0 && fds <= 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if goroutines > 0 || fds > 0 {
		t.Logf("beyond the baseline: %d goroutines, %d fds; nsqpub goroutines:\n%s", goroutines, fds, nsqpubStacks())
	}
	return max(goroutines, 0), max(fds, 0)
}

// nsqpubStacks returns the stacks of the goroutines running nsqpub code.
func nsqpubStacks() string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "nsqpub/nsqpub.(*") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// stopProducer stops p (a Producer or a pool) and fails (counting it as
// hung) if Stop takes longer than bound.
func stopProducer(t testing.TB, p interface{ Stop() }, bound time.Duration) (hung int) {
	t.Helper()
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d > bound {
		t.Errorf("Stop took %v, bound %v", d, bound)
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// Reading back

// waitPumped waits (at most 30 s) until topic has handed every message to
// its one channel — the topic holds none and the channel has received at
// least as many as the topic accepted since nsqd started (after a restart
// the channel also receives what the topic kept on disk) — and returns how
// many messages that channel holds.
func waitPumped(t testing.TB, n *nsqd, topic string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := n.Stats(t, topic)
		// Nothing has consumed the channel yet, so once the pump is done
		// it holds at least every message it counted since nsqd started
		// (more after a restart: the disk queue persists, the count does
		// not); a message on its way to the disk queue may be missing
		// from the depth for a moment.
		if s.Depth == 0 && len(s.Channels) == 1 && s.Channels[0].MessageCount >= s.MessageCount {
			c := s.Channels[0]
			if held := c.Depth + c.InFlightCount + c.DeferredCount; held >= c.MessageCount {
				return int(held)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %q did not hand its messages to one channel within 30 s: %+v", topic, s)
		}
		time.Sleep(pollInterval)
	}
}

// queueErrors returns nsqd's log lines about its topics, channels and disk
// queues at WARN or ERROR level: where nsqd itself drops messages.
func queueErrors(n *nsqd) string {
	var out []string
	for _, line := range strings.Split(n.Output(), "\n") {
		if (strings.Contains(line, "ERROR") || strings.Contains(line, "WARN")) &&
			(strings.Contains(line, "DISKQUEUE") || strings.Contains(line, "TOPIC(") || strings.Contains(line, "CHANNEL(")) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// readIDs reads exactly want messages from topic/channel with go-nsq's
// Consumer and returns how many times each id arrived. Bodies that carry no
// id are counted under -1. It fails if fewer arrive in time.
func readIDs(t testing.TB, n *nsqd, topic, channel string, want int) map[int]int {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 2500
	counts := map[int]int{}
	timeout := 30*time.Second + time.Duration(want/2000)*time.Second
	consumeEach(t, n, topic, channel, want, cfg, timeout, func(m *nsq.Message, _ time.Time) {
		id, ok := bodyID(m.Body)
		if !ok {
			id = -1
		}
		counts[id]++
	})
	return counts
}

// readBack fills r with the ledger's counts, then reads everything topic's
// one channel "ch" holds and matches it against the ledger (see verify). It
// returns how many publishes of unknown outcome are in nsqd.
func readBack(t testing.TB, n *nsqd, topic string, l *ledger, r *faultReport) (unknownArrived int) {
	t.Helper()
	r.fill(l)
	counts := readIDs(t, n, topic, "ch", waitPumped(t, n, topic))
	return verify(t, l, counts, r)
}

// verify matches what nsqd holds (counts by id, from readIDs) against the
// ledger: an acknowledged id missing is lost; an id that was rejected or not
// sent must be absent; every id beyond the first copy is a duplicate.
func verify(t testing.TB, l *ledger, counts map[int]int, r *faultReport) (unknownArrived int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var phantom []int
	for id, o := range l.out {
		c := counts[id]
		switch o {
		case outOK:
			if c == 0 {
				r.Lost++
			}
		case outRejected, outNotSent:
			if c > 0 {
				phantom = append(phantom, id)
			}
		case outUnknown:
			if c > 0 {
				unknownArrived++
			}
		}
		if c > 1 {
			r.Duplicates += c - 1
		}
	}
	var foreign int
	for id, c := range counts {
		if id < 0 || id >= len(l.out) {
			foreign += c
		}
	}
	if len(phantom) > 0 {
		t.Errorf("%d publishes reported rejected or not sent are in nsqd (ids %v)", len(phantom), phantom[:min(len(phantom), 10)])
	}
	if foreign > 0 {
		t.Errorf("nsqd holds %d messages nobody published", foreign)
	}
	if r.Lost > 0 {
		t.Errorf("%d acknowledged publishes are not in nsqd", r.Lost)
	}
	return unknownArrived
}

// ---------------------------------------------------------------------------
// The cutting proxy

// cutPlan says when the proxy cuts a connection it forwards. Each budget is
// drawn per connection; the first one reached cuts it.
type cutPlan struct {
	MaxUp        int           // producer→nsqd bytes, drawn from [0, MaxUp); 0: no limit
	MaxDown      int           // nsqd→producer bytes, drawn from [0, MaxDown); 0: no limit
	HandshakeCut float64       // probability that the producer→nsqd budget is under 512 bytes
	MaxLife      time.Duration // time, drawn from [MaxLife/10, MaxLife); 0: no limit
}

// cutProxy forwards TCP connections from the producer to nsqd and cuts each
// one at a random moment — after a random number of bytes in either
// direction (possibly in the middle of a command or a frame) or a random
// time — by closing both sides. The moments come from a seeded generator.
// It can also freeze its connections: they stay open and forward nothing.
type cutProxy struct {
	ln     net.Listener
	target string
	plan   cutPlan

	mu     sync.Mutex
	rng    *rand.Rand
	live   map[*proxyLink]struct{}
	closed bool

	wg       sync.WaitGroup
	accepted atomic.Int64 // connections accepted
	cuts     atomic.Int64 // connections cut by the plan
}

// proxyLink is one forwarded connection.
type proxyLink struct {
	client, server net.Conn
	once           sync.Once
	frozen         atomic.Bool
}

// newCutProxy starts a proxy to target on a loopback port; it is closed
// when the test ends.
func newCutProxy(t testing.TB, target string, seed uint64, plan cutPlan) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &cutProxy{ln: ln, target: target, plan: plan, rng: newRand(seed), live: map[*proxyLink]struct{}{}}
	px.wg.Add(1)
	go px.acceptLoop()
	t.Cleanup(px.Close)
	return px
}

// Addr is the address producers connect to.
func (px *cutProxy) Addr() string { return px.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for the proxy's
// goroutines.
func (px *cutProxy) Close() {
	px.mu.Lock()
	px.closed = true
	for l := range px.live {
		px.cut(l, false)
	}
	px.mu.Unlock()
	px.ln.Close()
	px.wg.Wait()
}

// freeze makes every current connection silent: what either side sends is
// read and dropped. Later connections forward normally.
func (px *cutProxy) freeze() {
	px.mu.Lock()
	defer px.mu.Unlock()
	for l := range px.live {
		l.frozen.Store(true)
	}
}

func (px *cutProxy) acceptLoop() {
	defer px.wg.Done()
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		px.accepted.Add(1)
		px.wg.Add(1)
		go px.serve(c)
	}
}

// draw picks one connection's budgets (-1: none) and lifetime (0: none).
func (px *cutProxy) draw() (up, down int, life time.Duration) {
	up, down = -1, -1
	if px.plan.MaxUp > 0 {
		if px.rng.Float64() < px.plan.HandshakeCut {
			up = px.rng.IntN(512)
		} else {
			up = px.rng.IntN(px.plan.MaxUp)
		}
	}
	if px.plan.MaxDown > 0 {
		down = px.rng.IntN(px.plan.MaxDown)
	}
	if m := px.plan.MaxLife; m > 0 {
		life = m/10 + time.Duration(px.rng.Int64N(int64(m-m/10)))
	}
	return up, down, life
}

func (px *cutProxy) serve(client net.Conn) {
	defer px.wg.Done()
	server, err := net.DialTimeout("tcp", px.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	l := &proxyLink{client: client, server: server}
	px.mu.Lock()
	if px.closed {
		px.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	up, down, life := px.draw()
	px.live[l] = struct{}{}
	px.mu.Unlock()
	var timer *time.Timer
	if life > 0 {
		timer = time.AfterFunc(life, func() { px.cut(l, true) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		px.pump(l, server, client, up)
	}()
	px.pump(l, client, server, down)
	<-done
	if timer != nil {
		timer.Stop()
	}
	px.mu.Lock()
	delete(px.live, l)
	px.mu.Unlock()
}

// pump copies src to dst until either side ends, or until budget bytes
// (-1: no limit) have passed: then it forwards exactly the budget and cuts.
func (px *cutProxy) pump(l *proxyLink, dst, src net.Conn, budget int) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.frozen.Load() {
			if budget >= 0 && n > budget {
				dst.Write(buf[:budget])
				px.cut(l, true)
				return
			}
			if budget >= 0 {
				budget -= n
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				px.cut(l, false)
				return
			}
		}
		if err != nil {
			px.cut(l, false)
			return
		}
	}
}

// cut closes both sides of l once; planned cuts are counted.
func (px *cutProxy) cut(l *proxyLink, planned bool) {
	l.once.Do(func() {
		if planned {
			px.cuts.Add(1)
		}
		l.client.Close()
		l.server.Close()
	})
}

// ---------------------------------------------------------------------------
// Publishing under faults

// publishLoad runs publishers against p until stop is closed (or, for the
// asynchronous one, until it has made asyncMax calls): one goroutine making
// PublishAsync calls and syncWorkers goroutines making PublishContext calls
// bounded by l.bound. Every call gets a fresh id from l and its result is
// recorded there. A publisher whose call fails at once (no connection, or
// backing off before the next dial) waits a millisecond before its next
// call, as an application would, instead of spinning through ids.
type publishLoad struct {
	p           publisher
	l           *ledger
	topic       string
	syncWorkers int
	asyncMax    int  // 0: until stop
	paced       bool // the asynchronous publisher pauses 1 ms every 100 calls
	seed        uint64

	stop      chan struct{} // closed to end the publishers
	asyncDone chan struct{} // closed when the asynchronous publisher returns
	wg        sync.WaitGroup

	done     chan *nsqpub.ProducerTransaction
	recvStop chan struct{}
	recvDone chan struct{}
}

// publisher is what publishLoad and poisonStream drive: a Producer or a
// ProducerPool.
type publisher interface {
	Publish(topic string, body []byte) error
	PublishContext(ctx context.Context, topic string, body []byte) error
	PublishAsync(topic string, body []byte, doneChan chan *nsqpub.ProducerTransaction, args ...interface{}) error
}

// start launches the publishers and the receiver of asynchronous results.
func (pl *publishLoad) start() {
	pl.stop = make(chan struct{})
	pl.asyncDone = make(chan struct{})
	pl.done = make(chan *nsqpub.ProducerTransaction, 4096)
	pl.recvStop = make(chan struct{})
	pl.recvDone = make(chan struct{})
	go pl.receive()
	go pl.publishAsync()
	for w := 0; w < pl.syncWorkers; w++ {
		pl.wg.Add(1)
		go pl.publishSync(w)
	}
}

// receive records asynchronous results until recvStop, then drains what is
// left without waiting.
func (pl *publishLoad) receive() {
	defer close(pl.recvDone)
	rec := func(tr *nsqpub.ProducerTransaction) { pl.l.record(tr.Args[0].(int), tr.Error, 0) }
	for {
		select {
		case tr := <-pl.done:
			rec(tr)
		case <-pl.recvStop:
			for {
				select {
				case tr := <-pl.done:
					rec(tr)
				default:
					return
				}
			}
		}
	}
}

func (pl *publishLoad) stopped() bool {
	select {
	case <-pl.stop:
		return true
	default:
		return false
	}
}

func (pl *publishLoad) publishAsync() {
	defer close(pl.asyncDone)
	rng := newRand(pl.seed)
	for i := 0; (pl.asyncMax == 0 || i < pl.asyncMax) && !pl.stopped(); i++ {
		id := pl.l.newID()
		if err := pl.p.PublishAsync(pl.topic, messageBody(id, rng.IntN(64)), pl.done, id); err != nil {
			pl.l.record(id, err, 0)
			if errors.Is(err, nsqpub.ErrStopped) {
				return
			}
			time.Sleep(time.Millisecond) // pacing after a failed call, not synchronisation
		} else if pl.paced && i%100 == 99 {
			time.Sleep(time.Millisecond) // pacing of a background stream, not synchronisation
		}
	}
}

func (pl *publishLoad) publishSync(w int) {
	defer pl.wg.Done()
	rng := newRand(pl.seed + uint64(w) + 1)
	for !pl.stopped() {
		id := pl.l.newID()
		ctx, cancel := context.WithTimeout(context.Background(), pl.l.bound-time.Second)
		start := time.Now()
		err := pl.p.PublishContext(ctx, pl.topic, messageBody(id, rng.IntN(64)))
		pl.l.record(id, err, time.Since(start))
		cancel()
		if errors.Is(err, nsqpub.ErrStopped) {
			return
		}
		if err != nil {
			time.Sleep(time.Millisecond) // pacing after a failed call, not synchronisation
		}
	}
}

// finish ends the publishers, waits (at most timeout) for every result, and
// returns how many calls never got one.
func (pl *publishLoad) finish(t testing.TB, timeout time.Duration) (hung int) {
	t.Helper()
	select {
	case <-pl.stop:
	default:
		close(pl.stop)
	}
	<-pl.asyncDone
	pl.wg.Wait()
	if hung = pl.l.waitAll(timeout); hung > 0 {
		t.Errorf("%d publishes got no result within %v (%s)", hung, timeout, pl.l.summary())
	}
	return hung
}

// closeReceiver stops the receiver once the Producer is stopped, so that a
// result delivered twice is still counted.
func (pl *publishLoad) closeReceiver() {
	close(pl.recvStop)
	<-pl.recvDone
}

// ---------------------------------------------------------------------------
// Connection cuts

// TestFaultConnectionCuts publishes through a proxy that cuts the connection
// at random moments, with the default configuration and with AtLeastOnce.
// Every call must complete exactly once, the synchronous ones within their
// context's deadline (+1 s); every acknowledged message must be in nsqd and
// none reported rejected or not sent; without AtLeastOnce there must be no
// duplicate.
func TestFaultConnectionCuts(t *testing.T) {
	for _, mode := range []struct {
		name        string
		atLeastOnce bool
	}{{"default", false}, {"at-least-once", true}} {
		t.Run(mode.name, func(t *testing.T) {
			for _, seed := range faultSeeds(t) {
				t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) { runCuts(t, seed, mode.atLeastOnce) })
			}
		})
	}
}

func runCuts(t *testing.T, seed uint64, atLeastOnce bool) {
	t.Logf("seed %d (replay with NSQPUB_SEED=%d)", seed, seed)
	const syncBound = 3 * time.Second // context deadline 2 s, plus 1 s
	asyncN := scale(20000, 150000)
	n := startNSQD(t)
	topic := topicName(t)
	n.CreateChannel(t, topic, "ch")

	base := takeBaseline(t)
	px := newCutProxy(t, n.TCPAddr, seed, cutPlan{MaxUp: 96 << 10, MaxDown: 2048, HandshakeCut: 0.05, MaxLife: 300 * time.Millisecond})
	cfg := nsqpub.NewConfig()
	cfg.AtLeastOnce = atLeastOnce
	p := newProducerAt(t, px.Addr(), cfg)
	l := newLedger(syncBound)
	pl := &publishLoad{p: p, l: l, topic: topic, syncWorkers: 8, asyncMax: asyncN, seed: seed}
	start := time.Now()
	pl.start()
	<-pl.asyncDone
	r := faultReport{Fault: "cuts/default", Seed: seed}
	if atLeastOnce {
		r.Fault = "cuts/at-least-once"
	}
	r.Hung += pl.finish(t, scale(60*time.Second, 180*time.Second))
	elapsed := time.Since(start)
	r.Hung += stopProducer(t, p, cfg.StopTimeout+2*time.Second)
	pl.closeReceiver()
	px.Close()
	r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)

	if l.dups() > 0 {
		t.Errorf("%d results delivered twice", l.dups())
	}
	if o := l.count(outOther); o > 0 {
		t.Errorf("%d publishes ended with an error outside the three kinds (%s)", o, l.summary())
	}
	total := waitPumped(t, n, topic)
	msgCount := n.Stats(t, topic).MessageCount
	if msgCount != int64(total) || msgCount < int64(l.count(outOK)) {
		t.Errorf("message_count %d, channel holds %d, acknowledged %d (%s)\nnsqd's queue errors:\n%s",
			msgCount, total, l.count(outOK), n.describe(topic), queueErrors(n))
	}
	unknownArrived := readBack(t, n, topic, l, &r)
	if r.Lost > 0 {
		t.Logf("nsqd's queue errors:\n%s", queueErrors(n))
	}
	if !atLeastOnce && r.Duplicates > 0 {
		t.Errorf("%d duplicates without AtLeastOnce: something written was sent again", r.Duplicates)
	}
	r.Extra = fmt.Sprintf("connections=%d cuts=%d unknown_in_nsqd=%d max_sync_wait=%v elapsed=%v",
		px.accepted.Load(), px.cuts.Load(), unknownArrived, l.longest().Round(time.Millisecond), elapsed.Round(time.Millisecond))
	r.log(t)
	t.Log(l.summary())
	if px.cuts.Load() < int64(scale(5, 50)) {
		t.Errorf("only %d cuts: the plan no longer exercises the producer", px.cuts.Load())
	}
}

// ---------------------------------------------------------------------------
// nsqd restart

// TestFaultNSQDRestart publishes continuously while nsqd is stopped with
// SIGTERM and started again on the same port and data directory; publishing
// must resume by itself and every acknowledged message must be there after
// the restarts (counted through the channel, created before publishing,
// since message_count restarts from 0).
func TestFaultNSQDRestart(t *testing.T) {
	for _, seed := range faultSeeds(t) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			restarts := scale(2, 6)
			perPhase := scale(3000, 20000)
			n := startNSQD(t)
			topic := topicName(t)
			n.CreateChannel(t, topic, "ch")
			base := takeBaseline(t)
			cfg := nsqpub.NewConfig()
			p := newProducerAt(t, n.TCPAddr, cfg)
			lg := logEvents(p, nsqpub.LogLevelInfo)
			l := newLedger(3 * time.Second)
			pl := &publishLoad{p: p, l: l, topic: topic, syncWorkers: 4, seed: seed}
			pl.start()
			rng := newRand(seed)
			for i := 0; i < restarts; i++ {
				// Restart at a random point of each phase, then wait for
				// the producer to reconnect by itself.
				l.waitAcked(t, l.count(outOK)+perPhase/2+rng.IntN(perPhase/2), 60*time.Second)
				n.Restart(t)
				lg.wait(t, connectedLine, i+2)
			}
			// Publishing resumed: acknowledgements after the last restart.
			l.waitAcked(t, l.count(outOK)+perPhase, 60*time.Second)
			r := faultReport{Fault: "nsqd-restart", Seed: seed}
			r.Hung += pl.finish(t, 60*time.Second)
			r.Hung += stopProducer(t, p, cfg.StopTimeout+2*time.Second)
			pl.closeReceiver()
			r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
			if got := lg.count(connectedLine); got < restarts+1 {
				t.Errorf("connected %d times over %d restarts", got, restarts)
			}
			if l.dups() > 0 || l.count(outOther) > 0 {
				t.Errorf("%d results twice, %d of another kind (%s)", l.dups(), l.count(outOther), l.summary())
			}
			unknownArrived := readBack(t, n, topic, l, &r)
			if r.Duplicates > 0 {
				t.Errorf("%d duplicates without AtLeastOnce", r.Duplicates)
			}
			r.Extra = fmt.Sprintf("restarts=%d connections=%d unknown_in_nsqd=%d", restarts, lg.count(connectedLine), unknownArrived)
			r.log(t)
			t.Log(l.summary())
		})
	}
}

// ---------------------------------------------------------------------------
// Black hole

// TestFaultBlackHole points producers at a listener that accepts and never
// answers, and at one whose backlog is full so that it never completes a
// TCP handshake. Publish must return within DialTimeout and PublishContext
// within its context (each +1 s), and 100 concurrent publishers must share
// one bounded wait instead of queueing behind each other.
func TestFaultBlackHole(t *testing.T) {
	t.Run("accepts, never answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			held  []net.Conn
			count atomic.Int64
			wg    sync.WaitGroup
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				count.Add(1)
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				// Read and drop what the producer sends, answer nothing,
				// and close when the producer does.
				wg.Add(1)
				go func() {
					defer wg.Done()
					io.Copy(io.Discard, c)
					c.Close()
				}()
			}
		}()
		defer func() {
			ln.Close()
			mu.Lock()
			for _, c := range held {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		}()
		runBlackHole(t, "black-hole/accepts", ln.Addr().String(), count.Load)
	})
	t.Run("never accepts", func(t *testing.T) {
		addr, closeFn := fullBacklog(t)
		defer closeFn()
		runBlackHole(t, "black-hole/backlog-full", addr, nil)
	})
}

// fullBacklog returns the address of a listening socket with a backlog of
// 0 whose accept queue is already full, so that the kernel drops every new
// SYN: a dial to it hangs until its timeout.
func fullBacklog(t *testing.T) (string, func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var fillers []net.Conn
	closeFn := func() {
		for _, c := range fillers {
			c.Close()
		}
		syscall.Close(fd)
	}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Logf("backlog full after %d connections", len(fillers))
				return addr, closeFn
			}
			closeFn()
			t.Fatalf("filling the backlog: %v", err)
		}
		fillers = append(fillers, c)
		if i == 64 {
			closeFn()
			t.Fatal("the backlog never filled")
		}
	}
}

// runBlackHole runs the black-hole checks against addr. accepted, if not
// nil, counts the connections the listener accepted.
func runBlackHole(t *testing.T, fault, addr string, accepted func() int64) {
	const slack = time.Second
	rounds := scale(1, 5)
	base := takeBaseline(t)
	l := newLedger(0)
	r := faultReport{Fault: fault}
	cfg := nsqpub.NewConfig() // DialTimeout 1 s
	ctxBound := 300 * time.Millisecond
	// call runs one publish, records it and checks its bound.
	call := func(p *nsqpub.Producer, withCtx bool) {
		id := l.newID()
		body := messageBody(id, 0)
		bound := cfg.DialTimeout
		start := time.Now()
		var err error
		if withCtx {
			ctx, cancel := context.WithTimeout(context.Background(), ctxBound)
			err = p.PublishContext(ctx, "t", body)
			cancel()
			bound = ctxBound
		} else {
			err = p.Publish("t", body)
		}
		d := time.Since(start)
		l.record(id, err, d)
		if d > bound+slack {
			t.Errorf("publish took %v, bound %v (+%v)", d, bound, slack)
			l.mu.Lock()
			l.hung++
			l.mu.Unlock()
		}
		if classify(err) != outNotSent {
			t.Errorf("publish to a black hole: %v, want a not-sent error", err)
		}
	}
	newP := func() *nsqpub.Producer {
		p, err := nsqpub.NewProducer(addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for round := 0; round < rounds; round++ {
		for _, withCtx := range []bool{false, true} {
			// One publisher.
			p := newP()
			call(p, withCtx)
			r.Hung += stopProducer(t, p, 2*time.Second)

			// 100 concurrent publishers on a fresh Producer: one shared dial.
			p = newP()
			var before int64
			if accepted != nil {
				before = accepted()
			}
			start := time.Now()
			var wg sync.WaitGroup
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					call(p, withCtx)
				}()
			}
			wg.Wait()
			bound := cfg.DialTimeout
			if withCtx {
				bound = ctxBound
			}
			if d := time.Since(start); d > bound+slack {
				t.Errorf("100 concurrent publishers took %v together, bound %v (+%v): they serialize", d, bound, slack)
			}
			r.Hung += stopProducer(t, p, 2*time.Second)
			if accepted != nil {
				if d := accepted() - before; d != 1 {
					t.Errorf("100 concurrent publishers made %d connections, want 1 shared dial", d)
				}
			}
		}
	}
	r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
	r.fill(l)
	r.Extra = fmt.Sprintf("max_wait=%v bounds: Publish %v, PublishContext %v, +%v", l.longest().Round(time.Millisecond), cfg.DialTimeout, ctxBound, slack)
	r.log(t)
}

// ---------------------------------------------------------------------------
// Poison message

// TestFaultPoisonMessage: nsqd refuses messages over 100 bytes while the
// producer believes the limit is 1 MiB. One 200-byte message among 10,000
// pipelined valid ones (merged into MPUBs) must fail alone with
// E_BAD_MESSAGE; every other message must arrive, exactly once.
func TestFaultPoisonMessage(t *testing.T) {
	n := startNSQD(t, "--max-msg-size=100")
	for _, seed := range faultSeeds(t) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			total := scale(10000, 50000)
			rng := newRand(seed)
			poison := total/4 + rng.IntN(total/2)
			topic := topicName(t)
			n.CreateChannel(t, topic, "ch")
			mpubRejections := strings.Count(n.Output(), "] - E_BAD_MESSAGE MPUB message too big")
			base := takeBaseline(t)
			cfg := nsqpub.NewConfig()
			p := newProducerAt(t, n.TCPAddr, cfg)
			lg := logEvents(p, nsqpub.LogLevelInfo)
			defer func() {
				if t.Failed() {
					t.Logf("producer log:\n%s", lg)
				}
			}()
			l := newLedger(0)
			done := make(chan *nsqpub.ProducerTransaction, total)
			for i := 0; i < total; i++ {
				id := l.newID()
				body := messageBody(id, rng.IntN(100-9))
				if id == poison {
					body = messageBody(id, 200-9)
				}
				if err := p.PublishAsync(topic, body, done, id); err != nil {
					t.Fatalf("PublishAsync %d: %v", id, err)
				}
			}
			r := faultReport{Fault: "poison", Seed: seed}
			timeout := time.NewTimer(60 * time.Second)
			defer timeout.Stop()
			for i := 0; i < total; i++ {
				select {
				case tr := <-done:
					l.record(tr.Args[0].(int), tr.Error, 0)
				case <-timeout.C:
					r.Hung = total - i
					t.Errorf("%d publishes got no result within 60 s", r.Hung)
					i = total
				}
			}
			r.Hung += stopProducer(t, p, cfg.StopTimeout+2*time.Second)
			for len(done) > 0 {
				tr := <-done
				l.record(tr.Args[0].(int), tr.Error, 0)
			}
			r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
			if l.dups() > 0 {
				t.Errorf("%d results delivered twice", l.dups())
			}
			// nsqd closes the connection right after its error reply, with our
			// pipelined bytes unread: the kernel then resets the connection
			// and may drop that reply before it is sent. The producer can only
			// report what was in flight as unknown then. Each connection nsqd
			// closed without a reply reaching us is counted.
			repliesLost := lg.count("connection closed") - lg.count("after an error reply")
			l.mu.Lock()
			for id, o := range l.out {
				switch {
				case id == poison && o == outOK:
					t.Errorf("the poison message %d was acknowledged", id)
				case repliesLost == 0 && (id == poison) != (o == outRejected),
					repliesLost == 0 && id != poison && o != outOK,
					o != outOK && o != outUnknown && o != outRejected:
					t.Errorf("publish %d (poison %d): %s", id, poison, outcomeNames[o])
				}
			}
			l.mu.Unlock()
			if s := l.sample(outRejected); (repliesLost == 0 || s != "") && !strings.Contains(s, "E_BAD_MESSAGE") {
				t.Errorf("the poison message failed with %q, want E_BAD_MESSAGE", s)
			}
			if repliesLost == 0 {
				waitMessageCount(t, n, topic, int64(total-1))
			} else {
				t.Logf("nsqd's error reply was lost in a connection reset %d time(s): %d publishes unknown", repliesLost, l.count(outUnknown))
			}
			readBack(t, n, topic, l, &r)
			if r.Duplicates > 0 {
				t.Errorf("%d duplicates", r.Duplicates)
			}
			merged := strings.Count(n.Output(), "] - E_BAD_MESSAGE MPUB message too big") - mpubRejections
			r.Extra = fmt.Sprintf("poison_id=%d rejected_as_merged_mpub=%d replies_lost_in_reset=%d connections=%d",
				poison, merged, repliesLost, lg.count(connectedLine))
			r.log(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Heartbeats

// TestFaultHeartbeat: with a 1 s heartbeat, a connection left idle for at
// least 2.5 intervals (3 heartbeats; 6 in the soak form) is still the one
// the next publish uses; the same holds while a writer publishes without
// pause through the heartbeats.
func TestFaultHeartbeat(t *testing.T) {
	n := startNSQD(t)
	beats := scale(3, 6)
	t.Run("idle", func(t *testing.T) {
		h := newHeartbeatRun(t, n)
		h.pub()
		h.lg.wait(t, "heartbeat", beats)
		h.pub()
		r := h.finish(t, "heartbeat/idle")
		if got := h.lg.count(connectedLine); got != 1 || r.Acked != 2 {
			t.Errorf("connected %d times, %d of 2 publishes acknowledged:\n%s", got, r.Acked, h.lg)
		}
		waitMessageCount(t, n, h.topic, 2)
		r.Extra = fmt.Sprintf("heartbeats=%d connections=%d", h.lg.count("heartbeat"), h.lg.count(connectedLine))
		r.log(t)
	})
	t.Run("busy writer", func(t *testing.T) {
		h := newHeartbeatRun(t, n)
		h.pub()
		from := h.lg.count("heartbeat")
		stop := make(chan struct{})
		busy := make(chan struct{})
		go func() {
			defer close(busy)
			for {
				select {
				case <-stop:
					return
				default:
					h.pub()
				}
			}
		}()
		h.lg.wait(t, "heartbeat", from+beats)
		close(stop)
		<-busy
		h.pub()
		r := h.finish(t, "heartbeat/busy")
		if got := h.lg.count(connectedLine); got != 1 || r.Acked != r.Attempted {
			t.Errorf("connected %d times, %d of %d publishes acknowledged (%s)", got, r.Acked, r.Attempted, h.l.summary())
		}
		waitMessageCount(t, n, h.topic, int64(r.Acked))
		r.Extra = fmt.Sprintf("heartbeats=%d connections=%d", h.lg.count("heartbeat")-from, h.lg.count(connectedLine))
		r.log(t)
	})
}

// heartbeatRun is one case of TestFaultHeartbeat: a Producer with a 1 s
// heartbeat and its debug log, publishing to a fresh topic.
type heartbeatRun struct {
	topic string
	base  leakBaseline
	p     *nsqpub.Producer
	lg    *eventLogger
	l     *ledger
}

// newHeartbeatRun takes the leak baseline, then creates the Producer.
func newHeartbeatRun(t *testing.T, n *nsqd) *heartbeatRun {
	h := &heartbeatRun{topic: topicName(t), base: takeBaseline(t), l: newLedger(0)}
	h.p = newProducer(t, n, &nsqpub.Config{HeartbeatInterval: time.Second})
	h.lg = logEvents(h.p, nsqpub.LogLevelDebug)
	return h
}

// pub publishes one message and records its result.
func (h *heartbeatRun) pub() {
	id := h.l.newID()
	h.l.record(id, h.p.Publish(h.topic, messageBody(id, 0)), 0)
}

// finish stops the Producer and returns the report of the run so far.
func (h *heartbeatRun) finish(t *testing.T, fault string) faultReport {
	r := faultReport{Fault: fault}
	r.Hung += stopProducer(t, h.p, 7*time.Second)
	r.LeakedGoroutines, r.LeakedFDs = h.base.leaked(t)
	r.fill(h.l)
	return r
}

// ---------------------------------------------------------------------------
// A silent server

// TestFaultSilentServer freezes the connection (nothing arrives, not even a
// heartbeat; what the producer writes is dropped). With a 1 s heartbeat the
// producer must declare it dead within 2 intervals (+1 s), fail what was in
// flight as unknown, and redial for the next publishes. Then, with the
// default 30 s heartbeat, Stop on a frozen connection with publishes
// outstanding must return within StopTimeout (+1 s) and complete them all.
func TestFaultSilentServer(t *testing.T) {
	n := startNSQD(t)
	t.Run("declared dead", func(t *testing.T) {
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		base := takeBaseline(t)
		px := newCutProxy(t, n.TCPAddr, 0, cutPlan{})
		cfg := &nsqpub.Config{HeartbeatInterval: time.Second}
		p := newProducerAt(t, px.Addr(), cfg)
		lg := logEvents(p, nsqpub.LogLevelInfo)
		l := newLedger(0)
		pub := func() error {
			id := l.newID()
			err := p.Publish(topic, messageBody(id, 0))
			l.record(id, err, 0)
			return err
		}
		if err := pub(); err != nil {
			t.Fatal(err)
		}
		px.freeze()
		frozen := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- pub() }()
		lg.wait(t, "connection closed", 1)
		dead := time.Since(frozen)
		if bound := 2*cfg.HeartbeatInterval + time.Second; dead > bound {
			t.Errorf("the silent connection was declared dead after %v, bound %v", dead, bound)
		}
		if err := <-errc; classify(err) != outUnknown {
			t.Errorf("publish in flight on the silent connection: %v, want ErrUnknownOutcome", err)
		}
		if err := pub(); err != nil {
			t.Errorf("publish after the silent connection died: %v", err)
		}
		r := faultReport{Fault: "silent/declared-dead"}
		r.Hung += stopProducer(t, p, 7*time.Second)
		px.Close()
		r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
		readBack(t, n, topic, l, &r)
		r.Extra = fmt.Sprintf("declared_dead_after=%v connections=%d", dead.Round(time.Millisecond), px.accepted.Load())
		r.log(t)
	})
	t.Run("stop while frozen", func(t *testing.T) {
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		base := takeBaseline(t)
		px := newCutProxy(t, n.TCPAddr, 0, cutPlan{})
		// A window of 4 commands fills at once, so the writer waits for
		// answers that never come while publishers wait for the writer.
		cfg := &nsqpub.Config{StopTimeout: 500 * time.Millisecond, MaxInFlightCommands: 4}
		p := newProducerAt(t, px.Addr(), cfg)
		l := newLedger(0)
		if err := p.Ping(); err != nil {
			t.Fatal(err)
		}
		px.freeze()
		// Fill the in-flight window and the queue, and keep publishers
		// blocked on the full queue, then Stop.
		pl := &publishLoad{p: p, l: l, topic: topic, syncWorkers: 0, asyncMax: 20000, seed: 1}
		pl.start()
		if !l.waitUntil(30*time.Second, func() bool { return len(l.out) >= 1000 }) {
			t.Fatalf("the publisher made fewer than 1000 calls in 30 s (%s)", l.summary())
		}
		r := faultReport{Fault: "silent/stop"}
		start := time.Now()
		p.Stop()
		stopTook := time.Since(start)
		if bound := cfg.StopTimeout + cfg.WriteTimeout + time.Second; stopTook > bound {
			t.Errorf("Stop on a frozen connection took %v, bound %v", stopTook, bound)
			r.Hung++
		}
		r.Hung += pl.finish(t, 10*time.Second)
		pl.closeReceiver()
		px.Close()
		r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
		if l.dups() > 0 || l.count(outOther) > 0 || l.count(outOK) > 0 {
			t.Errorf("%d results twice, %d of another kind, %d acknowledged by a frozen nsqd (%s)",
				l.dups(), l.count(outOther), l.count(outOK), l.summary())
		}
		readBack(t, n, topic, l, &r)
		r.Extra = fmt.Sprintf("stop_took=%v", stopTook.Round(time.Millisecond))
		r.log(t)
		t.Log(l.summary())
	})
}

// ---------------------------------------------------------------------------
// Bad input

// TestFaultBadInput runs every kind of bad input through the public API
// against a real nsqd while an asynchronous stream of valid publishes runs
// on the same Producer: each bad call must return its own error, and every
// publish of the stream must succeed on the one connection.
func TestFaultBadInput(t *testing.T) {
	n := startNSQD(t)
	topic := topicName(t)
	base := takeBaseline(t)
	p := newProducerAt(t, n.TCPAddr, nsqpub.NewConfig())
	lg := logEvents(p, nsqpub.LogLevelInfo)
	l := newLedger(0)
	if err := p.Ping(); err != nil {
		t.Fatal(err)
	}

	// The stream of valid publishes.
	stream := &publishLoad{p: p, l: l, topic: topic, paced: true, seed: 7}
	stream.start()
	l.waitAcked(t, 100, 30*time.Second)

	ok := []byte("ok")
	big := make([]byte, nsqpub.DefaultMaxMsgSize+1)
	maxBody := big[:nsqpub.DefaultMaxMsgSize]
	bad := make(chan *nsqpub.ProducerTransaction, 64)
	ctx := context.Background()
	badTopics := []string{"", strings.Repeat("a", 65), strings.Repeat("a", 55) + "#ephemeral", "a:b", "a b",
		"a\nPUB b", "#ephemeral", "a#other", "a#ephemeral#ephemeral", "tópico", "a/b", "a\x00b", "a\tb", "a*"}
	type badCase struct {
		name string
		call func() error
		want error
	}
	var cases []badCase
	for _, bt := range badTopics {
		q := strconv.Quote(bt)
		cases = append(cases,
			badCase{"Publish topic " + q, func() error { return p.Publish(bt, ok) }, nsqpub.ErrInvalidTopic},
			badCase{"PublishContext topic " + q, func() error { return p.PublishContext(ctx, bt, ok) }, nsqpub.ErrInvalidTopic},
			badCase{"PublishAsync topic " + q, func() error { return p.PublishAsync(bt, ok, bad) }, nsqpub.ErrInvalidTopic},
			badCase{"MultiPublish topic " + q, func() error { return p.MultiPublish(bt, [][]byte{ok}) }, nsqpub.ErrInvalidTopic},
			badCase{"MultiPublishAsync topic " + q, func() error { return p.MultiPublishAsync(bt, [][]byte{ok}, bad) }, nsqpub.ErrInvalidTopic},
			badCase{"DeferredPublish topic " + q, func() error { return p.DeferredPublish(bt, time.Second, ok) }, nsqpub.ErrInvalidTopic},
			badCase{"DeferredPublishAsync topic " + q, func() error { return p.DeferredPublishAsync(bt, time.Second, ok, bad) }, nsqpub.ErrInvalidTopic},
		)
	}
	cases = append(cases, []badCase{
		{"Publish nil body", func() error { return p.Publish(topic, nil) }, nsqpub.ErrEmptyBody},
		{"Publish empty body", func() error { return p.Publish(topic, []byte{}) }, nsqpub.ErrEmptyBody},
		{"PublishAsync nil body", func() error { return p.PublishAsync(topic, nil, bad) }, nsqpub.ErrEmptyBody},
		{"DeferredPublish empty body", func() error { return p.DeferredPublish(topic, time.Second, []byte{}) }, nsqpub.ErrEmptyBody},
		{"Publish oversized body", func() error { return p.Publish(topic, big) }, nsqpub.ErrMessageTooLarge},
		{"PublishAsync oversized body", func() error { return p.PublishAsync(topic, big, bad) }, nsqpub.ErrMessageTooLarge},
		{"DeferredPublishAsync oversized body", func() error { return p.DeferredPublishAsync(topic, 0, big, bad) }, nsqpub.ErrMessageTooLarge},
		{"MultiPublish nil", func() error { return p.MultiPublish(topic, nil) }, nsqpub.ErrEmptyBatch},
		{"MultiPublish empty", func() error { return p.MultiPublish(topic, [][]byte{}) }, nsqpub.ErrEmptyBatch},
		{"MultiPublishAsync empty", func() error { return p.MultiPublishAsync(topic, nil, bad) }, nsqpub.ErrEmptyBatch},
		{"MultiPublish empty member", func() error { return p.MultiPublish(topic, [][]byte{ok, {}, ok}) }, nsqpub.ErrEmptyBody},
		{"MultiPublish nil member", func() error { return p.MultiPublish(topic, [][]byte{nil}) }, nsqpub.ErrEmptyBody},
		{"MultiPublish oversized member", func() error { return p.MultiPublish(topic, [][]byte{ok, big}) }, nsqpub.ErrMessageTooLarge},
		{"MultiPublish body over MaxBodySize", func() error {
			return p.MultiPublish(topic, [][]byte{maxBody, maxBody, maxBody, maxBody, maxBody, maxBody})
		}, nsqpub.ErrBatchTooLarge},
		{"DeferredPublish -1ms", func() error { return p.DeferredPublish(topic, -time.Millisecond, ok) }, nsqpub.ErrInvalidDelay},
		{"DeferredPublish 1h+1ms", func() error { return p.DeferredPublish(topic, time.Hour+time.Millisecond, ok) }, nsqpub.ErrInvalidDelay},
		{"DeferredPublishAsync 2h", func() error { return p.DeferredPublishAsync(topic, 2*time.Hour, ok, bad) }, nsqpub.ErrInvalidDelay},
	}...)
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Valid boundary cases on the same Producer.
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"64-character topic", func() error { return p.Publish(strings.Repeat("b", 64), ok) }},
		{"54 characters + #ephemeral", func() error { return p.Publish(strings.Repeat("c", 54)+"#ephemeral", ok) }},
		{"body of exactly MaxMsgSize", func() error { return p.Publish(topic+"-max", maxBody) }},
		{"DPUB of exactly 1h", func() error { return p.DeferredPublish(topic+"-dpub", time.Hour, ok) }},
		{"DPUB of 0", func() error { return p.DeferredPublish(topic+"-dpub", 0, ok) }},
	} {
		if err := c.call(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// Invalid configurations.
	for _, c := range []struct {
		name string
		cfg  *nsqpub.Config
	}{
		{"nil Config", nil},
		{"heartbeat 61s above ReadTimeout 60s", &nsqpub.Config{HeartbeatInterval: 61 * time.Second}},
		{"deflate level 10", &nsqpub.Config{Deflate: true, DeflateLevel: 10}},
		{"negative ReadTimeout", &nsqpub.Config{ReadTimeout: -time.Second}},
		{"negative WriteTimeout", &nsqpub.Config{WriteTimeout: -time.Second}},
		{"negative StopTimeout", &nsqpub.Config{StopTimeout: -time.Second}},
		{"negative MaxDeferDelay", &nsqpub.Config{MaxDeferDelay: -time.Second}},
		{"negative MaxMsgSize", &nsqpub.Config{MaxMsgSize: -1}},
		{"MaxBodySize 8", &nsqpub.Config{MaxBodySize: 8}},
		{"negative MaxQueued", &nsqpub.Config{MaxQueued: -1}},
		{"negative MaxInFlightCommands", &nsqpub.Config{MaxInFlightCommands: -1}},
	} {
		if q, err := nsqpub.NewProducer(n.TCPAddr, c.cfg); !errors.Is(err, nsqpub.ErrInvalidConfig) || q != nil {
			t.Errorf("NewProducer with %s: %v, %v; want nil and ErrInvalidConfig", c.name, q, err)
		}
	}
	if q, err := nsqpub.NewProducer("", nsqpub.NewConfig()); !errors.Is(err, nsqpub.ErrInvalidConfig) || q != nil {
		t.Errorf("NewProducer with no address: %v, %v", q, err)
	}
	cfg := nsqpub.NewConfig()
	if err := cfg.Set("heartbeat_interval", "90s"); err != nil {
		t.Errorf("Set checks no range on heartbeat_interval, Validate compares it with read_timeout: %v", err)
	}
	if err := cfg.Validate(); !errors.Is(err, nsqpub.ErrInvalidConfig) {
		t.Errorf("Validate of heartbeat 90s, read timeout 60s: %v", err)
	}
	if err := cfg.Set("no_such_option", 1); !errors.Is(err, nsqpub.ErrInvalidConfig) {
		t.Errorf("Set of an unknown option: %v", err)
	}
	if err := cfg.Set("dial_timeout", []int{1}); !errors.Is(err, nsqpub.ErrInvalidConfig) {
		t.Errorf("Set of a wrongly typed value: %v", err)
	}

	// The wrong port and a host that does not resolve.
	for _, c := range []struct {
		name, addr string
		want       []error
		bound      time.Duration
	}{
		{"nsqd's HTTP port", n.HTTPAddr, []error{nsqpub.ErrNotConnected, nsqpub.ErrProtocol{}}, 500 * time.Millisecond},
		{"unresolvable host", "nonexistent.invalid:4150", []error{nsqpub.ErrNotConnected}, nsqpub.DefaultDialTimeout + time.Second},
	} {
		q, err := nsqpub.NewProducer(c.addr, nsqpub.NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = q.Publish(topic, ok)
		d := time.Since(start)
		for _, w := range c.want {
			if _, any := w.(nsqpub.ErrProtocol); any && !errors.As(err, new(nsqpub.ErrProtocol)) || !any && !errors.Is(err, w) {
				t.Errorf("%s: %v, want %T %v", c.name, err, w, w)
			}
		}
		if d > c.bound {
			t.Errorf("%s: took %v, bound %v", c.name, d, c.bound)
		}
		t.Logf("%s: %v (%v)", c.name, err, d.Round(time.Millisecond))
		q.Stop()
	}

	// Publish after Stop, double and concurrent Stop.
	q, err := nsqpub.NewProducer(n.TCPAddr, nsqpub.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Publish(topic+"-stop", ok); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); q.Stop() }()
	}
	wg.Wait()
	q.Stop()
	for name, call := range map[string]func() error{
		"Publish":              func() error { return q.Publish(topic, ok) },
		"PublishContext":       func() error { return q.PublishContext(ctx, topic, ok) },
		"PublishAsync":         func() error { return q.PublishAsync(topic, ok, bad) },
		"MultiPublish":         func() error { return q.MultiPublish(topic, [][]byte{ok}) },
		"MultiPublishAsync":    func() error { return q.MultiPublishAsync(topic, [][]byte{ok}, bad) },
		"DeferredPublish":      func() error { return q.DeferredPublish(topic, time.Second, ok) },
		"DeferredPublishAsync": func() error { return q.DeferredPublishAsync(topic, time.Second, ok, bad) },
		"Ping":                 q.Ping,
	} {
		if err := call(); !errors.Is(err, nsqpub.ErrStopped) {
			t.Errorf("%s after Stop: %v, want ErrStopped", name, err)
		}
	}

	// Nothing else was disturbed.
	r := faultReport{Fault: "bad-input"}
	r.Hung += stream.finish(t, 30*time.Second)
	r.Hung += stopProducer(t, p, 7*time.Second)
	stream.closeReceiver()
	r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
	if len(bad) > 0 {
		t.Errorf("%d results sent on the done channel of rejected asynchronous calls", len(bad))
	}
	r.fill(l)
	if r.Acked != r.Attempted || l.dups() > 0 {
		t.Errorf("stream alongside the bad input: %s; %d results twice", l.summary(), l.dups())
	}
	if got := lg.count(connectedLine); got != 1 {
		t.Errorf("the stream's Producer connected %d times, want 1:\n%s", got, lg)
	}
	waitMessageCount(t, n, topic, int64(r.Acked))
	r.Extra = fmt.Sprintf("bad_calls=%d stream_publishes=%d", len(cases), r.Acked)
	r.log(t)
}

// ---------------------------------------------------------------------------
// Load

// TestFaultLoad: 1,000 goroutines publish on one Producer (50 each in the
// short form, 1,000 in the soak form); every publish must succeed and arrive,
// and after Stop the goroutine and fd counts return to where they started.
// Then Stop in the middle of such a load must complete every call (OK, not
// sent or unknown) within StopTimeout.
func TestFaultLoad(t *testing.T) {
	n := startNSQD(t, "--mem-queue-size=100000")
	const workers = 1000
	each := scale(50, 1000)
	t.Run("1000 publishers", func(t *testing.T) {
		topic := topicName(t)
		base := takeBaseline(t)
		cfg := nsqpub.NewConfig()
		p := newProducerAt(t, n.TCPAddr, cfg)
		l := newLedger(30 * time.Second)
		start := time.Now()
		wg := publishWorkers(p, l, topic, workers, each)
		r := faultReport{Fault: "load"}
		if !l.waitUntil(scale(120*time.Second, 900*time.Second), func() bool { return l.results == workers*each }) {
			got := l.resultCount()
			t.Errorf("only %d of %d publishes returned", got, workers*each)
			r.Hung += workers*each - got
		}
		elapsed := time.Since(start)
		wg.Wait()
		r.Hung += stopProducer(t, p, cfg.StopTimeout+2*time.Second)
		r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
		r.fill(l)
		if r.Acked != workers*each {
			t.Errorf("%s", l.summary())
		}
		waitMessageCount(t, n, topic, int64(r.Acked))
		r.Extra = fmt.Sprintf("workers=%d each=%d elapsed=%v rate=%.0f/s max_wait=%v", workers, each,
			elapsed.Round(time.Millisecond), float64(workers*each)/elapsed.Seconds(), l.longest().Round(time.Millisecond))
		r.log(t)
	})
	t.Run("stop mid-load", func(t *testing.T) {
		topic := topicName(t)
		base := takeBaseline(t)
		cfg := nsqpub.NewConfig()
		p := newProducerAt(t, n.TCPAddr, cfg)
		l := newLedger(0)
		wg := publishWorkers(p, l, topic, workers, each)
		l.waitAcked(t, workers*each/4, 60*time.Second)
		r := faultReport{Fault: "load/stop-mid-load"}
		r.Hung += stopProducer(t, p, cfg.StopTimeout+2*time.Second)
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Errorf("publishers still blocked 10 s after Stop")
			r.Hung++
		}
		r.Hung += l.waitAll(10 * time.Second)
		r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
		r.fill(l)
		if l.count(outOther) > 0 || l.count(outRejected) > 0 {
			t.Errorf("%s", l.summary())
		}
		// nsqd answered everything in flight before Stop closed the
		// connection: what it holds is exactly what was acknowledged.
		waitMessageCount(t, n, topic, int64(r.Acked+r.Unknown))
		if r.Unknown > 0 {
			t.Errorf("%d publishes unknown after a Stop with a healthy nsqd", r.Unknown)
		}
		r.Extra = fmt.Sprintf("workers=%d", workers)
		r.log(t)
		t.Log(l.summary())
	})
}

// publishWorkers starts workers goroutines that each make each Publish calls
// to topic, recording every result and how long it took in l; a worker
// stops early at ErrStopped. The WaitGroup ends when they all have.
func publishWorkers(p *nsqpub.Producer, l *ledger, topic string, workers, each int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				id := l.newID()
				start := time.Now()
				err := p.Publish(topic, messageBody(id, 16))
				l.record(id, err, time.Since(start))
				if errors.Is(err, nsqpub.ErrStopped) {
					return
				}
			}
		})
	}
	return &wg
}

// ---------------------------------------------------------------------------
// Many poisons

// TestFaultManyPoisons: nsqd refuses messages over 100 bytes and the
// producer's Config does not know it; one message in 100 is 200 bytes,
// published by many goroutines calling Publish alongside one calling
// PublishAsync. Every bad message must be rejected, by nsqd or locally once
// nsqd has stated its limit; every other must be acknowledged and in nsqd
// exactly once.
func TestFaultManyPoisons(t *testing.T) {
	n := startNSQD(t, "--max-msg-size=100")
	for _, seed := range faultSeeds(t) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			t.Logf("seed %d (replay with NSQPUB_SEED=%d)", seed, seed)
			const every = 100
			topic := topicName(t)
			n.CreateChannel(t, topic, "ch")
			base := takeBaseline(t)
			cfg := nsqpub.NewConfig()
			p := newProducerAt(t, n.TCPAddr, cfg)
			s := &poisonStream{pub: p, topic: topic, total: scale(20000, 200000), every: every,
				offset: newRand(seed).IntN(every), syncWorkers: scale(50, 200), async: true}
			r := faultReport{Fault: "many-poisons", Seed: seed}
			r.Hung += s.run(t, scale(60*time.Second, 300*time.Second))
			st := p.Stats()
			r.Hung += stopProducer(t, p, cfg.StopTimeout+2*time.Second)
			r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
			s.check(t)
			checkCounters(t, s.l, producerCounts(st))
			readBack(t, n, topic, s.l, &r)
			if r.Duplicates > 0 {
				t.Errorf("%d duplicates", r.Duplicates)
			}
			r.Extra = fmt.Sprintf("every=%d bad=%d refused_by_nsqd=%d refused_locally=%d workers=%d connections=%d elapsed=%v",
				every, s.badCount(), s.server.Load(), s.local.Load(), s.syncWorkers+1, st.Connects, s.elapsed.Round(time.Millisecond))
			r.log(t)
		})
	}
}

// ---------------------------------------------------------------------------
// A slow caller

// TestFaultSlowCaller: one caller never reads its done channel while a
// PublishAsync stream and 8 PublishContext callers (2 s deadline) publish
// through the same Producer, with 1 s heartbeats. That caller is held once
// MaxQueued of its results wait, and nobody else is delayed: every other
// result arrives, every synchronous call keeps its bound, all are
// acknowledged on the one connection, and Stop returns within StopTimeout,
// dropping the unread results and releasing that caller.
func TestFaultSlowCaller(t *testing.T) {
	n := startNSQD(t)
	for _, seed := range faultSeeds(t) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			topic, unreadTopic := topicName(t), topicName(t)
			n.CreateChannel(t, topic, "ch")
			base := takeBaseline(t)
			cfg := &nsqpub.Config{HeartbeatInterval: time.Second, StopTimeout: time.Second}
			p := newProducerAt(t, n.TCPAddr, cfg)
			l := newLedger(3 * time.Second)
			pl := &publishLoad{p: p, l: l, topic: topic, syncWorkers: 8, paced: true, seed: seed}
			unread := make(chan *nsqpub.ProducerTransaction) // nobody ever reads it
			unreadSent := 0
			unreadDone := make(chan struct{})
			pl.start()
			go func() {
				defer close(unreadDone)
				for ; ; unreadSent++ {
					err := p.PublishAsync(unreadTopic, messageBody(unreadSent, 0), unread)
					if errors.Is(err, nsqpub.ErrStopped) {
						return
					}
					if err != nil {
						t.Errorf("PublishAsync for the unread channel: %v", err)
						return
					}
					if unreadSent%10 == 9 {
						time.Sleep(time.Millisecond) // pacing of a background stream, not synchronisation
					}
				}
			}()
			l.waitAcked(t, scale(20000, 200000), scale(60*time.Second, 600*time.Second))
			r := faultReport{Fault: "slow-caller", Seed: seed}
			r.Hung += pl.finish(t, 30*time.Second)
			st := p.Stats()
			start := time.Now()
			r.Hung += stopProducer(t, p, cfg.StopTimeout+time.Second)
			stopTook := time.Since(start)
			select {
			case <-unreadDone:
			case <-time.After(5 * time.Second):
				t.Errorf("the caller that never reads its done channel is still held 5 s after Stop")
				r.Hung++
				<-unreadDone
			}
			pl.closeReceiver()
			r.LeakedGoroutines, r.LeakedFDs = base.leaked(t)
			if l.count(outOK) != l.resultCount() || l.dups() > 0 || st.Connects != 1 {
				t.Errorf("%s; %d results twice; %d connections, want 1", l.summary(), l.dups(), st.Connects)
			}
			readBack(t, n, topic, l, &r)
			waitMessageCount(t, n, unreadTopic, int64(unreadSent))
			r.Extra = fmt.Sprintf("unread=%d stop_took=%v max_sync_wait=%v connections=%d",
				unreadSent, stopTook.Round(time.Millisecond), l.longest().Round(time.Millisecond), st.Connects)
			r.log(t)
		})
	}
}
