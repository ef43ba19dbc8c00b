package nsqpub

// Micro-benchmarks against the fast fake nsqd (fake_test.go), which answers
// every publish with OK as fast as it can, for profiling without a server:
//
//	go test -run XXX -bench . -benchmem -cpuprofile cpu.out
//
// The fake checks the framing of every command (including the MPUBs the
// writer makes by merging PUBs) and counts the messages, and each
// publishing benchmark checks that count at the end.

import (
	"bytes"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkCommandEncode measures encoding a PUB and an MPUB of 100
// messages of 100 bytes into a reused buffer.
func BenchmarkCommandEncode(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 100)
	cases := []struct {
		name string
		cmd  command
	}{
		{"PUB", command{kind: cmdPUB, topic: "bench", body: body}},
		{"MPUB100", command{kind: cmdMPUB, topic: "bench", bodies: repeatBody(body, 100)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			buf := c.cmd.appendTo(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				buf = c.cmd.appendTo(buf[:0])
			}
		})
	}
}

// repeatBody returns n references to body.
func repeatBody(body []byte, n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = body
	}
	return bodies
}

// benchPublish runs a publishing benchmark for messages of 100 bytes and of
// 4 KiB: op does b.N operations of perOp messages each with a Producer
// connected (through Ping) to a fresh fast fake nsqd, which must have
// received every message once the Producer is stopped. op may do its setup
// and then call b.ResetTimer. With perOp above one, ns/msg is reported too.
func benchPublish(b *testing.B, perOp int, op func(b *testing.B, p *Producer, body []byte)) {
	for _, s := range []struct {
		name string
		size int
	}{{"100B", 100}, {"4KiB", 4096}} {
		b.Run(s.name, func(b *testing.B) {
			f := newFastNSQD(b)
			p := newTestProducer(b, f.addr(), nil)
			if err := p.Ping(); err != nil {
				b.Fatal(err)
			}
			body := bytes.Repeat([]byte("x"), s.size)
			b.SetBytes(int64(perOp * s.size))
			b.ReportAllocs()
			b.ResetTimer()
			op(b, p, body)
			b.StopTimer()
			if perOp > 1 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(perOp*b.N), "ns/msg")
			}
			p.Stop()
			if !b.Failed() {
				f.check(b, int64(perOp*b.N))
			}
		})
	}
}

// BenchmarkPublish measures Publish from one goroutine: one round trip per
// message.
func BenchmarkPublish(b *testing.B) {
	benchPublish(b, 1, func(b *testing.B, p *Producer, body []byte) {
		for range b.N {
			if err := p.Publish("bench", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPublishParallel measures Publish from about 64 goroutines
// sharing one Producer, whose writer merges what they queue into MPUBs.
func BenchmarkPublishParallel(b *testing.B) {
	benchPublish(b, 1, func(b *testing.B, p *Producer, body []byte) {
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Publish("bench", body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPublishAsync measures PublishAsync from one goroutine while
// another drains the done channel and checks every result.
func BenchmarkPublishAsync(b *testing.B) {
	benchPublish(b, 1, func(b *testing.B, p *Producer, body []byte) {
		publishAsync(b, p, body, []string{"bench"})
	})
}

// BenchmarkPublishAsync16Topics is BenchmarkPublishAsync publishing to 16
// topics in turn, which the writer groups by topic.
func BenchmarkPublishAsync16Topics(b *testing.B) {
	topics := make([]string, 16)
	for i := range topics {
		topics[i] = fmt.Sprintf("bench%02d", i)
	}
	benchPublish(b, 1, func(b *testing.B, p *Producer, body []byte) {
		publishAsync(b, p, body, topics)
	})
}

// publishAsync publishes b.N bodies with PublishAsync to topics in turn
// while another goroutine drains the done channel and checks every result.
func publishAsync(b *testing.B, p *Producer, body []byte, topics []string) {
	done := make(chan *ProducerTransaction, 1024)
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range b.N {
			if t := <-done; t.Error != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, &t.Error)
			}
		}
	}()
	for i := range b.N {
		if err := p.PublishAsync(topics[i%len(topics)], body, done); err != nil {
			// Results will not come for the publishes never queued.
			for range b.N - i {
				done <- &ProducerTransaction{Error: err}
			}
			break
		}
	}
	<-drained
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d publishes failed, first: %v", n, b.N, *firstErr.Load())
	}
}

// BenchmarkMultiPublish100 measures MultiPublish of 100 messages from one
// goroutine; an op is one MultiPublish.
func BenchmarkMultiPublish100(b *testing.B) {
	benchPublish(b, 100, func(b *testing.B, p *Producer, body []byte) {
		bodies := repeatBody(body, 100)
		b.ResetTimer()
		for range b.N {
			if err := p.MultiPublish("bench", bodies); err != nil {
				b.Fatal(err)
			}
		}
	})
}
