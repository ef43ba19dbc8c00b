package e2e

// This file is the harness every end-to-end test uses: it runs the real
// nsqd v1.3.0 as a separate process, talks to its HTTP API, and reads
// messages back with go-nsq's Consumer.
//
// go-nsq is used here only to check what reached nsqd; the code under test
// never goes through it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
)

// Bounds for polling nsqd and for reading messages back.
const (
	startTimeout   = 10 * time.Second       // log lines plus /ping answering 200
	stopTimeout    = 30 * time.Second       // SIGTERM until exit (nsqd flushes memory queues to disk)
	waitTimeout    = 10 * time.Second       // waitMessageCount
	consumeTimeout = 30 * time.Second       // consume and consumeTimed
	pollInterval   = 10 * time.Millisecond  // between two polls of nsqd
	outputTail     = 32 << 10               // bytes of nsqd output logged when a test fails
	httpTimeout    = 5 * time.Second        // a single HTTP request to nsqd
	pingTimeout    = 500 * time.Millisecond // a single /ping while nsqd starts
)

// nsqdBin is the absolute path of the nsqd binary, set by TestMain.
var nsqdBin string

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
			return "", fmt.Errorf("go build -o %s github.com/nsqio/nsq/apps/nsqd: %v\n%s", bin, err, out)
		}
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v\n%s", bin, err, out)
	}
	if !bytes.Contains(out, []byte("nsqd v1.3.0 ")) {
		fmt.Fprintf(os.Stderr, "e2e: WARNING: these tests expect nsqd v1.3.0, %s is %s", bin, out)
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

	t        testing.TB  // the test that started it; for Stop's errors
	testArgs []string    // the args given to startNSQD
	out      *outBuffer  // stdout and stderr of every run, in order
	shown    atomic.Bool // the output is already in the test log

	mu   sync.Mutex
	proc *process // the current or last process
}

// process is one run of the nsqd binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is drained
	err  error         // cmd.Wait's result; read only after done is closed
}

// startNSQD starts nsqd as a separate process with
//
//	--tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --https-address=127.0.0.1:0
//	--data-path=<t.TempDir()> --log-level=info
//
// followed by args. nsqd parses its flags with Go's flag package, where the
// last occurrence of a flag wins, so args can override any default (repeatable
// flags such as --auth-http-address accumulate instead).
//
// The real ports are read from nsqd's INFO log lines ("TCP: listening on …",
// "HTTP: listening on …"), so the log level must stay debug or info: at warn
// those lines are not printed. startNSQD then waits (at most 10 s) for /ping
// to answer 200. nsqd is killed when the test ends, and if the test failed
// the tail of its output is logged.
func startNSQD(t testing.TB, args ...string) *nsqd {
	t.Helper()
	if lvl, ok := lastFlag(args, "log-level"); ok && !strings.EqualFold(lvl, "info") && !strings.EqualFold(lvl, "debug") {
		t.Fatalf("startNSQD: --log-level=%s hides the INFO lines that tell the harness nsqd's ports; use info or debug", lvl)
	}
	if addr, ok := lastFlag(args, "http-address"); ok && addr == "" {
		t.Fatalf("startNSQD: the harness needs nsqd's HTTP API; --http-address must not be empty")
	}
	n := &nsqd{
		t:        t,
		testArgs: slices.Clone(args),
		out:      &outBuffer{},
	}
	dataDir := t.TempDir()
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() && !n.shown.Load() {
			t.Logf("nsqd output (last %d KiB at most):\n%s", outputTail>>10, n.outputTail(outputTail))
		}
	})
	n.start(t, append(defaultArgs(dataDir), args...))
	return n
}

// defaultArgs are the flags startNSQD passes before the test's own.
func defaultArgs(dataDir string) []string {
	return []string{
		"--tcp-address=127.0.0.1:0",
		"--http-address=127.0.0.1:0",
		"--https-address=127.0.0.1:0",
		"--data-path=" + dataDir,
		"--log-level=info", // at warn the "listening on" lines are not printed
	}
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
	args := append(defaultArgs(n.DataDir), n.testArgs...)
	args = append(args, "--tcp-address="+tcpAddr, "--http-address="+httpAddr)
	fmt.Fprintf(n.out, "=== e2e harness: restarting nsqd ===\n")
	n.start(t, args)
	if n.TCPAddr != tcpAddr || n.HTTPAddr != httpAddr {
		t.Fatalf("Restart: nsqd listens on TCP %s HTTP %s, want TCP %s HTTP %s", n.TCPAddr, n.HTTPAddr, tcpAddr, httpAddr)
	}
}

// start runs the binary with args and waits until it is ready.
func (n *nsqd) start(t testing.TB, args []string) {
	t.Helper()
	n.Args = args
	if dir, ok := lastFlag(args, "data-path"); ok {
		n.DataDir = dir
	}
	from := n.out.Len() // only this run's log lines count

	cmd := exec.Command(nsqdBin, args...)
	cmd.Stdout = n.out // the same writer for both: exec uses one pipe
	cmd.Stderr = n.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", nsqdBin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()

	fail := func(format string, a ...any) {
		t.Helper()
		n.Kill()
		n.shown.Store(true)
		t.Fatalf("nsqd %s: %s\nnsqd output:\n%s", strings.Join(args, " "), fmt.Sprintf(format, a...), n.Output())
	}

	client := &http.Client{Timeout: pingTimeout}
	deadline := time.Now().Add(startTimeout)
	var tcpAddr, httpAddr, lastPing string
	for {
		select {
		case <-p.done:
			fail("exited while starting: %v", p.err)
		default:
		}
		if tcpAddr == "" || httpAddr == "" {
			for _, m := range listenRE.FindAllStringSubmatch(n.out.StringFrom(from), -1) {
				if m[1] == "TCP" {
					tcpAddr = m[2]
				} else {
					httpAddr = m[2]
				}
			}
		}
		if tcpAddr != "" && httpAddr != "" {
			lastPing = ping(client, httpAddr)
			if lastPing == "" {
				break
			}
		}
		if time.Now().After(deadline) {
			fail("not ready after %v (TCP %q, HTTP %q, last /ping: %s)", startTimeout, tcpAddr, httpAddr, lastPing)
		}
		time.Sleep(pollInterval)
	}
	n.TCPAddr, n.HTTPAddr = tcpAddr, httpAddr
}

// listenRE matches the log lines that give nsqd's real addresses, e.g.
// "[nsqd] 2026/11/25 16:21:25.207216 INFO: TCP: listening on 127.0.0.1:42801".
var listenRE = regexp.MustCompile(`INFO: (TCP|HTTP): listening on (\S+)`)

// ping returns "" if GET /ping answers 200, else what went wrong.
func ping(client *http.Client, httpAddr string) string {
	resp, err := client.Get("http://" + httpAddr + "/ping")
	if err != nil {
		return err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("%s %q", resp.Status, body)
	}
	return ""
}

// Stop sends SIGTERM and waits for nsqd to exit; nsqd then flushes its
// in-memory messages to disk. If it has not exited after 30 s it is killed
// and the test is marked failed. Stopping a stopped nsqd does nothing.
func (n *nsqd) Stop() {
	p := n.current()
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	// An error means the process is already gone; p.done covers that.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			n.t.Errorf("nsqd exited with %v after SIGTERM", p.err)
		}
	case <-time.After(stopTimeout):
		n.Kill()
		n.shown.Store(true)
		n.t.Errorf("nsqd did not exit within %v of SIGTERM; killed it\nnsqd output:\n%s", stopTimeout, n.Output())
	}
}

// Kill sends SIGKILL and waits for nsqd to exit: whatever it held only in
// memory is lost. Killing a stopped nsqd does nothing.
func (n *nsqd) Kill() {
	p := n.current()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill() // an error means it has already exited
	<-p.done
}

func (n *nsqd) current() *process {
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

// outBuffer collects a process's output; safe for concurrent use.
type outBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *outBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *outBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *outBuffer) String() string { return b.StringFrom(0) }

// StringFrom returns the output from byte offset off on.
func (b *outBuffer) StringFrom(off int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[off:])
}

// lastFlag returns the value of the last -name/--name flag in args, in any of
// the forms -name=v, --name=v, -name v and --name v.
func lastFlag(args []string, name string) (value string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case strings.HasPrefix(a, name+"="):
			value, ok = a[len(name)+1:], true
		case a == name && i+1 < len(args):
			i++
			value, ok = args[i], true
		}
	}
	return value, ok
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
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	u := "http://" + n.HTTPAddr + "/stats?" + url.Values{
		"format": {"json"}, "topic": {topic}, "include_clients": {"false"}, "include_mem": {"false"},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "no stats: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("stats: %s %s", resp.Status, bytes.TrimSpace(body))
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
	u := "http://" + n.HTTPAddr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s, want %d", method, u, resp.Status, body, want)
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
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatalf("nsq.NewConsumer(%q, %q): %v", topic, channel, err)
	}
	c.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)

	var (
		mu   sync.Mutex
		got  int
		full = make(chan struct{})
	)
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		received := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if got == want {
			m.DisableAutoResponse()
			m.RequeueWithoutBackoff(0)
			return nil
		}
		handle(m, received)
		got++
		if got == want {
			close(full)
		}
		return nil
	}))
	if want == 0 {
		close(full)
	}
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
	if got != want {
		t.Fatalf("consumer for %s/%s got %d messages in %v, want %d (%s)",
			topic, channel, got, timeout, want, n.describe(topic))
	}
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
	if got, _ := lastFlag(n.Args, "data-path"); got != dir {
		t.Errorf("Args after Restart use data path %q, want %q", got, dir)
	}
}
