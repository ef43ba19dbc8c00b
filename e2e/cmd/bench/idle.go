package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// idleResult is what the benchmark process used while a Producer with a
// live connection sat idle (lib "none": no Producer, the process's own
// floor).
type idleResult struct {
	lib     string
	elapsed time.Duration
	cpu     time.Duration // user+sys CPU of the process
	csw     int64         // context switches (voluntary + involuntary): wake-ups
	reads   uint64        // read syscalls
	writes  uint64        // write syscalls
}

// idleNone names the idle measurement without a Producer.
const idleNone = "none"

// idleChecks measures the process's CPU over -idle with no Producer, then
// with each library's Producer connected and idle after one Publish.
// Nothing else runs in the process meanwhile, so the CPU it uses is the
// Producer's (plus the Go runtime's own floor, which the first line shows).
func (b *bench) idleChecks() {
	if b.o.idle == 0 {
		return
	}
	b.idle = append(b.idle, b.idleRun(idleNone))
	for _, lib := range b.o.libs {
		b.idle = append(b.idle, b.idleRun(lib))
	}
}

// idleRun connects a Producer of lib (unless lib is idleNone), publishes one
// message, and measures the process over -idle.
func (b *bench) idleRun(lib string) idleResult {
	topics := b.newTopics(1)
	var c client
	var r result
	if lib != idleNone {
		c = b.newClient(lib, "")
		if err := c.publish(topics[0], b.body(100)); err != nil {
			fatalf("idle %s: %v", lib, err)
		}
		r.msgs = 1
	}
	runtime.GC()
	time.Sleep(100 * time.Millisecond) // let the GC's background work finish
	cpu0, csw0 := rusage()
	r0, w0 := syscallCounts()
	t0 := time.Now()
	time.Sleep(b.o.idle)
	cpu1, csw1 := rusage()
	r1, w1 := syscallCounts()
	res := idleResult{lib: lib, elapsed: time.Since(t0), cpu: cpu1 - cpu0, csw: csw1 - csw0, reads: r1 - r0, writes: w1 - w0}
	if lib != idleNone {
		c.stop()
	}
	b.verify(topics, &r)
	if r.errs > 0 {
		b.failed++
	}
	fmt.Fprintf(os.Stderr, "idle %-7s %v: CPU %v, %d context switches, %d reads, %d writes%s\n",
		lib, res.elapsed.Round(time.Millisecond), res.cpu, res.csw, res.reads, res.writes, errText(r))
	return res
}

// rusage returns the process's user+sys CPU time and its context switches.
func rusage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Nvcsw + ru.Nivcsw)
}

// idleTarget is the most CPU an idle Producer may add to the process's own
// floor per 10 s: 1 ms, a hundredth of a percent of one core, which is what
// "~0" means here (some dozens of timer wake-ups at most, no polling loop).
const idleTarget = time.Millisecond

// idleExtra returns the CPU that lib's idle Producer added to the floor,
// scaled to 10 s, and whether both were measured.
func (b *bench) idleExtra(lib string) (time.Duration, bool) {
	var floor, got *idleResult
	for i := range b.idle {
		switch b.idle[i].lib {
		case idleNone:
			floor = &b.idle[i]
		case lib:
			got = &b.idle[i]
		}
	}
	if floor == nil || got == nil {
		return 0, false
	}
	return per10s(got.cpu, got.elapsed) - per10s(floor.cpu, floor.elapsed), true
}

// per10s scales d, used over elapsed, to 10 s.
func per10s(d, elapsed time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(10*time.Second) / float64(elapsed))
}

// printIdle prints the idle measurements.
func (b *bench) printIdle() {
	if len(b.idle) == 0 {
		return
	}
	b.printf("## Idle: the benchmark process over %v with a Producer connected and idle after one Publish\n\n", b.o.idle)
	b.printf("The first line has no Producer: the process's own floor. CPU is getrusage user+sys; the target counts what a Producer adds to the floor.\n\n")
	b.printf("| Producer | CPU per 10 s | added to the floor | context switches | read syscalls | write syscalls |\n")
	b.printf("|---|---:|---:|---:|---:|---:|\n")
	for _, r := range b.idle {
		added := "–"
		if d, ok := b.idleExtra(r.lib); ok && r.lib != idleNone {
			added = fmtDur(d)
		}
		b.printf("| %s | %s | %s | %d | %d | %d |\n", r.lib, fmtDur(per10s(r.cpu, r.elapsed)), added, r.csw, r.reads, r.writes)
	}
	b.printf("\n")
}

// fmtDur formats a short CPU time in µs or ms.
func fmtDur(d time.Duration) string {
	if d < time.Millisecond && d > -time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
