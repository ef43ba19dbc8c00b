package nsqpub

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// Version is the library version, sent to nsqd in the default user agent.
const Version = "0.1.0"

// Defaults used by NewConfig, and when a Config field that a Producer uses
// is left at its zero value.
const (
	DefaultDialTimeout         = time.Second
	DefaultReadTimeout         = 60 * time.Second
	DefaultWriteTimeout        = time.Second
	DefaultHeartbeatInterval   = 30 * time.Second
	DefaultDeflateLevel        = 6
	DefaultOutputBufferSize    = 16384
	DefaultOutputBufferTimeout = 250 * time.Millisecond
	DefaultMaxInFlight         = 1
	DefaultMaxMsgSize          = 1048576
	DefaultMaxBodySize         = 5242880
	DefaultMaxDeferDelay       = time.Hour
	DefaultStopTimeout         = 5 * time.Second
	DefaultMaxQueued           = 1024
	DefaultMaxQueuedBytes      = 16 << 20
	DefaultMaxInFlightCommands = 64
	DefaultMaxInFlightBytes    = 16 << 20
	DefaultStallTimeout        = 2 * time.Second
)

// Config holds the settings of a Producer. It has every field of go-nsq's
// Config, with the same names, types and NewConfig defaults, so that code
// that fills one Config for go-nsq consumers and producers compiles against
// it; fields only a Consumer uses are marked so and have no effect here. The
// fields from MaxMsgSize on are nsqpub's own.
//
// Set fields directly or by go-nsq option name with Set. The zero value is
// valid: a zero field that a Producer uses means its default (see each
// field). NewProducer copies a Config, so changing it afterwards has no
// effect on that Producer. A Config is not safe for concurrent modification.
type Config struct {
	// DialTimeout bounds the TCP dial, as in go-nsq, and then nsqd's reply to
	// IDENTIFY, which nsqd gives at once (so a server that accepts and never
	// answers costs DialTimeout, not ReadTimeout). Zero means 1s.
	DialTimeout time.Duration
	// ReadTimeout bounds each later reply of the handshake (TLS, compression,
	// AUTH, for which nsqd may ask its auth server for up to 5s), as in
	// go-nsq, and, once connected, the wait for any frame from nsqd (100ms–5m). With heartbeats on, the connection is
	// also declared dead after 2 × HeartbeatInterval of silence. Zero means 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to nsqd, the handshake's included
	// (100ms–5m). Zero means 1s.
	WriteTimeout time.Duration
	// LocalAddr is the local address to dial from. Default: chosen by the OS.
	LocalAddr net.Addr

	// LookupdPollInterval (10ms–5m, zero means 60s), LookupdPollJitter (0–1,
	// NewConfig's 0.3; zero means none) and LookupdPollTimeout (zero means
	// 60s) pace a ProducerPool's polls of nsqlookupd's /nodes
	// (ConnectToNSQLookupd): every interval, each stretched by a random
	// factor within ±jitter/2, each request bounded by the timeout, as
	// go-nsq's consumer polls. A Producer does not use them.
	LookupdPollInterval time.Duration
	LookupdPollJitter   float64
	LookupdPollTimeout  time.Duration
	// MaxRequeueDelay (0–60m, default 15m) and DefaultRequeueDelay (0–60m,
	// default 90s) are not used by a Producer; kept for go-nsq consumers.
	MaxRequeueDelay     time.Duration
	DefaultRequeueDelay time.Duration
	// BackoffStrategy (default an ExponentialStrategy), MaxBackoffDuration
	// (0–60m, default 2m), BackoffMultiplier (0–60m, default 1s) and
	// MaxAttempts (default 5) are not used by a Producer; kept for go-nsq
	// consumers.
	BackoffStrategy    BackoffStrategy
	MaxBackoffDuration time.Duration
	BackoffMultiplier  time.Duration
	MaxAttempts        uint16
	// LowRdyIdleTimeout (1s–5m, default 10s), LowRdyTimeout (1s–5m, default
	// 30s) and RDYRedistributeInterval (1ms–5s, default 5s) are not used by a
	// Producer; kept for go-nsq consumers. Zero means the default.
	LowRdyIdleTimeout       time.Duration
	LowRdyTimeout           time.Duration
	RDYRedistributeInterval time.Duration

	// ClientID is sent in IDENTIFY. Empty means the short host name.
	ClientID string
	// Hostname is sent in IDENTIFY. Empty means os.Hostname().
	Hostname string
	// UserAgent is sent in IDENTIFY. Empty means "nsqpub/<Version>".
	UserAgent string
	// HeartbeatInterval asks nsqd for heartbeats at this interval, sent in
	// whole milliseconds as set: nsqd refuses the IDENTIFY, and so every
	// publish, unless it is between 1s and its --max-heartbeat-interval
	// (60s by default). -1 disables heartbeats: exactly -1 nanosecond, or
	// -1ms (what Set makes of the integer -1). It may not exceed
	// ReadTimeout. Zero means 30s.
	HeartbeatInterval time.Duration
	// SampleRate (0–99) is sent in IDENTIFY; it only affects what nsqd
	// delivers to consumers. Default 0.
	SampleRate int32

	// TlsV1 asks nsqd to upgrade the connection to TLS.
	TlsV1 bool
	// TlsConfig configures the TLS client. Default: system roots, ServerName
	// taken from the address's host. Set's tls_* options build it.
	TlsConfig *tls.Config
	// Deflate asks nsqd for deflate compression at DeflateLevel (1–9; zero
	// means 6). nsqd refuses Deflate together with Snappy when it offers both.
	Deflate      bool
	DeflateLevel int
	// Snappy asks nsqd for snappy compression.
	Snappy bool

	// OutputBufferSize is the size in bytes of nsqd's write buffer for this
	// connection, sent in IDENTIFY as set: -1 disables buffering, 0 means
	// nsqd's default, and nsqd refuses other values outside 64 bytes to its
	// --max-output-buffer-size. NewConfig sets 16384.
	OutputBufferSize int64
	// OutputBufferTimeout is how long nsqd may hold buffered writes, sent in
	// whole milliseconds as set: -1 (ns or ms) disables it, 0 means nsqd's
	// default, and nsqd refuses other values outside its
	// --min-output-buffer-timeout and --max-output-buffer-timeout.
	// NewConfig sets 250ms.
	OutputBufferTimeout time.Duration

	// MaxInFlight is go-nsq's consumer message window (≥ 0, default 1). It
	// is not used by a Producer, so a value meant for consumers cannot
	// change it; the Producer's command window is MaxInFlightCommands.
	MaxInFlight int

	// MsgTimeout is the server-side timeout of messages delivered to this
	// client, sent in IDENTIFY in whole milliseconds as set: 0 means nsqd's
	// default, and nsqd refuses other values outside 1s to its
	// --max-msg-timeout. Default 0.
	MsgTimeout time.Duration

	// AuthSecret is sent with AUTH when nsqd requires authentication.
	AuthSecret string
	// LookupdAuthorization sends AuthSecret to nsqlookupd as
	// "Authorization: Bearer <secret>" when a ProducerPool polls it, as
	// go-nsq's consumer does (option skip_lookupd_authorization, go-nsq's
	// name; NewConfig sets true, a zero Config sends no secret).
	LookupdAuthorization bool

	// MaxMsgSize is the largest message body accepted by Publish; set it to
	// nsqd's --max-msg-size. Zero means 1048576.
	MaxMsgSize int
	// MaxBodySize is the largest MPUB body (4 + Σ(4 + len)); set it to nsqd's
	// --max-body-size. Zero means 5242880.
	MaxBodySize int
	// MaxDeferDelay is the largest DeferredPublish delay; set it to nsqd's
	// --max-req-timeout. Zero means 1h.
	MaxDeferDelay time.Duration

	// StopTimeout bounds how long Stop waits for nsqd to answer what was
	// already queued or in flight. Zero means 5s.
	StopTimeout time.Duration
	// MaxQueued is how many publishes may wait for the connection's writer
	// before publishers block. Zero means 1024.
	MaxQueued int
	// MaxQueuedBytes bounds the message bytes of the publishes waiting for
	// the connection's writer (queued, or in the batch it is writing and
	// not yet flushed to the socket). Publishers block while it is spent,
	// as they do while MaxQueued publishes wait: a synchronous publish
	// until its context ends. A single larger publish goes when nothing
	// else waits. With MaxInFlightBytes it bounds the memory a fast
	// publisher can hold up to about their sum. Zero means 16 MiB.
	MaxQueuedBytes int
	// MaxInFlightCommands is how many commands may be written to nsqd and
	// not yet answered before the writer waits. Zero means 64.
	MaxInFlightCommands int
	// MaxInFlightBytes bounds the message bytes written to nsqd and not yet
	// answered; with MaxQueuedBytes it bounds the memory a fast publisher can
	// hold up. A single larger command is still sent alone. Zero means 16 MiB.
	MaxInFlightBytes int

	// Logger receives structured events (connects, failures, reconnects,
	// pool node health) with fields such as addr, error and attempt.
	// Default nil: silent. SetLogger adds a go-nsq style logger as well.
	Logger *slog.Logger

	// PoolStrategy is how a ProducerPool chooses a node: RoundRobin (the
	// default) or Failover. Set takes "round-robin" or "failover".
	PoolStrategy PoolStrategy
	// StallTimeout is how long a ProducerPool lets a node have commands in
	// flight and no new answer before it judges the node stalled (a frozen
	// or overloaded nsqd): it routes around the node, closes its
	// connection, and sends what was never written to other nodes; what was
	// written is unknown. Callers' contexts play no part. Zero means 2s.
	StallTimeout time.Duration

	// AtLeastOnce resends, on a new connection, publishes whose outcome is
	// unknown (written, then the connection ended before nsqd answered). nsqd
	// may then hold a message twice; without it (the default) such publishes
	// fail with ErrUnknownOutcome. Publishes that were certainly not executed
	// are always resent, up to 4 times.
	AtLeastOnce bool

	// tlsCertFile and tlsKeyFile remember the tls_cert and tls_key options
	// until both are known.
	tlsCertFile, tlsKeyFile string
}

// NewConfig returns a Config with every default filled in, including
// go-nsq's defaults for the fields a Producer does not use, as go-nsq's
// NewConfig does. A zero Config{} works too; it differs only in sending
// zero output buffer settings, which nsqd reads as its own defaults.
func NewConfig() *Config {
	c := &Config{
		LookupdPollJitter:    0.3,
		LookupdPollTimeout:   time.Minute,
		MaxRequeueDelay:      15 * time.Minute,
		DefaultRequeueDelay:  90 * time.Second,
		MaxBackoffDuration:   2 * time.Minute,
		BackoffMultiplier:    time.Second,
		MaxAttempts:          5,
		OutputBufferSize:     DefaultOutputBufferSize,
		OutputBufferTimeout:  DefaultOutputBufferTimeout,
		MaxInFlight:          DefaultMaxInFlight,
		LookupdAuthorization: true,
	}
	c.BackoffStrategy = &ExponentialStrategy{cfg: c}
	c.setDefaults()
	return c
}

// setDefaults replaces with its default every zero field whose zero has no
// meaning of its own (to nsqd or go-nsq) and that go-nsq's ranges refuse or
// a Producer needs.
func (c *Config) setDefaults() {
	for _, d := range []struct {
		f   *time.Duration
		def time.Duration
	}{
		{&c.DialTimeout, DefaultDialTimeout}, {&c.ReadTimeout, DefaultReadTimeout},
		{&c.WriteTimeout, DefaultWriteTimeout}, {&c.HeartbeatInterval, DefaultHeartbeatInterval},
		{&c.LookupdPollInterval, time.Minute}, {&c.LookupdPollTimeout, time.Minute}, {&c.LowRdyIdleTimeout, 10 * time.Second},
		{&c.LowRdyTimeout, 30 * time.Second}, {&c.RDYRedistributeInterval, 5 * time.Second},
		{&c.MaxDeferDelay, DefaultMaxDeferDelay}, {&c.StopTimeout, DefaultStopTimeout},
		{&c.StallTimeout, DefaultStallTimeout},
	} {
		if *d.f == 0 {
			*d.f = d.def
		}
	}
	for _, d := range []struct {
		f   *int
		def int
	}{
		{&c.DeflateLevel, DefaultDeflateLevel}, {&c.MaxMsgSize, DefaultMaxMsgSize},
		{&c.MaxBodySize, DefaultMaxBodySize}, {&c.MaxQueued, DefaultMaxQueued},
		{&c.MaxQueuedBytes, DefaultMaxQueuedBytes},
		{&c.MaxInFlightCommands, DefaultMaxInFlightCommands}, {&c.MaxInFlightBytes, DefaultMaxInFlightBytes},
	} {
		if *d.f == 0 {
			*d.f = d.def
		}
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.ClientID == "" {
		c.ClientID, _, _ = strings.Cut(c.Hostname, ".")
	}
	if c.UserAgent == "" {
		c.UserAgent = "nsqpub/" + Version
	}
}

// Validate reports the first problem with the configuration, as an error
// wrapping ErrInvalidConfig, or nil. It refuses what go-nsq's Validate
// refuses (values outside go-nsq's ranges, a HeartbeatInterval above
// ReadTimeout) and nsqpub's own fields' impossible values; values that
// nsqd judges by its own flags (heartbeat interval, output buffer, message
// timeout) are left to nsqd. Zero fields that mean a default are valid.
// Validate does not modify c.
func (c *Config) Validate() error {
	if c == nil {
		return fmt.Errorf("%w: config is nil", ErrInvalidConfig)
	}
	d := *c
	d.setDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	for _, name := range rangedOptions {
		if err := options[name].inRange(&d); err != nil {
			return bad("%s %w", name, err)
		}
	}
	if d.HeartbeatInterval > d.ReadTimeout {
		return bad("heartbeat_interval %v must not exceed read_timeout %v", d.HeartbeatInterval, d.ReadTimeout)
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"stop_timeout", d.StopTimeout}, {"stall_timeout", d.StallTimeout}, {"max_defer_delay", d.MaxDeferDelay},
	} {
		if f.v < 0 {
			return bad("%s %v is negative", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name   string
		v, min int
	}{
		{"max_msg_size", d.MaxMsgSize, 1}, {"max_body_size", d.MaxBodySize, 9}, {"max_queued", d.MaxQueued, 1},
		{"max_queued_bytes", d.MaxQueuedBytes, 1},
		{"max_in_flight_bytes", d.MaxInFlightBytes, 1}, {"max_in_flight_commands", d.MaxInFlightCommands, 1},
	} {
		if f.v < f.min {
			return bad("%s %d must be at least %d", f.name, f.v, f.min)
		}
	}
	if d.PoolStrategy != RoundRobin && d.PoolStrategy != Failover {
		return bad("pool_strategy %d is unknown", d.PoolStrategy)
	}
	return nil
}
