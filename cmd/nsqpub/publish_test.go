package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestEveryRecordGoesToEveryNSQD checks the fan-out: each nsqd receives every
// record, in order, and a repeated address is one nsqd, as in to_nsq.
func TestEveryRecordGoesToEveryNSQD(t *testing.T) {
	f1, f2 := newFakeNSQD(t), newFakeNSQD(t)
	want, input := numbered("record", 300)
	res := publish(t, input, "--topic", "t",
		"--nsqd-tcp-address", f1.addr(), "--nsqd-tcp-address", f2.addr(), "--nsqd-tcp-address", f1.addr())
	wantSuccess(t, res, "nsqpub: published 300 records to 2 nsqd")
	wantBodies(t, f1, "t", want...)
	wantBodies(t, f2, "t", want...)
}

// TestBalance checks --balance: each record goes to one nsqd, alternately
// (round-robin) or to the first healthy one (failover), a dead nsqd is
// skipped at no cost, and the summary says how many each acknowledged.
func TestBalance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		live  []bool // per --nsqd-tcp-address: a fake nsqd, or an address nothing listens on
		extra []string
		count []int // messages each nsqd acknowledges
	}{
		{"round-robin", []bool{true, true}, nil, []int{150, 150}},
		{"dead nsqd skipped", []bool{false, true}, nil, []int{0, 300}},
		{"failover", []bool{true, true}, []string{"--balance-strategy", "failover"}, []int{300, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--topic", "t", "--balance"}, tc.extra...)
			addrs, fakes := nsqdAddrs(t, tc.live)
			var per []string
			for i, addr := range addrs {
				args = append(args, "--nsqd-tcp-address", addr)
				per = append(per, fmt.Sprintf("%s: %d", addr, tc.count[i]))
			}
			want, input := numbered("r", 300)
			res := publish(t, input, args...)
			wantSuccess(t, res, fmt.Sprintf("nsqpub: published 300 records to 2 nsqd, balanced (%s)", strings.Join(per, ", ")))
			wantBodiesAnyOrder(t, "t", want, fakes...)
		})
	}
}

// TestWindows checks that windows smaller than the input keep every
// record: max_queued,8 bounds the publishes awaiting their result to 8, and
// a 100 KiB byte window holds two 40 KiB records, so the publisher must
// collect results to go on; a record bigger than the whole window still
// goes out on its own.
func TestWindows(t *testing.T) {
	small, smallInput := numbered("n", 5000)
	var big []string
	for i := range 50 {
		big = append(big, pattern(40<<10, byte(i)))
	}
	big = append(big, pattern(300<<10, 7), "tail")
	for _, tc := range []struct {
		name        string
		input       string
		extra       []string
		windowBytes int
		want        []string
	}{
		{"publishes", smallInput, []string{"--producer-opt", "max_queued,8"}, maxWindowBytes, small},
		{"bytes", strings.Join(big, "\n"), nil, 100 << 10, big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(old int) { maxWindowBytes = old }(maxWindowBytes)
			maxWindowBytes = tc.windowBytes
			f := newFakeNSQD(t)
			res := publish(t, tc.input, append([]string{"--topic", "t", "--nsqd-tcp-address", f.addr()}, tc.extra...)...)
			wantSuccess(t, res, fmt.Sprintf("nsqpub: published %d records to 1 nsqd", len(tc.want)))
			wantBodies(t, f, "t", tc.want...)
		})
	}
}

// TestMergedPublishesStayWithinMaxBodySize checks that max_body_size
// reaches the library, which writes the records that wait together as one
// MPUB no bigger than that.
func TestMergedPublishesStayWithinMaxBodySize(t *testing.T) {
	f := newFakeNSQD(t)
	var want []string
	for i := range 1000 {
		want = append(want, pattern(100, byte(i)))
	}
	// 4 + 4×(4+100) = 420 <= 500 < 4 + 5×(4+100): at most four records per MPUB.
	res := publish(t, strings.Join(want, "\n"), "--topic", "t", "--nsqd-tcp-address", f.addr(),
		"--producer-opt", "max_body_size,500")
	wantSuccess(t, res, "nsqpub: published 1000 records to 1 nsqd")
	wantBodies(t, f, "t", want...)
	cmds := f.commands()
	for i, n := range cmds {
		if n > 4 {
			t.Fatalf("command %d carried %d messages, want at most 4", i, n)
		}
	}
	t.Logf("1000 records in %d commands", len(cmds))
}

// TestRejectedRecordFailsAlone checks that when nsqd refuses a record larger
// than any it accepted, as it refuses one over its --max-msg-size, only that
// record fails, and the summary names it.
func TestRejectedRecordFailsAlone(t *testing.T) {
	f := newFakeNSQD(t)
	f.badBodies("bad-and-bigger", "")
	recs, input := numbered("r", 200)
	input += "bad-and-bigger\n" + input
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr())
	wantFailure(t, res, "nsqpub: published 400 records to 1 nsqd; failed: 1 rejected (first: stdin record 201 to "+f.addr()+
		": nsqd: E_BAD_MESSAGE PUB rejected by the fake)")
	wantBodiesAnyOrder(t, "t", append(recs, recs...), f)
}
