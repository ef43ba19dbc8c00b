// Command bench measures nsqpub against go-nsq v1.1.0 on a real nsqd v1.3.0.
// `make bench` runs it:
//
//	cd e2e && go run ./cmd/bench -nsqd /abs/path/to/e2e/bin/nsqd [flags]
//
// It starts its own nsqd (through internal/nsqdproc) as a separate process
// on free loopback ports, with
// its own temporary data directory and a memory queue large enough that no
// message goes to disk. For every message size and round it runs, in this
// order: two hand-framed references on a raw TCP connection (the ceiling: a
// writer pipelining MPUBs of 100 messages, at most -ceiling-inflight
// unanswered, while another goroutine reads the OKs; and the synchronous
// round trip: write one PUB, read its OK, repeat), then every mode with
// nsqpub and then go-nsq (A B A B …). Each run publishes for -duration to a
// fresh topic, waits for every answer, checks through /stats that nsqd's
// message_count is exactly the number of messages the client saw
// acknowledged, and deletes the topic.
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
// disturbed, and repeated up to -retries times. It prints the medians, the
// nsqpub/go-nsq ratios, each mode's fraction of the ceiling, every round's
// msg/s, and the project's performance targets as met or missed.
//
// Before the table it runs the peak heap check: -heap-n (1,000,000)
// PublishAsync calls, each with a freshly allocated 1 KiB body, as fast as
// possible, sampling the heap in use every millisecond through
// runtime/metrics.
//
// -cpuprofile and -memprofile profile the library runs; when either is set
// and -libs is not, only nsqpub runs (and neither the references nor the
// heap check do), so the profile holds nothing else:
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

	b := &bench{o: o, n: n, results: map[key][]result{}}
	b.printHeader()
	failed := b.run()
	n.stop()
	if failed > 0 {
		log.Fatalf("%d runs failed verification or reported errors (see above)", failed)
	}
}

// fatalf ends the program; once nsqd runs it stops nsqd first.
var fatalf = log.Fatalf
