package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nsqpub/nsqpub"
)

// TestErrorKind checks how failures are grouped in the summary.
func TestErrorKind(t *testing.T) {
	badTopic := &nsqpub.ServerError{Code: "E_BAD_TOPIC", Message: "x"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: dial: refused", nsqpub.ErrNotConnected), nsqpub.ErrNotConnected.Error()},
		{fmt.Errorf("%w: %w", nsqpub.ErrUnknownOutcome, nsqpub.ErrStopped), nsqpub.ErrUnknownOutcome.Error()},
		{fmt.Errorf("%w: %w", nsqpub.ErrUnknownOutcome, badTopic), nsqpub.ErrUnknownOutcome.Error()},
		{badTopic, "nsqd E_BAD_TOPIC"},
		{fmt.Errorf("%w: 11 > 10", nsqpub.ErrMessageTooLarge), nsqpub.ErrMessageTooLarge.Error()},
		{fmt.Errorf("%w: %w: a: refused", nsqpub.ErrNotConnected, nsqpub.ErrNoHealthyNode), nsqpub.ErrNoHealthyNode.Error()},
		{nsqpub.ErrStopped, nsqpub.ErrStopped.Error()},
		{fmt.Errorf("%w: IDENTIFY reply", nsqpub.ErrProtocol), nsqpub.ErrProtocol.Error()},
		{errInterrupted, errInterrupted.Error()},
		{errNoResult, errNoResult.Error()},
		{errors.New("odd"), "odd"},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestUnreachableNSQD checks that an nsqd that refuses connections fails
// every record sent to it, without hanging and without keeping the records
// from a live nsqd.
func TestUnreachableNSQD(t *testing.T) {
	for _, tc := range []struct {
		name    string
		live    []bool // per --nsqd-tcp-address: a fake nsqd, or an address nothing listens on
		balance bool
		summary func(addrs []string) string
	}{
		{"one dead", []bool{false}, false, func([]string) string {
			return "nsqpub: published 3 records to 1 nsqd (3 failed: 3 " + nsqpub.ErrNotConnected.Error() + ")"
		}},
		{"one dead of two", []bool{false, true}, false, func([]string) string {
			return "nsqpub: published 3 records to 2 nsqd (3 failed: 3 " + nsqpub.ErrNotConnected.Error() + ")"
		}},
		{"balance, all dead", []bool{false, false}, true, func(addrs []string) string {
			return fmt.Sprintf("nsqpub: published 3 records to 2 nsqd, balanced (%s: 0, %s: 0) (3 failed: 3 %s)",
				addrs[0], addrs[1], nsqpub.ErrNoHealthyNode.Error())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--topic", "t"}
			if tc.balance {
				args = append(args, "--balance")
			}
			addrs, fakes := nsqdAddrs(t, tc.live)
			for _, addr := range addrs {
				args = append(args, "--nsqd-tcp-address", addr)
			}
			res := publish(t, "a\nb\nc\n", args...)
			wantFailure(t, res, tc.summary(addrs))
			for _, f := range fakes {
				wantBodies(t, f, "t", "a", "b", "c")
			}
		})
	}
}

// TestTooBigRecordFailsAndTheRestArePublished checks that records over
// max_msg_size are counted as failed, the first detailed, and the others
// published.
func TestTooBigRecordFailsAndTheRestArePublished(t *testing.T) {
	f := newFakeNSQD(t)
	input := "short\nthis record is too long\nfine\n" + pattern(100<<10, 3) + "\nlast\n"
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--producer-opt", "max_msg_size,10")
	wantFailure(t, res, "nsqpub: published 5 records to 1 nsqd (2 failed: 2 "+nsqpub.ErrMessageTooLarge.Error()+")")
	if !strings.Contains(res.stderr, "stdin record 2 to "+f.addr()) || !strings.Contains(res.stderr, "23 > 10") {
		t.Errorf("stderr does not detail the first failure:\n%s", res.stderr)
	}
	wantBodies(t, f, "t", "short", "fine", "last")
}
