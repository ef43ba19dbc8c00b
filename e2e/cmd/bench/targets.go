package main

import (
	"fmt"
	"math"
)

// goalSize is the message size the goals are stated for.
const goalSize = 100

// goalLine is one goal of the table: what it asks, what was measured, and
// whether it is met ("" verdict: not measured in this run).
type goalLine struct {
	goal, measured, verdict string
}

// verdict formats ok as met or missed.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**MISSED**"
}

// printTargets prints the project's goals as met or missed.
func (b *bench) printTargets() {
	lines := b.goals()
	if len(lines) == 0 {
		return
	}
	b.printf("## Goals (%d B unless stated; medians; ratios measured side by side)\n\n", goalSize)
	b.printf("| goal | measured | met? |\n|---|---|---|\n")
	met := 0
	for _, l := range lines {
		b.printf("| %s | %s | %s |\n", l.goal, l.measured, l.verdict)
		if l.verdict == "met" {
			met++
		}
	}
	b.printf("\n%d of %d goals met.\n\n", met, len(lines))
}

// goals evaluates every goal this run measured.
func (b *bench) goals() []goalLine {
	var out []goalLine
	n := b.o.topics
	rate, cpu, allocs := result.rate, result.cpuPerMsg, result.allocsPerMsg
	// vsGo compares nsqpub with go-nsq on mode over topics.
	vsGo := func(goal, mode string, topics int, f func(result) float64, unit string, want float64, atLeast bool) {
		a, g := tableKey(mode, goalSize, libNSQPub, topics), tableKey(mode, goalSize, libGoNSQ, topics)
		out = append(out, b.compare(goal, a, g, f, unit, want, atLeast))
	}
	if n > 1 {
		t := fmt.Sprintf("%d topics", n)
		vsGo("PublishAsync over "+t+": msg/s ≥ 8× go-nsq", "async", n, rate, "msg/s", 8, true)
		out = append(out, b.compare(fmt.Sprintf("PublishAsync over %s: ≥ 0.7 of 1-topic PublishAsync msg/s", t),
			tableKey("async", goalSize, libNSQPub, n), tableKey("async", goalSize, libNSQPub, 1), rate, "msg/s", 0.7, true))
		vsGo("Publish ×64 over "+t+": msg/s ≥ 3× go-nsq", "pub64", n, rate, "msg/s", 3, true)
	}
	rt := tableKey(refRoundTrip, goalSize, libRef, 1)
	p1 := tableKey("pub1", goalSize, libNSQPub, 1)
	out = append(out, b.compare("Publish ×1: ≥ 0.9 of the hand-framed round trip's msg/s", p1, rt, rate, "msg/s", 0.9, true))
	out = append(out, b.compare("Publish ×1: client CPU ≤ 1.25× the round trip's", p1, rt, cpu, "µs/msg", 1.25, false))
	if d, ok := b.idleExtra(libNSQPub); ok {
		out = append(out, goalLine{fmt.Sprintf("idle Producer with a live connection: ≤ %v CPU per 10 s over the process's floor", idleTarget),
			fmtDur(d), verdict(d <= idleTarget)})
	}
	vsGo("PublishAsync: msg/s ≥ 8× go-nsq", "async", 1, rate, "msg/s", 8, true)
	vsGo("PublishAsync: client CPU ≤ 0.1× go-nsq", "async", 1, cpu, "µs/msg", 0.1, false)
	out = append(out, b.atMost("PublishAsync: ≤ 1 alloc/msg", tableKey("async", goalSize, libNSQPub, 1), allocs, 1))
	vsGo("Publish ×64: msg/s ≥ 3× go-nsq", "pub64", 1, rate, "msg/s", 3, true)
	vsGo("Publish ×64: client CPU ≤ 0.5× go-nsq", "pub64", 1, cpu, "µs/msg", 0.5, false)
	vsGo("MultiPublish ×100: msg/s ≥ 1.0× go-nsq", "multi100", 1, rate, "msg/s", 1, true)
	out = append(out, b.atMost("MultiPublish ×100: ≤ 0.05 allocs/msg", tableKey("multi100", goalSize, libNSQPub, 1), allocs, 0.05))
	for _, h := range b.heap {
		if h.lib == libNSQPub {
			t := heapTarget(h.size)
			out = append(out, goalLine{fmt.Sprintf("peak heap, PublishAsync of %d × %s: < %.0f MiB", h.n, byteSize(float64(h.size)), mib(t)),
				fmt.Sprintf("%.1f MiB (%.0f msg/s)", mib(h.peak), h.r.rate()), verdict(h.peak < t)})
		}
	}
	for _, comp := range b.o.comps {
		for _, mode := range b.o.compModes {
			a, g := key{mode, b.o.compSize, libNSQPub, 1, comp, 0, partComp}, key{mode, b.o.compSize, libGoNSQ, 1, comp, 0, partComp}
			out = append(out, b.compare(fmt.Sprintf("%s, %s, %d B JSON-like: ahead of go-nsq", comp, modeTitle[mode], b.o.compSize),
				a, g, rate, "msg/s", 1, true))
		}
	}
	var kept []goalLine
	for _, l := range out {
		if l.verdict != "" {
			kept = append(kept, l)
		}
	}
	return kept
}

// compare states the goal that the median of f for a is at least (or at
// most) want times that for c; an empty verdict if either was not run.
func (b *bench) compare(goal string, a, c key, f func(result) float64, unit string, want float64, atLeast bool) goalLine {
	if !b.has(a) || !b.has(c) || b.stat(c, f) == 0 {
		return goalLine{goal: goal}
	}
	x, y := b.stat(a, f), b.stat(c, f)
	r := x / y
	format := "%.2f× (%.0f vs %.0f %s)"
	if unit != "msg/s" {
		format = "%.2f× (%.2f vs %.2f %s)"
	}
	ok := r >= want
	if !atLeast {
		ok = r <= want
	}
	return goalLine{goal, fmt.Sprintf(format, r, x, y, unit), verdict(ok)}
}

// atMost states the goal that the median of f for a is at most want, judged
// as shown, to 2 decimals: a run also makes a few allocations that are not
// per message (timers, goroutines).
func (b *bench) atMost(goal string, a key, f func(result) float64, want float64) goalLine {
	if !b.has(a) {
		return goalLine{goal: goal}
	}
	v := math.Round(b.stat(a, f)*100) / 100
	return goalLine{goal, fmt.Sprintf("%.2f", v), verdict(v <= want)}
}
