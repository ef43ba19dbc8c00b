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

// partNames lists the parts of the benchmark, in the order they run.
var partNames = []string{"idle", "heap", "table", "comp", "sweep-g", "sweep-size"}

// options are the command-line flags.
type options struct {
	nsqd            string
	parts           []string
	rounds          int
	duration        time.Duration
	modes           []string
	sizes           []int
	libs            []string
	topics          int
	topicModes      []string
	ceiling         bool
	ceilingInflight int
	heapN           int
	heapBigN        int
	idle            time.Duration
	comps           []string
	compModes       []string
	compSize        int
	sweepG          []int
	sweepSizes      []int
	sweepSizeMode   string
	sweepDuration   time.Duration
	sweepRounds     int
	out             string
	note            string
	doc             string
	deferredG       int
	memQueue        int
	cpuprofile      string
	memprofile      string
	maxOther        float64
	retries         int
}

// has reports whether part p runs.
func (o *options) has(p string) bool { return slices.Contains(o.parts, p) }

// parseFlags reads and checks the flags.
func parseFlags() *options {
	o := &options{}
	var parts, modes, sizes, libs, topicModes, comps, compModes, sweepG, sweepSizes string
	flag.StringVar(&o.nsqd, "nsqd", "bin/nsqd", "path of the nsqd v1.3.0 binary")
	flag.StringVar(&parts, "parts", strings.Join(partNames, ","), "comma-separated parts to run: "+strings.Join(partNames, ", "))
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of the table and compression parts: each runs every library once per mode and size (A B A B …)")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "how long each run of the table and compression parts publishes")
	flag.StringVar(&modes, "modes", strings.Join(modeNames, ","), "comma-separated modes of the table: "+strings.Join(modeNames, ", "))
	flag.StringVar(&sizes, "sizes", "100,4096", "comma-separated message sizes of the table, in bytes")
	flag.StringVar(&libs, "libs", libNSQPub+","+libGoNSQ, "comma-separated libraries: nsqpub, go-nsq")
	flag.IntVar(&o.topics, "topics", 16, "interleaved topics of the many-topic runs (publish i goes to topic i % N); 1 runs none")
	flag.StringVar(&topicModes, "topic-modes", "async,pub64", "comma-separated modes the table also runs over -topics topics")
	flag.BoolVar(&o.ceiling, "ceiling", true, "run the hand-framed references: the pipelined MPUB writer (the ceiling) and the synchronous PUB round trip")
	flag.IntVar(&o.ceilingInflight, "ceiling-inflight", 8, "MPUBs the ceiling writer keeps unanswered")
	flag.IntVar(&o.heapN, "heap-n", 1_000_000, "messages of 1 KiB published by the first peak heap check (0: skip)")
	flag.IntVar(&o.heapBigN, "heap-big-n", 2000, "messages of 1 MiB published by the second peak heap check (0: skip)")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "how long the idle part watches a connected Producer's CPU")
	flag.StringVar(&comps, "comp", "snappy,deflate", "comma-separated codecs of the compression part")
	flag.StringVar(&compModes, "comp-modes", "async,pub64", "comma-separated modes of the compression part")
	flag.IntVar(&o.compSize, "comp-size", 4096, "size of the JSON-like bodies of the compression part")
	flag.StringVar(&sweepG, "sweep-goroutines", "1,2,4,8,16,32,64,128,256", "publishing goroutines of the goroutine sweep (100 B)")
	flag.StringVar(&sweepSizes, "sweep-sizes", "100,1024,10240,102400,1048576", "message sizes of the size sweep")
	flag.StringVar(&o.sweepSizeMode, "sweep-size-mode", "async", "mode of the size sweep")
	flag.DurationVar(&o.sweepDuration, "sweep-duration", time.Second, "how long each run of the sweeps publishes")
	flag.IntVar(&o.sweepRounds, "sweep-rounds", 1, "rounds of the sweeps (medians are charted)")
	flag.StringVar(&o.out, "out", "../docs/bench", "directory for the SVG charts and results.md")
	flag.StringVar(&o.note, "note", "", "a line printed under every chart's title and atop results.md, e.g. \"trial run, noisy machine\"")
	flag.StringVar(&o.doc, "doc", "", "a Markdown `file` (BENCHMARKS.md) whose lines between the markers "+docBegin+" and "+docEnd+" are replaced by the results")
	flag.IntVar(&o.deferredG, "deferred-goroutines", 64, "goroutines calling DeferredPublish in mode deferred")
	flag.IntVar(&o.memQueue, "mem-queue-size", 10_000_000, "nsqd --mem-queue-size")
	flag.Float64Var(&o.maxOther, "max-other", 0.2, "CPU cores busy outside the benchmark and nsqd above which a run counts as disturbed (from /proc/stat)")
	flag.IntVar(&o.retries, "retries", 0, "repeat a disturbed run up to this many times, keeping the least disturbed attempt")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the library runs to `file`")
	flag.StringVar(&o.memprofile, "memprofile", "", "write an allocation profile of the library runs to `file` (samples every KiB: take CPU profiles separately)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })

	o.parts = oneOf("part", split(parts), partNames)
	o.modes = oneOf("mode", split(modes), modeNames)
	o.topicModes = oneOf("mode", split(topicModes), modeNames)
	o.compModes = oneOf("mode", split(compModes), modeNames)
	o.libs = oneOf("library", split(libs), []string{libNSQPub, libGoNSQ})
	o.comps = oneOf("codec", split(comps), []string{"snappy", "deflate"})
	o.sweepSizeMode = oneOf("mode", []string{o.sweepSizeMode}, modeNames)[0]
	o.sizes, o.sweepSizes, o.sweepG = positive(sizes), positive(sweepSizes), positive(sweepG)
	if o.memprofile != "" {
		// Sample finely enough to see small per-message allocations; this
		// slows allocation, so take CPU profiles in a separate run.
		runtime.MemProfileRate = 1024
	}
	if o.cpuprofile != "" || o.memprofile != "" {
		// The profile holds the library runs of the table and nothing else.
		if !set["libs"] {
			o.libs = []string{libNSQPub}
		}
		if !set["parts"] {
			o.parts = []string{"table"}
		}
		o.ceiling = false
	}
	if o.retries < 0 || o.maxOther < 0 || o.heapN < 0 || o.heapBigN < 0 || o.idle < 0 {
		log.Fatal("-retries, -max-other, -heap-n, -heap-big-n and -idle must not be negative")
	}
	if o.rounds < 1 || o.duration <= 0 || o.deferredG < 1 || o.ceilingInflight < 1 || o.topics < 1 ||
		o.compSize < 1 || o.sweepDuration <= 0 || o.sweepRounds < 1 {
		log.Fatal("-rounds, -duration, -deferred-goroutines, -ceiling-inflight, -topics, -comp-size, -sweep-duration and -sweep-rounds must be positive")
	}
	return o
}

// oneOf checks that every item of got is in valid.
func oneOf(what string, got, valid []string) []string {
	for _, g := range got {
		if !slices.Contains(valid, g) {
			log.Fatalf("unknown %s %q (want some of %s)", what, g, strings.Join(valid, ", "))
		}
	}
	return got
}

// positive parses a comma-separated list of positive integers.
func positive(s string) []int {
	var out []int
	for _, f := range split(s) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			log.Fatalf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out
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
