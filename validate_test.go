package nsqpub

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestIsValidName: topic and channel names follow one rule, go-nsq's and
// nsqd's.
func TestIsValidName(t *testing.T) {
	valid := []string{"a", "A.b_c-9", strings.Repeat("x", 64), "t#ephemeral", strings.Repeat("x", 54) + "#ephemeral"}
	invalid := []string{"", strings.Repeat("x", 65), strings.Repeat("x", 55) + "#ephemeral", "#ephemeral", "a:b", "a b", "a#b", "a#ephemeral#ephemeral", "tópico", "a\n"}
	for name, isValid := range map[string]func(string) bool{"IsValidTopicName": IsValidTopicName, "IsValidChannelName": IsValidChannelName} {
		for _, n := range valid {
			if !isValid(n) {
				t.Errorf("%s(%q) = false, want true", name, n)
			}
		}
		for _, n := range invalid {
			if isValid(n) {
				t.Errorf("%s(%q) = true, want false", name, n)
			}
		}
	}
}

// TestValidationSendsNothing: every invalid publish returns its error and
// writes no byte; the connection and a valid publish after it are untouched.
func TestValidationSendsNothing(t *testing.T) {
	f, p := fakeProducer(t, &Config{MaxMsgSize: 10, MaxBodySize: 4 + 2*(4+10), MaxDeferDelay: time.Minute})
	big := bytes.Repeat([]byte("x"), 11)
	ok := []byte("ok")
	done := make(chan *ProducerTransaction, 1)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"empty topic", func() error { return p.Publish("", ok) }, ErrInvalidTopic},
		{"topic 65 chars", func() error { return p.Publish(strings.Repeat("a", 65), ok) }, ErrInvalidTopic},
		{"topic with colon", func() error { return p.Publish("a:b", ok) }, ErrInvalidTopic},
		{"topic with space", func() error { return p.Publish("a b", ok) }, ErrInvalidTopic},
		{"topic with newline", func() error { return p.Publish("a\nPUB b", ok) }, ErrInvalidTopic},
		{"only #ephemeral", func() error { return p.Publish("#ephemeral", ok) }, ErrInvalidTopic},
		{"bad suffix", func() error { return p.Publish("a#other", ok) }, ErrInvalidTopic},
		{"non-ASCII topic", func() error { return p.Publish("tópico", ok) }, ErrInvalidTopic},
		{"nil body", func() error { return p.Publish("t", nil) }, ErrEmptyBody},
		{"empty body", func() error { return p.Publish("t", []byte{}) }, ErrEmptyBody},
		{"body too big", func() error { return p.Publish("t", big) }, ErrMessageTooLarge},
		{"async body too big", func() error { return p.PublishAsync("t", big, done) }, ErrMessageTooLarge},
		{"async bad topic", func() error { return p.PublishAsync("a:b", ok, done) }, ErrInvalidTopic},
		{"MPUB nil", func() error { return p.MultiPublish("t", nil) }, ErrEmptyBatch},
		{"MPUB empty", func() error { return p.MultiPublish("t", [][]byte{}) }, ErrEmptyBatch},
		{"MPUB empty member", func() error { return p.MultiPublish("t", [][]byte{ok, {}}) }, ErrEmptyBody},
		{"MPUB member too big", func() error { return p.MultiPublish("t", [][]byte{ok, big}) }, ErrMessageTooLarge},
		{"MPUB body too big", func() error { return p.MultiPublish("t", [][]byte{big[:10], big[:10], big[:10]}) }, ErrBatchTooLarge},
		{"MPUB bad topic", func() error { return p.MultiPublish("", [][]byte{ok}) }, ErrInvalidTopic},
		{"MPUB async empty", func() error { return p.MultiPublishAsync("t", nil, done) }, ErrEmptyBatch},
		{"DPUB negative", func() error { return p.DeferredPublish("t", -time.Millisecond, ok) }, ErrInvalidDelay},
		{"DPUB too long", func() error { return p.DeferredPublish("t", time.Minute+time.Millisecond, ok) }, ErrInvalidDelay},
		{"DPUB async too long", func() error { return p.DeferredPublishAsync("t", time.Hour, ok, done) }, ErrInvalidDelay},
		{"DPUB empty body", func() error { return p.DeferredPublish("t", time.Second, nil) }, ErrEmptyBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Nothing was sent: not even a connection was made. Now publish one valid
	// message; it is the first and only command the server sees.
	c := f.publishOK(p, nil, "t", "ok")
	// On the live connection too, invalid publishes write nothing.
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.want) {
			t.Fatalf("%s: err = %v", tt.name, err)
		}
	}
	f.publishOK(p, c, "t", "ok2")
	if len(done) != 0 {
		t.Fatal("a rejected async publish sent a result")
	}
}
