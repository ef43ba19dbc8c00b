package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub"
)

// newProducer returns a Producer for n, stopped when the test ends.
func newProducer(t testing.TB, n *nsqd, cfg *nsqpub.Config) *nsqpub.Producer {
	t.Helper()
	return newProducerAt(t, n.TCPAddr, cfg)
}

// newProducerAt returns a Producer for addr, with NewConfig's settings when
// cfg is nil, stopped when the test ends.
func newProducerAt(t testing.TB, addr string, cfg *nsqpub.Config) *nsqpub.Producer {
	t.Helper()
	p, err := nsqpub.NewProducer(addr, orNewConfig(cfg))
	return stopAtEnd(t, p, err)
}

// orNewConfig returns cfg, or NewConfig's settings when cfg is nil.
func orNewConfig(cfg *nsqpub.Config) *nsqpub.Config {
	if cfg == nil {
		return nsqpub.NewConfig()
	}
	return cfg
}

// stopAtEnd fails the test if err is not nil, else has s stopped when the
// test ends, and returns s.
func stopAtEnd[S interface{ Stop() }](t testing.TB, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// logEvents sends p's log lines from level lvl up to a new eventLogger.
func logEvents(p *nsqpub.Producer, lvl nsqpub.LogLevel) *eventLogger {
	lg := newEventLogger()
	p.SetLogger(lg, lvl)
	return lg
}

// startWithChannel starts nsqd for the test, names a topic with a channel
// "ch", and returns them with a Producer of default settings for that nsqd.
func startWithChannel(t *testing.T) (*nsqd, string, *nsqpub.Producer) {
	t.Helper()
	n := startNSQD(t)
	topic := topicName(t)
	n.CreateChannel(t, topic, "ch")
	return n, topic, newProducer(t, n, nil)
}

// sortedStrings returns bodies as sorted strings.
func sortedStrings(bodies [][]byte) []string {
	out := make([]string, len(bodies))
	for i, b := range bodies {
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}

// checkBodies fails unless got holds exactly want, in any order.
func checkBodies(t testing.TB, got [][]byte, want []string) {
	t.Helper()
	w := slices.Clone(want)
	slices.Sort(w)
	if g := sortedStrings(got); !slices.Equal(g, w) {
		t.Fatalf("nsqd delivered %d bodies %.200q\nwant %d %.200q", len(g), g, len(w), w)
	}
}

// TestPublishModes publishes with every method and checks, through /stats
// and go-nsq's Consumer, that exactly those bodies arrived.
func TestPublishModes(t *testing.T) {
	n, topic, p := startWithChannel(t)
	if err := p.Ping(); err != nil {
		t.Fatal(err)
	}
	var want []string
	add := func(s string) []byte { want = append(want, s); return []byte(s) }

	if err := p.Publish(topic, add("sync")); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishContext(context.Background(), topic, add("sync ctx")); err != nil {
		t.Fatal(err)
	}
	done := make(chan *nsqpub.ProducerTransaction, 100)
	for i := 0; i < 50; i++ {
		if err := p.PublishAsync(topic, add(fmt.Sprintf("async %d", i)), done, i, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.MultiPublish(topic, [][]byte{add("multi 1"), add("multi 2"), add("multi 3")}); err != nil {
		t.Fatal(err)
	}
	if err := p.MultiPublishAsync(topic, [][]byte{add("multi async 1"), add("multi async 2")}, done, "m"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeferredPublish(topic, 0, add("deferred 0")); err != nil {
		t.Fatal(err)
	}
	if err := p.DeferredPublishAsync(topic, time.Millisecond, add("deferred async"), done, "d"); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i := 0; i < 52; i++ {
		tr := <-done
		if tr.Error != nil {
			t.Fatalf("async %v: %v", tr.Args, tr.Error)
		}
		if len(tr.Args) == 2 {
			if tr.Args[1] != "x" {
				t.Fatalf("args %v", tr.Args)
			}
			seen[tr.Args[0].(int)] = true
		}
	}
	if len(seen) != 50 {
		t.Fatalf("%d distinct async results, want 50", len(seen))
	}
	waitMessageCount(t, n, topic, int64(len(want)))
	checkBodies(t, consume(t, n, topic, "ch", len(want)), want)
	prods := n.TopicProducers(t, topic)
	if len(prods) != 1 || !strings.HasPrefix(prods[0].UserAgent, "nsqpub/") {
		t.Fatalf("producers %+v, want one nsqpub connection", prods)
	}
}

// TestDeferredPublishDelay checks nsqd holds a deferred message for its delay.
func TestDeferredPublishDelay(t *testing.T) {
	n := startNSQD(t)
	topic := topicName(t)
	n.CreateChannelAndRestart(t, topic, "ch")
	p := newProducer(t, n, nil)
	const delay = 1500 * time.Millisecond
	start := time.Now()
	if err := p.DeferredPublish(topic, delay, []byte("later")); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(topic, []byte("now")); err != nil {
		t.Fatal(err)
	}
	msgs := consumeTimed(t, n, topic, "ch", 2)
	if string(msgs[0].Body) != "now" || string(msgs[1].Body) != "later" {
		t.Fatalf("order %q, %q: the deferred message came first", msgs[0].Body, msgs[1].Body)
	}
	if got := msgs[1].Received.Sub(start); got < delay {
		t.Fatalf("deferred message arrived after %v, before its delay %v", got, delay)
	}
}

// TestValidationAgainstNSQD: every invalid publish fails locally with its
// error and costs nothing else; nsqd receives exactly the valid ones.
func TestValidationAgainstNSQD(t *testing.T) {
	n := startNSQD(t, "--max-msg-size=100")
	topic := topicName(t)
	p := newProducer(t, n, &nsqpub.Config{MaxMsgSize: 100})
	big := bytes.Repeat([]byte("x"), 101)
	ok := []byte("ok")
	cases := []struct {
		name string
		err  error
		call func() error
	}{
		{"empty topic", nsqpub.ErrInvalidTopic, func() error { return p.Publish("", ok) }},
		{"bad topic", nsqpub.ErrInvalidTopic, func() error { return p.Publish("a:b", ok) }},
		{"long topic", nsqpub.ErrInvalidTopic, func() error { return p.Publish(strings.Repeat("a", 65), ok) }},
		{"empty body", nsqpub.ErrEmptyBody, func() error { return p.Publish(topic, nil) }},
		{"big body", nsqpub.ErrMessageTooLarge, func() error { return p.Publish(topic, big) }},
		{"empty MPUB", nsqpub.ErrEmptyBatch, func() error { return p.MultiPublish(topic, nil) }},
		{"MPUB empty member", nsqpub.ErrEmptyBody, func() error { return p.MultiPublish(topic, [][]byte{ok, nil}) }},
		{"DPUB negative", nsqpub.ErrInvalidDelay, func() error { return p.DeferredPublish(topic, -1, ok) }},
		{"DPUB too long", nsqpub.ErrInvalidDelay, func() error { return p.DeferredPublish(topic, time.Hour+1, ok) }},
		{"async bad topic", nsqpub.ErrInvalidTopic, func() error { return p.PublishAsync("a b", ok, nil) }},
	}
	sent := 0
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
		if err := p.Publish(topic, []byte(c.name)); err != nil {
			t.Fatalf("valid publish after %s: %v", c.name, err)
		}
		sent++
	}
	if err := p.Publish(topic, big[:100]); err != nil {
		t.Fatalf("a body of exactly max-msg-size: %v", err)
	}
	if err := p.DeferredPublish(topic, time.Hour, ok); err != nil {
		t.Fatalf("DPUB of exactly 1h: %v", err)
	}
	waitMessageCount(t, n, topic, int64(sent+2))
	if prods := n.TopicProducers(t, topic); len(prods) != 1 {
		t.Fatalf("%d producer connections, want 1: a local rejection must not cost the connection", len(prods))
	}
}

// TestServerErrors: nsqd's own rejections come back as go-nsq returns them,
// an ErrProtocol value with the frame as Reason, wrapping a *ServerError, and
// the next publish reconnects by itself.
func TestServerErrors(t *testing.T) {
	n := startNSQD(t, "--max-msg-size=100")
	topic := topicName(t)
	// The producer believes the limit is 1 MiB, so nsqd is the one to refuse.
	p := newProducer(t, n, nil)
	err := p.Publish(topic, bytes.Repeat([]byte("x"), 101))
	var se *nsqpub.ServerError
	if !errors.As(err, &se) || se.Code != "E_BAD_MESSAGE" || se.Message != "PUB message too big 101 > 100" {
		t.Fatalf("err = %v, want *ServerError E_BAD_MESSAGE", err)
	}
	if pe, ok := err.(nsqpub.ErrProtocol); !ok || pe.Reason != "E_BAD_MESSAGE PUB message too big 101 > 100" {
		t.Fatalf("err = %T %v, want nsqpub.ErrProtocol as go-nsq returns a refusal", err, err)
	}
	if err := p.Publish(topic, []byte("fine")); err != nil {
		t.Fatalf("publish after a server error: %v", err)
	}
	waitMessageCount(t, n, topic, 1)
}

// TestHeartbeatsKeepIdleConnection: with a 1s heartbeat the connection stays
// up through several heartbeats (more than 2× the interval of idleness) and
// the next publish uses it without reconnecting.
func TestHeartbeatsKeepIdleConnection(t *testing.T) {
	n := startNSQD(t)
	topic := topicName(t)
	p := newProducer(t, n, &nsqpub.Config{HeartbeatInterval: time.Second})
	lg := logEvents(p, nsqpub.LogLevelDebug)
	// Three heartbeats answered span more than two intervals of silence
	// from the client, which nsqd would punish by closing the connection.
	publishAround(t, p, lg, topic, func() { lg.wait(t, "heartbeat", 3) }, 1)
	waitMessageCount(t, n, topic, 2)
}

// TestReconnectAfterRestart: after nsqd restarts, the next publish connects
// again by itself.
func TestReconnectAfterRestart(t *testing.T) {
	n, topic, p := startWithChannel(t)
	lg := logEvents(p, nsqpub.LogLevelDebug)
	publishAround(t, p, lg, topic, func() {
		n.Restart(t)
		lg.wait(t, "connection closed", 1)
	}, 2)
	checkBodies(t, consume(t, n, topic, "ch", 2), []string{"before", "after"})
}

// publishAround publishes "before" to topic, runs between, publishes
// "after", and fails unless p's log (lg, at debug level) shows wantConnects
// connections made.
func publishAround(t testing.TB, p *nsqpub.Producer, lg *eventLogger, topic string, between func(), wantConnects int) {
	t.Helper()
	if err := p.Publish(topic, []byte("before")); err != nil {
		t.Fatal(err)
	}
	between()
	if err := p.Publish(topic, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := lg.count(connectedLine); got != wantConnects {
		t.Fatalf("connected %d times, want %d:\n%s", got, wantConnects, lg)
	}
}

// TestPublishAfterStop: Stop waits for what is in flight; later publishes
// fail with ErrStopped.
func TestPublishAfterStop(t *testing.T) {
	n := startNSQD(t)
	topic := topicName(t)
	p := newProducer(t, n, nil)
	done := make(chan *nsqpub.ProducerTransaction, 1000)
	for i := 0; i < 1000; i++ {
		if err := p.PublishAsync(topic, []byte(fmt.Sprint(i)), done); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	p.Stop()
	for i := 0; i < 1000; i++ {
		if tr := <-done; tr.Error != nil {
			t.Fatalf("in-flight publish: %v", tr.Error)
		}
	}
	if err := p.Publish(topic, []byte("late")); !errors.Is(err, nsqpub.ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}
	waitMessageCount(t, n, topic, 1000)
}

// TestConcurrentPublishers: many goroutines on one Producer, every message
// arrives once.
func TestConcurrentPublishers(t *testing.T) {
	n, topic, p := startWithChannel(t)
	const workers, each = 32, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	var want []string
	for w := 0; w < workers; w++ {
		for i := 0; i < each; i++ {
			want = append(want, fmt.Sprintf("%d-%d", w, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := p.Publish(topic, []byte(fmt.Sprintf("%d-%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitMessageCount(t, n, topic, workers*each)
	checkBodies(t, consume(t, n, topic, "ch", workers*each), want)
}

// TestPerTopicOrder: goroutines publish in turn to 16 topics, half with
// PublishAsync and half with Publish, on one Producer, so that the writer's
// batches interleave the topics and it groups them by topic. Read back with
// go-nsq's Consumer, one topic at a time, what each goroutine published to
// a topic arrives in the order it published it.
func TestPerTopicOrder(t *testing.T) {
	n := startNSQD(t)
	p := newProducer(t, n, nil)
	const topics, workers, rounds = 16, 8, 100
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("%s.%02d", topicName(t), i)
		n.CreateChannel(t, names[i], "ch")
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*topics*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan *nsqpub.ProducerTransaction, topics*rounds)
			for i := range rounds {
				for _, topic := range names {
					body := []byte(fmt.Sprintf("%d-%d", w, i))
					var err error
					if w%2 == 0 {
						err = p.PublishAsync(topic, body, done)
					} else {
						err = p.Publish(topic, body)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			if w%2 == 0 {
				for range topics * rounds {
					if tr := <-done; tr.Error != nil {
						errs <- tr.Error
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, topic := range names {
		next := make([]int, workers) // the round each goroutine's next message must carry
		for _, b := range consume(t, n, topic, "ch", workers*rounds) {
			var w, i int
			if _, err := fmt.Sscanf(string(b), "%d-%d", &w, &i); err != nil || w < 0 || w >= workers {
				t.Fatalf("%s: unexpected body %q", topic, b)
			}
			if i != next[w] {
				t.Fatalf("%s: goroutine %d's message %d arrived where its message %d was due", topic, w, i, next[w])
			}
			next[w]++
		}
	}
}

// TestGoNSQProgramCompiles builds a program written against go-nsq's producer
// API twice — as it is, and with only the import path changed to nsqpub —
// runs both against nsqd and checks with go-nsq's Consumer that both
// programs' messages arrived.
func TestGoNSQProgramCompiles(t *testing.T) {
	n := startNSQD(t)
	src, err := os.ReadFile("compat/gonsq/main.go")
	if err != nil {
		t.Fatal(err)
	}
	const from, to = `nsq "github.com/nsqio/go-nsq"`, `nsq "github.com/nsqpub/nsqpub"`
	if !bytes.Contains(src, []byte(from)) {
		t.Fatalf("compat program does not import %s", from)
	}
	dir := t.TempDir()
	swapped := filepath.Join(dir, "main.go")
	if err := os.WriteFile(swapped, bytes.Replace(src, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("compat/gonsq/main.go")
	if err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{abs: swapped}})
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	topic := topicName(t)
	n.CreateChannel(t, topic, "ch")
	var want []string
	for _, variant := range []struct{ name, overlay string }{{"go-nsq", ""}, {"nsqpub", overlayFile}} {
		bin := filepath.Join(dir, variant.name)
		args := []string{"build", "-o", bin}
		if variant.overlay != "" {
			args = append(args, "-overlay", variant.overlay)
		}
		build := exec.Command("go", append(args, "./compat/gonsq")...)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the go-nsq program against %s: %v\n%s", variant.name, err, out)
		}
		vt := topic[:len(topic)-3] + variant.name[:3]
		n.CreateChannel(t, vt, "ch")
		out, err := exec.Command(bin, n.TCPAddr, vt).CombinedOutput()
		if err != nil {
			t.Fatalf("running the program built against %s: %v\n%s", variant.name, err, out)
		}
		want = []string{vt + " publish", vt + " async", vt + " multi 1", vt + " multi 2", vt + " deferred", vt + " multi async"}
		checkBodies(t, consume(t, n, vt, "ch", len(want)), want)
	}
	// The nsqpub build really used nsqpub: its connection said so.
	_ = want
}

// eventLogger is a logger for SetLogger that lets a test wait for lines.
type eventLogger struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

func newEventLogger() *eventLogger {
	l := &eventLogger{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Output records a line and wakes waiters.
func (l *eventLogger) Output(_ int, s string) error {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	l.cond.Broadcast()
	return nil
}

// count returns how many lines contain sub.
func (l *eventLogger) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.countLocked(sub)
}

func (l *eventLogger) countLocked(sub string) int {
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// wait blocks until n lines contain sub, failing after 30s.
func (l *eventLogger) wait(t testing.TB, sub string, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !waitCond(l.cond, 30*time.Second, func() bool { return l.countLocked(sub) >= n }) {
		t.Fatalf("no %d log lines with %q within 30s:\n%s", n, sub, strings.Join(l.lines, "\n"))
	}
}

// String returns every line.
func (l *eventLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
