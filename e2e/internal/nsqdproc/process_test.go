package nsqdproc

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testBin returns the nsqd binary: $NSQD_BIN, else the e2e module's
// bin/nsqd (`make nsqd` builds it). These tests are never skipped.
func testBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NSQD_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "nsqd")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no nsqd binary (set NSQD_BIN or run make nsqd): %v", err)
	}
	return bin
}

func TestVersion(t *testing.T) {
	version, want, err := Version(testBin(t))
	if err != nil || !want || !strings.HasPrefix(version, WantVersion+" ") {
		t.Fatalf("Version = %q, %v, %v; want %s", version, want, err, WantVersion)
	}
	if _, _, err := Version(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Version of a missing binary: no error")
	}
}

func TestStartAndStop(t *testing.T) {
	bin := testBin(t)
	var out Buffer
	p, err := Start(Options{Bin: bin, DataDir: t.TempDir(), Args: []string{"--mem-queue-size=123"}, Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if p.TCPAddr == "" || p.HTTPAddr == "" || p.TCPAddr == p.HTTPAddr {
		t.Fatalf("addresses TCP %q HTTP %q", p.TCPAddr, p.HTTPAddr)
	}
	if got, _ := LastFlag(p.Args, "mem-queue-size"); got != "123" {
		t.Errorf("Args %q lack the extra flag", p.Args)
	}
	if err := Ping(http.DefaultClient, p.HTTPAddr); err != nil {
		t.Fatalf("Ping after Start: %v", err)
	}
	if !strings.Contains(out.String(), "TCP: listening on "+p.TCPAddr) {
		t.Errorf("Output lacks the TCP line:\n%s", out.String())
	}
	if p.Exited() {
		t.Fatal("Exited before Stop")
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = p.Stop(10 * time.Second) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Stop %d: %v", i, err)
		}
	}
	<-p.Done()
	if !p.Exited() || p.Err() != nil {
		t.Errorf("after Stop: exited %v, Err %v", p.Exited(), p.Err())
	}
	p.Kill() // a no-op
}

func TestStopKillsFrozenNSQD(t *testing.T) {
	p, err := Start(Options{Bin: testBin(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(100 * time.Millisecond); !errors.Is(err, ErrKilled) {
		t.Fatalf("Stop of a stopped process = %v, want ErrKilled", err)
	}
	if !p.Exited() {
		t.Fatal("still running after Stop killed it")
	}
	if err := p.Stop(time.Second); !errors.Is(err, ErrKilled) {
		t.Errorf("second Stop = %v, want the first one's result", err)
	}
}

func TestKillThenStop(t *testing.T) {
	p, err := Start(Options{Bin: testBin(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if p.Err() == nil {
		t.Error("Err after SIGKILL is nil")
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("Stop after Kill = %v, want nil", err)
	}
}

func TestStartFails(t *testing.T) {
	bin := testBin(t)
	cases := []struct {
		name    string
		opts    Options
		wantErr []string
	}{
		{"missing binary", Options{Bin: filepath.Join(t.TempDir(), "missing"), DataDir: t.TempDir()},
			[]string{"starting "}},
		{"unknown flag", Options{Bin: bin, DataDir: t.TempDir(), Args: []string{"--no-such-flag"}},
			[]string{"exited while starting", "nsqd output:", "no-such-flag"}},
		{"missing data directory", Options{Bin: bin, DataDir: filepath.Join(t.TempDir(), "missing")},
			[]string{"exited while starting", "nsqd output:"}},
		{"log level warn", Options{Bin: bin, DataDir: t.TempDir(), Args: []string{"--log-level=warn"}},
			[]string{"--log-level=warn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Start(c.opts)
			if p != nil || err == nil {
				t.Fatalf("Start = %v, %v; want an error", p, err)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}
