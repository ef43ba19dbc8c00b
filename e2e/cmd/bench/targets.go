package main

import (
	"fmt"
	"math"
)

// target is one line of the project's performance targets for 100-byte
// messages.
type target struct {
	mode      string
	rate      float64 // minimum msg/s ratio vs go-nsq
	cpu       float64 // maximum CPU per message ratio vs go-nsq
	allocs    float64 // maximum allocations per message
	ceilingAt float64 // minimum fraction of the ceiling, or 0
}

// targets are the project's performance targets, against go-nsq on the same
// nsqd.
var targets = []target{
	{"async", 8, 0.1, 1, 0.7},
	{"pub64", 2, 0.5, 2, 0},
	{"pub1", 1.3, 0.8, 2, 0},
	{"multi100", 1.0, 1.0, 0.05, 0},
}

// printTargets prints the targets (100-byte messages) as met or missed. Its
// heading keeps the wording that BENCHMARKS.md records.
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
