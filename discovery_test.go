package nsqpub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLookupd serves /nodes as nsqlookupd v1.3.0 does, listing the nodes
// last given to list, or answers with what answer set.
type fakeLookupd struct {
	srv *httptest.Server

	mu     sync.Mutex
	status int
	body   string
	auth   []string // the Authorization header of each request
}

// lnode is one node a fakeLookupd lists: its TCP address and the topics
// tombstoned on it.
type lnode struct {
	addr string
	tomb []string
}

func newFakeLookupd(t testing.TB, nodes ...lnode) *fakeLookupd {
	l := &fakeLookupd{}
	l.list(nodes...)
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		status, body := l.status, l.body
		l.auth = append(l.auth, r.Header.Get("Authorization"))
		l.mu.Unlock()
		if r.URL.Path != "/nodes" {
			status, body = 404, `{"message":"NOT_FOUND"}`
		}
		w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// addr is the lookupd's HTTP address, host:port.
func (l *fakeLookupd) addr() string { return strings.TrimPrefix(l.srv.URL, "http://") }

// list makes the lookupd list nodes.
func (l *fakeLookupd) list(nodes ...lnode) {
	type producer struct {
		Broadcast  string   `json:"broadcast_address"`
		TCPPort    int      `json:"tcp_port"`
		Topics     []string `json:"topics"`
		Tombstones []bool   `json:"tombstones"`
	}
	ps := []producer{}
	for _, n := range nodes {
		host, port, _ := net.SplitHostPort(n.addr)
		p := producer{Broadcast: host, Topics: []string{"other"}, Tombstones: []bool{false}}
		p.TCPPort, _ = strconv.Atoi(port)
		for _, topic := range n.tomb {
			p.Topics, p.Tombstones = append(p.Topics, topic), append(p.Tombstones, true)
		}
		ps = append(ps, p)
	}
	b, _ := json.Marshal(map[string]any{"producers": ps})
	l.answer(200, string(b))
}

// answer makes the lookupd answer status and body.
func (l *fakeLookupd) answer(status int, body string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.status, l.body = status, body
}

// events is a slog.Handler that keeps the messages logged, for tests to
// wait on.
type events struct {
	mu      sync.Mutex
	recs    []string      // "msg k=v k=v"
	changed chan struct{} // closed and replaced on every record
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

func (e *events) Enabled(context.Context, slog.Level) bool { return true }
func (e *events) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *events) WithGroup(string) slog.Handler            { return e }
func (e *events) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recs = append(e.recs, b.String())
	close(e.changed)
	e.changed = make(chan struct{})
	return nil
}

// count returns how many records contain every part.
func (e *events) count(parts ...string) (int, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
next:
	for _, r := range e.recs {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		n++
	}
	return n, e.changed
}

// wait waits (at most 10s) until n records contain every part.
func (e *events) wait(t testing.TB, n int, parts ...string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got, changed := e.count(parts...)
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%d of %d events %q within 10s", got, n, parts)
		}
	}
}

// discoveryConfig is a Config polling every 10ms and logging to ev.
func discoveryConfig(ev *events) *Config {
	cfg := NewConfig()
	cfg.LookupdPollInterval = 10 * time.Millisecond
	cfg.LookupdPollTimeout = 2 * time.Second
	cfg.Logger = slog.New(ev)
	return cfg
}

// publishN publishes n messages to topic and fails the test on any error.
func publishN(t testing.TB, pp *ProducerPool, topic string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := pp.Publish(topic, []byte("m")); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

// msgs returns the messages each fake received.
func msgs(f ...*fakeNSQD) []int64 {
	out := make([]int64, len(f))
	for i, x := range f {
		out[i] = x.msgs.Load()
	}
	return out
}

// TestDiscoveryFollowsLookupd: the nodes listed join the rotation, those no
// longer listed leave it (their counts stay in the sums), and fixed nodes
// stay whatever nsqlookupd lists.
func TestDiscoveryFollowsLookupd(t *testing.T) {
	f := []*fakeNSQD{newFastNSQD(t), newFastNSQD(t), newFastNSQD(t), newFastNSQD(t)}
	ev := newEvents()
	lk := newFakeLookupd(t, lnode{addr: f[1].addr()}, lnode{addr: f[2].addr()}, lnode{addr: f[0].addr()})
	pp := newTestPool(t, []string{f[0].addr()}, discoveryConfig(ev))
	if err := pp.ConnectToNSQLookupd(lk.addr()); err != nil {
		t.Fatal(err)
	}
	if err := pp.ConnectToNSQLookupd("http://" + lk.addr() + "/"); err != nil { // the same one: skipped
		t.Fatal(err)
	}
	steps := []struct {
		list []lnode
		wait []string // an event to wait for before publishing
		want []int64  // messages per fake after 90 more
	}{
		{want: []int64{30, 30, 30, 0}},
		{list: []lnode{{addr: f[2].addr()}, {addr: f[3].addr()}}, wait: []string{"node removed", f[1].addr()},
			want: []int64{60, 30, 60, 30}},
		{list: []lnode{}, wait: []string{"node removed", f[3].addr()}, want: []int64{150, 30, 60, 30}},
	}
	for i, s := range steps {
		if s.list != nil {
			lk.list(s.list...)
			ev.wait(t, 1, s.wait...)
		}
		publishN(t, pp, "t", 90)
		if got := msgs(f...); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Fatalf("step %d: messages %v, want %v", i, got, s.want)
		}
	}
	st := pp.Stats()
	if st.NodesKnown != 1 || st.NodesAdded != 3 || st.NodesRemoved != 3 || st.Published != 270 || st.LookupdErrors != 0 || st.LookupdPolls < 3 {
		t.Fatalf("stats %+v", st)
	}
	pp.Stop()
	noGoroutinesLeft(t)
}

// TestDiscoveryTombstones: a topic tombstoned on a node goes to the others,
// other topics still go there, and a topic tombstoned everywhere is still
// published.
func TestDiscoveryTombstones(t *testing.T) {
	f := []*fakeNSQD{newFastNSQD(t), newFastNSQD(t)}
	ev := newEvents()
	lk := newFakeLookupd(t, lnode{addr: f[0].addr(), tomb: []string{"t"}}, lnode{addr: f[1].addr()})
	pp := newTestPool(t, nil, discoveryConfig(ev))
	if err := pp.ConnectToNSQLookupd(lk.addr()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		list  []lnode
		topic string
		want  []int64
	}{
		{topic: "t", want: []int64{0, 50}},
		{topic: "u", want: []int64{25, 75}},
		{list: []lnode{{addr: f[0].addr(), tomb: []string{"t"}}, {addr: f[1].addr(), tomb: []string{"t"}}}, topic: "t", want: []int64{50, 100}},
		{list: []lnode{{addr: f[0].addr()}, {addr: f[1].addr(), tomb: []string{"t"}}}, topic: "t", want: []int64{100, 100}},
	}
	for i, tt := range tests {
		if tt.list != nil {
			n, _ := ev.count("tombstoned on node")
			lk.list(tt.list...)
			ev.wait(t, n+1, "tombstoned on node")
		}
		publishN(t, pp, tt.topic, 50)
		if got := msgs(f...); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Fatalf("step %d: messages %v, want %v", i, got, tt.want)
		}
	}
	pp.Stop()
	noGoroutinesLeft(t)
}

// TestDiscoveryHostileLookupds: beside a good nsqlookupd, ones that answer
// HTML, the wrong JSON, 64 MiB, or never: the first call returns within
// LookupdPollTimeout with their errors, every failure is counted and
// logged, memory stays bounded, publishing goes on, and a good nsqlookupd
// that turns bad leaves the nodes it listed.
func TestDiscoveryHostileLookupds(t *testing.T) {
	f := newFastNSQD(t)
	ev := newEvents()
	good := newFakeLookupd(t, lnode{addr: f.addr()})
	html := newFakeLookupd(t)
	html.answer(200, "<html><body>It works!</body></html>")
	wrong := newFakeLookupd(t)
	wrong.answer(200, `{"nodes":[{"address":"10.0.0.1:4150"}]}`)
	var huge atomic.Int64
	chunk := make([]byte, 1<<20)
	bigSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"producers":[`))
		for i := 1; i <= 64; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if int64(i) > huge.Load() {
				huge.Store(int64(i)) // the most MiB one answer got out
			}
		}
	}))
	defer bigSrv.Close()
	release := make(chan struct{})
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slowSrv.Close()
	defer close(release)

	cfg := discoveryConfig(ev)
	cfg.LookupdPollTimeout = 300 * time.Millisecond
	pp := newTestPool(t, nil, cfg)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap := ms.HeapAlloc
	start := time.Now()
	err := pp.ConnectToNSQLookupds([]string{good.addr(), html.addr(), wrong.addr(), bigSrv.URL, slowSrv.URL})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("ConnectToNSQLookupds took %v with a LookupdPollTimeout of 300ms", took)
	}
	if !errors.Is(err, ErrLookupd) || strings.Count(err.Error(), "\n") != 3 {
		t.Fatalf("ConnectToNSQLookupds: %v, want the errors of the 4 bad nsqlookupds", err)
	}
	ev.wait(t, 5, "lookupd poll failed", "lookupd="+slowSrv.URL) // each a timeout
	ev.wait(t, 20, "lookupd poll failed", "lookupd="+bigSrv.URL)
	publishN(t, pp, "t", 100)
	good.answer(200, "<html>")
	n, _ := ev.count("lookupd poll failed", "lookupd="+good.addr())
	ev.wait(t, n+3, "lookupd poll failed", "lookupd="+good.addr())
	publishN(t, pp, "t", 100)
	f.check(t, 200)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grown := int64(ms.HeapAlloc) - int64(heap); grown > 16<<20 {
		t.Fatalf("heap grew by %d MiB", grown>>20)
	}
	st := pp.Stats()
	if st.NodesKnown != 1 || st.LookupdErrors < 28 || st.LookupdPolls <= st.LookupdErrors {
		t.Fatalf("stats %+v", st)
	}
	if huge.Load() >= 64 {
		t.Fatal("a 64 MiB answer was sent to its end")
	}
	pp.Stop()
	noGoroutinesLeft(t)
}

// TestDiscoveryAuthorization: the secret goes to nsqlookupd only when
// AuthSecret is set and LookupdAuthorization is on.
func TestDiscoveryAuthorization(t *testing.T) {
	tests := []struct {
		secret string
		auth   bool
		want   string
	}{
		{"s3cret", true, "Bearer s3cret"},
		{"s3cret", false, ""},
		{"", true, ""},
	}
	for _, tt := range tests {
		lk := newFakeLookupd(t)
		cfg := &Config{AuthSecret: tt.secret, LookupdAuthorization: tt.auth}
		pp := newTestPool(t, nil, cfg)
		if err := pp.ConnectToNSQLookupd(lk.addr()); err != nil {
			t.Fatal(err)
		}
		pp.Stop()
		lk.mu.Lock()
		got := lk.auth[0]
		lk.mu.Unlock()
		if got != tt.want {
			t.Errorf("secret %q, LookupdAuthorization %v: Authorization %q, want %q", tt.secret, tt.auth, got, tt.want)
		}
	}
}

// TestDiscoveryNoNodeYet: with no node known, a publish without a deadline
// fails at once, one with a context waits for the first node until the
// context ends, and Stop wakes it.
func TestDiscoveryNoNodeYet(t *testing.T) {
	f := newFastNSQD(t)
	lk := newFakeLookupd(t)
	lk.answer(500, `{"message":"INTERNAL_ERROR"}`)
	ev := newEvents()
	pp := newTestPool(t, nil, discoveryConfig(ev))
	if err := pp.ConnectToNSQLookupd(lk.addr()); !errors.Is(err, ErrLookupd) {
		t.Fatalf("first poll of a failing nsqlookupd: %v", err)
	}
	if err := pp.Publish("t", []byte("m")); !errors.Is(err, ErrNoHealthyNode) {
		t.Fatalf("Publish with no node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := pp.PublishContext(ctx, "t", []byte("m")); !errors.Is(err, ErrNoHealthyNode) {
		t.Fatalf("PublishContext until the deadline: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- pp.PublishContext(ctx, "t", []byte("m")) }()
	ev.wait(t, 2, "lookupd poll failed")
	lk.list(lnode{addr: f.addr()})
	if err := <-res; err != nil {
		t.Fatalf("PublishContext waiting for the first node: %v", err)
	}

	lk2 := newFakeLookupd(t)
	lk2.answer(500, "")
	pp2 := newTestPool(t, nil, discoveryConfig(newEvents()))
	pp2.ConnectToNSQLookupd(lk2.addr())
	go func() { res <- pp2.PublishContext(ctx, "t", []byte("m")) }()
	pp2.Stop()
	if err := <-res; err == nil {
		t.Fatal("a publish waiting for a node succeeded after Stop")
	}
	if err := pp2.ConnectToNSQLookupd(lk2.addr()); !errors.Is(err, ErrStopped) {
		t.Fatalf("ConnectToNSQLookupd after Stop: %v", err)
	}
	if err := pp.ConnectToNSQLookupd("no port"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("ConnectToNSQLookupd(bad address): %v", err)
	}
	pp.Stop()
	f.check(t, 1)

	// Nodes known but all down: a publish with a context does not wait.
	down := newTestPool(t, []string{deadAddr(t)}, discoveryConfig(newEvents()))
	lk2.list() // none
	if err := down.ConnectToNSQLookupd(lk2.addr()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		start := time.Now()
		if err := down.PublishContext(ctx, "t", []byte("m")); !errors.Is(err, ErrNoHealthyNode) || time.Since(start) > 5*time.Second {
			t.Fatalf("every node down: %v after %v", err, time.Since(start))
		}
	}
	down.Stop()
	noGoroutinesLeft(t)
}

// TestDiscoveryChurnUnderLoad: nodes come and go while publishers run,
// synchronous and asynchronous: every publish succeeds, exactly once.
func TestDiscoveryChurnUnderLoad(t *testing.T) {
	f := []*fakeNSQD{newFastNSQD(t), newFastNSQD(t), newFastNSQD(t)}
	ev := newEvents()
	lk := newFakeLookupd(t, lnode{addr: f[0].addr()}, lnode{addr: f[1].addr()})
	pp := newTestPool(t, nil, discoveryConfig(ev))
	if err := pp.ConnectToNSQLookupd(lk.addr()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan *ProducerTransaction, 16)
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := pp.Publish("t", []byte("m"))
				if err == nil {
					if err = pp.PublishAsync("t", []byte("a"), done); err == nil {
						err = (<-done).Error
					}
				}
				if err != nil {
					errs <- err
					return
				}
				sent.Add(2)
			}
		}()
	}
	sets := [][]lnode{{{addr: f[1].addr()}, {addr: f[2].addr()}}, {{addr: f[0].addr()}, {addr: f[2].addr()}}, {{addr: f[0].addr()}, {addr: f[1].addr()}}}
	for i := 0; i < 9; i++ {
		lk.list(sets[i%3]...)
		ev.wait(t, i+1, "node removed")
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("publish during churn: %v", err)
	}
	pp.Stop()
	var total int64
	for _, x := range msgs(f...) {
		total += x
	}
	if total != sent.Load() || pp.Stats().Published != uint64(total) {
		t.Fatalf("sent %d, nsqd received %d, Stats %d", sent.Load(), total, pp.Stats().Published)
	}
	noGoroutinesLeft(t)
}
