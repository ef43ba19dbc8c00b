package nsqpub

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

// TestPublicCommandBytes: every constructor's command, as WriteTo writes it
// and String names it, with go-nsq's exact bytes.
func TestPublicCommandBytes(t *testing.T) {
	mpub := func(topic string, bodies ...[]byte) *Command {
		c, err := MultiPublish(topic, bodies)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	identify := func(js map[string]interface{}) *Command {
		c, err := Identify(js)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	auth, _ := Auth("s3")
	tests := []struct {
		name  string
		cmd   *Command
		wire  string
		label string // String()
	}{
		{"PUB", Publish("t", []byte("hello")), "PUB t\n\x00\x00\x00\x05hello", "PUB t"},
		{"PUB empty body", Publish("t", []byte{}), "PUB t\n\x00\x00\x00\x00", "PUB t"},
		{"PUB nil body", Publish("t", nil), "PUB t\n", "PUB t"},
		{"PUB empty topic", Publish("", []byte("x")), "PUB \n\x00\x00\x00\x01x", "PUB "},
		{"DPUB", DeferredPublish("t", 1500*time.Millisecond, []byte("x")), "DPUB t 1500\n\x00\x00\x00\x01x", "DPUB t 1500"},
		{"DPUB zero", DeferredPublish("t", 0, []byte("x")), "DPUB t 0\n\x00\x00\x00\x01x", "DPUB t 0"},
		{"DPUB truncated to ms", DeferredPublish("t", 1999*time.Microsecond, []byte("x")), "DPUB t 1\n\x00\x00\x00\x01x", "DPUB t 1"},
		{"DPUB negative", DeferredPublish("t", -time.Second, []byte("x")), "DPUB t -1000\n\x00\x00\x00\x01x", "DPUB t -1000"},
		{"MPUB", mpub("t", []byte("a"), []byte("bc")),
			"MPUB t\n\x00\x00\x00\x0f\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02bc", "MPUB t"},
		{"MPUB no bodies", mpub("t"), "MPUB t\n\x00\x00\x00\x04\x00\x00\x00\x00", "MPUB t"},
		{"MPUB empty body", mpub("t", []byte{}), "MPUB t\n\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00", "MPUB t"},
		{"NOP", Nop(), "NOP\n", "NOP"},
		{"PING", Ping(), "PING\n", "PING"},
		{"IDENTIFY", identify(map[string]interface{}{"b": 1, "a": true}), "IDENTIFY\n\x00\x00\x00\x10{\"a\":true,\"b\":1}", "IDENTIFY"},
		{"AUTH", auth, "AUTH\n\x00\x00\x00\x02s3", "AUTH"},
		{"empty params", &Command{Name: []byte("X"), Params: [][]byte{{}, {}}}, "X  \n", "X  "},
		{"no name", &Command{}, "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			n, err := tt.cmd.WriteTo(&b)
			if err != nil || n != int64(b.Len()) || b.String() != tt.wire {
				t.Errorf("WriteTo = %d, %v, wrote %q; want %d, nil, %q", n, err, b.String(), len(tt.wire), tt.wire)
			}
			if got := tt.cmd.String(); got != tt.label {
				t.Errorf("String = %q, want %q", got, tt.label)
			}
		})
	}
	if _, err := Identify(map[string]interface{}{"f": math.Inf(1)}); err == nil {
		t.Error("Identify of a value JSON cannot encode: no error")
	}
}

// TestPublicCommandMatchesProducer: the public constructors and the
// Producer's own encoder write the same bytes.
func TestPublicCommandMatchesProducer(t *testing.T) {
	bodies := [][]byte{[]byte("one"), bytes.Repeat([]byte("x"), 300)}
	m, _ := MultiPublish("topic", bodies)
	tests := []struct {
		public   *Command
		internal command
	}{
		{Publish("topic", []byte("body")), command{kind: cmdPUB, topic: "topic", body: []byte("body")}},
		{DeferredPublish("topic", 90*time.Second, []byte("b")), command{kind: cmdDPUB, topic: "topic", delay: 90 * time.Second, body: []byte("b")}},
		{m, command{kind: cmdMPUB, topic: "topic", bodies: bodies}},
		{Nop(), command{kind: cmdNOP}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		tt.public.WriteTo(&b)
		if want := tt.internal.appendTo(nil); !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s: public %q, Producer %q", tt.public, b.Bytes(), want)
		}
	}
}

// shortWriter accepts max bytes, then fails.
type shortWriter struct{ max int }

var errWriterFull = errors.New("writer full")

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(p) > w.max {
		n := w.max
		w.max = 0
		return n, errWriterFull
	}
	w.max -= len(p)
	return len(p), nil
}

// TestPublicCommandWriteError: WriteTo stops at the first error of the
// writer and counts what was written.
func TestPublicCommandWriteError(t *testing.T) {
	cmd := Publish("t", []byte("hello")) // line and size: 10 bytes, body: 5
	for _, tt := range []struct{ max, want int }{{0, 0}, {3, 3}, {10, 10}, {12, 12}} {
		n, err := cmd.WriteTo(&shortWriter{max: tt.max})
		if !errors.Is(err, errWriterFull) || n != int64(tt.want) {
			t.Errorf("writer of %d bytes: WriteTo = %d, %v; want %d, errWriterFull", tt.max, n, err, tt.want)
		}
	}
}
