package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Markers around the part of a Markdown file (-doc) that the results
// replace.
const (
	docBegin = "<!-- bench:begin -->"
	docEnd   = "<!-- bench:end -->"
)

// chartDir stands for the directory of the charts in the report; each
// output replaces it with the path from where that output lives.
const chartDir = "{{charts}}/"

// printCharts embeds the charts in the report.
func (b *bench) printCharts() {
	cs := b.charts()
	if len(cs) == 0 {
		return
	}
	b.printf("## Charts\n\n")
	b.printf("Publish from 1 to %d goroutines with 100 B messages, and %s by message size; medians of %d round(s) × %v per point. Log scales. ",
		b.o.sweepG[len(b.o.sweepG)-1], modeTitle[b.o.sweepSizeMode], b.o.sweepRounds, b.o.sweepDuration)
	b.printf("The references are hand-framed on raw connections: PUB→OK with one connection per goroutine (what that many synchronous callers get without batching), and the ceiling, pipelined MPUBs on one connection (what nsqd takes).\n\n")
	for _, c := range cs {
		b.printf("![%s](%s%s)\n\n", c.title, chartDir, c.name)
	}
}

// writeOutputs prints the report and writes the charts and results.md to
// -out and, with -doc, the results into that file between its markers.
func (b *bench) writeOutputs() {
	report := b.out.String()
	if err := os.MkdirAll(b.o.out, 0o755); err != nil {
		fatalf("%v", err)
	}
	out, err := filepath.Abs(b.o.out)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Print(strings.ReplaceAll(report, chartDir, out+"/"))
	for _, c := range b.charts() {
		path := filepath.Join(out, c.name)
		if err := os.WriteFile(path, c.c.svg(), 0o644); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", path)
	}
	results := filepath.Join(out, "results.md")
	if err := os.WriteFile(results, []byte(strings.ReplaceAll(report, chartDir, "")), 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s\n", results)
	if b.o.doc == "" {
		return
	}
	doc, err := filepath.Abs(b.o.doc)
	if err != nil {
		fatalf("%v", err)
	}
	rel, err := filepath.Rel(filepath.Dir(doc), out)
	if err != nil {
		fatalf("%v", err)
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		fatalf("%v", err)
	}
	// The file's own heading stands for the report's title.
	_, rest, _ := strings.Cut(report, "\n")
	body := demote(strings.ReplaceAll(rest, chartDir, filepath.ToSlash(rel)+"/"))
	updated, err := splice(old, body)
	if err != nil {
		fatalf("%s: %v", doc, err)
	}
	if err := os.WriteFile(doc, updated, 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: updated %s\n", doc)
}

// demote turns every Markdown heading of s one level lower, so that the
// report sits under a heading of the file it goes into.
func demote(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") {
			lines[i] = "#" + l
		}
	}
	return strings.Join(lines, "\n")
}

// splice replaces what lies between the lines docBegin and docEnd of doc
// (lines holding nothing else) with body.
func splice(doc []byte, body string) ([]byte, error) {
	begin, end := []byte("\n"+docBegin+"\n"), []byte("\n"+docEnd+"\n")
	i := bytes.Index(doc, begin)
	if i < 0 {
		return nil, fmt.Errorf("no line %s", docBegin)
	}
	i += len(begin)
	j := bytes.Index(doc[i-1:], end)
	if j < 0 {
		return nil, fmt.Errorf("no line %s after %s", docEnd, docBegin)
	}
	j += i - 1
	var out bytes.Buffer
	out.Write(doc[:i])
	out.WriteString("\n" + strings.TrimSpace(body) + "\n")
	out.Write(doc[j:])
	return out.Bytes(), nil
}
