package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// key identifies one cell of the results: a mode (or a reference) run by a
// library on a message size, over topics interleaved topics, with a
// compression codec, in one part of the benchmark.
type key struct {
	mode   string // a mode of modeNames, "pubg" (Publish from g goroutines), or a reference
	size   int    // message size in bytes
	lib    string // libNSQPub, libGoNSQ or libRef
	topics int    // publish i goes to topic i % topics
	comp   string // "", "snappy" or "deflate"
	g      int    // goroutines of mode pubg and of the round-trip reference
	part   string // partTable, partComp, partSweepG or partSweepSize
}

// Parts of the benchmark, which keep their results apart.
const (
	partTable     = "table"
	partComp      = "comp"
	partSweepG    = "sweep-g"
	partSweepSize = "sweep-size"
)

// libRef names the hand-framed references in a key.
const libRef = "reference"

// Names of the hand-framed references.
const (
	refCeiling   = "ceiling"   // pipelined MPUBs on one connection
	refRoundTrip = "roundtrip" // write PUB, read OK, on one connection per goroutine
)

// workload is what one run publishes: the topics, in turn, and the bodies,
// in turn.
type workload struct {
	topics []string
	bodies [][]byte
}

// at returns the topic and body of publish i.
func (w workload) at(i int) (string, []byte) {
	return w.topics[i%len(w.topics)], w.bodies[i%len(w.bodies)]
}

// newWorkload creates k.topics fresh topics and the bodies for k: one body
// of k.size bytes, or, with compression, jsonBodies distinct JSON-like ones.
func (b *bench) newWorkload(k key) workload {
	w := workload{topics: b.newTopics(k.topics)}
	if k.comp != "" {
		w.bodies = b.jsonBodies(k.size)
	} else {
		w.bodies = [][]byte{b.body(k.size)}
	}
	return w
}

// body returns the shared body of size bytes (cached: a 1 MiB body is made once).
func (b *bench) body(size int) []byte {
	if v, ok := b.bodies[size]; ok {
		return v[0]
	}
	v := makeBody(size, 0)
	b.bodies[size] = [][]byte{v}
	return v
}

// jsonBodyCount is how many distinct JSON-like bodies a compressed run
// cycles through: more than deflate's 32 KiB window holds at 4 KiB, so the
// compressor cannot simply point back at the previous identical body.
const jsonBodyCount = 64

// jsonBodies returns jsonBodyCount JSON-like bodies of exactly size bytes:
// arrays of event records with repeated keys and varied values, about as
// compressible as real service events. They are the same on every run.
func (b *bench) jsonBodies(size int) [][]byte {
	if v, ok := b.jsonCache[size]; ok {
		return v
	}
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	events := []string{"page_view", "click", "add_to_cart", "checkout", "login", "logout", "search", "error"}
	out := make([][]byte, jsonBodyCount)
	for i := range out {
		var s strings.Builder
		s.WriteString("[")
		for n := 0; s.Len() < size; n++ {
			if n > 0 {
				s.WriteString(",")
			}
			fmt.Fprintf(&s, `{"id":%d,"ts":"2026-11-%02dT%02d:%02d:%02d.%03dZ","user":"u%06d","event":%q,"session":"%016x","latency_ms":%d,"ok":%t,"path":"/api/v1/items/%d"}`,
				rng.Int64N(1e12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000),
				rng.IntN(1e6), events[rng.IntN(len(events))], rng.Uint64(), rng.IntN(2000), rng.IntN(10) > 0, rng.IntN(1e5))
		}
		body := []byte(s.String())[:size]
		body[size-1] = ']' // still not valid JSON when cut short, but JSON-like throughout
		out[i] = body
	}
	b.jsonCache[size] = out
	return out
}

// newTopics creates n fresh topics in nsqd and returns their names.
func (b *bench) newTopics(n int) []string {
	b.seq++
	topics := make([]string, n)
	for j := range topics {
		topics[j] = fmt.Sprintf("bench_%d_%d", b.seq, j)
		if err := b.n.post("/topic/create", topics[j]); err != nil {
			fatalf("creating topic %s: %v", topics[j], err)
		}
	}
	return topics
}

// verify checks that nsqd's message_count, summed over the run's topics,
// equals the messages the client saw acknowledged, then deletes the
// topics. A mismatch is recorded as an error of the run.
func (b *bench) verify(topics []string, r *result) {
	var count int64
	for _, t := range topics {
		c, err := b.n.messageCount(t)
		if err != nil {
			fatalf("reading /stats for %s: %v", t, err)
		}
		count += c
	}
	if count != r.msgs {
		r.errs++
		if r.err == nil {
			r.err = fmt.Errorf("nsqd message_count=%d over %d topics (%s…), client saw %d acknowledged", count, len(topics), topics[0], r.msgs)
		}
	}
	for _, t := range topics {
		if err := b.n.post("/topic/delete", t); err != nil {
			fatalf("deleting topic %s: %v", t, err)
		}
	}
}

// makeBody returns a message body of size bytes.
func makeBody(size, seed int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte((i+seed)%26)
	}
	return b
}
