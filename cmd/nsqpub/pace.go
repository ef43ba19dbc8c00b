package main

import (
	"context"
	"time"
)

// pacerSlack is how late the input may deliver a record before the rate
// schedule restarts from its arrival instead of catching up.
const pacerSlack = 50 * time.Millisecond

// pacer releases records at a fixed rate: record i of a schedule is due
// i/rate seconds after the schedule's anchor, computed exactly from it, so
// rounding never accumulates.
type pacer struct {
	rate   int64     // records per second; 0 means no limit
	n      int64     // records released so far
	base   int64     // n when the schedule was anchored
	anchor time.Time // when the schedule started
}

// due returns when record i (i >= base) is due.
func (p *pacer) due(i int64) time.Time {
	k := i - p.base
	return p.anchor.Add(time.Duration(k/p.rate)*time.Second + time.Duration(k%p.rate)*time.Second/time.Duration(p.rate))
}

// next returns when the next record may be released, given that the input
// had it at ready. The first record, or one the input delivered more than
// pacerSlack after its slot, anchors a new schedule at ready. A record the
// input delivered in time keeps its slot however late the command itself
// gets to it (a busy machine): the schedule then catches up.
func (p *pacer) next(ready time.Time) time.Time {
	if p.n == 0 || ready.Sub(p.due(p.n)) > pacerSlack {
		p.anchor, p.base = ready, p.n
	}
	t := p.due(p.n)
	p.n++
	return t
}

// wait blocks until the next record, which the input had at ready, is due
// (at once without a rate). It reports false if ctx ended first.
func (p *pacer) wait(ctx context.Context, ready time.Time) bool {
	if p.rate <= 0 {
		return ctx.Err() == nil
	}
	d := time.Until(p.next(ready))
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
