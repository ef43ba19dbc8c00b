package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/nsqpub/nsqpub"
)

// TestSummaryCountsOutcomes checks that the summary counts as published only
// what nsqd acknowledged (by every nsqd without --balance), 0 when nothing
// was, and the failures by outcome, each with its first error: rejected by
// nsqd, not sent (nsqd unreachable, alone, beside a live one, or every one
// with --balance) and unknown (written, and the connection closed
// unanswered).
func TestSummaryCountsOutcomes(t *testing.T) {
	q := regexp.QuoteMeta
	notSent := q(nsqpub.ErrNotConnected.Error()) + `.*`
	unknown := q(nsqpub.ErrUnknownOutcome.Error()) + `.*`
	for _, tc := range []struct {
		name    string
		live    []bool // per --nsqd-tcp-address: a fake nsqd, or an address nothing listens on
		balance bool
		input   string                  // "bad" is rejected, "silent" left unanswered
		bodies  []string                // what each fake receives
		summary func(a []string) string // the regexp of the summary, given the addresses
	}{
		{"rejected", []bool{true}, false, "a\nbad\nb\n", []string{"a", "b"}, func(a []string) string {
			return q("nsqpub: published 2 records to 1 nsqd; failed: 1 rejected (first: stdin record 2 to " + a[0] +
				": nsqd: E_BAD_MESSAGE PUB rejected by the fake)")
		}},
		{"not sent", []bool{false}, false, "a\nb\nc\n", nil, func(a []string) string {
			return q("nsqpub: published 0 records to 1 nsqd; failed: 3 not sent (first: stdin record 1 to "+a[0]+": ") + notSent + `\)`
		}},
		{"unknown", []bool{true}, false, "silent\n", nil, func(a []string) string {
			return q("nsqpub: published 0 records to 1 nsqd; failed: 1 unknown (first: stdin record 1 to "+a[0]+": ") + unknown + `\)`
		}},
		{"every outcome", []bool{true, false}, false, "a\nbad\nsilent\n", []string{"a"}, func(a []string) string {
			return q("nsqpub: published 0 records to 2 nsqd ("+a[0]+": 1, "+a[1]+": 0); failed: 1 rejected (first: stdin record 2 to "+a[0]+
				": nsqd: E_BAD_MESSAGE PUB rejected by the fake), 3 not sent (first: stdin record 1 to "+a[1]+": ") + notSent +
				q("), 1 unknown (first: stdin record 3 to "+a[0]+": ") + unknown + `\)`
		}},
		{"balance, all dead", []bool{false, false}, true, "a\nb\nc\n", nil, func(a []string) string {
			return q("nsqpub: published 0 records to 2 nsqd, balanced ("+a[0]+": 0, "+a[1]+": 0); failed: 3 not sent (first: stdin record 1 to the nsqd pool "+
				a[0]+","+a[1]+": ") + notSent + `\)`
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
			for _, f := range fakes {
				f.badBodies("bad", "silent")
			}
			res := publish(t, tc.input, args...)
			lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
			summary := regexp.MustCompile("^" + tc.summary(addrs) + "$")
			if res.code != 1 || !summary.MatchString(lines[len(lines)-1]) {
				t.Errorf("exit %d, summary %q; want 1 and a match for %s", res.code, lines[len(lines)-1], summary)
			}
			for _, f := range fakes {
				wantBodies(t, f, "t", tc.bodies...)
			}
		})
	}
}

// TestTooBigRecordFailsAndTheRestArePublished checks that records over
// max_msg_size, which the library refuses, are counted as rejected, the
// first detailed with its length, and the others published.
func TestTooBigRecordFailsAndTheRestArePublished(t *testing.T) {
	f := newFakeNSQD(t)
	input := "short\nthis record is too long\nfine\n" + pattern(100<<10, 3) + "\nlast\n"
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--producer-opt", "max_msg_size,10")
	wantFailure(t, res, "nsqpub: published 3 records to 1 nsqd; failed: 2 rejected (first: stdin record 2 (23 bytes, of which nsqpub kept 11) to "+
		f.addr()+": "+nsqpub.ErrMessageTooLarge.Error()+": 11 > 10)")
	wantBodies(t, f, "t", "short", "fine", "last")
}
