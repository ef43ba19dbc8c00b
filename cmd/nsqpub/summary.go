package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nsqpub/nsqpub"
)

// errInterrupted is the failure of a record that was read but could not be
// handed to an nsqd before a signal arrived.
var errInterrupted = errors.New("interrupted before publishing")

// errNoResult is the failure of a publish whose result did not arrive
// within resultGrace after every producer stopped.
var errNoResult = errors.New("no result after the producer stopped")

// kindErrors are the errors that name a kind of failure, in the order
// they are looked for: the library's sentinel errors by their text, and
// (the nil entry) nsqd's errors by their code. A pool's failure wraps both
// ErrNotConnected and ErrNoHealthyNode, and counts as the latter; a
// publish whose outcome is unknown counts as such whatever ended its
// connection.
var kindErrors = []error{
	nsqpub.ErrNoHealthyNode,
	nsqpub.ErrNotConnected,
	nsqpub.ErrUnknownOutcome,
	nil,
	nsqpub.ErrMessageTooLarge,
	nsqpub.ErrStopped,
	nsqpub.ErrProtocol,
	errInterrupted,
	errNoResult,
}

// errorKind names the kind of a publish error for the summary (see
// kindErrors); any other error is its own kind.
func errorKind(err error) string {
	var se *nsqpub.ServerError
	for _, k := range kindErrors {
		switch {
		case k == nil && errors.As(err, &se):
			return "nsqd " + se.Code
		case k != nil && errors.Is(err, k):
			return k.Error()
		}
	}
	return err.Error()
}

// fail counts the failed publish of r to sink j, printing the first
// failure of each kind in full.
func (p *publisher) fail(j int, r *record, err error) {
	p.failN(j, r.where(), 1, err)
}

// failN counts n failed record publishes to sink j, printing the first
// failure of each kind in full, with where they came from.
func (p *publisher) failN(j int, where string, n int, err error) {
	p.failed.Add(int64(n))
	k := errorKind(err)
	if p.kinds[k] == 0 {
		p.order = append(p.order, k)
		p.errw.printf("nsqpub: publishing %s to %s: %v (further %q failures are only counted)\n", where, p.names[j], err, k)
	}
	p.kinds[k] += n
}

// summary prints the final line, such as
// "nsqpub: published 3 records to 2 nsqd (1 failed: 1 not connected)", or
// with --balance
// "nsqpub: published 3 records to 2 nsqd, balanced (127.0.0.1:4150: 2, 127.0.0.1:4152: 1)",
// where the balanced counts are the messages each nsqd acknowledged.
func (p *publisher) summary() {
	noun := "records"
	if p.records.Load() == 1 {
		noun = "record"
	}
	var b strings.Builder
	nodes := len(p.sinks)
	var per []string
	if p.pool != nil {
		stats := p.pool.Stats().Nodes
		nodes = len(stats)
		for _, n := range stats {
			per = append(per, fmt.Sprintf("%s: %d", n.Addr, n.Published))
		}
	}
	fmt.Fprintf(&b, "nsqpub: published %d %s to %d nsqd", p.records.Load(), noun, nodes)
	if p.pool != nil {
		fmt.Fprintf(&b, ", balanced (%s)", strings.Join(per, ", "))
	}
	if failed := p.failed.Load(); failed > 0 {
		parts := make([]string, len(p.order))
		for i, k := range p.order {
			parts[i] = fmt.Sprintf("%d %s", p.kinds[k], k)
		}
		fmt.Fprintf(&b, " (%d failed: %s)", failed, strings.Join(parts, "; "))
	}
	p.errw.printf("%s\n", b.String())
}
