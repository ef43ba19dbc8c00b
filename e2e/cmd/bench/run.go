package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// bench holds the state of the whole benchmark.
type bench struct {
	o         *options
	n         *nsqd
	seq       int // topic counter
	results   map[key][]result
	heap      []heapResult
	idle      []idleResult
	bodies    map[int][][]byte // shared plain bodies by size
	jsonCache map[int][][]byte // JSON-like bodies by size
	failed    int
	retried   int          // runs repeated because they were disturbed
	out       bytes.Buffer // the report
	started   time.Time
	loadStart string // load average at the start
}

// newBench returns a bench on nsqd n.
func newBench(o *options, n *nsqd) *bench {
	return &bench{o: o, n: n, results: map[key][]result{}, bodies: map[int][][]byte{}, jsonCache: map[int][][]byte{},
		started: time.Now(), loadStart: loadAvg()}
}

// run runs every part asked for, prints the report and writes the charts
// and results file. It returns how many runs failed.
func (b *bench) run() int {
	// Idle first: later parts leave the runtime work to do for a while.
	if b.o.has("idle") {
		b.idleChecks()
	}
	stopProfile := b.startProfile()
	if b.o.has("table") {
		b.runTable()
	}
	stopProfile()
	if b.o.has("comp") {
		b.runComp()
	}
	if b.o.has("sweep-g") {
		b.sweepGoroutines()
	}
	if b.o.has("sweep-size") {
		b.sweepSizes()
	}
	// Heap last: it pushes gigabytes through nsqd and this process, which
	// both then have memory to return for a while.
	if b.o.has("heap") {
		b.heapChecks()
	}
	b.report()
	b.writeOutputs()
	return b.failed
}

// runTable runs the references, every mode over one topic, and the topic
// modes over -topics topics, for every size and round.
func (b *bench) runTable() {
	for _, size := range b.o.sizes {
		for r := range b.o.rounds {
			if b.o.ceiling {
				b.runKey(key{refCeiling, size, libRef, 1, "", 0, partTable}, r)
				b.runKey(key{refRoundTrip, size, libRef, 1, "", 1, partTable}, r)
			}
			for _, mode := range b.o.modes {
				for _, lib := range b.o.libs {
					b.runKey(key{mode, size, lib, 1, "", 0, partTable}, r)
				}
			}
			if b.o.topics < 2 {
				continue
			}
			for _, mode := range b.o.topicModes {
				for _, lib := range b.o.libs {
					b.runKey(key{mode, size, lib, b.o.topics, "", 0, partTable}, r)
				}
			}
		}
	}
}

// runComp runs the compression modes with JSON-like bodies, every codec and
// library in turn, for every round.
func (b *bench) runComp() {
	for r := range b.o.rounds {
		for _, comp := range b.o.comps {
			for _, mode := range b.o.compModes {
				for _, lib := range b.o.libs {
					b.runKey(key{mode, b.o.compSize, lib, 1, comp, 0, partComp}, r)
				}
			}
		}
	}
}

// runKey runs k once (retrying a disturbed run) and records the result.
func (b *bench) runKey(k key, round int) {
	b.record(k, round, b.retry(func() result {
		switch {
		case k.lib != libRef:
			return b.libRun(k)
		case k.mode == refCeiling:
			return b.ceilingRun(k)
		default:
			return b.roundTripRun(k)
		}
	}))
}

// duration is how long a run of k publishes.
func (b *bench) duration(k key) time.Duration {
	if k.part == partSweepG || k.part == partSweepSize {
		return b.o.sweepDuration
	}
	return b.o.duration
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
	status := errText(r)
	if r.errs > 0 {
		b.failed++
	}
	fmt.Fprintf(os.Stderr, "%-10s round %d %-9s %7dB %-9s %2dt g%-3d %-7s %9.0f msg/s %6.2f µs/msg %5.2f allocs/msg %7.1f B/msg %6.3f writes/msg %6.3f reads/msg nsqd %5.2f µs/msg, other load %.2f cores (%d msgs in %v)%s\n",
		k.part, round+1, k.mode, k.size, k.lib, k.topics, k.g, k.comp, r.rate(), r.cpuPerMsg(), r.allocsPerMsg(), r.bytesPerMsg(),
		r.writesPerMsg(), r.readsPerMsg(), r.nsqdCPUPerMsg(), r.otherCores, r.msgs, r.elapsed.Round(time.Millisecond), status)
}
