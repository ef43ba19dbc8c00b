package nsqpub

import (
	"errors"
	"testing"
)

// TestFate pins the one decision about a transaction its connection left:
// the outcome it ends with, and whether it is sent again.
func TestFate(t *testing.T) {
	cause := errors.New("reading from nsqd: EOF")
	badMsg := &ServerError{Code: "E_BAD_MESSAGE", Message: "PUB message too big 6 > 5"}
	badTopic := &ServerError{Code: "E_BAD_TOPIC", Message: "PUB topic name is not valid"}
	tests := []struct {
		name        string
		l           leftover
		maybeQueued bool
		resends     int
		atLeastOnce bool
		want        Outcome
		again       bool
		solo        bool
	}{
		{name: "refused alone", l: leftover{kind: leftRefused, serr: badMsg}, want: Rejected},
		{name: "refused merged, its body", l: leftover{kind: leftRefused, serr: badMsg, merged: true}, want: NotSent, again: true, solo: true},
		{name: "refused merged, its topic", l: leftover{kind: leftRefused, serr: badTopic, merged: true}, want: Rejected},
		{name: "unwritten", l: leftover{kind: leftUnwritten}, want: NotSent, again: true},
		{name: "unwritten, budget spent", l: leftover{kind: leftUnwritten}, resends: maxResends, want: NotSent},
		{name: "unexecuted", l: leftover{kind: leftUnexecuted}, want: NotSent, again: true},
		{name: "unanswered", l: leftover{kind: leftUnanswered}, want: Unknown},
		{name: "unanswered, at least once", l: leftover{kind: leftUnanswered}, atLeastOnce: true, want: Unknown, again: true},
		{name: "unanswered, at least once, budget spent", l: leftover{kind: leftUnanswered}, atLeastOnce: true, resends: maxResends, want: Unknown},
		{name: "unwritten after an earlier write", l: leftover{kind: leftUnwritten}, maybeQueued: true, want: Unknown},
		{name: "unwritten after an earlier write, at least once", l: leftover{kind: leftUnwritten}, maybeQueued: true, atLeastOnce: true, want: Unknown, again: true},
		{name: "unwritten after an earlier write, budget spent", l: leftover{kind: leftUnwritten}, maybeQueued: true, atLeastOnce: true, resends: maxResends, want: Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProducer(t, "127.0.0.1:1", &Config{AtLeastOnce: tt.atLeastOnce})
			tt.l.t = &tx{cmd: command{kind: cmdPUB, topic: "t", body: []byte("m")}, maybeQueued: tt.maybeQueued, resends: tt.resends}
			err, again := p.fate(tt.l, cause)
			if o := OutcomeOf(err); o != tt.want || again != tt.again || tt.l.t.solo != tt.solo {
				t.Fatalf("fate: %v (%v), again %v, solo %v; want %v, again %v, solo %v",
					err, o, again, tt.l.t.solo, tt.want, tt.again, tt.solo)
			}
			if tt.want == Unknown && errors.Is(err, ErrNotConnected) {
				t.Fatalf("%v: an unknown outcome must not read as ErrNotConnected (safe to resend)", err)
			}
			var se *ServerError
			if errors.As(err, &se) != (tt.want == Rejected) {
				t.Fatalf("%v: only a refusal of the command itself carries *ServerError", err)
			}
		})
	}
}
