package nsqdproc

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// listenRE matches the log lines that give nsqd's real addresses, e.g.
// "[nsqd] 2026/11/25 16:21:25.207216 INFO: TCP: listening on 127.0.0.1:42801".
// nsqd prints them at log level info, so a higher level hides them.
var listenRE = regexp.MustCompile(`INFO: (TCP|HTTP): listening on (\S+)`)

// listenWatcher is the writer nsqd's stdout and stderr go to. It passes
// everything on to out and reads nsqd's addresses from its log lines.
type listenWatcher struct {
	out   io.Writer     // nil: keep the output while nsqd starts, then drop it
	found chan struct{} // closed once both addresses are known

	mu        sync.Mutex
	partial   []byte // the start of a line whose end has not come yet
	tcp, http string
	keep      bool         // whether log keeps what is written
	log       bytes.Buffer // the output while nsqd starts, when out is nil
}

// newListenWatcher returns a watcher passing the output on to out (nil: none).
func newListenWatcher(out io.Writer) *listenWatcher {
	return &listenWatcher{out: out, found: make(chan struct{}), keep: out == nil}
}

// Write scans b for the listening lines, then passes it on.
func (w *listenWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keep {
		w.log.Write(b)
	}
	if w.tcp == "" || w.http == "" {
		w.scan(b)
	}
	if w.out == nil {
		return len(b), nil
	}
	return w.out.Write(b)
}

// scan reads the complete lines of partial+b, keeping the unfinished rest.
func (w *listenWatcher) scan(b []byte) {
	w.partial = append(w.partial, b...)
	for {
		line, rest, ok := bytes.Cut(w.partial, []byte("\n"))
		if !ok {
			return
		}
		w.partial = rest
		m := listenRE.FindSubmatch(line)
		if m == nil {
			continue
		}
		if string(m[1]) == "TCP" {
			w.tcp = string(m[2])
		} else {
			w.http = string(m[2])
		}
		if w.tcp != "" && w.http != "" {
			w.partial = nil
			close(w.found)
			return
		}
	}
}

// addrs returns the TCP and HTTP addresses found so far ("" if not yet).
func (w *listenWatcher) addrs() (tcp, http string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tcp, w.http
}

// ready stops keeping the output: nsqd has started.
func (w *listenWatcher) ready() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep = false
	w.log = bytes.Buffer{}
}

// startLog returns what nsqd wrote while starting, to end an error message,
// or "" when it went to the caller's writer instead.
func (w *listenWatcher) startLog() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.keep {
		return ""
	}
	return "\nnsqd output:\n" + w.log.String()
}
