package e2e

// This file is the harness every end-to-end test uses: it runs the real
// nsqd v1.3.0 as a separate process (through internal/nsqdproc), talks to
// its HTTP API, and reads messages back with go-nsq's Consumer.
//
// go-nsq is used here only to check what reached nsqd; the code under test
// never goes through it.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub/e2e/internal/nsqdproc"
)

// Bounds for polling nsqd and for reading messages back.
const (
	stopTimeout    = 30 * time.Second      // SIGTERM until exit (nsqd flushes memory queues to disk)
	waitTimeout    = 10 * time.Second      // waitMessageCount
	consumeTimeout = 30 * time.Second      // consume and consumeTimed
	pollInterval   = 10 * time.Millisecond // between two polls of nsqd
	outputTail     = 32 << 10              // bytes of nsqd output logged when a test fails
	httpTimeout    = 5 * time.Second       // a single HTTP request to nsqd
)

// nsqdBin is the absolute path of the nsqd binary, set by TestMain.
var nsqdBin string

// httpClient sends the harness's requests to nsqd's HTTP API.
var httpClient = &http.Client{Timeout: httpTimeout}

// TestMain finds the nsqd binary (or builds it) before any test runs.
// $NSQD_BIN wins when set; otherwise bin/nsqd inside the e2e folder is used,
// and built with `go build -o bin/nsqd github.com/nsqio/nsq/apps/nsqd` if it
// is missing. Any failure ends the run: these tests are never skipped.
func TestMain(m *testing.M) {
	bin, err := findNSQD()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot get an nsqd binary: %v\n", err)
		os.Exit(1)
	}
	nsqdBin = bin
	os.Exit(m.Run())
}

// findNSQD returns the absolute path of a working nsqd binary.
func findNSQD() (string, error) {
	bin := os.Getenv("NSQD_BIN")
	fromEnv := bin != ""
	if !fromEnv {
		bin = filepath.Join("bin", "nsqd")
	}
	// go test runs in the package folder, which is the e2e folder.
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		if fromEnv {
			return "", fmt.Errorf("NSQD_BIN=%s: %w", bin, err)
		}
		fmt.Fprintf(os.Stderr, "e2e: %s is missing, building it\n", bin)
		cmd := exec.Command("go", "build", "-o", bin, "github.com/nsqio/nsq/apps/nsqd")
		cmd.Dir = filepath.Dir(filepath.Dir(bin))
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build -o %s github.com/nsqio/nsq/apps/nsqd: %w\n%s", bin, err, out)
		}
	}
	version, want, err := nsqdproc.Version(bin)
	if err != nil {
		return "", err
	}
	if !want {
		fmt.Fprintf(os.Stderr, "e2e: WARNING: these tests expect %s, %s is %s\n", nsqdproc.WantVersion, bin, version)
	}
	return bin, nil
}

// nsqd is one nsqd process (and its restarts) owned by one test.
//
// Its methods that take a testing.TB must be called from the test's own
// goroutine. Stop, Kill and Output may be called from anywhere.
type nsqd struct {
	TCPAddr  string   // host:port of the TCP protocol, e.g. 127.0.0.1:43997
	HTTPAddr string   // host:port of the HTTP API
	DataDir  string   // the --data-path in effect; kept across restarts
	Args     []string // full argument list of the latest start

	t        testing.TB       // the test that started it; for Stop's errors
	testArgs []string         // the args given to startNSQD
	out      *nsqdproc.Buffer // stdout and stderr of every run, in order
	shown    atomic.Bool      // the output is already in the test log

	mu   sync.Mutex
	proc *nsqdproc.Process // the current or last run
}

// startNSQD starts nsqd as a separate process with nsqdproc's defaults
//
//	--tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --https-address=127.0.0.1:0
//	--data-path=<t.TempDir()> --log-level=info
//
// followed by args, which can override any of them (the last occurrence of
// a flag wins), except that the log level must stay debug or info and the
// HTTP API on: nsqdproc reads the ports from nsqd's INFO lines and waits (at
// most 10 s) for /ping to answer 200. nsqd is killed when the test ends,
// and if the test failed the tail of its output is logged.
func startNSQD(t testing.TB, args ...string) *nsqd {
	t.Helper()
	n := &nsqd{
		t:        t,
		testArgs: slices.Clone(args),
		out:      &nsqdproc.Buffer{},
	}
	dataDir := t.TempDir()
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() && !n.shown.Load() {
			t.Logf("nsqd output (last %d KiB at most):\n%s", outputTail>>10, n.outputTail(outputTail))
		}
	})
	n.start(t, dataDir, args)
	return n
}

// Restart starts nsqd again with the same arguments, the same data directory
// and the same TCP and HTTP ports (passed explicitly, last, so they win).
// If nsqd is still running it is stopped first with SIGTERM.
//
// Another process may take one of the ports while nsqd is down; nsqd then
// fails to start and Restart fails the test with nsqd's output.
func (n *nsqd) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	tcpAddr, httpAddr := n.TCPAddr, n.HTTPAddr
	args := append(slices.Clone(n.testArgs), "--tcp-address="+tcpAddr, "--http-address="+httpAddr)
	fmt.Fprintf(n.out, "=== e2e harness: restarting nsqd ===\n")
	n.start(t, n.DataDir, args)
	if n.TCPAddr != tcpAddr || n.HTTPAddr != httpAddr {
		t.Fatalf("Restart: nsqd listens on TCP %s HTTP %s, want TCP %s HTTP %s", n.TCPAddr, n.HTTPAddr, tcpAddr, httpAddr)
	}
}

// RestartWith is Restart with args added after the test's own, so that they
// override them (the last occurrence of a flag wins) in this run and every
// later Restart.
func (n *nsqd) RestartWith(t testing.TB, args ...string) {
	t.Helper()
	n.testArgs = append(n.testArgs, args...)
	n.Restart(t)
}

// Freeze stops nsqd with SIGSTOP: its sockets stay open and the kernel goes
// on accepting connections and bytes for it, but it answers nothing, not
// even heartbeats. It returns thaw, which resumes it with SIGCONT and also
// runs when the test ends if it has not been called by then. While nsqd is
// frozen its HTTP API does not answer either: do not ask it for stats.
func (n *nsqd) Freeze(t testing.TB) (thaw func()) {
	t.Helper()
	p := n.current()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	thaw = func() {
		once.Do(func() {
			if err := p.Signal(syscall.SIGCONT); err != nil {
				t.Errorf("thawing nsqd: %v", err)
			}
		})
	}
	t.Cleanup(thaw)
	return thaw
}

// start runs the binary and waits until it is ready.
func (n *nsqd) start(t testing.TB, dataDir string, args []string) {
	t.Helper()
	p, err := nsqdproc.Start(nsqdproc.Options{
		Bin: nsqdBin, DataDir: dataDir, Args: args, Output: n.out,
	})
	if err != nil {
		n.shown.Store(true)
		t.Fatalf("%v\nnsqd output:\n%s", err, n.Output())
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	n.TCPAddr, n.HTTPAddr, n.Args = p.TCPAddr, p.HTTPAddr, p.Args
	n.DataDir, _ = nsqdproc.LastFlag(p.Args, "data-path")
}

// Stop sends SIGTERM and waits for nsqd to exit; nsqd then flushes its
// in-memory messages to disk. If it has not exited after 30 s it is killed
// and the test is marked failed. Stopping a stopped nsqd does nothing.
func (n *nsqd) Stop() {
	p := n.current()
	if p == nil || p.Exited() {
		return
	}
	err := p.Stop(stopTimeout)
	switch {
	case errors.Is(err, nsqdproc.ErrKilled):
		n.shown.Store(true)
		n.t.Errorf("%v\nnsqd output:\n%s", err, n.Output())
	case err != nil:
		n.t.Errorf("%v", err)
	}
}

// Kill sends SIGKILL and waits for nsqd to exit: whatever it held only in
// memory is lost. Killing a stopped nsqd does nothing.
func (n *nsqd) Kill() {
	if p := n.current(); p != nil {
		p.Kill()
	}
}

func (n *nsqd) current() *nsqdproc.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Output returns everything nsqd wrote to stdout and stderr so far, over all
// its runs.
func (n *nsqd) Output() string { return n.out.String() }

func (n *nsqd) outputTail(limit int) string {
	s := n.out.String()
	if len(s) > limit {
		s = "…" + s[len(s)-limit:]
	}
	return s
}

// ---------------------------------------------------------------------------
// HTTP API

// topicStats is one topic in nsqd's /stats?format=json.
type topicStats struct {
	TopicName    string         `json:"topic_name"`
	Depth        int64          `json:"depth"`         // held now, memory + disk; 0 once channels exist
	BackendDepth int64          `json:"backend_depth"` // the disk part of Depth
	MessageCount int64          `json:"message_count"` // cumulative since nsqd started (not persisted)
	MessageBytes int64          `json:"message_bytes"`
	Paused       bool           `json:"paused"`
	Channels     []channelStats `json:"channels"`
}

// channelStats is one channel of a topicStats.
type channelStats struct {
	ChannelName   string `json:"channel_name"`
	Depth         int64  `json:"depth"` // ready messages, memory + disk; excludes deferred and in flight
	BackendDepth  int64  `json:"backend_depth"`
	InFlightCount int64  `json:"in_flight_count"`
	DeferredCount int64  `json:"deferred_count"`
	MessageCount  int64  `json:"message_count"`
	RequeueCount  int64  `json:"requeue_count"`
	TimeoutCount  int64  `json:"timeout_count"`
	ClientCount   int64  `json:"client_count"`
	Paused        bool   `json:"paused"`
}

// producerStats is one entry of "producers" in /stats?format=json: a TCP
// client that has published at least once (one that only identified is not
// listed).
type producerStats struct {
	ClientID        string     `json:"client_id"`
	Hostname        string     `json:"hostname"`
	Version         string     `json:"version"` // protocol version, "V2"
	RemoteAddress   string     `json:"remote_address"`
	UserAgent       string     `json:"user_agent"`
	ConnectTS       int64      `json:"connect_ts"` // Unix seconds
	TLS             bool       `json:"tls"`
	TLSVersion      string     `json:"tls_version"` // e.g. "TLS1.3"; empty without TLS
	TLSCipherSuite  string     `json:"tls_cipher_suite"`
	Snappy          bool       `json:"snappy"`
	Deflate         bool       `json:"deflate"`
	Authed          bool       `json:"authed"`
	AuthIdentity    string     `json:"auth_identity"`
	AuthIdentityURL string     `json:"auth_identity_url"`
	PubCounts       []pubCount `json:"pub_counts"`
}

// pubCount is how many messages a producer published to one topic.
type pubCount struct {
	Topic string `json:"topic"`
	Count int64  `json:"count"`
}

// statsResponse is the body of /stats?format=json.
type statsResponse struct {
	Version   string          `json:"version"`
	Health    string          `json:"health"`
	StartTime int64           `json:"start_time"`
	Topics    []topicStats    `json:"topics"`
	Producers []producerStats `json:"producers"`
}

// Stats returns the stats of one topic. A topic nsqd does not have gives the
// zero topicStats (TopicName == "").
func (n *nsqd) Stats(t testing.TB, topic string) topicStats {
	t.Helper()
	s := n.stats(t, url.Values{"topic": {topic}, "include_clients": {"false"}})
	for _, ts := range s.Topics {
		if ts.TopicName == topic {
			return ts
		}
	}
	return topicStats{}
}

// Producers returns every connected client that has published.
//
// nsqd v1.3.0 lists at most ONE pub_counts entry per producer here (an
// arbitrary one, when it published to several topics); use TopicProducers
// to get the count for a given topic.
func (n *nsqd) Producers(t testing.TB) []producerStats {
	t.Helper()
	return n.stats(t, nil).Producers
}

// TopicProducers is Producers with pub_counts restricted to topic. nsqd
// returns no producers at all when the topic does not exist.
func (n *nsqd) TopicProducers(t testing.TB, topic string) []producerStats {
	t.Helper()
	return n.stats(t, url.Values{"topic": {topic}}).Producers
}

func (n *nsqd) stats(t testing.TB, q url.Values) statsResponse {
	t.Helper()
	if q == nil {
		q = url.Values{}
	}
	q.Set("format", "json")
	q.Set("include_mem", "false")
	body := n.httpDo(t, http.MethodGet, "/stats", q, http.StatusOK)
	var s statsResponse
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("decoding /stats: %v\n%s", err, body)
	}
	return s
}

// describe returns topic's stats for a failure message, or why it cannot.
func (n *nsqd) describe(topic string) string {
	q := url.Values{"format": {"json"}, "topic": {topic}, "include_clients": {"false"}, "include_mem": {"false"}}
	body, err := nsqdproc.Do(httpClient, http.MethodGet, n.HTTPAddr, "/stats", q, http.StatusOK)
	if err != nil {
		return "no stats: " + err.Error()
	}
	return fmt.Sprintf("stats: %s", bytes.TrimSpace(body))
}

// CreateTopic creates topic through POST /topic/create.
func (n *nsqd) CreateTopic(t testing.TB, topic string) {
	t.Helper()
	n.httpDo(t, http.MethodPost, "/topic/create", url.Values{"topic": {topic}}, http.StatusOK)
}

// CreateChannel creates topic (if needed, through POST /topic/create: nsqd's
// /channel/create answers 404 TOPIC_NOT_FOUND for a missing topic) and then
// its channel through POST /channel/create. Messages published after this
// reach the channel.
func (n *nsqd) CreateChannel(t testing.TB, topic, channel string) {
	t.Helper()
	n.CreateTopic(t, topic)
	n.httpDo(t, http.MethodPost, "/channel/create", url.Values{"topic": {topic}, "channel": {channel}}, http.StatusOK)
}

// CreateChannelAndRestart creates the channels of topic, then restarts nsqd
// (SIGTERM, same ports and data) so that its queue scanner knows them at once.
//
// Use it before timing deferred messages: nsqd v1.3.0 refreshes the list of
// channels whose deferred and in-flight queues it scans only every 5 s (not
// configurable), so a deferred message on a channel created since the last
// refresh can arrive up to 5 s late. Channels that exist at startup are
// scanned from the start (every 100 ms). The restart drops every connection
// and resets message_count, which is not persisted.
func (n *nsqd) CreateChannelAndRestart(t testing.TB, topic string, channels ...string) {
	t.Helper()
	for _, ch := range channels {
		n.CreateChannel(t, topic, ch)
	}
	n.Restart(t)
}

// EmptyTopic drops the messages the topic itself holds (not its channels')
// through POST /topic/empty.
func (n *nsqd) EmptyTopic(t testing.TB, topic string) {
	t.Helper()
	n.httpDo(t, http.MethodPost, "/topic/empty", url.Values{"topic": {topic}}, http.StatusOK)
}

// DeleteTopic deletes topic, its channels and their messages through
// POST /topic/delete.
func (n *nsqd) DeleteTopic(t testing.TB, topic string) {
	t.Helper()
	n.httpDo(t, http.MethodPost, "/topic/delete", url.Values{"topic": {topic}}, http.StatusOK)
}

// httpDo sends one request to nsqd's HTTP API and fails the test unless the
// status is want. It returns the body.
func (n *nsqd) httpDo(t testing.TB, method, path string, q url.Values, want int) []byte {
	t.Helper()
	body, err := nsqdproc.Do(httpClient, method, n.HTTPAddr, path, q, want)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// waitMessageCount waits (at most 10 s) until topic's message_count, the
// cumulative count of messages nsqd accepted for it, equals want. It fails at
// once if the count goes past want.
func waitMessageCount(t testing.TB, n *nsqd, topic string, want int64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		s := n.Stats(t, topic)
		switch {
		case s.MessageCount == want:
			return
		case s.MessageCount > want:
			t.Fatalf("topic %q: message_count is %d, want %d (stats %+v)", topic, s.MessageCount, want, s)
		case time.Now().After(deadline):
			t.Fatalf("topic %q: message_count is %d after %v, want %d (stats %+v)", topic, s.MessageCount, waitTimeout, want, s)
		}
		time.Sleep(pollInterval)
	}
}

// ---------------------------------------------------------------------------
// Reading messages back

// timedMessage is a message read back by consumeTimed.
type timedMessage struct {
	ID        nsq.MessageID
	Body      []byte    // a copy
	Timestamp time.Time // set by nsqd when it accepted the message
	Received  time.Time // when the consumer got it
	Attempts  uint16
}

// consume reads exactly want messages from topic/channel, connecting to
// n.TCPAddr directly, and returns their bodies in arrival order (nsqd does
// not promise publish order). The channel is created if needed; a channel
// created after a publish does not get the messages published before it,
// unless the topic had no channel at all then.
//
// Messages that arrive after the first want are requeued, not finished, so
// they stay visible in the channel's stats. It fails after 30 s with how
// many messages it got.
func consume(t testing.TB, n *nsqd, topic, channel string, want int) [][]byte {
	t.Helper()
	msgs := consumeTimed(t, n, topic, channel, want)
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		bodies[i] = m.Body
	}
	return bodies
}

// consumeTimed is consume, also recording when each message was received
// (for deferred publishing).
func consumeTimed(t testing.TB, n *nsqd, topic, channel string, want int) []timedMessage {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 1000
	// Unbuffered: nsqd writes each message at once instead of holding it up
	// to 250 ms in the client's output buffer, so Received is accurate.
	cfg.OutputBufferSize = -1
	got := make([]timedMessage, 0, want)
	consumeEach(t, n, topic, channel, want, cfg, consumeTimeout, func(m *nsq.Message, received time.Time) {
		got = append(got, timedMessage{
			ID:        m.ID,
			Body:      bytes.Clone(m.Body),
			Timestamp: time.Unix(0, m.Timestamp),
			Received:  received,
			Attempts:  m.Attempts,
		})
	})
	return got
}

// consumeEach reads exactly want messages from topic/channel with go-nsq's
// Consumer (configured by cfg) connected to n.TCPAddr, and calls handle for
// each of them, one at a time. Messages beyond the first want are requeued,
// not finished, so they stay visible in the channel's stats. It fails if
// fewer than want arrive within timeout.
func consumeEach(t testing.TB, n *nsqd, topic, channel string, want int, cfg *nsq.Config, timeout time.Duration, handle func(m *nsq.Message, received time.Time)) {
	t.Helper()
	got := 0
	count := func(m *nsq.Message, received time.Time) {
		handle(m, received)
		got++
	}
	if !consumeUntil(t, n, topic, channel, cfg, timeout, count, func() bool { return got == want }) {
		t.Fatalf("consumer for %s/%s got %d messages in %v, want %d (%s)",
			topic, channel, got, timeout, want, n.describe(topic))
	}
}

// consumeUntil reads topic/channel with go-nsq's Consumer (configured by
// cfg) connected to n.TCPAddr and calls handle for each message, one at a
// time, until complete reports true or timeout passes; it reports whether
// complete did. complete is called after each handle, and once before the
// first message. Messages that arrive once complete holds are requeued, not
// finished, so they stay visible in the channel's stats. handle and complete
// are never called after consumeUntil returns, so the caller may then read
// what they wrote.
func consumeUntil(t testing.TB, n *nsqd, topic, channel string, cfg *nsq.Config, timeout time.Duration,
	handle func(m *nsq.Message, received time.Time), complete func() bool) bool {
	t.Helper()
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatalf("nsq.NewConsumer(%q, %q): %v", topic, channel, err)
	}
	c.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)

	var (
		mu       sync.Mutex
		finished = complete()
		closed   bool // consumeUntil is returning: handle no more
		full     = make(chan struct{})
	)
	if finished {
		close(full)
	}
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		received := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if finished || closed {
			m.DisableAutoResponse()
			m.RequeueWithoutBackoff(0)
			return nil
		}
		handle(m, received)
		if complete() {
			finished = true
			close(full)
		}
		return nil
	}))
	if err := c.ConnectToNSQD(n.TCPAddr); err != nil {
		c.Stop()
		t.Fatalf("consumer for %s/%s: connecting to %s: %v", topic, channel, n.TCPAddr, err)
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-full:
	case <-timer.C:
	}
	c.Stop()
	select {
	case <-c.StopChan:
	case <-time.After(10 * time.Second):
		t.Errorf("consumer for %s/%s did not stop within 10 s", topic, channel)
	}

	mu.Lock()
	defer mu.Unlock()
	closed = true
	return finished
}

// waitCond waits on c, whose lock the caller holds, until done (called with
// the lock held) reports true, for at most timeout; it reports whether done
// did. Whoever changes what done reads must broadcast on c.
func waitCond(c *sync.Cond, timeout time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	// The timer fires at the deadline or later, and takes the lock so that
	// its broadcast cannot fall between a check of the deadline and Wait.
	timer := time.AfterFunc(timeout, func() {
		c.L.Lock()
		defer c.L.Unlock()
		c.Broadcast()
	})
	defer timer.Stop()
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		c.Wait()
	}
	return true
}

// ---------------------------------------------------------------------------
// Names

var invalidNameChars = regexp.MustCompile(`[^.a-zA-Z0-9_-]+`)

// topicName returns a topic name unique to this test run: t.Name() with
// anything outside [.a-zA-Z0-9_-] replaced by "_", cut so that the whole name
// is at most 54 characters, then "-" and 6 random hex digits. 54 leaves room
// for a "#ephemeral" suffix within nsqd's 64-character limit.
func topicName(t testing.TB) string {
	const maxLen, suffixLen = 54, 7
	name := invalidNameChars.ReplaceAllString(t.Name(), "_")
	if len(name) > maxLen-suffixLen {
		name = name[:maxLen-suffixLen]
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("topicName: %v", err)
	}
	return name + "-" + hex.EncodeToString(b[:])
}

// ---------------------------------------------------------------------------
// Self-test

// TestHarness checks the harness itself against the real nsqd, using go-nsq's
// Producer (only here) to publish.
func TestHarness(t *testing.T) {
	n := startNSQD(t)
	if n.TCPAddr == "" || n.HTTPAddr == "" || n.TCPAddr == n.HTTPAddr {
		t.Fatalf("addresses: TCP %q HTTP %q", n.TCPAddr, n.HTTPAddr)
	}

	cfg := nsq.NewConfig()
	p, err := nsq.NewProducer(n.TCPAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)
	defer p.Stop()

	publish := func(topic string, bodies ...string) {
		t.Helper()
		for _, b := range bodies {
			if err := p.Publish(topic, []byte(b)); err != nil {
				t.Fatalf("publish %q to %s: %v", b, topic, err)
			}
		}
	}
	sortedStrings := func(bodies [][]byte) []string {
		s := make([]string, len(bodies))
		for i, b := range bodies {
			s[i] = string(b)
		}
		slices.Sort(s)
		return s
	}

	topic := topicName(t)
	if len(topic) > 54 || invalidNameChars.MatchString(topic) || topicName(t) == topic {
		t.Fatalf("topicName gave %q", topic)
	}
	if s := n.Stats(t, topic); s.TopicName != "" {
		t.Fatalf("Stats of a missing topic: %+v", s)
	}

	t.Run("publish and consume", func(t *testing.T) {
		publish(topic, "a", "b", "c")
		waitMessageCount(t, n, topic, 3)
		if s := n.Stats(t, topic); s.TopicName != topic || s.Depth != 3 || len(s.Channels) != 0 {
			t.Errorf("stats before consuming: %+v", s)
		}
		got := sortedStrings(consume(t, n, topic, "ch", 3))
		if !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("consumed %q, want a b c", got)
		}
	})

	t.Run("producers", func(t *testing.T) {
		var found bool
		for _, ps := range n.Producers(t) {
			if ps.UserAgent == cfg.UserAgent {
				found = true
			}
		}
		if !found {
			t.Errorf("no producer with user agent %q in %+v", cfg.UserAgent, n.Producers(t))
		}
		ps := n.TopicProducers(t, topic)
		if len(ps) != 1 || len(ps[0].PubCounts) != 1 || ps[0].PubCounts[0] != (pubCount{topic, 3}) {
			t.Errorf("TopicProducers: %+v", ps)
		}
	})

	t.Run("HTTP helpers", func(t *testing.T) {
		other := topicName(t)
		n.CreateTopic(t, other)
		n.CreateChannel(t, other, "ch")
		if s := n.Stats(t, other); s.TopicName != other || len(s.Channels) != 1 || s.Channels[0].ChannelName != "ch" {
			t.Errorf("after CreateChannel: %+v", s)
		}
		n.EmptyTopic(t, other)
		n.DeleteTopic(t, other)
		if s := n.Stats(t, other); s.TopicName != "" {
			t.Errorf("after DeleteTopic: %+v", s)
		}
	})

	t.Run("restart keeps ports and messages", func(t *testing.T) {
		noChannel := topicName(t)
		publish(topic, "d", "e", "f")     // into the channel "ch"
		publish(noChannel, "x", "y", "z") // held by the topic
		waitMessageCount(t, n, topic, 6)
		waitMessageCount(t, n, noChannel, 3)
		p.Stop()

		tcpAddr, httpAddr := n.TCPAddr, n.HTTPAddr
		n.Stop()
		n.Restart(t)
		if n.TCPAddr != tcpAddr || n.HTTPAddr != httpAddr {
			t.Fatalf("after Restart: TCP %s HTTP %s, want %s %s", n.TCPAddr, n.HTTPAddr, tcpAddr, httpAddr)
		}
		s := n.Stats(t, topic)
		if len(s.Channels) != 1 || s.Channels[0].Depth != 3 {
			t.Errorf("stats after restart: %+v", s)
		}
		if got := sortedStrings(consume(t, n, topic, "ch", 3)); !slices.Equal(got, []string{"d", "e", "f"}) {
			t.Errorf("consumed %q after restart, want d e f", got)
		}
		if got := sortedStrings(consume(t, n, noChannel, "ch", 3)); !slices.Equal(got, []string{"x", "y", "z"}) {
			t.Errorf("consumed %q after restart, want x y z", got)
		}
	})

	t.Run("deferred", func(t *testing.T) {
		deferred := topicName(t)
		n.CreateChannelAndRestart(t, deferred, "ch")
		dp, err := nsq.NewProducer(n.TCPAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		dp.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)
		defer dp.Stop()
		const delay = 200 * time.Millisecond
		start := time.Now()
		if err := dp.DeferredPublish(deferred, delay, []byte("later")); err != nil {
			t.Fatal(err)
		}
		waitMessageCount(t, n, deferred, 1)
		if s := n.Stats(t, deferred); len(s.Channels) != 1 || s.Channels[0].DeferredCount != 1 || s.Channels[0].Depth != 0 {
			t.Errorf("stats of a deferred message: %+v", s)
		}
		m := consumeTimed(t, n, deferred, "ch", 1)[0]
		// Generous upper bound: without the restart it could be 5 s.
		if d := m.Received.Sub(start); d < delay || d > 3*time.Second {
			t.Errorf("deferred %v message received after %v", delay, d)
		}
		if string(m.Body) != "later" || m.Attempts != 1 {
			t.Errorf("got %+v", m)
		}
	})

	t.Run("kill and restart", func(t *testing.T) {
		n.Kill()
		n.Restart(t)
		n.Kill()
		n.Kill() // a no-op
		n.Stop() // a no-op
		if !strings.Contains(n.Output(), "=== e2e harness: restarting nsqd ===") {
			t.Errorf("Output lacks the restart marker")
		}
	})
}

// TestHarnessArgs checks that startNSQD's args override its defaults.
func TestHarnessArgs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mydata")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := startNSQD(t, "--data-path", dir, "-log-level=debug",
		"--max-heartbeat-interval=5s", "--max-heartbeat-interval=7s")
	if n.DataDir != dir {
		t.Errorf("DataDir %q, want %q", n.DataDir, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "nsqd.dat")); err != nil {
		t.Errorf("nsqd did not use the data path: %v", err)
	}
	var info struct {
		MaxHeartbeatInterval time.Duration `json:"max_heartbeat_interval"` // nanoseconds
	}
	body := n.httpDo(t, http.MethodGet, "/info", nil, http.StatusOK)
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("decoding /info: %v\n%s", err, body)
	}
	if info.MaxHeartbeatInterval != 7*time.Second {
		t.Errorf("max_heartbeat_interval %v, want the last flag's 7s", info.MaxHeartbeatInterval)
	}
	n.Stop()
	n.Restart(t)
	if n.DataDir != dir {
		t.Errorf("DataDir after Restart %q, want %q", n.DataDir, dir)
	}
	if got, _ := nsqdproc.LastFlag(n.Args, "data-path"); got != dir {
		t.Errorf("Args after Restart use data path %q, want %q", got, dir)
	}
}
