package nsqpub

import (
	"cmp"
	"errors"
	"testing"
)

// TestFate pins the one decision about a transaction its connection left:
// the outcome it ends with, and whether it is sent again.
func TestFate(t *testing.T) {
	lost := errors.New("reading from nsqd: EOF")
	refusal := closedAfterError{"E_BAD_MESSAGE"} // nsqd refused another publish
	badMsg := &ServerError{Code: "E_BAD_MESSAGE", Message: "PUB message too big 6 > 5"}
	badTopic := &ServerError{Code: "E_BAD_TOPIC", Message: "PUB topic name is not valid"}
	server := func(code string) *ServerError { return &ServerError{Code: code, Message: "PUB failed exiting"} }
	tests := []struct {
		name        string
		l           leftover
		cause       error // lost unless set
		maybeQueued bool
		resends     int
		atLeastOnce bool
		want        Outcome
		again, free bool
		solo        bool
	}{
		{name: "refused alone", l: leftover{kind: leftRefused, serr: badMsg}, want: Rejected},
		{name: "refused merged, its body", l: leftover{kind: leftRefused, serr: badMsg, merged: true}, want: NotSent, again: true, free: true, solo: true},
		{name: "refused merged, its body, budget spent", l: leftover{kind: leftRefused, serr: badMsg, merged: true}, resends: maxResends, want: NotSent, again: true, free: true, solo: true},
		{name: "unauthorized", l: leftover{kind: leftRefused, serr: server("E_UNAUTHORIZED")}, want: Rejected},
		{name: "DPUB timeout out of range", l: leftover{kind: leftRefused, serr: server("E_INVALID")}, want: Rejected},
		{name: "PUB failed", l: leftover{kind: leftRefused, serr: server("E_PUB_FAILED")}, cause: refusal, want: NotSent, again: true},
		{name: "PUB failed, budget spent", l: leftover{kind: leftRefused, serr: server("E_PUB_FAILED")}, cause: refusal, resends: maxResends, want: NotSent},
		{name: "DPUB failed", l: leftover{kind: leftRefused, serr: server("E_DPUB_FAILED")}, want: NotSent, again: true},
		{name: "AUTH failed", l: leftover{kind: leftRefused, serr: server("E_AUTH_FAILED")}, want: NotSent, again: true},
		{name: "MPUB failed", l: leftover{kind: leftRefused, serr: server("E_MPUB_FAILED"), merged: true}, want: Unknown},
		{name: "MPUB failed, at least once", l: leftover{kind: leftRefused, serr: server("E_MPUB_FAILED")}, atLeastOnce: true, want: Unknown, again: true},
		{name: "unexecuted behind another's refusal, budget spent", l: leftover{kind: leftUnexecuted}, cause: refusal, resends: maxResends, want: NotSent, again: true, free: true},
		{name: "unwritten behind another's refusal, budget spent", l: leftover{kind: leftUnwritten}, cause: refusal, resends: maxResends, want: NotSent, again: true, free: true},
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
			tt.l.t = &tx{cmd: command{kind: cmdPUB, topic: "t", body: []byte("m")}, maybeQueued: tt.maybeQueued, resends: uint8(tt.resends)}
			err, again, free := p.fate(tt.l, cmp.Or(tt.cause, lost))
			if o := OutcomeOf(err); o != tt.want || again != tt.again || free != tt.free || tt.l.t.solo != tt.solo {
				t.Fatalf("fate: %v (%v), again %v, free %v, solo %v; want %v, again %v, free %v, solo %v",
					err, o, again, free, tt.l.t.solo, tt.want, tt.again, tt.free, tt.solo)
			}
			if tt.want == Unknown && errors.Is(err, ErrNotConnected) {
				t.Fatalf("%v: an unknown outcome must not read as ErrNotConnected (safe to resend)", err)
			}
			// nsqd's error is carried by the refusal of the command itself,
			// never by a member of a refused merged MPUB.
			var se *ServerError
			if carries := tt.l.kind == leftRefused && !(tt.l.merged && tt.l.serr == badMsg); errors.As(err, &se) != carries {
				t.Fatalf("%v: carries *ServerError %v, want %v", err, !carries, carries)
			}
		})
	}
}
