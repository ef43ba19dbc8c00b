package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub"
)

// fakeNSQD is an in-process nsqd speaking just enough of the protocol for a
// producer: the magic, IDENTIFY, PUB, MPUB and NOP. It records every message
// body before acknowledging the command that carried it, so once the
// command under test has its answers, the fake has the messages.
type fakeNSQD struct {
	t  *testing.T
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	msgs    []fakeMsg
	conns   []net.Conn
	errs    []error
	closing bool
	reject  string // a body answered with an E_BAD_MESSAGE error frame
	cmds    []int  // messages per accepted PUB or MPUB, in order
}

// fakeMsg is one message the fake received.
type fakeMsg struct {
	topic string
	body  string
}

// newFakeNSQD starts a fake nsqd on a loopback port. It is shut down, and
// its protocol complaints reported, when the test ends.
func newFakeNSQD(t *testing.T) *fakeNSQD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNSQD{t: t, ln: ln}
	f.cond = sync.NewCond(&f.mu)
	f.wg.Add(1)
	go f.acceptLoop()
	t.Cleanup(f.close)
	return f
}

// addr is the fake's TCP address.
func (f *fakeNSQD) addr() string { return f.ln.Addr().String() }

// close stops the fake, waits for its goroutines and reports what went wrong.
func (f *fakeNSQD) close() {
	f.mu.Lock()
	f.closing = true
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.ln.Close()
	f.wg.Wait()
	for _, err := range f.errs {
		f.t.Errorf("fake nsqd: %v", err)
	}
}

// acceptLoop serves every connection in its own goroutine.
func (f *fakeNSQD) acceptLoop() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closing {
			f.mu.Unlock()
			c.Close()
			return
		}
		f.conns = append(f.conns, c)
		f.wg.Add(1)
		f.mu.Unlock()
		go f.serve(c)
	}
}

// complain records a protocol violation by the client.
func (f *fakeNSQD) complain(format string, a ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Errorf(format, a...))
	f.mu.Unlock()
}

// record stores a message and wakes waitMessages.
func (f *fakeNSQD) record(topic string, body []byte) {
	f.mu.Lock()
	f.msgs = append(f.msgs, fakeMsg{topic, string(body)})
	f.cond.Broadcast()
	f.mu.Unlock()
}

// bodies returns the bodies received so far, checking they were all
// published to topic.
func (f *fakeNSQD) bodies(topic string) []string {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.msgs {
		if m.topic != topic {
			f.t.Errorf("message %q published to topic %q, want %q", m.body, m.topic, topic)
		}
		out = append(out, m.body)
	}
	return out
}

// commands returns how many messages each accepted PUB or MPUB carried.
func (f *fakeNSQD) commands() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

// waitMessages blocks until the fake has received at least n messages.
func (f *fakeNSQD) waitMessages(n int) {
	f.mu.Lock()
	for len(f.msgs) < n {
		f.cond.Wait()
	}
	f.mu.Unlock()
}

// frame encodes a server frame: [size = 4+len(data)][type][data].
func frame(typ int32, data string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(data)))
	b = binary.BigEndian.AppendUint32(b, uint32(typ))
	return append(b, data...)
}

// okFrame is nsqd's OK response, byte for byte.
var okFrame = []byte{0, 0, 0, 6, 0, 0, 0, 0, 'O', 'K'}

// serve runs one client connection until it closes.
func (f *fakeNSQD) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	readN := func(n int) ([]byte, bool) {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err == nil
	}
	readSize := func() (int, bool) {
		b, ok := readN(4)
		if !ok {
			return 0, false
		}
		return int(binary.BigEndian.Uint32(b)), true
	}
	magic, ok := readN(4)
	if !ok {
		return
	}
	if string(magic) != "  V2" {
		f.complain("magic %q", magic)
		return
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	if line != "IDENTIFY\n" {
		f.complain("first command %q, want IDENTIFY", line)
		return
	}
	n, ok := readSize()
	if !ok {
		return
	}
	body, ok := readN(n)
	if !ok {
		return
	}
	if !json.Valid(body) {
		f.complain("IDENTIFY body %q is not JSON", body)
		return
	}
	if _, err := c.Write(frame(0, `{"version":"1.3.0"}`)); err != nil {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		name, topic, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		var bodies [][]byte
		switch name {
		case "NOP":
			continue
		case "PUB":
			n, ok := readSize()
			if !ok {
				return
			}
			b, ok := readN(n)
			if !ok {
				return
			}
			bodies = append(bodies, b)
		case "MPUB":
			size, ok1 := readSize()
			count, ok2 := readSize()
			if !ok1 || !ok2 {
				return
			}
			total := 4
			for range count {
				n, ok := readSize()
				if !ok {
					return
				}
				b, ok := readN(n)
				if !ok {
					return
				}
				bodies = append(bodies, b)
				total += 4 + n
			}
			if total != size {
				f.complain("MPUB body size %d, want %d", size, total)
				return
			}
		default:
			f.complain("unexpected command %q", line)
			return
		}
		f.mu.Lock()
		reject := f.reject
		f.mu.Unlock()
		if reject != "" && slices.ContainsFunc(bodies, func(b []byte) bool { return string(b) == reject }) {
			// As nsqd does: an error frame, then the connection closes.
			c.Write(frame(1, "E_BAD_MESSAGE "+name+" rejected by the fake"))
			return
		}
		f.mu.Lock()
		f.cmds = append(f.cmds, len(bodies))
		f.mu.Unlock()
		for _, b := range bodies {
			f.record(topic, b)
		}
		if _, err := c.Write(okFrame); err != nil {
			return
		}
	}
}

// result is what one run of the command produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// slackOpts come first on every test command line: the library's 1s dial
// and write timeouts are too tight for a loaded machine running -race.
var slackOpts = []string{
	"--producer-opt", "dial_timeout,30s",
	"--producer-opt", "write_timeout,30s",
	"--producer-opt", "stop_timeout,30s",
}

// runCmd runs the command with slackOpts, args and stdin, failing the test
// if it does not return within a generous bound (a hang is the bug being
// checked).
func runCmd(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	args = append(slices.Clone(slackOpts), args...)
	go func() { done <- run(ctx, args, stdin, &stdout, &stderr) }()
	select {
	case code := <-done:
		res := result{code, stdout.String(), stderr.String()}
		t.Logf("exit %d, stderr:\n%s", res.code, res.stderr)
		return res
	case <-time.After(120 * time.Second):
		t.Fatalf("run %q did not return within 120s", args)
		return result{}
	}
}

// publish runs the command against fake nsqds with input on stdin.
func publish(t *testing.T, input string, args ...string) result {
	t.Helper()
	return runCmd(t, context.Background(), strings.NewReader(input), args...)
}

// wantBodies checks the messages a fake received.
func wantBodies(t *testing.T, f *fakeNSQD, topic string, want ...string) {
	t.Helper()
	got := f.bodies(topic)
	if !slices.Equal(got, want) {
		t.Errorf("nsqd %s received %d messages %.200q, want %d %.200q", f.addr(), len(got), got, len(want), want)
	}
}

// wantSuccess checks a zero exit status and the summary line.
func wantSuccess(t *testing.T, res result, summary string) {
	t.Helper()
	if res.code != 0 {
		t.Errorf("exit status %d, want 0", res.code)
	}
	if got := strings.TrimSpace(res.stderr); got != summary {
		t.Errorf("stderr %q, want just %q", got, summary)
	}
}

// TestNewlineDelimitedStdin checks the default case: newline-delimited
// records from stdin.
func TestNewlineDelimitedStdin(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "alpha\nbeta\ngamma\n", "--topic", "events", "--nsqd-tcp-address", f.addr())
	wantSuccess(t, res, "nsqpub: published 3 records to 1 nsqd")
	wantBodies(t, f, "events", "alpha", "beta", "gamma")
}

// TestSingleDashFlags checks that flags work with one dash and with
// name=value.
func TestSingleDashFlags(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "x\n", "-topic=t1", "-nsqd-tcp-address="+f.addr())
	wantSuccess(t, res, "nsqpub: published 1 record to 1 nsqd")
	wantBodies(t, f, "t1", "x")
}

// TestCustomDelimiter checks --delimiter with a plain byte: newlines are then
// data.
func TestCustomDelimiter(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "a,b,,c\nd,", "--topic", "t", "--nsqd-tcp-address", f.addr(), "--delimiter", ",")
	wantSuccess(t, res, "nsqpub: published 3 records to 1 nsqd")
	wantBodies(t, f, "t", "a", "b", "c\nd")
}

// TestEscapedDelimiter checks --delimiter given as an escape (tab, NUL,
// \x1e).
func TestEscapedDelimiter(t *testing.T) {
	for _, tc := range []struct{ flag, input string }{
		{`\t`, "p\tq\t"},
		{`\0`, "p\x00q"},
		{`\x1e`, "p\x1eq\x1e\x1e"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			f := newFakeNSQD(t)
			res := publish(t, tc.input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--delimiter", tc.flag)
			wantSuccess(t, res, "nsqpub: published 2 records to 1 nsqd")
			wantBodies(t, f, "t", "p", "q")
		})
	}
}

// TestFinalRecordWithoutDelimiterIsKeptIntact checks the fix of to_nsq's bug,
// which drops the last byte of a final record with no delimiter.
func TestFinalRecordWithoutDelimiterIsKeptIntact(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "one\ntwo\nthree", "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantSuccess(t, res, "nsqpub: published 3 records to 1 nsqd")
	wantBodies(t, f, "t", "one", "two", "three")
}

// TestEmptyRecordsAreSkipped checks that empty records are never published.
func TestEmptyRecordsAreSkipped(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "\n\na\n\n\nb\n\n", "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantSuccess(t, res, "nsqpub: published 2 records to 1 nsqd")
	wantBodies(t, f, "t", "a", "b")
}

// TestEmptyInput checks that no input is a success with nothing published.
func TestEmptyInput(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "", "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantSuccess(t, res, "nsqpub: published 0 records to 1 nsqd")
	wantBodies(t, f, "t")
}

// pattern returns n bytes of a repeating, non-delimiter pattern.
func pattern(n int, seed byte) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i%23))%26
	}
	return string(b)
}

// TestRecordsLongerThanTheReadBuffer checks records longer than, and exactly
// as long as, the 64 KiB read buffer.
func TestRecordsLongerThanTheReadBuffer(t *testing.T) {
	f := newFakeNSQD(t)
	big := pattern(200<<10, 0)
	edge := pattern(readBufSize, 1) // exactly fills the buffer
	last := pattern(readBufSize+1, 2)
	input := "small\n" + big + "\n" + edge + "\n" + last // no trailing delimiter
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantSuccess(t, res, "nsqpub: published 4 records to 1 nsqd")
	wantBodies(t, f, "t", "small", big, edge, last)
}

// TestEveryRecordGoesToEveryNSQD checks the fan-out: each nsqd receives every
// record, in order.
func TestEveryRecordGoesToEveryNSQD(t *testing.T) {
	f1, f2 := newFakeNSQD(t), newFakeNSQD(t)
	var want []string
	var input strings.Builder
	for i := range 300 {
		want = append(want, fmt.Sprintf("record-%d", i))
		input.WriteString(want[i] + "\n")
	}
	// A repeated address is one nsqd, as in to_nsq.
	res := publish(t, input.String(), "--topic", "t",
		"--nsqd-tcp-address", f1.addr(), "--nsqd-tcp-address", f2.addr(), "--nsqd-tcp-address", f1.addr())
	wantSuccess(t, res, "nsqpub: published 300 records to 2 nsqd")
	wantBodies(t, f1, "t", want...)
	wantBodies(t, f2, "t", want...)
}

// TestManyRecordsThroughASmallWindow checks that a window smaller than the
// input keeps every record.
func TestManyRecordsThroughASmallWindow(t *testing.T) {
	// max_queued,8 bounds the window to 8 outstanding publishes, so the
	// publisher keeps collecting results while it publishes.
	f := newFakeNSQD(t)
	var want []string
	var input strings.Builder
	for i := range 5000 {
		want = append(want, fmt.Sprint(i))
		input.WriteString(want[i] + "\n")
	}
	res := publish(t, input.String(), "--topic", "t", "--nsqd-tcp-address", f.addr(), "--producer-opt", "max_queued,8")
	wantSuccess(t, res, "nsqpub: published 5000 records to 1 nsqd")
	wantBodies(t, f, "t", want...)
}

// TestBigRecordsThroughTheByteWindow checks the byte bound of the window.
func TestBigRecordsThroughTheByteWindow(t *testing.T) {
	// A 100 KiB byte window holds two 40 KiB records: the publisher must
	// collect results to go on, and a record bigger than the whole window
	// still goes out on its own.
	defer func(old int) { maxWindowBytes = old }(maxWindowBytes)
	maxWindowBytes = 100 << 10
	f := newFakeNSQD(t)
	var want []string
	for i := range 50 {
		want = append(want, pattern(40<<10, byte(i)))
	}
	want = append(want, pattern(300<<10, 7), "tail")
	res := publish(t, strings.Join(want, "\n"), "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantSuccess(t, res, "nsqpub: published 52 records to 1 nsqd")
	wantBodies(t, f, "t", want...)
}

// writeFile creates a file with content in the test's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFileArguments checks that files and "-" (stdin) are read in the order
// given.
func TestFileArguments(t *testing.T) {
	f := newFakeNSQD(t)
	a := writeFile(t, "a.txt", "a1\na2\n")
	b := writeFile(t, "b.txt", "b1\n\nb2") // no trailing newline
	res := publish(t, "s1\ns2\n", "--topic", "t", "--nsqd-tcp-address", f.addr(), a, "-", b)
	wantSuccess(t, res, "nsqpub: published 6 records to 1 nsqd")
	wantBodies(t, f, "t", "a1", "a2", "s1", "s2", "b1", "b2")
}

// TestMissingFileIsReportedAndTheOthersPublished checks that an input that
// cannot be opened is reported, makes the status 1, and does not stop the
// other inputs.
func TestMissingFileIsReportedAndTheOthersPublished(t *testing.T) {
	f := newFakeNSQD(t)
	a := writeFile(t, "a.txt", "a1\n")
	missing := filepath.Join(t.TempDir(), "missing.txt")
	b := writeFile(t, "b.txt", "b1\n")
	res := publish(t, "", "--topic", "t", "--nsqd-tcp-address", f.addr(), a, missing, b)
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	if !strings.Contains(res.stderr, "missing.txt") || !strings.Contains(res.stderr, "no such file") {
		t.Errorf("stderr does not report the missing file:\n%s", res.stderr)
	}
	if !strings.Contains(res.stderr, "nsqpub: published 2 records to 1 nsqd\n") {
		t.Errorf("stderr lacks the summary:\n%s", res.stderr)
	}
	wantBodies(t, f, "t", "a1", "b1")
}

// TestTooBigRecordFailsAndTheRestArePublished checks that records over
// max_msg_size are counted as failed and the others published.
func TestTooBigRecordFailsAndTheRestArePublished(t *testing.T) {
	f := newFakeNSQD(t)
	input := "short\nthis record is too long\nfine\n" + pattern(100<<10, 3) + "\nlast\n"
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--producer-opt", "max_msg_size,10")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	const summary = "nsqpub: published 5 records to 1 nsqd (2 failed: 2 message body larger than MaxMsgSize)\n"
	if !strings.HasSuffix(res.stderr, summary) {
		t.Errorf("stderr does not end with %q:\n%s", summary, res.stderr)
	}
	if !strings.Contains(res.stderr, "stdin record 2 to "+f.addr()) || !strings.Contains(res.stderr, "23 > 10") {
		t.Errorf("stderr does not detail the first failure:\n%s", res.stderr)
	}
	wantBodies(t, f, "t", "short", "fine", "last")
}

// TestServerErrorIsCounted checks that an nsqd error frame counts as a
// failure named by its code.
func TestServerErrorIsCounted(t *testing.T) {
	f := newFakeNSQD(t)
	f.mu.Lock()
	f.reject = "bad"
	f.mu.Unlock()
	res := publish(t, "a\nbad\nc\n", "--topic", "t", "--nsqd-tcp-address", f.addr())
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	if !strings.Contains(res.stderr, "nsqpub: published 3 records to 1 nsqd (") ||
		!strings.Contains(res.stderr, "nsqd E_BAD_MESSAGE") {
		t.Errorf("summary does not name the nsqd error:\n%s", res.stderr)
	}
	for _, b := range f.bodies("t") {
		if b == "bad" {
			t.Errorf("the rejected body was recorded")
		}
	}
}

// TestUnreachableNSQD checks that a refused connection fails every record,
// without hanging.
func TestUnreachableNSQD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := publish(t, "a\nb\n", "--topic", "t", "--nsqd-tcp-address", addr)
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	const summary = "nsqpub: published 2 records to 1 nsqd (2 failed: 2 not connected)\n"
	if !strings.HasSuffix(res.stderr, summary) {
		t.Errorf("stderr does not end with %q:\n%s", summary, res.stderr)
	}
}

// TestOneUnreachableNSQDOfTwo checks that a dead nsqd does not keep the
// records from a live one.
func TestOneUnreachableNSQDOfTwo(t *testing.T) {
	f := newFakeNSQD(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	res := publish(t, "a\nb\nc\n", "--topic", "t", "--nsqd-tcp-address", dead, "--nsqd-tcp-address", f.addr())
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	if !strings.HasSuffix(res.stderr, "nsqpub: published 3 records to 2 nsqd (3 failed: 3 not connected)\n") {
		t.Errorf("unexpected summary:\n%s", res.stderr)
	}
	wantBodies(t, f, "t", "a", "b", "c")
}

// TestRateLimitPaces checks that --rate paces the records (a lower bound on
// the duration only).
func TestRateLimitPaces(t *testing.T) {
	f := newFakeNSQD(t)
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprint("m", i))
	}
	start := time.Now()
	res := publish(t, strings.Join(want, "\n"), "--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", "50")
	elapsed := time.Since(start)
	wantSuccess(t, res, "nsqpub: published 20 records to 1 nsqd")
	wantBodies(t, f, "t", want...)
	// Record 19 is due 19/50 s after record 0: a lower bound only.
	if elapsed < 380*time.Millisecond {
		t.Errorf("20 records at --rate 50 took %v, want at least 380ms", elapsed)
	}
}

// TestInterruptStopsReadingAndWaitsForResults checks that cancelling (as
// SIGINT does) stops reading, still collects the results of what was
// published and exits 0 when nothing was lost.
func TestInterruptStopsReadingAndWaitsForResults(t *testing.T) {
	f := newFakeNSQD(t)
	pr, pw := io.Pipe()
	defer pw.Close() // releases the reader, still waiting for input
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Never more: the rest of the input is what the interrupt cuts off.
		pw.Write([]byte("first\nsecond\n"))
	}()
	go func() {
		f.waitMessages(2)
		cancel()
	}()
	res := runCmd(t, ctx, pr, "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantBodies(t, f, "t", "first", "second")
	if res.code != 0 {
		t.Errorf("exit status %d, want 0: nothing was lost", res.code)
	}
	want := "nsqpub: interrupted: stopped reading input\nnsqpub: published 2 records to 1 nsqd\n"
	if res.stderr != want {
		t.Errorf("stderr %q, want %q", res.stderr, want)
	}
}

// TestUsageErrors checks that bad command lines exit with status 2 and a
// clear message.
func TestUsageErrors(t *testing.T) {
	addr := "127.0.0.1:1" // never dialled: the command stops before
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing topic", []string{"--nsqd-tcp-address", addr}, "--topic is required"},
		{"invalid topic", []string{"--topic", "a:b", "--nsqd-tcp-address", addr}, `invalid --topic "a:b"`},
		{"topic too long", []string{"--topic", strings.Repeat("x", 65), "--nsqd-tcp-address", addr}, "invalid --topic"},
		{"missing address", []string{"--topic", "t"}, "--nsqd-tcp-address is required"},
		{"unknown producer option", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "no_such_option,1"}, "unknown option"},
		{"bad producer option value", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "max_msg_size,abc"}, "max_msg_size"},
		{"invalid producer config", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "max_msg_size,-5"}, "max_msg_size -5 must be positive"},
		{"long delimiter", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--delimiter", "ab"}, "must be one byte"},
		{"empty delimiter", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--delimiter", ""}, "must be one byte"},
		{"negative rate", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--rate", "-1"}, "--rate -1"},
		{"negative batch", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--batch", "-1"}, "--batch -1"},
		{"huge batch", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--batch", "2000000"}, "--batch 2000000"},
		{"unknown strategy", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--balance", "--balance-strategy", "random"}, `--balance-strategy "random"`},
		{"strategy without balance", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--balance-strategy", "failover"}, "--balance-strategy needs --balance"},
		{"unknown flag", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--nope"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := publish(t, "never read\n", tc.args...)
			if res.code != 2 {
				t.Errorf("exit status %d, want 2", res.code)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr does not contain %q:\n%s", tc.want, res.stderr)
			}
		})
	}
}

// TestVersionAndHelp checks --version and -h.
func TestVersionAndHelp(t *testing.T) {
	res := publish(t, "", "--version")
	if res.code != 0 || res.stdout != "nsqpub "+nsqpub.Version+"\n" {
		t.Errorf("--version: exit %d, stdout %q", res.code, res.stdout)
	}
	res = publish(t, "", "-h")
	if res.code != 0 || !strings.Contains(res.stderr, "Usage: nsqpub") || !strings.Contains(res.stderr, "-producer-opt") {
		t.Errorf("-h: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestSplitter checks the record splitter with a tiny buffer, so that records
// span several reads.
func TestSplitter(t *testing.T) {
	long := pattern(100, 0) // longer than the 16-byte test buffer
	for _, tc := range []struct {
		name  string
		input string
		max   int
		want  []string // "" stands for an empty record
		sizes []int    // when set, the record lengths (for dropped records)
	}{
		{"empty", "", 1000, nil, nil},
		{"delimiters only", "\n\n", 1000, []string{"", ""}, nil},
		{"trailing", "a\nb\n", 1000, []string{"a", "b"}, nil},
		{"no trailing", "a\nb", 1000, []string{"a", "b"}, nil},
		{"long", "x\n" + long + "\n" + long, 1000, []string{"x", long, long}, nil},
		{"exactly the buffer", pattern(16, 1) + "\n" + pattern(15, 2) + "\n", 1000, []string{pattern(16, 1), pattern(15, 2)}, nil},
		{"too long kept out", "ok\n" + long + "\nok2", 50, []string{"ok", "", "ok2"}, []int{2, 100, 3}},
		{"too long at the limit", pattern(50, 3) + "\n" + pattern(51, 4), 50, []string{pattern(50, 3), ""}, []int{50, 51}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := &splitter{br: bufio.NewReaderSize(strings.NewReader(tc.input), 16), delim: '\n', max: tc.max}
			var got []string
			var sizes []int
			for {
				rec, n, err := sp.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(rec))
				sizes = append(sizes, n)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("records %q, want %q", got, tc.want)
			}
			if tc.sizes != nil && !slices.Equal(sizes, tc.sizes) {
				t.Errorf("sizes %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

// TestSplitterCopiesAreIndependent checks that records carved out of a shared
// slab cannot overwrite each other.
func TestSplitterCopiesAreIndependent(t *testing.T) {
	// Records share slabs; each must be capped so nothing can overwrite
	// its neighbour, and none may alias the read buffer.
	sp := &splitter{br: bufio.NewReaderSize(strings.NewReader("aa\nbb\ncc\n"), 16), delim: '\n', max: 100}
	var recs [][]byte
	for {
		rec, _, err := sp.next()
		if err != nil {
			break
		}
		recs = append(recs, rec)
	}
	if len(recs) != 3 || cap(recs[0]) != 2 {
		t.Fatalf("records %q, cap %d", recs, cap(recs[0]))
	}
	_ = append(recs[0], 'X')
	if string(recs[1]) != "bb" || string(recs[2]) != "cc" {
		t.Errorf("records changed: %q", recs)
	}
}

// TestReadErrorIsReported checks that a read error is reported, makes the
// status 1, and keeps the records before it.
func TestReadErrorIsReported(t *testing.T) {
	f := newFakeNSQD(t)
	boom := errors.New("disk on fire")
	stdin := io.MultiReader(strings.NewReader("a\nb\npartial"), iotestErrReader{boom})
	res := runCmd(t, context.Background(), stdin, "--topic", "t", "--nsqd-tcp-address", f.addr())
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	if !strings.Contains(res.stderr, "nsqpub: reading stdin: disk on fire\n") {
		t.Errorf("stderr does not report the read error:\n%s", res.stderr)
	}
	wantBodies(t, f, "t", "a", "b")
}

// iotestErrReader fails every read with err.
type iotestErrReader struct{ err error }

// Read returns the error.
func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// TestPacerScheduleDoesNotDrift checks the rate schedule's arithmetic without
// sleeping.
func TestPacerScheduleDoesNotDrift(t *testing.T) {
	p := &pacer{rate: 3}
	start := time.Now()
	var last time.Time
	for i := range 3001 {
		// Always ready exactly at its slot: never late, so never re-anchored.
		now := start
		if i > 0 {
			now = last
		}
		last = p.next(now)
	}
	if got := last.Sub(start); got != 1000*time.Second {
		t.Errorf("record 3000 at rate 3 is due after %v, want exactly 1000s", got)
	}
	// A record arriving long after its slot starts a new schedule at once.
	late := last.Add(time.Minute)
	if got := p.next(late); !got.Equal(late) {
		t.Errorf("late record due %v after arrival, want 0", got.Sub(late))
	}
	if got := p.next(late); got.Sub(late) != time.Second/3 {
		t.Errorf("record after the restart due %v after it, want 1/3 s", got.Sub(late))
	}
}

// TestParseDelimiter checks the accepted and rejected --delimiter values.
func TestParseDelimiter(t *testing.T) {
	for in, want := range map[string]byte{"\n": '\n', ",": ',', `\`: '\\', `\t`: '\t', `\0`: 0, `\000`: 0, `\x1e`: 0x1e, `\n`: '\n', `\\`: '\\'} {
		if got, err := parseDelimiter(in); err != nil || got != want {
			t.Errorf("parseDelimiter(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ab", `\x`, `\u00e9`, `\q`} {
		if _, err := parseDelimiter(in); err == nil {
			t.Errorf("parseDelimiter(%q) succeeded", in)
		}
	}
}

// TestErrorKind checks how failures are grouped in the summary.
func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: dial: refused", nsqpub.ErrNotConnected), "not connected"},
		{fmt.Errorf("%w: %w", nsqpub.ErrUnknownOutcome, nsqpub.ErrStopped), "outcome unknown: written but not answered"},
		{&nsqpub.ServerError{Code: "E_BAD_TOPIC", Message: "x"}, "nsqd E_BAD_TOPIC"},
		{fmt.Errorf("%w: 11 > 10", nsqpub.ErrMessageTooLarge), "message body larger than MaxMsgSize"},
		{fmt.Errorf("%w: %w: a: refused", nsqpub.ErrNotConnected, nsqpub.ErrNoHealthyNode), "no healthy nsqd node"},
		{fmt.Errorf("%w: 6000000 > 5242880", nsqpub.ErrBatchTooLarge), strings.TrimPrefix(nsqpub.ErrBatchTooLarge.Error(), "nsqpub: ")},
		{nsqpub.ErrStopped, "stopped"},
		{errInterrupted, "interrupted before publishing"},
		{errors.New("odd"), "odd"},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// numbered returns n records "prefix-0" … and the input with them on lines.
func numbered(prefix string, n int) ([]string, string) {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return recs, strings.Join(recs, "\n") + "\n"
}

// noLinger makes partial batches wait for input as long as the test runs,
// so that batch sizes do not depend on timing.
func noLinger(t *testing.T) {
	old := batchLinger
	batchLinger = time.Hour
	t.Cleanup(func() { batchLinger = old })
}

// TestBatchPublishesMPUBsOfN checks --batch: N records per MPUB, the last
// partial batch published at the end of the input.
func TestBatchPublishesMPUBsOfN(t *testing.T) {
	noLinger(t)
	f := newFakeNSQD(t)
	want, input := numbered("r", 25)
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--batch", "10")
	wantSuccess(t, res, "nsqpub: published 25 records to 1 nsqd")
	wantBodies(t, f, "t", want...)
	if got := f.commands(); !slices.Equal(got, []int{10, 10, 5}) {
		t.Errorf("commands carried %v messages, want [10 10 5]", got)
	}
}

// TestBatchWithFanOut checks --batch with several nsqd: every batch goes to
// every nsqd.
func TestBatchWithFanOut(t *testing.T) {
	noLinger(t)
	f1, f2 := newFakeNSQD(t), newFakeNSQD(t)
	want, input := numbered("r", 7)
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f1.addr(), "--nsqd-tcp-address", f2.addr(), "--batch", "3")
	wantSuccess(t, res, "nsqpub: published 7 records to 2 nsqd")
	for _, f := range []*fakeNSQD{f1, f2} {
		wantBodies(t, f, "t", want...)
		if got := f.commands(); !slices.Equal(got, []int{3, 3, 1}) {
			t.Errorf("nsqd %s: commands carried %v messages, want [3 3 1]", f.addr(), got)
		}
	}
}

// TestBatchRespectsMaxBodySize checks that a batch is cut short so that its
// MPUB body stays within max_body_size.
func TestBatchRespectsMaxBodySize(t *testing.T) {
	noLinger(t)
	f := newFakeNSQD(t)
	var want []string
	for i := range 10 {
		want = append(want, pattern(100, byte(i)))
	}
	// 4 + 4×(4+100) = 420 <= 500 < 4 + 5×(4+100): four records per MPUB.
	res := publish(t, strings.Join(want, "\n"), "--topic", "t", "--nsqd-tcp-address", f.addr(),
		"--batch", "10", "--producer-opt", "max_body_size,500")
	wantSuccess(t, res, "nsqpub: published 10 records to 1 nsqd")
	wantBodies(t, f, "t", want...)
	if got := f.commands(); !slices.Equal(got, []int{4, 4, 2}) {
		t.Errorf("commands carried %v messages, want [4 4 2]", got)
	}
}

// TestBatchLingerPublishesASlowInput checks that a partial batch does not
// wait for input that is not coming yet.
func TestBatchLingerPublishesASlowInput(t *testing.T) {
	f := newFakeNSQD(t)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("a\nb\n"))
		waited := make(chan struct{})
		go func() { f.waitMessages(2); close(waited) }()
		select {
		case <-waited:
			pw.Write([]byte("c"))
			pw.Close()
		case <-time.After(30 * time.Second):
			pw.CloseWithError(errors.New("the partial batch was not published within 30s"))
		}
	}()
	res := runCmd(t, context.Background(), pr, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--batch", "100")
	wantSuccess(t, res, "nsqpub: published 3 records to 1 nsqd")
	wantBodies(t, f, "t", "a", "b", "c")
	if got := f.commands(); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("commands carried %v messages, want [2 1]", got)
	}
}

// TestBatchRejectedIsPublishedAgainOneByOne checks that when nsqd rejects a
// batch for one bad record, only that record fails.
func TestBatchRejectedIsPublishedAgainOneByOne(t *testing.T) {
	noLinger(t)
	f := newFakeNSQD(t)
	f.mu.Lock()
	f.reject = "bad"
	f.mu.Unlock()
	res := publish(t, "a\nbad\nc\nd\ne\nf\n", "--topic", "t", "--nsqd-tcp-address", f.addr(), "--batch", "4")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	const summary = "nsqpub: published 6 records to 1 nsqd (1 failed: 1 nsqd E_BAD_MESSAGE)\n"
	if !strings.HasSuffix(res.stderr, summary) {
		t.Errorf("stderr does not end with %q:\n%s", summary, res.stderr)
	}
	if !strings.Contains(res.stderr, "publishing stdin record 2 to "+f.addr()) {
		t.Errorf("stderr does not name the bad record:\n%s", res.stderr)
	}
	got := f.bodies("t")
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "c", "d", "e", "f"}) {
		t.Errorf("nsqd received %q, want every record but the bad one", got)
	}
}

// TestBalanceSpreadsRecords checks --balance: each record goes to one nsqd,
// alternately, and the summary says how many each acknowledged.
func TestBalanceSpreadsRecords(t *testing.T) {
	f1, f2 := newFakeNSQD(t), newFakeNSQD(t)
	want, input := numbered("r", 300)
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f1.addr(), "--nsqd-tcp-address", f2.addr(), "--balance")
	wantSuccess(t, res, fmt.Sprintf("nsqpub: published 300 records to 2 nsqd, balanced (%s: 150, %s: 150)", f1.addr(), f2.addr()))
	got := append(f1.bodies("t"), f2.bodies("t")...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the two nsqd received %d records together, want each of the %d once", len(got), len(want))
	}
}

// TestBalanceSkipsADeadNSQD checks that with --balance a dead nsqd costs
// nothing: its records go to the live one and the status is 0.
func TestBalanceSkipsADeadNSQD(t *testing.T) {
	f := newFakeNSQD(t)
	dead := deadAddr(t)
	want, input := numbered("r", 100)
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", dead, "--nsqd-tcp-address", f.addr(), "--balance")
	wantSuccess(t, res, fmt.Sprintf("nsqpub: published 100 records to 2 nsqd, balanced (%s: 0, %s: 100)", dead, f.addr()))
	wantBodies(t, f, "t", want...)
}

// TestBalanceFailoverStrategy checks --balance-strategy failover: every
// record to the first healthy nsqd.
func TestBalanceFailoverStrategy(t *testing.T) {
	f1, f2 := newFakeNSQD(t), newFakeNSQD(t)
	want, input := numbered("r", 50)
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f1.addr(), "--nsqd-tcp-address", f2.addr(),
		"--balance", "--balance-strategy", "failover")
	wantSuccess(t, res, fmt.Sprintf("nsqpub: published 50 records to 2 nsqd, balanced (%s: 50, %s: 0)", f1.addr(), f2.addr()))
	wantBodies(t, f1, "t", want...)
	wantBodies(t, f2, "t")
}

// TestBalanceAllDown checks that with every nsqd dead each record fails
// once, as having no healthy nsqd, and the status is 1.
func TestBalanceAllDown(t *testing.T) {
	a, b := deadAddr(t), deadAddr(t)
	res := publish(t, "x\ny\n", "--topic", "t", "--nsqd-tcp-address", a, "--nsqd-tcp-address", b, "--balance")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	summary := fmt.Sprintf("nsqpub: published 2 records to 2 nsqd, balanced (%s: 0, %s: 0) (2 failed: 2 no healthy nsqd node)\n", a, b)
	if !strings.HasSuffix(res.stderr, summary) {
		t.Errorf("stderr does not end with %q:\n%s", summary, res.stderr)
	}
}

// TestBalanceWithBatchAndRate checks the three together: batches spread
// over the nsqd, paced by the rate.
func TestBalanceWithBatchAndRate(t *testing.T) {
	noLinger(t)
	f1, f2 := newFakeNSQD(t), newFakeNSQD(t)
	want, input := numbered("r", 20)
	start := time.Now()
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f1.addr(), "--nsqd-tcp-address", f2.addr(),
		"--balance", "--batch", "5", "--rate", "100")
	elapsed := time.Since(start)
	wantSuccess(t, res, fmt.Sprintf("nsqpub: published 20 records to 2 nsqd, balanced (%s: 10, %s: 10)", f1.addr(), f2.addr()))
	for _, f := range []*fakeNSQD{f1, f2} {
		if got := f.commands(); !slices.Equal(got, []int{5, 5}) {
			t.Errorf("nsqd %s: commands carried %v messages, want [5 5]", f.addr(), got)
		}
	}
	got := append(f1.bodies("t"), f2.bodies("t")...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
	// Record 19 is due 19/100 s after record 0.
	if elapsed < 190*time.Millisecond {
		t.Errorf("20 records at --rate 100 took %v, want at least 190ms", elapsed)
	}
}

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

// progressRE matches one progress line.
var progressRE = regexp.MustCompile(`^nsqpub: \d+ records, \d+/s, \d+ acknowledged, \d+ errors$`)

// TestProgressLineOnATerminal checks the progress line: redrawn in place
// at most every progressEvery, erased before any other message and before
// the summary.
func TestProgressLineOnATerminal(t *testing.T) {
	defer func(old func(io.Writer) bool, every time.Duration) { isTerminal, progressEvery = old, every }(isTerminal, progressEvery)
	isTerminal = func(io.Writer) bool { return true }
	progressEvery = 20 * time.Millisecond
	f := newFakeNSQD(t)
	recs, input := numbered("r", 15)
	input += pattern(20, 0) + "\n" // too big for max_msg_size 10: a message while the line is shown
	start := time.Now()
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", "50", "--producer-opt", "max_msg_size,10")
	elapsed := time.Since(start)
	wantBodies(t, f, "t", recs...)
	const clear = "\r\x1b[K"
	summary := "nsqpub: published 16 records to 1 nsqd (1 failed: 1 message body larger than MaxMsgSize)\n"
	before, ok := strings.CutSuffix(res.stderr, summary)
	if !ok || !(strings.HasSuffix(before, "\n") || strings.HasSuffix(before, clear)) {
		t.Fatalf("stderr does not end with the summary on a line of its own:\n%q", res.stderr)
	}
	if !strings.Contains(res.stderr, clear+"nsqpub: publishing stdin record 16") {
		t.Errorf("the progress line was not erased before a message:\n%q", res.stderr)
	}
	lines := 0
	for _, part := range strings.Split(res.stderr, "\r") {
		part = strings.TrimPrefix(part, "\x1b[K") // an erasure
		line, rest, _ := strings.Cut(part, "\x1b[K")
		switch {
		case line == "":
		case progressRE.MatchString(line):
			lines++
			if rest != "" {
				t.Errorf("text %q after a progress line on the same line", rest)
			}
		case strings.HasPrefix(line, "nsqpub: publishing stdin record 16") || strings.HasPrefix(line, "nsqpub: published"):
		default:
			t.Errorf("unexpected stderr line %q", line)
		}
	}
	if max := int(elapsed/progressEvery) + 1; lines < 2 || lines > max {
		t.Errorf("%d progress lines in %v, want 2 to %d", lines, elapsed, max)
	}
}

// TestNoProgressLineWhenNotATerminal checks that a file or a pipe as
// standard error gets no progress line.
func TestNoProgressLineWhenNotATerminal(t *testing.T) {
	defer func(every time.Duration) { progressEvery = every }(progressEvery)
	progressEvery = time.Millisecond
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if isTerminal(file) || isTerminal(&bytes.Buffer{}) {
		t.Fatal("a regular file or a buffer taken for a terminal")
	}
	f := newFakeNSQD(t)
	_, input := numbered("r", 10)
	code := run(context.Background(), append(slices.Clone(slackOpts), "--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", "200"),
		strings.NewReader(input), io.Discard, file)
	out, err := os.ReadFile(file.Name())
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || string(out) != "nsqpub: published 10 records to 1 nsqd\n" {
		t.Errorf("exit %d, stderr %q; want 0 and just the summary", code, out)
	}
}

// TestPacerCatchesUpSmallLateness checks that a record the input delivers
// a little late keeps the schedule, so the rate stays exact, while an input
// stall longer than pacerSlack restarts it. (A record delivered in time
// keeps its slot whenever the command gets to it: next only sees when the
// input had it.)
func TestPacerCatchesUpSmallLateness(t *testing.T) {
	p := &pacer{rate: 200} // a slot every 5 ms
	start := time.Now()
	p.next(start)
	// Record 1 is due at 5 ms but ready only at 30 ms: still on schedule,
	// due at once, and record 2 is due at 10 ms.
	if got := p.next(start.Add(30 * time.Millisecond)); got.Sub(start) != 5*time.Millisecond {
		t.Errorf("record 1 due at %v, want 5ms", got.Sub(start))
	}
	if got := p.next(start.Add(30 * time.Millisecond)); got.Sub(start) != 10*time.Millisecond {
		t.Errorf("record 2 due at %v, want 10ms", got.Sub(start))
	}
	// Record 3 is due at 15 ms; ready after a stall past the slack, it
	// anchors a new schedule.
	late := start.Add(15*time.Millisecond + pacerSlack + time.Millisecond)
	if got := p.next(late); !got.Equal(late) {
		t.Errorf("record 3 after a stall due %v after it, want at once", got.Sub(late))
	}
	if got := p.next(late); got.Sub(late) != 5*time.Millisecond {
		t.Errorf("record 4 due %v after the new anchor, want 5ms", got.Sub(late))
	}
}
