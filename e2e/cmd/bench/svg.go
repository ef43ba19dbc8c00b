package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// chart is a line chart drawn as SVG by hand: one polyline with a marker
// per point for each series, axes with ticks and labels, and a legend.
type chart struct {
	title  string
	note   string // a smaller line under the title, e.g. "trial run, noisy machine"
	xLabel string
	yLabel string
	xLog   bool      // logarithmic x axis
	yLog   bool      // logarithmic y axis
	xTicks []float64 // x positions to label; nil picks them
	xFmt   func(float64) string
	yFmt   func(float64) string
	series []series
}

// series is one line of a chart.
type series struct {
	name   string
	points []point
	dashed bool // drawn dashed, e.g. for a reference line
}

// point is one x, y value of a series.
type point struct{ x, y float64 }

// Layout of the picture, in SVG user units.
const (
	svgW, svgH            = 860, 440
	plotL, plotT          = 80, 60
	plotW, plotH          = 520, 320
	legendX               = plotL + plotW + 24
	svgFont               = "font-family=\"sans-serif\""
	markerR               = 3.5
	minorGridOpacity      = "0.35"
	majorGridStrokeColour = "#ccc"
)

// palette gives each series its colour, in order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"}

// axis maps data values of one dimension onto a pixel range.
type axis struct {
	log      bool
	min, max float64 // data range, as drawn
	p0, p1   float64 // pixels of min and max
}

// pos returns the pixel of v.
func (a axis) pos(v float64) float64 {
	f := func(x float64) float64 { return x }
	if a.log {
		f = math.Log10
	}
	return a.p0 + (f(v)-f(a.min))/(f(a.max)-f(a.min))*(a.p1-a.p0)
}

// newAxis picks a drawn range around the values vs (positive ones only on a
// log axis): whole decades on a log axis, zero to a round number otherwise.
func newAxis(vs []float64, log bool, p0, p1 float64) axis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if log && v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	a := axis{log: log, p0: p0, p1: p1}
	if log {
		a.min = math.Pow(10, math.Floor(math.Log10(lo)))
		a.max = math.Pow(10, math.Ceil(math.Log10(hi)))
		if a.max <= a.min {
			a.max = a.min * 10
		}
		return a
	}
	a.min, a.max = 0, niceCeil(hi)
	return a
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns the labelled tick values of a and, on a log axis, the
// unlabelled minor ones (2–9 times each power of ten).
func (a axis) ticks() (major, minor []float64) {
	if !a.log {
		step := niceCeil(a.max / 5)
		for v := a.min; v <= a.max*1.0001; v += step {
			major = append(major, v)
		}
		return major, nil
	}
	decades := math.Round(math.Log10(a.max / a.min))
	for d := a.min; d <= a.max*1.0001; d *= 10 {
		major = append(major, d)
		for m := 2.0; m <= 9 && d*m < a.max; m++ {
			if decades <= 2 && (m == 2 || m == 5) {
				major = append(major, d*m) // few decades: label 2 and 5 too
			} else {
				minor = append(minor, d*m)
			}
		}
	}
	return major, minor
}

// svg renders the chart.
func (c chart) svg() []byte {
	var xs, ys []float64
	for _, s := range c.series {
		for _, p := range s.points {
			xs, ys = append(xs, p.x), append(ys, p.y)
		}
	}
	xa := newAxis(xs, c.xLog, plotL, plotL+plotW)
	if c.xTicks != nil {
		xa = newAxis(append(xs, c.xTicks...), c.xLog, plotL, plotL+plotW)
		xa.min, xa.max = minMax(append(xs, c.xTicks...))
	}
	ya := newAxis(ys, c.yLog, plotT+plotH, plotT)
	xf, yf := orDefault(c.xFmt), orDefault(c.yFmt)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="12">`+"\n",
		svgW, svgH, svgW, svgH, svgFont)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	text(&b, plotL, 24, "start", "16", "bold", c.title)
	if c.note != "" {
		text(&b, plotL, 44, "start", "12", "normal", c.note)
	}
	c.drawGrid(&b, xa, ya, xf, yf)
	for i, s := range c.series {
		c.drawSeries(&b, s, palette[i%len(palette)], xa, ya)
	}
	c.drawLegend(&b)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// drawGrid draws the grid lines, ticks, tick labels and axis labels.
func (c chart) drawGrid(b *bytes.Buffer, xa, ya axis, xf, yf func(float64) string) {
	xMajor, xMinor := xa.ticks()
	if c.xTicks != nil {
		xMajor, xMinor = c.xTicks, nil
	}
	yMajor, yMinor := ya.ticks()
	for _, v := range xMinor {
		x := xa.pos(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-opacity="%s"/>`+"\n", x, plotT, x, plotT+plotH, majorGridStrokeColour, minorGridOpacity)
	}
	for _, v := range yMinor {
		y := ya.pos(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-opacity="%s"/>`+"\n", plotL, y, plotL+plotW, y, majorGridStrokeColour, minorGridOpacity)
	}
	for _, v := range xMajor {
		x := xa.pos(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, plotT, x, plotT+plotH+5, majorGridStrokeColour)
		text(b, x, plotT+plotH+20, "middle", "12", "normal", xf(v))
	}
	for _, v := range yMajor {
		y := ya.pos(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotL-5, y, plotL+plotW, y, majorGridStrokeColour)
		text(b, plotL-8, y+4, "end", "12", "normal", yf(v))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", plotL, plotT, plotW, plotH)
	text(b, plotL+plotW/2, plotT+plotH+44, "middle", "13", "normal", c.xLabel)
	fmt.Fprintf(b, `<text x="20" y="%d" text-anchor="middle" font-size="13" transform="rotate(-90 20 %d)">%s</text>`+"\n",
		plotT+plotH/2, plotT+plotH/2, escape(c.yLabel))
}

// drawSeries draws one series as a polyline with a circle at every point
// (points a log axis cannot show are left out).
func (c chart) drawSeries(b *bytes.Buffer, s series, colour string, xa, ya axis) {
	var pts []string
	var marks []point
	for _, p := range s.points {
		if xa.log && p.x <= 0 || ya.log && p.y <= 0 {
			continue
		}
		x, y := xa.pos(p.x), ya.pos(p.y)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		marks = append(marks, point{x, y})
	}
	dash := ""
	if s.dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(b, `<g><title>%s</title>`+"\n", escape(s.name))
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", colour, dash, strings.Join(pts, " "))
	for _, m := range marks {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`+"\n", m.x, m.y, markerR, colour)
	}
	b.WriteString("</g>\n")
}

// drawLegend lists the series right of the plot, wrapping long names.
func (c chart) drawLegend(b *bytes.Buffer) {
	y := plotT + 8
	for i, s := range c.series {
		colour := palette[i%len(palette)]
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", legendX, y, legendX+24, y, colour, dash)
		fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="%.1f" fill="%s"/>`+"\n", legendX+12, y, markerR, colour)
		for j, line := range wrap(s.name, 30) {
			text(b, legendX+32, float64(y+4+15*j), "start", "12", "normal", line)
			if j > 0 {
				y += 15
			}
		}
		y += 24
	}
}

// wrap splits s into lines of at most n runes at spaces.
func wrap(s string, n int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len([]rune(cur))+1+len([]rune(w)) > n {
			lines, cur = append(lines, cur), w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return append(lines, cur)
}

// text writes a text element with s escaped.
func text[N int | float64](b *bytes.Buffer, x, y N, anchor, size, weight, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%s" font-weight="%s">%s</text>`+"\n",
		float64(x), float64(y), anchor, size, weight, escape(s))
}

// escape escapes s for XML character data and attributes.
func escape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// minMax returns the smallest and largest of vs.
func minMax(vs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return lo, hi
}

// orDefault returns f, or a compact number format if f is nil.
func orDefault(f func(float64) string) func(float64) string {
	if f != nil {
		return f
	}
	return siNumber
}

// siNumber formats v compactly: 950, 12k, 1.5M.
func siNumber(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case a >= 1e3:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	default:
		return trimZero(fmt.Sprintf("%.1f", v))
	}
}

// byteSize formats a size in bytes: 100 B, 1 KiB, 1 MiB.
func byteSize(v float64) string {
	switch {
	case v >= 1<<20:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<20))) + " MiB"
	case v >= 1<<10:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<10))) + " KiB"
	default:
		return trimZero(fmt.Sprintf("%.0f", v)) + " B"
	}
}

// trimZero drops a trailing ".0".
func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }
