package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/nsqpub/nsqpub"
)

// maxWindow is how many publishes per nsqd may await their result: enough
// records in flight for the library to write them as large MPUBs and keep
// nsqd busy (with 1024, 100-byte records go at about two thirds of the
// pace).
const maxWindow = 16384

// maxWindowBytes bounds the bytes of the publishes awaiting their result per
// nsqd (one record is always allowed), so that big records cannot hold
// maxWindow × MaxMsgSize in memory. A variable so that tests can lower it.
var maxWindowBytes = 64 << 20

// sink is where records are published: a Producer for one nsqd (fan-out,
// one per nsqd) or the ProducerPool over all of them (--balance).
type sink interface {
	PublishAsync(topic string, body []byte, done chan *nsqpub.ProducerTransaction, args ...interface{}) error
	Stop()
}

// publisher hands each record to its sinks with PublishAsync and tallies
// the results. What to do with a publish (merge it, resend it, refuse it)
// is the library's decision; the publisher only counts what each result
// says, by nsqpub.OutcomeOf.
type publisher struct {
	topic  string
	sinks  []sink
	names  []string                           // per sink, for messages
	pool   *nsqpub.ProducerPool               // the only sink with --balance, else nil
	done   []chan *nsqpub.ProducerTransaction // per sink, capacity window
	out    []int                              // per sink, publishes awaiting their result
	outB   []int                              // per sink, the bytes of those publishes
	acks   []int64                            // per sink, records it acknowledged
	window int
	keep   int // bytes kept of a record (see newPublisher)
	errw   *errWriter

	records   atomic.Int64 // records taken from the input and handed on
	published atomic.Int64 // records every sink acknowledged
	failed    atomic.Int64 // record publishes that failed
	fails     [nsqpub.Unknown + 1]tally
}

// newPublisher returns a publisher of topic to sinks, named by names in
// messages, configured as cfg.
func newPublisher(topic string, sinks []sink, names []string, cfg *nsqpub.Config, stderr io.Writer) *publisher {
	p := &publisher{
		topic:  topic,
		sinks:  sinks,
		names:  names,
		window: maxWindow,
		errw:   &errWriter{w: stderr},
		out:    make([]int, len(sinks)),
		outB:   make([]int, len(sinks)),
		acks:   make([]int64, len(sinks)),
	}
	if q := cfg.MaxQueued; q > 0 && q < p.window {
		// Never more outstanding than the library queues: PublishAsync then
		// never blocks on a full queue.
		p.window = q
	}
	// The library refuses a message over MaxMsgSize, so a longer record is
	// kept only up to one byte past it, which bounds the memory a record
	// takes and is still refused.
	maxMsg := cfg.MaxMsgSize
	if maxMsg <= 0 {
		maxMsg = nsqpub.DefaultMaxMsgSize
	}
	p.keep = maxMsg + 1
	for range sinks {
		p.done = append(p.done, make(chan *nsqpub.ProducerTransaction, p.window))
	}
	return p
}

// run reads the inputs and publishes every record until the inputs end or
// ctx does, then collects every result (see finish), prints the summary and
// returns the exit status: 1 if a publish failed, an input could not be
// read, or ctx ended with input left unread.
func (p *publisher) run(ctx context.Context, inputs []string, stdin io.Reader, delim byte, rate int64) int {
	chunks := make(chan chunk, 4)
	quit := make(chan struct{})
	go readInputs(inputs, stdin, delim, p.keep, chunks, quit)
	stopProgress := p.startProgress()
	inputErrs, unread := p.publishAll(ctx, chunks, &pacer{rate: rate})
	close(quit)
	p.finish(ctx)
	stopProgress()
	p.summary(unread)
	if p.failed.Load() > 0 || inputErrs > 0 || unread {
		return 1
	}
	return 0
}

// publishAll publishes the records of chunks at pace's rate until chunks
// closes, which the reader does at the end of the last input, or until ctx
// ends. It returns how many inputs could not be read, and whether ctx
// ended with input left unread: a record not handed on, or chunks still
// open.
func (p *publisher) publishAll(ctx context.Context, chunks <-chan chunk, pace *pacer) (inputErrs int, unread bool) {
	for {
		var c chunk
		var ok bool
		select {
		case c, ok = <-chunks:
			if !ok {
				return inputErrs, false
			}
		case <-ctx.Done():
			return inputErrs, !ended(chunks)
		}
		if c.err != nil {
			p.errw.printf("nsqpub: %v\n", c.err)
			inputErrs++
		}
		for i := range c.recs {
			if !pace.wait(ctx, c.at) {
				return inputErrs, true
			}
			if !p.add(ctx, &c.recs[i]) {
				return inputErrs, i+1 < len(c.recs) || !ended(chunks)
			}
		}
		p.collect()
	}
}

// ended reports whether chunks is closed and empty: the reader has read
// every input to its end and every record was taken.
func ended(chunks <-chan chunk) bool {
	select {
	case _, ok := <-chunks:
		return !ok
	default:
		return false
	}
}

// add publishes one record to every sink. It reports false if ctx ended
// while it waited for a window; the sinks it could not hand the record to
// then count it as not sent.
func (p *publisher) add(ctx context.Context, r *record) bool {
	p.records.Add(1)
	for j := range p.sinks {
		if !p.publishTo(ctx, j, r) {
			err := fmt.Errorf("interrupted before it was published: %w", context.Cause(ctx))
			for k := j; k < len(p.sinks); k++ {
				p.fail(k, r.where(), 1, err)
			}
			return false
		}
	}
	return true
}

// publishTo hands r to sink j, first collecting results while j's window
// (maxWindow publishes, maxWindowBytes bytes) is full. It reports false,
// having published nothing, if ctx ended while it waited.
func (p *publisher) publishTo(ctx context.Context, j int, r *record) bool {
	for p.out[j] >= p.window || (p.out[j] > 0 && p.outB[j]+len(r.body) > maxWindowBytes) {
		select {
		case t := <-p.done[j]:
			p.result(j, t)
		case <-ctx.Done():
			return false
		}
	}
	if err := p.sinks[j].PublishAsync(p.topic, r.body, p.done[j], r); err != nil {
		p.fail(j, r.where(), 1, err)
		return true
	}
	p.out[j]++
	p.outB[j] += len(r.body)
	return true
}

// collect tallies every result that has already arrived, without waiting.
func (p *publisher) collect() {
	for j := range p.done {
		for p.out[j] > 0 {
			select {
			case t := <-p.done[j]:
				p.result(j, t)
				continue
			default:
			}
			break
		}
	}
}

// result tallies the result of a publish to sink j. A record is published
// once every sink has acknowledged it.
func (p *publisher) result(j int, t *nsqpub.ProducerTransaction) {
	r := t.Args[0].(*record)
	p.out[j]--
	p.outB[j] -= len(r.body)
	if t.Error != nil {
		p.fail(j, r.where(), 1, t.Error)
		return
	}
	p.acks[j]++
	if r.acks++; r.acks == len(p.sinks) {
		p.published.Add(1)
	}
}

// busy returns a sink with a publish awaiting its result, or -1.
func (p *publisher) busy() int {
	for j, n := range p.out {
		if n > 0 {
			return j
		}
	}
	return -1
}

// errNoResult is the failure of a publish whose result the library did not
// deliver by the time it stopped, which it promises never happens.
var errNoResult = fmt.Errorf("%w: no result when the library stopped", nsqpub.ErrUnknownOutcome)

// finish collects the result of every publish still outstanding. Unless
// ctx has ended, it first lets each run its course, however long nsqd
// takes to answer or the library to resend. Then, or as soon as ctx ends,
// it stops every sink at once: each writes what is queued and waits for
// nsqd's answers up to its StopTimeout, and delivers every result before
// Stop returns (the done channels always have room for them).
func (p *publisher) finish(ctx context.Context) {
	for j := p.busy(); j >= 0 && ctx.Err() == nil; j = p.busy() {
		select {
		case t := <-p.done[j]:
			p.result(j, t)
		case <-ctx.Done():
		}
	}
	var wg sync.WaitGroup
	for _, s := range p.sinks {
		wg.Go(s.Stop)
	}
	wg.Wait()
	p.collect()
	for j, n := range p.out {
		if n > 0 {
			p.fail(j, fmt.Sprintf("%d records", n), n, errNoResult)
			p.out[j], p.outB[j] = 0, 0
		}
	}
}
