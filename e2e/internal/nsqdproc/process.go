// Package nsqdproc runs the real nsqd as a separate process on free loopback
// ports, for the end-to-end tests, the benchmark and the demo.
//
// Start passes --tcp-address, --http-address and --https-address of
// 127.0.0.1:0, so that the kernel picks free ports, learns the ports nsqd got
// from its INFO log lines ("TCP: listening on …", "HTTP: listening on …"),
// and returns once GET /ping answers 200.
package nsqdproc

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of Start.
const (
	DefaultStartTimeout = 10 * time.Second       // log lines plus /ping answering 200
	pingTimeout         = 500 * time.Millisecond // a single /ping while nsqd starts
	pollInterval        = 10 * time.Millisecond  // between two /ping while nsqd starts
)

// ErrKilled is what Stop's error wraps when nsqd did not exit within the
// grace period after SIGTERM and was killed.
var ErrKilled = errors.New("nsqd did not exit after SIGTERM and was killed")

// Options describe one run of nsqd.
type Options struct {
	Bin     string // path of the nsqd binary
	DataDir string // --data-path; the directory must exist
	// Args follow the flags Start sets, so they can override any of them:
	// nsqd parses its flags with Go's flag package, where the last
	// occurrence of a flag wins (repeatable flags such as
	// --auth-http-address accumulate instead). They must leave the log
	// level at info or debug and the HTTP API on.
	Args []string
	// Output receives everything nsqd writes to stdout and stderr. When it
	// is nil the output is dropped once nsqd is ready, and what nsqd wrote
	// while starting is part of Start's error.
	Output       io.Writer
	StartTimeout time.Duration // 0: DefaultStartTimeout
}

// Process is one run of nsqd. Its methods may be called from any goroutine.
type Process struct {
	TCPAddr  string   // host:port of the TCP protocol, e.g. 127.0.0.1:43997
	HTTPAddr string   // host:port of the HTTP API
	Args     []string // nsqd's full argument list

	cmd    *exec.Cmd
	done   chan struct{} // closed once nsqd has exited and its output is drained
	exited atomic.Bool   // set just before done is closed
	err    error         // cmd.Wait's result; read only once exited is set

	stopOnce sync.Once
	stopErr  error
}

// Start runs nsqd as o describes and waits until it is ready: it has logged
// both its TCP and HTTP addresses and GET /ping answers 200, within
// o.StartTimeout. If nsqd exits or is not ready in time, Start kills it and
// returns why.
func Start(o Options) (*Process, error) {
	args, err := commandLine(o.DataDir, o.Args)
	if err != nil {
		return nil, err
	}
	return start(o, args)
}

// StartLookupd runs nsqlookupd as o describes (DataDir unused) and waits
// until it is ready, as Start does for nsqd: it passes free loopback TCP
// and HTTP ports, --broadcast-address=127.0.0.1 and the info log level,
// followed by o.Args.
func StartLookupd(o Options) (*Process, error) {
	args, err := lookupdCommandLine(o.Args)
	if err != nil {
		return nil, err
	}
	return start(o, args)
}

// start runs o.Bin with args and waits until it is ready.
func start(o Options, args []string) (*Process, error) {
	w := newListenWatcher(o.Output)
	cmd := exec.Command(o.Bin, args...)
	cmd.Stdout = w // the same writer for both: exec then uses one pipe
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Bin, err)
	}
	p := &Process{Args: args, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.exited.Store(true)
		close(p.done)
	}()
	if err := p.waitReady(w, cmp.Or(o.StartTimeout, DefaultStartTimeout)); err != nil {
		p.Kill()
		return nil, fmt.Errorf("%s %s: %w%s", filepath.Base(o.Bin), strings.Join(args, " "), err, w.startLog())
	}
	w.ready()
	return p, nil
}

// waitReady waits until w has both addresses and /ping answers 200, and
// sets p's addresses.
func (p *Process) waitReady(w *listenWatcher, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-w.found:
	case <-p.done:
		return p.exitedEarly()
	case <-deadline.C:
		tcp, http := w.addrs()
		return fmt.Errorf("no TCP and HTTP addresses logged within %v (TCP %q, HTTP %q)", timeout, tcp, http)
	}
	p.TCPAddr, p.HTTPAddr = w.addrs()
	client := &http.Client{Timeout: pingTimeout}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := Ping(client, p.HTTPAddr)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitedEarly()
		case <-deadline.C:
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// exitedEarly describes an exit before nsqd was ready.
func (p *Process) exitedEarly() error {
	if p.err != nil {
		return fmt.Errorf("exited while starting: %w", p.err)
	}
	return errors.New("exited while starting, with status 0")
}

// Pid returns nsqd's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to nsqd, e.g. SIGSTOP and SIGCONT to freeze and thaw it.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signalling nsqd: %w", err)
	}
	return nil
}

// Done is closed once nsqd has exited and all its output is written.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether nsqd has exited.
func (p *Process) Exited() bool { return p.exited.Load() }

// Err returns how nsqd exited (exec.Cmd.Wait's result). Call it only once
// Exited reports true or Done is closed.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM and waits up to grace for nsqd to exit; nsqd then
// writes its in-memory messages to disk. Past grace it kills nsqd and
// returns an error wrapping ErrKilled. An exit status other than 0 is an
// error too. Only the first call acts: later and concurrent calls wait for
// it and return its result. If nsqd had already exited when Stop was first
// called, Stop returns nil.
func (p *Process) Stop(grace time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.terminate(grace) })
	return p.stopErr
}

// terminate is Stop's one run.
func (p *Process) terminate(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	// An error means nsqd is already gone, which p.done tells.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("nsqd exited after SIGTERM: %w", p.err)
		}
		return nil
	case <-timer.C:
		p.Kill()
		return fmt.Errorf("%w (waited %v)", ErrKilled, grace)
	}
}

// Kill sends SIGKILL and waits for nsqd to exit: whatever it held only in
// memory is lost. Killing an exited nsqd does nothing.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill() // an error means nsqd has already exited
	<-p.done
}
