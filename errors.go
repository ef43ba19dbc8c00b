package nsqpub

import (
	"bytes"
	"errors"
	"fmt"
)

// Every error a publish can end with, and how to classify it.
//
// Message policy: nsqpub's sentinel errors carry no package prefix, as
// go-nsq's do ("not connected", "stopped"), so that a wrapped chain reads
// once from left to right: "not connected: not sent: dial tcp ...: connection
// refused". Errors from lower layers keep their own prefix (net, tls, flate,
// snappy), and nsqd's own words are marked "nsqd:". Test with errors.Is and
// errors.As, never with strings.

// Errors a publish can end with after it was accepted for sending.
var (
	// ErrNotConnected means nsqd did not execute the command: the connection
	// could not be made, or it ended before the command was written, or nsqd
	// closed it after an earlier command's error. The same meaning as
	// go-nsq's; the wrapping error says which. Safe to send again.
	ErrNotConnected = errors.New("not connected")
	// ErrStopped means the Producer was stopped.
	ErrStopped = errors.New("stopped")
	// ErrUnknownOutcome means the command was written but the connection
	// ended (or the caller's context did) before nsqd answered: the message
	// may or may not have been queued.
	ErrUnknownOutcome = errors.New("outcome unknown: written but not answered")
	// ErrNoHealthyNode is wrapped by the error of a pool publish when every
	// node failed recently and is waiting out its backoff. Such a publish
	// was not sent (OutcomeOf says NotSent).
	ErrNoHealthyNode = errors.New("no healthy nsqd node")
	// ErrInvalidConfig is wrapped by every error that Config.Set,
	// Config.Validate and NewProducer return for a bad configuration.
	ErrInvalidConfig = errors.New("invalid config")
)

// Errors go-nsq v1.1.0 exports, kept with its texts so that code naming
// them compiles. nsqpub's Producer never returns them: it has no
// ConnectToNSQD, no closing state a publish can meet (a publish after Stop
// gets ErrStopped) and no consumer's max-in-flight.
var (
	// ErrClosing is go-nsq's error for a connection that is closing.
	ErrClosing = errors.New("closing")
	// ErrAlreadyConnected is go-nsq's error for a Consumer's ConnectToNSQD
	// to an nsqd it is already connected to.
	ErrAlreadyConnected = errors.New("already connected")
	// ErrOverMaxInFlight is go-nsq's error for a Consumer over its
	// max-in-flight.
	ErrOverMaxInFlight = errors.New("over configure max-inflight")
)

// ErrIdentify is the error of a connection whose IDENTIFY exchange failed:
// nsqd refused IDENTIFY (Reason is then its error frame as sent, such as
// "E_BAD_BODY IDENTIFY heartbeat interval (30000) is invalid"), its reply
// could not be read or parsed, or an upgrade it granted (TLS, snappy,
// deflate) failed. A publish that needed the connection returns it as is,
// so go-nsq code's err.(ErrIdentify) matches; it also wraps ErrNotConnected
// (nothing was sent) and the cause, so errors.Is(err, ErrNotConnected) holds
// and errors.As finds a *ServerError when nsqd refused.
type ErrIdentify struct {
	Reason string
	err    error // ErrNotConnected, wrapping the cause
}

// Error returns go-nsq's text: "failed to IDENTIFY - " and the reason.
func (e ErrIdentify) Error() string { return "failed to IDENTIFY - " + e.Reason }

// Unwrap returns the error chain behind the failure: ErrNotConnected
// wrapping where it failed and why.
func (e ErrIdentify) Unwrap() error { return e.err }

// ErrProtocol is go-nsq's error for what nsqd answered with something
// other than OK, in two cases:
//   - nsqd refused the publish with an error frame: the value returned is
//     ErrProtocol{Reason: the frame}, as go-nsq returns it, so that go-nsq
//     code's err.(ErrProtocol) matches; it wraps the *ServerError, and
//     errors.As finds that too;
//   - bytes from nsqd that do not follow the NSQ protocol: a frame too large
//     or too small, an unknown frame type, an unexpected reply, a reply that
//     is not the JSON it should be. The connection is closed.
//
// Reason says what was wrong; Unwrap returns the *ServerError or the
// decoding error, if any. Test for it with errors.As.
type ErrProtocol struct {
	Reason string
	err    error
}

// Error returns nsqd's error frame ("nsqd: E_BAD_TOPIC ...") for a refusal,
// and "protocol error: " and the reason otherwise.
func (e ErrProtocol) Error() string {
	if se, ok := e.err.(*ServerError); ok {
		return se.Error()
	}
	return "protocol error: " + e.Reason
}

// Unwrap returns the *ServerError or the decoding error behind it, or nil.
func (e ErrProtocol) Unwrap() error { return e.err }

// refusedError returns nsqd's refusal of a publish as go-nsq returns it.
func refusedError(se *ServerError) error {
	return ErrProtocol{Reason: se.frame(), err: se}
}

// protocolErrorf returns an ErrProtocol whose Reason is formatted as
// fmt.Errorf would, wrapping the error of a %w verb, if any.
func protocolErrorf(format string, args ...any) error {
	e := fmt.Errorf(format, args...)
	return ErrProtocol{Reason: e.Error(), err: errors.Unwrap(e)}
}

// Errors that reject a publish before anything is sent, each wrapped with the
// details (test with errors.Is): a topic that is not 1-64 characters of
// [.a-zA-Z0-9_-], optionally ending in #ephemeral; an empty body (nsqd
// refuses those); a body over Config.MaxMsgSize or over the --max-msg-size
// nsqd stated when it refused one; an MPUB of no messages; an MPUB body over
// Config.MaxBodySize or the --max-body-size nsqd stated; a DeferredPublish
// delay below 0 or over Config.MaxDeferDelay.
var (
	ErrInvalidTopic, ErrEmptyBody = errors.New("invalid topic name"), errors.New("empty message body")
	ErrMessageTooLarge            = errors.New("message body larger than MaxMsgSize")
	ErrEmptyBatch                 = errors.New("MultiPublish with no messages")
	ErrBatchTooLarge              = errors.New("MultiPublish body larger than MaxBodySize")
	ErrInvalidDelay               = errors.New("DeferredPublish delay out of range")
)

// validationErrors are the errors of publishes rejected before sending.
var validationErrors = []error{ErrInvalidTopic, ErrEmptyBody, ErrMessageTooLarge, ErrEmptyBatch, ErrBatchTooLarge, ErrInvalidDelay}

// ServerError is an error frame sent by nsqd, such as
// "E_BAD_TOPIC PUB topic name "a:b" is not valid". nsqd closes the connection
// after every error it sends a producer. Use errors.As to inspect it.
type ServerError struct {
	// Code is the error code, for example "E_BAD_MESSAGE".
	Code string
	// Message is the rest of the frame, for example "PUB message too big 101 > 100".
	Message string
}

// Error returns the frame as nsqd sent it, prefixed with "nsqd: ".
func (e *ServerError) Error() string { return "nsqd: " + e.frame() }

// frame returns the error frame as nsqd sent it (without a repeated code):
// the Reason go-nsq gives its ErrIdentify and ErrProtocol.
func (e *ServerError) frame() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + " " + e.Message
}

// parseServerError splits an error frame's data into code and message.
// nsqd v1.3.0 repeats the code for a bad MPUB topic ("E_BAD_TOPIC E_BAD_TOPIC
// MPUB ..."); the repetition is dropped.
func parseServerError(data []byte) *ServerError {
	code, msg, _ := bytes.Cut(data, []byte(" "))
	if len(msg) > len(code) && bytes.HasPrefix(msg, code) && msg[len(code)] == ' ' {
		msg = msg[len(code)+1:]
	}
	return &ServerError{Code: string(code), Message: string(msg)}
}

// closedAfterError is the final error of a connection that nsqd closed after
// sending an error frame. It describes that frame but does not wrap it, so
// that only the command the frame answered matches *ServerError.
type closedAfterError struct{ code string }

func (e closedAfterError) Error() string {
	return "nsqd closed the connection after an error reply (" + e.code + ")"
}

// afterRefusal reports whether err ended a connection that nsqd closed
// after refusing a command.
func afterRefusal(err error) bool {
	var r closedAfterError
	return errors.As(err, &r)
}

// Outcome says what became of a publish, from its error.
type Outcome int

// The outcomes of a publish.
const (
	// OK: nsqd answered OK; the message is queued.
	OK Outcome = iota
	// Rejected: refused, by local validation before anything was sent or by
	// nsqd (*ServerError); nsqd did not queue it, and sending it again would
	// fail the same way.
	Rejected
	// NotSent: nsqd did not execute it (no connection, stopped, cancelled
	// before it was written, or behind another command's error); safe to
	// send again.
	NotSent
	// Unknown: written, but the connection or the caller's context ended
	// before nsqd answered; nsqd may hold it.
	Unknown
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Rejected:
		return "rejected"
	case NotSent:
		return "not sent"
	case Unknown:
		return "unknown"
	}
	return "invalid"
}

// OutcomeOf classifies the error returned by a publish (or carried by a
// ProducerTransaction): nil is OK; ErrUnknownOutcome is Unknown; a
// validation error, or a *ServerError answering the command itself, is
// Rejected; anything else (ErrNotConnected, ErrStopped, a context that ended
// before the command was written) is NotSent.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OK
	}
	if errors.Is(err, ErrUnknownOutcome) {
		return Unknown
	}
	if errors.Is(err, ErrNotConnected) || errors.Is(err, ErrStopped) {
		return NotSent
	}
	var se *ServerError
	if errors.As(err, &se) {
		return Rejected
	}
	for _, v := range validationErrors {
		if errors.Is(err, v) {
			return Rejected
		}
	}
	return NotSent
}
