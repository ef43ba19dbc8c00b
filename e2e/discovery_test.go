package e2e

// Discovery through the real nsqlookupd v1.3.0: nsqd run with
// --lookupd-tcp-address and --broadcast-address=127.0.0.1 register with it,
// and a ProducerPool made with no address publishes to what /nodes lists.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub"
	"github.com/nsqpub/nsqpub/e2e/internal/nsqdproc"
)

// discoveryPoll is the LookupdPollInterval of these tests.
const discoveryPoll = 250 * time.Millisecond

var (
	lookupdBinOnce sync.Once
	lookupdBinPath string
	lookupdBinErr  error
)

// nsqlookupdBin returns the nsqlookupd binary: $NSQLOOKUPD_BIN, else
// bin/nsqlookupd in the e2e folder, built if it is missing.
func nsqlookupdBin(t testing.TB) string {
	t.Helper()
	lookupdBinOnce.Do(func() {
		bin := os.Getenv("NSQLOOKUPD_BIN")
		fromEnv := bin != ""
		if !fromEnv {
			bin = filepath.Join("bin", "nsqlookupd")
		}
		if bin, lookupdBinErr = filepath.Abs(bin); lookupdBinErr != nil {
			return
		}
		lookupdBinPath = bin
		if _, err := os.Stat(bin); err != nil {
			if fromEnv {
				lookupdBinErr = fmt.Errorf("NSQLOOKUPD_BIN=%s: %w", bin, err)
				return
			}
			cmd := exec.Command("go", "build", "-o", bin, "github.com/nsqio/nsq/apps/nsqlookupd")
			cmd.Dir = filepath.Dir(filepath.Dir(bin))
			if out, err := cmd.CombinedOutput(); err != nil {
				lookupdBinErr = fmt.Errorf("go build nsqlookupd: %w\n%s", err, out)
			}
		}
	})
	if lookupdBinErr != nil {
		t.Fatal(lookupdBinErr)
	}
	return lookupdBinPath
}

// startLookupd starts nsqlookupd, killed when the test ends (its output
// logged if the test failed).
func startLookupd(t testing.TB) *nsqdproc.Process {
	t.Helper()
	out := &nsqdproc.Buffer{}
	p, err := nsqdproc.StartLookupd(nsqdproc.Options{Bin: nsqlookupdBin(t), Output: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("nsqlookupd output:\n%s", out.String())
		}
	})
	return p
}

// startRegistered starts nsqd registering with every lookupd given.
func startRegistered(t testing.TB, lookupds ...*nsqdproc.Process) *nsqd {
	t.Helper()
	args := []string{"--broadcast-address=127.0.0.1"}
	for _, lk := range lookupds {
		args = append(args, "--lookupd-tcp-address="+lk.TCPAddr)
	}
	return startNSQD(t, args...)
}

// lookupdList returns the TCP addresses nsqlookupd lists: on /nodes, or on
// /lookup?topic=topic when topic is not "".
func lookupdList(t testing.TB, lk *nsqdproc.Process, topic string) []string {
	t.Helper()
	path, q := "/nodes", url.Values(nil)
	if topic != "" {
		path, q = "/lookup", url.Values{"topic": {topic}}
	}
	body, err := nsqdproc.Do(httpClient, http.MethodGet, lk.HTTPAddr, path, q, http.StatusOK)
	if err != nil && topic == "" {
		t.Fatal(err)
	}
	var doc struct {
		Producers []struct {
			Broadcast string `json:"broadcast_address"`
			TCPPort   int    `json:"tcp_port"`
		} `json:"producers"`
	}
	json.Unmarshal(body, &doc)
	var addrs []string
	for _, p := range doc.Producers {
		addrs = append(addrs, fmt.Sprintf("%s:%d", p.Broadcast, p.TCPPort))
	}
	slices.Sort(addrs)
	return addrs
}

// waitListed waits (at most waitTimeout) until nsqlookupd lists exactly the
// nodes given (for topic, if not ""), and returns when it saw them.
func waitListed(t testing.TB, lk *nsqdproc.Process, topic string, nodes ...*nsqd) time.Time {
	t.Helper()
	want := tcpAddrs(nodes)
	slices.Sort(want)
	deadline := time.Now().Add(waitTimeout)
	for {
		got := lookupdList(t, lk, topic)
		if slices.Equal(got, want) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("nsqlookupd lists %v for %q after %v, want %v", got, topic, waitTimeout, want)
		}
		time.Sleep(pollInterval)
	}
}

// waitEvents waits (at most 30s) until logs hold n records msg with kv.
func waitEvents(t testing.TB, logs *logRecords, n int, msg string, kv ...string) {
	t.Helper()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !waitCond(logs.cond, 30*time.Second, func() bool { return len(logs.matchLocked(msg, kv)) >= n }) {
		t.Fatalf("%d of %d log records %q %v within 30 s", len(logs.matchLocked(msg, kv)), n, msg, kv)
	}
}

// discoveredPool returns a pool with no address, polling every
// discoveryPoll and logging to logs, connected to lookupds.
func discoveredPool(t testing.TB, logs *logRecords, cfg *nsqpub.Config, lookupds ...string) *nsqpub.ProducerPool {
	t.Helper()
	cfg = orNewConfig(cfg)
	cfg.LookupdPollInterval = discoveryPoll
	cfg.Logger = logs.jsonLogger()
	pp := newPool(t, nil, cfg)
	if err := pp.ConnectToNSQLookupds(lookupds); err != nil {
		t.Fatal(err)
	}
	return pp
}

// counts returns each node's message_count for topic.
func counts(t testing.TB, topic string, nodes ...*nsqd) []int64 {
	t.Helper()
	out := make([]int64, len(nodes))
	for i, n := range nodes {
		out[i] = n.Stats(t, topic).MessageCount
	}
	return out
}

// wantSpread fails unless every count is within ±10% of total/len.
func wantSpread(t testing.TB, what string, got []int64, total int) {
	t.Helper()
	share := float64(total) / float64(len(got))
	var sum int64
	for _, c := range got {
		sum += c
		if float64(c) < 0.9*share || float64(c) > 1.1*share {
			t.Fatalf("%s: per node %v, want %.0f ± 10%% each", what, got, share)
		}
	}
	if sum < int64(total) {
		t.Fatalf("%s: %v add up to %d, want %d", what, got, sum, total)
	}
}

// noPoolGoroutines fails if goroutines running nsqpub code are left (it
// looks again for a while: some may still be returning).
func noPoolGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := nsqpubStacks()
		if g == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Stop:\n%s", g)
		}
		runtime.Gosched()
		time.Sleep(pollInterval)
	}
}

// TestDiscoveryCluster: three nsqd found through nsqlookupd take 30,000
// publishes within ±10% each; a fourth started later is added within three
// poll intervals of nsqlookupd listing it and takes its share; a node
// killed mid-stream costs no publish with AtLeastOnce and leaves the
// rotation; with nsqlookupd killed, the nodes known keep taking
// everything; Stop leaves no goroutine.
func TestDiscoveryCluster(t *testing.T) {
	lk := startLookupd(t)
	nodes := []*nsqd{startRegistered(t, lk), startRegistered(t, lk), startRegistered(t, lk)}
	waitListed(t, lk, "", nodes...)
	logs := newLogRecords()
	cfg := nsqpub.NewConfig()
	cfg.AtLeastOnce = true
	pp := discoveredPool(t, logs, cfg, lk.HTTPAddr)
	if st := pp.Stats(); st.NodesKnown != 3 || st.NodesAdded != 3 {
		t.Fatalf("after the first poll: %+v", st)
	}

	topic := topicName(t)
	l := &poolLoad{pp: pp, topic: topic, prefix: "d", total: 30000, async: 10000}
	l.mustRun(t)
	spread := counts(t, topic, nodes...)
	wantSpread(t, "30,000 over 3", spread, 30000)

	// A fourth nsqd.
	nodes = append(nodes, startRegistered(t, lk))
	listedAt := waitListed(t, lk, "", nodes...)
	added := logs.wait(t, "node added", "node", nodes[3].TCPAddr)
	toAdd := added.At.Sub(listedAt)
	if toAdd > 3*discoveryPoll {
		t.Errorf("the fourth nsqd joined %v after nsqlookupd listed it, more than 3 poll intervals (%v)", toAdd, 3*discoveryPoll)
	}
	topic4 := topic + ".four"
	l = &poolLoad{pp: pp, topic: topic4, prefix: "f", total: 8000, async: 2000}
	l.mustRun(t)
	four := counts(t, topic4, nodes...)
	wantSpread(t, "8,000 over 4", four, 8000)

	// A node killed mid-stream.
	publishedBefore := map[string]int64{}
	for _, ns := range pp.Stats().Nodes {
		publishedBefore[ns.Addr] = int64(ns.Published)
	}
	topicK := topic + ".kill"
	killNow := make(chan struct{})
	var once sync.Once
	l = &poolLoad{pp: pp, topic: topicK, prefix: "k", total: 12000, async: 4000, onAck: func(acked int64) {
		if acked >= 4000 {
			once.Do(func() { close(killNow) })
		}
	}}
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.run() }()
	select {
	case <-killNow:
	case <-loadDone:
		t.Fatal("the load ended before 4,000 acknowledgements")
	}
	killed := nodes[1]
	killed.Kill()
	<-loadDone
	if n, some := l.failures(); n > 0 {
		t.Fatalf("%d publishes failed with AtLeastOnce across the kill:%s", n, some)
	}
	logs.wait(t, "node removed", "node", killed.TCPAddr)
	survivors := []*nsqd{nodes[0], nodes[2], nodes[3]}
	published := map[string]int64{}
	for _, ns := range pp.Stats().Nodes {
		published[ns.Addr] = int64(ns.Published) - publishedBefore[ns.Addr]
	}
	for _, n := range survivors {
		if published[n.TCPAddr] == 0 {
			t.Fatalf("survivor %s is not in the rotation: %s", n.TCPAddr, describePool(pp.Stats()))
		}
		waitMessageCount(t, n, topicK, published[n.TCPAddr]) // what the pool counts is what nsqd holds
	}

	// nsqlookupd killed: the last known nodes keep taking everything.
	lk.Kill()
	before := len(logs.match("lookupd poll failed: keeping the nodes known"))
	waitEvents(t, logs, before+2, "lookupd poll failed: keeping the nodes known")
	topicL := topic + ".nolookupd"
	l = &poolLoad{pp: pp, topic: topicL, prefix: "l", total: 6000, async: 2000}
	l.run()
	if n, some := l.failures(); n > 0 {
		t.Fatalf("%d publishes failed with nsqlookupd down:%s", n, some)
	}
	wantSpread(t, "6,000 over 3 with nsqlookupd down", counts(t, topicL, survivors...), 6000)
	st := pp.Stats()
	if st.NodesKnown != 3 || st.NodesRemoved != 1 || st.LookupdErrors < 2 {
		t.Fatalf("stats: %s", describePool(st))
	}
	start := time.Now()
	pp.Stop()
	noPoolGoroutines(t)
	t.Logf("RESULT discovery: 30,000 over 3 nsqd %v; fourth nsqd added %v after nsqlookupd listed it (poll %v), 8,000 over 4 %v; "+
		"node killed mid-stream: 0 of 12,000 failed; nsqlookupd killed: 6,000 over the 3 known; Stop %v; stats nodes_added=%d nodes_removed=%d lookupd_polls=%d lookupd_errors=%d",
		spread, toAdd.Round(time.Millisecond), discoveryPoll, four, time.Since(start).Round(time.Millisecond),
		st.NodesAdded, st.NodesRemoved, st.LookupdPolls, st.LookupdErrors)
}

// TestDiscoveryTombstone: a topic tombstoned on one node through
// nsqlookupd's POST /topic/tombstone gets no more messages there; other
// topics still do.
func TestDiscoveryTombstone(t *testing.T) {
	lk := startLookupd(t)
	nodes := []*nsqd{startRegistered(t, lk), startRegistered(t, lk)}
	waitListed(t, lk, "", nodes...)
	logs := newLogRecords()
	pp := discoveredPool(t, logs, nil, lk.HTTPAddr)
	topic, other := topicName(t), topicName(t)
	publish := func(topic string, n int) {
		for i := 0; i < n; i++ {
			if err := pp.Publish(topic, []byte("m")); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(topic, 200)
	waitListed(t, lk, topic, nodes...) // both registered the topic
	if _, err := nsqdproc.Do(httpClient, http.MethodPost, lk.HTTPAddr, "/topic/tombstone",
		url.Values{"topic": {topic}, "node": {nodes[0].HTTPAddr}}, http.StatusOK); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "topic tombstoned on node: not published there", "node", nodes[0].TCPAddr, "topic", topic)
	before := counts(t, topic, nodes...)
	publish(topic, 500)
	publish(other, 100)
	after := counts(t, topic, nodes...)
	if after[0] != before[0] || after[1] != before[1]+500 {
		t.Fatalf("tombstoned on node 0: message counts %v then %v, want node 0 unchanged and node 1 +500", before, after)
	}
	if c := counts(t, other, nodes...); c[0] != 50 || c[1] != 50 {
		t.Fatalf("another topic: %v, want 50 each", c)
	}
	pp.Stop()
	noPoolGoroutines(t)
	t.Logf("RESULT tombstone: before %v, after 500 more %v", before, after)
}

// TestDiscoveryTwoLookupds: two nsqlookupds that each know a different nsqd:
// the pool publishes to both.
func TestDiscoveryTwoLookupds(t *testing.T) {
	a, b := startLookupd(t), startLookupd(t)
	nodes := []*nsqd{startRegistered(t, a), startRegistered(t, b)}
	waitListed(t, a, "", nodes[0])
	waitListed(t, b, "", nodes[1])
	pp := discoveredPool(t, newLogRecords(), nil, a.HTTPAddr, "http://"+b.HTTPAddr)
	topic := topicName(t)
	l := &poolLoad{pp: pp, topic: topic, prefix: "u", total: 4000, async: 1000}
	l.mustRun(t)
	wantSpread(t, "4,000 over the union", counts(t, topic, nodes...), 4000)
	pp.Stop()
	noPoolGoroutines(t)
}

// TestDiscoveryHostileLookupds: beside the real nsqlookupd, ones answering
// HTML, the wrong JSON, a 64 MiB body, or never: the first call returns
// within LookupdPollTimeout (plus slack), memory does not grow, every
// failure is one event, publishing goes on through the nodes the good one
// lists, and Stop does not wait for the one that never answers.
func TestDiscoveryHostileLookupds(t *testing.T) {
	lk := startLookupd(t)
	nodes := []*nsqd{startRegistered(t, lk), startRegistered(t, lk)}
	waitListed(t, lk, "", nodes...)
	serve := func(h http.HandlerFunc) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}
	html := serve(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html><body>hello</body></html>")) })
	wrong := serve(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"producers":[{"broadcast_address":"127.0.0.1","tcp_port":"4150"}]}`))
	})
	var mostMiB atomic.Int64
	chunk := make([]byte, 1<<20)
	huge := serve(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"producers":[`))
		for i := int64(1); i <= 64; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if i > mostMiB.Load() {
				mostMiB.Store(i)
			}
		}
	})
	release := make(chan struct{})
	slow := serve(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })

	logs := newLogRecords()
	cfg := nsqpub.NewConfig()
	cfg.LookupdPollInterval = 100 * time.Millisecond
	cfg.LookupdPollTimeout = 500 * time.Millisecond
	cfg.Logger = logs.jsonLogger()
	pp := newPool(t, nil, cfg)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	start := time.Now()
	err := pp.ConnectToNSQLookupds([]string{lk.HTTPAddr, html, wrong, huge, slow})
	took := time.Since(start)
	if took > cfg.LookupdPollTimeout+2*time.Second {
		t.Fatalf("ConnectToNSQLookupds took %v (LookupdPollTimeout %v)", took, cfg.LookupdPollTimeout)
	}
	if !errors.Is(err, nsqpub.ErrLookupd) || strings.Count(err.Error(), "\n") != 3 {
		t.Fatalf("ConnectToNSQLookupds: %v; want the 4 hostile ones' errors", err)
	}
	topic := topicName(t)
	l := &poolLoad{pp: pp, topic: topic, prefix: "h", total: 6000, async: 2000}
	l.mustRun(t)
	wantSpread(t, "6,000 beside hostile nsqlookupds", counts(t, topic, nodes...), 6000)
	for _, bad := range []string{html, wrong, huge, slow} {
		waitEvents(t, logs, 4, "lookupd poll failed: keeping the nodes known", "lookupd", bad)
	}
	waitEvents(t, logs, 12, "lookupd poll failed: keeping the nodes known", "lookupd", huge)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grown := int64(ms.HeapAlloc) - int64(heapBefore)
	if grown > 32<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	if mostMiB.Load() >= 64 {
		t.Errorf("a 64 MiB answer was sent to its end")
	}
	st := pp.Stats()
	if st.NodesKnown != 2 || st.LookupdErrors < 24 {
		t.Errorf("stats: %s", describePool(st))
	}
	stopStart := time.Now()
	pp.Stop()
	stopTook := time.Since(stopStart)
	if stopTook > cfg.StopTimeout {
		t.Errorf("Stop took %v", stopTook)
	}
	noPoolGoroutines(t)
	t.Logf("RESULT hostile lookupds: first call %v (timeout %v), heap %+d KiB after %d lookupd errors, 64 MiB answer cut after %d MiB sent, Stop %v",
		took.Round(time.Millisecond), cfg.LookupdPollTimeout, grown>>10, st.LookupdErrors, mostMiB.Load(), stopTook.Round(time.Millisecond))
}

// TestDiscoveryCommand: nsqpub --lookupd-http-address publishes over the
// nsqd nsqlookupd lists.
func TestDiscoveryCommand(t *testing.T) {
	lk := startLookupd(t)
	nodes := []*nsqd{startRegistered(t, lk), startRegistered(t, lk)}
	waitListed(t, lk, "", nodes...)
	bin := buildNSQPub(t, t.TempDir())
	topic := topicName(t)
	var in strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&in, "record %d\n", i)
	}
	res := runNSQPub(t, bin, strings.NewReader(in.String()), "--topic", topic, "--lookupd-http-address", lk.HTTPAddr)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	wantSpread(t, "nsqpub --lookupd-http-address", counts(t, topic, nodes...), 1000)
}
