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
	DefaultMaxInFlight       = 64
	DefaultMaxInFlightBytes  = 16 << 20
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
	// MaxInFlight is how many commands may be written to nsqd and not yet
	// answered before the writer waits. Default 64.
	MaxInFlight int
	// MaxInFlightBytes bounds the message bytes written to nsqd and not yet
	// answered; with MaxQueued it bounds the memory a fast publisher can
	// hold up. A single larger command is still sent alone. Default 16 MiB.
	MaxInFlightBytes int

	// Logger receives structured events (connects, failures, reconnects,
	// pool node health) with fields such as addr, error and attempt.
	// Default nil: silent. SetLogger adds a go-nsq style logger as well.
	Logger *slog.Logger

	// PoolStrategy is how a ProducerPool chooses a node: RoundRobin (the
	// default) or Failover. Set takes "round-robin" or "failover".
	PoolStrategy PoolStrategy

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
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
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
	switch {
	case d.DialTimeout < 0:
		return bad("dial_timeout %v is negative", d.DialTimeout)
	case d.ReadTimeout < 0:
		return bad("read_timeout %v is negative", d.ReadTimeout)
	case d.WriteTimeout < 0:
		return bad("write_timeout %v is negative", d.WriteTimeout)
	case d.StopTimeout < 0:
		return bad("stop_timeout %v is negative", d.StopTimeout)
	case d.HeartbeatInterval > 0 && (d.HeartbeatInterval < time.Second || d.HeartbeatInterval > time.Minute):
		return bad("heartbeat_interval %v must be between 1s and 60s, or negative to disable", d.HeartbeatInterval)
	case d.DeflateLevel < 1 || d.DeflateLevel > 9:
		return bad("deflate_level %d must be between 1 and 9", d.DeflateLevel)
	case d.Deflate && d.Snappy:
		return bad("deflate and snappy cannot both be enabled")
	case d.MaxMsgSize < 1:
		return bad("max_msg_size %d must be positive", d.MaxMsgSize)
	case d.MaxBodySize < 9:
		return bad("max_body_size %d is too small for one message", d.MaxBodySize)
	case d.MaxDeferDelay < 0:
		return bad("max_defer_delay %v is negative", d.MaxDeferDelay)
	case d.MaxQueued < 1:
		return bad("max_queued %d must be positive", d.MaxQueued)
	case d.PoolStrategy != RoundRobin && d.PoolStrategy != Failover:
		return bad("pool_strategy %d is unknown", d.PoolStrategy)
	case d.MaxInFlightBytes < 1:
		return bad("max_in_flight_bytes %d must be positive", d.MaxInFlightBytes)
	case d.MaxInFlight < 1:
		return bad("max_in_flight_commands %d must be positive", d.MaxInFlight)
	}
	return nil
}
