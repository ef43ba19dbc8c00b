// Command bench measures nsqpub against go-nsq v1.1.0 on a real nsqd v1.3.0.
// `make bench` runs it:
//
//	cd e2e && go run ./cmd/bench -nsqd /abs/path/to/e2e/bin/nsqd -out /abs/path/to/docs/bench [flags]
//
// It starts its own nsqd (through internal/nsqdproc) as a separate process
// on free loopback ports, with its own temporary data directory, snappy and
// deflate on, and a memory queue large enough that no message goes to disk.
// Every run publishes to fresh topics, waits for every answer, checks
// through /stats that nsqd's message_count summed over its topics is exactly
// the number of messages the client saw acknowledged, and deletes the
// topics. With N topics, publish i of a goroutine goes to topic i % N.
//
// The parts (-parts), in the order they run:
//
//	idle       the process's CPU over -idle (10 s) with no Producer, then with
//	           each library's Producer connected and idle after one Publish
//	table      -rounds rounds; in each, for each size: the two hand-framed
//	           references, every mode with nsqpub then go-nsq (A B A B …),
//	           then -topic-modes over -topics interleaved topics
//	comp       -rounds rounds of -comp-modes with each codec of -comp, on
//	           64 distinct JSON-like bodies of -comp-size bytes in turn
//	sweep-g    Publish from each of -sweep-goroutines goroutines (100 B),
//	           with the references, over 1 and -topics topics
//	sweep-size -sweep-size-mode for each of -sweep-sizes, with the ceiling,
//	           over 1 and -topics topics
//	heap       peak heap in use while PublishAsync sends -heap-n (1M) fresh
//	           1 KiB bodies, then -heap-big-n (2,000) fresh 1 MiB bodies, as
//	           fast as possible (runtime/metrics sampled every millisecond);
//	           last, because gigabytes through nsqd and the client leave both
//	           with memory to return for a while, which slows what follows
//
// The hand-framed references use a raw TCP connection (magic, IDENTIFY
// without feature negotiation): the ceiling pipelines prebuilt MPUBs of 100
// messages (fewer where 100 would pass nsqd's 5 MiB body limit), at most
// -ceiling-inflight unanswered, while another goroutine reads the OKs; the
// round trip writes one PUB and reads its OK, in turn, on one connection per
// goroutine. With one goroutine the round trip is the floor under Publish
// from 1 goroutine.
//
// Modes (each uses one Producer, so one connection, with the default config):
//
//	pub1      Publish from 1 goroutine
//	pub64     Publish from 64 goroutines
//	async     PublishAsync from 1 goroutine; another goroutine drains the
//	          done channel and checks every result
//	multi100  MultiPublish of 100 messages from 1 goroutine
//	deferred  DeferredPublish (delay 30m, never delivered during the run)
//	          from -deferred-goroutines goroutines (default 64)
//
// Per run it measures the messages acknowledged per second; the CPU time of
// the benchmark process (getrusage user+sys; nsqd is another process) per
// message; runtime.MemStats Mallocs and TotalAlloc per message (these include
// the benchmark's own loops, which allocate nothing per message); and, from
// /proc on Linux, the read and write syscalls per message, nsqd's CPU per
// message, and the CPU used meanwhile by every other process. A run during
// which other processes kept more than -max-other cores busy is marked as
// disturbed, and repeated up to -retries times.
//
// At the end it prints a Markdown report: the goals as met or missed, the
// charts, the medians, compression, peak heap, idle CPU, the sweeps'
// numbers, syscalls and every round's msg/s. It writes the report as
// results.md and the charts as SVG into -out (default ../docs/bench, the
// repository's docs/bench when run from e2e), and with -doc replaces the
// part of that Markdown file between the lines <!-- bench:begin --> and
// <!-- bench:end --> with the report.
//
// -cpuprofile and -memprofile profile the library runs of the table; when
// either is set and -libs or -parts is not, only nsqpub and the table run
// (without the references), so the profile holds nothing else:
//
//	go run ./cmd/bench -nsqd bin/nsqd -modes async -sizes 100 -cpuprofile cpu.out
//	go tool pprof -top cpu.out
package main

import (
	"log"
	"os"
	"os/signal"
	"syscall"
)

// main runs the benchmark; see the package comment.
func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	o := parseFlags()

	n, err := startNSQD(o.nsqd, o.memQueue)
	if err != nil {
		log.Fatal(err)
	}
	// Stop nsqd however the benchmark ends.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		n.stop()
		log.Fatalf("%v: stopped", s)
	}()
	fatalf = func(format string, args ...any) {
		n.stop()
		log.Fatalf(format, args...)
	}

	b := newBench(o, n)
	failed := b.run()
	n.stop()
	if failed > 0 {
		log.Fatalf("%d runs failed verification or reported errors (see above)", failed)
	}
}

// fatalf ends the program; once nsqd runs it stops nsqd first.
var fatalf = log.Fatalf
