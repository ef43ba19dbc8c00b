package nsqpub

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestValidationSendsNothing: every invalid publish returns its error and
// writes no byte; the connection and a valid publish after it are untouched.
func TestValidationSendsNothing(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{MaxMsgSize: 10, MaxBodySize: 4 + 2*(4+10), MaxDeferDelay: time.Minute})
	big := bytes.Repeat([]byte("x"), 11)
	ok := []byte("ok")
	done := make(chan *ProducerTransaction, 1)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"empty topic", func() error { return p.Publish("", ok) }, ErrInvalidTopic},
		{"topic 65 chars", func() error { return p.Publish(strings.Repeat("a", 65), ok) }, ErrInvalidTopic},
		{"topic with colon", func() error { return p.Publish("a:b", ok) }, ErrInvalidTopic},
		{"topic with space", func() error { return p.Publish("a b", ok) }, ErrInvalidTopic},
		{"topic with newline", func() error { return p.Publish("a\nPUB b", ok) }, ErrInvalidTopic},
		{"only #ephemeral", func() error { return p.Publish("#ephemeral", ok) }, ErrInvalidTopic},
		{"bad suffix", func() error { return p.Publish("a#other", ok) }, ErrInvalidTopic},
		{"non-ASCII topic", func() error { return p.Publish("tópico", ok) }, ErrInvalidTopic},
		{"nil body", func() error { return p.Publish("t", nil) }, ErrEmptyBody},
		{"empty body", func() error { return p.Publish("t", []byte{}) }, ErrEmptyBody},
		{"body too big", func() error { return p.Publish("t", big) }, ErrMessageTooLarge},
		{"async body too big", func() error { return p.PublishAsync("t", big, done) }, ErrMessageTooLarge},
		{"async bad topic", func() error { return p.PublishAsync("a:b", ok, done) }, ErrInvalidTopic},
		{"MPUB nil", func() error { return p.MultiPublish("t", nil) }, ErrEmptyBatch},
		{"MPUB empty", func() error { return p.MultiPublish("t", [][]byte{}) }, ErrEmptyBatch},
		{"MPUB empty member", func() error { return p.MultiPublish("t", [][]byte{ok, {}}) }, ErrEmptyBody},
		{"MPUB member too big", func() error { return p.MultiPublish("t", [][]byte{ok, big}) }, ErrMessageTooLarge},
		{"MPUB body too big", func() error { return p.MultiPublish("t", [][]byte{big[:10], big[:10], big[:10]}) }, ErrBatchTooLarge},
		{"MPUB bad topic", func() error { return p.MultiPublish("", [][]byte{ok}) }, ErrInvalidTopic},
		{"MPUB async empty", func() error { return p.MultiPublishAsync("t", nil, done) }, ErrEmptyBatch},
		{"DPUB negative", func() error { return p.DeferredPublish("t", -time.Millisecond, ok) }, ErrInvalidDelay},
		{"DPUB too long", func() error { return p.DeferredPublish("t", time.Minute+time.Millisecond, ok) }, ErrInvalidDelay},
		{"DPUB async too long", func() error { return p.DeferredPublishAsync("t", time.Hour, ok, done) }, ErrInvalidDelay},
		{"DPUB empty body", func() error { return p.DeferredPublish("t", time.Second, nil) }, ErrEmptyBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Nothing was sent: not even a connection was made. Now publish one valid
	// message; it is the first and only command the server sees.
	errc := async(func() error { return p.Publish("t", ok) })
	c := f.acceptIdentified()
	if got := string(c.readCommand()); got != pubBytes("t", "ok") {
		t.Fatalf("first command %q", got)
	}
	c.sendOK()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	// On the live connection too, invalid publishes write nothing.
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.want) {
			t.Fatalf("%s: err = %v", tt.name, err)
		}
	}
	errc = async(func() error { return p.Publish("t", []byte("ok2")) })
	if got := string(c.readCommandSkipNOP()); got != pubBytes("t", "ok2") {
		t.Fatalf("next command %q", got)
	}
	c.sendOK()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	if len(done) != 0 {
		t.Fatal("a rejected async publish sent a result")
	}
}

func TestIsValidTopicName(t *testing.T) {
	valid := []string{"a", "A.b_c-9", strings.Repeat("x", 64), "t#ephemeral", strings.Repeat("x", 54) + "#ephemeral"}
	invalid := []string{"", strings.Repeat("x", 65), strings.Repeat("x", 55) + "#ephemeral", "#ephemeral", "a:b", "a b", "a#b", "a#ephemeral#ephemeral"}
	for _, n := range valid {
		if !IsValidTopicName(n) {
			t.Errorf("%q should be valid", n)
		}
	}
	for _, n := range invalid {
		if IsValidTopicName(n) {
			t.Errorf("%q should be invalid", n)
		}
	}
}

func TestConfigSet(t *testing.T) {
	tests := []struct {
		opt   string
		val   interface{}
		check func(c *Config) bool
	}{
		{"dial_timeout", "2s", func(c *Config) bool { return c.DialTimeout == 2*time.Second }},
		{"dial-timeout", 1500, func(c *Config) bool { return c.DialTimeout == 1500*time.Millisecond }},
		{"read_timeout", 3 * time.Second, func(c *Config) bool { return c.ReadTimeout == 3*time.Second }},
		{"write_timeout", int64(250), func(c *Config) bool { return c.WriteTimeout == 250*time.Millisecond }},
		{"heartbeat_interval", "5s", func(c *Config) bool { return c.HeartbeatInterval == 5*time.Second }},
		{"tls_v1", "true", func(c *Config) bool { return c.TlsV1 }},
		{"deflate", true, func(c *Config) bool { return c.Deflate }},
		{"deflate_level", "3", func(c *Config) bool { return c.DeflateLevel == 3 }},
		{"snappy", 1, func(c *Config) bool { return c.Snappy }},
		{"auth_secret", "s", func(c *Config) bool { return c.AuthSecret == "s" }},
		{"client_id", "id", func(c *Config) bool { return c.ClientID == "id" }},
		{"hostname", "h", func(c *Config) bool { return c.Hostname == "h" }},
		{"user_agent", "ua", func(c *Config) bool { return c.UserAgent == "ua" }},
		{"local_addr", "127.0.0.1:0", func(c *Config) bool { return c.LocalAddr != nil }},
		{"max_msg_size", 100, func(c *Config) bool { return c.MaxMsgSize == 100 }},
		{"max_body_size", "1000", func(c *Config) bool { return c.MaxBodySize == 1000 }},
		{"max_req_timeout", "10m", func(c *Config) bool { return c.MaxDeferDelay == 10*time.Minute }},
		{"tls_insecure_skip_verify", true, func(c *Config) bool { return c.TlsConfig.InsecureSkipVerify }},
		{"tls_min_version", "tls1.3", func(c *Config) bool { return c.TlsConfig.MinVersion == 0x0304 }},
		{"max_in_flight", 100, func(c *Config) bool { return true }},
	}
	for _, tt := range tests {
		c := NewConfig()
		if err := c.Set(tt.opt, tt.val); err != nil {
			t.Errorf("Set(%q, %v): %v", tt.opt, tt.val, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("Set(%q, %v) did not take effect: %+v", tt.opt, tt.val, c)
		}
	}
	bad := []struct {
		opt string
		val interface{}
	}{
		{"no_such_option", 1}, {"dial_timeout", "soon"}, {"dial_timeout", 1.5}, {"tls_v1", "maybe"},
		{"deflate_level", "six"}, {"client_id", 7}, {"tls_min_version", "ssl3.0"}, {"tls_root_ca_file", "/nonexistent"},
	}
	for _, tt := range bad {
		if err := NewConfig().Set(tt.opt, tt.val); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Set(%q, %v) = %v, want ErrInvalidConfig", tt.opt, tt.val, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := map[string]*Config{
		"nil":                nil,
		"heartbeat 500ms":    {HeartbeatInterval: 500 * time.Millisecond},
		"heartbeat 2m":       {HeartbeatInterval: 2 * time.Minute},
		"deflate and snappy": {Deflate: true, Snappy: true},
		"deflate level 10":   {DeflateLevel: 10},
		"negative dial":      {DialTimeout: -time.Second},
		"negative read":      {ReadTimeout: -time.Second},
		"negative write":     {WriteTimeout: -time.Second},
		"negative msg size":  {MaxMsgSize: -1},
		"negative delay":     {MaxDeferDelay: -1},
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := NewProducer("127.0.0.1:4150", c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewProducer = %v, want ErrInvalidConfig", name, err)
		}
	}
	for name, c := range map[string]*Config{"zero": {}, "NewConfig": NewConfig(), "no heartbeat": {HeartbeatInterval: -1}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := NewConfig(); got.DialTimeout != time.Second || got.ReadTimeout != time.Minute || got.WriteTimeout != time.Second ||
		got.HeartbeatInterval != 30*time.Second || got.DeflateLevel != 6 || got.MaxMsgSize != 1048576 ||
		got.MaxBodySize != 5242880 || got.MaxDeferDelay != time.Hour || !strings.HasPrefix(got.UserAgent, "nsqpub/") {
		t.Errorf("NewConfig defaults: %+v", got)
	}
}

// nsqpubGoroutines returns the stacks of goroutines running nsqpub code.
// A goroutine that has signalled its exit may still be returning, so, like
// goleak, it looks again for a short while before reporting any.
func nsqpubGoroutines() string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		g := nsqpubGoroutinesNow()
		if g == "" || time.Now().After(deadline) {
			return g
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// nsqpubGoroutinesNow is one look at the goroutines running nsqpub code.
func nsqpubGoroutinesNow() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "nsqpub.(*conn)") || strings.Contains(g, "nsqpub.(*Producer).dial") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestStop: in-flight publishes get nsqd's answer, later ones ErrStopped, the
// socket closes without CLS, no goroutine is left; Stop is idempotent and
// safe concurrently.
func TestStop(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	done := make(chan *ProducerTransaction, 10)
	c := connect(t, f, p)
	for i := 0; i < 3; i++ {
		if err := p.PublishAsync("t", []byte("m"), done, i); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	go func() { wg.Wait(); close(stopped) }()
	// Answer whatever was written (the three may arrive merged or not).
	for n := 0; n < 3; {
		cmd := c.readCommandSkipNOP()
		if bytes.HasPrefix(cmd, []byte("MPUB")) {
			n += int(cmd[len("MPUB t\n")+7])
		} else {
			n++
		}
		c.sendOK()
	}
	c.expectEOF()
	<-stopped
	for i := 0; i < 3; i++ {
		if tr := <-done; tr.Error != nil {
			t.Fatalf("in-flight publish %v: %v", tr.Args, tr.Error)
		}
	}
	if err := p.Publish("t", []byte("late")); !errors.Is(err, ErrStopped) {
		t.Fatalf("Publish after Stop = %v, want ErrStopped", err)
	}
	if err := p.PublishAsync("t", []byte("late"), done); !errors.Is(err, ErrStopped) {
		t.Fatalf("PublishAsync after Stop = %v, want ErrStopped", err)
	}
	p.Stop()
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after Stop:\n%s", g)
	}
}

// TestStopTimeout: publishes nsqd never answers fail with ErrStopped after
// StopTimeout.
func TestStopTimeout(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{StopTimeout: 50 * time.Millisecond})
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	c := f.acceptIdentified()
	c.readCommand()
	p.Stop()
	err := result(t, errc)
	if !errors.Is(err, ErrStopped) || !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrStopped and ErrUnknownOutcome", err)
	}
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after Stop:\n%s", g)
	}
}

// TestStopWhileDialing: Stop ends a dial in progress and leaves nothing.
func TestStopWhileDialing(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{DialTimeout: time.Minute})
	errc := async(func() error { return p.Publish("t", []byte("m")) })
	c := f.accept()
	c.expectMagic()
	p.Stop()
	if err := result(t, errc); err == nil {
		t.Fatal("publish succeeded while its dial was stopped")
	}
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after Stop:\n%s", g)
	}
}

// TestConcurrentPublishes: many goroutines share one connection; every
// publish gets its own answer.
func TestConcurrentPublishes(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	const workers, each = 16, 50
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- p.Publish("t", []byte("m"))
			}
		}()
	}
	c := f.acceptIdentified()
	for n := 0; n < workers*each; {
		cmd := c.readCommandSkipNOP()
		if bytes.HasPrefix(cmd, []byte("MPUB t\n")) {
			n += int(be32toInt(cmd[len("MPUB t\n")+4:]))
		} else {
			n++
		}
		c.sendOK()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func be32toInt(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestStringAndLogger(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	if p.String() != f.addr() {
		t.Fatalf("String = %q", p.String())
	}
	var lg recLogger
	p.SetLogger(&lg, LogLevelInfo)
	errc := async(p.Ping)
	c := f.acceptIdentified()
	c.readCommand()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	out := lg.String()
	if !strings.Contains(out, "INF nsqpub ("+f.addr()+") connected") || strings.Contains(out, "DBG") {
		t.Fatalf("log:\n%s", out)
	}
}

// recLogger records log lines.
type recLogger struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *recLogger) Output(_ int, s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
	return nil
}

func (l *recLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStopBoundedWhenWindowFull: Stop returns within StopTimeout even when
// the writer waits for room in a full window that nsqd never answers, and
// every publish completes.
func TestStopBoundedWhenWindowFull(t *testing.T) {
	f := newFakeNSQD(t)
	p := newTestProducer(t, f.addr(), &Config{MaxInFlight: 1, StopTimeout: 100 * time.Millisecond})
	done := make(chan *ProducerTransaction, 8)
	errc := async(func() error { return p.PublishAsync("a", []byte("1"), done) })
	c := f.acceptIdentified()
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	c.readCommand() // in flight, never answered
	for _, topic := range []string{"b", "c", "d"} {
		if err := p.PublishAsync(topic, []byte("2"), done); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Stop took %v with StopTimeout 100ms", d)
	}
	for i := 0; i < 4; i++ {
		select {
		case tr := <-done:
			if !errors.Is(tr.Error, ErrStopped) {
				t.Fatalf("publish %d: %v, want an error wrapping ErrStopped", i, tr.Error)
			}
		default:
			t.Fatalf("only %d of 4 publishes completed when Stop returned", i)
		}
	}
	if g := nsqpubGoroutines(); g != "" {
		t.Fatalf("goroutines left after Stop:\n%s", g)
	}
}
