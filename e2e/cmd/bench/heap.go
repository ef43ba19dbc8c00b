package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// heapResult is the outcome of the peak heap check for one library.
type heapResult struct {
	lib     string
	n, size int // messages and their size
	r       result
	base    uint64 // heap in use before publishing
	peak    uint64 // highest heap in use sampled while publishing
	heapSys uint64 // MemStats.HeapSys afterwards
}

// heapInuse reads the heap in use (MemStats.HeapInuse: objects plus the
// unused part of in-use spans) without stopping the world.
func heapInuse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var v uint64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			v += x.Value.Uint64()
		}
	}
	return v
}

// heapChecks runs the peak heap checks asked for, for every library:
// -heap-n bodies of 1 KiB, then -heap-big-n bodies of 1 MiB.
func (b *bench) heapChecks() {
	for _, c := range []struct{ n, size int }{{b.o.heapN, 1 << 10}, {b.o.heapBigN, 1 << 20}} {
		if c.n == 0 {
			continue
		}
		for _, lib := range b.o.libs {
			b.heap = append(b.heap, b.peakHeap(lib, c.n, c.size))
		}
	}
}

// peakHeap publishes n freshly allocated bodies of size bytes with
// PublishAsync as fast as possible and samples the heap in use meanwhile.
func (b *bench) peakHeap(lib string, n, size int) heapResult {
	topics := b.newTopics(1)
	c := b.newClient(lib, "")
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	runtime.GC()
	h := heapResult{lib: lib, n: n, size: size, base: heapInuse(samples)}
	var peak atomic.Uint64
	samplerDone := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(heapSample)
		defer tick.Stop()
		local := make([]metrics.Sample, len(samples))
		copy(local, samples)
		for {
			if v := heapInuse(local); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-tick.C:
			case <-stopSampling:
				return
			}
		}
	}()
	src := &heapSource{topic: topics[0], n: n, size: size}
	u0 := b.snapshot()
	h.r.msgs, h.r.errs, h.r.err = c.async(src.next)
	end := time.Now()
	close(stopSampling)
	<-samplerDone
	u1 := b.snapshot()
	measure(&h.r, u0, u1, end)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak, h.heapSys = peak.Load(), ms.HeapSys
	c.stop()
	debug.FreeOSMemory() // the next check starts from a small heap
	b.verify(topics, &h.r)
	if h.r.errs > 0 {
		b.failed++
	}
	fmt.Fprintf(os.Stderr, "heap check %-7s %d × %s: %d msgs in %v, peak heap in use %.1f MiB%s\n", lib, n, byteSize(float64(size)), h.r.msgs,
		h.r.elapsed.Round(time.Millisecond), mib(h.peak), errText(h.r))
	return h
}

// heapSource hands out n freshly allocated bodies of size bytes for topic.
type heapSource struct {
	topic   string
	n, size int // bodies to hand out and their size
	i       int // bodies handed out
}

// next returns the topic and the next body, or a nil body when all n are out.
func (s *heapSource) next() (string, []byte) {
	if s.i == s.n {
		return "", nil
	}
	b := make([]byte, s.size)
	binary.BigEndian.PutUint64(b, uint64(s.i))
	s.i++
	return s.topic, b
}

// mib converts bytes to MiB.
func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// heapTarget returns the project's peak heap target for bodies of size
// bytes: under 64 MiB for 1 KiB bodies, 128 MiB for 1 MiB ones.
func heapTarget(size int) uint64 {
	if size >= 1<<20 {
		return 128 << 20
	}
	return 64 << 20
}

// printHeap prints the peak heap checks.
func (b *bench) printHeap() {
	if len(b.heap) == 0 {
		return
	}
	b.printf("## Peak heap: PublishAsync as fast as possible, a freshly allocated body each, default Config\n\n")
	b.printf("| messages | library | msg/s | MB/s | heap in use before | peak heap in use (sampled every 1 ms) | HeapSys after | target |\n")
	b.printf("|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, h := range b.heap {
		verdict := fmt.Sprintf("< %.0f MiB: met", mib(heapTarget(h.size)))
		if h.peak >= heapTarget(h.size) {
			verdict = fmt.Sprintf("< %.0f MiB: MISSED by %.1f MiB", mib(heapTarget(h.size)), mib(h.peak-heapTarget(h.size)))
		}
		if h.lib != libNSQPub {
			verdict = "(applies to nsqpub)"
		}
		b.printf("| %d × %s | %s | %.0f | %.1f | %.1f MiB | %.1f MiB | %.1f MiB | %s |\n", h.n, byteSize(float64(h.size)), h.lib,
			h.r.rate(), h.r.rate()*float64(h.size)/1e6, mib(h.base), mib(h.peak), mib(h.heapSys), verdict)
	}
	b.printf("\n")
}
