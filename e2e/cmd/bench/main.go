// Command bench measures nsqpub against go-nsq v1.1.0 on a real nsqd v1.3.0
// (issue 4). `make bench` runs it:
//
//	cd e2e && go run ./cmd/bench -nsqd /abs/path/to/e2e/bin/nsqd [flags]
//
// It starts its own nsqd as a separate process on free loopback ports, with
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
// msg/s, and issue 4's targets as met or missed.
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
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// Fixed parameters of the workloads.
const (
	batchSize     = 100              // messages per MultiPublish and per ceiling MPUB
	pubGoroutines = 64               // goroutines of mode pub64
	deferDelay    = 30 * time.Minute // DeferredPublish delay: never delivered during a run
	asyncDoneBuf  = 4096             // capacity of the async done channel (both libraries)
	heapSample    = time.Millisecond // peak heap sampling period
	heapTarget    = 64 << 20         // issue 4: peak heap under 64 MiB
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

// key identifies one cell of the table. lib is "ceiling" for the ceiling.
type key struct {
	mode string
	size int
	lib  string
}

// result is what one run measured.
type result struct {
	msgs    int64         // messages acknowledged by nsqd, as the client saw them
	elapsed time.Duration // from the first publish until the last answer
	cpu     time.Duration // user+sys CPU of this process during the run
	mallocs uint64        // runtime.MemStats.Mallocs delta
	bytes   uint64        // runtime.MemStats.TotalAlloc delta
	writes  uint64        // write syscalls of this process (/proc/self/io syscw), 0 if unknown
	reads   uint64        // read syscalls of this process (/proc/self/io syscr), 0 if unknown
	nsqdCPU time.Duration // CPU time nsqd used during the run (/proc), 0 if unknown
	// otherCores is the CPU used by processes other than this one and nsqd
	// during the run, in cores (/proc/stat): a sign of a disturbed run.
	otherCores float64
	errs       int64 // publishes that returned or reported an error
	err        error // the first of them
}

// rate is messages per second.
func (r result) rate() float64 { return float64(r.msgs) / r.elapsed.Seconds() }

// cpuPerMsg is client CPU microseconds per message.
func (r result) cpuPerMsg() float64 { return float64(r.cpu.Microseconds()) / float64(r.msgs) }

// allocsPerMsg is heap allocations per message.
func (r result) allocsPerMsg() float64 { return float64(r.mallocs) / float64(r.msgs) }

// bytesPerMsg is heap bytes allocated per message.
func (r result) bytesPerMsg() float64 { return float64(r.bytes) / float64(r.msgs) }

// nsqdCPUPerMsg is nsqd's CPU microseconds per message.
func (r result) nsqdCPUPerMsg() float64 { return float64(r.nsqdCPU.Microseconds()) / float64(r.msgs) }

// writesPerMsg is write syscalls per message.
func (r result) writesPerMsg() float64 { return float64(r.writes) / float64(r.msgs) }

// readsPerMsg is read syscalls per message.
func (r result) readsPerMsg() float64 { return float64(r.reads) / float64(r.msgs) }

// bench holds the state of the whole benchmark.
type bench struct {
	o       *options
	n       *nsqd
	seq     int // topic counter
	results map[key][]result
	heap    []heapResult
	failed  int
	retried int // runs repeated because they were disturbed
}

// printHeader prints the machine and the settings.
func (b *bench) printHeader() {
	host, _ := os.Hostname()
	fmt.Printf("# nsqpub vs go-nsq v1.1.0 on nsqd\n\n")
	fmt.Printf("- nsqd: %s (%s), --mem-queue-size=%d, TCP %s\n", b.n.version, b.o.nsqd, b.o.memQueue, b.n.tcp)
	fmt.Printf("- client: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d, host %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), runtime.NumCPU(), host)
	fmt.Printf("- %d rounds × %v per run; modes %s; sizes %v; libraries %s (run alternately)\n",
		b.o.rounds, b.o.duration, strings.Join(b.o.modes, ","), b.o.sizes, strings.Join(b.o.libs, ","))
	fmt.Printf("- ceiling: one raw TCP connection pipelining MPUBs of %d messages, %d unanswered at most\n", batchSize, b.o.ceilingInflight)
	fmt.Printf("- a run with more than %.1f cores busy in other processes is repeated up to %d times (-max-other, -retries)\n", b.o.maxOther, b.o.retries)
	fmt.Printf("- load average at start: %s\n\n", loadAvg())
}

// loadAvg returns the machine's load averages, which tell whether something
// else competed for the CPUs during the run.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

// run runs everything and prints the tables. It returns how many runs failed.
func (b *bench) run() int {
	if b.o.heap {
		for _, lib := range b.o.libs {
			b.heap = append(b.heap, b.peakHeap(lib))
		}
		b.printHeap()
	}
	stopProfile := b.startProfile()
	for _, size := range b.o.sizes {
		body := makeBody(size, 0)
		for r := 0; r < b.o.rounds; r++ {
			if b.o.ceiling {
				b.record(key{"ceiling", size, "ceiling"}, r, b.retry(func() result { return b.ceilingRun(body) }))
				b.record(key{"roundtrip", size, "ceiling"}, r, b.retry(func() result { return b.roundTripRun(body) }))
			}
			for _, mode := range b.o.modes {
				for _, lib := range b.o.libs {
					b.record(key{mode, size, lib}, r, b.retry(func() result { return b.libRun(lib, mode, body) }))
				}
			}
		}
	}
	stopProfile()
	fmt.Printf("Load average at the end: %s\n\n", loadAvg())
	b.printDisturbed()
	b.printTable()
	b.printSyscalls()
	b.printRounds()
	b.printTargets()
	return b.failed
}

// retry runs run, and again up to -retries times after a pause of
// retryPause while other processes disturb it (more than -max-other cores
// busy), and keeps the least disturbed attempt.
func (b *bench) retry(run func() result) result {
	best := run()
	for i := 0; i < b.o.retries && best.otherCores > b.o.maxOther; i++ {
		b.retried++
		fmt.Fprintf(os.Stderr, "bench: run disturbed (%.2f cores busy elsewhere), retrying\n", best.otherCores)
		time.Sleep(retryPause)
		if r := run(); r.otherCores < best.otherCores {
			best = r
		}
	}
	return best
}

// retryPause is the pause before a disturbed run is repeated, so that a
// short burst of other work can pass.
const retryPause = 2 * time.Second

// startProfile starts the profiles asked for and returns what ends them.
func (b *bench) startProfile() func() {
	if b.o.cpuprofile != "" {
		f, err := os.Create(b.o.cpuprofile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
	}
	return func() {
		if b.o.cpuprofile != "" {
			pprof.StopCPUProfile()
			fmt.Fprintf(os.Stderr, "bench: CPU profile in %s\n", b.o.cpuprofile)
		}
		if b.o.memprofile != "" {
			f, err := os.Create(b.o.memprofile)
			if err != nil {
				fatalf("%v", err)
			}
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fatalf("%v", err)
			}
			f.Close()
			fmt.Fprintf(os.Stderr, "bench: allocation profile in %s\n", b.o.memprofile)
		}
	}
}

// record keeps a run's result and reports it on stderr as progress.
func (b *bench) record(k key, round int, r result) {
	b.results[k] = append(b.results[k], r)
	status := ""
	if r.errs > 0 {
		status = fmt.Sprintf("  %d ERRORS, first: %v", r.errs, r.err)
		b.failed++
	}
	fmt.Fprintf(os.Stderr, "round %d %-9s %5dB %-7s %9.0f msg/s %6.2f µs/msg %5.2f allocs/msg %7.1f B/msg %6.3f writes/msg %6.3f reads/msg nsqd %5.2f µs/msg, other load %.2f cores (%d msgs in %v)%s\n",
		round+1, k.mode, k.size, k.lib, r.rate(), r.cpuPerMsg(), r.allocsPerMsg(), r.bytesPerMsg(),
		r.writesPerMsg(), r.readsPerMsg(), r.nsqdCPUPerMsg(), r.otherCores, r.msgs, r.elapsed.Round(time.Millisecond), status)
}

// makeBody returns a message body of size bytes.
func makeBody(size, seed int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte((i+seed)%26)
	}
	return b
}

// newTopic creates a fresh topic in nsqd and returns its name.
func (b *bench) newTopic() string {
	b.seq++
	topic := fmt.Sprintf("bench_%d", b.seq)
	if err := b.n.post("/topic/create", topic); err != nil {
		fatalf("creating topic %s: %v", topic, err)
	}
	return topic
}

// verify checks nsqd's message_count for topic against the messages the
// client saw acknowledged, then deletes the topic. A mismatch is recorded
// as an error of the run.
func (b *bench) verify(topic string, r *result) {
	count, err := b.n.messageCount(topic)
	if err != nil {
		fatalf("reading /stats for %s: %v", topic, err)
	}
	if count != r.msgs {
		r.errs++
		if r.err == nil {
			r.err = fmt.Errorf("nsqd message_count=%d for topic %s, client saw %d acknowledged", count, topic, r.msgs)
		}
	}
	if err := b.n.post("/topic/delete", topic); err != nil {
		fatalf("deleting topic %s: %v", topic, err)
	}
}

// usage is a snapshot of the process's CPU time and allocation counters.
type usage struct {
	t       time.Time
	cpu     time.Duration
	mallocs uint64
	bytes   uint64
	syscw   uint64 // write syscalls so far, from /proc/self/io (0 if unavailable)
	syscr   uint64 // read syscalls so far
	busy    uint64 // busy CPU time of the whole machine, clock ticks
	self    uint64 // CPU time of this process, clock ticks
	nsqd    uint64 // CPU time of nsqd, clock ticks
}

// snapshot reads the counters. ReadMemStats stops the world, so it is only
// called outside the timed part.
func (b *bench) snapshot() usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatalf("getrusage: %v", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	u := usage{t: time.Now(), cpu: cpu, mallocs: ms.Mallocs, bytes: ms.TotalAlloc}
	u.syscr, u.syscw = syscallCounts()
	u.busy, u.self, u.nsqd = cpuTicks(b.n.cmd.Process.Pid)
	return u
}

// clockTicks is USER_HZ, the unit of CPU times in /proc (100 on Linux).
const clockTicks = 100

// cpuTicks returns, from /proc, the CPU time all CPUs spent busy, the time
// this process used and the time nsqd (pid) used, in clock ticks; zeros
// where /proc is unavailable.
func cpuTicks(pid int) (busy, self, nsqd uint64) {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // all but idle and iowait; guest time is already in user
				busy += n
			}
		}
	}
	return busy, procTicks("self"), procTicks(strconv.Itoa(pid))
}

// procTicks returns utime+stime of /proc/<pid>/stat in clock ticks, or 0.
func procTicks(pid string) uint64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st
}

// syscallCounts returns the read and write syscalls this process has made,
// from /proc/self/io (Linux), or zeros where that is unavailable.
func syscallCounts() (reads, writes uint64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		switch name {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// measure fills r's elapsed time, CPU and allocation counts from two snapshots.
func measure(r *result, u0, u1 usage, end time.Time) {
	r.elapsed = end.Sub(u0.t)
	r.cpu = u1.cpu - u0.cpu
	r.mallocs = u1.mallocs - u0.mallocs
	r.bytes = u1.bytes - u0.bytes
	r.writes = u1.syscw - u0.syscw
	r.reads = u1.syscr - u0.syscr
	r.nsqdCPU = time.Duration(u1.nsqd-u0.nsqd) * time.Second / clockTicks
	// Busy time of neither process: other work competing for the CPUs.
	if other := int64(u1.busy-u0.busy) - int64(u1.self-u0.self) - int64(u1.nsqd-u0.nsqd); other > 0 && u1.busy > 0 {
		r.otherCores = float64(other) / clockTicks / r.elapsed.Seconds()
	}
}

// client is one library's Producer as the modes use it.
type client interface {
	publish(topic string, body []byte) error
	multiPublish(topic string, bodies [][]byte) error
	deferredPublish(topic string, delay time.Duration, body []byte) error
	// async calls PublishAsync from this goroutine with every body next
	// returns until it returns nil, while another goroutine drains the done
	// channel, and returns once every result has arrived: acknowledged
	// messages, errors and the first error.
	async(topic string, next func() []byte) (acked, errs int64, first error)
	stop()
}

// newClient connects a Producer of lib to nsqd (Ping) with default settings
// and logging off.
func (b *bench) newClient(lib string) client {
	switch lib {
	case libNSQPub:
		p, err := nsqpub.NewProducer(b.n.tcp, nsqpub.NewConfig())
		if err != nil {
			fatalf("nsqpub.NewProducer: %v", err)
		}
		p.SetLogger(nil, nsqpub.LogLevelError)
		if err := p.Ping(); err != nil {
			fatalf("nsqpub Ping: %v", err)
		}
		return nsqpubClient{p}
	default:
		p, err := nsq.NewProducer(b.n.tcp, nsq.NewConfig())
		if err != nil {
			fatalf("nsq.NewProducer: %v", err)
		}
		p.SetLogger(nil, nsq.LogLevelError)
		if err := p.Ping(); err != nil {
			fatalf("go-nsq Ping: %v", err)
		}
		return goNSQClient{p}
	}
}

// libRun runs one mode with one library on a fresh topic and verifies it.
func (b *bench) libRun(lib, mode string, body []byte) result {
	topic := b.newTopic()
	c := b.newClient(lib)
	var stop atomic.Bool
	runtime.GC()
	u0 := b.snapshot()
	timer := time.AfterFunc(b.o.duration, func() { stop.Store(true) })
	var r result
	switch mode {
	case "pub1":
		r = syncLoop(1, &stop, 1, func() error { return c.publish(topic, body) })
	case "pub64":
		r = syncLoop(pubGoroutines, &stop, 1, func() error { return c.publish(topic, body) })
	case "multi100":
		bodies := make([][]byte, batchSize)
		for i := range bodies {
			bodies[i] = body
		}
		r = syncLoop(1, &stop, batchSize, func() error { return c.multiPublish(topic, bodies) })
	case "deferred":
		r = syncLoop(b.o.deferredG, &stop, 1, func() error { return c.deferredPublish(topic, deferDelay, body) })
	case "async":
		r.msgs, r.errs, r.err = c.async(topic, func() []byte {
			if stop.Load() {
				return nil
			}
			return body
		})
	}
	end := time.Now()
	u1 := b.snapshot()
	timer.Stop()
	measure(&r, u0, u1, end)
	c.stop()
	b.verify(topic, &r)
	return r
}

// syncLoop runs g goroutines that each call f until stop is set, counting
// per messages for each nil return. A goroutine stops at its first error.
func syncLoop(g int, stop *atomic.Bool, per int64, f func() error) result {
	var (
		wg    sync.WaitGroup
		acked atomic.Int64
		errs  atomic.Int64
		once  sync.Once
		first error
	)
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for !stop.Load() {
				if err := f(); err != nil {
					errs.Add(1)
					once.Do(func() { first = err })
					break
				}
				n += per
			}
			acked.Add(n)
		}()
	}
	wg.Wait()
	return result{msgs: acked.Load(), errs: errs.Load(), err: first}
}

// asyncRun calls publish for every body next returns, until it returns nil,
// from this goroutine, while another goroutine drains the done channel and
// checks every result. It returns once every result has arrived. T is
// nsqpub's or go-nsq's transaction type; errOf reads its Error. Once done
// publishing, this goroutine sends a nil marker on done after setting sent,
// which tells the drainer how many results to wait for.
func asyncRun[T any](next func() []byte, publish func(body []byte, done chan *T) error, errOf func(*T) error) (acked, errs int64, first error) {
	done := make(chan *T, asyncDoneBuf)
	drained := make(chan struct{})
	var (
		sent             int64 // set before the marker is sent
		dAcked, dErrs    int64 // written by the drainer before drained closes
		dFirst, pubFirst error
		pubErrs          int64
	)
	go func() {
		defer close(drained)
		var got int64
		want := int64(-1)
		for t := range done {
			if t == nil {
				want = sent
			} else {
				got++
				if err := errOf(t); err != nil {
					dErrs++
					if dFirst == nil {
						dFirst = err
					}
				} else {
					dAcked++
				}
			}
			if got == want {
				return
			}
		}
	}()
	var n int64
	for body := next(); body != nil; body = next() {
		if err := publish(body, done); err != nil {
			pubErrs, pubFirst = 1, err
			break
		}
		n++
	}
	sent = n
	done <- nil
	<-drained
	if pubFirst == nil {
		pubFirst = dFirst
	}
	return dAcked, pubErrs + dErrs, pubFirst
}

// nsqpubClient adapts *nsqpub.Producer.
type nsqpubClient struct{ p *nsqpub.Producer }

// publish calls Publish.
func (c nsqpubClient) publish(topic string, body []byte) error { return c.p.Publish(topic, body) }

// multiPublish calls MultiPublish.
func (c nsqpubClient) multiPublish(topic string, bodies [][]byte) error {
	return c.p.MultiPublish(topic, bodies)
}

// deferredPublish calls DeferredPublish.
func (c nsqpubClient) deferredPublish(topic string, delay time.Duration, body []byte) error {
	return c.p.DeferredPublish(topic, delay, body)
}

// stop calls Stop.
func (c nsqpubClient) stop() { c.p.Stop() }

// async runs PublishAsync through asyncRun.
func (c nsqpubClient) async(topic string, next func() []byte) (int64, int64, error) {
	return asyncRun(next,
		func(body []byte, done chan *nsqpub.ProducerTransaction) error {
			return c.p.PublishAsync(topic, body, done)
		},
		func(t *nsqpub.ProducerTransaction) error { return t.Error })
}

// goNSQClient adapts go-nsq's *nsq.Producer.
type goNSQClient struct{ p *nsq.Producer }

// publish calls Publish.
func (c goNSQClient) publish(topic string, body []byte) error { return c.p.Publish(topic, body) }

// multiPublish calls MultiPublish.
func (c goNSQClient) multiPublish(topic string, bodies [][]byte) error {
	return c.p.MultiPublish(topic, bodies)
}

// deferredPublish calls DeferredPublish.
func (c goNSQClient) deferredPublish(topic string, delay time.Duration, body []byte) error {
	return c.p.DeferredPublish(topic, delay, body)
}

// stop calls Stop.
func (c goNSQClient) stop() { c.p.Stop() }

// async runs PublishAsync through asyncRun.
func (c goNSQClient) async(topic string, next func() []byte) (int64, int64, error) {
	return asyncRun(next,
		func(body []byte, done chan *nsq.ProducerTransaction) error {
			return c.p.PublishAsync(topic, body, done)
		},
		func(t *nsq.ProducerTransaction) error { return t.Error })
}

// rawConn connects to nsqd without a library: the magic, then IDENTIFY
// without feature negotiation, whose reply is a plain OK.
func (b *bench) rawConn(what string) (net.Conn, *bufio.Reader) {
	nc, err := net.Dial("tcp", b.n.tcp)
	if err != nil {
		fatalf("%s: %v", what, err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	id, _ := json.Marshal(map[string]any{"client_id": what, "hostname": what,
		"user_agent": "nsqpub-bench-" + what, "feature_negotiation": false})
	hello := append([]byte("  V2IDENTIFY\n"), binary.BigEndian.AppendUint32(nil, uint32(len(id)))...)
	if _, err := nc.Write(append(hello, id...)); err != nil {
		fatalf("%s: %v", what, err)
	}
	if typ, data, err := readFrame(br); err != nil || typ != 0 || string(data) != "OK" {
		fatalf("%s: IDENTIFY reply type %d %q, %v", what, typ, data, err)
	}
	return nc, br
}

// roundTripRun is the floor of a synchronous publish on this machine: one
// goroutine on a raw connection writes a prebuilt PUB and reads its OK, in
// turn, until the time is up. No library can make Publish from one
// goroutine faster than this.
func (b *bench) roundTripRun(body []byte) result {
	topic := b.newTopic()
	nc, br := b.rawConn("roundtrip")
	defer nc.Close()
	pub := fmt.Appendf(nil, "PUB %s\n", topic)
	pub = binary.BigEndian.AppendUint32(pub, uint32(len(body)))
	pub = append(pub, body...)
	var r result
	runtime.GC()
	u0 := b.snapshot()
	for deadline := u0.t.Add(b.o.duration); time.Now().Before(deadline); {
		if _, err := nc.Write(pub); err != nil {
			fatalf("roundtrip: writing: %v", err)
		}
		typ, data, err := readFrame(br)
		if err != nil || typ != 0 || string(data) != "OK" {
			fatalf("roundtrip: reply type %d %q, %v", typ, data, err)
		}
		r.msgs++
	}
	end := time.Now()
	u1 := b.snapshot()
	measure(&r, u0, u1, end)
	b.verify(topic, &r)
	return r
}

// ceilingRun is the practical ceiling of nsqd: one raw TCP connection that
// sends the magic and IDENTIFY, then pipelines a prebuilt MPUB of 100 copies
// of body, keeping up to -ceiling-inflight unanswered, while another
// goroutine reads the OK frames.
func (b *bench) ceilingRun(body []byte) result {
	topic := b.newTopic()
	nc, br := b.rawConn("ceiling")
	defer nc.Close()

	size := 4
	for range batchSize {
		size += 4 + len(body)
	}
	mpub := fmt.Appendf(nil, "MPUB %s\n", topic)
	mpub = binary.BigEndian.AppendUint32(mpub, uint32(size))
	mpub = binary.BigEndian.AppendUint32(mpub, batchSize)
	for range batchSize {
		mpub = binary.BigEndian.AppendUint32(mpub, uint32(len(body)))
		mpub = append(mpub, body...)
	}

	// A slot is taken before each MPUB is written and given back by the
	// reader when its OK arrives; once the writer holds every slot again,
	// everything it wrote has been answered.
	slots := make(chan struct{}, b.o.ceilingInflight)
	var acked atomic.Int64
	var closing atomic.Bool
	readerDone := make(chan struct{})
	runtime.GC()
	u0 := b.snapshot()
	go func() {
		defer close(readerDone)
		for {
			typ, data, err := readFrame(br)
			switch {
			case err != nil && closing.Load():
				return
			case err != nil:
				fatalf("ceiling: reading: %v", err)
			case typ == 0 && string(data) == "_heartbeat_":
				continue
			case typ != 0 || string(data) != "OK":
				fatalf("ceiling: reply type %d %q", typ, data)
			}
			acked.Add(batchSize)
			<-slots
		}
	}()
	deadline := time.Now().Add(b.o.duration)
	for time.Now().Before(deadline) {
		slots <- struct{}{}
		if _, err := nc.Write(mpub); err != nil {
			fatalf("ceiling: writing: %v", err)
		}
	}
	for range b.o.ceilingInflight {
		slots <- struct{}{}
	}
	end := time.Now()
	u1 := b.snapshot()
	closing.Store(true)
	nc.Close()
	<-readerDone
	r := result{msgs: acked.Load()}
	measure(&r, u0, u1, end)
	b.verify(topic, &r)
	return r
}

// readFrame reads one frame: size, type, data.
func readFrame(r *bufio.Reader) (int32, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("frame size %d", n)
	}
	data := make([]byte, n-4)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(hdr[4:])), data, nil
}

// heapResult is the outcome of the peak heap check for one library.
type heapResult struct {
	lib     string
	r       result
	base    uint64 // heap in use before publishing
	peak    uint64 // highest heap in use sampled while publishing
	heapSys uint64 // MemStats.HeapSys afterwards
}

// heapInuse reads the heap in use (MemStats.HeapInuse: objects plus the
// unused part of in-use spans) without stopping the world.
func heapInuse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var v uint64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			v += x.Value.Uint64()
		}
	}
	return v
}

// peakHeap publishes -heap-n freshly allocated 1 KiB bodies with
// PublishAsync as fast as possible and samples the heap in use meanwhile.
func (b *bench) peakHeap(lib string) heapResult {
	topic := b.newTopic()
	c := b.newClient(lib)
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	runtime.GC()
	h := heapResult{lib: lib, base: heapInuse(samples)}
	var peak atomic.Uint64
	samplerDone := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(heapSample)
		defer tick.Stop()
		local := make([]metrics.Sample, len(samples))
		copy(local, samples)
		for {
			if v := heapInuse(local); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-tick.C:
			case <-stopSampling:
				return
			}
		}
	}()
	src := &heapSource{n: b.o.heapN}
	u0 := b.snapshot()
	h.r.msgs, h.r.errs, h.r.err = c.async(topic, src.next)
	end := time.Now()
	close(stopSampling)
	<-samplerDone
	u1 := b.snapshot()
	measure(&h.r, u0, u1, end)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak, h.heapSys = peak.Load(), ms.HeapSys
	c.stop()
	b.verify(topic, &h.r)
	if h.r.errs > 0 {
		b.failed++
	}
	fmt.Fprintf(os.Stderr, "heap check %-7s %d msgs in %v, peak heap in use %.1f MiB%s\n", lib, h.r.msgs,
		h.r.elapsed.Round(time.Millisecond), mib(h.peak), errText(h.r))
	return h
}

// heapSource hands out n freshly allocated 1 KiB bodies.
type heapSource struct {
	n int // bodies to hand out
	i int // bodies handed out
}

// next returns the next body, or nil when all n are out.
func (s *heapSource) next() []byte {
	if s.i == s.n {
		return nil
	}
	b := make([]byte, 1024)
	binary.BigEndian.PutUint64(b, uint64(s.i))
	s.i++
	return b
}

// mib converts bytes to MiB.
func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// errText describes a run's errors for the progress lines.
func errText(r result) string {
	if r.errs == 0 {
		return ""
	}
	return fmt.Sprintf("  %d ERRORS, first: %v", r.errs, r.err)
}

// printHeap prints the peak heap check.
func (b *bench) printHeap() {
	fmt.Printf("## Peak heap: %d × 1 KiB (a fresh body each) with PublishAsync as fast as possible\n\n", b.o.heapN)
	fmt.Println("| library | msg/s | heap in use before | peak heap in use (sampled every 1 ms) | HeapSys after | target < 64 MiB |")
	fmt.Println("|---|---:|---:|---:|---:|---|")
	for _, h := range b.heap {
		verdict := "met"
		if h.peak >= heapTarget {
			verdict = fmt.Sprintf("MISSED by %.1f MiB", mib(h.peak-heapTarget))
		}
		if h.lib != libNSQPub {
			verdict = "(applies to nsqpub)"
		}
		fmt.Printf("| %s | %.0f | %.1f MiB | %.1f MiB | %.1f MiB | %s |\n", h.lib, h.r.rate(),
			mib(h.base), mib(h.peak), mib(h.heapSys), verdict)
	}
	fmt.Println()
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// stat returns the median of f over the runs of k.
func (b *bench) stat(k key, f func(result) float64) float64 {
	var xs []float64
	for _, r := range b.results[k] {
		xs = append(xs, f(r))
	}
	return median(xs)
}

// has reports whether k has runs.
func (b *bench) has(k key) bool { return len(b.results[k]) > 0 }

// ratio formats a/b.
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// cell formats a median for the table, or "–" when there are no runs.
func (b *bench) cell(k key, f func(result) float64, format string) string {
	if !b.has(k) {
		return "–"
	}
	return fmt.Sprintf(format, b.stat(k, f))
}

// ceilingFrac formats a library's msg/s as a fraction of the ceiling.
func (b *bench) ceilingFrac(k key) string {
	c := key{"ceiling", k.size, "ceiling"}
	if !b.has(k) || !b.has(c) {
		return "–"
	}
	return fmt.Sprintf("%.2f", b.stat(k, result.rate)/b.stat(c, result.rate))
}

// printTable prints the medians.
func (b *bench) printTable() {
	fmt.Printf("## Medians of %d rounds (%v per run; nsqpub and go-nsq alternate)\n\n", b.o.rounds, b.o.duration)
	for _, size := range b.o.sizes {
		if c := (key{"ceiling", size, "ceiling"}); b.has(c) {
			fmt.Printf("- Ceiling, %d B: %.0f msg/s (%.2f µs client CPU/msg), hand-framed MPUB ×%d pipelined on one connection.\n",
				size, b.stat(c, result.rate), b.stat(c, result.cpuPerMsg), batchSize)
		}
		if c := (key{"roundtrip", size, "ceiling"}); b.has(c) {
			fmt.Printf("- Synchronous round trip, %d B: %.0f msg/s (%.2f µs client CPU/msg), hand-framed PUB then read its OK, one goroutine: the floor under Publish from 1 goroutine.\n",
				size, b.stat(c, result.rate), b.stat(c, result.cpuPerMsg))
		}
	}
	if b.o.ceiling {
		fmt.Println()
	}
	fmt.Println("| mode | size | nsqpub msg/s | go-nsq msg/s | ratio | nsqpub CPU µs/msg | go-nsq CPU µs/msg | ratio | nsqpub allocs/msg | go-nsq allocs/msg | nsqpub B/msg | go-nsq B/msg | nsqpub of ceiling | go-nsq of ceiling |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, size := range b.o.sizes {
		for _, mode := range b.o.modes {
			a, g := key{mode, size, libNSQPub}, key{mode, size, libGoNSQ}
			title := modeTitle[mode]
			if mode == "deferred" {
				title = fmt.Sprintf("DeferredPublish, %d goroutines", b.o.deferredG)
			}
			fmt.Printf("| %s | %d B | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				title, size,
				b.cell(a, result.rate, "%.0f"), b.cell(g, result.rate, "%.0f"),
				ratio(b.stat(a, result.rate), b.stat(g, result.rate)),
				b.cell(a, result.cpuPerMsg, "%.2f"), b.cell(g, result.cpuPerMsg, "%.2f"),
				ratio(b.stat(a, result.cpuPerMsg), b.stat(g, result.cpuPerMsg)),
				b.cell(a, result.allocsPerMsg, "%.2f"), b.cell(g, result.allocsPerMsg, "%.2f"),
				b.cell(a, result.bytesPerMsg, "%.0f"), b.cell(g, result.bytesPerMsg, "%.0f"),
				b.ceilingFrac(a), b.ceilingFrac(g))
		}
	}
	fmt.Println()
}

// printDisturbed says how many runs had other processes competing for the
// CPUs, which makes their numbers unreliable.
func (b *bench) printDisturbed() {
	var n, all int
	var worst float64
	for _, rs := range b.results {
		for _, r := range rs {
			all++
			if r.otherCores > b.o.maxOther {
				n++
			}
			worst = max(worst, r.otherCores)
		}
	}
	fmt.Printf("Runs disturbed by other processes (> %.1f cores busy outside the benchmark and nsqd): %d of %d kept, after %d repeated runs (-retries %d); the worst kept saw %.2f cores.\n\n",
		b.o.maxOther, n, all, b.retried, b.o.retries, worst)
}

// printSyscalls prints the medians of write and read syscalls per message,
// which show how well each library batches (nsqd answers every command it
// reads with its own write, so reads follow the commands written).
func (b *bench) printSyscalls() {
	if r, w := syscallCounts(); r == 0 && w == 0 {
		return
	}
	fmt.Println("## Diagnostics: syscalls of the benchmark process (/proc/self/io) and nsqd's CPU, per message (medians)")
	fmt.Println()
	fmt.Println("| mode | size | nsqpub writes/msg | go-nsq writes/msg | nsqpub reads/msg | go-nsq reads/msg | nsqd CPU µs/msg with nsqpub | with go-nsq |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, size := range b.o.sizes {
		for _, ref := range []string{"ceiling", "roundtrip"} {
			if c := (key{ref, size, "ceiling"}); b.has(c) {
				fmt.Printf("| %s | %d B | %.4f | | %.4f | | %.2f | |\n", ref, size, b.stat(c, result.writesPerMsg),
					b.stat(c, result.readsPerMsg), b.stat(c, result.nsqdCPUPerMsg))
			}
		}
		for _, mode := range b.o.modes {
			a, g := key{mode, size, libNSQPub}, key{mode, size, libGoNSQ}
			fmt.Printf("| %s | %d B | %s | %s | %s | %s | %s | %s |\n", mode, size,
				b.cell(a, result.writesPerMsg, "%.4f"), b.cell(g, result.writesPerMsg, "%.4f"),
				b.cell(a, result.readsPerMsg, "%.4f"), b.cell(g, result.readsPerMsg, "%.4f"),
				b.cell(a, result.nsqdCPUPerMsg, "%.2f"), b.cell(g, result.nsqdCPUPerMsg, "%.2f"))
		}
	}
	fmt.Println()
}

// printRounds prints every run's msg/s, to show the spread behind the medians.
func (b *bench) printRounds() {
	fmt.Println("## msg/s of every round")
	fmt.Println()
	fmt.Printf("A `*` marks a run during which other processes kept more than %.1f cores busy (from /proc/stat).\n\n", b.o.maxOther)
	fmt.Println("| run | size | msg/s per round |")
	fmt.Println("|---|---:|---|")
	for _, size := range b.o.sizes {
		rows := []key{{"ceiling", size, "ceiling"}, {"roundtrip", size, "ceiling"}}
		for _, mode := range b.o.modes {
			for _, lib := range b.o.libs {
				rows = append(rows, key{mode, size, lib})
			}
		}
		for _, k := range rows {
			if !b.has(k) {
				continue
			}
			var xs []string
			for _, r := range b.results[k] {
				mark := ""
				if r.otherCores > b.o.maxOther {
					mark = "*"
				}
				xs = append(xs, fmt.Sprintf("%.0f%s", r.rate(), mark))
			}
			name := k.mode + " " + k.lib
			if k.lib == "ceiling" {
				name = k.mode
			}
			fmt.Printf("| %s | %d B | %s |\n", name, size, strings.Join(xs, ", "))
		}
	}
	fmt.Println()
}

// target is one line of issue 4's targets for 100-byte messages.
type target struct {
	mode      string
	rate      float64 // minimum msg/s ratio vs go-nsq
	cpu       float64 // maximum CPU per message ratio vs go-nsq
	allocs    float64 // maximum allocations per message
	ceilingAt float64 // minimum fraction of the ceiling, or 0
}

// targets are issue 4's targets.
var targets = []target{
	{"async", 8, 0.1, 1, 0.7},
	{"pub64", 2, 0.5, 2, 0},
	{"pub1", 1.3, 0.8, 2, 0},
	{"multi100", 1.0, 1.0, 0.05, 0},
}

// printTargets prints issue 4's targets (100-byte messages) as met or missed.
func (b *bench) printTargets() {
	const size = 100
	fmt.Println("## Issue 4 targets (100 B)")
	fmt.Println()
	fmt.Println("| mode | metric | target | measured | verdict |")
	fmt.Println("|---|---|---|---|---|")
	line := func(mode, metric, want string, got float64, ok bool, by string) {
		v := "met"
		if !ok {
			v = "MISSED (" + by + ")"
		}
		fmt.Printf("| %s | %s | %s | %.2f | %s |\n", modeTitle[mode], metric, want, got, v)
	}
	for _, t := range targets {
		a, g := key{t.mode, size, libNSQPub}, key{t.mode, size, libGoNSQ}
		if !b.has(a) {
			continue
		}
		if b.has(g) {
			rr := b.stat(a, result.rate) / b.stat(g, result.rate)
			line(t.mode, "msg/s vs go-nsq", fmt.Sprintf("≥ %.1f×", t.rate), rr, rr >= t.rate, fmt.Sprintf("%.0f%% short", 100*(1-rr/t.rate)))
			cr := b.stat(a, result.cpuPerMsg) / b.stat(g, result.cpuPerMsg)
			line(t.mode, "client CPU/msg vs go-nsq", fmt.Sprintf("≤ %.2f×", t.cpu), cr, cr <= t.cpu, fmt.Sprintf("%.1f× the target", cr/t.cpu))
		}
		// Allocations are judged as shown, to 2 decimals: a run also makes
		// a few allocations that are not per message (timers, goroutines).
		al := b.stat(a, result.allocsPerMsg)
		alShown := math.Round(al*100) / 100
		line(t.mode, "allocs/msg", fmt.Sprintf("≤ %g", t.allocs), al, alShown <= t.allocs, fmt.Sprintf("%.2f over", alShown-t.allocs))
		if c := (key{"ceiling", size, "ceiling"}); t.ceilingAt > 0 && b.has(c) {
			f := b.stat(a, result.rate) / b.stat(c, result.rate)
			line(t.mode, "fraction of ceiling", fmt.Sprintf("≥ %.1f", t.ceilingAt), f, f >= t.ceilingAt, fmt.Sprintf("%.0f%% short", 100*(1-f/t.ceilingAt)))
		}
	}
	for _, h := range b.heap {
		if h.lib == libNSQPub {
			ok := h.peak < heapTarget
			v := "met"
			if !ok {
				v = fmt.Sprintf("MISSED (%.1f MiB over)", mib(h.peak-heapTarget))
			}
			fmt.Printf("| PublishAsync, %d × 1 KiB | peak heap in use MiB | < 64 | %.2f | %s |\n", b.o.heapN, mib(h.peak), v)
		}
	}
	fmt.Println()
}

// nsqd is the nsqd process the benchmark runs against.
type nsqd struct {
	cmd      *exec.Cmd
	dir      string
	tcp      string
	http     string
	version  string
	hc       *http.Client
	stopOnce sync.Once
	exited   chan struct{}
}

// startNSQD runs nsqd on free loopback ports with its own data directory.
func startNSQD(bin string, memQueue int) (*nsqd, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %v\n%s", bin, err, out)
	}
	version := strings.TrimSpace(string(out))
	if !strings.HasPrefix(version, "nsqd v1.3.0 ") {
		fmt.Fprintf(os.Stderr, "bench: WARNING: expected nsqd v1.3.0, %s is %s\n", bin, version)
	}
	dir, err := os.MkdirTemp("", "nsqpub-bench")
	if err != nil {
		return nil, err
	}
	n := &nsqd{dir: dir, version: version, hc: &http.Client{Timeout: 30 * time.Second}, exited: make(chan struct{})}
	n.cmd = exec.Command(bin, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
		"--https-address=127.0.0.1:0", "--data-path="+dir, "--mem-queue-size="+strconv.Itoa(memQueue))
	pipe, err := n.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	n.cmd.Stdout = n.cmd.Stderr
	if err := n.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens any more: drop
			}
		}
		close(lines)
		n.cmd.Wait()
		close(n.exited)
	}()
	re := regexp.MustCompile(`(TCP|HTTP): listening on (\S+)`)
	var seen []string
	timeout := time.After(10 * time.Second)
	for n.tcp == "" || n.http == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				n.stop()
				return nil, fmt.Errorf("nsqd exited before listening:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := re.FindStringSubmatch(l); m != nil {
				if m[1] == "TCP" {
					n.tcp = m[2]
				} else {
					n.http = m[2]
				}
			}
		case <-timeout:
			n.stop()
			return nil, fmt.Errorf("nsqd did not report its ports within 10s:\n%s", strings.Join(seen, "\n"))
		}
	}
	return n, nil
}

// stop terminates nsqd (SIGTERM, then SIGKILL after 10s) and removes its
// data directory. It is safe to call more than once and concurrently.
func (n *nsqd) stop() {
	n.stopOnce.Do(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
		os.RemoveAll(n.dir)
	})
}

// post sends POST path?topic=topic to nsqd's HTTP API and expects 200.
func (n *nsqd) post(path, topic string) error {
	resp, err := n.hc.Post("http://"+n.http+path+"?"+url.Values{"topic": {topic}}.Encode(), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", path, resp.Status, body)
	}
	return nil
}

// messageCount returns the topic's message_count from /stats.
func (n *nsqd) messageCount(topic string) (int64, error) {
	resp, err := n.hc.Get("http://" + n.http + "/stats?" + url.Values{"format": {"json"}, "topic": {topic}}.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var s struct {
		Topics []struct {
			Name  string `json:"topic_name"`
			Count int64  `json:"message_count"`
		} `json:"topics"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, err
	}
	for _, t := range s.Topics {
		if t.Name == topic {
			return t.Count, nil
		}
	}
	return 0, errors.New("topic not in /stats")
}
