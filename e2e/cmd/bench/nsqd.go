package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nsqpub/nsqpub/e2e/internal/nsqdproc"
)

// stopGrace is how long stop waits after SIGTERM before it kills nsqd.
const stopGrace = 10 * time.Second

// nsqd is the nsqd process the benchmark runs against.
type nsqd struct {
	proc    *nsqdproc.Process
	dir     string // its data directory, removed by stop
	tcp     string
	http    string
	version string
	hc      *http.Client
}

// startNSQD runs nsqd on free loopback ports with its own data directory
// and --mem-queue-size=memQueue, with snappy and deflate on (their defaults).
func startNSQD(bin string, memQueue int) (*nsqd, error) {
	version, want, err := nsqdproc.Version(bin)
	if err != nil {
		return nil, err
	}
	if !want {
		fmt.Fprintf(os.Stderr, "bench: WARNING: expected %s, %s is %s\n", nsqdproc.WantVersion, bin, version)
	}
	dir, err := os.MkdirTemp("", "nsqpub-bench")
	if err != nil {
		return nil, err
	}
	p, err := nsqdproc.Start(nsqdproc.Options{
		Bin: bin, DataDir: dir, Args: []string{"--mem-queue-size=" + strconv.Itoa(memQueue), "--snappy=true", "--deflate=true"},
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &nsqd{proc: p, dir: dir, tcp: p.TCPAddr, http: p.HTTPAddr, version: version,
		hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// stop terminates nsqd (SIGTERM, then SIGKILL after stopGrace) and removes
// its data directory. It is safe to call more than once and concurrently.
func (n *nsqd) stop() {
	if err := n.proc.Stop(stopGrace); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	}
	os.RemoveAll(n.dir)
}

// post sends POST path?topic=topic to nsqd's HTTP API and expects 200.
func (n *nsqd) post(path, topic string) error {
	_, err := nsqdproc.Do(n.hc, http.MethodPost, n.http, path, url.Values{"topic": {topic}}, http.StatusOK)
	return err
}

// messageCount returns the topic's message_count from /stats.
func (n *nsqd) messageCount(topic string) (int64, error) {
	return nsqdproc.MessageCount(n.hc, n.http, topic)
}
