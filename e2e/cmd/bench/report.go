package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
)

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

// errText describes a run's errors for the progress lines.
func errText(r result) string {
	if r.errs == 0 {
		return ""
	}
	return fmt.Sprintf("  %d ERRORS, first: %v", r.errs, r.err)
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
