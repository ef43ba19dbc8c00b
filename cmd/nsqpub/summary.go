package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsqpub/nsqpub"
)

// failedOutcomes are the outcomes of a failed publish, in the summary's
// order.
var failedOutcomes = []nsqpub.Outcome{nsqpub.Rejected, nsqpub.NotSent, nsqpub.Unknown}

// tally counts the failed record publishes of one outcome.
type tally struct {
	n     int64
	first string // the first of them: the record, the nsqd and the error
}

// fail counts n failed record publishes to sink j, named by where, which
// err ended, under err's outcome (nsqpub.OutcomeOf), printing the first of
// each outcome in full.
func (p *publisher) fail(j int, where string, n int, err error) {
	o := nsqpub.OutcomeOf(err)
	t := &p.fails[o]
	if t.n == 0 {
		t.first = fmt.Sprintf("%s to %s: %v", where, p.names[j], err)
		p.errw.printf("nsqpub: publishing %s (%s; further %s publishes are only counted)\n", t.first, o, o)
	}
	t.n += int64(n)
	p.failed.Add(int64(n))
}

// summary prints the final line, such as
//
//	nsqpub: published 2 records to 1 nsqd; failed: 1 rejected (first: stdin record 2 to 127.0.0.1:4150: nsqd: E_BAD_MESSAGE …)
//
// or with --balance
//
//	nsqpub: published 3 records to 2 nsqd, balanced (127.0.0.1:4150: 2, 127.0.0.1:4152: 1)
//
// "published" counts the records acknowledged (by every nsqd, or with
// --balance by one, whose counts follow); without --balance each nsqd's
// count follows when they differ. The failures count record publishes, by
// outcome. When unread is set, ctx ended with input left unread, and the
// line says how many records were read.
func (p *publisher) summary(unread bool) {
	published := p.published.Load()
	nodes, mode := len(p.sinks), ""
	var per []string
	if p.pool != nil {
		stats := p.pool.Stats().Nodes
		nodes, mode = len(stats), ", balanced"
		for _, n := range stats {
			per = append(per, fmt.Sprintf("%s: %d", n.Addr, n.Published))
		}
	} else if slices.ContainsFunc(p.acks, func(n int64) bool { return n != published }) {
		for j, n := range p.acks {
			per = append(per, fmt.Sprintf("%s: %d", p.names[j], n))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nsqpub: published %s to %d nsqd%s", count(published, "record"), nodes, mode)
	if per != nil {
		fmt.Fprintf(&b, " (%s)", strings.Join(per, ", "))
	}
	var failed []string
	for _, o := range failedOutcomes {
		if t := p.fails[o]; t.n > 0 {
			failed = append(failed, fmt.Sprintf("%d %s (first: %s)", t.n, o, t.first))
		}
	}
	if failed != nil {
		fmt.Fprintf(&b, "; failed: %s", strings.Join(failed, ", "))
	}
	if unread {
		fmt.Fprintf(&b, "; interrupted: %s read, input left unread", count(p.records.Load(), "record"))
	}
	p.errw.printf("%s\n", b.String())
}

// count returns n and noun, plural unless n is 1.
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
