package nsqpub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"
)

// failWriter fails every write, like a socket whose peer is gone.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// pubTx returns a queued PUB transaction whose result goes to wait.
func pubTx(topic, body string, wait chan *tx) *tx {
	return &tx{cmd: command{kind: cmdPUB, topic: topic, body: []byte(body)}, wait: wait}
}

// TestWriteBatchMerges pins natural batching: consecutive PUBs to one topic
// become one MPUB; other commands and topics keep their place and order.
func TestWriteBatchMerges(t *testing.T) {
	var out bytes.Buffer
	c := newTestConn(t, NewConfig(), &out)
	wait := make(chan *tx, 8)
	abandoned := pubTx("a", "gone", wait)
	abandoned.abandon()
	c.batch = []*tx{
		pubTx("a", "x", wait), pubTx("a", "yz", wait), abandoned, pubTx("a", "w", wait),
		pubTx("b", "q", wait),
		{cmd: command{kind: cmdDPUB, topic: "a", delay: time.Second, body: []byte("d")}, wait: wait},
		pubTx("a", "last", wait),
	}
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	want := "MPUB a\n" + be32(4+5+6+5) + be32(3) + be32(1) + "x" + be32(2) + "yz" + be32(1) + "w" +
		pubBytes("b", "q") +
		"DPUB a 1000\n" + be32(1) + "d" +
		pubBytes("a", "last")
	if got := out.String(); got != want {
		t.Fatalf("wrote\n%q\nwant\n%q", got, want)
	}
	if n := len(c.win.takeAll()); n != 4 {
		t.Fatalf("%d commands in flight, want 4", n)
	}
}

// TestWriteBatchGroupsByTopic pins per-topic batching: the PUBs of each
// topic in a batch go as one MPUB where its first PUB stood, whatever other
// topics lie between, and each topic keeps its order: a command to the
// topic that cannot join (a DPUB, a publish sent alone, one past
// MaxBodySize) is not overtaken, and what follows it goes behind it.
func TestWriteBatchGroupsByTopic(t *testing.T) {
	type pub struct {
		topic, body string
		dpub, solo  bool
	}
	mpub := func(topic string, bodies ...string) string {
		size, msgs := 4, ""
		for _, b := range bodies {
			size += 4 + len(b)
			msgs += be32(len(b)) + b
		}
		return "MPUB " + topic + "\n" + be32(size) + be32(len(bodies)) + msgs
	}
	tests := []struct {
		name        string
		maxBodySize int
		batch       []pub
		want        string
		inFlight    int
	}{
		{"interleaved", 0,
			[]pub{{topic: "a", body: "a1"}, {topic: "b", body: "b1"}, {topic: "c", body: "c1"}, {topic: "a", body: "a2"},
				{topic: "b", body: "b2"}, {topic: "a", body: "a3"}},
			mpub("a", "a1", "a2", "a3") + mpub("b", "b1", "b2") + pubBytes("c", "c1"), 3},
		{"runs and singles", 0,
			[]pub{{topic: "a", body: "a1"}, {topic: "a", body: "a2"}, {topic: "b", body: "b1"}, {topic: "a", body: "a3"},
				{topic: "c", body: "c1"}},
			mpub("a", "a1", "a2", "a3") + pubBytes("b", "b1") + pubBytes("c", "c1"), 3},
		{"a DPUB is not overtaken", 0,
			[]pub{{topic: "a", body: "a1"}, {topic: "b", body: "b1"}, {topic: "a", body: "d", dpub: true},
				{topic: "a", body: "a2"}, {topic: "b", body: "b2"}, {topic: "a", body: "a3"}},
			pubBytes("a", "a1") + mpub("b", "b1", "b2") + "DPUB a 1000\n" + be32(1) + "d" + mpub("a", "a2", "a3"), 4},
		{"a solo publish is not overtaken", 0,
			[]pub{{topic: "a", body: "a1"}, {topic: "b", body: "b1"}, {topic: "a", body: "s", solo: true},
				{topic: "b", body: "b2"}, {topic: "a", body: "a2"}},
			pubBytes("a", "a1") + mpub("b", "b1", "b2") + pubBytes("a", "s") + pubBytes("a", "a2"), 4},
		{"split at MaxBodySize", 4 + 2*(4+2),
			[]pub{{topic: "a", body: "a1"}, {topic: "b", body: "b1"}, {topic: "a", body: "a2"}, {topic: "b", body: "b2"},
				{topic: "a", body: "a3"}, {topic: "a", body: "a4"}, {topic: "b", body: "b3"}},
			mpub("a", "a1", "a2") + mpub("b", "b1", "b2") + mpub("a", "a3", "a4") + pubBytes("b", "b3"), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewConfig()
			if tt.maxBodySize > 0 {
				cfg.MaxBodySize = tt.maxBodySize
			}
			var out bytes.Buffer
			c := newTestConn(t, cfg, &out)
			wait := make(chan *tx, len(tt.batch))
			for _, p := range tt.batch {
				u := pubTx(p.topic, p.body, wait)
				if p.dpub {
					u.cmd.kind, u.cmd.delay = cmdDPUB, time.Second
				}
				u.solo = p.solo
				c.batch = append(c.batch, u)
			}
			if err := c.writeBatch(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Fatalf("wrote\n%q\nwant\n%q", got, tt.want)
			}
			for range tt.inFlight {
				if err := c.handle(frameTypeResponse, frameOK); err != nil {
					t.Fatal(err)
				}
			}
			if len(wait) != len(tt.batch) || !c.win.empty() {
				t.Fatalf("%d OKs completed %d of %d publishes, %d commands left in flight",
					tt.inFlight, len(wait), len(tt.batch), c.win.n)
			}
		})
	}
}

// TestRefusedGroupMapsToItsMembers: nsqd refuses an MPUB grouped from PUBs
// that other topics' publishes stood between. Exit reports exactly its
// members refused (and merged), and the command written after it, grouped
// from publishes that stood between them, unexecuted.
func TestRefusedGroupMapsToItsMembers(t *testing.T) {
	var out bytes.Buffer
	c := newTestConn(t, NewConfig(), &out)
	var left []leftover
	c.onExit = func(_ *conn, _ error, l []leftover) { left = l }
	for _, p := range [][2]string{{"a", "a1"}, {"b", "b1"}, {"a", "poison"}, {"b", "b2"}, {"a", "a2"}} {
		c.batch = append(c.batch, pubTx(p[0], p[1], nil))
	}
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	c.fail(c.handle(frameTypeError, []byte("E_BAD_MESSAGE MPUB message too big 6 > 5")))
	close(c.writerDone)
	c.exit()
	var got []string
	for _, l := range left {
		got = append(got, fmt.Sprintf("%s:%d:%v", l.t.cmd.body, l.kind, l.merged))
	}
	want := []string{
		fmt.Sprintf("a1:%d:true", leftRefused), fmt.Sprintf("poison:%d:true", leftRefused), fmt.Sprintf("a2:%d:true", leftRefused),
		fmt.Sprintf("b1:%d:false", leftUnexecuted), fmt.Sprintf("b2:%d:false", leftUnexecuted),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
}

// TestMergedReplyCompletesMembers: one OK completes every publish merged into
// the MPUB it answers, and the window's byte count returns to zero.
func TestMergedReplyCompletesMembers(t *testing.T) {
	var out bytes.Buffer
	c := newTestConn(t, NewConfig(), &out)
	wait := make(chan *tx, 8)
	c.batch = []*tx{pubTx("a", "x", wait), pubTx("a", "yz", wait), pubTx("a", "w", wait)}
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	if err := c.handle(frameTypeResponse, frameOK); err != nil {
		t.Fatal(err)
	}
	if len(wait) != 3 {
		t.Fatalf("merged MPUB completed %d publishes, want 3", len(wait))
	}
	if !c.win.empty() || c.win.bytes != 0 {
		t.Fatalf("window holds %d commands, %d bytes after the answer", c.win.n, c.win.bytes)
	}
}

// TestWriteBatchSplitsAtMaxBodySize checks merged MPUBs stay within MaxBodySize.
func TestWriteBatchSplitsAtMaxBodySize(t *testing.T) {
	cfg := NewConfig()
	cfg.MaxBodySize = 4 + 2*(4+10)
	var out bytes.Buffer
	c := newTestConn(t, cfg, &out)
	for i := 0; i < 5; i++ {
		c.batch = append(c.batch, pubTx("t", string(bytes.Repeat([]byte{'a' + byte(i)}, 10)), nil))
	}
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.win.takeAll()); n != 3 {
		t.Fatalf("%d commands, want 3 (2+2+1)", n)
	}
	if got := bytes.Count(out.Bytes(), []byte("MPUB t\n")); got != 2 {
		t.Fatalf("%d MPUBs, want 2 (the last message goes as a PUB)", got)
	}
}

// TestWindowFullConnectionLost: when the window is full and the connection
// dies while the writer waits for room, the transaction it was about to
// write (an MPUB grouped from the first and third publishes of the batch)
// and every later one of its batch were never written: exit reports them
// all unwritten (taken, unlinked), and the one in flight unanswered.
func TestWindowFullConnectionLost(t *testing.T) {
	cfg := NewConfig()
	cfg.MaxInFlightCommands = 1
	c := newTestConn(t, cfg, failWriter{})
	var left []leftover
	c.onExit = func(_ *conn, _ error, l []leftover) { left = l }
	inFlight := pubTx("a", "0", nil)
	inFlight.take()
	c.win.push(sent{t: inFlight, wire: 1}) // the window of one is full
	for i, topic := range []string{"b", "c", "b", "c"} {
		c.batch = append(c.batch, pubTx(topic, string(rune('1'+i)), nil))
	}
	c.fail(errors.New("reading from nsqd: EOF"))
	if err := c.writeBatch(); err == nil {
		t.Fatal("writeBatch succeeded on a dead connection")
	}
	close(c.writerDone)
	c.exit()
	if len(left) != 5 {
		t.Fatalf("%d transactions left, want 5 (1 in flight, 4 never written)", len(left))
	}
	if left[0].t != inFlight || left[0].kind != leftUnanswered {
		t.Fatalf("in flight: %+v, want unanswered", left[0])
	}
	for _, l := range left[1:] {
		if l.kind != leftUnwritten || l.t.next != nil || l.t.state.Load() != txTaken {
			t.Fatalf("%q: kind %v, next %v, state %d: want a taken, unlinked, unwritten transaction",
				l.t.cmd.body, l.kind, l.t.next, l.t.state.Load())
		}
	}
}

// TestRefusedMergedMPUBGoesSolo: when nsqd refuses an MPUB merged from
// several publishes for a bad message, every member is left refused and
// merged; fate sends each again alone, and alone they are never merged.
func TestRefusedMergedMPUBGoesSolo(t *testing.T) {
	var out bytes.Buffer
	c := newTestConn(t, NewConfig(), &out)
	var left []leftover
	c.onExit = func(_ *conn, _ error, l []leftover) { left = l }
	for _, b := range []string{"ok1", "poison", "ok2"} {
		c.batch = append(c.batch, pubTx("t", b, nil))
	}
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	err := c.handle(frameTypeError, []byte("E_BAD_MESSAGE MPUB message too big 6 > 5"))
	c.fail(err)
	close(c.writerDone)
	c.exit()
	if len(left) != 3 {
		t.Fatalf("%d members left, want 3", len(left))
	}
	p := newTestProducer(t, "127.0.0.1:1", nil)
	var again []*tx
	for _, l := range left {
		if l.kind != leftRefused || !l.merged {
			t.Fatalf("member %q: %+v, want refused and merged", l.t.cmd.body, l)
		}
		err, resend, _ := p.fate(l, c.err)
		var se *ServerError
		if !resend || !l.t.solo || !errors.Is(err, ErrNotConnected) || errors.As(err, &se) {
			t.Fatalf("member %q: resend %v, solo %v, error %v", l.t.cmd.body, resend, l.t.solo, err)
		}
		l.t.state.Store(txQueued)
		again = append(again, l.t)
	}
	out.Reset()
	c2 := newTestConn(t, NewConfig(), &out)
	c2.batch = again
	if err := c2.writeBatch(); err != nil {
		t.Fatal(err)
	}
	if want := pubBytes("t", "ok1") + pubBytes("t", "poison") + pubBytes("t", "ok2"); out.String() != want {
		t.Fatalf("resent %q, want %q", out.String(), want)
	}
}

// TestMergedMPUBWithBigBodies publishes PUBs whose bodies are bigger than
// the connection's write buffer, so that they go straight to the socket and
// the merged MPUB is complete, and can be answered and finished by the
// reader, the moment its last body is written. Under -race this shows the
// writer never touches a transaction after handing it to the reader.
func TestMergedMPUBWithBigBodies(t *testing.T) {
	f := newFastNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	big := bytes.Repeat([]byte("x"), 200<<10) // its tail, past a full 64 KiB write buffer, goes straight out
	const n = 200
	done := make(chan *ProducerTransaction, n)
	for range n {
		if err := p.PublishAsync("t", big, done); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if tr := <-done; tr.Error != nil {
			t.Fatal(tr.Error)
		}
	}
	p.Stop()
	f.check(t, n)
}

// TestFailedBatchReportsOnlyUnwritten: the writer waits mid-batch, for room
// in a window of one command, or for a suspect's answer (a topic nsqd has
// not accepted yet, written with nothing behind it). When the connection
// dies meanwhile, exit reports the second publish unanswered and the third
// unwritten, but never the first: it was written and answered, and its
// caller may already have reused it for a new publish.
func TestFailedBatchReportsOnlyUnwritten(t *testing.T) {
	tests := []struct {
		name          string
		maxInFlight   int
		topics        [3]string
		before, after string // written before the first answer, and after it
	}{
		{"window of one", 1, [3]string{"a", "b", "c"}, pubBytes("a", "1"), pubBytes("b", "2")},
		{"suspect", 64, [3]string{"a", "new", "b"}, pubBytes("a", "1") + pubBytes("new", "2"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pr.Close()
			cfg := NewConfig()
			cfg.MaxInFlightCommands = tt.maxInFlight
			c := newTestConn(t, cfg, pw)
			var left []leftover
			c.onExit = func(_ *conn, _ error, l []leftover) { left = l }
			wait := make(chan *tx, 4)
			for i, topic := range tt.topics {
				c.batch = append(c.batch, pubTx(topic, string(rune('1'+i)), wait))
			}
			first, second, third := c.batch[0], c.batch[1], c.batch[2]
			errc := make(chan error, 1)
			go func() { errc <- c.writeBatch() }()
			read := func(want string) {
				t.Helper()
				got := make([]byte, len(want))
				if _, err := io.ReadFull(pr, got); err != nil || string(got) != want {
					t.Fatalf("wrote %q (%v), want %q", got, err, want)
				}
			}
			read(tt.before)
			if err := c.handle(frameTypeResponse, frameOK); err != nil {
				t.Fatal(err)
			}
			if r := <-wait; r != first || r.result.Error != nil {
				t.Fatalf("answered %q (%v), want the first publish", r.cmd.body, r.result.Error)
			}
			first.state.Store(txQueued) // its caller reuses it for a new publish
			read(tt.after)
			c.fail(errors.New("reading from nsqd: EOF"))
			if err := <-errc; err == nil {
				t.Fatal("writeBatch succeeded on a dead connection")
			}
			close(c.writerDone)
			c.exit()
			if len(left) != 2 || left[0].t != second || left[0].kind != leftUnanswered ||
				left[1].t != third || left[1].kind != leftUnwritten {
				t.Fatalf("left %+v, want the second unanswered and the third unwritten", left)
			}
		})
	}
}

// TestWriterRefusesOverLearnedLimit: a publish queued before nsqd stated its
// --max-msg-size, and over it, is refused by the writer with
// ErrMessageTooLarge and never written; its neighbours are written.
func TestWriterRefusesOverLearnedLimit(t *testing.T) {
	var out bytes.Buffer
	c := newTestConn(t, NewConfig(), &out)
	wait := make(chan *tx, 4)
	big := pubTx("t", "0123456789", wait)
	c.batch = []*tx{pubTx("t", "a", wait), big, pubTx("u", "b", wait)}
	// nsqd refused a message for its size, then accepted small ones.
	c.model.refused(shape{topic: "t", maxBody: 10}, &ServerError{Code: "E_BAD_MESSAGE", Message: "PUB message too big 10 > 5"})
	c.model.accepted(shape{topic: "t", maxBody: 1})
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	if r := <-wait; r != big || !errors.Is(r.result.Error, ErrMessageTooLarge) {
		t.Fatalf("%q: %v, want the big one refused with ErrMessageTooLarge", r.cmd.body, r.result.Error)
	}
	if want := pubBytes("t", "a") + pubBytes("u", "b"); out.String() != want {
		t.Fatalf("wrote %q, want %q", out.String(), want)
	}
}
