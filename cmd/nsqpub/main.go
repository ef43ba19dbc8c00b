// Command nsqpub reads records from standard input (or from files) and
// publishes each one as a message to an NSQ topic. It is a drop-in
// replacement for nsq's to_nsq, built on the nsqpub library.
//
// Usage:
//
//	nsqpub --topic=TOPIC --nsqd-tcp-address=HOST:PORT [flags] [FILE...]
//
// The input is split on --delimiter (one byte, newline by default) and every
// non-empty record is published to --topic. A final record without a
// trailing delimiter is published intact (to_nsq drops its last byte). With
// FILE arguments the files are read in order instead of standard input; "-"
// stands for standard input.
//
// Flags (one or two dashes both work):
//
//	--topic TOPIC                 topic to publish to (required)
//	--nsqd-tcp-address HOST:PORT  nsqd to publish to (required, repeatable);
//	                              every record goes to every nsqd, in the
//	                              order the flags were given
//	--balance                     spread the records over the nsqd instead:
//	                              each record goes to one of them, through a
//	                              ProducerPool, which skips an nsqd that
//	                              fails and sends its records to the others
//	--balance-strategy S          with --balance: round-robin (the default)
//	                              or failover (every record to the first
//	                              healthy nsqd, in the order given)
//	--delimiter C                 record delimiter: one byte, or an escape
//	                              such as \t, \0 or \x1e (default "\n")
//	--rate N                      publish at most N records per second
//	                              (0, the default, or less means no limit)
//	--producer-opt KEY,VALUE      option passed to Config.Set as it is, for
//	                              example max_msg_size,2097152 (repeatable;
//	                              a KEY alone sets a boolean option to true),
//	                              as to_nsq passes it to go-nsq's Config.Set
//	--version                     print the version and exit
//
// Each record is published on its own with PublishAsync, up to 16384
// publishes (and 64 MiB) awaiting nsqd's answer per nsqd (per pool with
// --balance): the max_queued option defaults to 16384 here, and a lower
// value shrinks that window. Everything else about a publish is the
// library's decision: it writes the records that wait together as one MPUB
// (within max_body_size), refuses what nsqd has said it would refuse (it
// learns nsqd's --max-msg-size and --max-body-size from nsqd's refusals),
// and resends what another record's refusal or a lost connection kept
// from executing, so that a bad record costs only itself. nsqpub counts
// each result by its outcome (nsqpub.OutcomeOf) and publishes the next
// record. A record longer than max_msg_size is read to its end but only
// its first max_msg_size+1 bytes are kept, which the library refuses.
//
// At the end nsqpub prints a summary such as
//
//	nsqpub: published 4900 records to 1 nsqd; failed: 100 rejected (first: stdin record 18 to 127.0.0.1:4150: nsqd: E_BAD_MESSAGE PUB message too big 1200 > 1000)
//
// "published" counts the records nsqd acknowledged: by every nsqd, whose
// counts follow in parentheses when they differ, or with --balance by one
// of them, whose counts always follow:
//
//	nsqpub: published 3 records to 2 nsqd, balanced (127.0.0.1:4150: 2, 127.0.0.1:4152: 1)
//
// The failures are counted by outcome: rejected (refused by nsqd, or by the
// library before sending), not sent (never executed) and unknown (written,
// never answered), each with its first failure, which is also printed when
// it happens. They count record publishes, so with several nsqd a record
// that fails on two of them counts twice.
//
// With --rate N, record i is published no earlier than i/N seconds after
// the first; the schedule is computed from that instant, so it does not
// drift: when the command itself falls behind (a busy machine), it catches
// up. When the input stalls past a record's slot (by more than 50 ms), the
// schedule restarts from the moment the record arrives rather than
// catching up in a burst.
//
// When standard error is a terminal, a progress line (records read, their
// rate, acknowledgements and errors) is redrawn on it up to four times a
// second, and erased before any other message.
//
// At the end of the input nsqpub waits for nsqd's answer to every publish
// (and for the library's resends) before it stops. SIGINT or SIGTERM stops
// reading, and bounds that wait by the stop_timeout option (5s by default);
// the summary is printed either way, and if input was left unread it ends
// with "; interrupted: N records read, input left unread", N counting the
// records taken from the input. A second signal kills the program at once.
//
// Exit status, as to_nsq's: 0 when every record was acknowledged (by every
// nsqd, or with --balance by one); 1 when a publish failed, an input could
// not be read, a signal left input unread, or the arguments are wrong (no
// or an invalid --topic or --nsqd-tcp-address, a bad --delimiter, options
// that together fail Config.Validate); 2 when a flag cannot be parsed (an
// unknown flag, a malformed value, a --producer-opt that Config.Set
// refuses).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsqpub/nsqpub"
)

// main runs the command with the process's arguments and standard streams,
// cancelling on SIGINT or SIGTERM; a second signal kills the process.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, reads the inputs (stdin unless
// files are named), publishes every record and returns the exit status.
// Cancelling ctx stops reading as a signal does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, code := parseFlags(args, stdout, stderr)
	if opts == nil {
		return code
	}
	sinks, names, pool, err := newSinks(opts)
	if err != nil {
		fmt.Fprintf(stderr, "nsqpub: %v\n", err)
		return 1
	}
	p := newPublisher(opts.topic, sinks, names, opts.cfg, stderr)
	p.pool = pool
	return p.run(ctx, opts.inputs, stdin, opts.delim, opts.rate)
}

// newSinks returns where the records go, and the names of those sinks for
// messages: with --balance one ProducerPool over every nsqd (also returned
// for its counters), otherwise one Producer per nsqd.
func newSinks(opts *options) ([]sink, []string, *nsqpub.ProducerPool, error) {
	if opts.balance || len(opts.lookupds) > 0 {
		pool, err := nsqpub.NewProducerPool(opts.addrs, opts.cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(opts.lookupds) == 0 {
			return []sink{pool}, []string{"the nsqd pool " + pool.String()}, pool, nil
		}
		// Polling goes on after a failed first poll: go on if some nsqd is known.
		if err := pool.ConnectToNSQLookupds(opts.lookupds); err != nil && pool.Stats().NodesKnown == 0 {
			pool.Stop()
			return nil, nil, nil, err
		}
		return []sink{pool}, []string{"the nsqd pool of nsqlookupd " + strings.Join(opts.lookupds, ",")}, pool, nil
	}
	var sinks []sink
	for _, addr := range opts.addrs {
		prod, err := nsqpub.NewProducer(addr, opts.cfg)
		if err != nil {
			for _, s := range sinks {
				s.Stop()
			}
			return nil, nil, nil, err
		}
		sinks = append(sinks, prod)
	}
	return sinks, opts.addrs, nil, nil
}
