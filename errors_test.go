package nsqpub

import (
	"errors"
	"testing"
)

func TestParseServerError(t *testing.T) {
	tests := []struct{ in, code, msg string }{
		{"E_BAD_MESSAGE PUB message too big 101 > 100", "E_BAD_MESSAGE", "PUB message too big 101 > 100"},
		{`E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "a:b" is not valid`, "E_BAD_TOPIC", `MPUB topic name "a:b" is not valid`},
		{"E_INVALID", "E_INVALID", ""},
		{"E_INVALID invalid command ", "E_INVALID", "invalid command "},
	}
	for _, tt := range tests {
		e := parseServerError([]byte(tt.in))
		if e.Code != tt.code || e.Message != tt.msg {
			t.Errorf("parse %q = (%q, %q), want (%q, %q)", tt.in, e.Code, e.Message, tt.code, tt.msg)
		}
	}
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		err  error
		want Outcome
	}{
		{nil, OK},
		{&ServerError{Code: "E_BAD_TOPIC"}, Rejected},
		{ErrEmptyBody, Rejected},
		{ErrStopped, NotSent},
		{ErrNotConnected, NotSent},
		{errors.Join(ErrUnknownOutcome, ErrStopped), Unknown},
	}
	for _, tt := range tests {
		if got := OutcomeOf(tt.err); got != tt.want {
			t.Errorf("OutcomeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
