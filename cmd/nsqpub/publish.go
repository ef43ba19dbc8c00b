package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqpub/nsqpub"
)

// Publishing tuning.
const (
	// maxWindow is how many publishes per nsqd may await their result:
	// enough records in flight for the library to write them as large
	// MPUBs and keep nsqd busy (with 1024, 100-byte records go at about
	// two thirds of the pace).
	maxWindow = 16384
	// resultGrace bounds the wait for results after every Producer stopped.
	resultGrace = 5 * time.Second
)

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
// the results. The library writes the publishes that wait together as one
// MPUB, and publishes again one by one the records of such an MPUB that
// nsqd refused for its body, so that only a bad record fails.
type publisher struct {
	topic  string
	sinks  []sink
	names  []string                           // per sink, for messages
	pool   *nsqpub.ProducerPool               // the only sink with --balance, else nil
	done   []chan *nsqpub.ProducerTransaction // per sink, capacity window
	out    []int                              // per sink, publishes awaiting their result
	outB   []int                              // per sink, the bytes of those publishes
	window int
	maxMsg int
	errw   *errWriter

	records atomic.Int64   // records read and handed on (or failed at once)
	acked   atomic.Int64   // record publishes nsqd acknowledged
	failed  atomic.Int64   // record publishes that failed
	kinds   map[string]int // failed record publishes by kind of error
	order   []string       // the kinds, in order of first occurrence
}

// newPublisher returns a publisher of topic to sinks, named by names in
// messages, with cfg's limits.
func newPublisher(topic string, sinks []sink, names []string, cfg *nsqpub.Config, stderr io.Writer) *publisher {
	p := &publisher{
		topic:  topic,
		sinks:  sinks,
		names:  names,
		window: maxWindow,
		maxMsg: cfg.MaxMsgSize,
		errw:   &errWriter{w: stderr},
		kinds:  map[string]int{},
		out:    make([]int, len(sinks)),
		outB:   make([]int, len(sinks)),
	}
	if q := cfg.MaxQueued; q > 0 && q < p.window {
		// Never more outstanding than the library queues: PublishAsync then
		// never blocks on a full queue.
		p.window = q
	}
	if p.maxMsg <= 0 {
		p.maxMsg = nsqpub.DefaultMaxMsgSize
	}
	for range sinks {
		p.done = append(p.done, make(chan *nsqpub.ProducerTransaction, p.window))
	}
	return p
}

// run reads the inputs and publishes every record until the inputs end or
// ctx does, then collects every result (see finish), prints the summary and
// returns the exit status.
func (p *publisher) run(ctx context.Context, inputs []string, stdin io.Reader, delim byte, rate int64) int {
	chunks := make(chan chunk, 4)
	quit := make(chan struct{})
	go readInputs(inputs, stdin, delim, p.maxMsg, chunks, quit)
	stopProgress := p.startProgress()
	pace := &pacer{rate: rate}
	inputErrs := 0
	interrupted := false
loop:
	for {
		var c chunk
		var ok bool
		select {
		case <-ctx.Done():
		case c, ok = <-chunks:
		}
		if !ok {
			interrupted = ctx.Err() != nil
			break
		}
		if c.err != nil {
			p.errw.printf("nsqpub: %v\n", c.err)
			inputErrs++
		}
		for i := range c.recs {
			if !pace.wait(ctx, c.at) || !p.add(ctx, &c.recs[i]) {
				interrupted = true
				break loop
			}
		}
		p.collect()
	}
	close(quit)
	p.finish(ctx)
	stopProgress()
	if interrupted {
		p.errw.printf("nsqpub: interrupted: stopped reading input\n")
	}
	p.summary()
	if p.failed.Load() > 0 || inputErrs > 0 {
		return 1
	}
	return 0
}

// add publishes one record to every sink; a record too big for
// max_msg_size, which the reader did not keep, fails at once on every sink.
// It reports false if ctx ended while it waited for a window; the sinks it
// could not hand the record to then count it as failed.
func (p *publisher) add(ctx context.Context, r *record) bool {
	p.records.Add(1)
	if r.size > p.maxMsg {
		for j := range p.sinks {
			p.fail(j, r, fmt.Errorf("%w: %d > %d", nsqpub.ErrMessageTooLarge, r.size, p.maxMsg))
		}
		return true
	}
	for j := range p.sinks {
		if !p.publishTo(ctx, j, r) {
			for k := j; k < len(p.sinks); k++ {
				p.fail(k, r, errInterrupted)
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
		p.fail(j, r, err)
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

// result tallies the result of a publish to sink j.
func (p *publisher) result(j int, t *nsqpub.ProducerTransaction) {
	r := t.Args[0].(*record)
	p.out[j]--
	p.outB[j] -= len(r.body)
	if t.Error != nil {
		p.fail(j, r, t.Error)
		return
	}
	p.acked.Add(1)
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

// finish collects the result of every publish still outstanding. Unless
// ctx has ended, it first lets each run its course, including the
// library's own resends after a lost connection (and the pool's on other
// nodes), however long nsqd takes to answer or the connection to be
// declared dead. Then, or as soon as ctx ends, it stops every sink at once:
// each writes what is queued and waits for nsqd's answers up to its
// StopTimeout, failing the rest. Results still missing resultGrace after
// that, which the library does not allow, count as failed.
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
	grace := time.NewTimer(resultGrace)
	defer grace.Stop()
	for j := p.busy(); j >= 0; j = p.busy() {
		select {
		case t := <-p.done[j]:
			p.result(j, t)
		case <-grace.C:
			for k, n := range p.out {
				if n > 0 {
					p.failN(k, "records", n, errNoResult)
					p.out[k], p.outB[k] = 0, 0
				}
			}
			return
		}
	}
}
