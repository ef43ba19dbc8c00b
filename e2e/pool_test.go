package e2e

// End-to-end tests of ProducerPool against three real nsqd v1.3.0:
// round-robin spread, SIGKILL of one node mid-stream with at-least-once,
// every node down and back, counters against /stats, the slog events and
// silence by default, and callers' contexts never counted against a node.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// Figures of the pool tests.
const (
	poolMessages = 30000 // messages of the spread and kill tests
	poolWorkers  = 8     // goroutines calling Publish
	// poolSlack is what a publish may take beyond one DialTimeout on a
	// loaded machine running -race.
	poolSlack = time.Second
	// poolRecoveryBound bounds the wait for a node to take traffic again
	// after it comes back: its backoff is at most 5 s, and so is its
	// Producer's, which the pool waits for.
	poolRecoveryBound = 30 * time.Second
)

// startPoolNodes starts k nsqd with the same extra args.
func startPoolNodes(t testing.TB, k int, args ...string) []*nsqd {
	t.Helper()
	nodes := make([]*nsqd, k)
	for i := range nodes {
		nodes[i] = startNSQD(t, args...)
	}
	return nodes
}

// newPool returns a ProducerPool over nodes' TCP addresses, stopped when
// the test ends.
func newPool(t testing.TB, addrs []string, cfg *nsqpub.Config) *nsqpub.ProducerPool {
	t.Helper()
	pp, err := nsqpub.NewProducerPool(addrs, orNewConfig(cfg))
	return stopAtEnd(t, pp, err)
}

// tcpAddrs returns the nodes' TCP addresses.
func tcpAddrs(nodes []*nsqd) []string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.TCPAddr
	}
	return addrs
}

// poolBody is the body of message id: prefix, a dash and the id.
func poolBody(prefix string, id int) []byte {
	return []byte(fmt.Sprintf("%s-%05d", prefix, id))
}

// poolLoad publishes total messages through a pool: the first total-async
// with Publish from poolWorkers goroutines, the rest with PublishAsync from
// one more goroutine, all at once. Every publish is recorded by id.
type poolLoad struct {
	pp     *nsqpub.ProducerPool
	topic  string
	prefix string
	total  int
	async  int
	onAck  func(acked int64) // called after each acknowledgement, from any goroutine

	next  atomic.Int64 // the next id for a Publish worker
	acked atomic.Int64

	// Indexed by id; each entry is written by one goroutine, and read after
	// run returns.
	errs  []error
	start []time.Time
	end   []time.Time
}

// run publishes everything and returns when every result is in.
func (l *poolLoad) run() {
	l.errs = make([]error, l.total)
	l.start = make([]time.Time, l.total)
	l.end = make([]time.Time, l.total)
	syncN := int64(l.total - l.async)
	var wg sync.WaitGroup
	for range poolWorkers {
		wg.Go(func() {
			for {
				id := l.next.Add(1) - 1
				if id >= syncN {
					return
				}
				l.start[id] = time.Now()
				err := l.pp.Publish(l.topic, poolBody(l.prefix, int(id)))
				l.finish(int(id), err)
			}
		})
	}
	if l.async > 0 {
		done := make(chan *nsqpub.ProducerTransaction, 256)
		submitted := make(chan int, 1) // how many results will come on done
		wg.Go(func() {
			want := -1
			for got := 0; got != want; {
				select {
				case tr := <-done:
					l.finish(tr.Args[0].(int), tr.Error)
					got++
				case want = <-submitted:
				}
			}
		})
		wg.Go(func() {
			n := 0
			for id := int(syncN); id < l.total; id++ {
				l.start[id] = time.Now()
				if err := l.pp.PublishAsync(l.topic, poolBody(l.prefix, id), done, id); err != nil {
					l.finish(id, err) // no result will come on done
					continue
				}
				n++
			}
			submitted <- n
		})
	}
	wg.Wait()
}

// mustRun runs the load and fails the test if any publish failed.
func (l *poolLoad) mustRun(t testing.TB) {
	t.Helper()
	l.run()
	if n, some := l.failures(); n > 0 {
		t.Fatalf("%d publishes failed:%s", n, some)
	}
}

// finish records the result of id.
func (l *poolLoad) finish(id int, err error) {
	l.end[id] = time.Now()
	l.errs[id] = err
	if err == nil && l.onAck != nil {
		l.onAck(l.acked.Add(1))
	}
}

// failures returns the publishes that failed, a few of them described.
func (l *poolLoad) failures() (int, string) {
	n := 0
	var b strings.Builder
	for id, err := range l.errs {
		if err != nil {
			n++
			if n <= 5 {
				fmt.Fprintf(&b, "\n  %d: %v", id, err)
			}
		}
	}
	return n, b.String()
}

// maxLatency returns the longest publish among the first sync ones (ids
// below total-async) that completed after since.
func (l *poolLoad) maxLatency(since time.Time) time.Duration {
	var longest time.Duration
	for id := 0; id < l.total-l.async; id++ {
		if l.end[id].After(since) {
			longest = max(longest, l.end[id].Sub(l.start[id]))
		}
	}
	return longest
}

// firstAckAfter returns the earliest acknowledgement after since.
func (l *poolLoad) firstAckAfter(since time.Time) time.Time {
	var first time.Time
	for id := range l.end {
		if l.errs[id] == nil && l.end[id].After(since) && (first.IsZero() || l.end[id].Before(first)) {
			first = l.end[id]
		}
	}
	return first
}

// ---------------------------------------------------------------------------
// slog capture

// logRecords collects the JSON lines of a slog.JSONHandler, parsed, and lets
// a test wait for one.
type logRecords struct {
	mu    sync.Mutex
	cond  *sync.Cond
	recs  []logRecord
	bad   []string // lines that are not one JSON object
	bytes int
}

// logRecord is one event.
type logRecord struct {
	At     time.Time // when it was written
	Fields map[string]any
}

func newLogRecords() *logRecords {
	l := &logRecords{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Write takes the output of slog.JSONHandler: one record per call.
func (l *logRecords) Write(p []byte) (int, error) {
	at := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += len(p)
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			l.bad = append(l.bad, string(line))
			continue
		}
		l.recs = append(l.recs, logRecord{at, m})
	}
	l.cond.Broadcast()
	return len(p), nil
}

// match returns the records with message msg whose fields include every
// key/value of kv.
func (l *logRecords) match(msg string, kv ...string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.matchLocked(msg, kv)
}

func (l *logRecords) matchLocked(msg string, kv []string) []logRecord {
	var out []logRecord
next:
	for _, r := range l.recs {
		if r.Fields["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(r.Fields[kv[i]]) != kv[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// wait blocks until a record matches, failing after 30 s, and returns the
// first match.
func (l *logRecords) wait(t testing.TB, msg string, kv ...string) logRecord {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var m []logRecord
	if !waitCond(l.cond, 30*time.Second, func() bool { m = l.matchLocked(msg, kv); return len(m) > 0 }) {
		t.Fatalf("no log record %q %v within 30 s; got %d records", msg, kv, len(l.recs))
	}
	return m[0]
}

// jsonLogger returns a debug-level JSON slog.Logger writing to l.
func (l *logRecords) jsonLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ---------------------------------------------------------------------------
// Tests

// TestPoolRoundRobinSpread: 30,000 messages, from 8 goroutines calling
// Publish and one calling PublishAsync, are spread over three nsqd with
// each getting its third within ±10% (by /stats), and every message
// arrives exactly once.
func TestPoolRoundRobinSpread(t *testing.T) {
	nodes := startPoolNodes(t, 3)
	topic := topicName(t)
	for _, n := range nodes {
		n.CreateChannel(t, topic, "ch")
	}
	pp := newPool(t, tcpAddrs(nodes), nil)
	l := &poolLoad{pp: pp, topic: topic, prefix: "rr", total: poolMessages, async: poolMessages / 3}
	start := time.Now()
	l.run()
	elapsed := time.Since(start)
	if n, some := l.failures(); n > 0 {
		t.Fatalf("%d publishes failed:%s", n, some)
	}
	st := pp.Stats()
	share := float64(poolMessages) / float64(len(nodes))
	var total int64
	var report []string
	seen := map[string]bool{}
	for i, n := range nodes {
		count := int64(st.Nodes[i].Published)
		waitMessageCount(t, n, topic, count) // also: the counter is nsqd's count
		total += count
		dev := (float64(count) - share) / share
		report = append(report, fmt.Sprintf("%s %d (%.2f%%, %+.2f%% of its share)", n.TCPAddr, count, 100*float64(count)/poolMessages, 100*dev))
		if dev < -0.10 || dev > 0.10 {
			t.Errorf("nsqd %d got %d messages, more than 10%% off its share %.0f", i, count, share)
		}
		for _, b := range consume(t, n, topic, "ch", int(count)) {
			if seen[string(b)] {
				t.Fatalf("message %q delivered twice", b)
			}
			seen[string(b)] = true
		}
	}
	if total != poolMessages || len(seen) != poolMessages {
		t.Fatalf("nsqd hold %d messages (%d distinct), want %d", total, len(seen), poolMessages)
	}
	t.Logf("RESULT spread of %d messages in %v: %s", poolMessages, elapsed.Round(time.Millisecond), strings.Join(report, "; "))
}

// TestPoolKillNodeMidStream: one of three nsqd is SIGKILLed after 10,000 of
// 30,000 publishes are acknowledged. With AtLeastOnce no publish fails,
// and none stalls for more than one DialTimeout; every acknowledged message
// is on a survivor, or was acknowledged by the killed node before the kill
// and is on its disk (--mem-queue-size=0) when it is back. Once restarted,
// the node takes traffic again.
func TestPoolKillNodeMidStream(t *testing.T) {
	nodes := []*nsqd{
		startNSQD(t),
		// Everything on disk, and the disk queue's metadata synced every
		// 100 messages: what it acknowledged survives SIGKILL.
		startNSQD(t, "--mem-queue-size=0", "--sync-every=100"),
		startNSQD(t),
	}
	const k = 1 // the node killed
	survivors := []int{0, 2}
	topic := topicName(t)
	for _, i := range survivors {
		nodes[i].CreateChannel(t, topic, "ch")
	}
	logs := newLogRecords()
	cfg := nsqpub.NewConfig()
	cfg.AtLeastOnce = true
	cfg.Logger = logs.jsonLogger()
	pp := newPool(t, tcpAddrs(nodes), cfg)

	killNow := make(chan struct{})
	var once sync.Once
	l := &poolLoad{pp: pp, topic: topic, prefix: "kill", total: poolMessages, async: poolMessages / 3,
		onAck: func(acked int64) {
			if acked >= poolMessages/3 {
				once.Do(func() { close(killNow) })
			}
		}}
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.run() }()
	var killedAt time.Time
	select {
	case <-killNow:
	case <-loadDone:
		t.Fatal("the load ended before 10,000 acknowledgements")
	}
	killedAt = time.Now()
	nodes[k].Kill()
	<-loadDone

	if n, some := l.failures(); n > 0 {
		t.Fatalf("%d publishes failed with at-least-once:%s", n, some)
	}
	skipped := logs.wait(t, "node skipped", "node", nodes[k].TCPAddr)
	toSkip := skipped.At.Sub(killedAt)
	stall := l.maxLatency(killedAt)
	firstAck := l.firstAckAfter(killedAt).Sub(killedAt)
	if stall > cfg.DialTimeout+poolSlack {
		t.Errorf("a publish across the kill took %v, more than DialTimeout %v + %v", stall, cfg.DialTimeout, poolSlack)
	}
	if toSkip > cfg.DialTimeout+poolSlack {
		t.Errorf("the killed node was skipped %v after the kill, more than DialTimeout %v + %v", toSkip, cfg.DialTimeout, poolSlack)
	}

	// What each node acknowledged. The survivors' counts are nsqd's.
	st := pp.Stats()
	ackedByKilled := int(st.Nodes[k].Published)
	if st.Nodes[k].Healthy || st.Nodes[k].LastError == nil {
		t.Errorf("killed node %+v, want unhealthy with its last error", st.Nodes[k])
	}
	onSurvivors := map[string]int{}
	for _, i := range survivors {
		waitMessageCount(t, nodes[i], topic, int64(st.Nodes[i].Published))
		for _, b := range consume(t, nodes[i], topic, "ch", int(st.Nodes[i].Published)) {
			onSurvivors[string(b)]++
		}
	}
	// Every acknowledged message that is not on a survivor must have been
	// acknowledged by the killed node: as many as it acknowledged.
	missing := map[string]bool{}
	for id := range poolMessages {
		if b := string(poolBody("kill", id)); onSurvivors[b] == 0 {
			missing[b] = true
		}
	}
	if len(missing) != ackedByKilled {
		t.Fatalf("%d acknowledged messages are on no survivor, but the killed node acknowledged %d", len(missing), ackedByKilled)
	}
	dups := 0
	for _, c := range onSurvivors {
		dups += c - 1
	}

	// Back up: what the killed node acknowledged is on its disk.
	restartedAt := time.Now()
	nodes[k].Restart(t)
	extra := consumeAll(t, nodes[k], topic, "ch", missing)
	for _, b := range extra {
		if onSurvivors[b] == 0 {
			t.Fatalf("the killed node holds %q, which was neither acknowledged by it nor is on a survivor", b)
		}
	}

	// And it takes traffic again once its backoff is over.
	again := topic + ".again"
	sent := 0
	for int(pp.Stats().Nodes[k].Published) == ackedByKilled {
		if time.Since(restartedAt) > poolRecoveryBound {
			t.Fatalf("the restarted node took no publish within %v: %+v", poolRecoveryBound, pp.Stats().Nodes[k])
		}
		if err := pp.Publish(again, []byte("again")); err != nil {
			t.Fatalf("publish after the restart: %v", err)
		}
		sent++
	}
	recovered := time.Since(restartedAt)
	waitMessageCount(t, nodes[k], again, int64(pp.Stats().Nodes[k].Published)-int64(ackedByKilled))

	t.Logf("RESULT kill: 0 of %d publishes failed; killed node acknowledged %d before the kill, all found on its disk after restart "+
		"(+%d other copies read alongside); %d duplicates on survivors; skipped %v after the kill (\"node skipped\"), "+
		"longest publish across the kill %v, first acknowledgement after it %v (DialTimeout %v); "+
		"took traffic again %v after the restart (%d publishes); pool stats %s",
		poolMessages, ackedByKilled, len(extra), dups, toSkip.Round(time.Microsecond), stall.Round(time.Microsecond),
		firstAck.Round(time.Microsecond), cfg.DialTimeout, recovered.Round(time.Millisecond), sent, describePool(pp.Stats()))
}

// describePool summarises a PoolStats for the log.
func describePool(s nsqpub.PoolStats) string {
	var parts []string
	for _, n := range s.Nodes {
		parts = append(parts, fmt.Sprintf("%s: published %d, not sent %d, unknown %d, retried %d, reconnects %d, failures %d, state %s",
			n.Addr, n.Published, n.NotSent, n.Unknown, n.Retried, n.Reconnects, n.Failures, n.State))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// consumeAll reads topic/channel from n until every body in want has
// arrived (failing after 30 s) and returns the other bodies read meanwhile.
func consumeAll(t testing.TB, n *nsqd, topic, channel string, want map[string]bool) []string {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 1000
	var (
		left  = len(want)
		seen  = map[string]bool{}
		extra []string
	)
	handle := func(m *nsq.Message, _ time.Time) {
		b := string(m.Body)
		switch {
		case want[b] && !seen[b]:
			seen[b] = true
			left--
		case !want[b]:
			extra = append(extra, b)
		}
	}
	if !consumeUntil(t, n, topic, channel, cfg, consumeTimeout, handle, func() bool { return left == 0 }) {
		t.Fatalf("%s/%s: %d of %d messages missing after %v (%s)", topic, channel, left, len(want), consumeTimeout, n.describe(topic))
	}
	return extra
}

// TestPoolAllNodesDown: with every nsqd killed, publishes fail at once with
// a clear error (no healthy node, not sent) and nothing hangs; when one
// comes back, publishes succeed again after its backoff, all on it.
func TestPoolAllNodesDown(t *testing.T) {
	nodes := startPoolNodes(t, 3)
	topic := topicName(t)
	logs := newLogRecords()
	cfg := nsqpub.NewConfig()
	cfg.DialTimeout = 500 * time.Millisecond
	cfg.Logger = logs.jsonLogger()
	pp := newPool(t, tcpAddrs(nodes), cfg)
	for i := range 30 {
		if err := pp.Publish(topic, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		n.Kill()
	}
	// Every connection has noticed: a publish cannot land on a dead one.
	for _, n := range nodes {
		logs.wait(t, "connection closed", "addr", n.TCPAddr)
	}
	var longest time.Duration
	for i := range 50 {
		start := time.Now()
		var err error
		if i%2 == 0 {
			err = pp.Publish(topic, []byte("down"))
		} else {
			err = pp.PublishAsync(topic, []byte("down"), nil)
		}
		longest = max(longest, time.Since(start))
		if !errors.Is(err, nsqpub.ErrNoHealthyNode) && !errors.Is(err, nsqpub.ErrNotConnected) {
			t.Fatalf("publish %d with every node down: %v, want ErrNoHealthyNode or ErrNotConnected", i, err)
		}
		if o := nsqpub.OutcomeOf(err); o != nsqpub.NotSent {
			t.Fatalf("publish %d: outcome %v, want not sent: %v", i, o, err)
		}
		if i == 49 {
			t.Logf("error with every node down: %v", err)
		}
	}
	if longest > cfg.DialTimeout+poolSlack {
		t.Fatalf("a publish with every node down took %v, more than DialTimeout %v + %v", longest, cfg.DialTimeout, poolSlack)
	}

	// One comes back: retry until a publish goes through, bounded.
	back := nodes[1]
	back.Restart(t)
	restarted := time.Now()
	attempts := 0
	for {
		attempts++
		err := pp.Publish(topic, []byte("back"))
		if err == nil {
			break
		}
		if o := nsqpub.OutcomeOf(err); o != nsqpub.NotSent {
			t.Fatalf("publish while recovering: outcome %v: %v", o, err)
		}
		if time.Since(restarted) > poolRecoveryBound {
			t.Fatalf("no publish succeeded within %v of a node's restart: %v", poolRecoveryBound, err)
		}
	}
	recovery := time.Since(restarted)
	for i := range 20 {
		if err := pp.Publish(topic, []byte(strconv.Itoa(i))); err != nil {
			t.Fatalf("publish %d after recovery: %v", i, err)
		}
	}
	// message_count restarts from 0 with nsqd: all 21 went to the live node.
	waitMessageCount(t, back, topic, 21)
	t.Logf("RESULT all down: 50 publishes failed in at most %v each (DialTimeout %v); "+
		"first success %v after one node's restart (%d attempts)", longest.Round(time.Microsecond),
		cfg.DialTimeout, recovery.Round(time.Millisecond), attempts)
}

// TestPoolCountersMatchNSQD: after publishes of every kind, including one
// nsqd rejects, each node's Published counter equals the message_count its
// nsqd reports, and the pool's sums add up.
func TestPoolCountersMatchNSQD(t *testing.T) {
	nodes := startPoolNodes(t, 3, "--max-msg-size=1000")
	topic := topicName(t)
	pp := newPool(t, tcpAddrs(nodes), nil) // MaxMsgSize 1 MiB: nsqd is the one to refuse
	done := make(chan *nsqpub.ProducerTransaction, 1000)
	const rounds = 200
	want := 0
	for i := range rounds {
		b := []byte(strconv.Itoa(i))
		calls := []func() error{
			func() error { return pp.Publish(topic, b) },
			func() error { return pp.PublishAsync(topic, b, done) },
			func() error { return pp.MultiPublish(topic, [][]byte{b, b, b}) },
			func() error { return pp.MultiPublishAsync(topic, [][]byte{b, b}, done) },
			func() error { return pp.DeferredPublish(topic, time.Millisecond, b) },
		}
		for _, call := range calls {
			if err := call(); err != nil {
				t.Fatal(err)
			}
		}
		want += 1 + 1 + 3 + 2 + 1
	}
	for range 2 * rounds {
		if tr := <-done; tr.Error != nil {
			t.Fatal(tr.Error)
		}
	}
	err := pp.Publish(topic, bytes.Repeat([]byte("x"), 1001))
	var se *nsqpub.ServerError
	if !errors.As(err, &se) || nsqpub.OutcomeOf(err) != nsqpub.Rejected {
		t.Fatalf("oversized publish: %v, want a *ServerError (rejected)", err)
	}
	st := pp.Stats()
	var sum, rejected uint64
	var report []string
	for i, n := range nodes {
		ns := st.Nodes[i]
		waitMessageCount(t, n, topic, int64(ns.Published))
		if ns.NotSent != 0 || ns.Unknown != 0 || ns.InFlight != 0 || !ns.Healthy || ns.Connects < 1 {
			t.Errorf("node %d: %+v", i, ns)
		}
		sum += ns.Published
		rejected += ns.Rejected
		report = append(report, fmt.Sprintf("%s: Published %d = message_count %d", n.TCPAddr, ns.Published, n.Stats(t, topic).MessageCount))
	}
	if sum != uint64(want) || st.Published != sum || rejected != 1 || st.Rejected != 1 {
		t.Fatalf("published %d (pool %d), rejected %d (pool %d); want %d and 1", sum, st.Published, rejected, st.Rejected, want)
	}
	t.Logf("RESULT counters: %s", strings.Join(report, "; "))
}

// TestPoolSlogEvents: with Config.Logger set, killing a node under load
// yields structured JSON events with addr, error and attempt; every line is
// one JSON object.
func TestPoolSlogEvents(t *testing.T) {
	nodes := startPoolNodes(t, 2)
	topic := topicName(t)
	logs := newLogRecords()
	cfg := nsqpub.NewConfig()
	cfg.Logger = logs.jsonLogger()
	pp := newPool(t, tcpAddrs(nodes), cfg)
	for range 10 {
		if err := pp.Publish(topic, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	dead := nodes[0].TCPAddr
	nodes[0].Kill()
	logs.wait(t, "connection closed", "addr", dead)
	// Publish until the dead node has been tried and skipped.
	for len(logs.match("node skipped", "node", dead)) == 0 {
		if err := pp.Publish(topic, []byte("m")); err != nil {
			t.Fatalf("publish with one node of two dead: %v", err)
		}
	}
	pp.Stop()

	logs.mu.Lock()
	bad := logs.bad
	logs.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("lines that are not JSON objects: %q", bad)
	}
	hasFields := func(what string, r logRecord, keys ...string) {
		t.Helper()
		for _, k := range append([]string{"time", "level", "msg", "addr"}, keys...) {
			if v, ok := r.Fields[k]; !ok || v == "" {
				t.Errorf("%s: no %q field: %v", what, k, r.Fields)
			}
		}
	}
	for _, n := range nodes {
		hasFields("connected", logs.wait(t, "connected", "addr", n.TCPAddr), "version")
	}
	closed := logs.wait(t, "connection closed", "addr", dead)
	hasFields("connection closed", closed, "error")
	skipped := logs.wait(t, "node skipped", "node", dead)
	hasFields("node skipped", skipped, "node", "attempt", "error", "retry_in", "topic")
	if skipped.Fields["addr"] != "pool" || skipped.Fields["attempt"] != float64(1) || skipped.Fields["topic"] != topic ||
		skipped.Fields["level"] != "WARN" {
		t.Errorf("node skipped: %v", skipped.Fields)
	}
	failed := logs.wait(t, "connect failed", "addr", dead)
	hasFields("connect failed", failed, "attempt", "error", "retry_in")
	if failed.Fields["attempt"] != float64(1) || !strings.Contains(fmt.Sprint(failed.Fields["error"]), "connection refused") ||
		failed.Fields["level"] != "ERROR" {
		t.Errorf("connect failed: %v", failed.Fields)
	}
	logs.wait(t, "stopped", "addr", "pool")
	for _, r := range []logRecord{closed, skipped, failed} {
		line, _ := json.Marshal(r.Fields)
		t.Logf("event: %s", line)
	}
}

// TestPoolQuietByDefault: with no Logger (and no SetLogger), a pool through
// a node's death, every node down and a dial timing out writes nothing to
// os.Stderr, os.Stdout, the log package's output or slog's default logger.
func TestPoolQuietByDefault(t *testing.T) {
	nodes := startPoolNodes(t, 2)
	hole, err := net.Listen("tcp", "127.0.0.1:0") // accepts nothing: the handshake times out
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	topic := topicName(t)

	var captured bytes.Buffer
	restore := captureOutput(t, &captured)
	func() {
		defer restore()
		cfg := nsqpub.NewConfig()
		cfg.DialTimeout = 200 * time.Millisecond
		cfg.AtLeastOnce = true
		pp, err := nsqpub.NewProducerPool(append(tcpAddrs(nodes), hole.Addr().String()), cfg)
		if err != nil {
			t.Error(err)
			return
		}
		defer pp.Stop()
		done := make(chan *nsqpub.ProducerTransaction, 100)
		queued := 0
		for i := range 100 {
			pp.Publish(topic, []byte("a"))
			if pp.PublishAsync(topic, []byte("b"), done) == nil {
				queued++
			}
			if i == 50 {
				nodes[0].Kill()
			}
		}
		for range queued {
			<-done
		}
		nodes[1].Kill()
		for range 20 {
			pp.Publish(topic, []byte("c"))
		}
		pp.Ping()
	}()
	if captured.Len() > 0 {
		t.Fatalf("a pool with no logger wrote:\n%s", captured.String())
	}

	// The control: the same capture does catch a library that logs to
	// os.Stderr, to the log package, or to slog's default logger.
	for name, logTo := range map[string]func(pp *nsqpub.ProducerPool){
		"os.Stderr": func(pp *nsqpub.ProducerPool) { pp.SetLogger(log.New(os.Stderr, "", 0), nsqpub.LogLevelDebug) },
		"log":       func(pp *nsqpub.ProducerPool) { pp.SetLogger(log.Default(), nsqpub.LogLevelDebug) },
		"slog":      nil,
	} {
		var control bytes.Buffer
		restore := captureOutput(t, &control)
		cfg := nsqpub.NewConfig()
		if logTo == nil {
			cfg.Logger = slog.Default()
		}
		pp, err := nsqpub.NewProducerPool([]string{nodes[0].TCPAddr}, cfg)
		if err == nil {
			if logTo != nil {
				logTo(pp)
			}
			pp.Publish(topic, []byte("d")) // node 0 is down: connect failed, node skipped
			pp.Stop()
		}
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(control.String(), "connect failed") {
			t.Fatalf("control %s: the capture missed a logging pool; it got %q", name, control.String())
		}
	}
}

// captureOutput points os.Stdout, os.Stderr, the log package and slog's
// default logger at pipes and buffers until restore is called, which copies
// everything written meanwhile into into. No test runs alongside this one:
// the top-level tests of this package are not parallel.
func captureOutput(t testing.TB, into *bytes.Buffer) (restore func()) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	oldLog := log.Writer()
	oldSlog := slog.Default()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logged bytes.Buffer
	lw := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(p)
	})
	copied := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		copied <- b
	}()
	os.Stdout, os.Stderr = w, w
	log.SetOutput(lw)
	slog.SetDefault(slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		log.SetOutput(oldLog)
		slog.SetDefault(oldSlog)
		w.Close()
		into.Write(<-copied)
		r.Close()
		mu.Lock()
		into.Write(logged.Bytes())
		mu.Unlock()
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestPoolCancelledContextIsNotANodeFailure: a caller's context that is
// already cancelled, or ends while a node's handshake hangs, fails that
// publish with the context's error, sends it nowhere else and leaves the
// node healthy. A publish without a deadline then skips the hung node
// within one DialTimeout and counts it as failed.
func TestPoolCancelledContextIsNotANodeFailure(t *testing.T) {
	good := startNSQD(t)
	hole, err := net.Listen("tcp", "127.0.0.1:0") // never accepts: the handshake hangs
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	topic := topicName(t)
	cfg := nsqpub.NewConfig()
	cfg.PoolStrategy = nsqpub.Failover // the black hole is always tried first
	pp := newPool(t, []string{hole.Addr().String(), good.TCPAddr}, cfg)

	healthy := func(what string) {
		t.Helper()
		for i, s := range pp.Stats().Nodes {
			if s.Failures != 0 || !s.Healthy {
				t.Fatalf("%s: node %d %+v, want healthy with no failures", what, i, s)
			}
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 10 {
		if err := pp.PublishContext(cancelled, topic, []byte("cancelled")); err != context.Canceled {
			t.Fatalf("already cancelled: %v, want context.Canceled", err)
		}
	}
	healthy("after already-cancelled publishes")
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := pp.PublishContext(ctx, topic, []byte("short"))
		cancel()
		if err != context.DeadlineExceeded {
			t.Fatalf("short context: %v, want context.DeadlineExceeded", err)
		}
		healthy("after a publish whose context ended during the handshake")
	}
	if s := good.Stats(t, topic); s.MessageCount != 0 {
		t.Fatalf("a cancelled publish went to the other node: %+v", s)
	}

	start := time.Now()
	if err := pp.Publish(topic, []byte("through")); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took > cfg.DialTimeout+poolSlack {
		t.Fatalf("the publish took %v to skip the hung node, more than DialTimeout %v + %v", took, cfg.DialTimeout, poolSlack)
	}
	if s := pp.Stats().Nodes[0]; s.Failures != 1 || s.Healthy {
		t.Fatalf("hung node after a real failure: %+v, want 1 failure", s)
	}
	waitMessageCount(t, good, topic, 1)
	t.Logf("RESULT contexts: 13 cancelled publishes left the hung node healthy; a publish skipped it in %v (DialTimeout %v)",
		took.Round(time.Millisecond), cfg.DialTimeout)
}
