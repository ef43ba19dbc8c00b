package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// printf writes to the report, which is printed and saved at the end.
func (b *bench) printf(format string, args ...any) { fmt.Fprintf(&b.out, format, args...) }

// report writes every table of the results to the report.
func (b *bench) report() {
	b.printHeader()
	b.printTargets()
	b.printCharts()
	b.printTable()
	b.printComp()
	b.printHeap()
	b.printIdle()
	b.printSweeps()
	b.printDisturbed()
	b.printSyscalls()
	b.printRounds()
}

// machine describes the client's machine in a few words.
func (b *bench) machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s %s/%s, %d CPUs, host %s", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host)
}

// printHeader prints the machine and the settings.
func (b *bench) printHeader() {
	b.printf("# nsqpub vs go-nsq v1.1.0 on nsqd\n\n")
	if b.o.note != "" {
		b.printf("**%s**\n\n", b.o.note)
	}
	b.printf("- run: %s, took %s, parts %s\n", b.started.UTC().Format("2006-01-02 15:04 MST"),
		time.Since(b.started).Round(time.Second), strings.Join(b.o.parts, ","))
	b.printf("- nsqd: %s (%s), --mem-queue-size=%d, TCP %s\n", b.n.version, b.o.nsqd, b.o.memQueue, b.n.tcp)
	b.printf("- client: %s, GOMAXPROCS=%d\n", b.machine(), runtime.GOMAXPROCS(0))
	b.printf("- table: %d rounds × %v per run; modes %s; sizes %v; also over %d interleaved topics: %s; libraries %s (run alternately)\n",
		b.o.rounds, b.o.duration, strings.Join(b.o.modes, ","), b.o.sizes, b.o.topics, strings.Join(b.o.topicModes, ","), strings.Join(b.o.libs, ","))
	b.printf("- ceiling: one raw TCP connection pipelining MPUBs of %d messages (fewer where they would pass 5 MiB), %d unanswered at most\n", batchSize, b.o.ceilingInflight)
	b.printf("- a run with more than %.1f cores busy in other processes is repeated up to %d times (-max-other, -retries)\n", b.o.maxOther, b.o.retries)
	b.printf("- load average at the start: %s; at the end: %s\n\n", b.loadStart, loadAvg())
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

// ratioCell formats the ratio of the medians of f for a and c, or "–".
func (b *bench) ratioCell(a, c key, f func(result) float64) string {
	if !b.has(a) || !b.has(c) || b.stat(c, f) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", b.stat(a, f)/b.stat(c, f))
}

// cell formats a median for the table, or "–" when there are no runs.
func (b *bench) cell(k key, f func(result) float64, format string) string {
	if !b.has(k) {
		return "–"
	}
	return fmt.Sprintf(format, b.stat(k, f))
}

// tableKey is the key of a table run.
func tableKey(mode string, size int, lib string, topics int) key {
	g := 0
	if mode == refRoundTrip {
		g = 1
	}
	return key{mode, size, lib, topics, "", g, partTable}
}

// rowTitle names a mode in the tables.
func (b *bench) rowTitle(mode string, topics int) string {
	title := modeTitle[mode]
	if mode == "deferred" {
		title = fmt.Sprintf("DeferredPublish, %d goroutines", b.o.deferredG)
	}
	if topics > 1 {
		title += fmt.Sprintf(", %d topics", topics)
	}
	return title
}

// printTable prints the medians of the table part.
func (b *bench) printTable() {
	if !b.o.has("table") {
		return
	}
	b.printf("## Medians of %d rounds (%v per run; nsqpub and go-nsq alternate)\n\n", b.o.rounds, b.o.duration)
	for _, size := range b.o.sizes {
		if c := tableKey(refCeiling, size, libRef, 1); b.has(c) {
			b.printf("- Ceiling, %d B: %.0f msg/s (%.2f µs client CPU/msg), hand-framed MPUB ×%d pipelined on one connection.\n",
				size, b.stat(c, result.rate), b.stat(c, result.cpuPerMsg), batchFor(size))
		}
		if c := tableKey(refRoundTrip, size, libRef, 1); b.has(c) {
			b.printf("- Synchronous round trip, %d B: %.0f msg/s (%.2f µs client CPU/msg), hand-framed PUB then read its OK, one goroutine: the floor under Publish from 1 goroutine.\n",
				size, b.stat(c, result.rate), b.stat(c, result.cpuPerMsg))
		}
	}
	b.printf("\n| mode | size | nsqpub msg/s | go-nsq msg/s | ratio | nsqpub CPU µs/msg | go-nsq CPU µs/msg | ratio | nsqpub allocs/msg | go-nsq allocs/msg | nsqpub B/msg | go-nsq B/msg | nsqpub of ceiling | go-nsq of ceiling |\n")
	b.printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, size := range b.o.sizes {
		c := tableKey(refCeiling, size, libRef, 1)
		for _, row := range b.tableRows() {
			a, g := tableKey(row.mode, size, libNSQPub, row.topics), tableKey(row.mode, size, libGoNSQ, row.topics)
			b.printf("| %s | %d B | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				b.rowTitle(row.mode, row.topics), size,
				b.cell(a, result.rate, "%.0f"), b.cell(g, result.rate, "%.0f"), b.ratioCell(a, g, result.rate),
				b.cell(a, result.cpuPerMsg, "%.2f"), b.cell(g, result.cpuPerMsg, "%.2f"), b.ratioCell(a, g, result.cpuPerMsg),
				b.cell(a, result.allocsPerMsg, "%.2f"), b.cell(g, result.allocsPerMsg, "%.2f"),
				b.cell(a, result.bytesPerMsg, "%.0f"), b.cell(g, result.bytesPerMsg, "%.0f"),
				strings.TrimSuffix(b.ratioCell(a, c, result.rate), "×"), strings.TrimSuffix(b.ratioCell(g, c, result.rate), "×"))
		}
	}
	b.printf("\n")
}

// tableRow is one mode of the table over some topics.
type tableRow struct {
	mode   string
	topics int
}

// tableRows lists the table's rows for one size: every mode over one topic,
// then the topic modes over -topics topics.
func (b *bench) tableRows() []tableRow {
	var rows []tableRow
	for _, m := range b.o.modes {
		rows = append(rows, tableRow{m, 1})
	}
	if b.o.topics > 1 {
		for _, m := range b.o.topicModes {
			rows = append(rows, tableRow{m, b.o.topics})
		}
	}
	return rows
}

// printComp prints the compression part.
func (b *bench) printComp() {
	if !b.o.has("comp") {
		return
	}
	b.printf("## Compression: %d distinct JSON-like bodies of %d B in turn (medians of %d rounds × %v)\n\n", jsonBodyCount, b.o.compSize, b.o.rounds, b.o.duration)
	b.printf("| codec | mode | nsqpub msg/s | go-nsq msg/s | ratio | nsqpub CPU µs/msg | go-nsq CPU µs/msg | ratio | nsqpub writes/msg | nsqd CPU µs/msg with nsqpub | with go-nsq |\n")
	b.printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, comp := range b.o.comps {
		for _, mode := range b.o.compModes {
			a, g := key{mode, b.o.compSize, libNSQPub, 1, comp, 0, partComp}, key{mode, b.o.compSize, libGoNSQ, 1, comp, 0, partComp}
			b.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", comp, modeTitle[mode],
				b.cell(a, result.rate, "%.0f"), b.cell(g, result.rate, "%.0f"), b.ratioCell(a, g, result.rate),
				b.cell(a, result.cpuPerMsg, "%.2f"), b.cell(g, result.cpuPerMsg, "%.2f"), b.ratioCell(a, g, result.cpuPerMsg),
				b.cell(a, result.writesPerMsg, "%.4f"), b.cell(a, result.nsqdCPUPerMsg, "%.2f"), b.cell(g, result.nsqdCPUPerMsg, "%.2f"))
		}
	}
	b.printf("\n")
}
