package main

import "fmt"

// sweepSize is the message size of the goroutine sweep.
const sweepSize = 100

// topicSet is the topic counts the many-topic parts run: 1, and -topics
// if it is more.
func (b *bench) topicSet() []int {
	if b.o.topics > 1 {
		return []int{1, b.o.topics}
	}
	return []int{1}
}

// sweepGoroutines runs, for each topic count, the ceiling once and then for
// every goroutine count the round trip on that many raw connections and
// Publish from that many goroutines with each library.
func (b *bench) sweepGoroutines() {
	for _, t := range b.topicSet() {
		for r := range b.o.sweepRounds {
			if b.o.ceiling {
				b.runKey(key{refCeiling, sweepSize, libRef, t, "", 0, partSweepG}, r)
			}
			for _, g := range b.o.sweepG {
				if b.o.ceiling {
					b.runKey(key{refRoundTrip, sweepSize, libRef, t, "", g, partSweepG}, r)
				}
				for _, lib := range b.o.libs {
					b.runKey(key{"pubg", sweepSize, lib, t, "", g, partSweepG}, r)
				}
			}
		}
	}
}

// sweepSizes runs, for each topic count and message size, the ceiling and
// -sweep-size-mode with each library.
func (b *bench) sweepSizes() {
	for _, t := range b.topicSet() {
		for r := range b.o.sweepRounds {
			for _, size := range b.o.sweepSizes {
				if b.o.ceiling {
					b.runKey(key{refCeiling, size, libRef, t, "", 0, partSweepSize}, r)
				}
				for _, lib := range b.o.libs {
					b.runKey(key{b.o.sweepSizeMode, size, lib, t, "", 0, partSweepSize}, r)
				}
			}
		}
	}
}

// topicWord is "1 topic" or "16 interleaved topics".
func topicWord(t int) string {
	if t == 1 {
		return "1 topic"
	}
	return fmt.Sprintf("%d interleaved topics", t)
}

// chartFile is a named chart to write.
type chartFile struct {
	name  string // file name in -out
	title string // alt text in Markdown
	c     chart
}

// charts returns the charts the sweeps' results allow.
func (b *bench) charts() []chartFile {
	var out []chartFile
	for _, t := range b.topicSet() {
		suffix := fmt.Sprintf("%d-topic", t)
		if t > 1 {
			suffix += "s"
		}
		if c, ok := b.goroutineChart(t); ok {
			out = append(out, chartFile{"goroutines-" + suffix + ".svg", c.title, c})
		}
		if c, ok := b.sizeChart(t); ok {
			out = append(out, chartFile{"sizes-" + suffix + ".svg", c.title, c})
		}
	}
	return out
}

// goroutineChart plots msg/s against publishing goroutines over t topics.
func (b *bench) goroutineChart(t int) (chart, bool) {
	c := chart{
		title:  fmt.Sprintf("Publish, %d B, %s: msg/s against publishing goroutines", sweepSize, topicWord(t)),
		note:   b.chartNote(),
		xLabel: "publishing goroutines (one Producer)", yLabel: "messages per second",
		xLog: true, yLog: true, xTicks: floats(b.o.sweepG),
	}
	line := func(name string, dashed bool, k func(g int) key) { b.addSeries(&c, name, dashed, b.o.sweepG, k) }
	for _, lib := range b.o.libs {
		line(lib+" Publish", false, func(g int) key { return key{"pubg", sweepSize, lib, t, "", g, partSweepG} })
	}
	line("hand-framed PUB→OK, one raw connection per goroutine", true,
		func(g int) key { return key{refRoundTrip, sweepSize, libRef, t, "", g, partSweepG} })
	if k := (key{refCeiling, sweepSize, libRef, t, "", 0, partSweepG}); b.has(k) && len(b.o.sweepG) > 0 {
		v := b.stat(k, result.rate)
		lo, hi := minMax(floats(b.o.sweepG))
		c.series = append(c.series, series{name: fmt.Sprintf("ceiling: hand-framed MPUB ×%d pipelined on one connection", batchFor(sweepSize)),
			dashed: true, points: []point{{lo, v}, {hi, v}}})
	}
	return c, len(c.series) > 0
}

// sizeChart plots msg/s against message size over t topics.
func (b *bench) sizeChart(t int) (chart, bool) {
	c := chart{
		title:  fmt.Sprintf("%s, %s: msg/s against message size", modeTitle[b.o.sweepSizeMode], topicWord(t)),
		note:   b.chartNote(),
		xLabel: "message size", yLabel: "messages per second",
		xLog: true, yLog: true, xTicks: floats(b.o.sweepSizes), xFmt: byteSize,
	}
	line := func(name string, dashed bool, k func(size int) key) {
		b.addSeries(&c, name, dashed, b.o.sweepSizes, k)
	}
	for _, lib := range b.o.libs {
		line(lib, false,
			func(size int) key { return key{b.o.sweepSizeMode, size, lib, t, "", 0, partSweepSize} })
	}
	line(fmt.Sprintf("ceiling: hand-framed MPUBs (≤ %d messages, ≤ 5 MiB) pipelined on one connection", batchSize), true,
		func(size int) key { return key{refCeiling, size, libRef, t, "", 0, partSweepSize} })
	return c, len(c.series) > 0
}

// addSeries adds to c the series of msg/s at each x of xs whose run k(x)
// was measured; a series with no point is left out.
func (b *bench) addSeries(c *chart, name string, dashed bool, xs []int, k func(x int) key) {
	s := series{name: name, dashed: dashed}
	for _, x := range xs {
		if kk := k(x); b.has(kk) {
			s.points = append(s.points, point{float64(x), b.stat(kk, result.rate)})
		}
	}
	if len(s.points) > 0 {
		c.series = append(c.series, s)
	}
}

// chartNote is the line under every chart's title: -note and the settings.
func (b *bench) chartNote() string {
	s := fmt.Sprintf("medians of %d round(s) × %v per point; %s", b.o.sweepRounds, b.o.sweepDuration, b.machine())
	if b.o.note != "" {
		s = b.o.note + "; " + s
	}
	return s
}

// floats converts ints to float64s.
func floats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// printSweeps prints the numbers behind the charts.
func (b *bench) printSweeps() {
	if !b.o.has("sweep-g") && !b.o.has("sweep-size") {
		return
	}
	b.printf("## Sweeps: the numbers behind the charts\n\n")
	for _, t := range b.topicSet() {
		if b.o.has("sweep-g") {
			b.printf("### Publish from g goroutines, %d B, %s (msg/s, medians of %d × %v)\n\n", sweepSize, topicWord(t), b.o.sweepRounds, b.o.sweepDuration)
			b.printf("| goroutines | nsqpub | go-nsq | round trip, g raw connections | nsqpub / go-nsq |\n|---:|---:|---:|---:|---:|\n")
			for _, g := range b.o.sweepG {
				a, o := key{"pubg", sweepSize, libNSQPub, t, "", g, partSweepG}, key{"pubg", sweepSize, libGoNSQ, t, "", g, partSweepG}
				b.printf("| %d | %s | %s | %s | %s |\n", g, b.cell(a, result.rate, "%.0f"), b.cell(o, result.rate, "%.0f"),
					b.cell(key{refRoundTrip, sweepSize, libRef, t, "", g, partSweepG}, result.rate, "%.0f"),
					b.ratioCell(a, o, result.rate))
			}
			b.printf("\nCeiling (hand-framed MPUB ×%d, one connection): %s msg/s.\n\n", batchFor(sweepSize),
				b.cell(key{refCeiling, sweepSize, libRef, t, "", 0, partSweepG}, result.rate, "%.0f"))
		}
		if b.o.has("sweep-size") {
			b.printf("### %s, by message size, %s (msg/s, medians of %d × %v)\n\n", modeTitle[b.o.sweepSizeMode], topicWord(t), b.o.sweepRounds, b.o.sweepDuration)
			b.printf("| size | nsqpub | go-nsq | ceiling | nsqpub / go-nsq | nsqpub MB/s |\n|---:|---:|---:|---:|---:|---:|\n")
			for _, size := range b.o.sweepSizes {
				a, o := key{b.o.sweepSizeMode, size, libNSQPub, t, "", 0, partSweepSize}, key{b.o.sweepSizeMode, size, libGoNSQ, t, "", 0, partSweepSize}
				b.printf("| %s | %s | %s | %s | %s | %s |\n", byteSize(float64(size)), b.cell(a, result.rate, "%.0f"), b.cell(o, result.rate, "%.0f"),
					b.cell(key{refCeiling, size, libRef, t, "", 0, partSweepSize}, result.rate, "%.0f"), b.ratioCell(a, o, result.rate),
					b.cell(a, func(r result) float64 { return r.rate() * float64(size) / 1e6 }, "%.1f"))
			}
			b.printf("\n")
		}
	}
}
