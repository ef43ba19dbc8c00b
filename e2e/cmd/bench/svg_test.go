package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// svgSummary is what TestChartSVG reads back from a rendered chart.
type svgSummary struct {
	root      string
	texts     []string
	titles    []string
	polylines int
	circles   int
}

// parseSVG decodes every token of doc, failing the test on malformed XML.
func parseSVG(t *testing.T, doc []byte) svgSummary {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var s svgSummary
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if s.root == "" {
				s.root = tok.Name.Space + " " + tok.Name.Local
			}
			stack = append(stack, tok.Name.Local)
			switch tok.Name.Local {
			case "polyline":
				s.polylines++
			case "circle":
				s.circles++
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch stack[len(stack)-1] {
			case "text":
				s.texts = append(s.texts, string(tok))
			case "title":
				s.titles = append(s.titles, string(tok))
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return s
}

func TestChartSVG(t *testing.T) {
	c := chart{
		title:  "msg/s against publishing goroutines <100 B & 1 topic>",
		note:   "trial run, noisy machine",
		xLabel: "publishing goroutines",
		yLabel: "msg/s",
		xLog:   true,
		yLog:   true,
		xTicks: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		series: []series{
			{name: "nsqpub Publish", points: []point{{1, 12000}, {2, 20000}, {64, 300000}, {256, 400000}}},
			{name: "go-nsq Publish", points: []point{{1, 10000}, {64, 50000}, {256, 0}}},
			{name: "ceiling: hand-framed MPUB ×100 pipelined on one connection", points: []point{{1, 900000}, {256, 900000}}, dashed: true},
		},
	}
	s := parseSVG(t, c.svg())
	if s.root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q", s.root)
	}
	if s.polylines != 3 {
		t.Errorf("%d polylines, want one per series (3)", s.polylines)
	}
	// 4 + 2 + 2 points (a zero cannot be drawn on a log axis), plus one
	// legend marker per series.
	if s.circles != 8+3 {
		t.Errorf("%d circles, want 11", s.circles)
	}
	all := strings.Join(s.texts, "|")
	for _, want := range []string{c.title, "trial run, noisy machine", "publishing goroutines", "msg/s",
		"nsqpub Publish", "go-nsq Publish", "ceiling: hand-framed MPUB ×100", "pipelined on one connection",
		"1", "256", "10k", "100k", "1M"} {
		if !strings.Contains(all, want) {
			t.Errorf("no text %q in %q", want, all)
		}
	}
	if len(s.titles) != 3 || s.titles[0] != "nsqpub Publish" {
		t.Errorf("series titles %q", s.titles)
	}
}

func TestAxisTicks(t *testing.T) {
	a := newAxis([]float64{150, 2e6}, true, 0, 100)
	if a.min != 100 || a.max != 1e7 {
		t.Fatalf("log axis range %v..%v, want 100..1e7", a.min, a.max)
	}
	major, minor := a.ticks()
	if len(major) != 6 || len(minor) != 5*8 {
		t.Errorf("%d major, %d minor ticks, want 6 and 40", len(major), len(minor))
	}
	lin := newAxis([]float64{3, 73}, false, 0, 100)
	if lin.min != 0 || lin.max != 100 {
		t.Errorf("linear axis %v..%v, want 0..100", lin.min, lin.max)
	}
	if got := byteSize(1 << 20); got != "1 MiB" {
		t.Errorf("byteSize(1 MiB) = %q", got)
	}
	if got := siNumber(1_500_000); got != "1.5M" {
		t.Errorf("siNumber(1.5M) = %q", got)
	}
}
