package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// key identifies one cell of the table. lib is "ceiling" for the ceiling.
type key struct {
	mode string
	size int
	lib  string
}

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
	status := errText(r)
	if r.errs > 0 {
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
