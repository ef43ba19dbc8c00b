package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// isTerminal reports whether w is a terminal (a character device), where
// the progress line is shown. A variable so that tests can pretend.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressEvery is how often the progress line is redrawn. A variable so
// that tests can speed it up.
var progressEvery = 250 * time.Millisecond

// errWriter is standard error, shared by the messages and the progress
// line: a message first clears the progress line, which the next tick
// redraws below it.
type errWriter struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool // a progress line is on the screen
}

// printf writes a message on a line of its own.
func (e *errWriter) printf(format string, a ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clearLocked()
	fmt.Fprintf(e.w, format, a...)
}

// progress draws line in place of the previous progress line.
func (e *errWriter) progress(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, "\r%s\x1b[K", line)
	e.shown = true
}

// clear erases the progress line, if one is shown.
func (e *errWriter) clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clearLocked()
}

// clearLocked erases the progress line, if one is shown; e.mu is held.
func (e *errWriter) clearLocked() {
	if e.shown {
		io.WriteString(e.w, "\r\x1b[K")
		e.shown = false
	}
}

// rateSample is the count of records read at one tick of the progress line.
type rateSample struct {
	at time.Time
	n  int64
}

// startProgress shows, when standard error is a terminal, a progress line
// redrawn every progressEvery: records read, their rate over about the
// last second, acknowledgements and failures. The returned function stops
// it and erases the line.
func (p *publisher) startProgress() (stop func()) {
	if !isTerminal(p.errw.w) {
		return func() {}
	}
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		// The rate is over the last second or so: samples[0] is the
		// newest sample at least a second old (or the start).
		samples := []rateSample{{time.Now(), 0}}
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				n := p.records.Load()
				samples = append(samples, rateSample{now, n})
				for len(samples) > 2 && now.Sub(samples[1].at) >= time.Second {
					samples = samples[1:]
				}
				base := samples[0]
				rate := float64(n-base.n) / now.Sub(base.at).Seconds()
				p.errw.progress(fmt.Sprintf("nsqpub: %d records, %.0f/s, %d acknowledged, %d errors",
					n, rate, p.published.Load(), p.failed.Load()))
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		p.errw.clear()
	}
}
