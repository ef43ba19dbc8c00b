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

// Defaults used when a Config field is left at its zero value.
const (
	DefaultDialTimeout       = time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = time.Second
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultDeflateLevel      = 6
	DefaultMaxMsgSize        = 1048576
	DefaultMaxBodySize       = 5242880
	DefaultMaxDeferDelay     = time.Hour
	DefaultStopTimeout       = 5 * time.Second
	DefaultMaxQueued         = 1024
	DefaultMaxQueuedBytes    = 16 << 20
	DefaultMaxInFlight       = 64
	DefaultMaxInFlightBytes  = 16 << 20
	DefaultStallTimeout      = 2 * time.Second
)

// Config holds the settings of a Producer. It is a plain struct: set fields
// directly or, for go-nsq compatibility, by name with Set. The zero value is
// valid: every zero field means its default. A Config is copied by
// NewProducer, so changing it afterwards has no effect on that Producer.
// A Config is not safe for concurrent modification.
type Config struct {
	// DialTimeout bounds connecting: the TCP dial plus the protocol handshake
	// (magic, IDENTIFY, TLS/compression upgrades, AUTH). Default 1s.
	DialTimeout time.Duration
	// ReadTimeout bounds the wait for any frame from nsqd while the
	// connection is up. With heartbeats on, the connection is also declared
	// dead after 2 × HeartbeatInterval of silence. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to nsqd. Default 1s.
	WriteTimeout time.Duration
	// LocalAddr is the local address to dial from. Default: chosen by the OS.
	LocalAddr net.Addr

	// ClientID is sent in IDENTIFY. Default: the short host name.
	ClientID string
	// Hostname is sent in IDENTIFY. Default: os.Hostname().
	Hostname string
	// UserAgent is sent in IDENTIFY. Default: "nsqpub/<Version>".
	UserAgent string
	// HeartbeatInterval asks nsqd for heartbeats at this interval; it must
	// be between 1s and 60s. A negative value disables heartbeats. Default 30s.
	HeartbeatInterval time.Duration

	// TlsV1 asks nsqd to upgrade the connection to TLS.
	TlsV1 bool
	// TlsConfig configures the TLS client. Default: system roots, ServerName
	// taken from the address's host.
	TlsConfig *tls.Config
	// Deflate asks nsqd for deflate compression at DeflateLevel (1–9, default 6).
	Deflate      bool
	DeflateLevel int
	// Snappy asks nsqd for snappy compression. It cannot be combined with Deflate.
	Snappy bool
	// AuthSecret is sent with AUTH when nsqd requires authentication.
	AuthSecret string

	// MaxMsgSize is the largest message body accepted by Publish; set it to
	// nsqd's --max-msg-size. Default 1048576.
	MaxMsgSize int
	// MaxBodySize is the largest MPUB body (4 + Σ(4 + len)); set it to nsqd's
	// --max-body-size. Default 5242880.
	MaxBodySize int
	// MaxDeferDelay is the largest DeferredPublish delay; set it to nsqd's
	// --max-req-timeout. Default 1h.
	MaxDeferDelay time.Duration

	// StopTimeout bounds how long Stop waits for nsqd to answer what was
	// already queued or in flight. Default 5s.
	StopTimeout time.Duration
	// MaxQueued is how many publishes may wait for the connection's writer
	// before publishers block. Default 1024.
	MaxQueued int
	// MaxQueuedBytes bounds the message bytes of the publishes waiting for
	// the connection's writer (queued, or in the batch it is writing and
	// not yet flushed to the socket). Publishers block while it is spent,
	// as they do while MaxQueued publishes wait: a synchronous publish
	// until its context ends. A single larger publish goes when nothing
	// else waits. With MaxInFlightBytes it bounds the memory a fast
	// publisher can hold up to about their sum. Default 16 MiB.
	MaxQueuedBytes int
	// MaxInFlight is how many commands may be written to nsqd and not yet
	// answered before the writer waits. Default 64.
	MaxInFlight int
	// MaxInFlightBytes bounds the message bytes written to nsqd and not yet
	// answered; with MaxQueuedBytes it bounds the memory a fast publisher
	// can hold up. A single larger command is still sent alone. Default 16 MiB.
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
	// written is unknown. Callers' contexts play no part. Default 2s.
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

// NewConfig returns a Config with every default filled in, as go-nsq's
// NewConfig does. A zero Config{} behaves the same.
func NewConfig() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

// setDefaults replaces every zero field with its default.
func (c *Config) setDefaults() {
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.DeflateLevel == 0 {
		c.DeflateLevel = DefaultDeflateLevel
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.MaxBodySize == 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	if c.MaxDeferDelay == 0 {
		c.MaxDeferDelay = DefaultMaxDeferDelay
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.MaxQueuedBytes == 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
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
// wrapping ErrInvalidConfig, or nil. Zero fields are valid (they mean the
// default); Validate does not modify c.
func (c *Config) Validate() error {
	if c == nil {
		return fmt.Errorf("%w: config is nil", ErrInvalidConfig)
	}
	d := *c
	d.setDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"dial_timeout", d.DialTimeout}, {"read_timeout", d.ReadTimeout}, {"write_timeout", d.WriteTimeout},
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
		{"max_in_flight_bytes", d.MaxInFlightBytes, 1}, {"max_in_flight_commands", d.MaxInFlight, 1},
	} {
		if f.v < f.min {
			return bad("%s %d must be at least %d", f.name, f.v, f.min)
		}
	}
	switch {
	case d.HeartbeatInterval > 0 && (d.HeartbeatInterval < time.Second || d.HeartbeatInterval > time.Minute):
		return bad("heartbeat_interval %v must be between 1s and 60s, or negative to disable", d.HeartbeatInterval)
	case d.DeflateLevel < 1 || d.DeflateLevel > 9:
		return bad("deflate_level %d must be between 1 and 9", d.DeflateLevel)
	case d.Deflate && d.Snappy:
		return bad("deflate and snappy cannot both be enabled")
	case d.PoolStrategy != RoundRobin && d.PoolStrategy != Failover:
		return bad("pool_strategy %d is unknown", d.PoolStrategy)
	}
	return nil
}
