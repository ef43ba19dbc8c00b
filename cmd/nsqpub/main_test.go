package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
	silent  string // a body never answered: the connection closes
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

// badBodies makes the fake answer every PUB or MPUB that carries reject
// with E_BAD_MESSAGE and close the connection, as nsqd does with a bad
// message, and close the connection without an answer on one that carries
// silent (so that its outcome is unknown). "" is no body.
func (f *fakeNSQD) badBodies(reject, silent string) {
	f.mu.Lock()
	f.reject, f.silent = reject, silent
	f.mu.Unlock()
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
	readBody := func() ([]byte, bool) { // a 4-byte size, then that many bytes
		n, ok := readSize()
		if !ok {
			return nil, false
		}
		return readN(n)
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
	body, ok := readBody()
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
			b, ok := readBody()
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
				b, ok := readBody()
				if !ok {
					return
				}
				bodies = append(bodies, b)
				total += 4 + len(b)
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
		reject, silent := f.reject, f.silent
		f.mu.Unlock()
		carries := func(body string) bool {
			return body != "" && slices.ContainsFunc(bodies, func(b []byte) bool { return string(b) == body })
		}
		if carries(reject) {
			// As nsqd does: an error frame, then the connection closes.
			c.Write(frame(1, "E_BAD_MESSAGE "+name+" rejected by the fake"))
			return
		}
		if carries(silent) {
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

// publish runs the command with input on stdin.
func publish(t *testing.T, input string, args ...string) result {
	t.Helper()
	return runCmd(t, context.Background(), strings.NewReader(input), args...)
}

// wantBodies checks the messages a fake received, in order.
func wantBodies(t *testing.T, f *fakeNSQD, topic string, want ...string) {
	t.Helper()
	got := f.bodies(topic)
	if !slices.Equal(got, want) {
		t.Errorf("nsqd %s received %d messages %.200q, want %d %.200q", f.addr(), len(got), got, len(want), want)
	}
}

// wantBodiesAnyOrder checks that the fakes together received each of want
// once, in any order.
func wantBodiesAnyOrder(t *testing.T, topic string, want []string, fakes ...*fakeNSQD) {
	t.Helper()
	var got []string
	for _, f := range fakes {
		got = append(got, f.bodies(topic)...)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("nsqd received %d messages %.200q together, want %d %.200q", len(got), got, len(want), want)
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

// wantFailure checks an exit status of 1 and that stderr ends with the
// summary line.
func wantFailure(t *testing.T, res result, summary string) {
	t.Helper()
	if res.code != 1 {
		t.Errorf("exit status %d, want 1", res.code)
	}
	if !strings.HasSuffix(res.stderr, summary+"\n") {
		t.Errorf("stderr does not end with %q:\n%s", summary, res.stderr)
	}
}

// pattern returns n bytes of a repeating, non-delimiter pattern.
func pattern(n int, seed byte) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i%23))%26
	}
	return string(b)
}

// numbered returns n records "prefix-0" … and the input with them on lines.
func numbered(prefix string, n int) ([]string, string) {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return recs, strings.Join(recs, "\n") + "\n"
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

// nsqdAddrs returns an address per entry of live: a new fake nsqd's when
// true, one nothing listens on when false, and the fakes.
func nsqdAddrs(t *testing.T, live []bool) ([]string, []*fakeNSQD) {
	t.Helper()
	var addrs []string
	var fakes []*fakeNSQD
	for _, l := range live {
		if !l {
			addrs = append(addrs, deadAddr(t))
			continue
		}
		f := newFakeNSQD(t)
		fakes = append(fakes, f)
		addrs = append(addrs, f.addr())
	}
	return addrs, fakes
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

// TestInterruptLeavesInputUnread checks that cancelling (as SIGINT does)
// while input is left unread, whether the command waits for more input or
// for a record's slot under --rate, stops reading, still collects the
// results of what was published, and exits 1 with a summary that counts
// what nsqd acknowledged and says how many records were read.
func TestInterruptLeavesInputUnread(t *testing.T) {
	_, paced := numbered("r", 100)
	for _, tc := range []struct {
		name  string
		input string // written on stdin, which stays open: more may come
		extra []string
		wait  int // messages the fake receives before the interrupt
		most  int // messages it may receive in all
	}{
		{"waiting for input", "first\nsecond\n", nil, 2, 2},
		{"paced", paced, []string{"--rate", "1"}, 1, 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNSQD(t)
			pr, pw := io.Pipe()
			defer pw.Close() // releases the writer and the reader, still waiting
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go pw.Write([]byte(tc.input))
			go func() {
				f.waitMessages(tc.wait)
				cancel()
			}()
			res := runCmd(t, ctx, pr, append([]string{"--topic", "t", "--nsqd-tcp-address", f.addr()}, tc.extra...)...)
			n := int64(len(f.bodies("t")))
			if n < int64(tc.wait) || n > int64(tc.most) {
				t.Errorf("nsqd received %d messages, want %d to %d", n, tc.wait, tc.most)
			}
			want := fmt.Sprintf("nsqpub: published %s to 1 nsqd; interrupted: %s read, input left unread\n", count(n, "record"), count(n, "record"))
			if res.code != 1 || res.stderr != want {
				t.Errorf("exit %d, stderr %q; want 1 and %q", res.code, res.stderr, want)
			}
		})
	}
}
