package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestRateLimitPaces checks that --rate paces the records, alone and with
// --balance (a lower bound on the duration only: record 19 is due 19/rate s
// after record 0).
func TestRateLimitPaces(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nodes   int
		extra   []string
		summary func(f []*fakeNSQD) string
	}{
		{"plain", 1, nil, func([]*fakeNSQD) string { return "nsqpub: published 20 records to 1 nsqd" }},
		{"balance", 2, []string{"--balance"}, func(f []*fakeNSQD) string {
			return fmt.Sprintf("nsqpub: published 20 records to 2 nsqd, balanced (%s: 10, %s: 10)", f[0].addr(), f[1].addr())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const rate = 50
			args := append([]string{"--topic", "t", "--rate", fmt.Sprint(rate)}, tc.extra...)
			addrs, fakes := nsqdAddrs(t, slices.Repeat([]bool{true}, tc.nodes))
			for _, addr := range addrs {
				args = append(args, "--nsqd-tcp-address", addr)
			}
			want, input := numbered("m", 20)
			start := time.Now()
			res := publish(t, input, args...)
			elapsed := time.Since(start)
			wantSuccess(t, res, tc.summary(fakes))
			wantBodiesAnyOrder(t, "t", want, fakes...)
			if least := 19 * time.Second / rate; elapsed < least {
				t.Errorf("20 records at --rate %d took %v, want at least %v", rate, elapsed, least)
			}
		})
	}
}

// TestPacerScheduleDoesNotDrift checks the rate schedule's arithmetic without
// sleeping.
func TestPacerScheduleDoesNotDrift(t *testing.T) {
	p := &pacer{rate: 3}
	start := time.Now()
	var last time.Time
	for i := range 3001 {
		// Always ready exactly at its slot: never late, so never re-anchored.
		now := start
		if i > 0 {
			now = last
		}
		last = p.next(now)
	}
	if got := last.Sub(start); got != 1000*time.Second {
		t.Errorf("record 3000 at rate 3 is due after %v, want exactly 1000s", got)
	}
	// A record arriving long after its slot starts a new schedule at once.
	late := last.Add(time.Minute)
	if got := p.next(late); !got.Equal(late) {
		t.Errorf("late record due %v after arrival, want 0", got.Sub(late))
	}
	if got := p.next(late); got.Sub(late) != time.Second/3 {
		t.Errorf("record after the restart due %v after it, want 1/3 s", got.Sub(late))
	}
}

// TestPacerCatchesUpSmallLateness checks that a record the input delivers
// a little late keeps the schedule, so the rate stays exact, while an input
// stall longer than pacerSlack restarts it. (A record delivered in time
// keeps its slot whenever the command gets to it: next only sees when the
// input had it.)
func TestPacerCatchesUpSmallLateness(t *testing.T) {
	p := &pacer{rate: 200} // a slot every 5 ms
	start := time.Now()
	p.next(start)
	late := start.Add(15*time.Millisecond + pacerSlack + time.Millisecond)
	for _, step := range []struct {
		what  string
		ready time.Time
		want  time.Time
	}{
		// Due at 5 ms but ready only at 30 ms: still on schedule.
		{"record 1, a little late", start.Add(30 * time.Millisecond), start.Add(5 * time.Millisecond)},
		{"record 2", start.Add(30 * time.Millisecond), start.Add(10 * time.Millisecond)},
		// Due at 15 ms, ready after a stall past the slack: a new anchor.
		{"record 3, after a stall", late, late},
		{"record 4", late, late.Add(5 * time.Millisecond)},
	} {
		if got := p.next(step.ready); !got.Equal(step.want) {
			t.Errorf("%s due at %v, want %v (from the start)", step.what, got.Sub(start), step.want.Sub(start))
		}
	}
}

// TestPacerWait checks that wait lets a record go at once without a rate,
// and reports false once the context has ended, with or without a rate.
func TestPacerWait(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		rate int64
		ctx  context.Context
		want bool
	}{
		{"no rate", 0, context.Background(), true},
		{"no rate, cancelled", 0, cancelled, false},
		// The record waited for is the second: due a second after the first.
		{"rate, cancelled while waiting", 1, cancelled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pacer{rate: tc.rate}
			now := time.Now()
			if tc.rate > 0 {
				p.next(now)
			}
			if got := p.wait(tc.ctx, now); got != tc.want {
				t.Errorf("wait = %v, want %v", got, tc.want)
			}
		})
	}
}
