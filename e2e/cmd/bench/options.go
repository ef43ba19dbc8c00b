package main

import (
	"flag"
	"log"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fixed parameters of the workloads.
const (
	batchSize     = 100              // messages per MultiPublish and per ceiling MPUB
	pubGoroutines = 64               // goroutines of mode pub64
	deferDelay    = 30 * time.Minute // DeferredPublish delay: never delivered during a run
	asyncDoneBuf  = 4096             // capacity of the async done channel (both libraries)
	heapSample    = time.Millisecond // peak heap sampling period
	heapTarget    = 64 << 20         // the target: peak heap under 64 MiB
)

// Library names, as printed.
const (
	libNSQPub = "nsqpub"
	libGoNSQ  = "go-nsq"
)

// modeNames lists every mode in the order of the table.
var modeNames = []string{"pub1", "pub64", "async", "multi100", "deferred"}

// modeTitle describes each mode in the table.
var modeTitle = map[string]string{
	"pub1":     "Publish, 1 goroutine",
	"pub64":    "Publish, 64 goroutines",
	"async":    "PublishAsync, 1 goroutine",
	"multi100": "MultiPublish ×100, 1 goroutine",
	"deferred": "DeferredPublish",
}

// options are the command-line flags.
type options struct {
	nsqd            string
	rounds          int
	duration        time.Duration
	modes           []string
	sizes           []int
	libs            []string
	ceiling         bool
	ceilingInflight int
	heap            bool
	heapN           int
	deferredG       int
	memQueue        int
	cpuprofile      string
	memprofile      string
	maxOther        float64
	retries         int
}

// parseFlags reads and checks the flags.
func parseFlags() *options {
	o := &options{}
	var modes, sizes, libs string
	flag.StringVar(&o.nsqd, "nsqd", "bin/nsqd", "path of the nsqd v1.3.0 binary")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds: each runs every library once per mode and size (A B A B …)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "how long each run publishes")
	flag.StringVar(&modes, "modes", strings.Join(modeNames, ","), "comma-separated modes: "+strings.Join(modeNames, ", "))
	flag.StringVar(&sizes, "sizes", "100,4096", "comma-separated message sizes in bytes")
	flag.StringVar(&libs, "libs", libNSQPub+","+libGoNSQ, "comma-separated libraries: nsqpub, go-nsq")
	flag.BoolVar(&o.ceiling, "ceiling", true, "run the hand-framed references: the pipelined MPUB writer (the ceiling) and the synchronous PUB round trip")
	flag.IntVar(&o.ceilingInflight, "ceiling-inflight", 8, "MPUBs the ceiling writer keeps unanswered")
	flag.BoolVar(&o.heap, "heap", true, "run the peak heap check before the table")
	flag.IntVar(&o.heapN, "heap-n", 1_000_000, "messages of 1 KiB published by the peak heap check")
	flag.IntVar(&o.deferredG, "deferred-goroutines", 64, "goroutines calling DeferredPublish in mode deferred")
	flag.IntVar(&o.memQueue, "mem-queue-size", 10_000_000, "nsqd --mem-queue-size")
	flag.Float64Var(&o.maxOther, "max-other", 0.2, "CPU cores busy outside the benchmark and nsqd above which a run counts as disturbed (from /proc/stat)")
	flag.IntVar(&o.retries, "retries", 0, "repeat a disturbed run up to this many times, keeping the least disturbed attempt")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the library runs to `file`")
	flag.StringVar(&o.memprofile, "memprofile", "", "write an allocation profile of the library runs to `file` (samples every KiB: take CPU profiles separately)")
	flag.Parse()
	libsSet := false
	flag.Visit(func(f *flag.Flag) { libsSet = libsSet || f.Name == "libs" })

	for _, m := range split(modes) {
		if !slices.Contains(modeNames, m) {
			log.Fatalf("unknown mode %q (want some of %s)", m, strings.Join(modeNames, ","))
		}
		o.modes = append(o.modes, m)
	}
	for _, s := range split(sizes) {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			log.Fatalf("bad size %q", s)
		}
		o.sizes = append(o.sizes, v)
	}
	for _, l := range split(libs) {
		if l != libNSQPub && l != libGoNSQ {
			log.Fatalf("unknown library %q (want nsqpub, go-nsq)", l)
		}
		o.libs = append(o.libs, l)
	}
	if o.memprofile != "" {
		// Sample finely enough to see small per-message allocations; this
		// slows allocation, so take CPU profiles in a separate run.
		runtime.MemProfileRate = 1024
	}
	profiling := o.cpuprofile != "" || o.memprofile != ""
	if profiling {
		if !libsSet {
			o.libs = []string{libNSQPub}
		}
		o.ceiling, o.heap = false, false
	}
	if o.retries < 0 || o.maxOther < 0 {
		log.Fatal("-retries and -max-other must not be negative")
	}
	if o.rounds < 1 || o.duration <= 0 || o.deferredG < 1 || o.ceilingInflight < 1 || o.heapN < 1 {
		log.Fatal("-rounds, -duration, -deferred-goroutines, -ceiling-inflight and -heap-n must be positive")
	}
	return o
}

// split splits a comma-separated list, dropping empty items.
func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
