package e2e

// End-to-end and differential tests of the go-nsq names nsqpub exports for
// programs that publish: the public Command and its constructors (byte for
// byte against go-nsq's), the name rules, ErrIdentify as nsqd's refusal of
// IDENTIFY comes back (against go-nsq's), ConfigFlag, SetLoggerForLevel,
// exact ErrStopped, and a handshake whose AUTH waits on a slow auth server.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// commandPair is one command built by each library from the same inputs.
type commandPair struct {
	name   string
	ours   *nsqpub.Command
	theirs *nsq.Command
}

// TestNamesCommandBytes: for a table of inputs, nsqpub's Command writes the
// same bytes, counts the same length and prints the same String as
// go-nsq's.
func TestNamesCommandBytes(t *testing.T) {
	mustOurs := func(c *nsqpub.Command, err error) *nsqpub.Command {
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mustTheirs := func(c *nsq.Command, err error) *nsq.Command {
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var pairs []commandPair
	add := func(name string, ours *nsqpub.Command, theirs *nsq.Command) {
		pairs = append(pairs, commandPair{name, ours, theirs})
	}
	big := bytes.Repeat([]byte("0123456789"), 10000)
	for _, body := range [][]byte{[]byte("hello"), {}, nil, {0, '\n', 0xff}, big} {
		add("PUB", nsqpub.Publish("topic", body), nsq.Publish("topic", body))
	}
	add("PUB empty topic", nsqpub.Publish("", []byte("x")), nsq.Publish("", []byte("x")))
	add("PUB #ephemeral", nsqpub.Publish("t#ephemeral", []byte("x")), nsq.Publish("t#ephemeral", []byte("x")))
	for _, d := range []time.Duration{0, time.Millisecond, 999 * time.Microsecond, 1500 * time.Millisecond,
		time.Hour, -time.Second, -time.Microsecond, 1 << 31 * time.Millisecond} {
		add("DPUB "+d.String(), nsqpub.DeferredPublish("topic", d, []byte("m")), nsq.DeferredPublish("topic", d, []byte("m")))
	}
	for _, bodies := range [][][]byte{
		{[]byte("a"), []byte("bc"), []byte("def")},
		{[]byte("one")},
		{},
		nil,
		{{}, nil, []byte("x")},
		{big, big[:1], big[:4096]},
	} {
		add("MPUB", mustOurs(nsqpub.MultiPublish("topic", bodies)), mustTheirs(nsq.MultiPublish("topic", bodies)))
	}
	add("NOP", nsqpub.Nop(), nsq.Nop())
	add("PING", nsqpub.Ping(), nsq.Ping())
	js := map[string]interface{}{"client_id": "c", "heartbeat_interval": 30000, "feature_negotiation": true, "user_agent": "ua/1"}
	add("IDENTIFY", mustOurs(nsqpub.Identify(js)), mustTheirs(nsq.Identify(js)))
	add("IDENTIFY empty", mustOurs(nsqpub.Identify(nil)), mustTheirs(nsq.Identify(nil)))
	add("AUTH", mustOurs(nsqpub.Auth("s3cret")), mustTheirs(nsq.Auth("s3cret")))
	add("AUTH empty", mustOurs(nsqpub.Auth("")), mustTheirs(nsq.Auth("")))
	for _, params := range [][][]byte{nil, {}, {{}}, {{}, {}}, {[]byte("a"), {}, []byte("b")}} {
		for _, body := range [][]byte{nil, {}, []byte("b")} {
			add("literal", &nsqpub.Command{Name: []byte("X"), Params: params, Body: body},
				&nsq.Command{Name: []byte("X"), Params: params, Body: body})
		}
	}
	add("zero", &nsqpub.Command{}, &nsq.Command{})

	for _, p := range pairs {
		var ours, theirs bytes.Buffer
		n1, err1 := p.ours.WriteTo(&ours)
		n2, err2 := p.theirs.WriteTo(&theirs)
		if err1 != nil || err2 != nil || n1 != n2 || !bytes.Equal(ours.Bytes(), theirs.Bytes()) {
			t.Errorf("%s: nsqpub wrote %d bytes (%v) %q, go-nsq %d (%v) %q", p.name, n1, err1, cut(ours.Bytes()), n2, err2, cut(theirs.Bytes()))
		}
		if s1, s2 := p.ours.String(), p.theirs.String(); s1 != s2 {
			t.Errorf("%s: String %q, go-nsq %q", p.name, s1, s2)
		}
	}
	_, err1 := nsqpub.Identify(map[string]interface{}{"x": math.NaN()})
	_, err2 := nsq.Identify(map[string]interface{}{"x": math.NaN()})
	if (err1 == nil) != (err2 == nil) {
		t.Errorf("Identify of NaN: nsqpub %v, go-nsq %v", err1, err2)
	}
	t.Logf("RESULT names/command-bytes: %d commands byte-identical to go-nsq's", len(pairs))
}

// cut shortens a byte string for an error message.
func cut(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// TestNamesCommandAgainstNSQD: commands built with the public constructors
// and written raw after MagicV2 are answered OK by the real nsqd, and the
// messages are there.
func TestNamesCommandAgainstNSQD(t *testing.T) {
	n := startNSQD(t)
	topic := topicName(t)
	nc, err := net.DialTimeout("tcp", n.TCPAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	mpub, _ := nsqpub.MultiPublish(topic, [][]byte{[]byte("m1"), []byte("m2")})
	var buf bytes.Buffer
	buf.Write(nsqpub.MagicV2)
	for _, c := range []*nsqpub.Command{nsqpub.Publish(topic, []byte("p")), mpub, nsqpub.DeferredPublish(topic, 0, []byte("d")), nsqpub.Nop()} {
		c.WriteTo(&buf)
	}
	if _, err := nc.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // NOP gets no answer
		typ, data, err := nsq.ReadUnpackedResponse(nc)
		if err != nil || typ != nsq.FrameTypeResponse || string(data) != "OK" {
			t.Fatalf("answer %d: %d %q %v, want OK", i, typ, data, err)
		}
	}
	waitMessageCount(t, n, topic, 4)
}

// TestNamesValidNames: nsqpub's name rules agree with go-nsq's on a table of
// names.
func TestNamesValidNames(t *testing.T) {
	names := []string{"", "a", "A.b_c-9", strings.Repeat("x", 64), strings.Repeat("x", 65), "t#ephemeral",
		strings.Repeat("x", 54) + "#ephemeral", strings.Repeat("x", 55) + "#ephemeral", "#ephemeral", "a:b", "a b",
		"a#b", "a#ephemeral#ephemeral", "tópico", "a\n", "a\x00", "..", "-", "a#EPHEMERAL"}
	for _, name := range names {
		if got, want := nsqpub.IsValidTopicName(name), nsq.IsValidTopicName(name); got != want {
			t.Errorf("IsValidTopicName(%q) = %v, go-nsq %v", name, got, want)
		}
		if got, want := nsqpub.IsValidChannelName(name), nsq.IsValidChannelName(name); got != want {
			t.Errorf("IsValidChannelName(%q) = %v, go-nsq %v", name, got, want)
		}
	}
}

// TestNamesIdentifyRefused: nsqd refuses IDENTIFY (its
// --max-heartbeat-interval is below the 30 s heartbeat both libraries ask
// for). Publish returns an error that go-nsq code's err.(ErrIdentify)
// matches, with go-nsq's Reason, and that is also ErrNotConnected and a
// *ServerError; the same for PublishAsync.
func TestNamesIdentifyRefused(t *testing.T) {
	n := startNSQD(t, "--max-heartbeat-interval=2s")
	topic := topicName(t)

	gp, err := nsq.NewProducer(n.TCPAddr, nsq.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	gp.SetLogger(nil, nsq.LogLevelError)
	gerr := gp.Publish(topic, []byte("m"))
	gp.Stop()
	theirs, ok := gerr.(nsq.ErrIdentify)
	if !ok {
		t.Fatalf("go-nsq: %T %v, want nsq.ErrIdentify", gerr, gerr)
	}

	for _, async := range []bool{false, true} {
		p := newProducer(t, n, nil)
		var err error
		if async {
			err = p.PublishAsync(topic, []byte("m"), make(chan *nsqpub.ProducerTransaction, 1))
		} else {
			err = p.Publish(topic, []byte("m"))
		}
		ours, ok := err.(nsqpub.ErrIdentify)
		if !ok || ours.Reason != theirs.Reason || err.Error() != gerr.Error() {
			t.Fatalf("async=%v: %T %q, want ErrIdentify %q as go-nsq", async, err, err, gerr)
		}
		var se *nsqpub.ServerError
		if !errors.Is(err, nsqpub.ErrNotConnected) || !errors.As(err, &se) || se.Code != "E_BAD_BODY" ||
			nsqpub.OutcomeOf(err) != nsqpub.NotSent {
			t.Fatalf("async=%v: %v, want ErrNotConnected wrapping *ServerError E_BAD_BODY, not sent", async, err)
		}
	}
	t.Logf("RESULT names/identify-refused: both libraries: %q", gerr)
}

// TestNamesSlowAuth: nsqd asks an auth server that answers after 1.5 s,
// beyond the default DialTimeout of 1 s but within nsqd's own 5 s. With
// the default Config, nsqpub connects, as go-nsq does, and publishes.
func TestNamesSlowAuth(t *testing.T) {
	const delay = 1500 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay) // a slow auth server, not synchronisation
		json.NewEncoder(w).Encode(map[string]any{
			"ttl": 3600, "identity": "slow", "identity_url": "http://x/slow",
			"authorizations": []map[string]any{{"topic": ".*", "channels": []string{".*"}, "permissions": []string{"publish"}}},
		})
	}))
	defer srv.Close()
	n := startNSQD(t, "--auth-http-address="+strings.TrimPrefix(srv.URL, "http://"))
	topic := topicName(t)

	gcfg := nsq.NewConfig()
	gcfg.AuthSecret = "s"
	gp, err := nsq.NewProducer(n.TCPAddr, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	gp.SetLogger(nil, nsq.LogLevelError)
	start := time.Now()
	gerr := gp.Publish(topic, []byte("go-nsq"))
	gTook := time.Since(start)
	gp.Stop()
	if gerr != nil {
		t.Fatalf("go-nsq: %v", gerr)
	}

	cfg := nsqpub.NewConfig()
	cfg.AuthSecret = "s"
	p := newProducer(t, n, cfg)
	start = time.Now()
	if err := p.Publish(topic, []byte("nsqpub")); err != nil {
		t.Fatalf("Publish with an auth server answering after %v: %v", delay, err)
	}
	took := time.Since(start)
	if took < delay {
		t.Errorf("Publish took %v, before the auth server could answer (%v)", took, delay)
	}
	if info := p.AuthInfo(); info == nil || info.Identity != "slow" {
		t.Errorf("AuthInfo = %+v", info)
	}
	waitMessageCount(t, n, topic, 2)
	t.Logf("RESULT names/slow-auth: auth server delay %v, DialTimeout %v: nsqpub's first Publish took %v, go-nsq's %v",
		delay, cfg.DialTimeout, took.Round(time.Millisecond), gTook.Round(time.Millisecond))
}

// TestNamesConfigFlag: the same command-line options through go-nsq's
// ConfigFlag and nsqpub's set the same values.
func TestNamesConfigFlag(t *testing.T) {
	args := []string{"-opt", "dial_timeout,3s", "-opt", "snappy", "-opt", "client_id,a,b", "-opt", "max_in_flight,5"}
	ours, theirs := nsqpub.NewConfig(), nsq.NewConfig()
	for _, v := range []flag.Value{&nsqpub.ConfigFlag{Config: ours}, &nsq.ConfigFlag{Config: theirs}} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var(v, "opt", "option")
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
	}
	if ours.DialTimeout != theirs.DialTimeout || ours.Snappy != theirs.Snappy || ours.ClientID != theirs.ClientID {
		t.Errorf("nsqpub %v %v %q, go-nsq %v %v %q", ours.DialTimeout, ours.Snappy, ours.ClientID,
			theirs.DialTimeout, theirs.Snappy, theirs.ClientID)
	}
}

// lineLogger keeps the lines logged to it.
type lineLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLogger) Output(_ int, s string) error {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	return nil
}

func (l *lineLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestNamesLoggerForLevelAndStopped: SetLoggerForLevel routes one level's
// lines to its own logger; after Stop every publish returns exactly
// ErrStopped, which go-nsq code compares with ==.
func TestNamesLoggerForLevelAndStopped(t *testing.T) {
	n := startNSQD(t)
	topic := topicName(t)
	p := newProducer(t, n, nil)
	info, warn := &lineLogger{}, &lineLogger{}
	p.SetLoggerForLevel(info, nsqpub.LogLevelInfo)
	p.SetLoggerForLevel(warn, nsqpub.LogLevelWarning)
	if err := p.Publish(topic, []byte("m")); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if s := info.String(); !strings.Contains(s, "INF") || !strings.Contains(s, "connected") || strings.Contains(s, "DBG") {
		t.Errorf("Info logger:\n%s", s)
	}
	if s := warn.String(); s != "" {
		t.Errorf("Warning logger got lines:\n%s", s)
	}
	done := make(chan *nsqpub.ProducerTransaction, 1)
	for name, call := range map[string]func() error{
		"Publish":      func() error { return p.Publish(topic, []byte("m")) },
		"PublishAsync": func() error { return p.PublishAsync(topic, []byte("m"), done) },
		"MultiPublish": func() error { return p.MultiPublish(topic, [][]byte{[]byte("m")}) },
		"Ping":         p.Ping,
	} {
		if err := call(); err != nsqpub.ErrStopped {
			t.Errorf("%s after Stop = %v, want ErrStopped", name, err)
		}
	}
}
