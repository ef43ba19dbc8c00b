package nsqpub

import (
	"errors"
	"fmt"
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

// anyProtocolError stands in test tables for "an ErrProtocol, whatever its
// reason"; matches tells it apart.
var anyProtocolError error = ErrProtocol{}

// matches reports whether err is want: any ErrProtocol for
// anyProtocolError (errors.As), errors.Is otherwise.
func matches(err, want error) bool {
	if want == anyProtocolError {
		return errors.As(err, new(ErrProtocol))
	}
	return errors.Is(err, want)
}

// TestGoNSQErrorTexts: the errors go-nsq exports have its texts.
func TestGoNSQErrorTexts(t *testing.T) {
	cause := &ServerError{Code: "E_BAD_BODY", Message: "IDENTIFY heartbeat interval (30000) is invalid"}
	tests := []struct {
		err  error
		text string
	}{
		{ErrNotConnected, "not connected"},
		{ErrStopped, "stopped"},
		{ErrClosing, "closing"},
		{ErrAlreadyConnected, "already connected"},
		{ErrOverMaxInFlight, "over configure max-inflight"},
		{ErrIdentify{Reason: "E_BAD_BODY IDENTIFY heartbeat interval (30000) is invalid", err: cause},
			"failed to IDENTIFY - E_BAD_BODY IDENTIFY heartbeat interval (30000) is invalid"},
		{protocolErrorf("unexpected frame type %d", 7), "protocol error: unexpected frame type 7"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.text {
			t.Errorf("%T: Error() = %q, want %q", tt.err, got, tt.text)
		}
	}
	if VERSION != Version {
		t.Errorf("VERSION = %q, want Version %q", VERSION, Version)
	}
}

// TestErrorTypesUnwrap: ErrIdentify and ErrProtocol, however deeply
// wrapped, are found by errors.As, and reveal their causes.
func TestErrorTypesUnwrap(t *testing.T) {
	se := &ServerError{Code: "E_BAD_BODY"}
	idErr := error(ErrIdentify{Reason: "E_BAD_BODY", err: fmt.Errorf("%w: handshake: %w", ErrNotConnected, se)})
	wrapped := fmt.Errorf("%w (next attempt in 1s)", idErr)
	var gotID ErrIdentify
	var gotSE *ServerError
	if !errors.As(wrapped, &gotID) || gotID.Reason != "E_BAD_BODY" || !errors.Is(wrapped, ErrNotConnected) ||
		!errors.As(wrapped, &gotSE) || gotSE != se || OutcomeOf(wrapped) != NotSent {
		t.Errorf("wrapped ErrIdentify %v: As %v, Is ErrNotConnected %v", wrapped, gotID, errors.Is(wrapped, ErrNotConnected))
	}
	jsonErr := errors.New("bad JSON")
	pe := fmt.Errorf("reading: %w", protocolErrorf("IDENTIFY reply: %w", jsonErr))
	var gotPE ErrProtocol
	if !errors.As(pe, &gotPE) || gotPE.Reason != "IDENTIFY reply: bad JSON" || !errors.Is(pe, jsonErr) {
		t.Errorf("wrapped ErrProtocol %v: As %+v", pe, gotPE)
	}
	if errors.Unwrap(protocolErrorf("no cause")) != nil {
		t.Error("ErrProtocol without %w unwraps to something")
	}
}
