package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is what one run measured.
type result struct {
	msgs    int64         // messages acknowledged by nsqd, as the client saw them
	elapsed time.Duration // from the first publish until the last answer
	cpu     time.Duration // user+sys CPU of this process during the run
	mallocs uint64        // runtime.MemStats.Mallocs delta
	bytes   uint64        // runtime.MemStats.TotalAlloc delta
	writes  uint64        // write syscalls of this process (/proc/self/io syscw), 0 if unknown
	reads   uint64        // read syscalls of this process (/proc/self/io syscr), 0 if unknown
	nsqdCPU time.Duration // CPU time nsqd used during the run (/proc), 0 if unknown
	// otherCores is the CPU used by processes other than this one and nsqd
	// during the run, in cores (/proc/stat): a sign of a disturbed run.
	otherCores float64
	errs       int64 // publishes that returned or reported an error
	err        error // the first of them
}

// rate is messages per second.
func (r result) rate() float64 { return float64(r.msgs) / r.elapsed.Seconds() }

// cpuPerMsg is client CPU microseconds per message.
func (r result) cpuPerMsg() float64 { return float64(r.cpu.Microseconds()) / float64(r.msgs) }

// allocsPerMsg is heap allocations per message.
func (r result) allocsPerMsg() float64 { return float64(r.mallocs) / float64(r.msgs) }

// bytesPerMsg is heap bytes allocated per message.
func (r result) bytesPerMsg() float64 { return float64(r.bytes) / float64(r.msgs) }

// nsqdCPUPerMsg is nsqd's CPU microseconds per message.
func (r result) nsqdCPUPerMsg() float64 { return float64(r.nsqdCPU.Microseconds()) / float64(r.msgs) }

// writesPerMsg is write syscalls per message.
func (r result) writesPerMsg() float64 { return float64(r.writes) / float64(r.msgs) }

// readsPerMsg is read syscalls per message.
func (r result) readsPerMsg() float64 { return float64(r.reads) / float64(r.msgs) }

// loadAvg returns the machine's load averages, which tell whether something
// else competed for the CPUs during the run.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

// usage is a snapshot of the process's CPU time and allocation counters.
type usage struct {
	t       time.Time
	cpu     time.Duration
	mallocs uint64
	bytes   uint64
	syscw   uint64 // write syscalls so far, from /proc/self/io (0 if unavailable)
	syscr   uint64 // read syscalls so far
	busy    uint64 // busy CPU time of the whole machine, clock ticks
	self    uint64 // CPU time of this process, clock ticks
	nsqd    uint64 // CPU time of nsqd, clock ticks
}

// snapshot reads the counters. ReadMemStats stops the world, so it is only
// called outside the timed part.
func (b *bench) snapshot() usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatalf("getrusage: %v", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	u := usage{t: time.Now(), cpu: cpu, mallocs: ms.Mallocs, bytes: ms.TotalAlloc}
	u.syscr, u.syscw = syscallCounts()
	u.busy, u.self, u.nsqd = cpuTicks(b.n.proc.Pid())
	return u
}

// clockTicks is USER_HZ, the unit of CPU times in /proc (100 on Linux).
const clockTicks = 100

// cpuTicks returns, from /proc, the CPU time all CPUs spent busy, the time
// this process used and the time nsqd (pid) used, in clock ticks; zeros
// where /proc is unavailable.
func cpuTicks(pid int) (busy, self, nsqd uint64) {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // all but idle and iowait; guest time is already in user
				busy += n
			}
		}
	}
	return busy, procTicks("self"), procTicks(strconv.Itoa(pid))
}

// procTicks returns utime+stime of /proc/<pid>/stat in clock ticks, or 0.
func procTicks(pid string) uint64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st
}

// syscallCounts returns the read and write syscalls this process has made,
// from /proc/self/io (Linux), or zeros where that is unavailable.
func syscallCounts() (reads, writes uint64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		switch name {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// measure fills r's elapsed time, CPU and allocation counts from two snapshots.
func measure(r *result, u0, u1 usage, end time.Time) {
	r.elapsed = end.Sub(u0.t)
	r.cpu = u1.cpu - u0.cpu
	r.mallocs = u1.mallocs - u0.mallocs
	r.bytes = u1.bytes - u0.bytes
	r.writes = u1.syscw - u0.syscw
	r.reads = u1.syscr - u0.syscr
	r.nsqdCPU = time.Duration(u1.nsqd-u0.nsqd) * time.Second / clockTicks
	// Busy time of neither process: other work competing for the CPUs.
	if other := int64(u1.busy-u0.busy) - int64(u1.self-u0.self) - int64(u1.nsqd-u0.nsqd); other > 0 && u1.busy > 0 {
		r.otherCores = float64(other) / clockTicks / r.elapsed.Seconds()
	}
}
