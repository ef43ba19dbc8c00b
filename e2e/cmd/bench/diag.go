package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

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
	b.printf("Runs disturbed by other processes (> %.1f cores busy outside the benchmark and nsqd): %d of %d kept, after %d repeated runs (-retries %d); the worst kept saw %.2f cores.\n\n",
		b.o.maxOther, n, all, b.retried, b.o.retries, worst)
}

// printSyscalls prints the medians of write and read syscalls per message
// of the table part, which show how well each library batches (nsqd
// answers every command it reads with its own write, so reads follow the
// commands written).
func (b *bench) printSyscalls() {
	if r, w := syscallCounts(); r == 0 && w == 0 || !b.o.has("table") {
		return
	}
	b.printf("## Diagnostics: syscalls of the benchmark process (/proc/self/io) and nsqd's CPU, per message (medians)\n\n")
	b.printf("| mode | size | nsqpub writes/msg | go-nsq writes/msg | nsqpub reads/msg | go-nsq reads/msg | nsqd CPU µs/msg with nsqpub | with go-nsq |\n")
	b.printf("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, size := range b.o.sizes {
		for _, ref := range []string{refCeiling, refRoundTrip} {
			if c := tableKey(ref, size, libRef, 1); b.has(c) {
				b.printf("| %s | %d B | %.4f | | %.4f | | %.2f | |\n", ref, size, b.stat(c, result.writesPerMsg),
					b.stat(c, result.readsPerMsg), b.stat(c, result.nsqdCPUPerMsg))
			}
		}
		for _, row := range b.tableRows() {
			a, g := tableKey(row.mode, size, libNSQPub, row.topics), tableKey(row.mode, size, libGoNSQ, row.topics)
			name := row.mode
			if row.topics > 1 {
				name += fmt.Sprintf(" ×%d topics", row.topics)
			}
			b.printf("| %s | %d B | %s | %s | %s | %s | %s | %s |\n", name, size,
				b.cell(a, result.writesPerMsg, "%.4f"), b.cell(g, result.writesPerMsg, "%.4f"),
				b.cell(a, result.readsPerMsg, "%.4f"), b.cell(g, result.readsPerMsg, "%.4f"),
				b.cell(a, result.nsqdCPUPerMsg, "%.2f"), b.cell(g, result.nsqdCPUPerMsg, "%.2f"))
		}
	}
	b.printf("\n")
}

// printRounds prints every run's msg/s, to show the spread behind the
// medians.
func (b *bench) printRounds() {
	b.printf("## msg/s of every round\n\n")
	b.printf("A `*` marks a run during which other processes kept more than %.1f cores busy (from /proc/stat).\n\n", b.o.maxOther)
	b.printf("| part | run | size | topics | msg/s per round |\n")
	b.printf("|---|---|---:|---:|---|\n")
	keys := make([]key, 0, len(b.results))
	for k := range b.results {
		keys = append(keys, k)
	}
	order := map[string]int{partTable: 0, partComp: 1, partSweepG: 2, partSweepSize: 3}
	slices.SortFunc(keys, func(x, y key) int {
		return cmp.Or(cmp.Compare(order[x.part], order[y.part]), cmp.Compare(x.topics, y.topics), cmp.Compare(x.size, y.size),
			cmp.Compare(x.comp, y.comp), cmp.Compare(x.g, y.g), cmp.Compare(x.mode, y.mode), cmp.Compare(x.lib, y.lib))
	})
	for _, k := range keys {
		var xs []string
		for _, r := range b.results[k] {
			mark := ""
			if r.otherCores > b.o.maxOther {
				mark = "*"
			}
			xs = append(xs, fmt.Sprintf("%.0f%s", r.rate(), mark))
		}
		name := k.mode
		if k.mode == "pubg" {
			name = fmt.Sprintf("pub%d", k.g)
		} else if k.mode == refRoundTrip && k.g > 1 {
			name = fmt.Sprintf("%s ×%d", k.mode, k.g)
		}
		if k.lib != libRef {
			name += " " + k.lib
		}
		if k.comp != "" {
			name += " " + k.comp
		}
		b.printf("| %s | %s | %d B | %d | %s |\n", k.part, name, k.size, k.topics, strings.Join(xs, ", "))
	}
	b.printf("\n")
}
