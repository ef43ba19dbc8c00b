package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// heapResult is the outcome of the peak heap check for one library.
type heapResult struct {
	lib     string
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

// peakHeap publishes -heap-n freshly allocated 1 KiB bodies with
// PublishAsync as fast as possible and samples the heap in use meanwhile.
func (b *bench) peakHeap(lib string) heapResult {
	topic := b.newTopic()
	c := b.newClient(lib)
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	runtime.GC()
	h := heapResult{lib: lib, base: heapInuse(samples)}
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
	src := &heapSource{n: b.o.heapN}
	u0 := b.snapshot()
	h.r.msgs, h.r.errs, h.r.err = c.async(topic, src.next)
	end := time.Now()
	close(stopSampling)
	<-samplerDone
	u1 := b.snapshot()
	measure(&h.r, u0, u1, end)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak, h.heapSys = peak.Load(), ms.HeapSys
	c.stop()
	b.verify(topic, &h.r)
	if h.r.errs > 0 {
		b.failed++
	}
	fmt.Fprintf(os.Stderr, "heap check %-7s %d msgs in %v, peak heap in use %.1f MiB%s\n", lib, h.r.msgs,
		h.r.elapsed.Round(time.Millisecond), mib(h.peak), errText(h.r))
	return h
}

// heapSource hands out n freshly allocated 1 KiB bodies.
type heapSource struct {
	n int // bodies to hand out
	i int // bodies handed out
}

// next returns the next body, or nil when all n are out.
func (s *heapSource) next() []byte {
	if s.i == s.n {
		return nil
	}
	b := make([]byte, 1024)
	binary.BigEndian.PutUint64(b, uint64(s.i))
	s.i++
	return b
}

// mib converts bytes to MiB.
func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// printHeap prints the peak heap check.
func (b *bench) printHeap() {
	fmt.Printf("## Peak heap: %d × 1 KiB (a fresh body each) with PublishAsync as fast as possible\n\n", b.o.heapN)
	fmt.Println("| library | msg/s | heap in use before | peak heap in use (sampled every 1 ms) | HeapSys after | target < 64 MiB |")
	fmt.Println("|---|---:|---:|---:|---:|---|")
	for _, h := range b.heap {
		verdict := "met"
		if h.peak >= heapTarget {
			verdict = fmt.Sprintf("MISSED by %.1f MiB", mib(h.peak-heapTarget))
		}
		if h.lib != libNSQPub {
			verdict = "(applies to nsqpub)"
		}
		fmt.Printf("| %s | %.0f | %.1f MiB | %.1f MiB | %.1f MiB | %s |\n", h.lib, h.r.rate(),
			mib(h.base), mib(h.peak), mib(h.heapSys), verdict)
	}
	fmt.Println()
}
